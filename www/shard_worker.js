// A helper of the training worker: one more core for the CPU backend. It runs its own wasm
// module with a replica of the run (the same config, so the same weights and shuffled order),
// computes the shard of each batch it is asked for, and applies the averaged update it is handed
// back. It talks only to the training worker that started it (www/shards.js).
//
// Messages are handled strictly in order, one at a time, so an `apply` always lands before the
// next batch's `shard`.
import init, { WebLab } from './pkg/microlearning.js';

let lab = null;
let broken = null; // why this replica can no longer follow the run

async function handle(msg) {
  if (broken) throw new Error(broken);
  switch (msg.type) {
    case 'start': {
      if (!lab) {
        await init();
        // A panic traps the module; the trap reaches the training worker as this worker's error.
        lab = new WebLab(() => {});
      }
      lab.load_data(msg.task, ...msg.files);
      return lab.start(msg.config);
    }
    case 'shard':
      return lab.shard_update(msg.part, msg.parts, msg.epoch, msg.batch);
    case 'apply':
      return lab.apply_shards([msg.update], 0);
    case 'advance':
      return lab.advance_epoch();
    default:
      throw new Error(`unknown message ${msg.type}`);
  }
}

let tail = Promise.resolve();
self.onmessage = (event) => {
  const msg = event.data;
  tail = tail.then(async () => {
    try {
      const result = await handle(msg);
      const transfer = result?.values instanceof Float32Array ? [result.values.buffer] : [];
      if (msg.id !== undefined) self.postMessage({ id: msg.id, ok: true, result }, transfer);
    } catch (err) {
      // A failed apply or advance leaves the replica behind the run: every later call says so.
      if (msg.type !== 'shard' && msg.type !== 'start') broken = `the replica fell out of step: ${err?.message || err}`;
      self.postMessage({ id: msg.id, ok: false, error: String(err?.message || err) });
    }
  });
};
