// Panel 12, "People and models": builds the group data set (finished sessions on this device
// plus imported files; duplicates and malformed files are skipped with a message), has every
// kept model answer the same stimuli, and shows the comparison the library computes: accuracy
// per condition, confusion matrices side by side, error consistency κ and the ranking.
import { PsychometricChart } from '../charts.js';
import { drawConfusion } from '../views.js';
import { trialsToCsv } from './export.js';
import { escapeHtml } from './timeline.js';
import { downloadText } from '../files.js';
import { experimenterFetch, followEvents, tokenKey } from './collect.js';

const $ = (id) => document.getElementById(id);
const pct = (x) => (x === null || x === undefined ? '–' : (100 * x).toFixed(1));
const ci = (e, scale = 1, digits = 2) => {
  if (!e) return '–';
  const mean = (scale * e.mean).toFixed(digits);
  // With fewer than two participants (three for pairs) there is no interval to give.
  if (e.low === null || e.high === null) return `${mean} (n = ${e.n}, no CI)`;
  return `${mean} [${(scale * e.low).toFixed(digits)}, ${(scale * e.high).toFixed(digits)}]`;
};

export class ComparisonView {
  /** @param opts {{request, ToWorker, localTrials: () => Promise<TrialRecord[]>, classNames: (task) => string[]}} */
  constructor(opts) {
    Object.assign(this, opts);
    this.imported = [];           // trial rows from imported files
    this.importedSessions = new Map(); // session id → file name
    this.chart = new PsychometricChart($('psychometric-chart'));
    this.comparison = null;
    this.pooled = [];              // trial rows pooled from a collection-server study
    this.pool = null;              // {study, token, live: AbortController}
    $('pool-form').addEventListener('submit', () => this.loadPool());
    $('pool-live').addEventListener('change', () => this.followPool());
    const pool = new URLSearchParams(location.search).get('pool');
    if (pool) {
      $('pool-study').value = pool;
      $('pool-token').value = sessionStorage.getItem(tokenKey(pool)) || '';
    }
    $('import-trials').addEventListener('change', (e) => this.importFiles([...e.target.files]).finally(() => { e.target.value = ''; }));
    $('human-compare').addEventListener('click', () => this.compare());
    $('download-group').addEventListener('click', () => this.downloadAll());
    $('confusion-model').addEventListener('change', () => this.drawConfusions());
  }

  log(text, kind) {
    const li = document.createElement('li');
    li.textContent = text;
    li.className = kind;
    $('import-log').append(li);
  }

  async importFiles(files) {
    const local = new Set((await this.localTrials()).map((t) => t.session_id));
    for (const file of files) {
      let trials;
      try {
        const reply = await this.request(this.ToWorker.PARSE_TRIALS, { name: file.name, text: await file.text() });
        trials = reply.trials;
      } catch (err) {
        this.log(`Skipped ${file.name}: ${err.message.replace(/^could not import: /, '')}`, 'skipped');
        continue;
      }
      const sessions = [...new Set(trials.map((t) => t.session_id))];
      const dup = sessions.find((s) => this.importedSessions.has(s) || local.has(s));
      if (dup) {
        const where = this.importedSessions.get(dup) || 'a session on this device';
        this.log(`Skipped ${file.name}: session ${dup} is already in the group (from ${where}).`, 'skipped');
        continue;
      }
      for (const s of sessions) this.importedSessions.set(s, file.name);
      this.imported.push(...trials);
      this.log(`Imported ${file.name}: ${trials.length} trials, ${sessions.length} session(s).`, 'added');
    }
    await this.summarise();
  }

  /** Loads (or reloads) every trial of a collection-server study into the group. */
  async loadPool() {
    const study = $('pool-study').value.trim();
    const token = $('pool-token').value.trim();
    if (!study || !token) { $('pool-status').textContent = 'Give the study id and its experimenter token.'; return; }
    if (this.pool?.study !== study) this.pool?.live?.abort();
    this.pool = { ...(this.pool?.study === study ? this.pool : {}), study, token };
    sessionStorage.setItem(tokenKey(study), token);
    try {
      const text = await experimenterFetch(study, 'trials.csv', token);
      const lines = text.trim().split('\n').length - 1;
      const trials = lines > 0 ? (await this.request(this.ToWorker.PARSE_TRIALS, { name: `study ${study}`, text })).trials : [];
      // Sessions already in the group (this device's, or imported files) are not counted twice.
      const local = new Set((await this.localTrials()).map((t) => t.session_id));
      this.pooled = trials.filter((t) => !local.has(t.session_id) && !this.importedSessions.has(t.session_id));
      const sessions = new Set(this.pooled.map((t) => t.session_id)).size;
      $('pool-status').textContent = `Study ${study}: ${this.pooled.length} trials from ${sessions} session(s), as of ${new Date().toLocaleTimeString()}.`;
    } catch (err) {
      $('pool-status').textContent = `Could not pool study ${study}: ${err.message}`;
    }
    await this.summarise();
    this.followPool();
  }

