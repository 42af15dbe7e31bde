// The page's charts, drawn with uPlot (loaded as a global by index.html): the learning curves,
// the alignment angles and the robustness curves of every kept model (one series per model,
// shown or hidden from the legend), and the people panel's psychometric curves.
//
// Every chart is made through `plot`, which remembers it by its element: `fitCharts` gives the
// charts of a view the width of their panel once the view is shown (a chart made in a hidden
// tab has no width to take), and `restyleCharts` remakes them all when "Larger text" changes.

const plots = new Map(); // element → its uPlot
const restylers = new Set();

/** Larger text for a room (html.room, set by the header's toggle). */
const roomMode = () => document.documentElement.classList.contains('room');

function style() {
  return roomMode()
    ? { height: 300, font: '16px system-ui, sans-serif', labelFont: 'bold 17px system-ui, sans-serif', size: 64, labelSize: 34 }
    : { height: 220, font: '12px system-ui, sans-serif', labelFont: 'bold 12px system-ui, sans-serif', size: 50, labelSize: 30 };
}

const widthOf = (element) => Math.max(240, element.clientWidth || 420);

/**
 * A uPlot chart in `element` (replacing the one there): `series` after the x series, `data` as
 * uPlot takes it. Series whose label is in `hidden` start hidden.
 */
function plot(element, { title, xLabel, yLabel, yRange = null, series, hidden = new Set(), height }, data) {
  plots.get(element)?.destroy();
  element.replaceChildren();
  const s = style();
  const axis = (label) => ({ label, font: s.font, labelFont: s.labelFont, size: s.size, labelSize: s.labelSize });
  const chart = new uPlot({
    title, width: widthOf(element), height: height ?? s.height,
    scales: { x: { time: false }, ...(yRange ? { y: { range: yRange } } : {}) },
    axes: [axis(xLabel), axis(yLabel)],
    series: [{ label: xLabel }, ...series.map((x) => ({ ...x, show: !hidden.has(x.label) }))],
  }, data, element);
  plots.set(element, chart);
  return chart;
}

/** The labels of the series the user hid in `chart` (kept when the chart is remade). */
const hiddenIn = (chart) => new Set(chart ? chart.series.slice(1).filter((s) => !s.show).map((s) => s.label) : []);

/** Gives every visible chart under `root` its element's width. */
export function fitCharts(root = document) {
  for (const [element, chart] of plots) {
    if (!element.isConnected || !root.contains(element) || element.offsetParent === null) continue;
    const width = widthOf(element);
    if (Math.abs(width - chart.width) > 2) chart.setSize({ width, height: chart.height });
  }
}

/** Remakes every chart (after "Larger text" changed the fonts and heights). */
export function restyleCharts() {
  for (const restyle of restylers) restyle();
}

const CURVE_COLOURS = ['#c0392b', '#2471a3', '#16a085', '#8e44ad', '#d35400', '#7f8c8d', '#27ae60', '#f39c12'];
const colour = (i) => CURVE_COLOURS[i % CURVE_COLOURS.length];

/** uPlot's data for per-model tables [xs, ys]: one x axis, one series per model. */
function joined(tables) {
  return tables.length ? uPlot.join(tables) : [[]];
}

/**
 * The models a pair of charts draws, one series each: `{key, name, …its data}`, the run in
 * progress under the key 'live' until it is kept under its model's key. Subclasses hold the
 * data and implement `rebuild()` (a new set of series) and `draw()` (new data only).
 */
class ModelCharts {
  constructor() {
    this.models = [];
    restylers.add(() => this.rebuild());
  }

  entry(key) {
    return this.models.find((m) => m.key === key);
  }

  /** Puts `model` in (replacing the one with its key) and rebuilds. */
  put(model) {
    this.models = this.models.filter((m) => m.key !== model.key);
    this.models.push(model);
    this.rebuild();
  }

  /** The live run's series now belong to the kept model `key`. */
  keepLive(key, name) {
    const m = this.entry('live');
    if (!m) return;
    m.key = key;
    m.name = name;
    this.rebuild();
  }

  rename(key, name) {
    const m = this.entry(key);
    if (m) { m.name = name; this.rebuild(); }
  }

  remove(key) {
    this.models = this.models.filter((m) => m.key !== key);
    this.rebuild();
  }

  /** Keys of the models drawn, in order. */
  keys() {
    return this.models.map((m) => m.key);
  }
}

/**
 * The learning curves of every kept model and of the run in progress, overlaid: training loss
 * against epochs (the live run's per batch, smoothed; a restored model's per epoch) and test
 * accuracy per epoch. One series per model in each chart; clicking a legend entry hides or shows
 * it (uPlot's legend). The charts are rebuilt when the set of models changes and only given new
 * data otherwise. Each chart's element carries `data-series`, the number of model curves.
 */
export class LearningCurves extends ModelCharts {
  constructor(lossElement, accuracyElement) {
    super(); // models: {key, name, lossX, lossY, accX, accY, smoothed}
    this.lossElement = lossElement;
    this.accuracyElement = accuracyElement;
    this.loss = null;
    this.accuracy = null;
    this.rebuild();
  }

