// The WebGPU path. Headless Chromium here exposes only SwiftShader (WebGPU emulated on the CPU),
// so this checks correctness, not speed: switching, a short training run, async readbacks, and
// that a device failure reaches the page as a readable error with the module still usable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { requireBuiltSite, serve, launch, openLab, train, mean, ARTIFACTS } from './browser.mjs';

let server, url, browser, page;

before(async () => {
  await requireBuiltSite();
  ({ server, url } = await serve());
  browser = await launch({ webgpu: true });
  page = await openLab(browser, `${url}?test_limit=200`);
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('WebGPU: the page finds an adapter and trains on it', async () => {
  const hasGpu = await page.evaluate(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()));
  assert.ok(hasGpu, 'Chromium offered no WebGPU adapter (is --enable-unsafe-webgpu honoured?)');
  await page.selectOption('#backend-select', 'webgpu');
  await page.waitForFunction(() => /WebGPU/.test(document.querySelector('#backend-name').textContent)
    || !document.querySelector('#message').hidden, null, { timeout: 120_000 });
  const name = await page.textContent('#backend-name');
  console.log(`backend: ${name}`);
  assert.match(name, /WebGPU/, await page.textContent('#message'));

  const run = await train(page, { rule: 'bp', epochs: 1, trainLimit: 640 }, 1_200_000);
  await page.screenshot({ path: fileURLToPath(new URL('webgpu-run.png', ARTIFACTS)), fullPage: true });
  assert.equal(run.state, 'finished', `WebGPU run ended with: ${run.message}`);
  console.log(`WebGPU: ${run.msPerBatch.toFixed(0)} ms per batch of 64; loss ${run.losses[0]} → ${run.losses.at(-1)}; accuracy ${(100 * run.accuracy).toFixed(1)}% on 200 test images`);
  assert.ok(run.losses.every(Number.isFinite));
  assert.ok(mean(run.losses.slice(-3)) < mean(run.losses.slice(0, 3)), 'loss did not fall on WebGPU');
  assert.ok(run.accuracy > 0.5, `WebGPU accuracy ${run.accuracy}`);
});
