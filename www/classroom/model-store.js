// Where the page keeps trained models across reloads: IndexedDB, one record per model with its
// weights (the burnpack file the page can download) and its results file's text, so a reload
// brings back the model (loaded into the worker again) and its curves and summary row (drawn
// from the results). Separate from the experiment's database: deleting models never touches
// participants' answers.

import { committed, openDatabase, promised } from '../idb.js';

const DB_NAME = 'microlearning-models';
const DB_VERSION = 1;

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
  static async open() {
    const db = await openDatabase(DB_NAME, DB_VERSION, (d) => {
      if (!d.objectStoreNames.contains('models')) d.createObjectStore('models', { keyPath: 'id', autoIncrement: true });
    }, {
      missing: 'this browser has no IndexedDB, so trained models last until the page is closed',
      failed: 'could not open the saved models',
      blocked: 'the saved models are locked by another tab of this page; close it',
    });
    return new ModelStore(db);
  }

  constructor(db) {
    this.db = db;
  }

  /**
   * Saves a model `{name, task, rule, front_end, results (text), weights (ArrayBuffer), accuracy,
   * robustness?}`;
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

  /** Changes fields of saved model `id` (its name; its robustness curves). */
  async update(id, fields) {
    const tx = this.db.transaction('models', 'readwrite');
    const store = tx.objectStore('models');
    const record = await promised(store.get(id));
    if (!record) throw new Error('that model is no longer saved');
    store.put({ ...record, ...fields });
    await committed(tx);
  }

  rename(id, name) {
    return this.update(id, { name });
  }

  async delete(id) {
    const tx = this.db.transaction('models', 'readwrite');
    tx.objectStore('models').delete(id);
    await committed(tx);
  }
}
