// Times the page's own training step (bp, learned front end, Adam, batch 64, MNIST-10k,
// diagnostics off) in Debian's Chromium, through the UI, on the CPU or the WebGPU backend.
// Usage: node scripts/bench_page.mjs --backend cpu|webgpu [--workers N] [--batches N] [--warmup W] [--json]
// --workers N: the page's ?workers=N, the CPU workers that split each batch (default: the page's
// own choice, one per core up to 4).
// Prints one line (or, with --json, one JSON object) on stdout; everything else on stderr.
//
// Per-batch times: the worker times each `train_batch` call (crate/src/web/training.rs) and its
// PROGRESS messages carry the run's cumulative mean, `ms_per_batch` over `done` batches, so
// `ms_per_batch · done` is the cumulative training time. The difference between two successive
// PROGRESS messages is the time of the batches in between. The worker posts at most one
// PROGRESS per 100 ms: a batch slower than that has its own message, and a group of faster
// batches gets the group's mean for each of its batches (stderr says how many were grouped).
// The messages are read by wrapping the page's `Worker` before the page runs; nothing in
// www/ is changed.
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { CHROMIUM, launch, newPage } from '../tests/browser.mjs';
import { startServer } from './static_server.mjs';

const WASM = new URL('../www/pkg/microlearning_bg.wasm', import.meta.url);
const BATCH = 64;
const MNIST10K_TRAIN = 7996; // training images in data/mnist10k
// SwiftShader (CPU-emulated WebGPU) takes seconds per step, so fewer batches by default.
const DEFAULTS = { cpu: { batches: 30, warmup: 3, limitMin: 10 }, webgpu: { batches: 5, warmup: 2, limitMin: 20 } };

const log = (...args) => console.error(...args);

function options() {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'cpu' }, batches: { type: 'string' },
      warmup: { type: 'string' }, json: { type: 'boolean', default: false }, workers: { type: 'string' },
    },
  });
  const d = DEFAULTS[values.backend];
  if (!d) throw new Error(`--backend must be cpu or webgpu, not ${values.backend}`);
  const count = (text, fallback, min) => {
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < min) throw new Error(`expected a whole number >= ${min}, got ${text}`);
    return Number(text);
  };
  return {
    backend: values.backend, json: values.json, limitMs: d.limitMin * 60_000,
    batches: count(values.batches, d.batches, 1), warmup: count(values.warmup, d.warmup, 0),
    workers: values.workers === undefined ? null : count(values.workers, 1, 1),
  };
}

/**
 * Runs in the page before its own scripts: every worker it starts reports its messages into
 * `window.bench`, and the START it is sent gets `override` merged into its config (the form
 * has no diagnostics field; the page sends the lab's default, every 20 batches).
 */
function watchWorkers(override) {
  const Native = window.Worker;
  window.bench = { progress: [], error: null, ended: null, started: null };
  window.Worker = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', ({ data }) => {
        const b = window.bench;
        if (data.type === 'started') b.started = data;
        if (data.type === 'progress') b.progress.push({ done: data.done, ms_per_batch: data.ms_per_batch });
        if (data.type === 'error' && b.started) b.error = data.message;
        if (data.type === 'state' && b.started && data.state !== 'running') b.ended = data.state;
      });
    }
    postMessage(msg, transfer) {
      if (msg?.type === 'start') {
        Object.assign(window.bench, { progress: [], error: null, ended: null, started: null });
        msg = { ...msg, config: { ...msg.config, ...override } };
        window.bench.config = msg.config;
      }
      return super.postMessage(msg, transfer);
    }
  };
}

/** Each batch's milliseconds, from the cumulative totals of successive PROGRESS messages. */
function perBatch(progress) {
  const times = [];
  let done = 0;
  let total = 0;
  let grouped = 0;
  for (const p of progress) {
    const k = p.done - done;
    if (k <= 0) continue;
    const now = p.ms_per_batch * p.done;
    for (let i = 0; i < k; i++) times.push((now - total) / k);
    if (k > 1) grouped += k;
    [done, total] = [p.done, now];
  }
  return { times, grouped };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Waits until the page is ready or shows a message (the lab could not start). */
async function waitReady(page) {
  await page.waitForFunction(() => document.body.dataset.readyMs !== undefined
    || !document.querySelector('#message').hidden, null, { timeout: 180_000 });
  if (await page.evaluate(() => document.body.dataset.readyMs === undefined)) {
    throw new Error(`the page did not start: ${await page.textContent('#message')}`);
  }
}

/** Switches the page to WebGPU; resolves to the main thread's view of the adapter. */
async function useWebGpu(page) {
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return null;
    const info = a.info ?? {};
    return {
      vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      isFallbackAdapter: info.isFallbackAdapter ?? a.isFallbackAdapter ?? false,
    };
  });
  if (!adapter) throw new Error('Chromium offered no WebGPU adapter (navigator.gpu missing or requestAdapter() gave null)');
  await page.selectOption('#backend-select', 'webgpu');
  await page.waitForFunction(() => /WebGPU/.test(document.querySelector('#backend-name').textContent)
    || !document.querySelector('#message').hidden, null, { timeout: 120_000 });
  const name = await page.textContent('#backend-name');
  if (!/WebGPU/.test(name)) throw new Error(`the page could not switch to WebGPU: ${await page.textContent('#message')}`);
  return adapter;
}