  /** A new run's curves, under `name`, replacing the previous live run's if it was not kept. */
  startLive(name) {
    this.put({ key: 'live', name, lossX: [], lossY: [], accX: [], accY: [], smoothed: null });
  }

  /** `position` in epochs (fractional). Exponential smoothing keeps the curve readable. */
  addLoss(position, loss) {
    const m = this.entry('live');
    if (!m) return;
    m.smoothed = m.smoothed === null ? loss : 0.9 * m.smoothed + 0.1 * loss;
    m.lossX.push(position);
    m.lossY.push(m.smoothed);
    this.draw();
  }

  addAccuracy(epoch, accuracy) {
    const m = this.entry('live');
    if (!m) return;
    m.accX.push(epoch);
    m.accY.push(100 * accuracy);
    this.draw();
  }

  /** A model's per-epoch curves from its results file (a restored model, a loaded file). */
  setModel(key, name, results) {
    const m = { key, name, lossX: [], lossY: [], accX: [], accY: [], smoothed: null };
    for (const e of results.epochs) {
      m.lossX.push(e.epoch); m.lossY.push(e.train_loss);
      m.accX.push(e.epoch); m.accY.push(100 * e.test_accuracy);
    }
    this.put(m);
  }

  data(kind) {
    return joined(this.models.map((m) => (kind === 'loss' ? [m.lossX, m.lossY] : [m.accX, m.accY])));
  }

  chart(element, old, kind, title, yLabel, yRange, points) {
    element.dataset.series = String(this.models.length);
    return plot(element, {
      title, xLabel: 'epoch', yLabel, yRange, hidden: hiddenIn(old),
      series: this.models.map((m, i) => ({ label: m.name, stroke: colour(i), width: 2, spanGaps: true, points: { show: points, size: 7 } })),
    }, this.data(kind));
  }

  rebuild() {
    this.loss = this.chart(this.lossElement, this.loss, 'loss', 'Training loss', 'loss', null, false);
    this.accuracy = this.chart(this.accuracyElement, this.accuracy, 'accuracy', 'Test accuracy', '%', [0, 100], true);
  }

  draw() {
    this.loss.setData(this.data('loss'));
    this.accuracy.setData(this.data('accuracy'));
  }
}

const UPDATE_LAYERS = ['conv1', 'conv2', 'fc1', 'fc2'];
const FEEDBACK_LAYERS = ['conv2', 'fc1', 'fc2'];

