// Participant mode: the page opened from a study link (`/?study=ID`, optionally with Prolific's
// PROLIFIC_PID, STUDY_ID and SESSION_ID). Only the experiment is shown. The session is created
// on the collection server after consent; every trial is saved on this device first and then
// sent (collect.js); the completion link opens only once the server confirms every trial.
// One session runs in one tab (Web Locks). A reload resumes the same participant's session and
// sends what is still unsent; a finished or withdrawn session is never resumed, and a visitor
// whose link names another participant never sees someone else's session.
import { ExperimentRunner, estimateRefreshRate, sessionRecord } from './session.js';
import { CollectionClient, NetworkError, TrialSender, statusText } from './collect.js';
import { consentTrial, escapeHtml } from './timeline.js';

const PRIVACY = `Your answers are sent to the study's server as you go; neither your IP address nor
  your browser's name is stored there. You can withdraw at any time with the "Withdraw" button,
  which deletes your answers from the server.`;

/** The link's query parameters, without the lab's own `study`. */
function linkParams() {
  const params = Object.fromEntries(new URLSearchParams(location.search));
  delete params.study;
  return params;
}

export class ParticipantMode {
  /**
   * @param opts {{studyId, store, stage, statusBox, notice, requestStimuli, classNames}}
   */
  constructor(opts) {
    Object.assign(this, opts);
    this.client = new CollectionClient();
    this.sender = null;
    this.params = linkParams();
    this.linkParticipant = this.params.PROLIFIC_PID || this.params.participant || null;
  }

  /** Shows a message in place of the experiment. */
  say(html, { retry = false } = {}) {
    this.notice = { html, retry };
    this.stage.hidden = false;
    this.stage.innerHTML = `<div class="exp-text participant-notice">${html}</div>`;
    if (retry) {
      const button = document.createElement('button');
      button.textContent = 'Try again';
      button.className = 'jspsych-btn';
      button.addEventListener('click', () => location.reload());
      this.stage.querySelector('.exp-text').append(button);
    }
    document.body.dataset.participantState = 'notice';
  }

  /** Storage or another unexpected failure: say so, keep what is saved, offer a reload. */
  failed(err) {
    this.say(`<h2>Something went wrong</h2><p>${escapeHtml(err.message)}. Every saved answer is kept on this
      device; reloading the page continues.</p>`, { retry: true });
  }

  setStatus(status) {
    this.statusBox.hidden = false;
    this.statusBox.textContent = statusText(status);
    this.statusBox.dataset.pending = String(status.pending);
    this.statusBox.dataset.offline = String(status.offline);
  }

  /**
   * Holds this study's lock for as long as the tab lives; false if another tab has it. A page
   * being reloaded may still hold it for a moment, so a busy lock is asked for a few times.
   */
  async lock() {
    if (!navigator.locks) return true;
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const got = await new Promise((resolve) => {
        navigator.locks.request(`microlearning-study-${this.studyId}`, { ifAvailable: true }, (lock) => {
          resolve(!!lock);
          return lock ? new Promise(() => {}) : undefined; // held until the tab closes
        });
      });
      if (got) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  }

  async start() {
    document.body.classList.add('participant-mode', 'experiment-running');
    if (!(await this.lock())) {
      this.say('<h2>Already open</h2><p>This study is already open in another tab or window of this browser. Please continue there and close this one.</p>');
      return;
    }
    const local = (await this.store.sessionsOfStudy(this.studyId))
      .filter((s) => !this.linkParticipant || s.participant_id === this.linkParticipant);
    // A withdrawal the server did not confirm (offline) is finished before anything else.
    const withdrawing = local.find((s) => s.withdraw_pending && s.status !== 'withdrawn' && s.token);
    if (withdrawing) return this.withdraw(withdrawing, { confirmed: true });
    const unfinished = local.find((s) => s.status === 'running' && s.token);
    const unsubmitted = local.find((s) => s.status === 'complete' && !s.submitted && s.token);
    if (unfinished) return this.resume(unfinished);
    if (unsubmitted) return this.submit(unsubmitted);
    if (local.some((s) => s.submitted) && this.linkParticipant) {
      const done = local.find((s) => s.submitted);
      this.say(`<h2>Thank you</h2><p>Participant <b>${escapeHtml(done.participant_id)}</b> has finished this study on this device.</p>`);
      return;
    }
    return this.fresh();
  }

