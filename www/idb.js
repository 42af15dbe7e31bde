// IndexedDB's callbacks as promises, shared by the page's two databases (the experiment's,
// experiment/store.js, and the kept models', classroom/model-store.js).

/** Resolves to a request's result, rejects with its error. */
export function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Resolves when the transaction has committed (the data is on disk), not merely queued. */
export function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('the save was aborted'));
  });
}

/**
 * Opens database `name` at `version`, `upgrade(db)` creating what is missing; rejects with
 * `what` and the cause where IndexedDB is missing, fails or is held by another tab.
 */
export function openDatabase(name, version, upgrade, { missing, failed, blocked }) {
  return new Promise((resolve, reject) => {
    if (!('indexedDB' in self)) {
      reject(new Error(missing));
      return;
    }
    const request = indexedDB.open(name, version);
    request.onupgradeneeded = () => upgrade(request.result);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new Error(`${failed}: ${request.error?.message}`));
    request.onblocked = () => reject(new Error(blocked));
  });
}
