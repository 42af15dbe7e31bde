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

// Every rule on WebGPU: one batch each, so that each rule's own tensor code (feedback pathways,
// relaxation, goodness, Hebbian updates) runs on the GPU backend at least once. The software
// adapter takes ~25 s per batch of 64, so batches of 16, one per rule, and 20 test images.
test('WebGPU: every learning rule trains a batch', async () => {
  const gpuPage = await openLab(browser, `${url}?test_limit=20`);
  await gpuPage.selectOption('#backend-select', 'webgpu');
  await gpuPage.waitForFunction(() => /WebGPU/.test(document.querySelector('#backend-name').textContent)
    || !document.querySelector('#message').hidden, null, { timeout: 120_000 });
  assert.match(await gpuPage.textContent('#backend-name'), /WebGPU/, await gpuPage.textContent('#message'));
  const rules = await gpuPage.evaluate(() => [...document.querySelectorAll('#rule option')].map((o) => o.value));
  assert.ok(rules.length >= 10, `rules offered: ${rules}`);
  await gpuPage.fill('#batch_size', '16');
  for (const rule of rules) {
    const started = Date.now();
    const run = await train(gpuPage, { rule, epochs: 1, trainLimit: 16 }, 1_200_000);
    console.log(`WebGPU ${rule}: ${run.state} in ${((Date.now() - started) / 1000).toFixed(0)} s, loss ${run.losses.join(', ')}`);
    assert.equal(run.state, 'finished', `${rule} on WebGPU: ${run.message}`);
    assert.equal(run.losses.length, 1, `${rule}: one batch expected`);
    assert.ok(run.losses.every(Number.isFinite), `${rule}: loss ${run.losses}`);
    assert.ok(Number.isFinite(run.accuracy), `${rule}: no test accuracy`);
  }
  await gpuPage.close();
});
