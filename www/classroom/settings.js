// The run form's settings in the page's URL, as TensorFlow Playground keeps its own: a teacher
// sends one link and it opens with the same data set, front end, rules, seed and epochs. Each
// field is checked on the way in; a value that does not parse is named in a message and left at
// its default, so a mangled link still opens a working page.

/** URL key → form field id, with each value's check. `menus` holds the rule and front-end ids. */
const FIELDS = [
  { key: 'task', id: 'task', check: (v) => ['mnist', 'fashion'].includes(v) },
  { key: 'front_end', id: 'front_end', check: (v, menus) => menus.frontEnds.includes(v) },
  { key: 'rule', id: 'rule', check: (v, menus) => menus.rules.includes(v) },
  { key: 'optimizer', id: 'optimizer', check: (v) => ['adam', 'sgd'].includes(v) },
  { key: 'lr', id: 'learning_rate', check: (v) => /^\d*\.?\d+(e-?\d+)?$/i.test(v) && Number(v) > 0 },
  { key: 'decay', id: 'lr_decay', check: (v) => /^\d*\.?\d+$/.test(v) && Number(v) > 0 && Number(v) <= 1 },
  { key: 'batch', id: 'batch_size', check: (v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 1024 },
  { key: 'epochs', id: 'epochs', check: (v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 50 },
  { key: 'seed', id: 'seed', check: (v) => /^\d{1,20}$/.test(v) && BigInt(v) <= 2n ** 64n - 1n },
  { key: 'images', id: 'train_limit', check: (v) => v === '' || (/^\d+$/.test(v) && Number(v) >= 1) },
  { key: 'noise', id: 'neuronal_noise', check: (v) => /^\d*\.?\d+$/.test(v) && Number(v) <= 10 },
];
const RACE_KEY = 'race';
const RACE_FRONT_ENDS_KEY = 'race_front_ends';

/**
 * Reads the settings in `search` (a query string). Resolves to `{values: {fieldId: text},
 * race: [rule ids] | null, raceFrontEnds: [front-end ids] | null, problems: [text]}`: only
 * checked values, and a line per value that was not understood.
 */
export function readSettings(search, menus) {
  const params = new URLSearchParams(search);
  const values = {};
  const problems = [];
  for (const field of FIELDS) {
    if (!params.has(field.key)) continue;
    const value = params.get(field.key).trim();
    if (field.check(value, menus)) values[field.id] = value;
    else problems.push(`${field.key}=${JSON.stringify(value.slice(0, 40))}`);
  }
  const list = (key, known) => {
    if (!params.has(key)) return null;
    const ids = params.get(key).split(',').map((s) => s.trim()).filter(Boolean);
    const bad = ids.filter((id) => !known.includes(id));
    if (bad.length || !ids.length) {
      problems.push(`${key}=${JSON.stringify(params.get(key).slice(0, 60))}`);
      return null;
    }
    return [...new Set(ids)];
  };
  const race = list(RACE_KEY, menus.rules);
  const raceFrontEnds = list(RACE_FRONT_ENDS_KEY, menus.frontEnds);
  return { values, race, raceFrontEnds, problems };
}

/**
 * The query string for the form as it is (`race`/`raceFrontEnds`: the ticked boxes). Keys the
 * form does not own (`?workers=`, `?test_limit=`, …) are kept from `search`.
 */
export function settingsQuery(search, form, race, raceFrontEnds) {
  const params = new URLSearchParams(search);
  for (const field of FIELDS) {
    const element = form(field.id);
    if (!element) continue;
    params.set(field.key, element.value.trim());
  }
  if (race.length) params.set(RACE_KEY, race.join(','));
  else params.delete(RACE_KEY);
  if (raceFrontEnds.length) params.set(RACE_FRONT_ENDS_KEY, raceFrontEnds.join(','));
  else params.delete(RACE_FRONT_ENDS_KEY);
  return params.toString();
}
