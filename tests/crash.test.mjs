// The crash test, at a size the test command can afford: simulated participants send trials to
// the real server over loopback, 2% of replies are dropped, and the server is killed with
// SIGKILL halfway and restarted. Nothing acknowledged may be lost or stored twice, counted from
// the database itself; SQLite's integrity check must say ok. The full-size run (500 × 100) is
// `bash scripts/bench_collection.sh`, whose table is in the README.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.MICROLEARNING_BIN;
const POSTGRES = process.env.MICROLEARNING_TEST_POSTGRES;

function load(database) {
  assert.ok(BIN, 'MICROLEARNING_BIN must name the built microlearning binary (scripts/test.sh sets it)');
  const run = spawnSync('node', ['scripts/load_test.mjs', '--bin', BIN, '--database', database, '--participants', '60',
    '--trials', '40', '--drop', '0.02', '--kill-at', '0.5', '--json', '--deadline-s', '300'], { encoding: 'utf8' });
  if (run.stderr) console.error(run.stderr);
  assert.equal(run.status, 0, `the load test failed: ${run.stdout}`);
  const result = JSON.parse(run.stdout.trim().split('\n').pop());
  console.log(JSON.stringify(result));
  assert.equal(result.killed_and_restarted, true);
  assert.equal(result.lost, 0);
  assert.equal(result.duplicates, 0);
  assert.equal(result.acknowledged, result.stored_rows);
  assert.ok(result.dropped_replies > 0, 'some replies were dropped and retried');
  return result;
}

test('kill -9 mid-load on SQLite: nothing acknowledged lost, nothing duplicated, integrity ok', () => {
  const dir = mkdtempSync(join(tmpdir(), 'microlearning-crash-'));
  const result = load(`sqlite://${join(dir, 'lab.db')}`);
  assert.equal(result.integrity, 'ok');
});

test('kill -9 mid-load on PostgreSQL: nothing acknowledged lost, nothing duplicated', () => {
  assert.ok(POSTGRES, 'MICROLEARNING_TEST_POSTGRES must name a PostgreSQL server (scripts/test.sh starts one)');
  const db = `crash_${process.pid}`;
  execFileSync('psql', [POSTGRES, '-q', '-c', `CREATE DATABASE ${db}`]);
  load(POSTGRES.replace(/\/[^/]*$/, `/${db}`));
});
