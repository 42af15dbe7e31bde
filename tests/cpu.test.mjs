// End to end on the CPU backend (burn flex in wasm): one epoch of MNIST-10k through the UI,
// main-thread responsiveness, every learning rule, file round trips and bad input. Each test has
// a page of its own; the one-epoch model is trained once for the file (`oneEpochModel`) and the
// tests that need a trained model load its weights file into their own fresh page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  labSuite, once, openLab, openTab, reloadLab, train, mean, download, loadWeights, waitForMessage, message, ARTIFACTS,
} from './browser.mjs';

const lab = labSuite(import.meta.url);

/**
 * Fixture, trained once per file and memoised: one epoch of MNIST-10k (bp, learned front end)
 * through the UI on a page of its own, which is closed afterwards. Keeps what the tests read:
 * the run, the main-thread long tasks while it trained, the gallery's size, and the weights and
 * results files downloaded from the page (in the fixture's own folder, which no test writes to).
 */
const oneEpochModel = once(async () => {
  const folder = await lab.fixtureFolder('one epoch of MNIST-10k');
  const page = await openLab(lab.browser, lab.url);
  try {
    await page.evaluate(() => { window.longTasks = []; });
    const run = await train(page, { task: 'mnist', rule: 'bp', epochs: 1 });
    const longTasks = await page.evaluate(() => window.longTasks);
    const galleryFigures = await page.locator('#gallery figure').count();
    await page.screenshot({ path: fileURLToPath(new URL('cpu-after-one-epoch.png', ARTIFACTS)), fullPage: true });
    const accuracy = Number(await page.getAttribute('#test-accuracy', 'data-value'));
    run.workers = Number(await page.evaluate(() => document.body.dataset.workers));
    run.cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const weights = (await download(page, '#download-weights', () => join(folder, 'weights.bpk'))).path;
    const results = (await download(page, '#download-results', () => join(folder, 'results.json'))).path;
    return { run, longTasks, galleryFigures, accuracy, weights, results };
  } finally {
    await page.context().close();
  }
});

/** A fresh page of the lab with the fixture's one-epoch model loaded from its weights file. */
async function withOneEpochModel() {
  const model = await oneEpochModel();
  const page = await lab.open();
  await loadWeights(page, model.weights);
  return { page, model };
}

test('page is ready quickly and names its backend', async () => {
  const page = await lab.open();
  const readyMs = Number(await page.evaluate(() => document.body.dataset.readyMs));
  console.log(`page load to ready: ${readyMs} ms`);
  assert.ok(readyMs < 10_000, `ready after ${readyMs} ms`);
  assert.match(await page.textContent('#backend-name'), /CPU/);
});

test('one epoch of MNIST-10k on the CPU reaches >= 93% with a responsive page', async () => {
  const { run, longTasks, galleryFigures } = await oneEpochModel();
  assert.equal(run.message, null, `unexpected message: ${run.message}`);
  assert.equal(run.state, 'finished');
  console.log(`CPU: test accuracy ${(100 * run.accuracy).toFixed(2)}%, ${run.msPerBatch.toFixed(1)} ms per batch of 64`);
  assert.ok(run.accuracy >= 0.93, `accuracy ${run.accuracy}`);
  const worst = Math.max(0, ...longTasks.map((t) => t.duration));
  console.log(`main-thread long tasks while training: ${longTasks.length}, longest ${worst.toFixed(0)} ms`);
  assert.ok(worst <= 200, `a main-thread task took ${worst} ms`);
  // The views were drawn: a gallery of mistakes.
  assert.ok(galleryFigures > 0);
});

test('each batch is split over one CPU worker per core, and ?workers=1 trains in one', async () => {
  // The fixture's epoch ran with the page's default: one worker per core (at most 4), each a
  // wasm module of its own computing a shard of every batch (www/shards.js).
  const { run } = await oneEpochModel();
  const expected = Math.min(Math.max(run.cores, 1), 4);
  assert.equal(run.workers, expected, `${run.workers} workers on ${run.cores} cores`);
  console.log(`${run.workers} CPU workers: ${run.msPerBatch.toFixed(1)} ms per batch of 64`);
  const page = await lab.open('?workers=1');
  const single = await train(page, { epochs: 1, trainLimit: 1280 });
  assert.equal(single.state, 'finished', single.message);
  assert.equal(single.message, null);
  assert.equal(Number(await page.evaluate(() => document.body.dataset.workers)), 1);
  assert.ok(mean(single.losses.slice(-3)) < mean(single.losses.slice(0, 3)), 'the loss did not fall');
  console.log(`1 CPU worker: ${single.msPerBatch.toFixed(1)} ms per batch of 64`);
});

