// The guided tour: four steps for a first-time visitor, each opening a tab, outlining the part
// to look at and saying what to press. Optional: offered once (remembered in localStorage),
// always available from the header's button, closed with its button or Escape.

const SEEN_KEY = 'microlearning-tour';

export const TOUR_STEPS = [
  {
    tab: 'train', target: '#race-fieldset', title: 'Race three learning rules',
    text: 'Tick Backprop, Feedback alignment and Hebbian under "Race several rules" (fewer training '
      + 'images make it quicker), then press "Race the ticked rules". Each rule trains in turn on the same images.',
  },
  {
    tab: 'train', target: '#curves', title: 'Watch them learn',
    text: 'Every model draws a loss curve and an accuracy curve here; click a name in a legend to hide '
      + 'or show it. The table sums each model up: test accuracy, time, and how far its updates point from backprop\'s.',
  },
  {
    tab: 'compare', target: '#compare-panel', title: 'See how differently they ended up',
    text: 'When the race ends, the models are compared: linear CKA near 1 means two models represent '
      + 'the test images alike. Change the layer to see where the rules agree and where they part.',
  },
  {
    tab: 'people', target: '#experiment-panel', title: 'Bring people in',
    text: 'Run the short experiment on yourself or the class, then press "Compare people and kept '
      + 'models": error consistency κ says whether a model gets the same images wrong as people do.',
  },
];

export class Tour {
  /** `tabs`: the page's Tabs. `elements`: {box, count, title, text, back, next, close, offer, offerStart, offerDismiss, start}. */
  constructor(tabs, elements, steps = TOUR_STEPS) {
    Object.assign(this, { tabs, el: elements, steps });
    this.at = -1;
    this.target = null;
    elements.start.addEventListener('click', () => this.begin());
    elements.offerStart.addEventListener('click', () => this.begin());
    elements.offerDismiss.addEventListener('click', () => { this.markSeen(); elements.offer.hidden = true; });
    elements.back.addEventListener('click', () => this.go(this.at - 1));
    elements.next.addEventListener('click', () => (this.at === this.steps.length - 1 ? this.end() : this.go(this.at + 1)));
    elements.close.addEventListener('click', () => this.end());
    elements.box.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') { event.preventDefault(); this.end(); }
    });
  }

  /** Offers the tour to a visitor who has neither taken nor declined it. */
  offer() {
    let seen = null;
    try { seen = localStorage.getItem(SEEN_KEY); } catch { /* storage blocked: offer it */ }
    this.el.offer.hidden = seen !== null;
  }

  markSeen() {
    try { localStorage.setItem(SEEN_KEY, 'seen'); } catch { /* storage blocked: it is offered again */ }
  }

  begin() {
    this.markSeen();
    this.el.offer.hidden = true;
    this.go(0);
  }

  go(at) {
    if (at < 0 || at >= this.steps.length) return;
    this.at = at;
    const step = this.steps[at];
    this.tabs.show(step.tab);
    this.target?.classList.remove('tour-target');
    this.target = document.querySelector(step.target);
    this.target?.classList.add('tour-target');
    this.target?.scrollIntoView({ block: 'start', behavior: 'instant' });
    const { box, count, title, text, back, next } = this.el;
    count.textContent = `Step ${at + 1} of ${this.steps.length}`;
    title.textContent = step.title;
    text.textContent = step.text;
    back.disabled = at === 0;
    next.textContent = at === this.steps.length - 1 ? 'Finish' : 'Next';
    box.hidden = false;
    box.dataset.step = String(at + 1);
    title.focus();
  }

  end() {
    this.target?.classList.remove('tour-target');
    this.target = null;
    this.at = -1;
    this.el.box.hidden = true;
    delete this.el.box.dataset.step;
    this.el.start.focus();
  }
}
