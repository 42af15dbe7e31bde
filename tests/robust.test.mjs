// The page under bad input and unlucky clicks (issue 18): each test is one defect that used to
// wedge the page, hang a Promise or lose data, and each ends by training again, to show the page
// still works. Each test opens a fresh page. CPU backend; the backend-switch cases are in
// webgpu.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { labSuite, openTab, train, message, waitForMessage, stillTrains as trains, compareMidRun } from './browser.mjs';

const lab = labSuite(import.meta.url);
/** A fresh page of the lab (its own context) that evaluates on 500 test images and offers the self-test panic. */
const open = () => lab.open('?test_limit=500&selftest=panic');
/** A short run that must finish: the page still trains. */
const stillTrains = (page) => trains(page, 256);

test('a panic inside a Promise restarts the module with a message, never a silent hang', async () => {
  const page = await open();
  await page.evaluate(() => window.labSelfTestPanic());
  await waitForMessage(page, /compute module stopped/, 30_000);
  assert.match(await message(page), /self-test: a deliberate panic/);
  await page.waitForFunction(() => window.labState.restarts === 1 && document.body.dataset.runState === 'idle'
    && !document.querySelector('#start').disabled, null, { timeout: 60_000 });
  await stillTrains(page);
});

test('a weights file with an I32 tensor, NaN weights or 20 MB is refused with a message', async () => {
  const page = await open();
  await stillTrains(page);
  const bytes = await readFile((await lab.download(page, '#download-weights', 'robust-weights.bpk')).path);

  const i32 = Buffer.from(bytes);
  const at = i32.indexOf('F32');
  assert.ok(at > 0, 'the file names its dtype');
  i32.write('I32', at);
  await writeFile(lab.file('robust-i32.bpk'), i32);
  await page.setInputFiles('#load-weights', lab.file('robust-i32.bpk'));
  await waitForMessage(page, /could not load the weights file/);
  assert.match(await message(page), /I32/);

  // The last tensor's data ends the file: make its last value NaN.
  const nan = Buffer.from(bytes);
  nan.writeFloatLE(Number.NaN, nan.length - 4);
  await writeFile(lab.file('robust-nan.bpk'), nan);
  await page.setInputFiles('#load-weights', lab.file('robust-nan.bpk'));
  await waitForMessage(page, /non-finite/);

  await writeFile(lab.file('robust-big.bpk'), Buffer.alloc(20 * 1024 * 1024));
  await page.setInputFiles('#load-weights', lab.file('robust-big.bpk'));
  await waitForMessage(page, /reads at most 16,777,216 bytes/);
  await stillTrains(page);
});

test('a stopped run keeps its finished epochs: results download, and the model is usable', async () => {
  const page = await open();
  await page.fill('#epochs', '3');
  await page.fill('#train_limit', '1280');
  await page.click('#start');
  // Stop once the first epoch has been evaluated.
  await page.waitForFunction(() => document.querySelector('#test-accuracy').dataset.value !== '', null, { timeout: 300_000 });
  await page.click('#stop');
  await page.waitForFunction(() => document.body.dataset.runState === 'stopped'
    && !document.querySelector('#download-results').disabled, null, { timeout: 120_000 });
  const results = JSON.parse((await lab.download(page, '#download-results', 'robust-stopped.json')).text);
  assert.ok(results.epochs.length >= 1 && results.epochs.length < 3, `epochs in the file: ${results.epochs.length}`);
  assert.equal(await page.isDisabled('#download-weights'), false, 'the stopped model can be saved');
  await stillTrains(page);
});

test('a diverging run ends with a message that says what was kept', async () => {
  const page = await open();
  await page.selectOption('#rule', 'bp');
  await page.fill('#epochs', '1');
  await page.fill('#train_limit', '640');
  await page.fill('#learning_rate', '1e6');
  await page.click('#start');
  await waitForMessage(page, /diverged/, 300_000);
  assert.match(await message(page), /No epoch had finished, so there are no results/);
  await page.waitForFunction(() => !document.querySelector('#start').disabled);
  await page.fill('#learning_rate', '0.001');
  await stillTrains(page);
});

test('a batch of 4096 is refused with the backend\'s limit', async () => {
  const page = await open();
  await page.fill('#batch_size', '4096');
  const run = await train(page, { epochs: 1, trainLimit: 256 });
  assert.notEqual(run.state, 'finished');
  assert.match(run.message, /batch size 4096 is above this backend's limit of 512/);
  await page.fill('#batch_size', '64');
  await stillTrains(page);
});

test('a seed above 2^53 survives the run, the download and a results file\'s round trip', async () => {
  const page = await open();
  const seed = '1152921504606846977'; // 2^60 + 1: a JS number would round it
  const run = await train(page, { epochs: 1, trainLimit: 256, seed });
  assert.equal(run.state, 'finished', run.message);
  const { path, text } = await lab.download(page, '#download-results', 'robust-seed.json');
  assert.match(text, new RegExp(`"seed": ${seed}\\b`));
  await page.setInputFiles('#load-results', path);
  await waitForMessage(page, /Results loaded/);
  assert.equal((await lab.download(page, '#download-results', 'robust-seed-again.json')).text, text);
  // A results file whose configuration no run could have: refused with the reason.
  const bad = JSON.parse(text);
  bad.config.batch_size = 0;
  await writeFile(lab.file('robust-bad-config.json'), JSON.stringify(bad));
  await page.setInputFiles('#load-results', lab.file('robust-bad-config.json'));
  await waitForMessage(page, /could not load the results file: .*configuration is invalid/);
  bad.config.batch_size = 64;
  bad.epochs = [];
  await writeFile(lab.file('robust-no-epochs.json'), JSON.stringify(bad));
  await page.setInputFiles('#load-results', lab.file('robust-no-epochs.json'));
  await waitForMessage(page, /could not load the results file: .*no epochs/);
});

test('comparing during a run waits for the batch and never aborts the run', async () => {
  const page = await open();
  await stillTrains(page);
  await openTab(page, 'compare');
  await page.click('#compare');
  await page.waitForFunction(() => window.labState.comparison, null, { timeout: 300_000 });
  // Changing the compared layer re-runs the comparison, mid-run (after two batches of 1,280 images).
  await compareMidRun(page, { trainLimit: 1280, batches: 2, timeout: 600_000 });
});

test('a stimulus design of thousands of levels is refused before anything is allocated', async () => {
  const page = await open();
  await openTab(page, 'people');
  const many = Array.from({ length: 5000 }, (_, i) => (i / 5000).toFixed(4)).join(', ');
  await page.fill('#participant-id', 'big-design');
  await page.fill('#exp-noise', many);
  await page.fill('#exp-durations', Array.from({ length: 5000 }, (_, i) => String(i + 1)).join(', '));
  await page.click('#exp-start');
  await page.waitForFunction(() => /5000 noise levels is more than the 64 a design may have/.test(document.querySelector('#message').textContent
    + document.querySelector('#exp-status').textContent), null, { timeout: 60_000 });
  await page.selectOption('#exp-preset', 'short');
  await stillTrains(page);
});
