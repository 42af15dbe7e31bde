// Where the experiment keeps its data: IndexedDB, written the moment each trial ends, so a
// reload, a crash or a closed tab loses at most the trial on screen. Two object stores:
// `sessions` (one record per run of the experiment: design, consent, progress, metadata) and
// `trials` (keyed by [session_id, stimulus_index], so a trial saved twice is stored once).
// In participant mode a third store, `outbox`, holds the trials not yet acknowledged by the
// collection server; a trial enters it in the same transaction that saves it, so nothing saved
// can be forgotten by the sender.

import { committed, openDatabase, promised } from '../idb.js';

const DB_NAME = 'microlearning-experiment';
const DB_VERSION = 2;
const TRIAL_RANGE = (sessionId) => IDBKeyRange.bound([sessionId, -Infinity], [sessionId, Infinity]);

function openExperimentDatabase() {
  return openDatabase(DB_NAME, DB_VERSION, (db) => {
    if (!db.objectStoreNames.contains('sessions')) db.createObjectStore('sessions', { keyPath: 'session_id' });
    if (!db.objectStoreNames.contains('trials')) db.createObjectStore('trials', { keyPath: ['session_id', 'stimulus_index'] });
    if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: ['session_id', 'stimulus_index'] });
  }, {
    missing: 'this browser has no IndexedDB: the experiment could not save its data',
    failed: 'could not open the experiment\'s storage',
    blocked: 'the experiment storage is blocked by another tab of this page; close it',
  });
}

/**
 * Asks the browser to keep this site's storage under storage pressure (without it, IndexedDB is
 * "best effort" and may be evicted, trials and all). Resolves to what it answered: {persisted:
 * true | false} or, where the browser has no such API or the call fails, {persisted: null,
 * error?}. Never rejects: the experiment runs either way. The answer can wait on a permission
 * prompt (Firefox), so callers record it when it comes rather than wait for it.
 */
export async function askPersistentStorage() {
  const asked = new Date().toISOString();
  try {
    if (!navigator.storage?.persist) return { persisted: null, asked, error: 'not supported by this browser' };
    return { persisted: (await navigator.storage.persist()) === true, asked };
  } catch (err) {
    return { persisted: null, asked, error: String(err?.message || err) };
  }
}

export class ExperimentStore {
  static async open() {
    return new ExperimentStore(await openExperimentDatabase());
  }

  constructor(db) {
    this.db = db;
  }

  async putSession(session) {
    const tx = this.db.transaction('sessions', 'readwrite');
    tx.objectStore('sessions').put(session);
    await committed(tx);
    return session;
  }

  async getSession(id) {
    return promised(this.db.transaction('sessions').objectStore('sessions').get(id));
  }

  /**
   * Merges `patch` into the stored session, reading and writing in one transaction: two
   * updates in flight at once (consent and the storage answer, say) both land, where a read
   * then a separate write would let the second overwrite the first's field with its old value.
   */
  async updateSession(id, patch) {
    const tx = this.db.transaction('sessions', 'readwrite');
    const sessions = tx.objectStore('sessions');
    let updated = null;
    const request = sessions.get(id);
    request.onsuccess = () => {
      if (!request.result) return;
      updated = { ...request.result, ...patch };
      sessions.put(updated);
    };
    await committed(tx);
    if (!updated) throw new Error(`session ${id} is not stored`);
    return updated;
  }

  async listSessions() {
    const all = await promised(this.db.transaction('sessions').objectStore('sessions').getAll());
    return all.sort((a, b) => (a.created < b.created ? 1 : -1));
  }

  /** The most recent session of the lab's own panel that was started and not finished. */
  async unfinishedSession() {
    return (await this.listSessions()).find((s) => s.status === 'running' && !s.study) || null;
  }

  /** The sessions of collection-server study `study` on this device, newest first. */
  async sessionsOfStudy(study) {
    return (await this.listSessions()).filter((s) => s.study === study);
  }

  /**
   * Saves one trial and resolves once it is committed. With `outbox`, the same transaction
   * queues it for the collection server.
   */
  async saveTrial(row, { outbox = false } = {}) {
    // Strict durability: the commit waits for the disk, not only for the OS cache.
    const stores = outbox ? ['trials', 'outbox'] : ['trials'];
    const tx = this.db.transaction(stores, 'readwrite', { durability: 'strict' });
    tx.objectStore('trials').put(row);
    if (outbox) tx.objectStore('outbox').put(row);
    await committed(tx);
  }

  async trialsOf(sessionId) {
    const rows = await promised(this.db.transaction('trials').objectStore('trials').getAll(TRIAL_RANGE(sessionId)));
    return rows.sort((a, b) => a.stimulus_index - b.stimulus_index);
  }

  /** The trials of `sessionId` still to be sent, in stimulus order. */
  async outboxOf(sessionId) {
    const rows = await promised(this.db.transaction('outbox').objectStore('outbox').getAll(TRIAL_RANGE(sessionId)));
    return rows.sort((a, b) => a.stimulus_index - b.stimulus_index);
  }

  /** Queues already-saved trials again (ones the server turned out not to have). */
  async requeue(rows) {
    const tx = this.db.transaction('outbox', 'readwrite', { durability: 'strict' });
    for (const row of rows) tx.objectStore('outbox').put(row);
    await committed(tx);
  }

  /** The server has this trial: it leaves the outbox (it stays in `trials`). */
  async sent(sessionId, stimulusIndex) {
    const tx = this.db.transaction('outbox', 'readwrite');
    tx.objectStore('outbox').delete([sessionId, stimulusIndex]);
    await committed(tx);
  }

  async deleteSession(sessionId) {
    const tx = this.db.transaction(['sessions', 'trials', 'outbox'], 'readwrite');
    tx.objectStore('sessions').delete(sessionId);
    tx.objectStore('trials').delete(TRIAL_RANGE(sessionId));
    tx.objectStore('outbox').delete(TRIAL_RANGE(sessionId));
    await committed(tx);
  }

  /** Withdrawal: the trials go, the session stays marked as withdrawn (so it is never resumed). */
  async withdrawSession(sessionId) {
    const tx = this.db.transaction(['sessions', 'trials', 'outbox'], 'readwrite');
    const sessions = tx.objectStore('sessions');
    const request = sessions.get(sessionId);
    request.onsuccess = () => {
      if (request.result) sessions.put({ ...request.result, status: 'withdrawn', withdrawn: new Date().toISOString(), token: null });
    };
    tx.objectStore('trials').delete(TRIAL_RANGE(sessionId));
    tx.objectStore('outbox').delete(TRIAL_RANGE(sessionId));
    await committed(tx);
  }
}
