// The one message protocol between the page (app.js) and the training worker (worker.js).
// Every message is a plain object with a `type`; the constructors below are the only way either
// side builds one, so the shapes live in one place. The shapes named here are the Rust structs
// of crate/src/web/ (serde-wasm-bindgen hands them over as plain objects).

/** Page → worker. */
export const ToWorker = Object.freeze({
  /** { type } the watchdog's question: answered with PONG whenever the worker is alive */
  PING: 'ping',
  /** { type, kind: 'cpu' | 'webgpu' } */
  SET_BACKEND: 'set-backend',
  /** { type, config: TrainConfig } — the CLI's TrainConfig; `seed` may be a BigInt. */
  START: 'start',
  PAUSE: 'pause',
  RESUME: 'resume',
  STOP: 'stop',
  /** { type, pixels: Float32Array(784), raw intensities 0..255 } */
  PREDICT: 'predict',
  GET_RESULTS: 'get-results',
  GET_WEIGHTS: 'get-weights',
  /** { type, bytes: ArrayBuffer, task, name } */
  LOAD_WEIGHTS: 'load-weights',
  /** { type, text } */
  CHECK_RESULTS: 'check-results',
  /** { type, requestId } compare the models kept in this session */
  COMPARE: 'compare',
  /** { type, index } the front end's response maps to test image `index` */
  RESPONSES: 'responses',
  /** { type, name?, task?, requestId? } accuracy under noise and contrast reduction of the kept
   * model `name` (of data set `task`), else of the model in use */
  ROBUSTNESS: 'robustness',
  /** { type } only with ?selftest=panic: the module panics, to test the recovery */
  SELF_TEST_PANIC: 'self-test-panic',
  // Requests below carry a `requestId`; the reply (or an ERROR) carries it back.
  /** { type, requestId, design: StimulusDesign } the human experiment's stimulus list */
  STIMULI: 'stimuli',
  /** { type, requestId, name, text } read an exported trial file strictly */
  PARSE_TRIALS: 'parse-trials',
  /** { type, requestId, trials: TrialRecord[] (people's) } the kept models answer, then the comparison */
  HUMAN_COMPARE: 'human-compare',
  /** { type, requestId } the last comparison's trials, people's and models', as CSV */
  GROUP_CSV: 'group-csv',
  /** { type, requestId, name } drop a kept model from the comparisons (the model list deleted it) */
  FORGET_MODEL: 'forget-model',
  /** { type, requestId, name, newName } what the comparisons call a kept model */
  RENAME_MODEL: 'rename-model',
});

/** Worker → page. */
export const FromWorker = Object.freeze({
  /** { type, busy: string | null } */
  PONG: 'pong',
  /** { type, rules: [{id, name, summary, learning_rate}], frontEnds: [{id, name, summary}], maxWeightsBytes, backend, status } */
  READY: 'ready',
  /** { type, status: LabStatus } {backend, task, running, epochs_finished, has_results, has_model, model_name, kept_models} */
  STATUS: 'status',
  /** { type, backend: {kind, description, max_batch_size} } */
  BACKEND: 'backend',
  /** { type, task, train_images, test_images } */
  DATA: 'data',
  /** { type, batches_per_epoch, epochs, train_images, test_images, workers } (workers: CPU workers splitting each batch) */
  STARTED: 'started',
  /** { type, epoch, batch, batches_per_epoch, epochs, done, total, loss, images_per_second, ms_per_batch, eta_seconds, workers } */
  PROGRESS: 'progress',
  /** { type, metrics, misclassified: [{index, label, predicted, pixels}], filters: {front_end, channels, size, values}, run_finished, kept } */
  EPOCH: 'epoch',
  /** { type, state: 'running' | 'paused' | 'stopped' | 'finished' | 'idle' } */
  STATE: 'state',
  /** { type, probabilities: Float32Array(10) } */
  PREDICTION: 'prediction',
  /** { type, json } the results file's text */
  RESULTS: 'results',
  /** { type, bytes: ArrayBuffer, requestId? } (with a requestId: asked for by the model list, not a download) */
  WEIGHTS: 'weights',
  /** { type, metrics, misclassified, filters, kept, requestId? } after a weights file loaded */
  WEIGHTS_LOADED: 'weights-loaded',
  /** { type, results: {text, task, rule, backend, epochs, final_test_accuracy, final_confusion} } a checked results file */
  RESULTS_CHECKED: 'results-checked',
  /** { type, requestId, comparison } see crate/src/web/compare.rs */
  COMPARISON: 'comparison',
  /** { type, responses: {index, label, pixels, channels, size, values} } */
  RESPONSE_MAPS: 'response-maps',
  /** { type, name, robustness: {name, images, points: [{degradation: {kind, sigma|factor}, accuracy}]}, requestId? } */
  ROBUSTNESS_RESULT: 'robustness-result',
  /** { type, work: 'compare' | 'robustness' | 'human-compare' | 'stimuli', done, total } long work's progress */
  WORK_PROGRESS: 'work-progress',
  /** { type, count, name } a model was kept for comparison */
  MODEL_KEPT: 'model-kept',
  /** { type, requestId, list: {design, stimuli}, pixels: ArrayBuffer (stimuli × 784) } */
  STIMULI: 'stimuli',
  /** { type, requestId, name, trials } a file's trials, checked */
  TRIALS_PARSED: 'trials-parsed',
  /** { type, requestId, comparison, model_trials, models_note } see crate/src/human/comparison.rs */
  HUMAN_COMPARISON: 'human-comparison',
  /** { type, requestId, csv } */
  GROUP_CSV: 'group-csv',
  /** { type, requestId, count } models still kept after FORGET_MODEL; { type, requestId } after RENAME_MODEL */
  MODEL_FORGOTTEN: 'model-forgotten',
  MODEL_RENAMED: 'model-renamed',
  /** { type, message, fatal, requestId? } fatal: the compute module died and the worker must restart */
  ERROR: 'error',
});

export const message = (type, fields = {}) => ({ type, ...fields });
