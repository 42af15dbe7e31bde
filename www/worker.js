// The training worker: owns the wasm lab (WebLab) and runs every heavy computation, so the page's
// main thread only draws. It talks to the page through protocol.js and nothing else.
import init, { WebLab } from './pkg/microlearning.js';
import { ToWorker, FromWorker, message } from './protocol.js';

const DATA_FILES = {
  mnist: 'mnist10k',
  fashion: 'fashion-mnist',
};
const FILE_NAMES = [
  'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
];

let lab = null;
let backend = { kind: 'cpu', description: 'CPU' };
let loadedTask = null;
let run = null;          // { config, paused, stopRequested, resume }
let pendingPredict = null;

const post = (type, fields, transfer) => self.postMessage(message(type, fields), transfer || []);

function describe(err) {
  if (err instanceof Error) return err.message || String(err);
  return String(err);
}

function isFatal(err) {
  // A wasm trap means the module's memory may be inconsistent: it cannot be used again.
  return err instanceof WebAssembly.RuntimeError;
}

function fail(err, context, requestId) {
  const fatal = isFatal(err);
  const text = `${context}: ${describe(err)}`;
  post(FromWorker.ERROR, { message: fatal ? `${text}. The compute module stopped; restarting on the CPU.` : text, fatal, requestId });
}

/** Loads `task`'s data unless a run of another task is using the lab. */
async function dataFor(task) {
  if (run && run.config.task !== task) throw new Error(`a ${run.config.task} run is in progress; wait for it or stop it first`);
  await ensureData(task);
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url.pathname} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

async function ensureData(task) {
  if (loadedTask === task) return;
  const dir = DATA_FILES[task];
  if (!dir) throw new Error(`unknown data set ${task}`);
  const files = await Promise.all(FILE_NAMES.map((f) => fetchBytes(new URL(`../data/${dir}/${f}`, import.meta.url))));
  const info = JSON.parse(lab.load_data(task, ...files));
  loadedTask = task;
  post(FromWorker.DATA, info);
}

const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

async function sendFilters() {
  try {
    return JSON.parse(await lab.filters());
  } catch {
    return null;
  }
}

async function servePredict() {
  if (!pendingPredict) return;
  const pixels = pendingPredict;
  pendingPredict = null;
  try {
    const probabilities = await lab.predict(pixels);
    post(FromWorker.PREDICTION, { probabilities });
  } catch (err) {
    fail(err, 'prediction failed');
  }
}

let modelCounter = 0;
let lastModelName = 'current model';
function keepModel(label) {
  modelCounter += 1;
  const name = `#${modelCounter} ${label}`;
  lastModelName = name;
  const count = lab.keep_model(name);
  post(FromWorker.MODEL_KEPT, { count, name });
}

