// The page: controls, live views and files. All computation happens in the worker
// (worker.js); this thread only sends protocol messages and draws what comes back.
import { ToWorker, FromWorker, message } from './protocol.js';
import { LearningCurves, AlignmentCharts, RobustnessCharts, fitCharts, restyleCharts } from './charts.js';
import {
  CLASS_NAMES, drawFilters, drawConfusion, drawGallery, drawProbabilities, drawHeatmap, drawScatter,
  drawResponseMaps, imageCanvas,
} from './views.js';
import { DrawingPad } from './drawing.js';
import { downloadBytes, downloadText, readFile } from './files.js';
import { ExperimentPanel } from './experiment/panel.js';
import { ComparisonView } from './experiment/comparison-view.js';
import { ExperimentStore } from './experiment/store.js';
import { ParticipantMode } from './experiment/participant.js';
import { JatosMode } from './experiment/jatos-mode.js';
import { ModelsPanel } from './classroom/models-panel.js';
import { readSettings, settingsQuery } from './classroom/settings.js';
import { Tabs } from './classroom/tabs.js';
import { Tour } from './classroom/tour.js';
import { WorkProgress } from './classroom/work-progress.js';

const $ = (id) => document.getElementById(id);
// Fashion-MNIST's 60,000 training images make one browser epoch take minutes; the page trains
// on a class-balanced 12,000 of them by default (documented in the task menu and the README).
const DEFAULT_TRAIN_LIMIT = { mnist: '', fashion: '12000' };
// Developer option: `?test_limit=N` evaluates on a class-balanced N test images (quick checks).
const TEST_LIMIT = new URLSearchParams(location.search).get('test_limit');
// A study link (`?study=ID`) opens participant mode: only the experiment, trials sent to the
// collection server that served this page.
const STUDY = new URLSearchParams(location.search).get('study');
// `?selftest=panic` (browser tests only): the worker accepts a request that panics the module.
const SELF_TEST = new URLSearchParams(location.search).get('selftest');
// The watchdog: a worker that leaves a ping unanswered this long is hung. On the CPU one lab
// call holds the worker's thread from start to end (an evaluation of 10,000 images, nine for a
// robustness curve: tens of seconds on a slow machine), so the limit is generous; asynchronous
// WebGPU work leaves the worker free to answer.
const PING_EVERY_MS = 5000;
const HUNG_AFTER_MS = 300_000;

let worker = null;
let ready = false;
let runState = 'idle';
let backend = { kind: 'cpu', description: '' };
let classNames = CLASS_NAMES.mnist;
let lastTask = 'mnist';
let curves = null;
let alignment = null;
let robustnessCharts = null;
let predictBusy = false;
let batchesPerEpoch = 1;
let queuedPixels = null;
let unansweredSince = null; // when the oldest unanswered ping was sent
let modelsPanel = null;
// A race: the runs still to train, one after another ({queue: [config], total}), or null.
let race = null;
let restoring = false;     // saved models are being loaded back into the worker
let keptFromRun = null;    // the name the worker gave the run that just finished
let loadedFileBytes = null; // a copy of the weights file the visitor loaded (the worker gets the original)
let rateOf = {};           // rule id → the learning rate it is known to train at
let tabs = null;
let runningName = '';      // "rule · front end" of the run in progress, for the tab bar
// Long work other than training, by the worker's WORK_PROGRESS `work` (see tracked()).
const work = {};
const loadStarted = performance.now();
// What the page has seen, for the curious (and the browser tests): every reported batch loss.
window.labState = { losses: [] };

function showMessage(text, kind = 'error') {
  const box = $('message');
  box.textContent = text;
  box.className = kind;
  box.hidden = false;
}

function clearMessage() {
  $('message').hidden = true;
}

function send(type, fields, transfer) {
  worker.postMessage(message(type, fields), transfer || []);
}

// Request/reply messages (the human experiment's): each carries a requestId; the worker's reply,
// or its ERROR, carries it back and settles the promise.
const pending = new Map();
let nextRequestId = 1;
function request(type, fields = {}) {
  if (!ready) return Promise.reject(new Error('the lab is still loading'));
  const requestId = nextRequestId++;
  return new Promise((resolve, reject) => {
    pending.set(requestId, { resolve, reject });
    send(type, { ...fields, requestId });
  });
}

/**
 * What each long request is called on its progress bar and what its bar says when it is done.
 * The worker reports its steps as WORK_PROGRESS with the same `work`.
 */
const TRACKED = {
  [ToWorker.COMPARE]: { work: 'compare', done: (r) => `Compared ${r.comparison.models.length} model(s) on ${r.comparison.probe.size} test images` },
  [ToWorker.ROBUSTNESS]: { work: 'robustness', done: (r) => `Measured ${r.robustness.name} on ${r.robustness.images.toLocaleString()} test images` },
  [ToWorker.HUMAN_COMPARE]: { work: 'human-compare', done: (r) => `The kept models answered ${r.model_trials.toLocaleString()} trials` },
  [ToWorker.STIMULI]: { work: 'stimuli', done: (r) => `Rendered ${r.list.stimuli.length.toLocaleString()} stimuli` },
};