test('robustness: accuracy without degradation equals the test accuracy, noise lowers it, and the curves are saved', async () => {
  const { page } = await withOneEpochModel();
  const accuracy = Number(await page.getAttribute('#test-accuracy', 'data-value'));
  await openTab(page, 'compare');
  await page.click('#measure-robustness');
  // Its progress bar counts the nine evaluations and ends full.
  await page.waitForFunction(() => window.labState.robustness, null, { timeout: 300_000 });
  const work = await page.evaluate(() => ({ ...document.querySelector('#robustness-work').dataset }));
  assert.deepEqual([work.state, work.done, work.total], ['done', '9', '9']);
  const r = await page.evaluate(() => window.labState.robustness);
  const clean = r.points.find((p) => p.degradation.kind === 'gaussian-noise' && p.degradation.sigma === 0);
  const noisy = r.points.find((p) => p.degradation.kind === 'gaussian-noise' && p.degradation.sigma === 0.5);
  const faint = r.points.find((p) => p.degradation.kind === 'contrast' && p.degradation.factor === 0.1);
  console.log(`robustness on ${r.images} images: clean ${clean.accuracy}, σ=0.5 ${noisy.accuracy}, contrast ×0.1 ${faint.accuracy}`);
  assert.equal(r.images, 2004);
  assert.equal(clean.accuracy, accuracy, 'σ = 0 is the plain test set');
  assert.ok(noisy.accuracy < clean.accuracy && faint.accuracy < clean.accuracy);
  // The loaded model is kept, so its curves were saved with it and are drawn again after a reload.
  const series = () => page.evaluate(() => [document.querySelector('#noise-chart').dataset.series, document.querySelector('#contrast-chart').dataset.series]);
  assert.deepEqual(await series(), ['1', '1']);
  await reloadLab(page);
  await page.waitForFunction(() => document.body.dataset.modelsRestored === '1', null, { timeout: 120_000 });
  assert.deepEqual(await series(), ['1', '1']);
});

test('the first layer\'s response maps to a chosen test image are drawn', async () => {
  const { page } = await withOneEpochModel();
  await openTab(page, 'inside');
  await page.fill('#response-index', '7');
  await page.click('#show-responses');
  await page.waitForFunction(() => window.labState.responses?.index === 7);
  const r = await page.evaluate(() => window.labState.responses);
  assert.deepEqual([r.channels, r.size], [32, 26]);
});

test('drawing on the pad shows ten class probabilities', async () => {
  const { page } = await withOneEpochModel();
  await openTab(page, 'inside');
  await page.locator('#draw').scrollIntoViewIfNeeded();
  const box = await page.locator('#draw').boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.8, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelectorAll('#probabilities .bar').length === 10);
  const total = await page.evaluate(() => [...document.querySelectorAll('#probabilities .value')]
    .reduce((a, el) => a + parseFloat(el.textContent), 0));
  assert.ok(Math.abs(total - 100) < 1, `probabilities sum to ${total}%`);
});

test('weights and results download and load back', async () => {
  // The files the fixture downloaded from the page that trained the model, loaded into another.
  const { page, model } = await withOneEpochModel();
  const reloaded = Number(await page.getAttribute('#test-accuracy', 'data-value'));
  assert.equal(reloaded, model.accuracy, 'the reloaded weights score exactly as the trained model did');
  await page.setInputFiles('#load-results', model.results);
  await waitForMessage(page, /Results loaded/);
  // And once more from this page: its download of the loaded model loads back to the same score.
  const again = await lab.download(page, '#download-weights', 'weights-again.bpk');
  await loadWeights(page, again.path);
  assert.equal(Number(await page.getAttribute('#test-accuracy', 'data-value')), model.accuracy);
});

test('a corrupt weights file gives a clear error and the page keeps working', async () => {
  const page = await lab.open();
  const corrupt = lab.file('corrupt.bpk');
  await writeFile(corrupt, Buffer.from('this is not a burnpack file at all'));
  await page.setInputFiles('#load-weights', corrupt);
  await waitForMessage(page, /could not load the weights file/);
  assert.match(await message(page), /weights file/);
  const badResults = lab.file('corrupt.json');
  await writeFile(badResults, '{"schema_version": 99}');
  await page.setInputFiles('#load-results', badResults);
  await waitForMessage(page, /could not load the results file/);
  // Still alive: a short run trains.
  const run = await train(page, { rule: 'bp', epochs: 1, trainLimit: 256 });
  assert.equal(run.state, 'finished', run.message);
});

// Training images per rule for the short runs. DFA and Kolen-Pollack (like FA, a little less)
// first scramble the hidden layers while their feedback aligns: the loss rises for a few dozen
// batches before falling (see the grid's epoch-1 losses), so they get a full epoch. Predictive
// coding costs ~20 passes per batch, so it gets fewer images. Forward-forward learns at a fifth
// of the others' learning rate and needs most of an epoch to leave chance (2,560 images: ~22%).
const RULE_IMAGES = { dfa: 7996, kp: 7996, pc: 640, ff: 7996 };
// Judged on beating chance instead of a falling loss: the Hebbian layers' features keep growing
// in a short run while the readout chases them; forward-forward's reported loss is its readout's,
// trained on fc1 features that its goodness objective keeps moving. Its own inference (fc1's
// goodness per candidate label) gives the accuracy.
const LOCAL_RULES = new Set(['hebbian', 'ff']);

