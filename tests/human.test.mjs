// The human experiment end to end, with a scripted participant: always correct except that it
// answers 7 to every 1. It reloads the page in the middle of the session, finishes it, exports
// the data, imports a malformed file, a duplicate and a second participant, and checks the
// page's confusion matrix and error consistency κ against values computed here from the policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { labSuite, openTab, train, mean, parseCsv, reloadLab, startExperiment, participate as driveExperiment } from './browser.mjs';

const lab = labSuite(import.meta.url);

const policy = (label) => (label === 1 ? 7 : label);

function kappa(a, b) {
  const n = a.length;
  const p1 = a.filter(Boolean).length / n;
  const p2 = b.filter(Boolean).length / n;
  const observed = a.filter((x, i) => x === b[i]).length / n;
  const expected = p1 * p2 + (1 - p1) * (1 - p2);
  return (observed - expected) / (1 - expected);
}

const sd = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

test('a scripted participant runs a session with a reload; the page\'s confusion matrix and κ match', async () => {
  const page = await lab.open();
  const participate = (answers, stopAfter) => driveExperiment(page, answers, { policy, stopAfter });
  const download = (selector) => lab.download(page, selector);
  // Two noise levels × four durations: 80 test trials, 8 attention checks, 4 practice trials.
  await startExperiment(page, { participant: 'scripted-1', seed: 5, preset: 'short', noise: '0, 0.5', durations: '50, 100, 200, unlimited' });

  const answers = new Map();
  assert.equal(await participate(answers, 20), 'stopped');
  // Reload in the middle: the page must resume the same session where it stopped.
  await reloadLab(page);
  await page.waitForFunction(() => document.querySelector('#experiment-stage').textContent.includes('Welcome back'), null, { timeout: 30_000 });
  const resumeText = await page.textContent('#experiment-stage');
  assert.match(resumeText, /Welcome back/);
  assert.match(resumeText, /done 20 of 92/);
  assert.equal(await participate(answers), 'finished');
  assert.equal(answers.size, 92, 'every stimulus answered exactly once');
  await page.waitForFunction(() => document.querySelector('#experiment-stage').hidden);

  // The export: every trial once, plausible reaction times and measured durations.
  await page.waitForSelector('#exp-sessions tr[data-session]');
  assert.match(await page.textContent('#exp-sessions'), /complete/);
  const csv = await download('#exp-sessions button[data-action="csv"]');
  const rows = parseCsv(csv.text);
  assert.equal(rows.length, 92);
  assert.deepEqual(rows.map((r) => Number(r.stimulus_index)).sort((a, b) => a - b), [...Array(92).keys()]);
  const byDuration = new Map();
  for (const r of rows) {
    const expected = answers.get(Number(r.stimulus_index));
    assert.equal(Number(r.response), expected.response, `stimulus ${r.stimulus_index}`);
    assert.equal(Number(r.label), expected.label);
    assert.equal(r.correct, String(expected.response === expected.label));
    const rt = Number(r.rt);
    assert.ok(rt > 0 && rt < 30_000, `rt ${r.rt}`);
    const measured = Number(r.measured_duration_ms);
    assert.ok(r.measured_duration_ms !== '' && measured > 0, `measured ${r.measured_duration_ms}`);
    const key = r.requested_duration_ms || 'unlimited';
    if (r.requested_duration_ms) {
      const requested = Number(r.requested_duration_ms);
      assert.ok(measured >= requested - 20 && measured <= requested + 100, `requested ${requested} ms, shown ${measured} ms`);
    }
    byDuration.set(key, [...(byDuration.get(key) || []), measured]);
  }
  for (const [key, values] of byDuration) {
    console.log(`presentation ${key} ms: measured mean ${mean(values).toFixed(1)} ms, sd ${sd(values).toFixed(1)} ms, n ${values.length}`);
  }
  const json = JSON.parse((await download('#exp-sessions button[data-action="json"]')).text);
  assert.equal(json.format, 'microlearning-human-session/1');
  assert.equal(json.trials.length, 92);
  assert.equal(json.session.list_seed, 5);
  assert.ok(json.session.refresh_hz_estimate > 0);
  assert.equal(json.session.resumed.length, 1);
  console.log(`refresh estimate ${json.session.refresh_hz_estimate} Hz`);

  // Imports: a malformed file and a duplicate are skipped whole; a second participant is added.
  const broken = csv.text.replace(/,(true|false)\n/, ',maybe\n');
  const second = csv.text.replaceAll(json.session.session_id, 'second-session').replaceAll('scripted-1', 'scripted-2');
  const files = [
    { name: 'broken.csv', text: broken },
    { name: 'again.csv', text: csv.text },
    { name: 'second.csv', text: second },
  ];
  const paths = [];
  for (const f of files) {
    const path = lab.file(f.name);
    await writeFile(path, f.text);
    paths.push(path);
  }
  await page.setInputFiles('#import-trials', paths);
  await page.waitForFunction(() => document.querySelectorAll('#import-log li').length === 3);
  const log = await page.locator('#import-log li').allTextContents();
  assert.match(log[0], /Skipped broken\.csv: .*line \d+/);
  assert.match(log[1], /Skipped again\.csv: session .* is already in the group/);
  assert.match(log[2], /Imported second\.csv: 92 trials/);

  // A model joins as a participant, then the comparison.
  const run = await train(page, { epochs: 1, trainLimit: 640 });
  assert.equal(run.state, 'finished');
  await openTab(page, 'people');
  await page.click('#human-compare');
  await page.waitForFunction(() => window.labState.humanComparison, null, { timeout: 120_000 });
  const c = await page.evaluate(() => window.labState.humanComparison);
  // The models' trials stay in the worker; they come out in the group's download.
  const group = parseCsv((await download('#download-group')).text);
  const modelTrials = group.filter((t) => t.observer_kind === 'model')
    .map((t) => ({ ...t, stimulus_index: Number(t.stimulus_index), correct: t.correct === 'true' }));
  assert.equal(await page.evaluate(() => window.labState.modelTrialCount), modelTrials.length);

  const allTest = [...answers.values()].filter((s) => s.phase === 'test');
  assert.equal(allTest.length, 80);
  // A presentation measured more than a frame off its request is left out of the people's side
  // (crate/src/human/comparison.rs); the same rule here, on the exported measurements.
  const mistimed = new Set(rows.filter((r) => r.phase === 'test' && r.requested_duration_ms
    && Math.abs(Number(r.measured_duration_ms) - Number(r.requested_duration_ms)) > 1000 / 60).map((r) => Number(r.stimulus_index)));
  console.log(`${mistimed.size} of 80 test presentations off by more than a frame`);
  assert.equal(c.mistimed_trials, 2 * mistimed.size);
  const testTrials = allTest.filter((s) => !mistimed.has(s.stimulus_index));
  const confusion = Array.from({ length: 10 }, () => Array(10).fill(0));
  for (const s of testTrials) confusion[s.label][s.response] += 2; // two identical participants
  assert.deepEqual(c.human_confusion, confusion);
  assert.equal(c.participants.length, 2);
  assert.equal(c.human_human_kappa.mean, 1);

  const model = new Map(modelTrials.filter((t) => t.phase === 'test').map((t) => [t.stimulus_index, t]));
  assert.equal(model.size, 80, 'the model answered every test stimulus');
  const human = testTrials.map((s) => s.response === s.label);
  const machine = testTrials.map((s) => model.get(s.stimulus_index).correct);
  const expected = kappa(human, machine);
  const row = c.ranking[0];
  console.log(`model accuracy ${(100 * row.accuracy).toFixed(1)}%, κ with people ${row.kappa.mean.toFixed(3)} (test: ${expected.toFixed(3)})`);
  assert.ok(Math.abs(row.kappa.mean - expected) < 1e-9, `page κ ${row.kappa.mean}, expected ${expected}`);
  const modelCorrect = allTest.map((s) => model.get(s.stimulus_index).correct);
  assert.ok(Math.abs(row.accuracy - mean(modelCorrect.map(Number))) < 1e-12);
  assert.match(await page.textContent('#ranking-table'), /bp · learned/);
});
