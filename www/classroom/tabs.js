// The page's four views (Train · Inside the network · Compare · People) as tabs, after the
// WAI-ARIA tabs pattern: one tab in the Tab order (the selected one), arrow keys, Home and End
// move between tabs and show each at once (a view is shown by unhiding it, nothing loads).
// The open tab is the URL's fragment (#compare), so a shared link or a reload opens on it.

export class Tabs {
  /** `tablist`: the element with role="tablist"; `onShow(id, view)` after a view is shown. */
  constructor(tablist, { onShow } = {}) {
    this.tabs = [...tablist.querySelectorAll('[role="tab"]')];
    this.onShow = onShow;
    this.current = null;
    for (const tab of this.tabs) {
      tab.addEventListener('click', () => this.show(tab.dataset.view));
      tab.addEventListener('keydown', (event) => this.onKey(event, tab));
    }
    window.addEventListener('hashchange', () => this.showFromHash());
  }

  ids() {
    return this.tabs.map((t) => t.dataset.view);
  }

  /** The view named by the URL's fragment, else `fallback`, else the one shown, else the first. */
  showFromHash(fallback = null) {
    const id = decodeURIComponent(location.hash.slice(1));
    this.show(this.ids().includes(id) ? id : fallback ?? this.current ?? this.ids()[0]);
  }

  /** Shows view `id` (one of `ids()`); `focus` moves the keyboard focus to its tab. */
  show(id, { focus = false } = {}) {
    let view = null;
    for (const tab of this.tabs) {
      const selected = tab.dataset.view === id;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(tab.getAttribute('aria-controls'));
      panel.hidden = !selected;
      if (selected) {
        view = panel;
        if (focus) tab.focus();
      }
    }
    if (!view) return;
    this.current = id;
    document.body.dataset.tab = id;
    if (location.hash !== `#${id}`) history.replaceState(history.state, '', `${location.pathname}${location.search}#${id}`);
    this.onShow?.(id, view);
  }

  onKey(event, tab) {
    const at = this.tabs.indexOf(tab);
    const n = this.tabs.length;
    const to = { ArrowRight: (at + 1) % n, ArrowLeft: (at - 1 + n) % n, Home: 0, End: n - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    this.show(this.tabs[to].dataset.view, { focus: true });
  }
}
