// JATOS mode: the page as a JATOS component. JATOS itself (a Java server) is not available on
// these machines, so jatos.js is replaced by a stand-in that implements the calls the page makes
// (onLoad, the JSON inputs and ids, appendResultData, submitResultData, endStudyAndRedirect)
// and reports each call to the test. What is checked is the page's side of the contract: a row
// appended per trial, the full session file submitted at the end, then the redirect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { labSuite, newPage, participate } from './browser.mjs';

const lab = labSuite(import.meta.url);

const design = {
  task: 'mnist', seed: 4, noise_levels: [0, 0.5], durations_ms: [null], images_per_class: 1,
  practice_trials: 2, attention_every: 0, mask_ms: 200, break_every: 0,
};

const standIn = (completion) => `
window.jatos = {
  studyResultId: 41, componentResultId: 7, workerId: 'w-9',
  urlQueryParameters: { PROLIFIC_PID: 'pp-jatos' },
  studyJsonInput: {}, componentJsonInput: { design: ${JSON.stringify(design)}, completion_url: ${JSON.stringify(completion)} },
  onLoad(f) { setTimeout(f, 0); },
  appendResultData(d) { return window.recordJatos('append', d); },
  submitResultData(d) { return window.recordJatos('submit', d); },
  endStudyAndRedirect(u, ok) { window.recordJatos('end', u, ok).then(() => location.assign(u)); },
  endStudy(ok, m) { return window.recordJatos('endStudy', ok, m); },
};`;

test('in JATOS: a row appended per trial, the session file submitted, then the redirect', async () => {
  const page = await newPage(await lab.context());
  const { url } = lab;
  const calls = [];
  await page.exposeFunction('recordJatos', (...args) => { calls.push(args); });
  const index = await readFile(new URL('../index.html', import.meta.url), 'utf8');
  await page.route('**/jatos.html', (route) => route.fulfill({
    contentType: 'text/html',
    body: index.replace('<script type="module" src="www/app.js"></script>', '<script src="jatos.js"></script>\n<script type="module" src="www/app.js"></script>'),
  }));
  await page.route(`${url}jatos.js`, (route) => route.fulfill({ contentType: 'text/javascript', body: standIn(`${url}finished?cc=JATOS1`) }));
  await page.goto(`${url}jatos.html`);
  await page.waitForSelector('#experiment-stage:not([hidden])', { timeout: 60_000 });
  const answers = new Map();
  assert.equal(await participate(page, answers), 'finished');
  await page.waitForURL(/cc=JATOS1/, { timeout: 60_000 });

  const appended = calls.filter((c) => c[0] === 'append').map((c) => JSON.parse(c[1]));
  assert.equal(appended.length, answers.size, 'one appended row per trial');
  assert.deepEqual(appended.map((r) => r.stimulus_index).sort((a, b) => a - b), [...answers.keys()].sort((a, b) => a - b));
  assert.ok(appended.every((r) => r.participant_id === 'pp-jatos' && r.session_id === 'jatos-41-7'));
  const submitted = calls.filter((c) => c[0] === 'submit');
  assert.equal(submitted.length, 1);
  const file = JSON.parse(submitted[0][1]);
  assert.equal(file.format, 'microlearning-human-session/1');
  assert.equal(file.trials.length, answers.size);
  for (const t of file.trials) assert.equal(t.response, answers.get(t.stimulus_index).response);
  const order = calls.map((c) => c[0]);
  assert.ok(order.lastIndexOf('append') < order.indexOf('submit') && order.indexOf('submit') < order.indexOf('end'));
});