  /** With "keep up to date", reloads the pool a moment after answers arrive. */
  followPool() {
    const wanted = $('pool-live').checked && this.pool;
    if (!wanted) { this.pool?.live?.abort(); if (this.pool) this.pool.live = null; return; }
    if (this.pool.live) return;
    const live = new AbortController();
    this.pool.live = live;
    let timer = null;
    followEvents(this.pool.study, this.pool.token, {
      signal: live.signal,
      onEvent: (kind) => {
        if (kind === 'hello') return;
        clearTimeout(timer);
        timer = setTimeout(() => this.loadPool(), 1000);
      },
    });
  }

  async groupTrials() {
    return [...(await this.localTrials()), ...this.imported, ...this.pooled].filter((t) => t.observer_kind === 'human');
  }

  async summarise() {
    this.trials = null; // the group may have changed since the last comparison
    const trials = await this.groupTrials();
    const sessions = new Set(trials.map((t) => t.session_id));
    $('group-summary').textContent = trials.length
      ? `Group: ${sessions.size} participant session(s), ${trials.length} trials.`
      : 'No finished sessions yet: run the experiment (panel 11) or import participants\' files.';
    $('human-compare').disabled = !trials.length;
  }

  async compare() {
    $('human-compare').disabled = true;
    $('compare-status').textContent = 'Working…';
    try {
      const humans = await this.groupTrials();
      const tasks = [...new Set(humans.map((t) => t.task))];
      if (tasks.length > 1) throw new Error(`the group mixes data sets (${tasks.join(', ')}); import one data set's files at a time`);
      let models = [];
      if (window.labState.keptModels) {
        try {
          models = (await this.request(this.ToWorker.MODEL_TRIALS, { trials: humans })).trials;
        } catch (err) {
          $('compare-status').textContent = `Models not included: ${err.message}`;
        }
      }
      const reply = await this.request(this.ToWorker.HUMAN_COMPARE, { trials: [...humans, ...models] });
      this.comparison = reply.comparison;
      this.trials = [...humans, ...models];
      this.task = tasks[0];
      window.labState.humanComparison = this.comparison;
      window.labState.modelTrials = models;
      this.show();
      if (!models.length && !$('compare-status').textContent.startsWith('Models')) {
        $('compare-status').textContent = 'No kept model of this data set yet: train one (or load weights) to add models.';
      } else if (models.length) {
        $('compare-status').textContent = '';
      }
    } catch (err) {
      $('compare-status').textContent = `Could not compare: ${err.message}`;
    } finally {
      await this.summarise();
    }
  }

  show() {
    const c = this.comparison;
    this.chart.show(c);
    $('condition-table').innerHTML = `<tr><th>condition</th><th>people % [95% CI]</th>${c.models.map((m) => `<th>${escapeHtml(m)}</th>`).join('')}</tr>${c.conditions.map((row) => `
      <tr><td>${escapeHtml(row.label)}</td><td>${ci(row.humans, 100, 1)}</td>${row.models.map((m) => `<td>${pct(m)}</td>`).join('')}</tr>`).join('')}`;
    const select = $('confusion-model');
    select.replaceChildren(...c.ranking.map((r, i) => new Option(r.name, String(i))));
    this.drawConfusions();
    $('kappa-summary').textContent = `People: ${c.participants.length} session(s), accuracy ${ci(c.human_accuracy, 100, 1)} %. `
      + `Human–human error consistency κ ${ci(c.human_human_kappa)} (the ceiling; needs two or more people who saw the same images). `
      + `Bootstrap: ${c.bootstrap_resamples} resamples of participants.`;
    $('ranking-table').innerHTML = `<tr><th>rank</th><th>model</th><th>rule</th><th>front end</th><th>accuracy %</th><th>κ with people [95% CI]</th><th>error-pattern r</th></tr>${c.ranking.map((r, i) => `
      <tr><td>${i + 1}</td><td>${escapeHtml(r.name)}</td><td>${escapeHtml(r.rule ?? '–')}</td><td>${escapeHtml(r.front_end ?? '–')}</td>
      <td>${pct(r.accuracy)}</td><td>${ci(r.kappa)}</td><td>${r.error_correlation === null ? '–' : r.error_correlation.toFixed(2)}</td></tr>`).join('')}`;
  }

  drawConfusions() {
    const c = this.comparison;
    if (!c) return;
    const names = this.classNames(this.task);
    drawConfusion($('human-confusion'), c.human_confusion, names);
    const model = c.ranking[Number($('confusion-model').value)];
    const canvas = $('model-confusion');
    if (model) drawConfusion(canvas, model.confusion, names);
    else canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
  }

  async downloadAll() {
    const rows = this.trials || (await this.groupTrials());
    downloadText(trialsToCsv(rows), 'human-model-trials.csv', 'text/csv');
  }
}
