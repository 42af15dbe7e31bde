// The study dashboard (dashboard.html?study=ID): counts and per-condition accuracy from the
// collection server's summary, refreshed as its server-sent events arrive, and a feed of the
// latest answers. The comparison with models runs in the lab page (its People tab), which pools this
// study's trials from the server: the dashboard's link opens it with the study filled in.
import { experimenterFetch, followEvents, tokenKey } from './experiment/collect.js';
import { downloadText } from './files.js';

const $ = (id) => document.getElementById(id);
// (timeline.js has one too, but importing it would pull in jsPsych, which this page does not load.)
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const params = new URLSearchParams(location.search);
let controller = null;
let refreshTimer = null;

function showMessage(text) {
  $('message').textContent = text;
  $('message').hidden = !text;
}

function draw(summary) {
  const c = summary.counts;
  $('study-name').textContent = `${summary.name} (${summary.study}) · ${summary.open ? 'open' : 'closed'} · ${summary.required_trials} measured trials per participant`;
  for (const [id, value] of [['n-started', c.sessions_started], ['n-running', c.running], ['n-completed', c.completed], ['n-withdrawn', c.withdrawn], ['n-trials', c.trials]]) {
    $(id).textContent = String(value);
  }
  $('conditions').innerHTML = c.conditions.length
    ? `<tr><th>condition</th><th>trials</th><th>correct</th><th></th></tr>${c.conditions.map((k) => {
      const p = k.trials ? k.correct / k.trials : 0;
      return `<tr><td>${escapeHtml(k.condition)}</td><td>${k.trials}</td><td>${(100 * p).toFixed(1)}%</td><td><span class="bar" style="width:${(12 * p).toFixed(2)}rem"></span></td></tr>`;
    }).join('')}`
    : '<tr><td class="hint">No test trials yet.</td></tr>';
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function refresh(study, token) {
  try {
    draw(await experimenterFetch(study, 'summary', token));
    showMessage('');
  } catch (err) {
    showMessage(`Could not read the study: ${err.message}`);
  }
}

function feed(kind, data) {
  if (!data || kind === 'hello') return;
  const li = document.createElement('li');
  const time = new Date(data.at_ms).toLocaleTimeString();
  li.textContent = kind === 'trial'
    ? `${time} · ${data.participant} · trial ${data.stimulus_index} (${data.phase}, ${data.condition}) · ${data.correct ? 'correct' : 'wrong'}`
    : `${time} · ${data.participant} · ${kind.replace('session-', 'session ')}`;
  $('feed').prepend(li);
  while ($('feed').children.length > 30) $('feed').lastChild.remove();
}

async function connect(study, token) {
  controller?.abort();
  controller = new AbortController();
  sessionStorage.setItem(tokenKey(study), token);
  $('live-panel').hidden = false;
  $('open-lab').href = `./?pool=${encodeURIComponent(study)}`;
  await refresh(study, token);
  followEvents(study, token, {
    signal: controller.signal,
    onState: (text) => { $('connection').textContent = text; },
    onEvent: (kind, data) => {
      feed(kind, data);
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => refresh(study, token), 300);
    },
  });
}

function main() {
  const study = params.get('study') || '';
  $('study').value = study;
  const token = study && sessionStorage.getItem(tokenKey(study));
  $('login').addEventListener('submit', () => {
    const s = $('study').value.trim();
    const t = $('token').value.trim();
    if (!s || !t) return;
    history.replaceState(null, '', `?study=${encodeURIComponent(s)}`);
    connect(s, t);
  });
  $('download-csv').addEventListener('click', async () => {
    const s = $('study').value.trim();
    try {
      downloadText(await experimenterFetch(s, 'trials.csv', sessionStorage.getItem(tokenKey(s))), `${s}-trials.csv`, 'text/csv');
    } catch (err) {
      showMessage(`Could not download: ${err.message}`);
    }
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(tokenKey($('study').value.trim()));
    controller?.abort();
    $('live-panel').hidden = true;
    $('token').value = '';
  });
  if (token) connect(study, token);
}

main();
