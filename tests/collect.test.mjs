// Online collection end to end: the real collection server (`microlearning serve`, SQLite) and a
// scripted participant in Debian's chromium. The participant opens the study link with a
// Prolific id, the network to the API is cut for ten trials, the tab is reloaded mid-session,
// the session finishes and the completion redirect happens. Then the server must hold every
// trial exactly once, its CSV export must equal the page's own CSV, and a second participant
// with the same Prolific id must be refused. Each test has a server, a database and a study of
// its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { labSuite, newPage, openTab, participate } from './browser.mjs';

const BIN = process.env.MICROLEARNING_BIN;
// The collection server serves the site itself: the suite only launches Chromium.
const lab = labSuite(import.meta.url, { site: false });

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/**
 * A collection server of the test's own: a fresh SQLite database with one study, served on a
 * free port and stopped when the test `t` ends. Resolves to its address, the study, the
 * experimenter's token and `experimenter(path)`, a GET of the study's API with that token.
 */
async function collectionServer(t) {
  assert.ok(BIN, 'MICROLEARNING_BIN must name the built microlearning binary (scripts/test.sh sets it)');
  const dir = mkdtempSync(join(tmpdir(), 'microlearning-collect-'));
  const database = `sqlite://${join(dir, 'lab.db')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/`;
  const created = JSON.parse(execFileSync(BIN, ['study', '--database', database, 'create', '--name', 'browser test',
    '--design', 'short', '--seed', '3', '--completion-url', `${base}done?cc=TESTCODE`, '--public-url', base, '--json'], { encoding: 'utf8' }));
  const { study, experimenter_token: token } = created;
  const server = spawn(BIN, ['serve', '--database', database, '--listen', `127.0.0.1:${port}`, '--site', '.'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  t.after(async () => {
    server.kill('SIGTERM');
    await exited;
  });
  for (let i = 0; ; i += 1) {
    try {
      if ((await fetch(`${base}api/v1/studies/${study}`)).ok) break;
    } catch { /* not up yet */ }
    if (i > 200) throw new Error('the collection server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  async function experimenter(path) {
    const r = await fetch(`${base}api/v1/studies/${study}/${path}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, path);
    return r.text();
  }
  return { base, study, token, experimenter };
}

async function openLink(context, link) {
  const page = await newPage(context);
  await page.goto(link);
  return page;
}

test('a participant from a Prolific link: offline stretch, reload, completion; the server holds every trial once', async (t) => {
  const { base, study, token, experimenter } = await collectionServer(t);
  const link = `${base}?study=${study}&PROLIFIC_PID=pp-test-1&STUDY_ID=st-1&SESSION_ID=se-1`;
  const context = await lab.context();
  let page = await openLink(context, link);
  const answers = new Map();
  const policy = (label) => (label === 3 ? 5 : label);

  // The page's headers: cross-origin isolated, as served by the collection server.
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  await page.waitForSelector('#experiment-stage:not([hidden])', { timeout: 60_000 });
  assert.equal(await participate(page, answers, { policy, stopAfter: 8 }), 'stopped');
  assert.match(await page.textContent('#collect-status'), /All answers saved|Saving/);

  // A second tab of the same study says so and runs nothing.
  const second = await openLink(context, link);
  await second.waitForFunction(() => document.body.dataset.participantState === 'notice', null, { timeout: 60_000 });
  assert.match(await second.textContent('#experiment-stage'), /already open in another tab/);
  await second.close();

  // The network to the API goes away for ten trials: answers are kept, the status says so.
  await page.route('**/api/v1/**', (route) => route.abort('internetdisconnected'));
  assert.equal(await participate(page, answers, { policy, stopAfter: 10 }), 'stopped');
  await page.waitForFunction(() => document.querySelector('#collect-status').dataset.offline === 'true', null, { timeout: 30_000 });
  assert.match(await page.textContent('#collect-status'), /Offline: your answers are kept/);
  const waiting = Number(await page.getAttribute('#collect-status', 'data-pending'));
  assert.ok(waiting >= 10, `${waiting} trials waiting`);
  await page.unroute('**/api/v1/**');
  assert.equal(await participate(page, answers, { policy, stopAfter: 3 }), 'stopped');
  await page.waitForFunction(() => document.querySelector('#collect-status').dataset.pending === '0', null, { timeout: 60_000 });

  // Reload in the middle: the same participant's session resumes where it stopped.
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#experiment-stage').textContent.includes('Welcome back'), null, { timeout: 60_000 });
  await page.waitForSelector('#experiment-stage:not([hidden])');
  const welcome = await page.textContent('#experiment-stage');
  assert.match(welcome, /pp-test-1/);
  assert.match(welcome, new RegExp(`done ${answers.size} of`));
  assert.equal(await participate(page, answers, { policy }), 'finished');

  // The redirect happens once the server has confirmed every trial.
  await page.waitForURL(/cc=TESTCODE/, { timeout: 120_000 });

  // The server: every trial exactly once, and the same CSV as the page's own export.
  const csv = await experimenter('trials.csv');
  const lines = csv.trim().split('\n').slice(1);
  const indices = lines.map((l) => Number(l.split(',')[11]));
  assert.equal(new Set(indices).size, indices.length, 'no trial stored twice');
  assert.deepEqual([...indices].sort((a, b) => a - b), [...answers.keys()].sort((a, b) => a - b));
  const summary = JSON.parse(await experimenter('summary'));
  assert.equal(summary.counts.completed, 1);
  assert.equal(summary.counts.trials, answers.size);

  // The dashboard, with the experimenter token typed in, shows the same counts.
  const dashboard = await openLink(context, `${base}dashboard.html?study=${study}`);
  await dashboard.fill('#token', token);
  await dashboard.click('#connect');
  await dashboard.waitForFunction((n) => document.querySelector('#n-trials').textContent === String(n), answers.size, { timeout: 30_000 });
  assert.equal(await dashboard.textContent('#n-completed'), '1');
  assert.match(await dashboard.textContent('#conditions'), /σ 0\.5 · 100 ms/);
  await dashboard.close();

  page = await openLink(context, base);
  await page.waitForFunction(() => document.body.dataset.readyMs !== undefined, null, { timeout: 60_000 });
  await openTab(page, 'people');
  await page.waitForSelector('#exp-sessions tr[data-session]', { timeout: 60_000 });
  const local = await lab.download(page, '#exp-sessions button[data-action="csv"]', 'collect-local.csv');
  assert.equal(local.text, csv, "the server's CSV equals the page's, row for row");
  for (const line of lines) {
    const cells = line.split(',');
    const expected = answers.get(Number(cells[11]));
    assert.equal(Number(cells[18]), expected.response);
  }

  // The same Prolific id from another browser: refused, nothing stored.
  const other = await lab.context();
  const again = await openLink(other, link);
  await again.waitForSelector('#jspsych-html-button-response-btngroup button', { timeout: 60_000 });
  await again.locator('#jspsych-html-button-response-btngroup button').first().click();
  await again.waitForFunction(() => document.body.dataset.participantState === 'notice', null, { timeout: 30_000 });
  assert.match(await again.textContent('#experiment-stage'), /already taken part/);
  assert.equal(JSON.parse(await experimenter('summary')).counts.sessions_started, 1);

  // On another device, the lab page pools the study's trials into the people-vs-models group.
  const pooled = await openLink(other, `${base}?pool=${study}`);
  await pooled.waitForFunction(() => document.body.dataset.readyMs !== undefined, null, { timeout: 60_000 });
  assert.equal(await pooled.evaluate(() => document.body.dataset.tab), 'people', 'a pooling link opens the People tab');
  assert.equal(await pooled.inputValue('#pool-study'), study);
  await pooled.fill('#pool-token', token);
  await pooled.click('#pool-load');
  await pooled.waitForFunction(() => /trials from/.test(document.querySelector('#pool-status').textContent), null, { timeout: 30_000 });
  assert.match(await pooled.textContent('#pool-status'), new RegExp(`${answers.size} trials from 1 session`));
  assert.match(await pooled.textContent('#group-summary'), new RegExp(`1 participant session\\(s\\), ${answers.size} trials`));
});

test('a participant withdraws mid-session: the server deletes the answers and the id cannot start again', async (t) => {
  const { base, study, experimenter } = await collectionServer(t);
  const link = `${base}?study=${study}&PROLIFIC_PID=pp-withdraws`;
  const context = await lab.context();
  const page = await openLink(context, link);
  page.on('dialog', (dialog) => dialog.accept());
  await page.waitForSelector('#experiment-stage:not([hidden])', { timeout: 60_000 });
  const answers = new Map();
  assert.equal(await participate(page, answers, { stopAfter: 3 }), 'stopped');
  await page.waitForFunction(() => document.querySelector('#collect-status').dataset.pending === '0', null, { timeout: 30_000 });
  const before = JSON.parse(await experimenter('summary')).counts;
  await page.click('#withdraw');
  await page.waitForFunction(() => document.body.dataset.participantState === 'withdrawn', null, { timeout: 30_000 });
  assert.match(await page.textContent('#experiment-stage'), /Your answers have been deleted/);
  // The experiment is over: no trial is on screen any more.
  assert.equal(await page.locator('#experiment-stage .trial').count(), 0);
  const after = JSON.parse(await experimenter('summary')).counts;
  assert.equal(after.withdrawn, before.withdrawn + 1);
  assert.equal(after.trials, before.trials - answers.size, "the participant's trials are gone from the server");
  const csv = await experimenter('trials.csv');
  assert.doesNotMatch(csv, /pp-withdraws/);
  // Reopening the link: the withdrawn session is not resumed, and the id cannot take part again.
  await page.goto(link);
  await page.waitForSelector('#jspsych-html-button-response-btngroup button', { timeout: 60_000 });
  assert.doesNotMatch(await page.textContent('#experiment-stage'), /Welcome back/);
  await page.locator('#jspsych-html-button-response-btngroup button').first().click();
  await page.waitForFunction(() => document.body.dataset.participantState === 'notice', null, { timeout: 30_000 });
  assert.match(await page.textContent('#experiment-stage'), /already taken part/);
});
