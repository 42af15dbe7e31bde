// Panel 12, "People and models": builds the group data set (finished sessions on this device
// plus imported files and a pooled study; duplicates and malformed files are skipped with a
// message, and a session that reaches the group twice counts once), has every kept model
// answer the same stimuli, and shows the comparison the library computes: accuracy per
// condition, confusion matrices side by side, error consistency κ and the ranking.
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

/**
 * One copy of every session: `sources` ([{name, trials}], in order of precedence) may hold the
 * same session more than once — an export of a session still running was imported, then the
 * session finished on this device; a pooled study holds a session imported from a file. The
 * copy with the most trials counts (a copy exported mid-session is a part of the finished one);
 * on a tie the earlier source (this device's own store comes first: it is the original).
 * Returns the trials kept, in source order, and each session found twice with the copies.
 */
export function oneCopyPerSession(sources) {
  const copies = new Map(); // session id → [{source, name, trials}], in source order
  sources.forEach(({ name, trials }, source) => {
    const counts = new Map();
    for (const t of trials) counts.set(t.session_id, (counts.get(t.session_id) || 0) + 1);
    for (const [session, n] of counts) {
      if (!copies.has(session)) copies.set(session, []);
      copies.get(session).push({ source, name, trials: n });
    }
  });
  const kept = new Map();
  const duplicates = [];
  for (const [session, list] of copies) {
    const best = list.reduce((a, b) => (b.trials > a.trials ? b : a));
    kept.set(session, best.source);
    if (list.length > 1) duplicates.push({ session, kept: best, dropped: list.filter((c) => c !== best) });
  }
  const trials = sources.flatMap(({ trials: rows }, source) => rows.filter((t) => kept.get(t.session_id) === source));
  return { trials, duplicates };
}

/** Which trials make up a group: its sessions and their trial counts. */
function groupKey(trials) {
  const counts = new Map();
  for (const t of trials) counts.set(t.session_id, (counts.get(t.session_id) || 0) + 1);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([s, n]) => `${s}:${n}`).join(',');
}

export class ComparisonView {
  /** @param opts {{request, ToWorker, localTrials: () => Promise<TrialRecord[]>, classNames: (task) => string[]}} */
  constructor(opts) {
    Object.assign(this, opts);
    this.imported = [];           // [{name, trials}], one entry per imported file
    this.importedSessions = new Map(); // session id → file name
    this.logged = new Set();      // messages already in the import log (said once)
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
    this.logged.add(text);
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
      this.imported.push({ name: file.name, trials });
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
      // A session also on this device or in an imported file counts once: groupTrials keeps
      // the fuller copy (and says so in the import log).
      this.pooled = trials;
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

  /**
   * Every person's trials in the group, each session once (see oneCopyPerSession), decided
   * here, when the group is used: a session can finish on this device after its partial export
   * was imported, so a check at import time alone would count it twice.
   */
  async groupTrials() {
    const human = (trials) => trials.filter((t) => t.observer_kind === 'human');
    const sources = [
      { name: 'this device', trials: human(await this.localTrials()) },
      ...this.imported.map((f) => ({ name: f.name, trials: human(f.trials) })),
      { name: `study ${this.pool?.study ?? ''}`.trim(), trials: human(this.pooled) },
    ];
    const { trials, duplicates } = oneCopyPerSession(sources);
    for (const d of duplicates) {
      const copies = [d.kept, ...d.dropped].map((c) => `${c.name}: ${c.trials} trials`).join('; ');
      const text = `Session ${d.session} is in the group more than once (${copies}); only the copy from ${d.kept.name} counts.`;
      if (!this.logged.has(text)) this.log(text, 'skipped');
    }
    return trials;
  }

  async summarise() {
    this.trials = null; // the group may have changed since the last comparison
    const trials = await this.groupTrials();
    const sessions = new Set(trials.map((t) => t.session_id));
    $('group-summary').textContent = trials.length
      ? `Group: ${sessions.size} participant session(s), ${trials.length} trials.`
      : 'No finished sessions yet: run the experiment (above) or import participants\' files.';
    $('human-compare').disabled = !trials.length;
  }

  async compare() {
    $('human-compare').disabled = true;
    $('compare-status').textContent = 'Working…';
    try {
      const humans = await this.groupTrials();
      const tasks = [...new Set(humans.map((t) => t.task))];
      if (tasks.length > 1) throw new Error(`the group mixes data sets (${tasks.join(', ')}); import one data set's files at a time`);
      // The kept models answer the same stimuli in the worker; their trials stay there and come
      // back only in the group's download.
      const reply = await this.request(this.ToWorker.HUMAN_COMPARE, { trials: humans });
      this.comparison = reply.comparison;
      this.comparedKey = groupKey(humans);
      this.task = tasks[0];
      window.labState.humanComparison = this.comparison;
      window.labState.modelTrialCount = reply.model_trials;
      this.show();
      this.onCompared?.();
      $('compare-status').textContent = reply.models_note ? `${reply.models_note[0].toUpperCase()}${reply.models_note.slice(1)}.` : '';
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
      + `Bootstrap: ${c.bootstrap_resamples} resamples of participants.`
      + (c.mistimed_trials === undefined ? '' : ` ${c.mistimed_trials} of the people's test trials left out: shown more than a frame (${c.frame_ms.toFixed(1)} ms) longer or shorter than requested (a stalled frame or a hidden tab).`);
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

  /** The compared group with the models' trials, or, before a comparison, the people's. */
  async downloadAll() {
    const humans = await this.groupTrials();
    const key = groupKey(humans);
    let csv = null;
    if (this.comparison && key === this.comparedKey) {
      // The worker holds the models' trials; after a restart it has none, and people's go alone.
      csv = await this.request(this.ToWorker.GROUP_CSV).then((r) => r.csv, () => null);
    }
    csv ??= trialsToCsv(humans);
    downloadText(csv, 'human-model-trials.csv', 'text/csv');
  }
}
