// Shared set-up for the browser tests: Debian's Chromium driven by playwright-core, against the
// built site served on 127.0.0.1. Never downloads a browser.
//
// Every test stands alone: it opens its own page (a new browser context, so its own
// localStorage and IndexedDB) and writes its files into a folder of its own. What a file shares
// is one Chromium and one server, started by `labSuite`, and any fixture it names as such (a
// model trained once per file, memoised; see `once`).
import { before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { mkdir, rm, access, readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../scripts/static_server.mjs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = new URL('./artifacts/', import.meta.url);

export async function requireBuiltSite() {
  try {
    await access(new URL('../www/pkg/microlearning_bg.wasm', import.meta.url));
  } catch {
    throw new Error('www/pkg is missing: run `bash scripts/build_web.sh` first (scripts/test.sh does)');
  }
}

export async function serve() {
  const server = await startServer(0, '127.0.0.1');
  const { port } = server.address();
  return { server, url: `http://127.0.0.1:${port}/` };
}

export async function launch({ webgpu = false } = {}) {
  await mkdir(ARTIFACTS, { recursive: true });
  const args = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'];
  // Headless Chromium here offers WebGPU only through SwiftShader, behind this flag.
  if (webgpu) args.push('--enable-unsafe-webgpu', '--enable-features=Vulkan');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

const artifactPath = (relative) => fileURLToPath(new URL(`${relative}/`, ARTIFACTS));

/** An empty folder under tests/artifacts/ (emptied if it was there). */
export async function freshFolder(relative) {
  const path = artifactPath(relative);
  await rm(path, { recursive: true, force: true });
  await mkdir(path, { recursive: true });
  return path;
}

const slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

/**
 * The set-up of one test file, as `before`/`after` hooks: the built site served on 127.0.0.1
 * (`site: false` when the file serves it another way), one Chromium for the file, and for each
 * test a folder of its own, tests/artifacts/<file>/<test>/, that `file` and `download` write
 * into: emptied when the test starts, made when the test first asks for a path in it.
 * Pages and contexts opened through the suite are closed when the test that opened them ends,
 * so no test can see another's page (a fixture that outlives the test that first asks for it
 * opens its page with `openLab` and closes it itself).
 */
export function labSuite(fileUrl, { webgpu = false, site = true } = {}) {
  const name = basename(fileURLToPath(fileUrl)).replace(/\.test\.mjs$/, '');
  const opened = [];
  let server;
  let folder = null;
  const suite = {
    url: null,
    browser: null,
    /** A page of the lab in a new context (its own storage), ready; `query` is appended to the URL. */
    async open(query = '', { init } = {}) {
      const page = await openLab(suite.browser, `${suite.url}${query}`, { init });
      opened.push(page.context());
      return page;
    },
    /** A new browser context (its own storage and downloads), closed at the test's end. */
    async context(options = {}) {
      const context = await suite.browser.newContext({ acceptDownloads: true, ...options });
      opened.push(context);
      return context;
    },
    /** A path in this test's own folder. */
    file(fileName) {
      assert.ok(folder, 'suite.file is for use inside a test');
      mkdirSync(folder, { recursive: true });
      return join(folder, fileName);
    },
    /** Clicks `selector`, saves the download in this test's folder; resolves to its path and text. */
    download: (page, selector, fileName) => download(page, selector, (suggested) => suite.file(fileName ?? suggested)),
    /** An empty folder for a fixture, tests/artifacts/<file>/<fixture>/. */
    fixtureFolder: (fixture) => freshFolder(`${name}/fixture-${slug(fixture)}`),
  };
  before(async () => {
    if (site) {
      await requireBuiltSite();
      ({ server, url: suite.url } = await serve());
    }
    suite.browser = await launch({ webgpu });
  });
  after(async () => {
    await suite.browser?.close();
    server?.close();
  });
  beforeEach(async (t) => {
    folder = artifactPath(`${name}/${slug(t.name)}`);
    await rm(folder, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const context of opened.splice(0)) await context.close().catch(() => {});
    folder = null;
  });
  return suite;
}

/**
 * `make()` at most once: the first caller runs it, later callers (or the same test run alone
 * with --test-name-pattern) get the same promise. For a fixture that is costly to build, such as
 * a trained model, shared by the tests of one file.
 */
export function once(make) {
  let value;
  return () => (value ??= make());
}

/** A new page in `context` whose uncaught errors are printed. */
export async function newPage(context) {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  return page;
}

/**
 * Opens the lab in a new context, records long tasks on the main thread and waits until it is
 * ready. `init`, if given, is a script run before the page's own in every document of the tab
 * (reloads too).
 */
export async function openLab(browser, url, { init } = {}) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await newPage(context);
  if (init) await page.addInitScript(init);
  await page.addInitScript(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(url);
  await waitUntilReady(page);
  return page;
}

const waitUntilReady = (page) => page.waitForFunction(() => document.body.dataset.readyMs !== undefined, null, { timeout: 60_000 });

/** Reloads the lab and waits until it is ready again (an unfinished session then resumes). */
export async function reloadLab(page) {
  await page.reload();
  await waitUntilReady(page);
}

/**
 * Opens the page's tab `name` ('train', 'inside', 'compare', 'people') as a visitor does, by
 * clicking it: the other tabs' controls are hidden, and Playwright will not click those.
 */
export async function openTab(page, name) {
  await page.click(`#tab-${name}`);
  await page.waitForFunction((n) => document.body.dataset.tab === n && !document.querySelector(`#view-${n}`).hidden, name);
}

/** Opens the tab that holds `selector`'s element (none to open for the header's and the experiment's). */
export async function reveal(page, selector) {
  const view = await page.evaluate((s) => document.querySelector(s)?.closest('[role="tabpanel"]')?.id ?? null, selector);
  if (view) await openTab(page, view.replace(/^view-/, ''));
}

/**
 * Clicks `selector` (opening its tab first) and saves the file it downloads at
 * `pathOf(suggested name)`; resolves to the path and the file's text.
 */
export async function download(page, selector, pathOf) {
  await reveal(page, selector);
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const path = pathOf(file.suggestedFilename());
  await file.saveAs(path);
  return { path, text: await readFile(path, 'utf8') };
}

/** The page's CSV (no quoted cells in these tests' data). */
export function parseCsv(text) {
  const [header, ...lines] = text.trim().split('\n');
  const columns = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i], v])));
}

