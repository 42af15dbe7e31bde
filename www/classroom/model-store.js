// Where the page keeps trained models across reloads: IndexedDB, one record per model with its
// weights (the burnpack file the page can download) and its results file's text, so a reload
// brings back the model (loaded into the worker again) and its curves and summary row (drawn
// from the results). Separate from the experiment's database: deleting models never touches
// participants' answers.

const DB_NAME = 'microlearning-models';
const DB_VERSION = 1;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('the save was aborted'));
  });
}

/** A storage error in words a visitor can act on. */
export function storageProblem(err) {
  const name = err?.name || '';
  if (name === 'QuotaExceededError' || /quota/i.test(String(err?.message))) {
    return 'the browser\'s storage for this site is full: delete or download saved models to make room';
  }
  return String(err?.message || err);
}

export class ModelStore {
  /** Opens the store; rejects with a readable error where IndexedDB is missing or blocked. */
  static open() {
    return new Promise((resolve, reject) => {
      if (!('indexedDB' in self)) {
        reject(new Error('this browser has no IndexedDB, so trained models last until the page is closed'));
        return;
      }
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains('models')) db.createObjectStore('models', { keyPath: 'id', autoIncrement: true });
      };
      request.onsuccess = () => resolve(new ModelStore(request.result));
      request.onerror = () => reject(new Error(`could not open the saved models: ${request.error?.message}`));
      request.onblocked = () => reject(new Error('the saved models are locked by another tab of this page; close it'));
    });
  }

  constructor(db) {
    this.db = db;
  }

  /**
   * Saves a model `{name, task, rule, front_end, results (text), weights (ArrayBuffer), accuracy}`;
   * resolves to its id once the transaction has committed.
   */
  async add(record) {
    const tx = this.db.transaction('models', 'readwrite');
    const id = promised(tx.objectStore('models').add({ ...record, savedAt: new Date().toISOString() }));
    await committed(tx);
    return id;
  }

  /** Every saved model, oldest first. */
  async all() {
    const tx = this.db.transaction('models', 'readonly');
    return promised(tx.objectStore('models').getAll());
  }

  async rename(id, name) {
    const tx = this.db.transaction('models', 'readwrite');
    const store = tx.objectStore('models');
    const record = await promised(store.get(id));
    if (!record) throw new Error('that model is no longer saved');
    store.put({ ...record, name });
    await committed(tx);
  }

  async delete(id) {
    const tx = this.db.transaction('models', 'readwrite');
    tx.objectStore('models').delete(id);
    await committed(tx);
  }
}
