// A jsPsych plugin for one recognition trial: fixation, a degraded image for a set duration
// (then a noise mask) or until the response, and a 0–9 answer by key or on-screen button.
//
// Timing: every change of the display happens inside a requestAnimationFrame callback, and the
// times recorded are those callbacks' frame timestamps (the same clock as performance.now()).
// The stimulus goes off on the first frame at which it has been up for at least the requested
// duration less half a frame, so a 50 ms request at 60 Hz is 3 frames. The measured duration
// (mask frame − stimulus frame; for an unlimited stimulus, answer − stimulus frame) is saved
// with every trial; the reaction time runs from the stimulus frame to the key or button press.
// The mask then stays for `mask_ms` from its own first frame, whenever the answer comes: an
// answer during the stimulus or the mask waits for the mask to finish, so every timed trial
// gets the same masking. The stimulus appears, and goes off, only on a visible page: a hidden
// tab gets no frames (or, in some browsers, frames nobody sees), so a trial hidden while its
// image was up keeps it up until the page is shown again, and its measured duration says how
// long that was. The comparison leaves such trials out (crate/src/human/comparison.rs).
//
// The trial is saved (the `save` callback, IndexedDB) *before* jsPsych moves on, so a trial that
// the participant saw end is never lost.

const { ParameterType } = jsPsychModule;

const FIXATION_MS = 400;
const FEEDBACK_MS = 700;
const SIZE = 28;

const info = {
  name: 'digit-trial',
  version: '1.0.0',
  parameters: {
    /** The stimulus record: {stimulus_index, phase, test_index, label, noise_sigma, noise_seed, duration_ms}. */
    stimulus: { type: ParameterType.OBJECT, default: undefined },
    /** 784 bytes, 0..255, row-major 28×28. */
    pixels: { type: ParameterType.OBJECT, default: undefined },
    mask_ms: { type: ParameterType.INT, default: 200 },
    feedback: { type: ParameterType.BOOL, default: false },
    /** Button captions, one per class. */
    choices: { type: ParameterType.STRING, array: true, default: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] },
    /** Called with the trial's data; jsPsych moves on once the returned promise resolves. */
    save: { type: ParameterType.FUNCTION, default: async () => {} },
    /** Where the trial stands (for the page's progress line). */
    progress_text: { type: ParameterType.STRING, default: '' },
  },
  data: {
    response: { type: ParameterType.INT },
    rt: { type: ParameterType.FLOAT },
    correct: { type: ParameterType.BOOL },
    measured_duration_ms: { type: ParameterType.FLOAT },
    /** Mask frame to the first frame after it (timed trials). */
    measured_mask_ms: { type: ParameterType.FLOAT },
  },
};

function imageData(context, pixels) {
  const image = context.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i += 1) {
    const v = pixels[i];
    image.data.set([v, v, v, 255], 4 * i);
  }
  return image;
}

/** A random-pixel mask (the same statistics for every trial; a fresh pattern each time). */
function maskData(context) {
  const image = context.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i += 1) {
    const v = Math.random() < 0.5 ? 0 : 255;
    image.data.set([v, v, v, 255], 4 * i);
  }
  return image;
}

export class DigitTrialPlugin {
  static info = info;

  constructor(jsPsych) {
    this.jsPsych = jsPsych;
  }

