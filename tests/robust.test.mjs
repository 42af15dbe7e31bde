// The page under bad input and unlucky clicks (issue 18): each test is one defect that used to
// wedge the page, hang a Promise or lose data, and each ends by training again, to show the page
// still works. CPU backend; the backend-switch cases are in webgpu.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { requireBuiltSite, serve, launch, openLab, train, ARTIFACTS } from './browser.mjs';

let server, url, browser, page;
const artifact = (name) => fileURLToPath(new URL(name, ARTIFACTS));
const message = () => page.textContent('#message');
const waitForMessage = (pattern, timeout = 120_000) => page.waitForFunction(
  (source) => new RegExp(source).test(document.querySelector('#message').textContent), pattern.source, { timeout },
);
/** A short run that must finish: the page still trains. */
async function stillTrains() {
  const run = await train(page, { epochs: 1, trainLimit: 256 });
  assert.equal(run.state, 'finished', `the page no longer trains: ${run.message}`);
}

before(async () => {
  await requireBuiltSite();
  ({ server, url } = await serve());
  browser = await launch();
  page = await openLab(browser, `${url}?test_limit=500&selftest=panic`);
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('a panic inside a Promise restarts the module with a message, never a silent hang', async () => {
  await page.evaluate(() => window.labSelfTestPanic());
  await waitForMessage(/compute module stopped/, 30_000);
  assert.match(await message(), /self-test: a deliberate panic/);
  await page.waitForFunction(() => window.labState.restarts === 1 && document.body.dataset.runState === 'idle'
    && !document.querySelector('#start').disabled, null, { timeout: 60_000 });
  await stillTrains();
});

test('a weights file with an I32 tensor, NaN weights or 20 MB is refused with a message', async () => {
  await stillTrains();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-weights')]);
  const good = artifact('robust-weights.bpk');
  await download.saveAs(good);
  const bytes = await readFile(good);

  const i32 = Buffer.from(bytes);
  const at = i32.indexOf('F32');
  assert.ok(at > 0, 'the file names its dtype');
  i32.write('I32', at);
  await writeFile(artifact('robust-i32.bpk'), i32);
  await page.setInputFiles('#load-weights', artifact('robust-i32.bpk'));
  await waitForMessage(/could not load the weights file/);
  assert.match(await message(), /I32/);

  // The last tensor's data ends the file: make its last value NaN.
  const nan = Buffer.from(bytes);
  nan.writeFloatLE(Number.NaN, nan.length - 4);
  await writeFile(artifact('robust-nan.bpk'), nan);
  await page.setInputFiles('#load-weights', artifact('robust-nan.bpk'));
  await waitForMessage(/non-finite/);

  await writeFile(artifact('robust-big.bpk'), Buffer.alloc(20 * 1024 * 1024));
  await page.setInputFiles('#load-weights', artifact('robust-big.bpk'));
  await waitForMessage(/reads at most 16,777,216 bytes/);
  await stillTrains();
});

test('a stopped run keeps its finished epochs: results download, and the model is usable', async () => {
  await page.fill('#epochs', '3');
  await page.fill('#train_limit', '1280');
  await page.click('#start');
  // Stop once the first epoch has been evaluated.
  await page.waitForFunction(() => document.querySelector('#test-accuracy').dataset.value !== '', null, { timeout: 300_000 });
  await page.click('#stop');
  await page.waitForFunction(() => document.body.dataset.runState === 'stopped'
    && !document.querySelector('#download-results').disabled, null, { timeout: 120_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-results')]);
  await download.saveAs(artifact('robust-stopped.json'));
  const results = JSON.parse(await readFile(artifact('robust-stopped.json'), 'utf8'));
  assert.ok(results.epochs.length >= 1 && results.epochs.length < 3, `epochs in the file: ${results.epochs.length}`);
  assert.equal(await page.isDisabled('#download-weights'), false, 'the stopped model can be saved');
  await stillTrains();
});

test('a diverging run ends with a message that says what was kept', async () => {
  await page.selectOption('#rule', 'bp');
  await page.fill('#epochs', '1');
  await page.fill('#train_limit', '640');
  await page.fill('#learning_rate', '1e6');
  await page.click('#start');
  await waitForMessage(/diverged/, 300_000);
  assert.match(await message(), /No epoch had finished, so there are no results/);
  await page.waitForFunction(() => !document.querySelector('#start').disabled);
  await page.fill('#learning_rate', '0.001');
  await stillTrains();
});

test('a batch of 4096 is refused with the backend\'s limit', async () => {
  await page.fill('#batch_size', '4096');
  const run = await train(page, { epochs: 1, trainLimit: 256 });
  assert.notEqual(run.state, 'finished');
  assert.match(run.message, /batch size 4096 is above this backend's limit of 512/);
  await page.fill('#batch_size', '64');
  await stillTrains();
});

test('a seed above 2^53 survives the run, the download and a results file\'s round trip', async () => {
  const seed = '1152921504606846977'; // 2^60 + 1: a JS number would round it
  const run = await train(page, { epochs: 1, trainLimit: 256, seed });
  assert.equal(run.state, 'finished', run.message);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-results')]);
  await download.saveAs(artifact('robust-seed.json'));
  const text = await readFile(artifact('robust-seed.json'), 'utf8');
  assert.match(text, new RegExp(`"seed": ${seed}\\b`));
  await page.setInputFiles('#load-results', artifact('robust-seed.json'));
  await waitForMessage(/Results loaded/);
  const [again] = await Promise.all([page.waitForEvent('download'), page.click('#download-results')]);
  await again.saveAs(artifact('robust-seed-again.json'));
  assert.equal(await readFile(artifact('robust-seed-again.json'), 'utf8'), text);
  // A results file whose configuration no run could have: refused with the reason.
  const bad = JSON.parse(text);
  bad.config.batch_size = 0;
  await writeFile(artifact('robust-bad-config.json'), JSON.stringify(bad));
  await page.setInputFiles('#load-results', artifact('robust-bad-config.json'));
  await waitForMessage(/could not load the results file: .*configuration is invalid/);
  bad.config.batch_size = 64;
  bad.epochs = [];
  await writeFile(artifact('robust-no-epochs.json'), JSON.stringify(bad));
  await page.setInputFiles('#load-results', artifact('robust-no-epochs.json'));
  await waitForMessage(/could not load the results file: .*no epochs/);
  await page.fill('#seed', '0');
});

test('comparing during a run waits for the batch and never aborts the run', async () => {
  await stillTrains();
  await page.click('#compare');
  await page.waitForFunction(() => window.labState.comparison, null, { timeout: 300_000 });
  await page.fill('#epochs', '1');
  await page.fill('#train_limit', '1280');
  await page.click('#start');
  await page.waitForFunction(() => window.labState.losses.length >= 2, null, { timeout: 120_000 });
  // Changing the compared layer re-runs the comparison, mid-run.
  await page.evaluate(() => { window.labState.comparisonBefore = window.labState.comparison; });
  await page.selectOption('#compare-layer', '1');
  await page.waitForFunction(() => ['finished', 'idle', 'stopped'].includes(document.body.dataset.runState)
    && !document.querySelector('#start').disabled, null, { timeout: 600_000, polling: 500 });
  assert.equal(await page.evaluate(() => document.body.dataset.runState), 'finished',
    `the run did not finish: ${await message()}`);
  await page.waitForFunction(() => window.labState.comparison !== window.labState.comparisonBefore, null, { timeout: 300_000 });
});

test('a stimulus design of thousands of levels is refused before anything is allocated', async () => {
  const many = Array.from({ length: 5000 }, (_, i) => (i / 5000).toFixed(4)).join(', ');
  await page.fill('#participant-id', 'big-design');
  await page.fill('#exp-noise', many);
  await page.fill('#exp-durations', Array.from({ length: 5000 }, (_, i) => String(i + 1)).join(', '));
  await page.click('#exp-start');
  await page.waitForFunction(() => /5000 noise levels is more than the 64 a design may have/.test(document.querySelector('#message').textContent
    + document.querySelector('#exp-status').textContent), null, { timeout: 60_000 });
  await page.selectOption('#exp-preset', 'short');
  await stillTrains();
});
