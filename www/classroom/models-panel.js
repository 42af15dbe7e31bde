// The page's kept models: every finished run (and loaded weights file) is saved in IndexedDB
// (model-store.js) with its weights, results and robustness curves, listed for renaming,
// deleting and downloading, drawn in the overlaid learning-curve, alignment and robustness
// charts, and summarised one row per model (accuracy, time, images/s, update–BP angle, CKA
// with backprop's fc1, κ with people).
// A reload loads every saved model back into the worker under its saved name, so comparisons
// and the people panel see them again.
import { ModelStore, storageProblem } from './model-store.js';

const pct = (v) => (v === null || v === undefined ? '–' : `${(100 * v).toFixed(2)}%`);
const num = (v, digits) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

/** Training time, throughput and the mean update–BP angle of a results file's epochs. */
export function runSummary(results) {
  if (!results) return { seconds: null, imagesPerSecond: null, angle: null };
  const seconds = results.epochs.reduce((a, e) => a + (e.train_seconds ?? 0), 0);
  const images = results.epochs.reduce((a, e) => a + (e.train_seconds ?? 0) * (e.images_per_second ?? 0), 0);
  // The last epoch's mean over sampled batches, averaged over the layers that report one.
  const layers = results.epochs.at(-1)?.diagnostics?.mean ?? [];
  const angles = layers.map((l) => l.update_bp_angle_deg).filter((a) => a !== null && a !== undefined && Number.isFinite(a));
  return {
    seconds,
    imagesPerSecond: seconds > 0 ? images / seconds : null,
    angle: angles.length ? angles.reduce((a, b) => a + b, 0) / angles.length : null,
  };
}

export class ModelsPanel {
  /**
   * `request(type, fields)`: the page's request/reply to the worker. `views`: the overlaid
   * per-epoch charts (LearningCurves, AlignmentCharts: `setModel`, `keepLive`, `rename`,
   * `remove`). `robustnessCharts`: the RobustnessCharts. `showMessage(text, kind)`.
   * `elements`: {list, table, status}. `onKeptChanged(count)`: the worker's kept models now.
   */
  constructor({ request, ToWorker, views, robustnessCharts, showMessage, elements, download, onKeptChanged }) {
    Object.assign(this, { request, ToWorker, views, robustnessCharts, showMessage, elements, download, onKeptChanged });
    this.models = []; // {key, id, name, workerName, task, rule, front_end, results, resultsText, weights, accuracy, evaluated, robustness}
    this.store = null;
    this.comparison = null;
    this.nextKey = 1;
    window.labState.models = [];
  }

  /** Opens the saved models; without IndexedDB models last for the visit, and the page says so. */
  async open() {
    try {
      this.store = await ModelStore.open();
    } catch (err) {
      this.store = null;
      this.elements.status.textContent = `Models will not be saved: ${err.message}.`;
    }
  }

  /** Forgets the list (the worker restarted empty); the saved models stay saved. */
  clear() {
    for (const m of this.models) this.forEachView((v) => v.remove(m.key));
    this.models = [];
    this.render();
  }

  /** Loads every saved model back into the worker (oldest first), its curves and its row. */
  async restore() {
    if (!this.store) return 0;
    let records;
    try {
      records = await this.store.all();
    } catch (err) {
      this.showMessage(`Could not read the saved models: ${storageProblem(err)}`);
      return 0;
    }
    let restored = 0;
    for (const record of records) {
      this.elements.status.textContent = `Loading saved model ${restored + 1} of ${records.length}…`;
      try {
        const loaded = await this.request(this.ToWorker.LOAD_WEIGHTS, { bytes: record.weights.slice(0), task: record.task, name: record.name });
        await this.request(this.ToWorker.RENAME_MODEL, { name: loaded.kept.name, newName: record.name });
        const results = record.results ? JSON.parse(record.results) : null;
        this.add({
          id: record.id, name: record.name, workerName: record.name, task: record.task, rule: record.rule,
          front_end: record.front_end, results, resultsText: record.results, weights: record.weights,
          accuracy: results ? results.final_test_accuracy : record.accuracy, evaluated: loaded.metrics.test_accuracy,
          robustness: record.robustness ?? null,
        });
        restored += 1;
      } catch (err) {
        this.showMessage(`The saved model "${record.name}" could not be loaded again: ${err.message}. It stays saved; delete it from the list if it is no longer wanted.`);
        this.add({
          id: record.id, name: record.name, workerName: null, task: record.task, rule: record.rule, front_end: record.front_end,
          results: null, resultsText: record.results, weights: record.weights, accuracy: record.accuracy, evaluated: null,
          robustness: record.robustness ?? null,
        });
      }
    }
    this.elements.status.textContent = records.length ? `${restored} saved model(s) loaded back.` : '';
    return restored;
  }

