// SIMULATED participants for the example study's report (docs/example-study.toml): a scripted
// observer, not people. They go through the real collection path: `study create` makes a study
// in the database, `serve` runs the server, and every simulated participant starts a session
// and sends each trial with PUT, as the page does. The study's name says "simulated", and so
// does every participant id.
//
// The observer: each participant has a skill (0.90–0.98 on clean images); the chance of a right
// answer falls with the noise σ as a psychometric curve, p = 0.1 + (skill − 0.1)/(1 + (σ/σ50)^3),
// with σ50 = 0.55 for digits and 0.40 for clothes, and a little more at 100 ms or less; a wrong
// answer goes to the class's look-alike (4↔9, 3↔5, shirt↔T-shirt, sandal↔sneaker, …) 70% of
// the time, otherwise to any other class. Seeded, so the same arguments give the same answers.
//
// node scripts/simulate_people.mjs --bin PATH/microlearning --database sqlite://PATH \
//   --task mnist|fashion [--participants 12] [--seed 1]
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import { freePort, sender, waitForServer } from './lab_http.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => {
  if (a.startsWith('--')) pairs.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return pairs;
}, []));
const { bin: BIN, database: DATABASE, task: TASK } = args;
const PARTICIPANTS = Number(args.participants ?? 12);
if (!BIN || !DATABASE || !['mnist', 'fashion'].includes(TASK)) {
  console.error('usage: node scripts/simulate_people.mjs --bin PATH --database URL --task mnist|fashion [--participants N] [--seed S]');
  process.exit(2);
}

let state = BigInt(args.seed ?? 1) * 7919n + (TASK === 'mnist' ? 1n : 2n);
function random() {
  state = (state * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
  return Number(state >> 11n) / 2 ** 53;
}

const LOOK_ALIKE = TASK === 'mnist'
  ? [6, 7, 7, 5, 9, 3, 0, 1, 3, 4]
  // T-shirt↔shirt, trouser→dress, pullover↔coat, dress→T-shirt, sandal↔sneaker, bag→pullover,
  // ankle boot→sneaker.
  : [6, 3, 4, 0, 2, 7, 0, 5, 2, 7];
const SIGMA_50 = TASK === 'mnist' ? 0.55 : 0.40;

function answer(skill, s) {
  const brief = s.duration_ms !== null && s.duration_ms <= 100 ? 0.93 : 1;
  const p = 0.1 + (skill * brief - 0.1) / (1 + (s.noise_sigma / SIGMA_50) ** 3);
  if (random() < p) return s.label;
  if (random() < 0.7) return LOOK_ALIKE[s.label];
  const other = Math.floor(random() * 9);
  return other >= s.label ? other + 1 : other;
}

const PORT = await freePort();
const agent = new http.Agent({ keepAlive: true });

const send = sender(PORT, agent);

const created = JSON.parse(execFileSync(BIN, [
  'study', '--database', DATABASE, 'create', '--name', `simulated participants (a scripted observer, not people): ${TASK}`,
  '--design', 'standard', '--task', TASK, '--seed', String(args['list-seed'] ?? 1), '--json',
], { encoding: 'utf8' }));
const server = spawn(BIN, ['serve', '--database', DATABASE, '--listen', `127.0.0.1:${PORT}`, '--site', '.'], { stdio: ['ignore', 'ignore', 'inherit'] });
try {
  await waitForServer(send);
  let stored = 0;
  for (let k = 0; k < PARTICIPANTS; k += 1) {
    const skill = 0.90 + 0.08 * random();
    const start = await send('POST', `/studies/${created.study}/sessions`, { body: { participant: `simulated-${TASK}-${k + 1}`, consent: true } });
    if (start.status !== 201) throw new Error(`start: ${start.status} ${start.text}`);
    const { participant, session, token } = start.body;
    let elapsed = 2000;
    for (const s of created.stimuli) {
      const response = answer(skill, s);
      const rt = Math.round((520 + 380 * random() + 600 * s.noise_sigma) * 1000) / 1000;
      elapsed += Math.round(rt) + 700;
      const row = {
        participant_id: participant, session_id: session, observer_kind: 'human', rule: null, front_end: null,
        task: TASK, list_seed: Number(args['list-seed'] ?? 1), trial_index: s.stimulus_index + 3,
        trial_type: 'digit-trial', time_elapsed: elapsed, phase: s.phase, stimulus_index: s.stimulus_index,
        test_index: s.test_index, label: s.label, noise_sigma: s.noise_sigma, noise_seed: s.noise_seed,
        requested_duration_ms: s.duration_ms, measured_duration_ms: s.duration_ms === null ? null : s.duration_ms + 0.25,
        response, rt, correct: response === s.label,
      };
      const r = await send('PUT', `/sessions/${session}/trials/${s.stimulus_index}`, { token, body: row });
      if (r.status !== 201) throw new Error(`trial ${s.stimulus_index}: ${r.status} ${r.text}`);
      stored += 1;
    }
    const done = await send('POST', `/sessions/${session}/complete`, { token });
    if (done.status !== 200) throw new Error(`complete: ${done.status} ${done.text}`);
  }
  console.log(`study ${created.study}: ${PARTICIPANTS} simulated participants, ${stored} trials stored (${TASK})`);
} finally {
  server.kill('SIGTERM');
}
