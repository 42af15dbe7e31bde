// Accessibility: axe-core (npm, run inside Debian's Chromium) finds no serious or critical
// violation on each of the page's tabs, before and after a race (the summary table, the
// saved-model list and the charts filled in); each tab is screenshotted and checked again at a
// laptop's and a phone's size, where it must not be wider than the window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { labSuite, openTab } from './browser.mjs';

const lab = labSuite(import.meta.url);
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe's violations of impact serious or critical, as lines naming the rule and the elements. */
async function seriousViolations(page) {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.join(', ')}`);
}

const TABS = ['train', 'inside', 'compare', 'people'];
const VIEWPORTS = [['laptop-1366x768', { width: 1366, height: 768 }], ['phone-390x844', { width: 390, height: 844 }]];

test('no serious or critical accessibility violations on any tab, before and after a race, at a laptop\'s and a phone\'s width', async () => {
  const page = await lab.open();
  for (const tab of TABS) {
    await openTab(page, tab);
    assert.deepEqual(await seriousViolations(page), [], `the ${tab} tab of a fresh page`);
  }
  await openTab(page, 'train');
  for (const rule of ['bp', 'fa']) await page.check(`input[name="race-rule"][value="${rule}"]`);
  await page.fill('#train_limit', '640');
  await page.click('#race');
  await page.waitForFunction(() => document.body.dataset.race !== 'running', null, { timeout: 600_000, polling: 500 });
  await page.waitForFunction(() => window.labState.comparison?.models.length === 2, null, { timeout: 120_000 });
  for (const [name, viewport] of VIEWPORTS) {
    await page.setViewportSize(viewport);
    for (const tab of TABS) {
      await openTab(page, tab);
      // From the top (the tab bar is sticky), after two frames for the new layout and the charts fitted to it.
      await page.evaluate(() => new Promise((resolve) => { window.scrollTo(0, 0); requestAnimationFrame(() => requestAnimationFrame(resolve)); }));
      await page.screenshot({ path: lab.file(`${tab}-${name}.png`), fullPage: true });
      assert.deepEqual(await seriousViolations(page), [], `the ${tab} tab at ${name}, after a race`);
      // Nothing sticks out sideways: the page is as wide as the window.
      const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth }));
      assert.ok(widths.page <= widths.window, `the ${tab} tab at ${name} is ${widths.page}px wide in a ${widths.window}px window`);
    }
  }
});
