// The demo page: rate movies, rank popular ones you have not rated, all in this tab.
// URL parameters (for trying other models and for the end-to-end tests):
//   ?model=<same-origin URL of a .gguf>   default models/ranker.gguf
//   ?backend=auto|webgpu|cpu              default auto (WebGPU if available, else CPU)
import { fetchModel, forgetModels, RankerClient } from './ranker-client.js';

const params = new URLSearchParams(location.search);
const MODEL_URL = params.get('model') || 'models/ranker.gguf';
// The item table (MovieLens latest-small): lets a ranker trained with notes get them computed in
// the package. Optional: a build without it ranks without notes.
const ITEMS_URL = 'models/items-ml-latest-small.json';
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

/** Single mode's log-probabilities (first position) as probabilities over the candidates. */
function probabilities(scores) {
  const ids = Object.keys(scores);
  const top = Math.max(...ids.map((id) => scores[id]));
  const exp = ids.map((id) => Math.exp(scores[id] - top));
  const sum = exp.reduce((a, b) => a + b, 0);
  return Object.fromEntries(ids.map((id, i) => [id, exp[i] / sum]));
}

const percent = (p) => (p > 0 && p < 0.005 ? '<1%' : `${Math.round(p * 100)}%`);

/** The ranked list: the order itself (the <ol> numbers it) and, in single mode, a match bar. */
function renderRanking(result, byId, mode) {
  const probs = mode === 'single' ? probabilities(result.scores) : null;
  const best = probs ? Math.max(...Object.values(probs)) : 0;
  $('ranking').replaceChildren(...result.ranking.map((id) => {
    const li = el('li', {}, el('span', { className: 'title', textContent: byId.get(id) }));
    if (probs) {
      const p = probs[id];
      li.append(el('span', { className: 'match', title: `${percent(p)} chance that the model picks this movie first` },
        el('meter', { min: 0, max: 1, value: best > 0 ? p / best : 0 }),
        el('span', { className: 'pct', textContent: percent(p) })));
    }
    return li;
  }));
  const note = $('ranking-note');
  note.textContent = probs
    ? 'Bars: how likely the model is to pick each movie first, next to its favourite.'
    : 'Most likely to please you first. (The whole-list mode gives an order, not scores; ' +
      'the single-pass mode shows how strongly each movie is preferred.)';
  note.hidden = false;
}

async function rankNow() {
  const request = buildRequest(Number($('count').value) || 20);
  const byId = new Map(request.candidates.map((c) => [c.id, c.title]));
  const mode = $('mode').value;
  $('rank-button').disabled = true;
  $('rank-status').className = 'muted';
  $('rank-status').textContent = `Ranking ${request.candidates.length} movies…`;
  try {
    const result = await client.rank(request, { mode });
    renderRanking(result, byId, mode);
    $('rank-status').textContent = `Ranked ${result.ranking.length} movies in ` +
      `${(result.millis / 1000).toFixed(1)} s on ${backendName(result.backend)}.`;
  } catch (e) {
    $('rank-status').className = 'error';
    $('rank-status').textContent = e.message;
  } finally {
    updateRankButton();
  }
}

const backendName = (b) => (b === 'webgpu' ? 'WebGPU' : 'your CPU (WebAssembly)');

/** The model's name as a person would say it (older packages have only the GGUF name). */
const displayName = (info) => info.displayName || info.name;

/** The card link, if it is a web address (a model file cannot smuggle in a javascript: URL). */
function safeLink(url) {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** One short line; the technical reason for not using WebGPU goes into a closed toggle. */
function backendSummary(info) {
  if (info.backend !== 'webgpu') return 'Running on your CPU (WebAssembly)';
  // info().adapter: the name or "unnamed adapter", then " (software)" for a software adapter.
  const software = / \(software\)$/.test(info.adapter || '');
  const name = (info.adapter || '').replace(/ \(software\)$/, '');
  const named = name && name !== 'unnamed adapter';
  return software
    ? `Running on WebGPU with a software adapter${named ? ` (${name})` : ''}, which is slower than the CPU`
    : `Running on your GPU (WebGPU${named ? `: ${name}` : ''})`;
}

function showInfo(info, stats) {
  $('model-name').textContent = displayName(info);
  const quality = $('model-quality');
  const card = safeLink(info.cardUrl);
  quality.replaceChildren(...[
    info.quality,
    info.quality && card ? ' · ' : null,
    card ? el('a', { href: card, textContent: 'model card', target: '_blank', rel: 'noopener' }) : null,
  ].filter(Boolean));
  quality.hidden = !info.quality && !card;

  $('backend-line').replaceChildren(
    el('span', { className: 'badge', textContent: info.backend === 'webgpu' ? 'GPU' : 'CPU' }),
    ` ${backendSummary(info)}.`);
  $('backend-why').hidden = !info.fallbackReason;
  $('backend-why').open = false;
  $('fallback-reason').textContent = info.fallbackReason ? `WebGPU is not used: ${info.fallbackReason}.` : '';

  const rows = {
    model: displayName(info), quality: info.quality ?? '—', 'GGUF name': info.name,
    quantization: info.quantization,
    parameters: `${(info.parameters / 1e6).toFixed(1)} M`, context: info.contextLength,
    'max candidates': info.maxCandidates, 'history shown': info.maxHistory,
    template: info.templateVersion,
    'loaded from': stats.fromCache ? 'browser cache (no download)' : 'network (now cached)',
    'load time': `${(stats.totalMillis / 1000).toFixed(1)} s`,
    'item table': stats.itemsUsed ? 'loaded (notes are computed in this tab)' : 'not loaded',
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
  // Fetched once, before the model loads (nothing is fetched after it).
  const itemsReady = fetch(ITEMS_URL).then((r) => (r.ok ? r.arrayBuffer() : null)).catch(() => null);
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
  const items = await itemsReady;
  if (!items) console.warn(`${ITEMS_URL} not found: ranking without the item table (no notes)`);
  status.textContent = 'Starting the model…';
  const { info, loadMillis, itemsUsed } = await client.load(bytes, {
    backend: BACKEND,
    items,
    onProgress: (p) => { bar.value = 0.5 + 0.5 * p.fraction; },
  });
  bar.value = 1;
  bar.hidden = true;
  modelInfo = info;
  const stats = {
    fromCache, fetchMillis: fetchedMillis, loadMillis, totalMillis: performance.now() - t0,
    itemsUsed: Boolean(itemsUsed),
  };
  status.textContent = `Ready in ${(stats.totalMillis / 1000).toFixed(1)} s. ` +
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
