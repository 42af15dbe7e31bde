// Runs one participant's session: gets the stimulus list and its pixels from the worker (the
// library draws them from the seed, so a resumed session sees exactly the same images), builds
// the jsPsych timeline, saves every trial to IndexedDB as it ends, and resumes an unfinished
// session after a reload where it stopped.
import { buildTimeline } from './timeline.js';
import { askPersistentStorage } from './store.js';

/**
 * ms since the session started, over all its sittings: `elapsed_offset_ms` is where this
 * sitting began (see ExperimentRunner.run), so the count goes on across a reload and never
 * goes back. The time the page was closed is not counted.
 */
function elapsed(session) {
  return Math.round((session.elapsed_offset_ms || 0) + performance.now() - session.page_started);
}

/** The session-wide fields of every trial row (see export.js for the column list). */
function rowOf(session, stimulus, data, jsPsych) {
  return {
    participant_id: session.participant_id,
    session_id: session.session_id,
    observer_kind: 'human',
    rule: null,
    front_end: null,
    task: session.task,
    list_seed: session.list_seed,
    trial_index: jsPsych.getProgress().current_trial_global,
    trial_type: 'digit-trial',
    time_elapsed: elapsed(session),
    phase: stimulus.phase,
    stimulus_index: stimulus.stimulus_index,
    test_index: stimulus.test_index,
    label: stimulus.label,
    noise_sigma: stimulus.noise_sigma,
    noise_seed: stimulus.noise_seed,
    requested_duration_ms: stimulus.duration_ms,
    measured_duration_ms: data.measured_duration_ms,
    response: data.response,
    rt: data.rt,
    correct: data.correct,
    saved_at: new Date().toISOString(),
  };
}