/** The page's message line. */
export const message = (page) => page.textContent('#message');

/** Waits until the page's message matches `pattern`. */
export const waitForMessage = (page, pattern, timeout = 120_000) => page.waitForFunction(
  (source) => new RegExp(source).test(document.querySelector('#message').textContent), pattern.source, { timeout },
);

/** Loads a weights file through the form and waits for the page to have evaluated it. */
export async function loadWeights(page, path) {
  await page.setInputFiles('#load-weights', path);
  await waitForMessage(page, /Weights loaded/);
}

/** Waits until a run has ended (finished, stopped or refused) and the form is usable again. */
export async function waitForRunEnd(page, timeout = 900_000) {
  await page.waitForFunction(() => ['finished', 'idle', 'stopped'].includes(document.body.dataset.runState)
    && document.querySelector('#start').disabled === false, null, { timeout, polling: 500 });
}

/** Fills the run form and starts; returns once the page reports `state`. */
export async function train(page, { task = 'mnist', rule = 'bp', frontEnd = 'learned', epochs = 1, trainLimit = '', seed = 0 } = {}, timeout = 900_000) {
  await openTab(page, 'train');
  await page.selectOption('#task', task);
  await page.selectOption('#rule', rule);
  await page.selectOption('#front_end', frontEnd);
  await page.fill('#epochs', String(epochs));
  await page.fill('#seed', String(seed));
  await page.fill('#train_limit', String(trainLimit));
  await page.click('#start');
  await waitForRunEnd(page, timeout);
  const shown = await page.locator('#message').isVisible() ? await message(page) : null;
  return {
    state: await page.evaluate(() => document.body.dataset.runState),
    accuracy: Number(await page.getAttribute('#test-accuracy', 'data-value')),
    losses: await page.evaluate(() => window.labState.losses.slice()),
    msPerBatch: Number(await page.evaluate(() => document.body.dataset.msPerBatch)),
    message: shown,
  };
}

/** The page still trains: a short run (bp, `trainLimit` images) that must finish with a model. */
export async function stillTrains(page, trainLimit) {
  const run = await train(page, { epochs: 1, trainLimit });
  assert.equal(run.state, 'finished', `the page no longer trains: ${run.message ?? 'the run did not finish'}`);
  assert.ok(run.accuracy > 0, `accuracy ${run.accuracy}`);
}

/**
 * Starts a run of `trainLimit` images and, once it has reported `batches` losses, changes the
 * compared layer (which asks for a comparison mid-run). The run must finish, not be aborted,
 * and the comparison must then be redrawn. `timeout` bounds each of the three waits.
 */
