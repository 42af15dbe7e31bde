// Live learning curves with uPlot (loaded as a global by index.html): the training loss per
// batch (smoothed) and the test accuracy per epoch.

function makeChart(element, title, seriesLabel, xLabel, yLabel, stroke, points = false, yRange = null) {
  const width = Math.max(280, element.clientWidth || 420);
  return new uPlot({
    title, width, height: 220,
    scales: { x: { time: false }, ...(yRange ? { y: { range: yRange } } : {}) },
    axes: [{ label: xLabel }, { label: yLabel }],
    series: [{ label: xLabel }, { label: seriesLabel, stroke, width: 2, points: { show: points, size: 7 } }],
  }, [[], []], element);
}

const CURVE_COLOURS = ['#c0392b', '#2471a3', '#16a085', '#8e44ad', '#d35400', '#7f8c8d', '#27ae60', '#f39c12'];

/**
 * The learning curves of every kept model and of the run in progress, overlaid: training loss
 * against epochs (the live run's per batch, smoothed; a restored model's per epoch) and test
 * accuracy per epoch. One series per model in each chart; clicking a legend entry hides or shows
 * it (uPlot's legend). The charts are rebuilt when the set of models changes and only given new
 * data otherwise. Each chart's element carries `data-series`, the number of model curves.
 */
export class LearningCurves {
  constructor(lossElement, accuracyElement) {
    this.lossElement = lossElement;
    this.accuracyElement = accuracyElement;
    this.models = []; // {key, name, lossX, lossY, accX, accY, smoothed}
    this.loss = null;
    this.accuracy = null;
    this.rebuild();
  }

  entry(key) {
    return this.models.find((m) => m.key === key);
  }