  /** `fn(view)` for every chart that draws the models. */
  forEachView(fn) {
    for (const view of this.views) fn(view);
    fn(this.robustnessCharts);
  }

  /** Adds a model to the list (and its curves, unless they are the live run's). */
  add(entry, { fromLive = false } = {}) {
    const model = { key: `m${this.nextKey++}`, robustness: null, ...entry };
    this.models.push(model);
    for (const view of this.views) {
      if (fromLive) view.keepLive(model.key, model.name);
      else if (model.results) view.setModel(model.key, model.name, model.results);
    }
    if (model.robustness) this.robustnessCharts.set(model.key, model.name, model.robustness);
    this.render();
    return model;
  }

  /** The models the worker holds (it keeps the newest six), oldest first. */
  inWorker() {
    return this.models.filter((m) => m.workerName);
  }

  byWorkerName(name) {
    return this.models.find((m) => m.workerName === name) ?? null;
  }

  /**
   * A measured robustness curve (`{name, images, points}`): a kept model's is drawn under its
   * key and saved with it; the model in use that is not kept (a stopped run) is drawn only.
   */
  async setRobustness(robustness) {
    const model = this.byWorkerName(robustness.name);
    if (!model) {
      this.robustnessCharts.set(`unkept:${robustness.name}`, robustness.name, robustness);
      return;
    }
    model.robustness = robustness;
    this.robustnessCharts.set(model.key, model.name, robustness);
    if (model.id !== null && model.id !== undefined) {
      try {
        await this.store.update(model.id, { robustness });
      } catch (err) {
        this.showMessage(`The robustness curves of "${model.name}" are shown but not saved: ${storageProblem(err)}.`);
      }
    }
  }

  /** Saves a model: in IndexedDB when there is one, else for the visit only (the page says why). */
  async save(entry) {
    if (!this.store) return null;
    try {
      return await this.store.add({
        name: entry.name, task: entry.task, rule: entry.rule, front_end: entry.front_end,
        results: entry.resultsText, weights: entry.weights, accuracy: entry.accuracy, robustness: entry.robustness ?? null,
      });
    } catch (err) {
      this.showMessage(`"${entry.name}" is kept for this visit only: ${storageProblem(err)}.`);
      return null;
    }
  }

  /** After a run finished: its weights and results are saved and it joins the list. */
  async addFinishedRun(workerName, resultsText) {
    const reply = await this.request(this.ToWorker.GET_WEIGHTS);
    const results = JSON.parse(resultsText);
    const entry = {
      name: workerName, workerName, task: results.config.task, rule: results.config.rule,
      front_end: results.config.front_end, results, resultsText, weights: reply.bytes,
      accuracy: results.final_test_accuracy, evaluated: null,
    };
    entry.id = await this.save(entry);
    return this.add(entry, { fromLive: true });
  }

  /** A weights file the visitor loaded: kept with its evaluation (it has no results file). */
  async addLoadedFile(workerName, bytes, task, accuracy) {
    const entry = {
      name: workerName, workerName, task, rule: null, front_end: null, results: null, resultsText: null,
      weights: bytes, accuracy, evaluated: accuracy,
    };
    entry.id = await this.save(entry);
    return this.add(entry);
  }