  /** A new participant: the study's design, consent, then a session on the server. */
  async fresh() {
    let study;
    try {
      study = await this.client.study(this.studyId);
    } catch (err) {
      this.say(`<h2>The study cannot start</h2><p>${escapeHtml(err.message)}. Check your connection.</p>`, { retry: true });
      return;
    }
    if (study.status === 404) {
      this.say('<h2>Unknown study</h2><p>This link does not name a study on this server. Please check the link you were given.</p>');
      return;
    }
    if (study.status !== 200) {
      this.say(`<h2>The study cannot start</h2><p>${escapeHtml(study.data.error || `the server answered ${study.status}`)}</p>`, { retry: true });
      return;
    }
    if (!study.data.open) {
      this.say(`<h2>This study is ${study.data.closed ? 'closed' : 'full'}</h2><p>It takes no new participants. Thank you for your interest.</p>`);
      return;
    }
    const design = study.data.design;
    const agreed = await this.consent(design, study.data.trials);
    if (!agreed) return;
    // Measured before the session exists: nothing may stand between the server's reply and
    // saving it (a background tab gets no animation frames).
    const refresh = await estimateRefreshRate();
    // A secret kept before asking: if the reply is lost, asking again with it returns the same
    // session rather than "already taken part".
    const keyName = `microlearning-resume-${this.studyId}-${this.linkParticipant || ''}`;
    let resumeKey = localStorage.getItem(keyName);
    if (!resumeKey) {
      resumeKey = Array.from(crypto.getRandomValues(new Uint8Array(20)), (b) => b.toString(16).padStart(2, '0')).join('');
      localStorage.setItem(keyName, resumeKey);
    }
    let reply;
    try {
      reply = await this.client.startSession(this.studyId, {
        participant: this.linkParticipant, url_params: this.params, consent: true, resume_key: resumeKey,
      });
    } catch (err) {
      this.say(`<h2>The study cannot start</h2><p>${escapeHtml(err.message)}. Nothing was recorded.</p>`, { retry: true });
      return;
    }
    if (reply.status === 409) {
      this.say(`<h2>Already taken part</h2><p>${escapeHtml(reply.data.error)}. Each person takes part once.</p>`);
      return;
    }
    if (reply.status !== 201 && reply.status !== 200) {
      this.say(`<h2>The study cannot start</h2><p>${escapeHtml(reply.data.error || `the server answered ${reply.status}`)}</p>`, { retry: reply.status >= 500 });
      return;
    }
    const session = sessionRecord({
      session_id: reply.data.session, participant_id: reply.data.participant, study: this.studyId,
      token: reply.data.token, consented: true, consented_at: new Date().toISOString(), url_params: this.params,
    }, design, refresh);
    await this.store.putSession(session);
    return this.run(session, () => this.runner.run(session));
  }

  /** The consent screen, run through jsPsych on its own before any session exists. */
  consent(design, total) {
    return new Promise((resolve) => {
      let agreed = false;
      this.stage.hidden = false;
      this.stage.replaceChildren();
      const jsPsych = initJsPsych({ display_element: this.stage, on_finish: () => resolve(agreed) });
      jsPsych.run([consentTrial(jsPsych, {
        design, total, participant: this.linkParticipant, privacy: PRIVACY,
        onAgree: () => { agreed = true; },
        onDecline: () => { document.body.dataset.participantState = 'declined'; },
      })]);
    });
  }

  /** Reopened page: resend what the server lacks, then continue where it stopped. */
  async resume(session) {
    try {
      const reply = await this.client.session(session.session_id, session.token);
      if (reply.status === 410 || reply.data.status === 'withdrawn') {
        await this.store.withdrawSession(session.session_id);
        return this.fresh();
      }
      if ([401, 403, 404].includes(reply.status)) {
        this.say(`<h2>This session cannot go on</h2><p>The study's server no longer knows this session
          (${escapeHtml(reply.data.error || reply.status)}). Your answers so far are kept on this device;
          please contact the study's team.</p>`);
        return;
      }
      if (reply.status === 200) {
        const onServer = new Set(reply.data.stored);
        const missing = (await this.store.trialsOf(session.session_id)).filter((r) => !onServer.has(r.stimulus_index));
        if (missing.length) await this.store.requeue(missing);
        if (reply.data.status === 'complete') {
          await this.store.updateSession(session.session_id, { status: 'complete' });
          return this.submit({ ...session, status: 'complete' });
        }
      }
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      // Offline: carry on; the answers are kept and sent later.
    }
    return this.run(session, () => this.runner.resume(session));
  }

  startSender(session) {
    this.sender?.stop();
    this.sender = new TrialSender({
      client: this.client, store: this.store, session,
      onStatus: (status) => this.setStatus(status),
      onRejected: (row, reply) => console.warn(`trial ${row.stimulus_index} refused: ${reply.data.error}`),
    });
    return this.sender.start();
  }

  async run(session, go) {
    await this.startSender(session);
    this.addWithdraw(session);
    this.runner = new ExperimentRunner({
      store: this.store,
      stage: this.stage,
      requestStimuli: this.requestStimuli,
      classNames: this.classNames,
      outbox: true,
      privacy: PRIVACY,
      onTrialSaved: (row) => { if (!this.withdrawn) this.sender.queued(row); },
      onStateChange: () => {},
      onFinished: (finished) => {
        // After a withdrawal the experiment was aborted: keep its message on screen.
        if (this.withdrawn) this.say(this.notice.html, { retry: this.notice.retry });
        else if (!finished.declined) this.submit(session).catch((err) => this.failed(err));
      },
    });
    window.labExperiment = { current: () => this.runner?.current?.stimulus ?? null, store: this.store, mode: 'participant' };
    document.body.dataset.participantState = 'running';
    await go();
  }