/** `request`, with the request's progress bar (if it has one) shown until it settles. */
async function tracked(type, fields = {}, what = '') {
  const bar = work[TRACKED[type]?.work];
  if (!bar) return request(type, fields);
  bar.start(what);
  try {
    const reply = await request(type, fields);
    bar.finish(TRACKED[type].done(reply));
    return reply;
  } catch (err) {
    bar.fail();
    throw err;
  }
}

function settleRequest(msg) {
  const entry = pending.get(msg.requestId);
  if (!entry) return false;
  pending.delete(msg.requestId);
  if (msg.type === FromWorker.ERROR) entry.reject(new Error(msg.message));
  else entry.resolve(msg);
  if (msg.fatal) restartWorker();
  return true;
}

let experimentPanel = null;
let comparisonView = null;
let participantMode = null;

function setRunState(state) {
  runState = state;
  const busy = state === 'running' || state === 'paused';
  $('start').disabled = !ready || busy || restoring;
  $('race').disabled = !ready || busy || restoring || tickedRules().length === 0;
  $('pause').disabled = !busy;
  $('pause').textContent = state === 'paused' ? 'Resume' : 'Pause';
  $('stop').disabled = !busy;
  $('backend-select').disabled = !ready || busy;
  for (const el of $('config-form').elements) el.disabled = busy;
  $('neuronal_noise').disabled = busy || $('front_end').value !== 'gabor';
  $('load-weights').disabled = busy;
  $('download-results').disabled = busy || !window.lastResults;
  $('download-weights').disabled = busy || !window.hasModel;
  // Comparing, inspecting and measuring share the worker's lab with training: offered between
  // runs (the compared layer can still be changed mid-run; that comparison waits for a batch).
  $('compare').disabled = busy || !window.labState.keptModels || !!work.compare?.running;
  $('show-responses').disabled = busy || !window.hasModel;
  const measuring = !!work.robustness?.running;
  $('measure-robustness').disabled = busy || !window.hasModel || measuring;
  $('measure-all-robustness').disabled = busy || measuring || !modelsPanel?.inWorker().length;
  document.body.dataset.runState = state;
}

/** The lab's training defaults (`TrainConfig`), sent by the worker when it is ready. */
let defaults = null;

/** Fills the run form from the lab's defaults; the rule's own learning rate follows the rule. */
function applyDefaults(d) {
  defaults = d;
  $('task').value = d.task;
  $('optimizer').value = d.optimizer;
  $('front_end').value = d.front_end;
  $('rule').value = d.rule;
  $('rule').dispatchEvent(new Event('change'));
  $('lr_decay').value = String(d.lr_decay);
  $('batch_size').value = String(d.batch_size);
  $('epochs').value = String(d.epochs);
  $('seed').value = String(d.seed);
  $('neuronal_noise').value = String(d.neuronal_noise);
  $('train_limit').value = d.train_limit == null ? '' : String(d.train_limit);
}

function readConfig() {
  const task = $('task').value;
  // Reads a numeric field, rejecting values below `min` with a message naming the field.
  const number = (id, parse, min) => {
    const value = parse($(id).value);
    const name = $(id).labels[0].textContent.trim();
    if (!Number.isFinite(value) || value < min) throw new Error(`${name}: enter a number of at least ${min}`);
    return value;
  };
  const integer = (v) => (/^\s*\d+\s*$/.test(v) ? parseInt(v, 10) : NaN);
  return {
    task,
    rule: $('rule').value,
    front_end: $('front_end').value,
    optimizer: $('optimizer').value,
    learning_rate: number('learning_rate', parseFloat, Number.MIN_VALUE),
    lr_decay: number('lr_decay', parseFloat, Number.MIN_VALUE),
    // The settings the form does not show come from the lab's defaults (`TrainConfig`).
    momentum: defaults.momentum,
    batch_size: number('batch_size', integer, 1),
    epochs: number('epochs', integer, 1),
    seed: seedValue(),
    train_limit: $('train_limit').value.trim() === '' ? null : number('train_limit', integer, 1),
    test_limit: TEST_LIMIT ? parseInt(TEST_LIMIT, 10) : null,
    diagnostics_every: defaults.diagnostics_every,
    neuronal_noise: $('front_end').value === 'gabor' ? number('neuronal_noise', parseFloat, 0) : 0,
    max_loss: defaults.max_loss,
  };
}

/** The seed field as an exact integer: a BigInt past 2^53, which a JS number would round. */
function seedValue() {
  const text = $('seed').value.trim();
  if (!/^\d+$/.test(text) || BigInt(text) > 2n ** 64n - 1n) throw new Error('Seed: enter a whole number from 0 to 2^64 − 1');
  const seed = BigInt(text);
  return seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seed) : seed;
}

