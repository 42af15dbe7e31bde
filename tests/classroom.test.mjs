// The classroom page: racing several rules, the kept models surviving a reload (IndexedDB),
// renaming and deleting them, the settings living in a shareable link, the tabs by keyboard,
// the guided tour and the larger text for a room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSuite, openTab, reloadLab, waitForRunEnd, message } from './browser.mjs';

const lab = labSuite(import.meta.url);

const models = (page) => page.evaluate(() => window.labState.models);
const seriesIn = (page, id) => page.evaluate((chart) => Number(document.getElementById(chart).dataset.series), id);
/** The summary table's rows as {model, accuracy} (accuracy as shown, e.g. "81.20%"). */
const summaryRows = (page) => page.evaluate(() => [...document.querySelectorAll('#summary-table tr')].slice(1)
  .map((tr) => { const cells = [...tr.cells].map((c) => c.textContent); return { model: cells[0], rule: cells[1], accuracy: cells[3], cka: cells[7] }; }));
const restored = (page, n) => page.waitForFunction((count) => document.body.dataset.modelsRestored === String(count)
  && document.querySelector('#start').disabled === false, n, { timeout: 120_000 });

test('a race of bp, fa and hebbian keeps three models that come back after a reload', async () => {
  // The whole test set (2,004 images): a loaded weights file is evaluated on all of it, and the
  // restored models' accuracies must equal the ones their runs ended with.
  const page = await lab.open();
  await page.fill('#train_limit', '1280');
  await page.fill('#epochs', '1');
  for (const rule of ['bp', 'fa', 'hebbian']) await page.check(`input[name="race-rule"][value="${rule}"]`);
  await page.click('#race');
  await page.waitForFunction(() => document.body.dataset.race !== 'running', null, { timeout: 900_000, polling: 500 });
  assert.equal(await page.evaluate(() => document.body.dataset.race), 'finished', `the race did not finish: ${await message(page)}`);
  await waitForRunEnd(page);
  await page.waitForFunction(() => window.labState.comparison?.models.length === 3, null, { timeout: 120_000 });

  await page.screenshot({ path: lab.file('after-race.png'), fullPage: true });
  const before = await models(page);
  assert.deepEqual(before.map((m) => m.rule), ['bp', 'fa', 'hebbian']);
  assert.ok(before.every((m) => m.saved), 'every model is saved in IndexedDB');
  for (const chart of ['loss-chart', 'accuracy-chart', 'update-angle-chart', 'feedback-angle-chart']) {
    assert.equal(await seriesIn(page, chart), 3, chart);
  }
  // The race's comparison showed its progress: one step per model captured.
  const work = await page.evaluate(() => ({ ...document.querySelector('#compare-work').dataset }));
  assert.deepEqual([work.state, work.done, work.total], ['done', '3', '3']);
  const rowsBefore = await summaryRows(page);
  assert.equal(rowsBefore.length, 3);
  rowsBefore.forEach((row, i) => assert.equal(row.accuracy, `${(100 * before[i].accuracy).toFixed(2)}%`));
  // CKA of backprop's fc1 with itself is 1; the other rules' are numbers below it.
  assert.equal(rowsBefore[0].cka, '1.000');
  for (const row of rowsBefore.slice(1)) assert.ok(Number(row.cka) > 0 && Number(row.cka) < 1, `CKA ${row.cka}`);

  await reloadLab(page);
  await restored(page, 3);
  const after = await models(page);
  assert.deepEqual(after.map((m) => m.name), before.map((m) => m.name));
  after.forEach((m, i) => {
    // Loaded back and evaluated again: the same weights give the same accuracy.
    assert.equal(m.evaluated, before[i].accuracy, `${m.name}: evaluated ${m.evaluated}, trained to ${before[i].accuracy}`);
  });
  for (const chart of ['loss-chart', 'accuracy-chart', 'update-angle-chart', 'feedback-angle-chart']) {
    assert.equal(await seriesIn(page, chart), 3, `${chart} after the reload`);
  }
  const rowsAfter = await summaryRows(page);
  assert.equal(rowsAfter.length, 3);
  rowsAfter.forEach((row, i) => assert.equal(row.accuracy, `${(100 * after[i].evaluated).toFixed(2)}%`));
  // The restored models are in the worker again, under their names: they can be compared.
  await openTab(page, 'compare');
  await page.click('#compare');
  await page.waitForFunction(() => window.labState.comparison?.models.length === 3, null, { timeout: 120_000 });
  assert.deepEqual(await page.evaluate(() => window.labState.comparison.models), before.map((m) => m.name));

  // Renamed and deleted models stay so after another reload.
  const first = page.locator('#model-list li').first().locator('input[type=text]');
  await first.fill('backprop, the reference');
  await first.dispatchEvent('change');
  await page.waitForFunction(() => window.labState.models[0].name === 'backprop, the reference');
  await page.locator('#model-list li').nth(2).getByRole('button', { name: /^delete/ }).click();
  await page.waitForFunction(() => window.labState.models.length === 2);
  await reloadLab(page);
  await restored(page, 2);
  assert.deepEqual((await models(page)).map((m) => m.name), ['backprop, the reference', before[1].name]);
  assert.equal(await seriesIn(page, 'loss-chart'), 2);
  // The page reopened on the tab it was left on (the link's #compare).
  assert.equal(await page.evaluate(() => document.body.dataset.tab), 'compare');
  // Deleting every model leaves nothing to compare.
  for (let left = 2; left > 0; left--) {
    await page.locator('#model-list li').first().getByRole('button', { name: /^delete/ }).click();
    await page.waitForFunction((n) => window.labState.models.length === n - 1, left);
  }
  await page.waitForFunction(() => document.querySelector('#compare').disabled);
});

