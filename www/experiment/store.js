// Where the experiment keeps its data: IndexedDB, written the moment each trial ends, so a
// reload, a crash or a closed tab loses at most the trial on screen. Two object stores:
// `sessions` (one record per run of the experiment: design, consent, progress, metadata) and
// `trials` (keyed by [session_id, stimulus_index], so a trial saved twice is stored once).

const DB_NAME = 'microlearning-experiment';
const DB_VERSION = 1;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openDatabase() {
  return new Promise((resolve, reject) => {
    if (!('indexedDB' in self)) {
      reject(new Error('this browser has no IndexedDB: the experiment could not save its data'));
      return;
    }
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('sessions')) db.createObjectStore('sessions', { keyPath: 'session_id' });
      if (!db.objectStoreNames.contains('trials')) db.createObjectStore('trials', { keyPath: ['session_id', 'stimulus_index'] });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new Error(`could not open the experiment's storage: ${request.error?.message}`));
    request.onblocked = () => reject(new Error('the experiment storage is blocked by another tab of this page; close it'));
  });
}

/** Resolves when the transaction has committed (the data is on disk), not merely queued. */
function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('the save was aborted'));
  });
}

export class ExperimentStore {
  static async open() {
    return new ExperimentStore(await openDatabase());
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

  async updateSession(id, patch) {
    const session = await this.getSession(id);
    if (!session) throw new Error(`session ${id} is not stored`);
    return this.putSession({ ...session, ...patch });
  }

  async listSessions() {
    const all = await promised(this.db.transaction('sessions').objectStore('sessions').getAll());
    return all.sort((a, b) => (a.created < b.created ? 1 : -1));
  }

  /** The most recent session that was started and not finished, if any. */
  async unfinishedSession() {
    return (await this.listSessions()).find((s) => s.status === 'running') || null;
  }

  /** Saves one trial and resolves once it is committed. */
  async saveTrial(row) {
    // Strict durability: the commit waits for the disk, not only for the OS cache.
    const tx = this.db.transaction('trials', 'readwrite', { durability: 'strict' });
    tx.objectStore('trials').put(row);
    await committed(tx);
  }

  async trialsOf(sessionId) {
    const range = IDBKeyRange.bound([sessionId, -Infinity], [sessionId, Infinity]);
    const rows = await promised(this.db.transaction('trials').objectStore('trials').getAll(range));
    return rows.sort((a, b) => a.stimulus_index - b.stimulus_index);
  }

  async deleteSession(sessionId) {
    const tx = this.db.transaction(['sessions', 'trials'], 'readwrite');
    tx.objectStore('sessions').delete(sessionId);
    tx.objectStore('trials').delete(IDBKeyRange.bound([sessionId, -Infinity], [sessionId, Infinity]));
    await committed(tx);
  }
}
