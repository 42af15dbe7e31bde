// Load and crash test of the collection server over loopback: N simulated participants, each
// sending T trials one after another (as a person does), all participants at once. A share of
// the replies is dropped (the socket is destroyed once the server has answered, so the client
// never sees the acknowledgement and must retry). With --kill-at F, the server is killed with
// SIGKILL once a share F of the trials is acknowledged and restarted a moment later; clients
// retry through the outage. At the end the database is counted directly (sqlite3 via Python,
// or psql): every acknowledged trial must be there exactly once.
//
// node scripts/load_test.mjs --bin PATH/microlearning --database sqlite:///tmp/x/lab.db \
//   [--participants 500] [--trials 100] [--drop 0.02] [--kill-at 0.5] [--json]
// Exit status 0 only if nothing was lost or duplicated (and SQLite's integrity check is ok).
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sender, waitForServer } from './lab_http.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => {
  if (a.startsWith('--')) pairs.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return pairs;
}, []));
const BIN = args.bin;
const DATABASE = args.database;
const PARTICIPANTS = Number(args.participants ?? 500);
const TRIALS = Number(args.trials ?? 100);
const DROP = Number(args.drop ?? 0.02);
const KILL_AT = args['kill-at'] === undefined ? null : Number(args['kill-at']);
const DEADLINE_MS = Number(args['deadline-s'] ?? 900) * 1000;
if (!BIN || !DATABASE) {
  console.error('usage: node scripts/load_test.mjs --bin PATH --database URL [--participants N] [--trials T] [--drop P] [--kill-at F]');
  process.exit(2);
}

// A fixed-seed generator, so a run's drops are reproducible.
let state = BigInt(args.seed ?? 12345);
function random() {
  state = (state * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
  return Number(state >> 11n) / 2 ** 53;
}

const PORT = await freePort();
let server = null;
let peakRssKb = 0;

function startServer() {
  server = spawn(BIN, ['serve', '--database', DATABASE, '--listen', `127.0.0.1:${PORT}`, '--site', '.'], { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr.on('data', (d) => { if (args.verbose) process.stderr.write(d); });
  return server;
}

function sampleMemory() {
  try {
    const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] || 0);
    peakRssKb = Math.max(peakRssKb, hwm);
  } catch { /* between a kill and a restart */ }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: PARTICIPANTS + 10 });

const send = sender(PORT, agent);

// A design of exactly TRIALS measured trials: noise levels × 1 duration × 10 classes.
const levels = Array.from({ length: Math.ceil(TRIALS / 10) }, (_, k) => Math.round(k * 1000 / Math.ceil(TRIALS / 10)) / 1000);
const design = {
  task: 'mnist', seed: 11, noise_levels: levels, durations_ms: [null], images_per_class: 1,
  practice_trials: 0, attention_every: 0, mask_ms: 200, break_every: 0,
};
const dir = mkdtempSync(join(tmpdir(), 'microlearning-load-'));
writeFileSync(join(dir, 'design.json'), JSON.stringify(design));
const created = JSON.parse(execFileSync(BIN, ['study', '--database', DATABASE, 'create', '--name', `load ${PARTICIPANTS}x${TRIALS}`, '--design', join(dir, 'design.json'), '--json'], { encoding: 'utf8' }));
const stimuli = created.stimuli.slice(0, TRIALS);
const STUDY = created.study;

startServer();
await waitForServer(send);
const memoryTimer = setInterval(sampleMemory, 200);

const acked = new Set();
const latencies = [];
let dropped = 0;
let retries = 0;
let failures = 0;
const total = PARTICIPANTS * TRIALS;
let killed = false;
let restarted = false;
const started = Date.now();

async function withRetry(what, fn) {
  for (let attempt = 0; ; attempt += 1) {
    if (Date.now() - started > DEADLINE_MS) throw new Error(`deadline passed during ${what}`);
    try {
      return await fn(attempt);
    } catch (err) {
      if (err.dropped) dropped += 1;
      retries += 1;
      await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** Math.min(attempt, 6)) * (0.5 + random() / 2)));
    }
  }
}

async function maybeKill() {
  if (KILL_AT === null || killed || acked.size < KILL_AT * total) return;
  killed = true;
  sampleMemory();
  server.kill('SIGKILL');
  await new Promise((r) => server.once('exit', r));
  await new Promise((r) => setTimeout(r, 500));
  startServer();
  restarted = true;
}

