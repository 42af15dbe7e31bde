// People-vs-models data, one test per defect of issue 18 (item 11), each with a scripted
// participant in Debian's chromium: a session that reaches the group twice counts once; the
// mask stays up its whole mask_ms after an answer during the stimulus, and a hidden tab keeps
// the image up (so its trial is measured long and left out of the comparison, which says how
// many); time_elapsed goes on across a reload; the store asks for persistent storage once; a
// lost consent flag does not bring the consent screen (and its "I do not agree") back. After
// each, the page still trains a model. Each test opens a fresh page, with its own storage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import {
  labSuite, openTab, participate, nextScreen, clickThrough, startExperiment, finishSession, reloadLab, storedSessions, parseCsv,
  stillTrains as trains,
} from './browser.mjs';

/** The comparison's tolerance for a measured presentation (crate/src/human/comparison.rs). */
const FRAME_MS = 1000 / 60;
const MASK_MS = 200; // panel 11's design

const lab = labSuite(import.meta.url);

// A fresh page (its own context and storage); evaluation on 200 test images keeps the training runs short.
const open = (init) => lab.open('?test_limit=200', { init });

/** The page still trains after the test: a short run to its end. */
const stillTrains = (page) => trains(page, 640);

async function artifact(name, text) {
  const path = lab.file(name);
  await writeFile(path, text);
  return path;
}

const download = async (page, selector) => (await lab.download(page, selector)).text;

const toCsv = (page, rows) => page.evaluate(async (r) => (await import('/www/experiment/export.js')).trialsToCsv(r), rows);
const importFile = (page, path) => page.setInputFiles('#import-trials', path);
const logLines = (page) => page.locator('#import-log li').allTextContents();
const stageText = (page) => page.textContent('#experiment-stage');

/** Waits for `predicate` (run in the page) but lets the assertion after it say what went wrong. */
const settle = (page, predicate, arg, timeout = 10_000) => page.waitForFunction(predicate, arg, { timeout, polling: 100 }).catch(() => {});

/** Reloads the page; resolves to the first screen of the resumed session (welcome back, or consent). */
async function reloadAndResume(page) {
  await reloadLab(page);
  await page.waitForFunction(() => /Welcome back|I agree to take part/.test(document.querySelector('#experiment-stage').textContent), null, { timeout: 30_000 });
  return stageText(page);
}

/** A fresh page with a session of untimed trials started for `participant` and `answered` trials in. */
async function sessionUnderWay({ participant, answered, init }) {
  const page = await open(init);
  await startExperiment(page, { participant, durations: 'unlimited' });
  const answers = new Map();
  assert.equal(await participate(page, answers, { stopAfter: answered }), 'stopped');
  return { page, answers };
}

async function compare(page) {
  await openTab(page, 'people');
  await page.click('#human-compare');
  await page.waitForFunction(() => window.labState.humanComparison, null, { timeout: 120_000 });
  return page.evaluate(() => window.labState.humanComparison);
}

test('a session imported mid-way and then finished on this device counts once, and the other way round', async () => {
  const { page, answers } = await sessionUnderWay({ participant: 'twice', answered: 6 });
  // An export of the session while it still runs (a participant's file sent half-way).
  const [{ session, trials: partial }] = await storedSessions(page);
  await importFile(page, await artifact('twice-partial.csv', await toCsv(page, partial)));
  await settle(page, () => /Imported twice-partial\.csv/.test(document.querySelector('#import-log').textContent));
  assert.match((await logLines(page)).join('\n'), /Imported twice-partial\.csv: 6 trials, 1 session/);
  await finishSession(page, answers);
  const total = answers.size;

  // Finished here: the device's copy (every trial) counts; the partial file's does not.
  await settle(page, (n) => document.querySelector('#group-summary').textContent.includes(`${n} trials`), total);
  assert.match(await page.textContent('#group-summary'), new RegExp(`1 participant session\\(s\\), ${total} trials`));
  const said = (await logLines(page)).find((l) => l.includes(`Session ${session.session_id} is in the group more than once`));
  assert.ok(said, `no message about the copy: ${(await logLines(page)).join(' | ')}`);
  assert.match(said, new RegExp(`this device: ${total} trials; twice-partial\\.csv: 6 trials\\); only the copy from this device counts`));

  // The other way round: a file with a whole session, and later a shorter copy of that very
  // session among this device's finished ones. The file's copy (more trials) counts.
  const [{ trials: full }] = await storedSessions(page);
  const other = full.map((t) => ({ ...t, session_id: 'reverse-copy', participant_id: 'reverse-p' }));
  await importFile(page, await artifact('reverse.csv', await toCsv(page, other)));
  await settle(page, () => /Imported reverse\.csv/.test(document.querySelector('#import-log').textContent));
  await page.evaluate(async ({ record, rows }) => {
    const store = window.labExperiment.store;
    await store.putSession({ ...record, session_id: 'reverse-copy', participant_id: 'reverse-p', status: 'complete' });
    for (const row of rows) await store.saveTrial(row);
  }, { record: session, rows: other.slice(0, 5) });
  const group = parseCsv(await download(page, '#download-group'));
  const perSession = {};
  for (const row of group) perSession[row.session_id] = (perSession[row.session_id] || 0) + 1;
  assert.deepEqual(perSession, { [session.session_id]: total, 'reverse-copy': total });
  assert.ok((await logLines(page)).some((l) => l.includes(`Session reverse-copy is in the group more than once (reverse.csv: ${total} trials; this device: 5 trials); only the copy from reverse.csv counts`)),
    (await logLines(page)).join(' | '));

  // The comparison sees each session once: two participants, each with every test trial once.
  const c = await compare(page);
  const testTrials = [...answers.values()].filter((s) => s.phase === 'test').length;
  assert.deepEqual(c.participants.map((p) => [p.session_id, p.test_trials]).sort(), [[session.session_id, testTrials], ['reverse-copy', testTrials]].sort());
  assert.match(await page.textContent('#group-summary'), new RegExp(`2 participant session\\(s\\), ${2 * total} trials`));
  await stillTrains(page);
});

