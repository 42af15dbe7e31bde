// Accessibility: axe-core (npm, run inside Debian's Chromium) finds no serious or critical
// violation on the page, before and after a run (the summary table, the saved-model list and
// the charts filled in), and the page is screenshotted and checked again at a laptop's and a phone's size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { labSuite } from './browser.mjs';

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

test('no serious or critical accessibility violations, before and after a race', async () => {
  const page = await lab.open();
  assert.deepEqual(await seriousViolations(page), [], 'on a fresh page');
  for (const rule of ['bp', 'fa']) await page.check(`input[name="race-rule"][value="${rule}"]`);
  await page.fill('#train_limit', '640');
  await page.click('#race');
  await page.waitForFunction(() => document.body.dataset.race !== 'running', null, { timeout: 600_000, polling: 500 });
  await page.waitForFunction(() => window.labState.comparison?.models.length === 2, null, { timeout: 120_000 });
  assert.deepEqual(await seriousViolations(page), [], 'after a race');
  for (const [name, viewport] of [['laptop-1366x768', { width: 1366, height: 768 }], ['phone-390x844', { width: 390, height: 844 }]]) {
    await page.setViewportSize(viewport);
    // Two frames for the new layout to be painted before the full-page capture.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.screenshot({ path: lab.file(`${name}.png`), fullPage: true });
    assert.deepEqual(await seriousViolations(page), [], `at ${name}`);
  }
});
