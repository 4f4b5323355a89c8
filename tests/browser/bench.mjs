// Benchmark (not a test): the demo page in headless Chromium ranks 20 candidates with a 10-item
// history, on the wasm CPU backend and on WebGPU (SwiftShader, a software adapter).
// Measures per backend:
//   - cold start from the browser cache: Cache Storage read + Ranker.load (parse, weights,
//     GPU upload) on a fresh page, and the first rank (which also compiles the shaders on WebGPU);
//   - warm rank time (median of the following runs), greedy and single;
//   - memory: performance.measureUserAgentSpecificMemory() (page + worker; the server makes the
//     page cross-origin isolated) and the peak resident set (VmHWM) of Chromium's renderer and GPU
//     processes from /proc.
//   - native: the same request through `alro rank` (ALRO_BIN, default target/release/alro, else
//     target/debug/alro, whose dependencies and alro-core are built at opt-level 3) on the same
//     model, so the ratio wasm CPU / native CPU comes from one run on one machine: once on all
//     cores and once on one thread (RAYON_NUM_THREADS=1), the wasm CPU backend's thread count.
// Usage (after scripts/build-wasm.sh):  node tests/browser/bench.mjs [--runs 3] [--backends cpu,webgpu]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '../..');
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const RUNS = Number(arg('runs', 3));
const BACKENDS = arg('backends', 'cpu,webgpu').split(',');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const movies = JSON.parse(fs.readFileSync(path.join(ROOT, 'www/data/movies.json'), 'utf8')).movies;
// 20 most popular movies as candidates; the next 10 as the history, with varied ratings.
const REQUEST = {
  history: movies.slice(20, 30).map((m, i) => ({ title: m.t, rating: [4, 5, 3, 4.5, 2, 5, 3.5, 4, 1, 4][i] })),
  candidates: movies.slice(0, 20).map((m) => ({ id: m.id, title: m.t })),
};

function descendants(pid) {
  const all = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const parent = new Map();
  for (const p of all) {
    try { parent.set(Number(p), Number(fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1])); } catch {}
  }
  const out = [];
  const walk = (p) => { for (const [c, pp] of parent) if (pp === p) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}

function processPeaks(rootPid) {
  const peaks = {};
  // Playwright's Browser has no pid: walk this node process's descendants.
  for (const pid of descendants(rootPid)) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/chrom/i.test(cmd)) continue; // Chromium's processes only (not the file server)
      const type = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      peaks[type] = Math.max(peaks[type] ?? 0, Math.round(hwm / 1024));
    } catch {}
  }
  return peaks; // MiB per process type
}

/** `alro rank` on the same request: per-request elapsed_ms (excludes model load), per mode; on
 * `threads` threads where given (rayon's and candle's pools both read RAYON_NUM_THREADS). */
