// The demo page: rate movies, rank popular ones you have not rated, all in this tab.
// URL parameters (for trying other models and for the end-to-end tests):
//   ?model=<same-origin URL of a .gguf>   default models/ranker.gguf
//   ?backend=auto|webgpu|cpu              default auto (WebGPU if available, else CPU)
import { fetchModel, forgetModels, RankerClient } from './ranker-client.js';

const params = new URLSearchParams(location.search);
const MODEL_URL = params.get('model') || 'models/ranker.gguf';
const BACKEND = params.get('backend') || 'auto';
const RATINGS_KEY = 'alro-demo-ratings';

const $ = (id) => document.getElementById(id);
const client = new RankerClient();
let movies = [];
let ratings = loadRatings();
let modelInfo = null;

function loadRatings() {
  try { return JSON.parse(localStorage.getItem(RATINGS_KEY)) || []; } catch { return []; }
}
function saveRatings() { localStorage.setItem(RATINGS_KEY, JSON.stringify(ratings)); }

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function stars(onRate, current = 0) {
  const box = el('span', { className: 'stars' });
  for (let s = 1; s <= 5; s++) {
    box.append(el('button', {
      type: 'button', textContent: s <= current ? '★' : '☆',
      title: `${s} star${s > 1 ? 's' : ''}`, ariaLabel: `rate ${s} of 5`,
      onclick: () => onRate(s),
    }));
  }
  return box;
}

function renderRatings() {
  $('ratings').replaceChildren(...ratings.map((r, i) => el('li', {},
    `${r.title} `,
    stars((s) => { ratings[i].rating = s; saveRatings(); renderRatings(); }, r.rating),
    el('button', { type: 'button', className: 'link', textContent: 'remove', onclick: () => {
      ratings.splice(i, 1); saveRatings(); renderRatings(); renderResults();
    } }))));
  $('ratings-empty').hidden = ratings.length > 0;
  updateRankButton();
}

function renderResults() {
  const q = $('search').value.trim().toLowerCase();
  if (!q) return $('results').replaceChildren();
  const rated = new Set(ratings.map((r) => r.id));
  const hits = [];
  for (const m of movies) {
    if (!rated.has(m.id) && m.t.toLowerCase().includes(q)) hits.push(m);
    if (hits.length === 8) break;
  }
  $('results').replaceChildren(...hits.map((m) => el('li', {},
    el('span', { textContent: m.t }),
    stars((s) => {
      ratings.push({ id: m.id, title: m.t, rating: s });
      saveRatings(); renderRatings(); renderResults();
    }))));
}

function updateRankButton() {
  $('rank-button').disabled = !modelInfo || ratings.length === 0;
  // Only the hint is set here: the status of the last ranking must stay visible.
  if (modelInfo && ratings.length === 0) $('rank-status').textContent = 'Rate at least one movie first.';
}

/** The request the page sends: the ratings as history, the most popular unrated movies as candidates. */
function buildRequest(count) {
  const rated = new Set(ratings.map((r) => r.id));
  const candidates = movies.filter((m) => !rated.has(m.id)).slice(0, count)
    .map((m) => ({ id: m.id, title: m.t }));
  return { history: ratings.map(({ title, rating }) => ({ title, rating })), candidates };
}

async function rankNow() {
  const request = buildRequest(Number($('count').value) || 20);
  const byId = new Map(request.candidates.map((c) => [c.id, c.title]));
  $('rank-button').disabled = true;
  $('rank-status').className = 'muted';
  $('rank-status').textContent = `Ranking ${request.candidates.length} movies…`;
  try {
    const result = await client.rank(request, { mode: $('mode').value });
    $('ranking').replaceChildren(...result.ranking.map((id) => el('li', {},
      byId.get(id), el('span', { className: 'score', textContent: result.scores[id].toFixed(2) }))));
    $('rank-status').textContent = `Ranked ${result.ranking.length} movies in ` +
      `${(result.millis / 1000).toFixed(2)} s on ${backendName(result.backend)}.`;
  } catch (e) {
    $('rank-status').className = 'error';
    $('rank-status').textContent = e.message;
  } finally {
    updateRankButton();
  }
}

const backendName = (b) => (b === 'webgpu' ? 'WebGPU' : 'the CPU (WebAssembly)');

function showInfo(info, stats) {
  const line = $('backend-line');
  line.replaceChildren(el('span', { className: 'badge', textContent: info.backend === 'webgpu' ? 'WebGPU' : 'CPU' }),
    info.backend === 'webgpu'
      ? ` Ranking runs on your GPU through WebGPU${info.adapter ? ` (${info.adapter})` : ''}.`
      : ` Ranking runs on your CPU (WebAssembly). ${info.fallbackReason ? `WebGPU is not used: ${info.fallbackReason}.` : ''}`);
  const rows = {
    model: info.name, quantization: info.quantization,
    parameters: `${(info.parameters / 1e6).toFixed(1)} M`, context: info.contextLength,
    'max candidates': info.maxCandidates, 'history shown': info.maxHistory,
    template: info.templateVersion,
    'loaded from': stats.fromCache ? 'browser cache (no download)' : 'network (now cached)',
    'load time': `${(stats.totalMillis / 1000).toFixed(1)} s`,
  };
  for (const [k, v] of Object.entries(info.metadata)) rows[k] = Array.isArray(v) ? v.join(' ') : String(v);
  $('model-info').replaceChildren(...Object.entries(rows).flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v })]));
}

async function start() {
  const t0 = performance.now();
  const status = $('model-status');
  const bar = $('model-progress');
  const moviesReady = fetch('data/movies.json').then((r) => {
    if (!r.ok) throw new Error(`data/movies.json: HTTP ${r.status} (run scripts/build-wasm.sh)`);
    return r.json();
  });
  status.textContent = 'Opening the model…';
  const { bytes, fromCache } = await fetchModel(MODEL_URL, (p) => {
    bar.value = p.fraction * 0.5;
    if (p.stage === 'download') {
      status.textContent = `Downloading the model once: ${(p.received / 1048576).toFixed(1)}` +
        (p.total ? ` of ${(p.total / 1048576).toFixed(1)} MB` : ' MB');
    }
  });
  const fetchedMillis = performance.now() - t0;
  movies = (await moviesReady).movies;
  status.textContent = 'Starting the model…';
  const { info, loadMillis } = await client.load(bytes, {
    backend: BACKEND,
    onProgress: (p) => { bar.value = 0.5 + 0.5 * p.fraction; },
  });
  bar.value = 1;
  modelInfo = info;
  const stats = { fromCache, fetchMillis: fetchedMillis, loadMillis, totalMillis: performance.now() - t0 };
  status.textContent = `Ready (${info.name}, ${(stats.totalMillis / 1000).toFixed(1)} s). ` +
    'From now on this page makes no network request.';
  showInfo(info, stats);
  $('search').disabled = false;
  renderRatings();
  return { info, ...stats };
}

$('search').addEventListener('input', renderResults);
$('rank-button').addEventListener('click', rankNow);
$('forget-model').addEventListener('click', async () => {
  await forgetModels();
  $('forget-model').textContent = 'Forgotten: the next visit downloads the model again';
});
renderRatings();

const ready = start();
ready.catch((e) => {
  $('model-status').className = 'error';
  $('model-status').textContent = e.message;
});

// For the end-to-end tests and for trying requests from the console.
window.alroDemo = { ready, rank: (request, options) => client.rank(request, options), buildRequest };
