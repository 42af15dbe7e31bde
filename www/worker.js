// The training worker: owns the wasm lab (WebLab) and runs every heavy computation, so the page's
// main thread only draws. It talks to the page through protocol.js and nothing else.
//
// Every call into the lab goes through one queue (`useLab`), so a request never finds the lab
// busy: a click during a run waits for the current batch and then runs, and the run goes on.
// If the module dies (a panic, reported by the lab's panic hook; a wasm trap; a call that never
// settles), the worker says so with `fatal: true` and the page starts a fresh worker.
import init, { WebLab } from './pkg/microlearning.js';
import { ToWorker, FromWorker, message } from './protocol.js';
import { startShards, workerCount } from './shards.js';

const DATA_FILES = {
  mnist: 'mnist10k',
  fashion: 'fashion-mnist',
};
const FILE_NAMES = [
  'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
];
// No single call of the lab takes this long on any backend we measured (the slowest, robustness
// on SwiftShader's software WebGPU, takes minutes); one that does has stopped for good.
const CALL_LIMIT_MS = 10 * 60 * 1000;
// `?selftest=panic` on the worker's URL (set by the page from its own URL) lets the browser
// tests make the module panic on purpose, to test the recovery.
const SELF_TEST = new URL(self.location.href).searchParams.get('selftest');
// `?workers=N` on the page (passed on here): train on N CPU workers; else one per core.
const WORKERS = Number(new URL(self.location.href).searchParams.get('workers')) || null;

let lab = null;
let startError = null;    // why the module could not start
let dead = null;          // why the module can no longer be used
let loadedTask = null;
let labStatus = null;     // the lab's last LabStatus (crate/src/web/lab.rs)
let run = null;           // { config, paused, stopRequested, resume }
let pendingPixels = null; // the drawing pad's latest image, predicted between batches
let predictQueued = false;

const post = (type, fields, transfer) => self.postMessage(message(type, fields), transfer || []);

function describe(err) {
  if (err instanceof Error) return err.message || String(err);
  return String(err);
}

function moduleDied(reason, requestId) {
  if (dead) return;
  dead = reason;
  post(FromWorker.ERROR, {
    message: `The compute module stopped (${reason}). Restarting it: the models in memory are lost; ` +
      'downloaded files and the experiment\'s saved answers are not affected.',
    fatal: true,
    requestId,
  });
}

// The lab's panic hook calls this just before the module traps.
const onPanic = (text) => moduleDied(text);
// A trap inside a Promise method surfaces here, not in the caller's catch.
// Handled here (preventDefault), it is not also reported as the worker's failure on the page.
self.addEventListener('error', (event) => {
  if (!(event.error instanceof WebAssembly.RuntimeError)) return;
  event.preventDefault();
  moduleDied(`${event.error.message || 'a wasm trap'}`);
});
self.addEventListener('unhandledrejection', (event) => {
  if (!(event.reason instanceof WebAssembly.RuntimeError)) return;
  event.preventDefault();
  moduleDied(`${event.reason.message || 'a wasm trap'}`);
});

let labTail = Promise.resolve();
let inFlight = null;      // { name, since }
/** Runs `fn(lab)` after every earlier call has settled. */
function useLab(name, fn) {
  const call = labTail.then(async () => {
    if (dead) throw new Error(`the compute module stopped (${dead})`);
    inFlight = { name, since: performance.now() };
    try {
      return await fn(lab);
    } catch (err) {
      if (err instanceof WebAssembly.RuntimeError) moduleDied(`${name}: ${describe(err)}`);
      throw err;
    } finally {
      inFlight = null;
    }
  });
  labTail = call.catch(() => {});
  return call;
}

// The watchdog: a call that has not settled for CALL_LIMIT_MS, while this event loop is free to
// notice, will never settle.
setInterval(() => {
  if (inFlight && performance.now() - inFlight.since > CALL_LIMIT_MS) {
    moduleDied(`${inFlight.name} did not finish in ${CALL_LIMIT_MS / 60000} minutes`);
  }
}, 5000);

async function postStatus() {
  labStatus = await useLab('status', (l) => l.status());
  post(FromWorker.STATUS, { status: labStatus });
}

