// The experiment's files: CSV (one row per trial, long format: jsPsych's own columns plus the
// lab's) and JSON (the session's metadata with its trials). The columns are those of the
// library's `TrialRecord` (crate/src/human/records.rs), which reads both files back strictly.

export const TRIAL_COLUMNS = [
  'participant_id', 'session_id', 'observer_kind', 'rule', 'front_end', 'task', 'list_seed',
  'trial_index', 'trial_type', 'time_elapsed', 'phase', 'stimulus_index', 'test_index', 'label',
  'noise_sigma', 'noise_seed', 'requested_duration_ms', 'measured_duration_ms', 'response', 'rt',
  'correct',
];

export const SESSION_FILE_FORMAT = 'microlearning-human-session/1';

// Timings are rounded to µs; every other number is written exactly (String(x) is the shortest
// text that reads back as the same double), so σ and seeds rebuild the very same stimulus.
const TIMING_COLUMNS = new Set(['rt', 'time_elapsed', 'measured_duration_ms']);

// Text a spreadsheet would run as a formula gets a leading ' (so does text already starting
// with one); the library strips exactly one when it reads the file back. The server's export
// (crate/src/human/records.rs, `csv_row`) writes the very same bytes.
const TEXT_COLUMNS = new Set(['participant_id', 'session_id', 'observer_kind', 'rule', 'front_end', 'task', 'trial_type', 'phase']);
const FORMULA_START = /^[=+\-@\t\r']/;

function cell(value, column) {
  if (value === null || value === undefined) return '';
  let text = TIMING_COLUMNS.has(column) && typeof value === 'number' ? String(Math.round(value * 1000) / 1000) : String(value);
  if (TEXT_COLUMNS.has(column) && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Trial rows as CSV text, with a header. */
export function trialsToCsv(rows) {
  const lines = [TRIAL_COLUMNS.join(',')];
  for (const row of rows) lines.push(TRIAL_COLUMNS.map((c) => cell(row[c], c)).join(','));
  return `${lines.join('\n')}\n`;
}

/** The JSON export: metadata (design, seed, browser, refresh estimate) and every trial. */
export function sessionToJson(session, rows) {
  return JSON.stringify({ format: SESSION_FILE_FORMAT, session, trials: rows }, null, 1);
}

/** A file name for a session's export. */
export function exportName(session, extension) {
  const safe = (s) => String(s).replace(/[^A-Za-z0-9_-]+/g, '-');
  return `human-${safe(session.participant_id)}-${safe(session.session_id).slice(0, 8)}.${extension}`;
}