function formatSeconds(s) {
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function showEvaluation(metrics, misclassified, filters) {
  $('test-accuracy').textContent = `${(100 * metrics.test_accuracy).toFixed(2)}%`;
  $('test-accuracy').dataset.value = String(metrics.test_accuracy);
  drawConfusion($('confusion'), metrics.confusion, classNames);
  if (misclassified) drawGallery($('gallery'), misclassified, classNames);
  if (filters) drawFilters($('filters'), filters);
}

const handlers = {
  [FromWorker.PONG]: () => {},
  [FromWorker.READY]: (msg) => {
    ready = true;
    backend = msg.backend;
    window.maxWeightsBytes = msg.maxWeightsBytes;
    applyStatus(msg.status);
    $('backend-name').textContent = backend.description;
    const select = $('rule');
    select.replaceChildren(...msg.rules.map((r) => new Option(`${r.name} (${r.id})`, r.id)));
    select.dataset.summaries = JSON.stringify(Object.fromEntries(msg.rules.map((r) => [r.id, r.summary])));
    select.dataset.learningRates = JSON.stringify(Object.fromEntries(msg.rules.map((r) => [r.id, r.learning_rate])));
    select.dispatchEvent(new Event('change'));
    $('front_end').replaceChildren(...msg.frontEnds.map((f) => {
      const option = new Option(f.name, f.id);
      option.title = f.summary;
      return option;
    }));
    rateOf = Object.fromEntries(msg.rules.map((r) => [r.id, r.learning_rate]));
    fillChecks($('race-rules'), 'race-rule', msg.rules.map((r) => [r.id, r.name]));
    fillChecks($('race-front-ends'), 'race-front-end', msg.frontEnds.map((f) => [f.id, f.name]));
    applyDefaults(msg.defaults);
    if (!STUDY && !window.jatos) applyUrlSettings(msg);
    const readyMs = Math.round(performance.now() - loadStarted);
    document.body.dataset.readyMs = String(readyMs);
    $('progress-text').textContent = `Ready (${(readyMs / 1000).toFixed(1)} s). Choose a data set and press Start.`;
    setRunState('idle');
    if (modelsPanel) restoreModels();
    experimentPanel?.onReady();
    if (participantMode && !participantMode.started) {
      participantMode.started = true;
      participantMode.start().catch((err) => showMessage(`The study could not run: ${err.message}. Every saved answer is kept on this device.`));
    }
  },
  [FromWorker.STATUS]: (msg) => {
    applyStatus(msg.status);
    setRunState(runState);
  },
  [FromWorker.BACKEND]: (msg) => {
    backend = msg.backend;
    $('backend-name').textContent = backend.description;
    $('backend-select').value = backend.kind;
    clearMessage();
  },
  [FromWorker.DATA]: (msg) => {
    $('data-info').textContent = `Loaded ${msg.task === 'mnist' ? 'MNIST-10k' : 'Fashion-MNIST'}: ` +
      `${msg.train_images.toLocaleString()} training and ${msg.test_images.toLocaleString()} test images.`;
  },
  [FromWorker.STARTED]: (msg) => {
    batchesPerEpoch = msg.batches_per_epoch;
    $('progress').max = msg.batches_per_epoch * msg.epochs;
    $('progress').value = 0;
    $('progress-text').textContent = `Training on ${msg.train_images.toLocaleString()} images` +
      `${msg.workers > 1 ? `, each batch split over ${msg.workers} CPU workers` : ''}…`;
    $('tab-status').textContent = `${race ? `Race ${window.labState.raceRun}/${race.total}: ` : ''}training…`;
    document.body.dataset.workers = String(msg.workers);
  },
  [FromWorker.PROGRESS]: (msg) => {
    $('progress').value = msg.done;
    $('progress-text').textContent =
      `Epoch ${msg.epoch + 1}/${msg.epochs}, batch ${msg.batch + 1}/${msg.batches_per_epoch} · ` +
      `loss ${msg.loss.toFixed(3)} · ${Math.round(msg.images_per_second)} images/s ` +
      `(${Math.round(msg.ms_per_batch)} ms per batch${msg.workers > 1 ? `, ${msg.workers} CPU workers` : ''}) · ` +
      `about ${formatSeconds(msg.eta_seconds)} left`;
    document.body.dataset.workers = String(msg.workers);
    document.body.dataset.msPerBatch = String(msg.ms_per_batch);
    curves.addLoss(msg.epoch + (msg.batch + 1) / msg.batches_per_epoch, msg.loss);
    // The run's state in the tab bar, seen from every tab.
    $('tab-status').textContent = `${race ? `Race ${window.labState.raceRun}/${race.total} · ` : ''}` +
      `${runningName} · epoch ${msg.epoch + 1}/${msg.epochs} · ${Math.round((100 * msg.done) / msg.total)}%`;
    window.labState.losses.push(msg.loss);
  },
  [FromWorker.EPOCH]: (msg) => {
    window.hasModel = true;
    curves.addAccuracy(msg.metrics.epoch, msg.metrics.test_accuracy);
    alignment.addEpoch(msg.metrics, batchesPerEpoch);
    showEvaluation(msg.metrics, msg.misclassified, msg.filters);
    if (queuedPixels) requestPrediction(queuedPixels);
  },
  [FromWorker.STATE]: (msg) => {
    setRunState(msg.state);
    if (msg.state === 'stopped') $('progress-text').textContent = 'Stopped. The model so far can still be used and saved; the finished epochs\' results can be downloaded.';
    if (msg.state === 'paused') $('progress-text').textContent += ' (paused)';
    if (msg.state === 'finished') $('progress-text').textContent = `Finished: test accuracy ${$('test-accuracy').textContent}.`;
    $('tab-status').textContent = { finished: `${runningName}: ${$('test-accuracy').textContent}`, stopped: `${runningName}: stopped`, paused: `${runningName}: paused` }[msg.state] ?? $('tab-status').textContent;
    setRunState(msg.state);
    if (msg.state === 'finished') keepFinishedRun();
    else if (msg.state === 'stopped' || msg.state === 'idle') endRace(msg.state === 'stopped' ? 'the race was stopped' : 'a run ended without finishing');
  },
  [FromWorker.PREDICTION]: (msg) => {
    predictBusy = false;
    drawProbabilities($('probabilities'), msg.probabilities, classNames);
    if (queuedPixels) requestPrediction(queuedPixels);
  },
  [FromWorker.RESULTS]: (msg) => {
    window.lastResults = msg.json;
    setRunState(runState);
    if (window.pendingDownload === 'results') {
      window.pendingDownload = null;
      downloadText(msg.json, `microlearning-${lastTask}-results.json`, 'application/json');
    }
  },
  [FromWorker.WEIGHTS]: (msg) => {
    downloadBytes(msg.bytes, `microlearning-${lastTask}-weights.bpk`);
  },
  [FromWorker.WEIGHTS_LOADED]: (msg) => {
    window.hasModel = true;
    showEvaluation(msg.metrics, msg.misclassified, msg.filters);
    showMessage(`Weights loaded: test accuracy ${(100 * msg.metrics.test_accuracy).toFixed(2)}% on this data set.`, 'info');
    if (loadedFileBytes) modelsPanel?.addLoadedFile(msg.kept.name, loadedFileBytes, lastTask, msg.metrics.test_accuracy);
    loadedFileBytes = null;
    setRunState('idle');
  },
  [FromWorker.RESULTS_CHECKED]: (msg) => {
    const r = msg.results;
    // The file's own text, as the lab writes it: re-serialising it here would round its seed.
    window.lastResults = r.text;
    lastTask = r.task;
    classNames = CLASS_NAMES[r.task] || CLASS_NAMES.mnist;
    curves.setModel('file', `results file: ${r.rule} on ${r.task}`, r);
    alignment.setModel('file', `results file: ${r.rule} on ${r.task}`, r);
    showEvaluation({ test_accuracy: r.final_test_accuracy, confusion: r.final_confusion }, null, null);
    showMessage(`Results loaded: ${r.rule} on ${r.task}, ${r.epochs.length} epoch(s), ` +
      `final test accuracy ${(100 * r.final_test_accuracy).toFixed(2)}% (${r.backend}).`, 'info');
    setRunState(runState);
  },
  [FromWorker.MODEL_KEPT]: (msg) => {
    if (msg.count === undefined) return;
    if (runState === 'running' || runState === 'paused') keptFromRun = msg.name;
    window.labState.keptModels = msg.count;
    $('kept-models').textContent = `${msg.count} model(s) kept; the newest is ${msg.name}.`;
    setRunState(runState);
  },
  [FromWorker.WORK_PROGRESS]: (msg) => {
    work[msg.work]?.update(msg.done, msg.total);
  },
  [FromWorker.RESPONSE_MAPS]: (msg) => {
    const r = msg.responses;
    const image = imageCanvas(r.pixels);
    $('response-image').getContext('2d').drawImage(image, 0, 0, 56, 56);
    drawResponseMaps($('response-maps'), r);
    window.labState.responses = { index: r.index, channels: r.channels, size: r.size };
    setRunState(runState);
  },
  [FromWorker.ERROR]: (msg) => {
    setRunState(runState);
    predictBusy = false;
    showMessage(msg.message);
    if (msg.fatal) restartWorker();
  },
};

/** What the lab holds now (crate/src/web/lab.rs `LabStatus`): the buttons follow it. */
function applyStatus(status) {
  if (!status) return;
  window.labState.status = status;
  window.hasModel = status.has_model;
  window.labState.keptModels = status.kept_models;
  backend = status.backend;
  $('backend-name').textContent = backend.description;
  $('backend-select').value = backend.kind;
}

/** A `SquareMatrix` (`{n, data}`, row-major) as rows, for the heatmaps. */
function rowsOf(m) {
  return Array.from({ length: m.n }, (_, i) => m.data.slice(i * m.n, (i + 1) * m.n));
}

/**
 * Draws the comparison (crate/src/analysis/comparison.rs `Comparison`) for the chosen layer:
 * CKA between models, layer × layer CKA, the chosen model's class RDM and the newest model's PCA.
 */
function drawComparison() {
  const c = window.labState.comparison;
  if (!c) return;
  const layer = c.layers[Number($('compare-layer').value)];
  drawHeatmap($('cka-models'), rowsOf(layer.linear_cka), c.models);
  if (c.layer_by_layer) {
    drawHeatmap($('cka-layers'), rowsOf(c.layer_by_layer), c.layers.map((l) => l.layer));
    $('cka-layers-caption').textContent = `CKA layer × layer: ${c.models[0]} (rows) vs ${c.models.at(-1)} (columns)`;
  }
  const rdmSelect = $('rdm-model');
  const chosen = rdmSelect.value;
  rdmSelect.replaceChildren(...c.models.map((name, i) => new Option(name, String(i))));
  rdmSelect.value = chosen !== '' && Number(chosen) < c.models.length ? chosen : String(c.models.length - 1);
  drawClassRdm();
  const newest = c.models.length - 1;
  const pca = layer.pca[newest];
  const points = pca.scores.map((p, i) => [p[0] ?? 0, p[1] ?? 0, c.probe.labels[i]]);
  drawScatter($('pca'), points, classNames);
  const ev = pca.explained_variance.map((v) => `${(100 * v).toFixed(0)}%`).join(' + ');
  $('pca-caption').textContent = `PCA of ${c.models[newest]}, ${layer.layer} (${ev} of the variance), ${c.probe.size} test images`;
}

/** The selected kept model's class RDM for the compared layer. */
function drawClassRdm() {
  const c = window.labState.comparison;
  if (!c) return;
  const rdm = rowsOf(c.layers[Number($('compare-layer').value)].class_rdms[Number($('rdm-model').value)]);
  drawHeatmap($('class-rdm'), rdm, classNames, { lo: 0, hi: Math.max(...rdm.flat()), digits: 2 });
}

/** Compares the kept models (a click, a race's end, a new layer) and draws the comparison. */
async function compareModels() {
  if (work.compare.running) return;
  setRunState(runState);
  try {
    const { comparison } = await tracked(ToWorker.COMPARE);
    window.labState.comparison = comparison;
    drawComparison();
    modelsPanel?.setComparison(comparison);
  } catch (err) {
    showMessage(err.message); // the worker's message names the work: "could not compare the models: …"
  } finally {
    setRunState(runState);
  }
}

/**
 * Robustness curves of the kept models `names` (one after another), or of the model in use
 * when `names` is null. A kept model's curves are saved with it.
 */
async function measureRobustness(names) {
  const targets = names ?? [null];
  setRunState(runState);
  try {
    for (const [i, name] of targets.entries()) {
      const what = name ? `${name}${targets.length > 1 ? ` (model ${i + 1} of ${targets.length})` : ''}` : 'the current model';
      const model = name ? modelsPanel.byWorkerName(name) : null;
      const { robustness } = await tracked(ToWorker.ROBUSTNESS, name ? { name, task: model?.task } : {}, what);
      window.labState.robustness = robustness;
      await modelsPanel.setRobustness(robustness);
    }
  } catch (err) {
    showMessage(err.message);
  } finally {
    setRunState(runState);
  }
}

function startWorker() {
  ready = false;
  unansweredSince = null;
  const url = new URL('./worker.js', import.meta.url);
  if (SELF_TEST) url.searchParams.set('selftest', SELF_TEST);
  // `?workers=N`: how many CPU workers split each batch (default: one per core, at most 4).
  const workers = new URLSearchParams(location.search).get('workers');
  if (workers) url.searchParams.set('workers', workers);
  worker = new Worker(url, { type: 'module' });
  worker.onmessage = (event) => {
    unansweredSince = null;
    if (event.data.requestId && settleRequest(event.data)) return;
    const handler = handlers[event.data.type];
    if (handler) handler(event.data);
  };
  const thisWorker = worker;
  worker.onerror = (event) => {
    event.preventDefault();
    if (thisWorker !== worker) return; // an old worker, already replaced
    if (/RuntimeError/.test(event.message || '')) {
      // A trap the worker could not report itself: the module is dead.
      showMessage(`The compute module stopped (${event.message}). Restarting it: the models in memory are lost; downloaded files and the experiment's saved answers are not affected.`);
      restartWorker();
      return;
    }
    showMessage(`The training worker failed: ${event.message || 'it could not load (is the site built?)'}`);
    setRunState('idle');
  };
}

function restartWorker() {
  worker.terminate();
  for (const entry of pending.values()) entry.reject(new Error('the compute module restarted'));
  pending.clear();
  // The new module starts empty: no model, nothing kept. Files already downloaded and the
  // experiment's answers (IndexedDB) are the page's and stay.
  window.hasModel = false;
  window.labState.keptModels = 0;
  window.labState.restarts = (window.labState.restarts || 0) + 1;
  predictBusy = false;
  $('kept-models').textContent = '';
  ready = false;
  setRunState('idle');
  startWorker();
}

/** Pings the worker; one that leaves a ping unanswered for HUNG_AFTER_MS is restarted. */
function watchWorker() {
  setInterval(() => {
    if (!worker) return;
    const now = performance.now();
    if (unansweredSince !== null && now - unansweredSince > HUNG_AFTER_MS) {
      showMessage(`The compute module stopped answering for ${HUNG_AFTER_MS / 1000} s. Restarting it: the models in memory are lost; downloaded files and the experiment's saved answers are not affected.`);
      restartWorker();
      return;
    }
    if (unansweredSince === null) unansweredSince = now;
    send(ToWorker.PING);
  }, PING_EVERY_MS);
}

function requestPrediction(pixels) {
  if (!pixels) return;
  if (!window.hasModel) {
    $('probabilities').textContent = 'Train a model (or load weights) to see its guesses.';
    return;
  }
  if (predictBusy) { queuedPixels = pixels; return; }
  queuedPixels = null;
  predictBusy = true;
  send(ToWorker.PREDICT, { pixels });
}

function wireControls() {
  $('task').addEventListener('change', () => {
    $('train_limit').value = DEFAULT_TRAIN_LIMIT[$('task').value];
  });
  $('front_end').addEventListener('change', () => setRunState(runState));
  $('rule').addEventListener('change', () => {
    const summaries = JSON.parse($('rule').dataset.summaries || '{}');
    $('rule-summary').textContent = summaries[$('rule').value] || '';
    // Each rule comes with the learning rate it is known to train at (forward-forward needs a
    // smaller one); the user can still change it before starting.
    const rate = JSON.parse($('rule').dataset.learningRates || '{}')[$('rule').value];
    if (rate) $('learning_rate').value = String(rate);
  });
  $('start').addEventListener('click', () => {
    const config = formConfig();
    if (!config) return;
    race = null;
    startRun(config);
  });
  $('race').addEventListener('click', startRace);
  $('share-link').addEventListener('click', shareLink);
  $('config-form').addEventListener('change', writeUrlSettings);
  $('race-fieldset').addEventListener('change', () => { writeUrlSettings(); setRunState(runState); });
  $('pause').addEventListener('click', () => {
    send(runState === 'paused' ? ToWorker.RESUME : ToWorker.PAUSE);
  });
  $('stop').addEventListener('click', () => send(ToWorker.STOP));
  $('backend-select').addEventListener('change', () => {
    if (!navigator.gpu && $('backend-select').value === 'webgpu') {
      showMessage('This browser has no WebGPU (navigator.gpu is missing); staying on the CPU.');
      $('backend-select').value = 'cpu';
      return;
    }
    $('backend-name').textContent = 'switching…';
    send(ToWorker.SET_BACKEND, { kind: $('backend-select').value });
  });
  $('download-results').addEventListener('click', () => {
    if (window.lastResults) downloadText(window.lastResults, `microlearning-${lastTask}-results.json`, 'application/json');
  });
  $('download-weights').addEventListener('click', () => send(ToWorker.GET_WEIGHTS));
  $('compare').addEventListener('click', compareModels);
  $('rdm-model').addEventListener('change', drawClassRdm);
  $('show-responses').addEventListener('click', () => {
    const index = parseInt($('response-index').value, 10);
    if (!Number.isInteger(index) || index < 0) {
      showMessage('Test image #: enter a whole number of at least 0');
      return;
    }
    $('show-responses').disabled = true;
    send(ToWorker.RESPONSES, { index });
  });
  $('measure-robustness').addEventListener('click', () => measureRobustness(null));
  $('measure-all-robustness').addEventListener('click', () => measureRobustness(modelsPanel.inWorker().map((m) => m.workerName)));
  $('alignment-layer').addEventListener('change', () => alignment.setLayer($('alignment-layer').value));
  $('room-mode').addEventListener('click', () => setRoomMode(!document.documentElement.classList.contains('room')));
  // Every layer is in the comparison, so a new layer is drawn at once; the comparison is also
  // asked for again, to take in models kept since (a run's, when it finishes).
  $('compare-layer').addEventListener('change', () => {
    if (!window.labState.comparison) return;
    drawComparison();
    compareModels();
  });
  $('load-weights').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    event.target.value = '';
    if (!file) return;
    clearMessage();
    // Checked before the file is read: a multi-GB file is never copied into memory.
    if (window.maxWeightsBytes && file.size > window.maxWeightsBytes) {
      showMessage(`could not load the weights file: ${file.name} has ${file.size.toLocaleString()} bytes; a seed network's weights file has about 4.8 MB, and the lab reads at most ${window.maxWeightsBytes.toLocaleString()} bytes`);
      return;
    }
    const bytes = await readFile(file);
    loadedFileBytes = bytes.slice(0);
    lastTask = $('task').value;
    classNames = CLASS_NAMES[lastTask];
    send(ToWorker.LOAD_WEIGHTS, { bytes, task: lastTask, name: file.name }, [bytes]);
  });
  $('load-results').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    event.target.value = '';
    if (!file) return;
    clearMessage();
    const text = new TextDecoder().decode(await readFile(file));
    send(ToWorker.CHECK_RESULTS, { text });
  });
  const pad = new DrawingPad($('draw'), (pixels) => requestPrediction(pixels));
  $('clear-drawing').addEventListener('click', () => {
    pad.clear();
    $('probabilities').replaceChildren();
  });
}