const FETCH_TIMEOUT_MS = 120_000;
async function fetchBytes(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`could not load ${url.pathname} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

// The data sets' files, fetched once per task.
const dataFiles = new Map();
function fetchData(task) {
  const dir = DATA_FILES[task];
  if (!dir) return Promise.reject(new Error(`unknown data set ${task}`));
  if (!dataFiles.has(task)) {
    const files = Promise.all(FILE_NAMES.map((f) => fetchBytes(new URL(`../data/${dir}/${f}`, import.meta.url))));
    dataFiles.set(task, files);
    files.catch(() => dataFiles.delete(task));
  }
  return dataFiles.get(task);
}

/**
 * `fn(lab)` with `task`'s data loaded, in one turn of the queue: no other request can load
 * another data set in between.
 */
async function withData(task, name, fn) {
  const files = loadedTask === task ? null : await fetchData(task);
  return useLab(name, async (l) => {
    if (loadedTask !== task) {
      if (run?.started && run.config.task !== task) throw new Error(`a ${run.config.task} run is in progress; wait for it or stop it first`);
      const info = l.load_data(task, ...(files || await fetchData(task)));
      loadedTask = task;
      post(FromWorker.DATA, info);
    }
    return fn(l);
  });
}

/** The data set the model in use belongs to (else the loaded one). */
const modelTask = () => labStatus?.model_task || loadedTask || 'mnist';

const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

function predictSoon() {
  if (predictQueued) return;
  predictQueued = true;
  useLab('predict', async (l) => {
    predictQueued = false;
    const pixels = pendingPixels;
    pendingPixels = null;
    if (!pixels) return;
    const probabilities = await l.predict(pixels);
    post(FromWorker.PREDICTION, { probabilities });
  }).catch((err) => fail(err, 'prediction failed'));
}

async function sendResults() {
  const json = await useLab('results_file', (l) => l.results_file());
  post(FromWorker.RESULTS, { json });
}

/**
 * Helpers for the CPU backend's batches (www/shards.js), or null: on WebGPU the adapter does
 * the work, and one core has nothing to share.
 */
async function shardsFor(config) {
  const count = workerCount(WORKERS);
  if (labStatus?.backend?.kind !== 'cpu' || count < 2) return null;
  const onNotice = (text) => post(FromWorker.ERROR, { message: text, fatal: false });
  return startShards({ count, config, task: config.task, files: await fetchData(config.task), onNotice });
}

/** One batch, on the helpers' cores too when there are helpers. */
function trainBatch(at) {
  if (!run.shards?.helpers.length) return useLab('train_batch', (l) => l.train_batch());
  return run.shards.batch(
    at,
    (part, parts) => useLab('shard_update', (l) => l.shard_update(part, parts, at.epoch, at.batch)),
    (shards) => useLab('average_shards', (l) => l.average_shards(shards)),
    (shards, seconds) => useLab('apply_shards', (l) => l.apply_shards(shards, seconds)),
  );
}

async function train(config) {
  // `run` exists from the click on: a Stop or Pause sent while the data loads is kept.
  run = { config, started: false, paused: false, stopRequested: false, resume: null, shards: null };
  const current = run; // `run` is null once the run ends, however it ends
  try {
    await trainRun(config);
  } finally {
    current.shards?.close();
  }
}

async function trainRun(config) {
  const info = await withData(config.task, 'start', (l) => l.start(config));
  run.shards = await shardsFor(config);
  run.started = true;
  post(FromWorker.STARTED, { ...info, workers: run.shards?.workers ?? 1 });
  post(FromWorker.STATE, { state: 'running' });
  await postStatus();
  const total = info.batches_per_epoch * config.epochs;
  let done = 0;
  let images = 0;
  let seconds = 0;
  let lastPost = 0;
  let at = { epoch: 0, batch: 0 };
  for (;;) {
    await nextTurn(); // lets pause/stop/predict messages in between batches
    if (run.stopRequested) {
      await useLab('stop', (l) => l.stop());
      run = null;
      post(FromWorker.STATE, { state: 'stopped' });
      return;
    }
    if (run.paused) {
      post(FromWorker.STATE, { state: 'paused' });
      await new Promise((resolve) => { run.resume = resolve; });
      if (!run.stopRequested) post(FromWorker.STATE, { state: 'running' });
      continue;
    }
    const report = await trainBatch(at);
    at = report.epoch_complete ? { epoch: report.epoch + 1, batch: 0 } : { epoch: report.epoch, batch: report.batch + 1 };
    done += 1;
    images += report.images;
    seconds += report.seconds;
    const now = performance.now();
    if (now - lastPost > 100 || report.epoch_complete) {
      lastPost = now;
      post(FromWorker.PROGRESS, {
        epoch: report.epoch, batch: report.batch, batches_per_epoch: info.batches_per_epoch,
        epochs: config.epochs, done, total, loss: report.loss,
        images_per_second: images / seconds, ms_per_batch: 1000 * seconds / done,
        eta_seconds: (total - done) * (seconds / done), workers: run.shards?.workers ?? 1,
      });
    }
    if (report.epoch_complete) {
      const epoch = await useLab('finish_epoch', (l) => l.finish_epoch());
      run.shards?.advance();
      post(FromWorker.EPOCH, epoch);
      // The finished epochs reach the page at once: they survive even a crash of the module.
      await sendResults();
      if (epoch.run_finished) {
        run = null;
        post(FromWorker.MODEL_KEPT, epoch.kept);
        post(FromWorker.STATE, { state: 'finished' });
        return;
      }
    }
  }
}

/** The lab's `on_progress(done, total)` for long work, passed on to the page as WORK_PROGRESS. */
const progressOf = (work) => (done, total) => post(FromWorker.WORK_PROGRESS, { work, done, total });

/** After a run ends in any way: what it left (results, a model) reaches the page. */
async function afterRun() {
  await postStatus();
  if (labStatus.has_results) await sendResults();
}

async function handle(msg) {
  switch (msg.type) {
    case ToWorker.PING:
      post(FromWorker.PONG, { busy: inFlight?.name ?? null });
      break;
    case ToWorker.START: {
      if (run) throw new Error('a run is already in progress');
      try {
        await train(msg.config);
      } catch (err) {
        run = null;
        post(FromWorker.STATE, { state: 'idle' });
        throw err;
      } finally {
        if (!dead) await afterRun().catch((err) => fail(err, 'after the run'));
      }
      break;
    }
    case ToWorker.PAUSE:
      if (run) run.paused = true;
      break;
    case ToWorker.RESUME:
      if (run) { run.paused = false; run.resume?.(); }
      break;
    case ToWorker.STOP:
      if (run) { run.stopRequested = true; run.paused = false; run.resume?.(); }
      break;
    case ToWorker.PREDICT:
      pendingPixels = msg.pixels;
      predictSoon();
      break;
    case ToWorker.SET_BACKEND:
      try {
        const backend = await useLab('set_backend', (l) => l.set_backend(msg.kind));
        post(FromWorker.BACKEND, { backend });
      } finally {
        // Success or not, the page shows the backend the lab is really on.
        if (!dead) await postStatus();
      }
      break;
    case ToWorker.GET_RESULTS:
      await sendResults();
      break;
    case ToWorker.GET_WEIGHTS: {
      const bytes = await useLab('weights', (l) => l.weights());
      post(FromWorker.WEIGHTS, { bytes: bytes.buffer, requestId: msg.requestId }, [bytes.buffer]);
      break;
    }
    case ToWorker.LOAD_WEIGHTS: {
      if (run) throw new Error('stop the training run before loading weights');
      const loaded = await withData(msg.task, 'load_weights', (l) => l.load_weights(new Uint8Array(msg.bytes), msg.name || 'weights', msg.task));
      post(FromWorker.WEIGHTS_LOADED, { ...loaded, requestId: msg.requestId });
      post(FromWorker.MODEL_KEPT, loaded.kept);
      await postStatus();
      break;
    }
    case ToWorker.COMPARE:
      post(FromWorker.COMPARISON, { requestId: msg.requestId, comparison: await withData(modelTask(), 'compare_models', (l) => l.compare_models(progressOf('compare'))) });
      break;
    case ToWorker.RESPONSES:
      post(FromWorker.RESPONSE_MAPS, { responses: await withData(modelTask(), 'front_end_responses', (l) => l.front_end_responses(msg.index)) });
      break;
    case ToWorker.ROBUSTNESS: {
      const task = msg.task ?? modelTask();
      const robustness = await withData(task, 'robustness', (l) => l.robustness(msg.name ?? undefined, 0n, progressOf('robustness')));
      post(FromWorker.ROBUSTNESS_RESULT, { requestId: msg.requestId, name: robustness.name, robustness });
      break;
    }
    case ToWorker.STIMULI: {
      // One call that renders every stimulus: the page is told when it starts and ends.
      post(FromWorker.WORK_PROGRESS, { work: 'stimuli', done: 0, total: 1 });
      const { list, pixels } = await withData(msg.design.task, 'stimuli', (l) => l.stimuli(msg.design));
      post(FromWorker.WORK_PROGRESS, { work: 'stimuli', done: 1, total: 1 });
      post(FromWorker.STIMULI, { requestId: msg.requestId, list, pixels: pixels.buffer }, [pixels.buffer]);
      break;
    }
    case ToWorker.HUMAN_COMPARE: {
      const compare = (l) => l.compare_people(msg.trials, progressOf('human-compare'));
      const reply = msg.trials.length
        ? await withData(msg.trials[0].task, 'compare_people', compare)
        : await useLab('compare_people', compare);
      post(FromWorker.HUMAN_COMPARISON, { requestId: msg.requestId, ...reply });
      break;
    }
    case ToWorker.GROUP_CSV:
      post(FromWorker.GROUP_CSV, { requestId: msg.requestId, csv: await useLab('group_csv', (l) => l.group_csv()) });
      break;
    case ToWorker.PARSE_TRIALS: {
      const trials = await useLab('parse_trial_file', () => WebLab.parse_trial_file(msg.name, msg.text));
      post(FromWorker.TRIALS_PARSED, { requestId: msg.requestId, name: msg.name, trials });
      break;
    }
    case ToWorker.FORGET_MODEL: {
      const count = await useLab('forget_model', (l) => l.forget_model(msg.name));
      post(FromWorker.MODEL_FORGOTTEN, { requestId: msg.requestId, count });
      break;
    }
    case ToWorker.RENAME_MODEL:
      await useLab('rename_model', (l) => l.rename_model(msg.name, msg.newName));
      post(FromWorker.MODEL_RENAMED, { requestId: msg.requestId });
      break;
    case ToWorker.CHECK_RESULTS:
      post(FromWorker.RESULTS_CHECKED, { results: await useLab('check_results', () => WebLab.check_results(msg.text)) });
      break;
    case ToWorker.SELF_TEST_PANIC:
      if (SELF_TEST !== 'panic') throw new Error('the self-test is off');
      await useLab('self_test_panic', (l) => l.self_test_panic());
      break;
    default:
      throw new Error(`unknown message ${msg.type}`);
  }
}

const labels = {
  [ToWorker.START]: 'training failed',
  [ToWorker.SET_BACKEND]: 'could not switch the backend',
  [ToWorker.GET_RESULTS]: 'no results to download',
  [ToWorker.GET_WEIGHTS]: 'no weights to download',
  [ToWorker.LOAD_WEIGHTS]: 'could not load the weights file',
  [ToWorker.CHECK_RESULTS]: 'could not load the results file',
  [ToWorker.COMPARE]: 'could not compare the models',
  [ToWorker.RESPONSES]: 'could not show the responses',
  [ToWorker.ROBUSTNESS]: 'could not measure robustness',
  [ToWorker.STIMULI]: 'could not make the stimuli',
  [ToWorker.PARSE_TRIALS]: 'could not import',
  [ToWorker.HUMAN_COMPARE]: 'could not compare people and models',
  [ToWorker.GROUP_CSV]: 'could not export the group',
  [ToWorker.FORGET_MODEL]: 'could not delete the model',
  [ToWorker.RENAME_MODEL]: 'could not rename the model',
};

function fail(err, context, requestId) {
  if (dead) return; // already reported, fatally
  post(FromWorker.ERROR, { message: `${context}: ${describe(err)}`, fatal: false, requestId });
}

self.onmessage = (event) => {
  const msg = event.data;
  if (!lab) {
    if (msg.type === ToWorker.PING) { post(FromWorker.PONG, { busy: 'loading' }); return; }
    const why = startError ? `the lab could not start: ${startError}` : 'the lab is still loading';
    post(FromWorker.ERROR, { message: why, fatal: false, requestId: msg.requestId });
    if (msg.type === ToWorker.START) post(FromWorker.STATE, { state: 'idle' });
    return;
  }
  handle(msg).catch((err) => fail(err, labels[msg.type] || 'error', msg.requestId));
};

(async () => {
  try {
    await init();
    lab = new WebLab(onPanic);
    const menus = WebLab.menus();
    const status = lab.status();
    labStatus = status;
    post(FromWorker.READY, {
      rules: menus.rules, frontEnds: menus.front_ends, maxWeightsBytes: menus.max_weights_bytes,
      defaults: menus.defaults,
      backend: status.backend, status,
    });
  } catch (err) {
    startError = describe(err);
    post(FromWorker.ERROR, { message: `the lab could not start: ${startError}`, fatal: false });
  }
})();
