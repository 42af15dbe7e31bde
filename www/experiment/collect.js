// The page's side of the collection server (crate/src/server/): a small client for its API and
// the sender that empties the outbox. Every trial is committed to IndexedDB first (store.js),
// then sent; a failed send is retried with exponential backoff and jitter, a new trial or the
// browser coming back online retries at once, and `pagehide` fires what is left with
// `keepalive`. The server stores a trial once whatever how often it arrives, so resending is
// always safe.

const API = 'api/v1';
const REQUEST_TIMEOUT_MS = 20_000;

/** A reply that never came (offline, server down, connection dropped). */
export class NetworkError extends Error {}

export class CollectionClient {
  constructor(base = new URL(API, document.baseURI).href) {
    this.base = base.replace(/\/$/, '');
  }

  async call(method, path, { token, body, keepalive = false } = {}) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method, headers, keepalive, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
        // A stalled connection must not hold the sender up for ever.
        signal: keepalive ? undefined : AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new NetworkError(`the study server could not be reached (${err.message})`);
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      if (response.status >= 500 || response.status === 0) throw new NetworkError(`the study server answered ${response.status}`);
    }
    return { status: response.status, data: data || {} };
  }

  study(id) { return this.call('GET', `/studies/${encodeURIComponent(id)}`); }

  startSession(study, fields) { return this.call('POST', `/studies/${encodeURIComponent(study)}/sessions`, { body: fields }); }

  session(id, token) { return this.call('GET', `/sessions/${encodeURIComponent(id)}`, { token }); }

  putTrial(session, token, row, keepalive = false) {
    return this.call('PUT', `/sessions/${encodeURIComponent(session)}/trials/${row.stimulus_index}`, { token, body: row, keepalive });
  }

  complete(session, token) { return this.call('POST', `/sessions/${encodeURIComponent(session)}/complete`, { token }); }

  withdraw(session, token) { return this.call('DELETE', `/sessions/${encodeURIComponent(session)}`, { token }); }
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
// keepalive requests share a 64 KiB budget; a trial row is well under 1 KiB.
const KEEPALIVE_ROWS = 40;

/**
 * Sends one session's outbox. `onStatus({pending, offline, rejected})` hears every change.
 */
export class TrialSender {
  constructor({ client, store, session, onStatus = () => {}, onRejected = () => {} }) {
    Object.assign(this, { client, store, session, onStatus, onRejected });
    this.pending = new Map(); // stimulus_index → row, mirrors the outbox for pagehide
    this.refused = new Map(); // stimulus_index → the server's reply, for rows it will never take
    this.offline = false;
    this.failures = 0;
    this.running = null;
    this.wake = null;
    this.stopped = false;
    this.drained = [];
    this.onOnline = () => this.kick();
    this.onPageHide = () => this.flushKeepalive();
    addEventListener('online', this.onOnline);
    addEventListener('pagehide', this.onPageHide);
  }

  /** Loads the outbox of this session (after a reload) and starts sending. */
  async start() {
    for (const row of await this.store.outboxOf(this.session.session_id)) this.pending.set(row.stimulus_index, row);
    this.kick();
  }

  /** A trial was saved (and queued): send now. */
  queued(row) {
    this.pending.set(row.stimulus_index, row);
    this.kick();
  }

  kick() {
    if (this.stopped) return;
    if (this.wake) { this.wake(); this.wake = null; }
    if (!this.running) this.running = this.loop().finally(() => { this.running = null; });
    this.report();
  }

  report() {
    this.onStatus({ pending: this.pending.size, offline: this.offline });
  }