  trial(display, trial) {
    const s = trial.stimulus;
    display.innerHTML = `
      <div class="trial" data-state="fixation" data-phase="${s.phase}">
        <p class="trial-progress">${trial.progress_text}</p>
        <div class="trial-screen"><canvas width="${SIZE}" height="${SIZE}"></canvas><span class="fixation">+</span></div>
        <p class="trial-feedback" aria-live="polite"></p>
        <div class="trial-buttons">${trial.choices.map((c, k) => `<button type="button" data-choice="${k}">${k}${c === String(k) ? '' : ` <small>${c}</small>`}</button>`).join('')}</div>
        <p class="trial-hint">Type 0–9 or tap a button.</p>
      </div>`;
    const root = display.querySelector('.trial');
    // jsPsych listens for keys on its display element: keep the focus there (the last trial's
    // button, which had it, is gone).
    const container = this.jsPsych.getDisplayContainerElement();
    if (!container.contains(document.activeElement)) container.focus({ preventScroll: true });
    const canvas = root.querySelector('canvas');
    const context = canvas.getContext('2d');
    const fixation = root.querySelector('.fixation');
    const stimulusImage = imageData(context, trial.pixels);
    const blank = () => { context.fillStyle = '#808080'; context.fillRect(0, 0, SIZE, SIZE); };
    blank();

    let onset = null;      // frame timestamp of the stimulus
    let offset = null;     // frame timestamp of the mask (timed trials)
    let maskEnd = null;    // frame timestamp of the blank after the mask
    let frameMs = 1000 / 60;
    let lastFrame = null;
    let raf = 0;
    let keyboard = null;
    const start = performance.now();

    const timed = s.duration_ms !== null && s.duration_ms !== undefined;
    let answer = null;     // {choice, time}: the first valid key or button press
    let finishing = false;

    const visible = () => document.visibilityState !== 'hidden';
    const frame = (now) => {
      if (lastFrame !== null) frameMs = Math.min(frameMs, now - lastFrame) || frameMs;
      lastFrame = now;
      if (onset === null) {
        if (now - start >= FIXATION_MS && visible()) {
          fixation.hidden = true;
          context.putImageData(stimulusImage, 0, 0);
          onset = now;
          root.dataset.state = 'stimulus';
          listen();
        }
      } else if (timed && offset === null && now - onset >= s.duration_ms - frameMs / 2 && visible()) {
        context.putImageData(maskData(context), 0, 0);
        offset = now;
        root.dataset.state = 'mask';
      } else if (offset !== null && now - offset >= trial.mask_ms) {
        blank();
        maskEnd = now;
        root.dataset.state = 'response';
        if (answer) finish();
        return; // nothing changes any more until the answer
      }
      if (!finishing) raf = requestAnimationFrame(frame);
    };

    // An answer during a timed presentation is kept, but the presentation still runs its
    // course (stimulus, then the whole mask), so the exposure is always the one scheduled.
    const respond = (choice) => {
      if (answer || onset === null) return;
      answer = { choice, time: performance.now() };
      if (keyboard) this.jsPsych.pluginAPI.cancelKeyboardResponse(keyboard);
      for (const b of root.querySelectorAll('button')) b.disabled = true;
      if (!timed || maskEnd !== null) finish();
    };

    const finish = async () => {
      if (finishing) return;
      finishing = true;
      cancelAnimationFrame(raf);
      const data = {
        response: answer.choice,
        rt: answer.time - onset,
        correct: answer.choice === s.label,
        // A timed stimulus was up until its mask; an unlimited one until the answer.
        measured_duration_ms: (timed ? offset : answer.time) - onset,
        measured_mask_ms: timed ? maskEnd - offset : null,
      };
      root.dataset.state = 'saving';
      if (trial.feedback) {
        const box = root.querySelector('.trial-feedback');
        box.textContent = data.correct ? 'Correct!' : `Not quite: that was a ${trial.choices[s.label]}.`;
        box.className = `trial-feedback ${data.correct ? 'right' : 'wrong'}`;
        context.putImageData(stimulusImage, 0, 0);
      }
      const wait = trial.feedback ? new Promise((r) => setTimeout(r, FEEDBACK_MS)) : Promise.resolve();
      // The trial only ends once it is saved; if saving fails, say so and offer to try again.
      const save = async () => {
        try {
          await trial.save(data);
          return true;
        } catch (err) {
          const box = root.querySelector('.trial-feedback');
          box.textContent = `This answer could not be saved (${err.message}). `;
          const retry = document.createElement('button');
          retry.type = 'button';
          retry.textContent = 'Try again';
          box.append(retry);
          await new Promise((resolve) => retry.addEventListener('click', resolve, { once: true }));
          box.textContent = '';
          return false;
        }
      };
      await wait;
      while (!(await save()));
      display.innerHTML = '';
      this.jsPsych.finishTrial(data);
    };

    const listen = () => {
      keyboard = this.jsPsych.pluginAPI.getKeyboardResponse({
        callback_function: (info) => respond(Number(info.key)),
        valid_responses: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
        rt_method: 'performance',
        persist: false,
        allow_held_key: false,
      });
    };
    for (const button of root.querySelectorAll('button[data-choice]')) {
      button.addEventListener('click', () => respond(Number(button.dataset.choice)));
    }
    raf = requestAnimationFrame(frame);
  }
}