async function participant(k) {
  const start = await withRetry('start', async () => {
    const r = await send('POST', `/studies/${STUDY}/sessions`, { body: { participant: `load-${k}`, consent: true } });
    if (r.status === 201) return r.body;
    // A start whose reply was lost: this participant id already has its session. A real page
    // keeps the token it got; the load test cannot, so it gives up on this participant.
    if (r.status === 409) return null;
    throw new Error(`start: ${r.status} ${r.text}`);
  });
  if (!start) { failures += 1; return; }
  for (let i = 0; i < TRIALS; i += 1) {
    const s = stimuli[i];
    const response = random() < 0.8 ? s.label : (s.label + 1) % 10;
    const row = {
      participant_id: start.participant, session_id: start.session, observer_kind: 'human',
      rule: null, front_end: null, task: 'mnist', list_seed: design.seed, trial_index: i + 3,
      trial_type: 'digit-trial', time_elapsed: 1000 + i * 900, phase: s.phase, stimulus_index: s.stimulus_index,
      test_index: s.test_index, label: s.label, noise_sigma: s.noise_sigma, noise_seed: s.noise_seed,
      requested_duration_ms: s.duration_ms, measured_duration_ms: 700.25, response, rt: 640.125 + i,
      correct: response === s.label,
    };
    await withRetry('trial', async () => {
      const t0 = performance.now();
      const r = await send('PUT', `/sessions/${start.session}/trials/${s.stimulus_index}`, { token: start.token, body: row, drop: random() < DROP });
      if (r.status !== 200 && r.status !== 201) throw new Error(`trial: ${r.status} ${r.text}`);
      latencies.push(performance.now() - t0);
      acked.add(`${start.session}:${s.stimulus_index}`);
    });
    await maybeKill();
  }
}

await Promise.all(Array.from({ length: PARTICIPANTS }, (_, k) => participant(k)));
const seconds = (Date.now() - started) / 1000;
clearInterval(memoryTimer);
sampleMemory();
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));

// Count from the database itself, not through the server.
function countDatabase() {
  if (DATABASE.startsWith('sqlite:')) {
    const path = DATABASE.replace(/^sqlite:(\/\/)?/, '').split('?')[0];
    const out = execFileSync('python3', ['-c', `
import sqlite3, sys, json
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT session_id || ':' || stimulus_index FROM trials WHERE study_id = ?", (sys.argv[2],)).fetchall()
print(json.dumps({"keys": [r[0] for r in rows], "integrity": db.execute("PRAGMA integrity_check").fetchone()[0]}))
`, path, STUDY], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return JSON.parse(out);
  }
  const out = execFileSync('psql', [DATABASE, '-At', '-c', `SELECT session_id || ':' || stimulus_index FROM trials WHERE study_id = '${STUDY.replace(/'/g, '')}'`], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { keys: out.split('\n').filter(Boolean), integrity: null };
}
const db = countDatabase();
const stored = new Set(db.keys);
const lost = [...acked].filter((k) => !stored.has(k)).length;
const duplicates = db.keys.length - stored.size;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
const result = {
  backend: DATABASE.startsWith('sqlite:') ? 'SQLite' : 'PostgreSQL',
  participants: PARTICIPANTS, trials_each: TRIALS, drop: DROP, killed_and_restarted: killed && restarted,
  seconds: Math.round(seconds * 10) / 10, acknowledged: acked.size, stored_rows: db.keys.length,
  trials_per_s: Math.round(acked.size / seconds), p50_ms: Math.round(pct(0.5) * 10) / 10, p99_ms: Math.round(pct(0.99) * 10) / 10,
  peak_rss_mb: Math.round(peakRssKb / 102.4) / 10, dropped_replies: dropped, retries, lost, duplicates,
  participants_given_up: failures, integrity: db.integrity,
};
if (args.json) console.log(JSON.stringify(result));
else {
  console.log(`| ${result.backend} | ${PARTICIPANTS} × ${TRIALS} | ${DROP * 100}% | ${KILL_AT === null ? 'no' : `kill -9 at ${KILL_AT * 100}%`} | ${result.trials_per_s} | ${result.p50_ms} | ${result.p99_ms} | ${result.peak_rss_mb} | ${result.acknowledged} | ${lost} | ${duplicates} | ${result.integrity ?? 'n/a'} |`);
}
const ok = lost === 0 && duplicates === 0 && stored.size === acked.size && acked.size === (PARTICIPANTS - failures) * TRIALS
  && (db.integrity === null || db.integrity === 'ok') && (KILL_AT === null || (killed && restarted));
if (!ok) {
  console.error(`FAILED: ${JSON.stringify(result)}`);
  process.exit(1);
}
agent.destroy();