/** The form's config, or null once the page has said what is wrong with it. */
function formConfig() {
  try {
    const config = readConfig();
    clearMessage();
    return config;
  } catch (err) {
    showMessage(err.message);
    return null;
  }
}

/** One training run of `config`; its curve joins the overlaid charts as the live one. */
function startRun(config) {
  lastTask = config.task;
  classNames = CLASS_NAMES[config.task];
  runningName = `${config.rule} · ${config.front_end}`;
  curves.startLive(`${runningName} (training)`);
  alignment.startLive(`${runningName} (training)`);
  window.labState.losses = [];
  window.lastResults = null;
  keptFromRun = null;
  $('test-accuracy').textContent = '–';
  $('test-accuracy').dataset.value = '';
  setRunState('running');
  send(ToWorker.START, { config });
}

/** Check boxes `name` in `container`, one per [id, label]. */
function fillChecks(container, name, items) {
  container.replaceChildren(...items.map(([id, label]) => {
    const box = document.createElement('label');
    box.className = 'check';
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.name = name;
    input.value = id;
    box.append(input, ` ${label}`);
    return box;
  }));
}

const ticked = (name) => [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
const tickedRules = () => ticked('race-rule');

function setTicked(name, ids) {
  for (const input of document.querySelectorAll(`input[name="${name}"]`)) input.checked = ids.includes(input.value);
}

/**
 * Trains every ticked rule (on each ticked front end, else the form's) one after another, with
 * the form's other settings and each rule's own learning rate. One after another rather than
 * interleaved: the worker holds one trainer (and its split-batch helpers) at a time, and each
 * model's time and images/s are then its own, not shared with the others'.
 */
function startRace() {
  const base = formConfig();
  if (!base) return;
  const frontEnds = ticked('race-front-end');
  const queue = [];
  for (const frontEnd of frontEnds.length ? frontEnds : [base.front_end]) {
    for (const rule of tickedRules()) {
      queue.push({ ...base, rule, front_end: frontEnd, learning_rate: rateOf[rule] ?? base.learning_rate, neuronal_noise: frontEnd === 'gabor' ? base.neuronal_noise : 0 });
    }
  }
  race = { queue, total: queue.length };
  document.body.dataset.race = 'running';
  nextRaceRun();
}

function nextRaceRun() {
  const config = race.queue.shift();
  window.labState.raceRun = race.total - race.queue.length;
  startRun(config);
}

function endRace(why) {
  if (!race) return;
  race = null;
  document.body.dataset.race = why ? 'stopped' : 'finished';
  if (why) $('progress-text').textContent += ` (${why})`;
}

/** A finished run: saved with its results; a race then trains its next rule, or compares. */
async function keepFinishedRun() {
  const name = keptFromRun;
  keptFromRun = null;
  if (name && window.lastResults && modelsPanel) {
    try {
      await modelsPanel.addFinishedRun(name, window.lastResults);
    } catch (err) {
      showMessage(`The finished model could not be kept: ${err.message}`);
    }
  }
  if (!race) return;
  if (race.queue.length) {
    nextRaceRun();
    return;
  }
  const total = race.total;
  $('progress-text').textContent = `Race finished: ${total} model(s) trained. Comparing their representations…`;
  endRace(null);
  await compareModels();
  $('progress-text').textContent = `Race finished: ${total} model(s) trained and compared (see the Compare tab).`;
}

/** The form and the race's boxes from the page's link; what does not parse is named. */
function applyUrlSettings(menus) {
  const { values, race: raceRules, raceFrontEnds, problems } = readSettings(location.search, {
    rules: menus.rules.map((r) => r.id), frontEnds: menus.frontEnds.map((f) => f.id),
  });
  // The rule first: choosing it sets its own learning rate, which the link may then override.
  for (const id of ['task', 'rule', 'front_end']) {
    if (values[id] === undefined) continue;
    $(id).value = values[id];
    $(id).dispatchEvent(new Event('change'));
  }
  for (const [id, value] of Object.entries(values)) {
    if (!['task', 'rule', 'front_end'].includes(id)) $(id).value = value;
  }
  if (raceRules) setTicked('race-rule', raceRules);
  if (raceFrontEnds) setTicked('race-front-end', raceFrontEnds);
  window.labState.linkProblems = problems;
  if (problems.length) {
    showMessage(`This link's settings were not all understood (${problems.join(', ')}): the defaults are used for those.`, 'info');
  }
}

function writeUrlSettings() {
  if (STUDY || window.jatos) return;
  const query = settingsQuery(location.search, (id) => $(id), tickedRules(), ticked('race-front-end'));
  history.replaceState(null, '', `${location.pathname}?${query}${location.hash}`);
}

/** Puts the link to these settings in the box beside the button and on the clipboard. */
async function shareLink() {
  writeUrlSettings();
  $('share-url').value = location.href;
  $('share-url').hidden = false;
  $('share-url').select();
  try {
    await navigator.clipboard.writeText(location.href);
    $('share-status').textContent = 'Link copied.';
  } catch {
    $('share-status').textContent = 'Copy the link from the box.';
  }
}

/** After the worker (re)starts: every saved model is loaded back into it. */
async function restoreModels() {
  restoring = true;
  setRunState(runState);
  try {
    modelsPanel.clear();
    await modelsPanel.restore();
  } finally {
    restoring = false;
    setRunState(runState);
    document.body.dataset.modelsRestored = String(modelsPanel.models.length);
  }
}

const ROOM_KEY = 'microlearning-room';

/** "Larger text": the whole page in bigger type and taller charts, remembered in this browser. */
function setRoomMode(on) {
  document.documentElement.classList.toggle('room', on);
  $('room-mode').setAttribute('aria-pressed', String(on));
  try { localStorage.setItem(ROOM_KEY, on ? 'on' : 'off'); } catch { /* storage blocked: this visit only */ }
  restyleCharts();
}

function main() {
  try {
    if (localStorage.getItem(ROOM_KEY) === 'on') {
      document.documentElement.classList.add('room');
      $('room-mode').setAttribute('aria-pressed', 'true');
    }
  } catch { /* storage blocked */ }
  curves = new LearningCurves($('loss-chart'), $('accuracy-chart'));
  alignment = new AlignmentCharts($('update-angle-chart'), $('feedback-angle-chart'));
  robustnessCharts = new RobustnessCharts($('noise-chart'), $('contrast-chart'));
  work.compare = new WorkProgress($('compare-work'), 'Comparing the kept models');
  work.robustness = new WorkProgress($('robustness-work'), 'Measuring');
  work['human-compare'] = new WorkProgress($('human-compare-work'), 'The kept models answer people\'s stimuli');
  work.stimuli = new WorkProgress($('stimuli-work'), 'Rendering the stimuli');
  modelsPanel = new ModelsPanel({
    request, ToWorker, views: [curves, alignment], robustnessCharts, showMessage,
    elements: { list: $('model-list'), table: $('summary-table'), status: $('models-status') },
    download: (m) => downloadBytes(m.weights, `${m.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.bpk`),
    onKeptChanged: (count) => { window.labState.keptModels = count; setRunState(runState); },
  });
  tabs = new Tabs(document.querySelector('[role="tablist"]'), { onShow: (id, view) => fitCharts(view) });
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => fitCharts(document), 150);
  });
  if (!navigator.gpu) $('backend-select').options[1].text = 'WebGPU (not available in this browser)';
  wireControls();
  drawFilters($('filters'), null);
  const names = (task) => CLASS_NAMES[task] || CLASS_NAMES.mnist;
  if (STUDY || window.jatos) {
    mainParticipant(names);
    return;
  }
  // A link that pools a study (`?pool=ID`) is for the People tab.
  tabs.showFromHash(new URLSearchParams(location.search).has('pool') ? 'people' : null);
  const tour = new Tour(tabs, {
    box: $('tour'), count: $('tour-count'), title: $('tour-title'), text: $('tour-text'), back: $('tour-back'),
    next: $('tour-next'), close: $('tour-close'), offer: $('tour-offer'), offerStart: $('tour-offer-start'),
    offerDismiss: $('tour-offer-dismiss'), start: $('tour-start'),
  });
  tour.offer();
  experimentPanel = new ExperimentPanel({
    request: tracked, ToWorker, classNames: names, showMessage,
    onSessionsChanged: () => comparisonView?.summarise(),
  });
  comparisonView = new ComparisonView({
    request: tracked, ToWorker, classNames: names, localTrials: () => experimentPanel.finishedTrials(),
    onCompared: () => modelsPanel.render(),
  });
  experimentPanel.init();
  modelsPanel.open().then(() => startWorker());
  watchWorker();
  setRunState('idle');
  if (SELF_TEST === 'panic') window.labSelfTestPanic = () => send(ToWorker.SELF_TEST_PANIC);
}

/** Participant mode: the worker (for the stimuli) and the experiment, nothing else. */
async function mainParticipant(names) {
  document.body.classList.add('participant-mode');
  let store;
  try {
    store = await ExperimentStore.open();
  } catch (err) {
    showMessage(`This browser cannot run the study: ${err.message}`);
    return;
  }
  const requestStimuli = async (design) => {
    const reply = await tracked(ToWorker.STIMULI, { design });
    return { list: reply.list, pixels: new Uint8Array(reply.pixels) };
  };
  // Inside JATOS (jatos.js loaded) the results go to JATOS; otherwise to this lab's server.
  participantMode = window.jatos
    ? new JatosMode({ jatos: window.jatos, store, stage: $('experiment-stage'), classNames: names, requestStimuli })
    : new ParticipantMode({
      studyId: STUDY, store, stage: $('experiment-stage'), statusBox: $('collect-status'), classNames: names, requestStimuli,
    });
  startWorker();
  watchWorker();
}

// uPlot and jsPsych are classic deferred scripts; module scripts run after them, so they are
// defined here.
main();
