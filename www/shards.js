// Data-parallel training on the CPU backend: the training worker (worker.js) and its helpers
// (shard_worker.js), each a wasm module on its own core, split every batch. The helpers run
// replicas of the run; the training worker computes the first shard, gathers the others,
// applies their average (crate/src/training/shards.rs) and hands it round.
//
// Helpers are an optimisation, never a requirement: if none can start (no nested workers, one
// core, `?workers=1`) the run trains in one worker, and if one fails mid-run every helper is
// let go and the run goes on in one worker, saying so.

// More workers than this split a batch of 64 too thinly to pay for the exchange.
const MAX_WORKERS = 4;
// One shard of the seed network takes well under a second on any CPU we measured; a helper
// that has not answered in this time is stuck.
const CALL_LIMIT_MS = 120_000;

/** How many workers (this one included) to train with: `?workers=N` on the page, else the cores. */
export function workerCount(requested) {
  const cores = self.navigator?.hardwareConcurrency || 1;
  const wanted = Number.isInteger(requested) && requested > 0 ? requested : cores;
  return Math.max(1, Math.min(wanted, MAX_WORKERS));
}

class Helper {
  constructor() {
    this.worker = new Worker(new URL('./shard_worker.js', import.meta.url), { type: 'module' });
    this.pending = new Map();
    this.nextId = 0;
    this.failure = null;
    this.worker.onmessage = ({ data }) => {
      const call = this.pending.get(data.id);
      if (!call) return;
      this.pending.delete(data.id);
      clearTimeout(call.timer);
      if (data.ok) call.resolve(data.result);
      else call.reject(new Error(data.error));
    };
    this.worker.onerror = (event) => {
      event.preventDefault?.();
      this.fail(new Error(event.message || 'the helper worker stopped'));
    };
  }

  fail(err) {
    this.failure ??= err;
    for (const call of this.pending.values()) { clearTimeout(call.timer); call.reject(this.failure); }
    this.pending.clear();
  }

  /** A request whose answer is awaited. */
  call(msg, transfer = []) {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`no answer to ${msg.type} in ${CALL_LIMIT_MS / 1000} s`)), CALL_LIMIT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  /** A message whose failure shows in the next call's answer (the helper keeps it). */
  send(msg) {
    if (!this.failure) this.worker.postMessage(msg);
  }

  close() {
    this.fail(new Error('the helper was let go'));
    this.worker.terminate();
  }
}

/**
 * Starts `count - 1` helpers on replicas of `config` over `files` (the data set's four IDX
 * files). Resolves to a pool, or to null when no helper could start (the reason in `onNotice`).
 */
export async function startShards({ count, config, task, files, onNotice }) {
  if (count < 2) return null;
  let helpers = [];
  try {
    if (typeof Worker === 'undefined') throw new Error('this browser has no workers inside workers');
    helpers = Array.from({ length: count - 1 }, () => new Helper());
    await Promise.all(helpers.map((h) => h.call({ type: 'start', config, task, files })));
  } catch (err) {
    helpers.forEach((h) => h.close());
    onNotice(`training in one worker: the helper workers could not start (${err.message || err})`);
    return null;
  }
  return new ShardPool(helpers, onNotice);
}

class ShardPool {
  constructor(helpers, onNotice) {
    this.helpers = helpers;
    this.onNotice = onNotice;
  }

  get workers() { return this.helpers.length + 1; }

  /**
   * One batch, split: `ownShard(part, parts)`, `average(shards)` and `apply(shards, seconds)`
   * call this worker's lab. The average goes to the helpers before this worker applies it, so
   * they apply it meanwhile. Resolves to the batch's report. A helper's failure lets every
   * helper go; the batch is then applied from the shards that arrived (this worker's is always
   * one of them).
   */
  async batch(at, ownShard, average, apply) {
    const t0 = performance.now();
    const parts = this.workers;
    const theirs = this.helpers.map((h, k) => h.call({ type: 'shard', part: k + 1, parts, ...at }));
    theirs.forEach((p) => p.catch(() => {})); // settled below; never an unhandled rejection
    const own = await ownShard(0, parts);
    const settled = await Promise.allSettled(theirs);
    const failed = settled.find((r) => r.status === 'rejected');
    const shards = [own, ...settled.filter((r) => r.status === 'fulfilled').map((r) => r.value)];
    if (failed) this.close(`a helper worker failed (${failed.reason?.message || failed.reason}); training goes on in one worker`);
    const update = await average(shards);
    for (const h of this.helpers) h.send({ type: 'apply', update });
    return apply([update], (performance.now() - t0) / 1000);
  }

  /** The epoch ended (the training worker evaluated it): the replicas move on too. */
  advance() {
    for (const h of this.helpers) h.send({ type: 'advance' });
  }

  close(notice) {
    this.helpers.forEach((h) => h.close());
    this.helpers = [];
    if (notice) this.onNotice(notice);
  }
}
