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

/** Opens the lab, records long tasks on the main thread and waits until it is ready. */
export async function openLab(browser, url) {
  const page = await browser.newPage({ acceptDownloads: true });
  page.on('pageerror', (err) => console.error('page error:', err.message));
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