async function train(config) {
  await ensureData(config.task);
  const info = JSON.parse(lab.start(JSON.stringify(config)));
  run = { config, paused: false, stopRequested: false, resume: null };
  post(FromWorker.STARTED, { ...info, epochs: config.epochs });
  post(FromWorker.STATE, { state: 'running' });
  const total = info.batches_per_epoch * config.epochs;
  let done = 0;
  let images = 0;
  let seconds = 0;
  let lastPost = 0;
  for (;;) {
    await nextTurn(); // lets pause/stop/predict messages in between batches
    await servePredict();
    if (run.stopRequested) {
      lab.stop();
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
    const t0 = performance.now();
    const report = JSON.parse(await lab.train_batch());
    const dt = (performance.now() - t0) / 1000;
    lab.add_train_seconds(dt);
    done += 1;
    images += report.images;
    seconds += dt;
    const now = performance.now();
    if (now - lastPost > 100 || report.epoch_complete) {
      lastPost = now;
      const rate = images / seconds;
      post(FromWorker.PROGRESS, {
        epoch: report.epoch, batch: report.batch, batches_per_epoch: info.batches_per_epoch,
        epochs: config.epochs, done, total, loss: report.loss,
        images_per_second: rate, ms_per_batch: 1000 * seconds / done,
        eta_seconds: (total - done) * (seconds / done),
      });
    }
    if (report.epoch_complete) {
      const epoch = JSON.parse(await lab.finish_epoch());
      const filters = await sendFilters();
      post(FromWorker.EPOCH, { ...epoch, filters });
      if (epoch.metrics.epoch >= config.epochs) {
        keepModel(`${config.rule} · ${config.front_end} · seed ${config.seed}`);
        post(FromWorker.STATE, { state: 'finished' });
        post(FromWorker.RESULTS, { json: lab.results_json(backend.description) });
        run = null;
        return;
      }
    }
  }
}

async function handle(msg) {
  switch (msg.type) {
    case ToWorker.START:
      if (run) throw new Error('a run is already in progress');
      try {
        await train(msg.config);
      } catch (err) {
        run = null;
        post(FromWorker.STATE, { state: 'idle' });
        throw err;
      }
      break;
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
      pendingPredict = msg.pixels;
      if (!run) await servePredict();
      break;
    case ToWorker.SET_BACKEND:
      backend = JSON.parse(await lab.set_backend(msg.kind));
      post(FromWorker.BACKEND, { backend });
      break;
    case ToWorker.GET_RESULTS:
      post(FromWorker.RESULTS, { json: lab.results_json(backend.description) });
      break;
    case ToWorker.GET_WEIGHTS: {
      const bytes = await lab.weights();
      post(FromWorker.WEIGHTS, { bytes: bytes.buffer }, [bytes.buffer]);
      break;
    }
    case ToWorker.LOAD_WEIGHTS: {
      if (run) throw new Error('stop the training run before loading weights');
      await lab.load_weights(new Uint8Array(msg.bytes));
      await ensureData(msg.task);
      const evaluation = JSON.parse(await lab.evaluate());
      const filters = await sendFilters();
      post(FromWorker.WEIGHTS_LOADED, { ...evaluation, filters });
      keepModel(`loaded ${msg.name || 'weights'}`);
      break;
    }
    case ToWorker.COMPARE:
      post(FromWorker.COMPARISON, { comparison: JSON.parse(await lab.compare_models(msg.pcaLayer)) });
      break;
    case ToWorker.RESPONSES:
      if (run) throw new Error('wait for the run to finish (or stop it) first');
      post(FromWorker.RESPONSE_MAPS, { responses: JSON.parse(await lab.front_end_responses(msg.index)) });
      break;
    case ToWorker.ROBUSTNESS:
      if (run) throw new Error('wait for the run to finish (or stop it) first');
      post(FromWorker.ROBUSTNESS_RESULT, { name: lastModelName, robustness: JSON.parse(await lab.robustness(0n)) });
      break;
    case ToWorker.STIMULI: {
      await dataFor(msg.design.task);
      const listJson = lab.stimulus_list(JSON.stringify(msg.design));
      const pixels = lab.render_stimuli(listJson);
      post(FromWorker.STIMULI, { requestId: msg.requestId, list: JSON.parse(listJson), pixels: pixels.buffer }, [pixels.buffer]);
      break;
    }
    case ToWorker.MODEL_TRIALS: {
      if (run) throw new Error('wait for the run to finish (or stop it) first');
      if (msg.trials.length) await dataFor(msg.trials[0].task);
      const trials = JSON.parse(await lab.model_trials(JSON.stringify(msg.trials)));
      post(FromWorker.MODEL_TRIALS, { requestId: msg.requestId, trials });
      break;
    }
    case ToWorker.PARSE_TRIALS:
      post(FromWorker.TRIALS_PARSED, { requestId: msg.requestId, name: msg.name, trials: JSON.parse(WebLab.parse_trial_file(msg.name, msg.text)) });
      break;
    case ToWorker.HUMAN_COMPARE:
      post(FromWorker.HUMAN_COMPARISON, { requestId: msg.requestId, comparison: JSON.parse(WebLab.compare_humans(JSON.stringify(msg.trials))) });
      break;
    case ToWorker.CHECK_RESULTS:
      post(FromWorker.RESULTS_CHECKED, { results: JSON.parse(WebLab.check_results(msg.text)) });
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
  [ToWorker.MODEL_TRIALS]: 'the models could not answer',
  [ToWorker.PARSE_TRIALS]: 'could not import',
  [ToWorker.HUMAN_COMPARE]: 'could not compare people and models',
};

self.onmessage = (event) => {
  const msg = event.data;
  if (!lab) {
    post(FromWorker.ERROR, { message: 'the lab is still loading', fatal: false, requestId: msg.requestId });
    return;
  }
  handle(msg).catch((err) => fail(err, labels[msg.type] || 'error', msg.requestId));
};

(async () => {
  try {
    await init();
    lab = new WebLab();
    backend = JSON.parse(lab.backend_info());
    post(FromWorker.READY, { rules: JSON.parse(WebLab.rules()), frontEnds: JSON.parse(WebLab.front_ends()), backend });
  } catch (err) {
    post(FromWorker.ERROR, { message: `the lab could not start: ${describe(err)}`, fatal: false });
  }
})();