  /**
   * Resolves once the outbox is empty (it may take as long as the network is away); rejects if
   * the sender is stopped first.
   */
  drain() {
    if (this.stopped) return Promise.reject(new Error('the sender was stopped'));
    if (!this.pending.size && !this.running) return Promise.resolve();
    return new Promise((resolve, reject) => { this.drained.push({ resolve, reject }); this.kick(); });
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  async loop() {
    while (!this.stopped) {
      let failed = false;
      try {
        failed = await this.round();
      } catch (err) {
        // Storage trouble (IndexedDB): keep the rows where they are and try again later.
        console.error(`the trial sender: ${err.message}`);
        failed = true;
      }
      if (failed === 'done') return;
      if (failed) {
        this.offline = true;
        this.failures += 1;
        this.report();
        const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.failures, 10));
        await this.sleep(ceiling / 2 + Math.random() * ceiling / 2);
      }
    }
  }

  /** One pass over the outbox: 'done' when it is empty, true when a send failed. */
  async round() {
    const rows = await this.store.outboxOf(this.session.session_id);
    this.pending = new Map(rows.map((r) => [r.stimulus_index, r]));
    this.report();
    if (!rows.length) {
      for (const { resolve } of this.drained.splice(0)) resolve();
      return 'done';
    }
    let failed = false;
    for (const row of rows) {
      if (this.stopped) return;
      let reply;
      try {
        reply = await this.client.putTrial(this.session.session_id, this.session.token, row);
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        failed = true;
        break;
      }
      if (reply.status === 200 || reply.status === 201) {
        await this.store.sent(row.session_id, row.stimulus_index);
        this.pending.delete(row.stimulus_index);
        this.offline = false;
        this.failures = 0;
        this.report();
      } else if (reply.status >= 500 || reply.status === 429 || reply.status === 408) {
        failed = true;
        break;
      } else {
        // The server refuses this row for good (withdrawn, conflicting, invalid): it stays in
        // this browser's store, leaves the outbox, and the page says so.
        await this.store.sent(row.session_id, row.stimulus_index);
        this.pending.delete(row.stimulus_index);
        this.refused.set(row.stimulus_index, reply);
        this.onRejected(row, reply);
      }
    }
    return failed;
  }

  /** The page is going away: fire every unsent trial with keepalive (no waiting). */
  flushKeepalive() {
    let n = 0;
    for (const row of this.pending.values()) {
      if (n++ >= KEEPALIVE_ROWS) break;
      this.client.putTrial(this.session.session_id, this.session.token, row, true).catch(() => {});
    }
  }

  stop() {
    this.stopped = true;
    for (const { reject } of this.drained.splice(0)) reject(new Error('the sender was stopped'));
    if (this.wake) this.wake();
    removeEventListener('online', this.onOnline);
    removeEventListener('pagehide', this.onPageHide);
  }
}

/** The participant's plain status line. */
export function statusText({ pending, offline }) {
  if (offline) return `Offline: your answers are kept on this device and will be sent${pending ? ` (${pending} waiting)` : ''}.`;
  if (pending) return `Saving… ${pending} left`;
  return 'All answers saved';
}

/** The experimenter token of `study`, kept for this tab only. */
export const tokenKey = (study) => `microlearning-experimenter-${study}`;

/**
 * Follows a study's server-sent events with the experimenter token (EventSource cannot send an
 * Authorization header, so this reads the stream with fetch). Reconnects with backoff until
 * `signal` aborts; `onEvent(kind, data)` hears each event, `onState(text)` the connection.
 */
export async function followEvents(study, token, { onEvent, onState = () => {}, signal }) {
  const url = new URL(`${API}/studies/${encodeURIComponent(study)}/events`, document.baseURI);
  for (let attempt = 0; !signal?.aborted; attempt += 1) {
    try {
      const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, signal, cache: 'no-store' });
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        const body = await response.json().catch(() => ({}));
        onState(`refused: ${body.error || response.status}`);
        return;
      }
      if (!response.ok || !response.body) throw new Error(`the server answered ${response.status}`);
      onState('live');
      attempt = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const kind = /^event: ?(.*)$/m.exec(block)?.[1];
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.replace(/^data: ?/, '')).join('\n');
          if (kind) onEvent(kind, data ? JSON.parse(data) : null);
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      onState(`reconnecting (${err.message})`);
    }
    await new Promise((r) => setTimeout(r, Math.min(15_000, 500 * 2 ** Math.min(attempt, 5))));
  }
}

/** An experimenter request: JSON, or text for the exports. */
export async function experimenterFetch(study, path, token) {
  const url = new URL(`${API}/studies/${encodeURIComponent(study)}/${path}`, document.baseURI);
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try { message = JSON.parse(text).error; } catch { /* plain text */ }
    throw new Error(message || `the server answered ${response.status}`);
  }
  return path.endsWith('.csv') || path.endsWith('.ndjson') ? text : JSON.parse(text);
}
