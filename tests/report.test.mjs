// A study report viewed in Debian's Chromium: every figure of index.html is drawn (an inline SVG
// with a real size, axes and labels), and each figure's SVG file renders on its own as an image
// and is the very drawing the page inlines. Two reports: the one `cargo test --test study`
// builds from its small study (2 rules × 2 seeds and two scripted participants) and keeps in
// tests/artifacts/study-report/ (scripts/test.sh runs that first), and the committed example
// report, docs/example-report/ (the README's reference runs; scripts/example_report.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { labSuite } from './browser.mjs';

const lab = labSuite(import.meta.url, { site: false });
const REPORTS = [
  ['the study test\'s report', './artifacts/study-report/', 'run `cargo test --test study` first (scripts/test.sh does)', 'study'],
  ['the committed example report', '../docs/example-report/', 'it is committed; rebuild it with `bash scripts/example_report.sh`', 'example'],
];

for (const [what, where, missing, prefix] of REPORTS) test(`every figure of ${what} renders in the browser, inline and as its own SVG file`, async () => {
  const REPORT = fileURLToPath(new URL(where, import.meta.url));
  try {
    await access(`${REPORT}index.html`);
  } catch {
    throw new Error(`${REPORT}index.html is missing: ${missing}`);
  }
  const page = await (await lab.context()).newPage();
  await page.goto(pathToFileURL(`${REPORT}index.html`).href);
  const figures = await page.evaluate(() => [...document.querySelectorAll('figure')].map((f) => {
    const svg = f.querySelector('svg');
    const box = svg?.getBoundingClientRect();
    return {
      file: f.dataset.file,
      title: f.querySelector('h2')?.textContent ?? '',
      caption: f.querySelector('figcaption')?.textContent ?? '',
      width: box?.width ?? 0,
      height: box?.height ?? 0,
      texts: svg ? svg.querySelectorAll('text').length : 0,
      marks: svg ? svg.querySelectorAll('polyline, line, rect, circle, path').length : 0,
      svg: svg?.outerHTML ?? '',
    };
  }));
  const titles = figures.map((f) => f.title);
  for (const wanted of ['Q1', 'Learning curves', 'Update–backprop angles', 'Q2 · CKA between rules', 'Q2 · CKA with backprop', 'Robustness', 'Q3 · models ranked', 'Q3 · psychometric']) {
    assert.ok(titles.some((t) => t.startsWith(wanted)), `no "${wanted}" figure among ${titles.join(' | ')}`);
  }
  for (const [i, f] of figures.entries()) {
    assert.ok(f.width > 300 && f.height > 200, `${f.file} is drawn ${f.width}×${f.height}`);
    assert.ok(f.texts >= 6, `${f.file} has ${f.texts} text elements (axes, ticks, labels)`);
    assert.ok(f.marks >= 10, `${f.file} has ${f.marks} marks`);
    assert.match(f.caption, /\d/, `${f.file}'s caption states no number: ${f.caption}`);
    await page.locator('figure').nth(i).screenshot({ path: lab.file(`${prefix}-figure-${String(i).padStart(2, '0')}.png`) });
    // The file beside the page is the same drawing, and renders on its own.
    const text = await readFile(`${REPORT}figures/${f.file}`, 'utf8');
    assert.ok(text.includes('<svg'), `${f.file} is not an SVG`);
    const size = await page.evaluate((src) => new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve([img.naturalWidth, img.naturalHeight]);
      img.onerror = () => resolve([0, 0]);
      img.src = src;
    }), pathToFileURL(`${REPORT}figures/${f.file}`).href);
    assert.ok(size[0] > 300 && size[1] > 200, `${f.file} as an image: ${size}`);
  }
  console.log(`${what}: ${figures.length} figures rendered: ${figures.map((f) => f.file).join(', ')}`);
});