test('after an answer during the stimulus the mask stays its whole mask_ms; a hidden tab keeps the image up and the comparison leaves the trial out', async () => {
  const page = await open();
  await startExperiment(page, { participant: 'quick', durations: '100' });
  // In the page: answer every trial on the stimulus's first frame (within the presentation),
  // record when each trial's display changes, and hide the page for 300 ms during the first
  // timed test stimulus (visibilityState; the frames go on here, as in a browser that animates
  // a hidden page, so only the page's own check keeps the image from going off unseen).
  await page.evaluate(() => {
    let hidden = false;
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    window.trialLog = [];
    const entries = new WeakMap();
    let hid = false;
    new MutationObserver((records) => {
      // The frame's time (the display changes in requestAnimationFrame callbacks, and this
      // runs right after the callback that changed it), not this callback's own, later time.
      const now = document.timeline.currentTime;
      records.forEach((r, k) => {
        const el = r.target;
        if (!el.classList?.contains('trial')) return;
        if (!entries.has(el)) { entries.set(el, { states: [] }); window.trialLog.push(entries.get(el)); }
        const entry = entries.get(el);
        // The value this change set: the next change's old value, or the current one.
        const later = records.slice(k + 1).find((x) => x.target === el);
        const state = later ? later.oldValue : el.dataset.state;
        entry.states.push([state, now]);
        if (state !== 'stimulus' || entry.stimulus_index !== undefined) return;
        const s = window.labExperiment.current();
        Object.assign(entry, { stimulus_index: s.stimulus_index, phase: s.phase, duration_ms: s.duration_ms });
        if (!hid && s.phase === 'test' && s.duration_ms !== null) {
          hid = true;
          entry.hidden = true;
          hidden = true;
          document.dispatchEvent(new Event('visibilitychange'));
          setTimeout(() => { hidden = false; document.dispatchEvent(new Event('visibilitychange')); }, 300);
        }
        el.querySelector(`button[data-choice="${s.label}"]`).click();
      });
    }).observe(document.querySelector('#experiment-stage'), { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-state'] });
  });
  for (;;) {
    const screen = await nextScreen(page);
    if (screen === 'closed') break;
    if (screen === 'screen') {
      if (await clickThrough(page)) break;
      continue;
    }
    // A trial: the page answers it; wait until it is over.
    const i = await page.evaluate(() => window.labExperiment.current()?.stimulus_index);
    await page.waitForFunction((k) => {
      const trial = document.querySelector('#experiment-stage .trial');
      return !trial || !['stimulus', 'mask', 'response'].includes(trial.dataset.state) || window.labExperiment.current()?.stimulus_index !== k;
    }, i, { timeout: 30_000, polling: 20 });
  }
  await page.waitForFunction(() => document.querySelector('#experiment-stage').hidden);

  const log = await page.evaluate(() => window.trialLog);
  const timed = log.filter((e) => e.duration_ms !== null && e.duration_ms !== undefined);
  assert.ok(timed.length >= 10, `${timed.length} timed trials`);
  for (const e of timed) {
    const at = e.states.findIndex(([state]) => state === 'mask');
    assert.ok(at >= 0 && at + 1 < e.states.length, `stimulus ${e.stimulus_index}: ${JSON.stringify(e.states)}`);
    const shown = e.states[at + 1][1] - e.states[at][1];
    assert.ok(shown >= MASK_MS - 0.01, `stimulus ${e.stimulus_index}: the mask was up ${shown.toFixed(1)} ms after an answer during the stimulus (mask_ms ${MASK_MS})`);
  }

  // The hidden trial's measured duration is the real one: the image stayed up while hidden.
  const [{ trials }] = await storedSessions(page);
  const hiddenIndex = log.find((e) => e.hidden).stimulus_index;
  const hiddenRow = trials.find((t) => t.stimulus_index === hiddenIndex);
  assert.ok(hiddenRow.measured_duration_ms >= 300 - FRAME_MS, `hidden for 300 ms, measured ${hiddenRow.measured_duration_ms} ms`);
  for (const t of trials) console.log(`stimulus ${t.stimulus_index} (${t.phase}): requested ${t.requested_duration_ms} ms, measured ${t.measured_duration_ms?.toFixed(1)} ms`);

  // The comparison leaves out every test trial off by more than a frame, and says how many.
  const off = trials.filter((t) => t.phase === 'test' && t.requested_duration_ms !== null
    && Math.abs(t.measured_duration_ms - t.requested_duration_ms) > FRAME_MS);
  assert.ok(off.some((t) => t.stimulus_index === hiddenIndex));
  const c = await compare(page);
  assert.equal(c.mistimed_trials, off.length);
  assert.equal(c.participants[0].test_trials, trials.filter((t) => t.phase === 'test').length - off.length);
  assert.match(await page.textContent('#kappa-summary'), new RegExp(`${off.length} of the people's test trials left out: shown more than a frame`));
  await stillTrains(page);
});

test('time_elapsed goes on across a reload and never goes back', async () => {
  const { page, answers } = await sessionUnderWay({ participant: 'clock', answered: 6 });
  const [{ trials: early }] = await storedSessions(page);
  const last = Math.max(...early.map((t) => t.time_elapsed));
  assert.match(await reloadAndResume(page), /Welcome back/);
  await finishSession(page, answers);

  const [{ session, trials }] = await storedSessions(page);
  assert.equal(trials.length, answers.size);
  const inOrder = [...trials].sort((a, b) => a.saved_at.localeCompare(b.saved_at));
  for (let k = 1; k < inOrder.length; k += 1) {
    assert.ok(inOrder[k].time_elapsed > inOrder[k - 1].time_elapsed,
      `stimulus ${inOrder[k].stimulus_index}: time_elapsed ${inOrder[k].time_elapsed} ms after ${inOrder[k - 1].time_elapsed} ms`);
  }
  const firstAfter = inOrder[early.length];
  assert.ok(firstAfter.time_elapsed > last, `first trial after the reload at ${firstAfter.time_elapsed} ms, the last before at ${last} ms`);
  assert.ok(session.elapsed_offset_ms >= last, `the session's offset ${session.elapsed_offset_ms}`);
  await stillTrains(page);
});

test('a session asks for persistent storage once and records the answer', async () => {
  // Count the calls (across the reload, in localStorage) and grant.
  const init = () => {
    if (!navigator.storage) return;
    Object.defineProperty(navigator.storage, 'persist', {
      configurable: true,
      value: async () => {
        localStorage.setItem('persist-calls', String(Number(localStorage.getItem('persist-calls') || 0) + 1));
        return true;
      },
    });
  };
  const { page, answers } = await sessionUnderWay({ participant: 'keep', answered: 2, init });
  // The answer is recorded when it comes, without holding up the session.
  let session;
  for (let k = 0; k < 50; k += 1) {
    [{ session }] = await storedSessions(page);
    if (session.storage_persistence) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(session.storage_persistence?.persisted, true, JSON.stringify(session.storage_persistence));
  assert.equal(await page.evaluate(() => localStorage.getItem('persist-calls')), '1');
  // Resumed after a reload: not asked again.
  assert.match(await reloadAndResume(page), /Welcome back/);
  await finishSession(page, answers);
  [{ session }] = await storedSessions(page);
  assert.equal(session.status, 'complete');
  assert.equal(await page.evaluate(() => localStorage.getItem('persist-calls')), '1');
  await stillTrains(page);
});

test('a lost consent flag does not bring the consent screen back; the saved trials stay', async () => {
  const { page, answers } = await sessionUnderWay({ participant: 'agreed', answered: 5 });
  const [{ session }] = await storedSessions(page);
  assert.equal(session.consented, true);
  // The flag goes missing from the stored session (an interrupted or overwritten write).
  await page.evaluate(async (id) => {
    const store = window.labExperiment.store;
    const record = await store.getSession(id);
    delete record.consented;
    delete record.consented_at;
    await store.putSession(record);
  }, session.session_id);
  const text = await reloadAndResume(page);
  assert.doesNotMatch(text, /I agree to take part|I do not agree/, 'the consent screen came back');
  assert.match(text, /Welcome back/);
  assert.match(text, /done 5 of/);
  const [{ session: restored, trials }] = await storedSessions(page);
  assert.equal(trials.length, 5, 'the saved trials are kept');
  assert.equal(restored.consented, true);
  assert.equal(restored.consent_restored?.saved_trials, 5);
  await finishSession(page, answers);
  const [{ session: done, trials: all }] = await storedSessions(page);
  assert.equal(done.status, 'complete');
  assert.equal(all.length, answers.size, 'every answer stored once');
  await stillTrains(page);
});
