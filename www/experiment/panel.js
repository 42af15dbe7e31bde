// Panel 11, "Human experiment": the session set-up form (participant, data set, seed, design),
// the sessions stored on this device with their CSV/JSON exports, and the automatic resume of
// an unfinished session after a reload.
import { ExperimentStore } from './store.js';
import { ExperimentRunner } from './session.js';
import { trialsToCsv, sessionToJson, exportName } from './export.js';
import { escapeHtml } from './timeline.js';
import { downloadText } from '../files.js';

const $ = (id) => document.getElementById(id);

/** Design presets; the noise and duration fields can be edited after choosing one. */
const PRESETS = {
  standard: { noise: '0, 0.3, 0.5, 0.7', durations: '50, 100, 200, unlimited', images_per_class: 1, practice_trials: 6, attention_every: 16, break_every: 60 },
  short: { noise: '0, 0.5', durations: '100, unlimited', images_per_class: 1, practice_trials: 4, attention_every: 10, break_every: 20 },
};

function parseList(text, name, parse) {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new Error(`${name}: give at least one value`);
  return items.map((item) => {
    const value = parse(item);
    if (value === undefined) throw new Error(`${name}: "${item}" is not valid`);
    return value;
  });
}

export class ExperimentPanel {
  /**
   * @param opts {{request: (type, fields) => Promise<msg>, ToWorker, classNames: (task) => string[],
   *   showMessage: (text, kind) => void, onSessionsChanged: () => void}}
   */
  constructor(opts) {
    Object.assign(this, opts);
    this.store = null;
    this.runner = null;
  }

  /** Opens the store and wires the panel; safe to call more than once. */
  init() {
    this.initialized ??= this.setUp();
    return this.initialized;
  }

  async setUp() {
    try {
      this.store = await ExperimentStore.open();
    } catch (err) {
      $('exp-start').disabled = true;
      $('exp-status').textContent = `${err.message}`;
      return;
    }
    this.runner = new ExperimentRunner({
      store: this.store,
      stage: $('experiment-stage'),
      requestStimuli: (design) => this.stimuli(design),
      classNames: this.classNames,
      onFinished: () => this.refresh(),
      onStateChange: () => this.refresh(),
    });
    window.labExperiment = {
      /** The stimulus on screen, for the page's scripted-participant test. */
      current: () => this.runner.current?.stimulus ?? null,
      store: this.store,
    };
    $('exp-preset').addEventListener('change', () => this.applyPreset());
    $('participant-id').value = `P-${Math.random().toString(36).slice(2, 7).toUpperCase()}`;
    $('exp-start').addEventListener('click', () => this.start());
    $('exp-resume').addEventListener('click', async () => {
      const session = await this.store.unfinishedSession();
      if (session) this.launch(() => this.runner.resume(session));
    });
    $('exp-sessions').addEventListener('click', (event) => this.onSessionAction(event));
    await this.refresh();
  }

  /** Called when the worker is ready: resumes an unfinished session at once. */
  async onReady() {
    await this.init();
    this.workerReady = true;
    $('exp-start').disabled = !this.store || this.busy();
    if (!this.store || this.busy()) return;
    const session = await this.store.unfinishedSession();
    if (session && !this.resumedOnce) {
      this.resumedOnce = true;
      this.launch(() => this.runner.resume(session));
    }
  }

  applyPreset() {
    const p = PRESETS[$('exp-preset').value];
    $('exp-noise').value = p.noise;
    $('exp-durations').value = p.durations;
  }