  async rename(model, name) {
    name = name.trim();
    if (!name || name === model.name) return;
    if (this.models.some((m) => m !== model && m.name === name)) {
      this.showMessage(`Another model is already called "${name}".`);
      return;
    }
    try {
      if (model.workerName) await this.request(this.ToWorker.RENAME_MODEL, { name: model.workerName, newName: name });
      if (model.id !== null && model.id !== undefined) await this.store.rename(model.id, name);
    } catch (err) {
      this.showMessage(`Could not rename "${model.name}": ${storageProblem(err)}`);
      return;
    }
    if (model.workerName) model.workerName = name;
    model.name = name;
    this.forEachView((v) => v.rename(model.key, name));
    this.render();
  }

  async remove(model) {
    try {
      if (model.id !== null && model.id !== undefined) await this.store.delete(model.id);
      // The worker keeps six models at most and drops the oldest: it may be gone already.
      if (model.workerName) {
        const reply = await this.request(this.ToWorker.FORGET_MODEL, { name: model.workerName }).catch(() => null);
        if (reply) this.onKeptChanged?.(reply.count);
      }
    } catch (err) {
      this.showMessage(`Could not delete "${model.name}": ${storageProblem(err)}`);
      return;
    }
    this.models = this.models.filter((m) => m !== model);
    this.forEachView((v) => v.remove(model.key));
    this.render();
  }

  /** The last representation comparison (for the CKA column). */
  setComparison(comparison) {
    this.comparison = comparison;
    this.render();
  }

  /** Linear CKA on fc1 between `model` and the newest backprop model, from the last comparison. */
  ckaWithBackprop(model) {
    const c = this.comparison;
    const bp = [...this.models].reverse().find((m) => m.rule === 'bp' && m.workerName);
    if (!c || !bp || !model.workerName) return null;
    const layer = c.layers.find((l) => l.layer === 'fc1');
    const i = c.models.indexOf(model.workerName);
    const j = c.models.indexOf(bp.workerName);
    if (!layer || i < 0 || j < 0) return null;
    return layer.linear_cka.data[i * layer.linear_cka.n + j];
  }

  /** κ with people from the people panel's last comparison, if it included this model. */
  kappaWithPeople(model) {
    const row = window.labState.humanComparison?.ranking?.find((r) => r.name === model.workerName);
    return row?.kappa?.mean ?? null;
  }

  button(text, label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'secondary small';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }

  render() {
    const { list, table } = this.elements;
    list.replaceChildren(...this.models.map((m) => {
      const item = document.createElement('li');
      const name = document.createElement('input');
      name.type = 'text';
      name.value = m.name;
      name.maxLength = 80;
      name.setAttribute('aria-label', `name of model ${m.name}`);
      name.addEventListener('change', () => this.rename(m, name.value));
      const saved = document.createElement('span');
      saved.className = 'hint';
      saved.textContent = m.id === null || m.id === undefined ? ' (this visit only)' : '';
      item.append(name, saved,
        this.button('Download', `download the weights of ${m.name}`, () => this.download(m)),
        this.button('Delete', `delete ${m.name}`, () => this.remove(m)));
      return item;
    }));
    const head = ['model', 'rule', 'front end', 'test accuracy', 'time', 'images/s', 'update–BP angle', 'CKA with bp (fc1)', 'κ with people'];
    const rows = this.models.map((m) => {
      const s = runSummary(m.results);
      const accuracy = m.evaluated ?? m.accuracy;
      return [m.name, m.rule ?? '–', m.front_end ?? '–', pct(accuracy),
        s.seconds === null ? '–' : `${s.seconds.toFixed(1)} s`, num(s.imagesPerSecond, 0),
        s.angle === null ? '–' : `${s.angle.toFixed(1)}°`, num(this.ckaWithBackprop(m), 3), num(this.kappaWithPeople(m), 3)];
    });
    const tr = (cells, tag) => {
      const row = document.createElement('tr');
      row.append(...cells.map((text) => { const cell = document.createElement(tag); cell.textContent = text; return cell; }));
      return row;
    };
    table.replaceChildren(...(rows.length ? [tr(head, 'th'), ...rows.map((r) => tr(r, 'td'))] : []));
    window.labState.models = this.models.map((m) => ({
      name: m.name, rule: m.rule, saved: m.id !== null && m.id !== undefined, accuracy: m.accuracy, evaluated: m.evaluated,
    }));
  }
}