  addWithdraw(session) {
    this.withdrawButton?.remove();
    const button = document.createElement('button');
    button.type = 'button';
    button.id = 'withdraw';
    button.className = 'withdraw';
    button.textContent = 'Withdraw and delete my answers';
    button.addEventListener('click', () => this.withdraw(session).catch((err) => this.failed(err)));
    document.body.append(button);
    this.withdrawButton = button;
  }

  async withdraw(session, { confirmed = false } = {}) {
    if (!confirmed && !confirm('Withdraw from the study? Your answers will be deleted from the server and from this device.')) return;
    this.withdrawn = true;
    if (this.runner) this.runner.stopped = true; // no trial is saved from now on
    this.sender?.stop();
    this.say('<h2>Withdrawing…</h2><p>Deleting your answers.</p>');
    // Kept on the device first: if the page closes before the server confirms, the next visit
    // finishes the withdrawal instead of resuming or submitting the session.
    await this.store.updateSession(session.session_id, { withdraw_pending: true });
    this.runner?.current?.jsPsych?.abortExperiment();
    try {
      const reply = await this.client.withdraw(session.session_id, session.token);
      if (reply.status !== 200 && reply.status !== 410) throw new Error(reply.data.error || `the server answered ${reply.status}`);
    } catch (err) {
      this.say(`<h2>Withdrawal not confirmed</h2><p>${escapeHtml(err.message)}. Your answers are still stored; reload this page when online and the withdrawal will be finished.</p>`, { retry: true });
      return;
    }
    await this.store.withdrawSession(session.session_id);
    this.withdrawButton?.remove();
    this.statusBox.hidden = true;
    this.say('<h2>Withdrawn</h2><p>Your answers have been deleted. Thank you for your time.</p>');
    document.body.dataset.participantState = 'withdrawn';
  }

  /** After the last trial: send everything, ask the server to confirm, then redirect. */
  async submit(session) {
    this.withdrawButton?.remove();
    if (!this.sender) await this.startSender(session);
    this.say('<h2>Saving your answers…</h2><p>Please keep this page open until this message changes.</p>');
    document.body.dataset.participantState = 'submitting';
    const pause = (attempt) => new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2)));
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.sender.drain();
      } catch {
        return; // stopped: the participant withdrew meanwhile
      }
      let reply;
      try {
        reply = await this.client.complete(session.session_id, session.token);
      } catch {
        await pause(attempt);
        continue;
      }
      if (reply.status === 200) {
        await this.store.updateSession(session.session_id, { status: 'complete', submitted: new Date().toISOString() });
        this.sender.stop();
        this.setStatus({ pending: 0, offline: false });
        document.body.dataset.participantState = 'done';
        const url = reply.data.completion_url;
        if (url) {
          this.say('<h2>Thank you!</h2><p>All your answers are saved. Taking you back to the study site…</p>');
          location.assign(url);
        } else {
          this.say('<h2>Thank you!</h2><p>All your answers are saved. You can close this page now.</p>');
        }
        return;
      }
      if (reply.status >= 500 || reply.status === 408 || reply.status === 429) {
        await pause(attempt);
        continue;
      }
      if (reply.status === 410) {
        await this.store.withdrawSession(session.session_id);
        this.say('<h2>Withdrawn</h2><p>This session was withdrawn; its answers were deleted.</p>');
        return;
      }
      if (reply.status === 409 && Array.isArray(reply.data.missing)) {
        const missing = reply.data.missing;
        const refused = missing.filter((i) => this.sender.refused.has(i));
        if (refused.length) {
          const why = this.sender.refused.get(refused[0]).data.error;
          this.say(`<h2>Some answers were not accepted</h2><p>The study's server refused ${refused.length} of your answers
            (${escapeHtml(why || 'no reason given')}). They are kept on this device; please contact the study's team.</p>`);
          return;
        }
        const wanted = new Set(missing);
        const rows = (await this.store.trialsOf(session.session_id)).filter((r) => wanted.has(r.stimulus_index));
        if (rows.length < wanted.size) {
          this.say(`<h2>Some answers are missing</h2><p>${wanted.size - rows.length} answers are neither on the server nor on this device. Please contact the study's team.</p>`);
          return;
        }
        await this.store.requeue(rows);
        for (const row of rows) this.sender.queued(row);
        await pause(attempt);
        continue;
      }
      this.say(`<h2>Could not finish</h2><p>${escapeHtml(reply.data.error || `the server answered ${reply.status}`)}</p>`, { retry: true });
      return;
    }
  }
}
