// The experiment's jsPsych timeline, in the order researchers expect: information and consent,
// instructions, practice trials with feedback, then the test trials without feedback, with
// attention checks (clean, untimed images, already placed in the stimulus list) and breaks.
// A resumed session starts with a "welcome back" screen and skips everything already done.
import { DigitTrialPlugin } from './digit-trial.js';

const HtmlButton = () => jsPsychHtmlButtonResponse;
const Instructions = () => jsPsychInstructions;

/**
 * @param ctx {{session, list, pixels: Uint8Array, done: Set<number>, classNames: string[],
 *   saveTrial: (stimulus, data) => Promise<void>, updateSession: (patch) => Promise<void>,
 *   onDecline: () => void}}
 */
export function buildTimeline(jsPsych, ctx) {
  const { session, list, pixels, done, classNames } = ctx;
  const design = list.design;
  const timeline = [];
  const total = list.stimuli.length;

  // A session with saved trials was consented to (ExperimentRunner.run restores a lost flag):
  // it is never asked again, so a decline can never be about answers already given.
  if (!session.consented && !done.size) {
    timeline.push(consentTrial(jsPsych, {
      design, total, participant: session.participant_id, privacy: ctx.privacy,
      onAgree: () => ctx.updateSession({ consented: true, consented_at: new Date().toISOString() }),
      onDecline: ctx.onDecline,
    }));
  } else if (done.size || (session.resumed || []).length) {
    timeline.push({
      type: HtmlButton(),
      stimulus: `<div class="exp-text"><h2>Welcome back</h2><p>This is the session of participant
        <b>${escapeHtml(session.participant_id)}</b>. You have done ${done.size} of ${total}
        images. The study continues where it stopped.</p></div>`,
      choices: ['Continue'],
      data: { screen: 'resume' },
    });
  }

  if (!session.instructions_done) {
    const names = classNames.map((n, k) => `${k} = ${escapeHtml(n)}`).join(', ');
    timeline.push({
      type: Instructions(),
      pages: [
        `<div class="exp-text"><h2>How it works</h2><p>Each trial starts with a <b>+</b> in the middle of the
          square. Then an image appears, sometimes only for a split second and followed by a pattern of
          black and white dots, sometimes until you answer. Many images are noisy on purpose.</p></div>`,
        `<div class="exp-text"><h2>Your answer</h2><p>Say what the image shows by typing the key
          <b>0–9</b> or tapping its button. ${design.task === 'mnist' ? '' : `The classes: ${names}.`}
          Answer as accurately as you can; when unsure, make your best guess. Speed matters less.</p>
          <p>First come ${design.practice_trials} practice images, with feedback.</p></div>`,
      ],
      show_clickable_nav: true,
      button_label_next: 'Next',
      button_label_previous: 'Back',
      data: { screen: 'instructions' },
      on_finish: () => ctx.updateSession({ instructions_done: true }),
    });
  }

  const remaining = list.stimuli.filter((s) => !done.has(s.stimulus_index));
  const practice = remaining.filter((s) => s.phase === 'practice');
  const measured = remaining.filter((s) => s.phase !== 'practice');
  const firstMeasured = list.stimuli.findIndex((s) => s.phase !== 'practice');

  const trialOf = (s) => ({
    type: DigitTrialPlugin,
    stimulus: s,
    pixels: pixels.subarray(784 * s.stimulus_index, 784 * (s.stimulus_index + 1)),
    mask_ms: design.mask_ms,
    feedback: s.phase === 'practice',
    choices: classNames,
    save: (data) => ctx.saveTrial(s, data),
    progress_text: `${s.stimulus_index + 1} / ${total}${s.phase === 'practice' ? ' · practice' : ''}`,
    data: { screen: 'trial' },
  });

  for (const s of practice) timeline.push(trialOf(s));
  if (measured.length && practice.length) {
    timeline.push({
      type: HtmlButton(),
      stimulus: `<div class="exp-text"><h2>Practice done</h2><p>Now the real trials begin. From here on
        there is no feedback. Keep your eyes on the <b>+</b>.</p></div>`,
      choices: ['Start'],
      data: { screen: 'practice-end' },
    });
  }
  measured.forEach((s, k) => {
    const position = s.stimulus_index - firstMeasured;
    if (k > 0 && design.break_every > 0 && position > 0 && position % design.break_every === 0) {
      timeline.push({
        type: HtmlButton(),
        stimulus: `<div class="exp-text"><h2>Short break</h2><p>You have done ${s.stimulus_index} of ${total}.
          Rest your eyes, then continue when ready.</p></div>`,
        choices: ['Continue'],
        data: { screen: 'break' },
      });
    }
    timeline.push(trialOf(s));
  });
  timeline.push({
    type: HtmlButton(),
    stimulus: () => `<div class="exp-text"><h2>Thank you!</h2><p>You have finished. ${ctx.summary()}</p></div>`,
    choices: ['Finish'],
    data: { screen: 'end' },
  });
  return timeline;
}

/** What the consent screen says about the data when the lab keeps it on this device. */
export const LOCAL_PRIVACY = `The data are stored in this browser until the person running the study exports them.`;

/**
 * The information and consent screen. `onAgree` runs on "I agree"; on "I do not agree" the
 * experiment ends with a thank-you and `onDecline` runs.
 */
export function consentTrial(jsPsych, { design, total, participant, privacy = LOCAL_PRIVACY, onAgree, onDecline }) {
  return {
    type: HtmlButton(),
    stimulus: `<div class="exp-text"><h2>Recognising degraded ${design.task === 'mnist' ? 'digits' : 'pictures'}</h2>
      <p>This short study asks you to name images that are shown briefly and with visual noise.
      It takes about ${Math.max(1, Math.round(total * 2.2 / 60))} minutes (${total} images).</p>
      <p>We record your answers, how quickly you give them, and technical details of your browser and
      screen (for timing). No name, e-mail or other identifying data are recorded. ${privacy}
      You may stop at any time by closing the page; taking part is voluntary.</p>
      ${participant ? `<p>Participant: <b>${escapeHtml(participant)}</b></p>` : ''}</div>`,
    choices: ['I agree to take part', 'I do not agree'],
    data: { screen: 'consent' },
    on_finish: (data) => {
      if (data.response === 0) {
        onAgree();
      } else {
        onDecline();
        jsPsych.abortExperiment('<div class="exp-text"><p>Thank you. Nothing was recorded.</p></div>');
      }
    },
  };
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
