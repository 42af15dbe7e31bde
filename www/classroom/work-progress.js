// Progress of the lab's long work other than training (a comparison, robustness curves, the
// people-and-models comparison, the stimuli): a bar and a line under the button that started it.
// The worker reports `{work, done, total}` (WORK_PROGRESS) as the lab's calls proceed; the line
// says what is being done, how far it is and for how long it has run.

export class WorkProgress {
  /** `box`: a `.work` element holding a <progress> and a text span. `label`: "Comparing". */
  constructor(box, label) {
    this.box = box;
    this.bar = box.querySelector('progress');
    this.text = box.querySelector('span');
    this.label = label;
    this.started = null;
    this.timer = null;
  }

  /** Shows the bar at 0 of `total` (null: not known yet) with `what` ("3 models"). */
  start(what = '', total = null) {
    this.started = performance.now();
    this.what = what;
    this.box.hidden = false;
    this.box.dataset.state = 'running';
    this.update(0, total);
    clearInterval(this.timer);
    this.timer = setInterval(() => this.render(), 1000);
  }

  update(done, total) {
    if (this.started === null) this.start();
    this.done = done;
    this.total = total;
    if (total) {
      this.bar.max = total;
      this.bar.value = done;
    } else {
      this.bar.removeAttribute('value'); // indeterminate
    }
    this.box.dataset.done = String(done);
    this.box.dataset.total = String(total ?? '');
    this.render();
  }

  render() {
    const seconds = Math.round((performance.now() - this.started) / 1000);
    const steps = this.total ? ` · ${this.done} of ${this.total}` : '';
    this.text.textContent = `${this.label}${this.what ? ` ${this.what}` : ''}…${steps} · ${seconds} s`;
  }

  /** Ends the bar with `text` ("Compared 3 models in 4 s"), or hides it when there is none. */
  finish(text = '') {
    clearInterval(this.timer);
    this.timer = null;
    const seconds = this.started === null ? 0 : (performance.now() - this.started) / 1000;
    this.started = null;
    this.box.dataset.state = 'done';
    if (!text) {
      this.box.hidden = true;
      return;
    }
    this.bar.max = 1;
    this.bar.value = 1;
    this.text.textContent = `${text} (${seconds.toFixed(1)} s).`;
  }

  /** The work failed (the page's message says why): the bar goes. */
  fail() {
    this.finish('');
  }

  get running() {
    return this.started !== null;
  }
}
