// Shared set-up for the browser tests: Debian's Chromium driven by playwright-core, against the
// built site served on 127.0.0.1. Never downloads a browser.
import { chromium } from 'playwright-core';
import { mkdir, access } from 'node:fs/promises';
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

/**
 * Opens the lab, records long tasks on the main thread and waits until it is ready. `init`, if
 * given, is a script run before the page's own in every document of the tab (reloads too).
 */
export async function openLab(browser, url, { init } = {}) {
  const page = await browser.newPage({ acceptDownloads: true });
  page.on('pageerror', (err) => console.error('page error:', err.message));
  if (init) await page.addInitScript(init);
  await page.addInitScript(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.readyMs !== undefined, null, { timeout: 60_000 });
  return page;
}

/** Fills the run form and starts; returns once the page reports `state`. */
export async function train(page, { task = 'mnist', rule = 'bp', frontEnd = 'learned', epochs = 1, trainLimit = '', seed = 0 } = {}, timeout = 900_000) {
  await page.selectOption('#task', task);
  await page.selectOption('#rule', rule);
  await page.selectOption('#front_end', frontEnd);
  await page.fill('#epochs', String(epochs));
  await page.fill('#seed', String(seed));
  await page.fill('#train_limit', String(trainLimit));
  await page.click('#start');
  await page.waitForFunction(() => ['finished', 'idle', 'stopped'].includes(document.body.dataset.runState)
    && document.querySelector('#start').disabled === false, null, { timeout, polling: 500 });
  const message = await page.locator('#message').isVisible() ? await page.textContent('#message') : null;
  return {
    state: await page.evaluate(() => document.body.dataset.runState),
    accuracy: Number(await page.getAttribute('#test-accuracy', 'data-value')),
    losses: await page.evaluate(() => window.labState.losses.slice()),
    msPerBatch: Number(await page.evaluate(() => document.body.dataset.msPerBatch)),
    message,
  };
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
      const next = page.locator('#experiment-stage #jspsych-instructions-next, #experiment-stage #jspsych-html-button-response-btngroup button').first();
      const text = (await next.textContent()).trim();
      await next.click();
      if (text === 'Finish') return 'finished';
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

/**
 * Fills panel 11's form and starts a session; resolves once the experiment is on screen.
 * `durations` and `noise` are the form's text ("100, unlimited", "0, 0.5").
 */
export async function startExperiment(page, { participant = 'scripted', seed = 5, preset = 'short', noise = '0', durations = '100, unlimited' } = {}) {
  await page.selectOption('#exp-preset', preset);
  await page.fill('#participant-id', participant);
  await page.fill('#exp-seed', String(seed));
  await page.fill('#exp-noise', noise);
  await page.fill('#exp-durations', durations);
  await page.click('#exp-start');
  await page.waitForSelector('#experiment-stage:not([hidden])', { timeout: 30_000 });
}

/** Reloads the lab and waits until it is ready again (an unfinished session then resumes). */
export async function reloadLab(page) {
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.readyMs !== undefined, null, { timeout: 60_000 });
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