  readDesign() {
    const p = PRESETS[$('exp-preset').value];
    const seed = Number($('exp-seed').value);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error('Stimulus-list seed: enter a whole number ≥ 0');
    const participant = $('participant-id').value.trim();
    if (!participant) throw new Error('Participant id: enter an id (no names, please)');
    return {
      participant,
      design: {
        task: $('exp-task').value,
        seed,
        noise_levels: parseList($('exp-noise').value, 'Noise levels', (s) => {
          const v = Number(s);
          return Number.isFinite(v) && v >= 0 && v <= 1 ? v : undefined;
        }),
        durations_ms: parseList($('exp-durations').value, 'Durations', (s) => {
          if (/^(unlimited|none|∞)$/i.test(s)) return null;
          const v = Number(s);
          return Number.isInteger(v) && v > 0 && v <= 10000 ? v : undefined;
        }),
        images_per_class: p.images_per_class,
        practice_trials: p.practice_trials,
        attention_every: p.attention_every,
        mask_ms: 200,
        break_every: p.break_every,
      },
    };
  }

  async stimuli(design) {
    const reply = await this.request(this.ToWorker.STIMULI, { design });
    return { list: reply.list, pixels: new Uint8Array(reply.pixels) };
  }

  start() {
    let settings;
    try {
      settings = this.readDesign();
    } catch (err) {
      this.showMessage(err.message);
      return;
    }
    this.launch(() => this.runner.start(settings.participant, settings.design));
  }

  /** True from the moment a session is being started or resumed until it ends. */
  busy() {
    return this.launching || !!this.runner?.current;
  }

  /** Runs one session at a time: a second start or resume while one runs is ignored. */
  launch(run) {
    if (this.busy()) return;
    this.launching = true;
    $('exp-start').disabled = true;
    $('exp-resume').hidden = true;
    run().catch((err) => {
      $('experiment-stage').hidden = true;
      document.body.classList.remove('experiment-running');
      this.runner.current = null;
      this.showMessage(`The experiment could not run: ${err.message}. Every finished trial is saved.`);
    }).finally(() => {
      this.launching = false;
      this.refresh();
    });
  }

  async refresh() {
    if (!this.store) return;
    const sessions = await this.store.listSessions();
    const rows = await Promise.all(sessions.map(async (s) => ({ s, n: (await this.store.trialsOf(s.session_id)).length })));
    const table = $('exp-sessions');
    table.replaceChildren();
    if (!rows.length) {
      table.innerHTML = '<tr><td class="hint">No sessions on this device yet.</td></tr>';
    } else {
      table.innerHTML = `<tr><th>participant</th><th>started</th><th>status</th><th>trials</th><th></th></tr>${rows.map(({ s, n }) => `
        <tr data-session="${escapeHtml(s.session_id)}"><td>${escapeHtml(s.participant_id)}</td><td>${escapeHtml(s.created.slice(0, 16).replace('T', ' '))}</td>
        <td>${s.status}</td><td>${n}</td><td class="actions">
        <button type="button" data-action="csv">CSV</button><button type="button" data-action="json">JSON</button>
        <button type="button" data-action="delete" class="secondary">Delete</button></td></tr>`).join('')}`;
    }
    const unfinished = sessions.find((s) => s.status === 'running');
    $('exp-resume').hidden = !unfinished || this.busy();
    $('exp-start').disabled = this.busy() || !this.workerReady;
    this.onSessionsChanged();
  }

  /** The trials of every finished session on this device, for the comparison. */
  async finishedTrials() {
    if (!this.store) return [];
    const sessions = (await this.store.listSessions()).filter((s) => s.status === 'complete');
    return (await Promise.all(sessions.map((s) => this.store.trialsOf(s.session_id)))).flat();
  }

  async onSessionAction(event) {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const id = button.closest('tr').dataset.session;
    const session = await this.store.getSession(id);
    const trials = await this.store.trialsOf(id);
    if (button.dataset.action === 'csv') downloadText(trialsToCsv(trials), exportName(session, 'csv'), 'text/csv');
    if (button.dataset.action === 'json') downloadText(sessionToJson(session, trials), exportName(session, 'json'), 'application/json');
    if (button.dataset.action === 'delete') {
      if (!confirm(`Delete the session of ${session.participant_id} (${trials.length} trials) from this device? Export it first if you need it.`)) return;
      await this.store.deleteSession(id);
      await this.refresh();
    }
  }
}