async function bench(opts, url) {
  const browser = await launch({ webgpu: opts.backend === 'webgpu' });
  try {
    const page = await newPage(await browser.newContext());
    await page.addInitScript(watchWorkers, { diagnostics_every: 0 });
    // A small test set: the evaluation at an epoch's end is not timed and need not be long.
    await page.goto(`${url}?test_limit=200${opts.workers ? `&workers=${opts.workers}` : ''}`);
    await waitReady(page);
    const gpu = opts.backend === 'webgpu' ? await useWebGpu(page) : null;
    const software = !!gpu && (gpu.isFallbackAdapter || /swiftshader/i.test(`${gpu.architecture} ${gpu.vendor} ${gpu.description}`));
    if (gpu) log(`WebGPU adapter: ${JSON.stringify(gpu)}`);
    if (software) log('NOTE: the WebGPU adapter is SOFTWARE (SwiftShader, emulated on the CPU): these are not GPU timings.');

    const need = opts.warmup + opts.batches;
    // One epoch of exactly `need` full batches when the data set holds them; else whole epochs
    // (whose last batch is smaller, 7996 = 124 · 64 + 60).
    const oneEpoch = need * BATCH <= MNIST10K_TRAIN;
    await page.selectOption('#task', 'mnist');
    await page.selectOption('#rule', 'bp'); // also sets the rule's learning rate
    await page.selectOption('#front_end', 'learned');
    await page.selectOption('#optimizer', 'adam');
    await page.fill('#batch_size', String(BATCH));
    await page.fill('#seed', '0');
    await page.fill('#epochs', String(oneEpoch ? 1 : Math.ceil(need * BATCH / MNIST10K_TRAIN) + 1));
    await page.fill('#train_limit', oneEpoch ? String(need * BATCH) : '');
    const description = await page.textContent('#backend-name');
    log(`${opts.backend}: ${description}; ${opts.warmup} warm-up + ${opts.batches} timed batches of ${BATCH}`);
    await page.click('#start');

    const started = Date.now();
    let shown = 0;
    for (;;) {
      const b = await page.evaluate(() => window.bench);
      if (b.error) throw new Error(`the page reported: ${b.error}`);
      const done = b.progress.at(-1)?.done ?? 0;
      if (done > shown) { log(`  ${done}/${need} batches, ${(b.progress.at(-1).ms_per_batch).toFixed(1)} ms mean so far`); shown = done; }
      if (done >= need) break;
      if (b.ended) throw new Error(`the run ended (${b.ended}) after ${done} of ${need} batches: ${await page.textContent('#message')}`);
      if (Date.now() - started > opts.limitMs) throw new Error(`only ${done} of ${need} batches in ${opts.limitMs / 60_000} min`);
      await page.waitForTimeout(done ? 250 : 1000);
    }
    const { progress, config } = await page.evaluate(() => window.bench);
    const recipe = ['task', 'rule', 'front_end', 'optimizer', 'batch_size', 'epochs', 'train_limit', 'test_limit', 'diagnostics_every'];
    log(`  config sent: ${recipe.map((k) => `${k}=${config[k]}`).join(' ')}`);
    const { times, grouped } = perBatch(progress);
    const timed = times.slice(opts.warmup, need);
    if (grouped) log(`  ${grouped} of ${times.length} batches were reported in groups (under 100 ms each): they get their group's mean`);
    log(`  warm-up ms: ${times.slice(0, opts.warmup).map((t) => t.toFixed(1)).join(', ') || '–'}`);
    log(`  timed ms:   ${timed.map((t) => t.toFixed(1)).join(', ')}`);
    const hardwareConcurrency = await page.evaluate(() => navigator.hardwareConcurrency);
    await page.click('#stop').catch(() => {});
    const workers = await page.evaluate(() => window.bench.started?.workers ?? 1);
    return { description, software, gpu, timed, hardwareConcurrency, workers };
  } finally {
    await browser.close();
  }
}

async function main() {
  const opts = options();
  const wasm = await readFile(WASM).catch(() => null);
  if (!wasm) throw new Error('the site is not built (www/pkg/microlearning_bg.wasm is missing): run bash scripts/build_web.sh');
  await access(CHROMIUM, constants.X_OK).catch(() => {
    throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  });
  const server = await startServer(0, '127.0.0.1');
  let run;
  try {
    run = await bench(opts, `http://127.0.0.1:${server.address().port}/`);
  } finally {
    server.close();
  }
  // The worker's clock is coarsened (about 0.1 ms): more digits would be noise.
  const round = (x) => Math.round(x * 100) / 100;
  const medianMs = median(run.timed);
  const result = {
    backend: opts.backend, adapter: run.description, software_adapter: run.software,
    batches: opts.batches, warmup: opts.warmup,
    median_ms: round(medianMs), min_ms: round(Math.min(...run.timed)), max_ms: round(Math.max(...run.timed)),
    images_per_second: round(1000 * BATCH / medianMs),
    wasm_bytes: wasm.length, wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
    hardware_concurrency: run.hardwareConcurrency, workers: run.workers, per_batch_ms: run.timed.map(round),
  };
  if (opts.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
  console.log(`${result.backend}${run.software ? ' (SOFTWARE adapter)' : ''}: median ${medianMs.toFixed(1)} ms per batch of ${BATCH} ` +
    `(min ${result.min_ms.toFixed(1)}, max ${result.max_ms.toFixed(1)}; ${result.batches} batches after ${result.warmup} warm-up) = ` +
    `${Math.round(result.images_per_second)} images/s · ${result.adapter} · wasm ${mb(result.wasm_bytes)}, gzip ${mb(result.wasm_gzip_bytes)} · ` +
    `hardwareConcurrency ${result.hardware_concurrency} · ${result.workers} CPU worker(s)`);
}

main().catch((err) => {
  console.error(`bench_page: ${err.message}`);
  process.exitCode = 1;
});