/** The median frame interval over ~40 animation frames, as a refresh-rate estimate (Hz). */
export function estimateRefreshRate(frames = 40) {
  return new Promise((resolve) => {
    const stamps = [];
    const step = (t) => {
      stamps.push(t);
      if (stamps.length > frames) {
        const gaps = stamps.slice(1).map((s, i) => s - stamps[i]).sort((a, b) => a - b);
        const median = gaps[Math.floor(gaps.length / 2)];
        resolve({ hz: Math.round(10000 / median) / 10, median_frame_ms: median });
      } else requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
}

/**
 * A new session record for the store: the design, the screen and its refresh estimate, and
 * `fields` (session_id, participant_id and whatever the mode adds).
 */
export function sessionRecord(fields, design, refresh) {
  return {
    task: design.task,
    list_seed: design.seed,
    design,
    created: new Date().toISOString(),
    status: 'running',
    consented: false,
    instructions_done: false,
    screen: { width: screen.width, height: screen.height, device_pixel_ratio: devicePixelRatio },
    refresh_hz_estimate: refresh.hz,
    median_frame_ms: refresh.median_frame_ms,
    resumed: [],
    ...fields,
  };
}

function newId() {
  return self.crypto?.randomUUID ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export class ExperimentRunner {
  /**
   * @param opts {{store, stage: HTMLElement, requestStimuli: (design) => Promise<{list, pixels}>,
   *   classNames: (task) => string[], onFinished: (session) => void, onStateChange: () => void,
   *   outbox?: boolean, onTrialSaved?: (row) => void, privacy?: string}}
   *   `outbox`: queue every saved trial for the collection server (participant mode).
   */
  constructor(opts) {
    Object.assign(this, opts);
    this.current = null; // {session, list, stimulus}
  }

  /** A new session for `participantId` with `design`. */
  async start(participantId, design) {
    const refresh = await estimateRefreshRate();
    const session = sessionRecord({ session_id: newId(), participant_id: participantId, browser: navigator.userAgent }, design, refresh);
    await this.store.putSession(session);
    return this.run(session);
  }

  /** Continues a stored, unfinished session. */
  async resume(session) {
    const resumed = [...(session.resumed || []), new Date().toISOString()];
    return this.run(await this.store.updateSession(session.session_id, { resumed }));
  }

  async run(session) {
    const { list, pixels } = await this.requestStimuli(session.design);
    if (list.stimuli.length === 0) throw new Error('the stimulus list is empty');
    const id = session.session_id;
    const saved = await this.store.trialsOf(id);
    const done = new Set(saved.map((r) => r.stimulus_index));
    // This sitting's clock starts where the session's stopped: the latest time it recorded (a
    // trial, or the elapsed time kept when the page was last hidden or closed).
    const patch = {
      elapsed_offset_ms: Math.max(session.elapsed_ms || 0, session.elapsed_offset_ms || 0, ...saved.map((r) => r.time_elapsed || 0)),
    };
    // Saved trials prove that consent was given (none is saved before it; a study's server
    // opens a session only after it): a lost flag must not bring the consent screen back,
    // where "I do not agree" would read as a withdrawal of answers given under consent.
    if (!session.consented && (saved.length || session.token)) {
      patch.consented = true;
      patch.consent_restored = { at: new Date().toISOString(), saved_trials: saved.length };
      console.warn(`session ${id}: the consent flag was missing (${saved.length} trials saved${session.token ? ', a session on the study\'s server' : ''}); restored, not asked again`);
    }
    Object.assign(session, await this.store.updateSession(id, patch));
    session.page_started = performance.now();
    // Once per session: ask the browser to keep the data under storage pressure, and record its
    // answer when it comes (a permission prompt must not hold up the experiment).
    if (session.storage_persistence === undefined) {
      askPersistentStorage().then((answer) => this.store.updateSession(id, { storage_persistence: answer })).catch(() => {});
    }
    const keepElapsed = () => { this.store.updateSession(id, { elapsed_ms: elapsed(session) }).catch(() => {}); };
    const onHide = () => { if (document.visibilityState === 'hidden') keepElapsed(); };
    addEventListener('pagehide', keepElapsed);
    document.addEventListener('visibilitychange', onHide);
    this.stopClock = () => {
      removeEventListener('pagehide', keepElapsed);
      document.removeEventListener('visibilitychange', onHide);
    };
    this.stage.hidden = false;
    this.stage.replaceChildren();
    document.body.classList.add('experiment-running');
    let correct = 0;
    let answered = 0;
    const jsPsych = initJsPsych({
      display_element: this.stage,
      on_finish: () => this.finish(session, list),
    });
    this.current = { session, list, stimulus: null, jsPsych };
    const timeline = buildTimeline(jsPsych, {
      session,
      list,
      pixels,
      done,
      classNames: this.classNames(session.task),
      privacy: this.privacy,
      saveTrial: async (stimulus, data) => {
        if (this.stopped) return; // withdrawn meanwhile: nothing more is kept
        const row = rowOf(session, stimulus, data, jsPsych);
        await this.store.saveTrial(row, { outbox: !!this.outbox });
        this.onTrialSaved?.(row);
        if (stimulus.phase !== 'practice') { answered += 1; correct += data.correct ? 1 : 0; }
      },
      updateSession: (fields) => this.store.updateSession(id, { ...fields, elapsed_ms: elapsed(session) }).catch(() => {}),
      onDecline: () => { session.declined = true; },
      summary: () => (answered ? `You named ${correct} of the ${answered} images of this sitting correctly.` : ''),
    });
    // Which stimulus is on screen, for the page's own tests of a scripted participant.
    const trials = timeline.filter((t) => t.stimulus && t.stimulus.stimulus_index !== undefined);
    for (const t of trials) {
      const s = t.stimulus;
      t.on_start = () => { this.current.stimulus = s; };
    }
    this.onStateChange();
    await jsPsych.run(timeline);
  }

  async finish(session, list) {
    this.stopClock?.();
    if (session.declined) {
      // A decline deletes what it can only be about: a session with no answer yet. Answers
      // saved under an earlier consent are never deleted by it (the timeline does not ask again
      // once trials are saved; this guards the rule); the session just never resumes.
      const rows = await this.store.trialsOf(session.session_id);
      if (rows.length) await this.store.updateSession(session.session_id, { status: 'declined', declined: new Date().toISOString() });
      else await this.store.deleteSession(session.session_id);
    } else {
      const rows = await this.store.trialsOf(session.session_id);
      const complete = rows.length >= list.stimuli.length;
      if (complete) await this.store.updateSession(session.session_id, { status: 'complete', completed: new Date().toISOString() });
    }
    this.current = null;
    // The end screen (or the decline message) stays until the participant dismisses it.
    const close = document.createElement('button');
    close.textContent = 'Close';
    close.className = 'exp-close';
    close.addEventListener('click', () => {
      this.stage.hidden = true;
      this.stage.replaceChildren();
      document.body.classList.remove('experiment-running');
      this.onStateChange();
    });
    if (session.declined) this.stage.append(close);
    else close.click();
    this.onFinished(session);
  }
}