export async function compareMidRun(page, { trainLimit, batches, timeout }) {
  await openTab(page, 'train');
  await page.fill('#epochs', '1');
  await page.fill('#train_limit', String(trainLimit));
  await page.click('#start');
  await page.waitForFunction((n) => window.labState.losses.length >= n, batches, { timeout });
  await page.evaluate(() => { window.labState.comparisonBefore = window.labState.comparison; });
  await openTab(page, 'compare');
  await page.selectOption('#compare-layer', '1');
  await waitForRunEnd(page, timeout);
  assert.equal(await page.evaluate(() => document.body.dataset.runState), 'finished',
    `the run did not finish: ${await message(page)}`);
  await page.waitForFunction(() => window.labState.comparison !== window.labState.comparisonBefore, null, { timeout });
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** What the experiment shows now: a trial waiting for an answer, a screen with a button, or nothing. */
export async function nextScreen(page) {
  const handle = await page.waitForFunction(() => {
    const stage = document.querySelector('#experiment-stage');
    if (stage.hidden) return 'closed';
    const trial = stage.querySelector('.trial');
    if (trial && ['stimulus', 'mask', 'response'].includes(trial.dataset.state)) return 'trial';
    if (trial) return false;
    if (stage.querySelector('#jspsych-instructions-next, #jspsych-html-button-response-btngroup button')) return 'screen';
    return false;
  }, null, { timeout: 30_000, polling: 20 });
  return handle.jsonValue();
}

/** Clicks the button of a screen between trials; resolves to true if it was the last ("Finish"). */
export async function clickThrough(page) {
  const next = page.locator('#experiment-stage #jspsych-instructions-next, #experiment-stage #jspsych-html-button-response-btngroup button').first();
  const text = (await next.textContent()).trim();
  await next.click();
  return text === 'Finish';
}

/**
 * A scripted participant: answers `policy(label)` (keys on even stimuli, buttons on odd ones) and
 * clicks through every other screen, until `stopAfter` answers or the end. Records each answered
 * stimulus in `answers` and fails if one is shown twice.
 */
export async function participate(page, answers, { policy = (label) => label, stopAfter = Infinity } = {}) {
  let answered = 0;
  for (;;) {
    const screen = await nextScreen(page);
    if (screen === 'closed') return 'closed';
    if (screen === 'screen') {
      if (await clickThrough(page)) return 'finished';
      continue;
    }
    const s = await page.evaluate(() => window.labExperiment.current());
    const response = policy(s.label);
    if (answers.has(s.stimulus_index)) throw new Error(`stimulus ${s.stimulus_index} shown twice`);
    answers.set(s.stimulus_index, { ...s, response });
    if (s.stimulus_index % 2 === 0) await page.keyboard.press(String(response));
    else await page.click(`#experiment-stage button[data-choice="${response}"]`);
    // The trial is over (and saved) once its element is gone.
    await page.waitForFunction((i) => {
      const trial = document.querySelector('#experiment-stage .trial');
      return !trial || window.labExperiment.current()?.stimulus_index !== i;
    }, s.stimulus_index, { timeout: 30_000, polling: 20 });
    answered += 1;
    if (answered >= stopAfter) return 'stopped';
  }
}

/** Answers the rest of the session (as `participate`), which must finish; waits until its stage closes. */
export async function finishSession(page, answers, options = {}) {
  assert.equal(await participate(page, answers, options), 'finished');
  await page.waitForFunction(() => document.querySelector('#experiment-stage').hidden);
}

/**
 * Fills the People tab's experiment form and starts a session; resolves once the experiment is on screen.
 * `durations` and `noise` are the form's text ("100, unlimited", "0, 0.5").
 */
export async function startExperiment(page, { participant = 'scripted', seed = 5, preset = 'short', noise = '0', durations = '100, unlimited' } = {}) {
  await openTab(page, 'people');
  await page.selectOption('#exp-preset', preset);
  await page.fill('#participant-id', participant);
  await page.fill('#exp-seed', String(seed));
  await page.fill('#exp-noise', noise);
  await page.fill('#exp-durations', durations);
  await page.click('#exp-start');
  await page.waitForSelector('#experiment-stage:not([hidden])', { timeout: 30_000 });
}

/** The experiment's IndexedDB as the page sees it: every session record with its saved trials. */
export async function storedSessions(page) {
  await page.waitForFunction(() => window.labExperiment?.store, null, { timeout: 30_000 });
  return page.evaluate(async () => {
    const store = window.labExperiment.store;
    const sessions = await store.listSessions();
    return Promise.all(sessions.map(async (session) => ({ session, trials: await store.trialsOf(session.session_id) })));
  });
}