  /** A new run's curves, under `name`, replacing the previous live run's if it was not kept. */
  startLive(name) {
    this.models = this.models.filter((m) => m.key !== 'live');
    this.models.push({ key: 'live', name, lossX: [], lossY: [], accX: [], accY: [], smoothed: null });
    this.rebuild();
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

  /** The live run's curves now belong to the kept model `key`. */
  keepLive(key, name) {
    const m = this.entry('live');
    if (!m) return;
    m.key = key;
    m.name = name;
    this.rebuild();
  }

  /** A model's per-epoch curves from its results file (a restored model, a loaded file). */
  setModel(key, name, results) {
    this.models = this.models.filter((m) => m.key !== key);
    const m = { key, name, lossX: [], lossY: [], accX: [], accY: [], smoothed: null };
    for (const e of results.epochs) {
      m.lossX.push(e.epoch); m.lossY.push(e.train_loss);
      m.accX.push(e.epoch); m.accY.push(100 * e.test_accuracy);
    }
    this.models.push(m);
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

  data(kind) {
    const tables = this.models.map((m) => (kind === 'loss' ? [m.lossX, m.lossY] : [m.accX, m.accY]));
    if (!tables.length) return [[]];
    return uPlot.join(tables);
  }

  chart(element, old, title, yLabel, yRange, points) {
    // Keep which curves the user hid, by model.
    const hidden = new Set(old ? old.series.slice(1).filter((s) => !s.show).map((s) => s.label) : []);
    old?.destroy();
    element.replaceChildren();
    element.dataset.series = String(this.models.length);
    return new uPlot({
      title, width: Math.max(280, element.clientWidth || 420), height: 220,
      scales: { x: { time: false }, ...(yRange ? { y: { range: yRange } } : {}) },
      axes: [{ label: 'epoch' }, { label: yLabel }],
      series: [{ label: 'epoch' }, ...this.models.map((m, i) => ({
        label: m.name, stroke: CURVE_COLOURS[i % CURVE_COLOURS.length], width: 2, spanGaps: true,
        show: !hidden.has(m.name), points: { show: points, size: 7 },
      }))],
    }, this.data(title === 'Training loss' ? 'loss' : 'accuracy'), element);
  }

  rebuild() {
    this.loss = this.chart(this.lossElement, this.loss, 'Training loss', 'loss', null, false);
    this.accuracy = this.chart(this.accuracyElement, this.accuracy, 'Test accuracy', '%', [0, 100], true);
  }

  draw() {
    this.loss.setData(this.data('loss'));
    this.accuracy.setData(this.data('accuracy'));
  }
}

const LAYER_COLOURS = { conv1: '#8e44ad', conv2: '#2471a3', fc1: '#16a085', fc2: '#d35400' };

function layerChart(element, title, layers) {
  const width = Math.max(280, element.clientWidth || 420);
  return new uPlot({
    title, width, height: 220,
    scales: { x: { time: false }, y: { range: [0, 120] } },
    axes: [{ label: 'epoch' }, { label: 'degrees' }],
    series: [{ label: 'epoch' }, ...layers.map((l) => ({ label: l, stroke: LAYER_COLOURS[l], width: 2, points: { show: true, size: 4 } }))],
  }, [[], ...layers.map(() => [])], element);
}

/** The feedback-alignment papers' figure: per layer, the angle between the rule's update and
 * the true gradient, and between the feedback weights B and W, as training goes. */
export class AlignmentCharts {
  constructor(updateElement, feedbackElement) {
    this.updateLayers = ['conv1', 'conv2', 'fc1', 'fc2'];
    this.feedbackLayers = ['conv2', 'fc1', 'fc2'];
    this.update = layerChart(updateElement, 'Update vs backprop gradient (90° = unrelated)', this.updateLayers);
    this.feedback = layerChart(feedbackElement, 'Feedback weights B vs W', this.feedbackLayers);
    this.reset();
  }

  reset() {
    this.x = []; this.u = this.updateLayers.map(() => []);
    this.fx = []; this.f = this.feedbackLayers.map(() => []);
    this.draw();
  }

  draw() {
    this.update.setData([this.x, ...this.u]);
    this.feedback.setData([this.x, ...this.f]);
  }

  /** Adds an epoch's samples (x = fractional epoch); without batch counts, the epoch means. */
  addEpoch(metrics, batchesPerEpoch) {
    const d = metrics.diagnostics;
    if (!d) return;
    const rows = batchesPerEpoch && d.samples.length
      ? d.samples.map((s) => ({ x: s.epoch - 1 + s.batch / batchesPerEpoch, layers: s.layers }))
      : [{ x: metrics.epoch, layers: d.mean }];
    for (const row of rows) {
      const byName = Object.fromEntries(row.layers.map((l) => [l.layer, l]));
      this.x.push(row.x);
      this.updateLayers.forEach((l, i) => this.u[i].push(byName[l]?.update_bp_angle_deg ?? null));
      this.feedbackLayers.forEach((l, i) => this.f[i].push(byName[l]?.feedback_angle_deg ?? null));
    }
    this.draw();
  }
}

const MODEL_COLOURS = ['#c0392b', '#2471a3', '#16a085', '#8e44ad', '#d35400', '#7f8c8d'];

/** Accuracy against noise σ and against contrast, one curve per measured model (up to six). */
export class RobustnessCharts {
  constructor(noiseElement, contrastElement) {
    this.noiseElement = noiseElement;
    this.contrastElement = contrastElement;
    this.models = [];
    this.noise = null;
    this.contrast = null;
  }

  add(name, robustness) {
    this.models.push({ name, points: robustness.points });
    if (this.models.length > MODEL_COLOURS.length) this.models.shift();
    this.redraw();
  }

  chart(element, title, xLabel, kind, key, old) {
    old?.destroy();
    const xs = [...new Set(this.models.flatMap((m) => m.points.filter((p) => p.degradation.kind === kind || (kind === 'contrast' && p.degradation.kind === 'gaussian-noise' && p.degradation.sigma === 0)).map((p) => p.degradation[key] ?? 1)))].sort((a, b) => a - b);
    const series = this.models.map((m, i) => ({ label: m.name, stroke: MODEL_COLOURS[i], width: 2, points: { show: true, size: 5 } }));
    const data = [xs, ...this.models.map((m) => xs.map((x) => {
      const p = m.points.find((q) => (q.degradation.kind === kind && q.degradation[key] === x)
        || (kind === 'contrast' && x === 1 && q.degradation.kind === 'gaussian-noise' && q.degradation.sigma === 0));
      return p ? 100 * p.accuracy : null;
    }))];
    return new uPlot({
      title, width: Math.max(280, element.clientWidth || 420), height: 220,
      scales: { x: { time: false }, y: { range: [0, 100] } },
      axes: [{ label: xLabel }, { label: 'accuracy %' }],
      series: [{ label: xLabel }, ...series],
    }, data, element);
  }

  redraw() {
    this.noise = this.chart(this.noiseElement, 'Accuracy vs pixel noise', 'noise σ', 'gaussian-noise', 'sigma', this.noise);
    this.contrast = this.chart(this.contrastElement, 'Accuracy vs contrast', 'contrast factor', 'contrast', 'factor', this.contrast);
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
  }

  show(comparison) {
    const sigmas = [...new Set(comparison.conditions.map((c) => c.condition.noise_sigma))].sort((a, b) => a - b);
    const durations = [...new Set(comparison.conditions.map((c) => c.condition.duration_ms))];
    const at = (sigma, pick) => {
      const values = comparison.conditions.filter((c) => c.condition.noise_sigma === sigma).map(pick).filter((v) => v !== null && v !== undefined);
      return values.length ? (100 * values.reduce((a, b) => a + b, 0)) / values.length : null;
    };
    const series = [{ label: 'noise σ' }];
    const data = [sigmas];
    durations.forEach((d, k) => {
      series.push({ label: `people, ${d === null ? 'unlimited' : `${d} ms`}`, stroke: PALETTE[k % PALETTE.length], width: 2, dash: [6, 3], points: { show: true, size: 6 } });
      data.push(sigmas.map((s) => at(s, (c) => (c.condition.duration_ms === d ? c.humans?.mean ?? null : null))));
    });
    comparison.models.forEach((name, m) => {
      series.push({ label: name, stroke: PALETTE[(durations.length + m) % PALETTE.length], width: 2, points: { show: true, size: 6 } });
      data.push(sigmas.map((s) => at(s, (c) => c.models[m])));
    });
    this.chart?.destroy();
    this.element.replaceChildren();
    this.chart = new uPlot({
      title: 'Accuracy against noise', width: Math.max(280, this.element.clientWidth || 560), height: 260,
      scales: { x: { time: false }, y: { range: [0, 100] } },
      axes: [{ label: 'noise σ (pixel units)' }, { label: '% correct' }],
      series,
    }, data, this.element);
  }
}