/** A diagnostics row's value of `field` for `layer`, or the mean over `layers` that have one. */
function angleOf(row, layer, field, layers) {
  if (layer !== 'mean') return row[layer]?.[field] ?? null;
  const values = layers.map((l) => row[l]?.[field]).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

/**
 * The feedback-alignment papers' figure for every kept model: the angle between the rule's
 * update and the true gradient, and between the feedback weights B and W, as training goes,
 * for one layer (or the mean over the layers), one curve per model. The live run's samples
 * come per sampled batch; a restored model's are its epochs' means.
 */
export class AlignmentCharts extends ModelCharts {
  constructor(updateElement, feedbackElement) {
    super(); // models: {key, name, rows: [{x, layers: {conv1: {update_bp_angle_deg, feedback_angle_deg}, …}}]}
    this.updateElement = updateElement;
    this.feedbackElement = feedbackElement;
    this.layer = 'mean';
    this.update = null;
    this.feedback = null;
    this.rebuild();
  }

  /** A new run's curves under `name`, replacing the previous live run's if it was not kept. */
  startLive(name) {
    this.put({ key: 'live', name, rows: [] });
  }

  static rowsOf(metrics, batchesPerEpoch) {
    const d = metrics.diagnostics;
    if (!d) return [];
    const rows = batchesPerEpoch && d.samples.length
      ? d.samples.map((s) => ({ x: s.epoch - 1 + s.batch / batchesPerEpoch, layers: s.layers }))
      : [{ x: metrics.epoch, layers: d.mean }];
    return rows.map((row) => ({ x: row.x, layers: Object.fromEntries(row.layers.map((l) => [l.layer, l])) }));
  }

  /** Adds an epoch's samples to the live run (x = fractional epoch). */
  addEpoch(metrics, batchesPerEpoch) {
    const m = this.entry('live');
    if (!m) return;
    m.rows.push(...AlignmentCharts.rowsOf(metrics, batchesPerEpoch));
    this.draw();
  }

  /** A model's per-epoch means from its results file. */
  setModel(key, name, results) {
    this.put({ key, name, rows: results.epochs.flatMap((e) => AlignmentCharts.rowsOf(e, null)) });
  }

  /** Shows `layer` ('mean' or a layer's name). */
  setLayer(layer) {
    this.layer = layer;
    this.rebuild();
  }

  data(field, layers) {
    const tables = this.models.map((m) => [m.rows.map((r) => r.x), m.rows.map((r) => angleOf(r.layers, this.layer, field, layers))]);
    return joined(tables);
  }

  chart(element, old, title, field, layers) {
    element.dataset.series = String(this.models.length);
    return plot(element, {
      title, xLabel: 'epoch', yLabel: 'degrees', yRange: [0, 120], hidden: hiddenIn(old),
      series: this.models.map((m, i) => ({ label: m.name, stroke: colour(i), width: 2, spanGaps: true, points: { show: true, size: 4 } })),
    }, this.data(field, layers));
  }

  rebuild() {
    const which = this.layer === 'mean' ? 'mean over the layers' : this.layer;
    this.update = this.chart(this.updateElement, this.update, `Update vs backprop gradient, ${which} (90° = unrelated)`, 'update_bp_angle_deg', UPDATE_LAYERS);
    this.feedback = this.chart(this.feedbackElement, this.feedback, `Feedback weights B vs W, ${which}`, 'feedback_angle_deg', FEEDBACK_LAYERS);
  }

  draw() {
    this.update.setData(this.data('update_bp_angle_deg', UPDATE_LAYERS));
    this.feedback.setData(this.data('feedback_angle_deg', FEEDBACK_LAYERS));
  }
}

/** A robustness point's x on the noise or the contrast axis (clean images are contrast 1). */
function robustnessX(point, kind) {
  const d = point.degradation;
  if (kind === 'gaussian-noise') return d.kind === 'gaussian-noise' ? d.sigma : null;
  if (d.kind === 'contrast') return d.factor;
  return d.kind === 'gaussian-noise' && d.sigma === 0 ? 1 : null;
}

/** Accuracy against noise σ and against contrast, one curve per measured model. */
export class RobustnessCharts extends ModelCharts {
  constructor(noiseElement, contrastElement) {
    super(); // models: {key, name, points}
    this.noiseElement = noiseElement;
    this.contrastElement = contrastElement;
    this.noise = null;
    this.contrast = null;
    this.rebuild();
  }

  /** Model `key`'s curves (replacing any it had). */
  set(key, name, robustness) {
    this.put({ key, name, points: robustness.points });
  }

  chart(element, old, title, xLabel, kind) {
    const tables = this.models.map((m) => {
      const pairs = m.points.map((p) => [robustnessX(p, kind), 100 * p.accuracy]).filter(([x]) => x !== null).sort((a, b) => a[0] - b[0]);
      return [pairs.map(([x]) => x), pairs.map(([, y]) => y)];
    });
    element.dataset.series = String(this.models.length);
    return plot(element, {
      title, xLabel, yLabel: 'accuracy %', yRange: [0, 100], hidden: hiddenIn(old),
      series: this.models.map((m, i) => ({ label: m.name, stroke: colour(i), width: 2, spanGaps: true, points: { show: true, size: 5 } })),
    }, joined(tables));
  }

  rebuild() {
    this.noise = this.chart(this.noiseElement, this.noise, 'Accuracy vs pixel noise', 'noise σ', 'gaussian-noise');
    this.contrast = this.chart(this.contrastElement, this.contrast, 'Accuracy vs contrast', 'contrast factor', 'contrast');
  }
}

const PALETTE = ['#2471a3', '#c0392b', '#16a085', '#8e44ad', '#d35400', '#7f8c8d', '#27ae60', '#f39c12'];

/**
 * Psychometric curves: accuracy against the noise level, one line per human duration condition
 * (mean over participants) and one per model (mean over its duration conditions, which a model
 * does not see). Rebuilt on each comparison, since the series change.
 */
export class PsychometricChart {
  constructor(element) {
    this.element = element;
    this.chart = null;
    this.last = null;
    restylers.add(() => { if (this.last) this.show(this.last); });
  }

  show(comparison) {
    this.last = comparison;
    const sigmas = [...new Set(comparison.conditions.map((c) => c.condition.noise_sigma))].sort((a, b) => a - b);
    const durations = [...new Set(comparison.conditions.map((c) => c.condition.duration_ms))];
    const at = (sigma, pick) => {
      const values = comparison.conditions.filter((c) => c.condition.noise_sigma === sigma).map(pick).filter((v) => v !== null && v !== undefined);
      return values.length ? (100 * values.reduce((a, b) => a + b, 0)) / values.length : null;
    };
    const series = [];
    const data = [sigmas];
    durations.forEach((d, k) => {
      series.push({ label: `people, ${d === null ? 'unlimited' : `${d} ms`}`, stroke: PALETTE[k % PALETTE.length], width: 2, dash: [6, 3], points: { show: true, size: 6 } });
      data.push(sigmas.map((s) => at(s, (c) => (c.condition.duration_ms === d ? c.humans?.mean ?? null : null))));
    });
    comparison.models.forEach((name, m) => {
      series.push({ label: name, stroke: PALETTE[(durations.length + m) % PALETTE.length], width: 2, points: { show: true, size: 6 } });
      data.push(sigmas.map((s) => at(s, (c) => c.models[m])));
    });
    this.chart = plot(this.element, {
      title: 'Accuracy against noise', xLabel: 'noise σ (pixel units)', yLabel: '% correct', yRange: [0, 100],
      series, hidden: hiddenIn(this.chart), height: roomMode() ? 340 : 260,
    }, data);
  }
}