test('every learning rule trains on the CPU (loss falls)', async () => {
  const page = await lab.open();
  const rules = await page.evaluate(() => [...document.querySelectorAll('#rule option')].map((o) => o.value));
  assert.ok(rules.length >= 7, `rules offered: ${rules}`);
  for (const rule of rules) {
    const run = await train(page, { rule, epochs: 1, trainLimit: RULE_IMAGES[rule] || 2560 });
    assert.equal(run.state, 'finished', `${rule}: ${run.message}`);
    const first = mean(run.losses.slice(0, 5));
    const last = mean(run.losses.slice(-5));
    console.log(`${rule}: loss ${first.toFixed(3)} → ${last.toFixed(3)}, accuracy ${(100 * run.accuracy).toFixed(1)}%`);
    if (LOCAL_RULES.has(rule)) {
      assert.ok(run.accuracy > 0.2, `${rule}: accuracy ${run.accuracy} is near chance`);
    } else {
      assert.ok(last < first, `${rule}: loss did not fall (${first} → ${last})`);
    }
  }
});

test('every front end trains, fixed banks included, and its filters are drawn', async () => {
  const page = await lab.open();
  const frontEnds = await page.evaluate(() => [...document.querySelectorAll('#front_end option')].map((o) => o.value));
  assert.deepEqual(frontEnds, ['learned', 'gabor', 'dog', 'random']);
  for (const frontEnd of ['gabor', 'dog', 'random']) {
    const run = await train(page, { rule: 'bp', frontEnd, epochs: 1, trainLimit: 1280 });
    assert.equal(run.state, 'finished', `${frontEnd}: ${run.message}`);
    console.log(`${frontEnd}: accuracy ${(100 * run.accuracy).toFixed(1)}% after 1,280 images`);
    assert.ok(run.accuracy > 0.5, `${frontEnd}: accuracy ${run.accuracy}`);
  }
  // The last run was 'random': 32 kernels. Gabor has 48 (6 rows of 8 tiles).
  await train(page, { rule: 'bp', frontEnd: 'gabor', epochs: 1, trainLimit: 128 });
  const height = await page.evaluate(() => document.querySelector('#filters').height);
  const width = await page.evaluate(() => document.querySelector('#filters').width);
  assert.equal(height, 6 * Math.floor(width / 8), 'the Gabor bank draws 48 kernels');
});

test('models trained in the session can be compared (CKA, RDM, PCA)', async () => {
  // Two kept models on this page: the fixture's bp model, loaded, and a short FA run.
  const { page } = await withOneEpochModel();
  const fa = await train(page, { rule: 'fa', epochs: 1, trainLimit: 640 });
  assert.equal(fa.state, 'finished', fa.message);
  assert.equal(await page.evaluate(() => window.labState.keptModels), 2);
  await openTab(page, 'compare');
  await page.selectOption('#compare-layer', '3');
  await page.click('#compare');
  await page.waitForFunction(() => window.labState.comparison, null, { timeout: 300_000 });
  const c = await page.evaluate(() => window.labState.comparison);
  const n = c.models.length;
  assert.ok(n >= 2, `models: ${c.models}`);
  // The library's one comparison (crate/src/analysis/comparison.rs), as the CLI writes it.
  assert.deepEqual(c.layers.map((l) => l.layer), ['conv1', 'conv2', 'pool', 'fc1', 'logits']);
  for (const layer of c.layers) {
    const cka = (i, j) => layer.linear_cka.data[i * n + j];
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(cka(i, i) - 1) < 1e-6, 'CKA of a model with itself is 1');
      for (let j = 0; j < n; j++) {
        assert.ok(cka(i, j) >= -1e-9 && cka(i, j) <= 1 + 1e-9);
        assert.ok(Math.abs(cka(i, j) - cka(j, i)) < 1e-12);
      }
    }
    for (const metric of ['debiased_cka', 'rbf_cka', 'rsa_spearman', 'rsa_kendall_tau_a', 'rsa_cosine']) {
      assert.equal(layer[metric].n, n, `${layer.layer} ${metric}`);
      assert.ok(layer[metric].data.every(Number.isFinite), `${layer.layer} ${metric} is finite`);
    }
    assert.equal(layer.class_rdms.length, n);
    assert.equal(layer.pca.length, n);
    for (const p of layer.pca) assert.equal(p.scores.length, c.probe.size);
  }
  assert.equal(c.probe.labels.length, c.probe.size);
  console.log(`fc1 CKA between the first two kept models (${c.models[0]}, ${c.models[1]}): ${c.layers[3].linear_cka.data[1].toFixed(3)}`);
  await page.locator('#compare-panel').screenshot({ path: fileURLToPath(new URL('compare-panel.png', ARTIFACTS)) });
});
