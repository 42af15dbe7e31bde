// JATOS mode: the page runs as a JATOS study component (jatos.js loaded before the page's
// scripts; `bash scripts/package_jatos.sh` builds the study). The design comes from the
// component's or study's JSON input (`{"design": {...}, "completion_url": "..."}`), else the
// standard design. Every trial is saved in this browser (IndexedDB) and appended to the JATOS
// result with `jatos.appendResultData` (one JSON row per line) as it ends; at the end the whole
// session file is submitted with `jatos.submitResultData` (it replaces the appended rows), then
// `jatos.endStudyAndRedirect` (or `jatos.endStudy`). `microlearning human-compare` reads a JATOS
// result file either way: session files, or the rows of a participant who left early.
import { ExperimentRunner, estimateRefreshRate, sessionRecord } from './session.js';
import { sessionToJson } from './export.js';

/** The library's `StimulusDesign::new(Task::Mnist, 1)`: 160 test trials. */
export const STANDARD_DESIGN = {
  task: 'mnist', seed: 1, noise_levels: [0, 0.3, 0.5, 0.7], durations_ms: [50, 100, 200, null],
  images_per_class: 1, practice_trials: 6, attention_every: 16, mask_ms: 200, break_every: 60,
};

const PRIVACY = 'Your answers are sent to the study\'s JATOS server as you go.';

export class JatosMode {
  /** @param opts {{jatos, store, stage, requestStimuli, classNames, showMessage}} */
  constructor(opts) {
    Object.assign(this, opts);
  }

  async start() {
    const { jatos } = this;
    document.body.classList.add('participant-mode', 'experiment-running');
    await new Promise((resolve) => jatos.onLoad(resolve));
    const input = { ...(jatos.studyJsonInput || {}), ...(jatos.componentJsonInput || {}) };
    const design = input.design || STANDARD_DESIGN;
    const params = jatos.urlQueryParameters || {};
    const participant = String(params.PROLIFIC_PID || params.participant || jatos.workerId || 'jatos');
    const id = `jatos-${jatos.studyResultId}-${jatos.componentResultId}`;
    let session = await this.store.getSession(id);
    const resuming = session && session.status === 'running';
    if (!session) {
      const refresh = await estimateRefreshRate();
      session = sessionRecord({
        session_id: id, participant_id: participant, url_params: params,
        jatos: { study_result: jatos.studyResultId, worker: jatos.workerId },
      }, design, refresh);
      await this.store.putSession(session);
    }
    this.runner = new ExperimentRunner({
      store: this.store, stage: this.stage, requestStimuli: this.requestStimuli, classNames: this.classNames,
      privacy: PRIVACY,
      onTrialSaved: (row) => jatos.appendResultData(`${JSON.stringify(row)}\n`).catch?.(() => {}),
      onStateChange: () => {},
      onFinished: (finished) => this.finish(finished, input),
    });
    window.labExperiment = { current: () => this.runner?.current?.stimulus ?? null, store: this.store, mode: 'jatos' };
    document.body.dataset.participantState = 'running';
    if (resuming) await this.runner.resume(session);
    else await this.runner.run(session);
  }

  async finish(session, input) {
    const { jatos } = this;
    const stored = await this.store.getSession(session.session_id);
    const rows = await this.store.trialsOf(session.session_id);
    if (session.declined && !rows.length) {
      // Nothing was answered: the (empty) result replaces nothing.
      await jatos.submitResultData('');
      jatos.endStudy(false, 'declined consent');
      return;
    }
    if (session.declined) {
      // Answers given under an earlier consent stay with JATOS: submitting '' would erase them.
      await jatos.submitResultData(sessionToJson(stored, rows));
      jatos.endStudy(false, 'declined to go on; earlier answers kept');
      return;
    }
    document.body.dataset.participantState = 'submitting';
    await jatos.submitResultData(sessionToJson(stored, rows));
    document.body.dataset.participantState = 'done';
    if (input.completion_url) jatos.endStudyAndRedirect(input.completion_url, true, 'finished');
    else jatos.endStudy(true, 'finished');
  }
}
