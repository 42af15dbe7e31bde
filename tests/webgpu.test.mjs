// The WebGPU path. Headless Chromium here exposes only SwiftShader (WebGPU emulated on the CPU),
// so this checks correctness, not speed: switching, a short training run, async readbacks, and
// that a device failure reaches the page as a readable error with the module still usable.
// Each test opens its own page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { labSuite, openTab, train, mean, message, compareMidRun, ARTIFACTS } from './browser.mjs';

const lab = labSuite(import.meta.url, { webgpu: true });

/** Switches the page to WebGPU and checks that it says so (or fails with the page's message). */
async function useWebGpu(page) {
  await page.selectOption('#backend-select', 'webgpu');
  await page.waitForFunction(() => /WebGPU/.test(document.querySelector('#backend-name').textContent)
    || !document.querySelector('#message').hidden, null, { timeout: 120_000 });
  const name = await page.textContent('#backend-name');
  assert.match(name, /WebGPU/, await message(page));
  return name;
}

test('WebGPU: the page finds an adapter and trains on it', async () => {
  const page = await lab.open('?test_limit=200');
  const hasGpu = await page.evaluate(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()));
  assert.ok(hasGpu, 'Chromium offered no WebGPU adapter (is --enable-unsafe-webgpu honoured?)');
  console.log(`backend: ${await useWebGpu(page)}`);

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
  const gpuPage = await lab.open('?test_limit=20');
  await useWebGpu(gpuPage);
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
});

// Issue 18: after a finished run the backend switches (the finished run used to block it), the
// kept models follow to the new device (comparing them used to panic on mixed devices), and a
// comparison asked for mid-run on WebGPU, where the lab's awaits really yield, waits for the
// batch instead of taking the lab from it and aborting the run.
test('WebGPU: switching after a finished run moves the kept models; compare mid-run keeps the run', async () => {
  const p = await lab.open('?test_limit=20');
  const cpuRun = await train(p, { rule: 'bp', epochs: 1, trainLimit: 256 });
  assert.equal(cpuRun.state, 'finished', cpuRun.message);
  await useWebGpu(p);
  await openTab(p, 'compare');
  await p.click('#compare');
  await p.waitForFunction(() => window.labState.comparison || !document.querySelector('#message').hidden, null, { timeout: 1_200_000 });
  assert.ok(await p.evaluate(() => window.labState.comparison), `compare after the switch: ${await p.textContent('#message')}`);

  await openTab(p, 'train');
  await p.fill('#batch_size', '16');
  await compareMidRun(p, { trainLimit: 48, batches: 1, timeout: 1_200_000 });

  await p.selectOption('#backend-select', 'cpu');
  await p.waitForFunction(() => /CPU/.test(document.querySelector('#backend-name').textContent), null, { timeout: 120_000 });
  await p.evaluate(() => { window.labState.comparisonBefore = window.labState.comparison; });
  await openTab(p, 'compare');
  await p.click('#compare');
  await p.waitForFunction(() => window.labState.comparison !== window.labState.comparisonBefore, null, { timeout: 300_000 });
  await openTab(p, 'train');
  await p.fill('#batch_size', '64');
  const again = await train(p, { rule: 'bp', epochs: 1, trainLimit: 256 });
  assert.equal(again.state, 'finished', again.message);
});