function native(runs, threads) {
  const release = path.join(ROOT, 'target/release/alro');
  const bin = process.env.ALRO_BIN || (fs.existsSync(release) ? release : path.join(ROOT, 'target/debug/alro'));
  const env = threads ? { ...process.env, RAYON_NUM_THREADS: String(threads) } : process.env;
  const model = fs.realpathSync(path.join(ROOT, 'www/models/ranker.gguf'));
  const input = path.join(ROOT, 'artifacts/browser/bench-request.jsonl');
  fs.mkdirSync(path.dirname(input), { recursive: true });
  fs.writeFileSync(input, Array(runs + 1).fill(JSON.stringify(REQUEST)).join('\n') + '\n');
  const out = {};
  for (const mode of ['greedy', 'single']) {
    const r = spawnSync(bin, ['rank', '--model', model, '--input', input, '--mode', mode], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`${bin} rank failed: ${r.stderr}`);
    const ms = r.stdout.trim().split('\n').map((l) => JSON.parse(l).elapsed_ms).slice(1); // first = warm-up
    out[`${mode}Millis`] = { median: Math.round(median(ms)), runs: ms.map(Math.round) };
    if (mode === 'greedy') out.ranking = JSON.parse(r.stdout.trim().split('\n')[0]).ranking;
  }
  return out;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function bench(base, backend) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: backend === 'webgpu' ? [...ARGS, '--enable-unsafe-webgpu'] : ARGS,
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    // First visit fills Cache Storage; the measured cold start is the second, fresh page.
    await page.goto(`${base}?backend=${backend}`);
    await page.evaluate(() => window.alroDemo.ready);
    await page.close();
    const fresh = await context.newPage();
    await fresh.goto(`${base}?backend=${backend}`);
    const load = await fresh.evaluate(() => window.alroDemo.ready);
    if (load.info.backend !== backend) throw new Error(`asked for ${backend}, got ${load.info.backend}: ${load.info.fallbackReason}`);
    const memory = async () => fresh.evaluate(async () =>
      (self.crossOriginIsolated && performance.measureUserAgentSpecificMemory
        ? Math.round((await performance.measureUserAgentSpecificMemory()).bytes / 1048576) : null));
    const memAfterLoad = await memory();
    const rank = (mode) => fresh.evaluate(([r, m]) => window.alroDemo.rank(r, { mode: m }), [REQUEST, mode]);
    const t0 = Date.now();
    const first = await rank('greedy');
    const firstWall = Date.now() - t0;
    const greedy = [];
    const single = [];
    for (let i = 0; i < RUNS; i++) greedy.push((await rank('greedy')).millis);
    for (let i = 0; i < RUNS; i++) single.push((await rank('single')).millis);
    const memAfterRank = await memory();
    return {
      backend, adapter: load.info.adapter, model: load.info.name, quantization: load.info.quantization,
      coldStartMillis: { cacheRead: Math.round(load.fetchMillis), load: Math.round(load.loadMillis), total: Math.round(load.totalMillis), firstGreedyRank: Math.round(first.millis), firstGreedyRankWall: firstWall },
      greedyMillis: { median: Math.round(median(greedy)), runs: greedy.map(Math.round) },
      singleMillis: { median: Math.round(median(single)), runs: single.map(Math.round) },
      memoryMiB: { measureUserAgentSpecificMemory: { afterLoad: memAfterLoad, afterRanks: memAfterRank }, processPeakRss: processPeaks(process.pid) },
      ranking: first.ranking,
    };
  } finally {
    await browser.close();
  }
}

const server = spawn('python3', ['www/tools/serve.py', '--port', '0', '--dir', 'www'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
try {
  const base = await new Promise((resolve) => {
    server.stdout.setEncoding('utf8');
    server.stdout.on('data', (d) => { const m = /serving (\S+)/.exec(d); if (m) resolve(m[1]); });
  });
  const chromiumVersion = (await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ARGS }).then(async (b) => { const v = b.version(); await b.close(); return v; }));
  const results = { date: new Date().toISOString(), chromium: chromiumVersion, request: '10-item history, 20 candidates', runs: RUNS, backends: [] };
  console.error('[bench] native alro rank…');
  results.native = native(RUNS);
  results.nativeOneThread = native(RUNS, 1);
  for (const b of BACKENDS) {
    console.error(`[bench] ${b}…`);
    results.backends.push(await bench(base, b));
  }
  const ratio = (b, n) => ({ greedy: +(b.greedyMillis.median / n.greedyMillis.median).toFixed(2), single: +(b.singleMillis.median / n.singleMillis.median).toFixed(2) });
  for (const b of results.backends) {
    b.vsNative = ratio(b, results.native);
    // The wasm CPU backend runs on one thread: this is the same-thread-count ratio.
    b.vsNativeOneThread = ratio(b, results.nativeOneThread);
  }
  fs.mkdirSync(path.join(ROOT, 'artifacts/browser'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'artifacts/browser/bench.json'), JSON.stringify(results, null, 2));
  console.log(JSON.stringify(results, null, 2));
} finally {
  server.kill();
}