test('a shared link opens with its settings, and a malformed one with defaults and a message', async () => {
  const page = await lab.open('?task=fashion&rule=fa&front_end=gabor&seed=7&epochs=2&images=640&race=bp,dfa&race_front_ends=learned,dog');
  assert.equal(await page.inputValue('#task'), 'fashion');
  assert.equal(await page.inputValue('#rule'), 'fa');
  assert.equal(await page.inputValue('#front_end'), 'gabor');
  assert.equal(await page.inputValue('#seed'), '7');
  assert.equal(await page.inputValue('#epochs'), '2');
  assert.equal(await page.inputValue('#train_limit'), '640');
  const checked = (name) => page.evaluate((n) => [...document.querySelectorAll(`input[name="${n}"]:checked`)].map((i) => i.value), name);
  assert.deepEqual(await checked('race-rule'), ['bp', 'dfa']);
  assert.deepEqual(await checked('race-front-end'), ['learned', 'dog']);
  assert.equal(await page.locator('#message').isVisible(), false, `unexpected message: ${await message(page)}`);

  // Changing the form changes the link; the link the button gives opens the same form.
  await page.fill('#seed', '11');
  await page.dispatchEvent('#seed', 'change');
  await page.click('#share-link');
  const link = await page.inputValue('#share-url');
  assert.match(link, /seed=11/);
  assert.match(link, /#train$/, 'the link names the open tab');
  const again = await lab.open(link.slice(link.indexOf('?')).replace(/#train$/, '#compare'));
  assert.equal(await again.evaluate(() => document.body.dataset.tab), 'compare', 'a link to the Compare tab opens on it');
  assert.equal(await again.isVisible('#compare'), true);
  assert.equal(await again.isVisible('#start'), false);
  assert.equal(await again.inputValue('#seed'), '11');
  assert.equal(await again.inputValue('#rule'), 'fa');
  assert.deepEqual(await again.evaluate(() => [...document.querySelectorAll('input[name="race-rule"]:checked')].map((i) => i.value)), ['bp', 'dfa']);

  const defaults = await lab.open();
  const expected = { task: await defaults.inputValue('#task'), epochs: await defaults.inputValue('#epochs'), seed: await defaults.inputValue('#seed') };
  const bad = await lab.open('?task=klingon&epochs=-3&seed=12abc&race=bp,nope&rule=fa');
  assert.equal(await bad.inputValue('#task'), expected.task);
  assert.equal(await bad.inputValue('#epochs'), expected.epochs);
  assert.equal(await bad.inputValue('#seed'), expected.seed);
  assert.equal(await bad.inputValue('#rule'), 'fa', 'the values that parse are still used');
  const shown = await message(bad);
  assert.match(shown, /not all understood/);
  for (const key of ['task=', 'epochs=', 'seed=', 'race=']) assert.ok(shown.includes(key), `the message names ${key}: ${shown}`);
});

test('the tabs work from the keyboard, the tour walks through four steps, and larger text stays on', async () => {
  const page = await lab.open();
  const tab = () => page.evaluate(() => ({ shown: document.body.dataset.tab, focused: document.activeElement.id }));
  assert.equal((await tab()).shown, 'train');
  await page.focus('#tab-train');
  await page.keyboard.press('ArrowRight');
  assert.deepEqual(await tab(), { shown: 'inside', focused: 'tab-inside' });
  assert.equal(await page.isVisible('#draw'), true);
  assert.equal(await page.isVisible('#start'), false);
  await page.keyboard.press('End');
  assert.deepEqual(await tab(), { shown: 'people', focused: 'tab-people' });
  await page.keyboard.press('ArrowRight');
  assert.deepEqual(await tab(), { shown: 'train', focused: 'tab-train' }, 'the arrows wrap around');
  await page.keyboard.press('ArrowLeft');
  assert.deepEqual(await tab(), { shown: 'people', focused: 'tab-people' });
  await page.keyboard.press('Home');
  assert.deepEqual(await tab(), { shown: 'train', focused: 'tab-train' });
  // Only the selected tab is in the Tab order.
  assert.deepEqual(await page.evaluate(() => [...document.querySelectorAll('[role=tab]')].map((t) => t.tabIndex)), [0, -1, -1, -1]);

  // A first visit offers the tour; it opens the tab of each step and outlines what to look at.
  assert.equal(await page.isVisible('#tour-offer'), true);
  await page.click('#tour-offer-start');
  const step = () => page.evaluate(() => ({
    step: document.querySelector('#tour').dataset.step, tab: document.body.dataset.tab,
    target: document.querySelector('.tour-target')?.id, focused: document.activeElement.id,
  }));
  assert.deepEqual(await step(), { step: '1', tab: 'train', target: 'race-fieldset', focused: 'tour-title' });
  await page.click('#tour-next');
  assert.deepEqual(await step(), { step: '2', tab: 'train', target: 'curves', focused: 'tour-title' });
  await page.click('#tour-next');
  assert.deepEqual(await step(), { step: '3', tab: 'compare', target: 'compare-panel', focused: 'tour-title' });
  await page.click('#tour-back');
  assert.equal((await step()).step, '2');
  await page.click('#tour-next');
  await page.click('#tour-next');
  assert.deepEqual(await step(), { step: '4', tab: 'people', target: 'experiment-panel', focused: 'tour-title' });
  assert.equal(await page.textContent('#tour-next'), 'Finish');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#tour'), false);
  assert.equal(await page.evaluate(() => document.querySelector('.tour-target')), null);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tour-start');

  // Larger text: the page's type and its charts grow, and stay so after a reload; no tour offer then.
  const sizes = () => page.evaluate(() => ({
    font: parseFloat(getComputedStyle(document.body).fontSize),
    chart: document.querySelector('#loss-chart .uplot').offsetHeight,
  }));
  await openTab(page, 'train');
  const small = await sizes();
  await page.click('#room-mode');
  assert.equal(await page.getAttribute('#room-mode', 'aria-pressed'), 'true');
  const large = await sizes();
  assert.ok(large.font >= 1.2 * small.font && large.chart > small.chart, `${JSON.stringify(small)} → ${JSON.stringify(large)}`);
  await page.screenshot({ path: lab.file('larger-text.png') });
  await reloadLab(page);
  assert.deepEqual(await sizes(), large);
  assert.equal(await page.isVisible('#tour-offer'), false, 'the tour is offered once');
});
