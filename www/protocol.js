// The one message protocol between the page (app.js) and the training worker (worker.js).
// Every message is a plain object with a `type`; the constructors below are the only way either
// side builds one, so the shapes live in one place.

/** Page → worker. */
export const ToWorker = Object.freeze({
  /** { type, kind: 'cpu' | 'webgpu' } */
  SET_BACKEND: 'set-backend',
  /** { type, config: TrainConfig } — the CLI's TrainConfig JSON. */
  START: 'start',
  PAUSE: 'pause',
  RESUME: 'resume',
  STOP: 'stop',
  /** { type, pixels: Float32Array(784), raw intensities 0..255 } */
  PREDICT: 'predict',
  GET_RESULTS: 'get-results',
  GET_WEIGHTS: 'get-weights',
  /** { type, bytes: ArrayBuffer, task } */
  LOAD_WEIGHTS: 'load-weights',
  /** { type, text } */
  CHECK_RESULTS: 'check-results',
  /** { type, pcaLayer } compare the models kept in this session */
  COMPARE: 'compare',
  /** { type, index } the front end's response maps to test image `index` */
  RESPONSES: 'responses',
  /** { type } accuracy under noise and contrast reduction */
  ROBUSTNESS: 'robustness',
  // Requests below carry a `requestId`; the reply (or an ERROR) carries it back.
  /** { type, requestId, design: StimulusDesign } the human experiment's stimulus list */
  STIMULI: 'stimuli',
  /** { type, requestId, trials: TrialRecord[] } kept models answer these trials' stimuli */
  MODEL_TRIALS: 'model-trials',
  /** { type, requestId, name, text } read an exported trial file strictly */
  PARSE_TRIALS: 'parse-trials',
  /** { type, requestId, trials: TrialRecord[] } the human–model comparison */
  HUMAN_COMPARE: 'human-compare',
});

/** Worker → page. */
export const FromWorker = Object.freeze({
  /** { type, rules: [{id, name, summary}], frontEnds: [{id, name, summary}], backend: {kind, description} } */
  READY: 'ready',
  /** { type, backend: {kind, description} } */
  BACKEND: 'backend',
  /** { type, task, train_images, test_images } */
  DATA: 'data',
  /** { type, batches_per_epoch, epochs, train_images, test_images } */
  STARTED: 'started',
  /** { type, epoch, batch, batches_per_epoch, epochs, loss, images_per_second, eta_seconds } */
  PROGRESS: 'progress',
  /** { type, metrics, misclassified, filters: {front_end, channels, size, values} } */
  EPOCH: 'epoch',
  /** { type, state: 'running' | 'paused' | 'stopped' | 'finished' | 'idle' } */
  STATE: 'state',
  /** { type, probabilities: Float32Array(10) } */
  PREDICTION: 'prediction',
  /** { type, json } */
  RESULTS: 'results',
  /** { type, bytes: ArrayBuffer } */
  WEIGHTS: 'weights',
  /** { type, metrics, misclassified, filters } after a weights file loaded */
  WEIGHTS_LOADED: 'weights-loaded',
  /** { type, results } a checked results file */
  RESULTS_CHECKED: 'results-checked',
  /** { type, comparison } see WebLab.compare_models */
  COMPARISON: 'comparison',
  /** { type, responses: {index, label, pixels, channels, size, values} } */
  RESPONSE_MAPS: 'response-maps',
  /** { type, name, robustness: {images, points: [{degradation: {kind, sigma|factor}, accuracy}]} } */
  ROBUSTNESS_RESULT: 'robustness-result',
  /** { type, count, name } a model was kept for comparison */
  MODEL_KEPT: 'model-kept',
  /** { type, requestId, list: {design, stimuli}, pixels: ArrayBuffer (stimuli × 784) } */
  STIMULI: 'stimuli',
  /** { type, requestId, trials } the kept models' answers */
  MODEL_TRIALS: 'model-trials',
  /** { type, requestId, name, trials } a file's trials, checked */
  TRIALS_PARSED: 'trials-parsed',
  /** { type, requestId, comparison } see crate/src/human/comparison.rs */
  HUMAN_COMPARISON: 'human-comparison',
  /** { type, message, fatal, requestId? } fatal: the compute module died and the worker must restart */
  ERROR: 'error',
});

export const message = (type, fields = {}) => ({ type, ...fields });
