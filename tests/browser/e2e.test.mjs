// End-to-end tests of the demo page and the @alro/ranker package in headless Chromium.
// Run by scripts/test-browser.sh, which builds the page, ranks the same fixture with the native
// CLI and passes its answers in ALRO_NATIVE_RESULTS. Each test can fail: rankings are compared
// with the native ones, every network request is recorded (by the browser and by the server), and
// error messages are matched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'artifacts', 'browser');
// One request per line: [0] a 6-item history and 8 candidates, [1] a small one (2 + 4) that the
// software WebGPU adapter can rank within minutes.
const FIXTURES = fs.readFileSync(path.join(ROOT, 'tests/fixtures/browser/request.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const FIXTURE = FIXTURES[0];
// {greedy: [response per fixture line], single: [...], bootstrap: [...]} from the native CLI.
const NATIVE = JSON.parse(fs.readFileSync(process.env.ALRO_NATIVE_RESULTS, 'utf8'));
// Flags this machine needs (see the environment notes): no sandbox as root, no GPU process, and
// no background traffic to Google's hosts (the network is closed, and we count requests).
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
// The wasm CPU backend and the native build use different SIMD kernels, so logits differ in the
// last bits; single-mode log-probabilities must agree to this much. Greedy rankings must be equal.
const LOGPROB_TOLERANCE = 2e-3;
// Bootstrap as scripts/test-browser.sh asks the native CLI for it.
const BOOTSTRAP = { mode: 'bootstrap', orders: 2, seed: 3 };

let server;
let base;
const serverLog = []; // one entry per HTTP request the server answered
const results = {};

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  server = spawn('python3', ['www/tools/serve.py', '--port', '0', '--dir', 'www'], { cwd: ROOT });
  server.stderr.setEncoding('utf8');
  server.stderr.on('data', (chunk) => {
    for (const line of chunk.split('\n')) if (line.includes('"GET') || line.includes('"HEAD') || line.includes('"POST')) serverLog.push(line);
  });
  base = await new Promise((resolve, reject) => {
    server.stdout.setEncoding('utf8');
    server.stdout.on('data', (d) => { const m = /serving (\S+)/.exec(d); if (m) resolve(m[1]); });
    server.on('exit', (code) => reject(new Error(`www server exited with ${code}`)));
  });
});

after(() => {
  server?.kill();
  fs.writeFileSync(path.join(ARTIFACTS, 'results.json'), JSON.stringify(results, null, 2));
});

async function launch({ webgpu }) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: webgpu ? [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'] : CHROMIUM_ARGS,
  });
}

/** Loads the page, returns it with its load stats and a log of every request the browser made. */
async function openPage(browser, query) {
  const context = await browser.newContext();
  const requests = [];
  context.on('request', (r) => requests.push({ url: r.url(), at: Date.now() }));
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(`${base}${query}`);
  const load = await page.evaluate(() => window.alroDemo.ready);
  return { context, page, load, requests, consoleErrors };
}

/** A score as the package returns it, e.g. greedy's Borda points "19.00" or a log-probability. */
const RAW_SCORE = /-?\d+\.\d{2}/;

/** What a person sees of the model: its name as a person says it, a quality line, a short
 *  backend line, and the technical reason for not using WebGPU (if any) in a closed toggle. */
async function checkModelPresentation(name, page, info) {
  const shown = await page.evaluate(() => ({
    name: document.getElementById('model-name').textContent,
    quality: document.getElementById('model-quality').hidden ? null : document.getElementById('model-quality').textContent,
    backendLine: document.getElementById('backend-line').textContent,
    whyHidden: document.getElementById('backend-why').hidden,
    whyOpen: document.getElementById('backend-why').open,
    whyText: document.getElementById('fallback-reason').textContent,
    whyVisible: document.getElementById('fallback-reason').checkVisibility(),
  }));
  results[`${name}Shown`] = shown;
  assert.ok(info.displayName, `${name}: info().displayName is empty`);
  assert.equal(shown.name, info.displayName, `${name}: the page must name the model by its display name`);
  assert.ok(!shown.name.includes(info.name), `${name}: the visible name shows the GGUF general.name ${info.name}`);
  if (Object.keys(info.metadata).length === 0) {
    // A plain backbone says so, and that it ranks at chance.
    assert.match(info.displayName, /\(untrained backbone\)$/);
    assert.equal(info.quality, 'untrained: ranks at chance');
    assert.equal(info.cardUrl, null);
  }
  if (info.quality) assert.ok(shown.quality.includes(info.quality), `${name}: quality line not shown`);
  if (info.backend === 'cpu') assert.match(shown.backendLine, /^\s*CPU\s+Running on your CPU \(WebAssembly\)\.$/);
  else assert.match(shown.backendLine, /Running on (your GPU \(WebGPU[:)]|WebGPU with a software adapter)/);
  assert.ok(shown.backendLine.length < 140, `${name}: backend line too long: ${shown.backendLine}`);
  if (info.fallbackReason) {
    assert.ok(!shown.backendLine.includes(info.fallbackReason), `${name}: the fallback reason is on the visible line`);
    assert.equal(shown.whyHidden, false, `${name}: the fallback reason toggle is hidden`);
    assert.equal(shown.whyOpen, false, `${name}: the fallback reason toggle must start closed`);
    assert.equal(shown.whyVisible, false, `${name}: the fallback reason is visible without opening the toggle`);
    assert.ok(shown.whyText.includes(info.fallbackReason), `${name}: the toggle lacks the fallback reason`);
  } else {
    assert.equal(shown.whyHidden, true, `${name}: a fallback toggle without a fallback`);
  }
}

function assertClose(actual, expected, tol, what) {
  for (const [id, v] of Object.entries(expected)) {
    assert.ok(Math.abs(actual[id] - v) <= tol, `${what}: score of ${id} is ${actual[id]}, native ${v} (tolerance ${tol})`);
  }
}

/** Ranks fixtures through the page, checks them against the native CLI and that nothing is fetched. */
async function rankAndCheck(name, { page, requests, consoleErrors }, expectBackend, { fixtures, visitorPath }) {
  const afterLoad = Date.now();
  const serverMark = serverLog.length;
  const timings = [];
  for (const i of fixtures) {
    const greedy = await page.evaluate((r) => window.alroDemo.rank(r, { mode: 'greedy' }), FIXTURES[i]);
    const single = await page.evaluate((r) => window.alroDemo.rank(r, { mode: 'single' }), FIXTURES[i]);
    assert.equal(greedy.backend, expectBackend);
    // Both sides multiply f32 activations with the same decoded weights (prefill: dequantized
    // GEMM; decode steps: alro-core's fixed-order matvec, or the WGSL kernels), so logits differ
    // only in the last bits and the greedy order must be the native one.
    assert.deepEqual(greedy.ranking, NATIVE.greedy[i].ranking, `${name}: greedy ranking of fixture ${i} differs from alro rank`);
    assert.deepEqual(single.ranking, NATIVE.single[i].ranking, `${name}: single ranking of fixture ${i} differs from alro rank`);
    assertClose(single.scores, NATIVE.single[i].scores, LOGPROB_TOLERANCE, `${name} single, fixture ${i}`);
    timings.push({ fixture: i, greedyMillis: greedy.millis, singleMillis: single.millis, greedy: greedy.ranking });
  }
  if (expectBackend === 'cpu') {
    // Bootstrap runs the same driver as native `alro rank`: greedy lists under seeded
    // presentation orders, Borda-combined, so its ranking must be the native one too.
    const i = fixtures[fixtures.length - 1];
    const boot = await page.evaluate(([r, o]) => window.alroDemo.rank(r, o), [FIXTURES[i], BOOTSTRAP]);
    assert.deepEqual(boot.ranking, NATIVE.bootstrap[i].ranking, `${name}: bootstrap ranking of fixture ${i} differs from alro rank`);
    timings.push({ fixture: i, bootstrapMillis: boot.millis, orders: BOOTSTRAP.orders });
  }
  results[name] = { timings };
  if (!visitorPath) {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
    return checkNoLateRequests(name, afterLoad, serverMark, requests, consoleErrors);
  }

  // The visitor's path: search, rate, rank 20 popular movies.
  await page.fill('#search', 'Matrix');
  await page.locator('#results li').first().locator('.stars button').nth(4).click();
  await page.fill('#search', 'Toy Story');
  await page.locator('#results li').first().locator('.stars button').nth(3).click();
  await page.click('#rank-button');
  await page.waitForFunction(() => document.querySelectorAll('#ranking li').length === 20, null, { timeout: 180_000 });
  const status = await page.textContent('#rank-status');
  assert.match(status, /Ranked 20 movies in [\d.]+ s on /);
  // Single pass (the default): a match bar and a percentage per movie, from the probabilities.
  assert.equal(await page.inputValue('#mode'), 'single', `${name}: the page's default mode`);
  const single = await page.evaluate(() => [...document.querySelectorAll('#ranking li')].map((li) => ({
    text: li.textContent, pct: li.querySelector('.pct').textContent, bar: li.querySelector('meter').value,
  })));
  for (const row of single) {
    assert.doesNotMatch(row.text, RAW_SCORE, `${name}: the single-pass ranking shows raw scores`);
    assert.match(row.pct, /^(<1|\d{1,3})%$/);
    assert.ok(row.bar >= 0 && row.bar <= 1);
  }
  assert.equal(single[0].bar, 1, `${name}: the first movie's bar is the reference`);
  for (let i = 1; i < single.length; i++) assert.ok(single[i].bar <= single[i - 1].bar + 1e-9, `${name}: bars not in ranking order`);
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  // Greedy: the order only (the list numbers it), no Borda points like "19.00".
  await page.selectOption('#mode', 'greedy');
  await page.click('#rank-button');
  await page.waitForFunction(() => document.querySelectorAll('#ranking li').length === 20
    && document.querySelectorAll('#ranking meter').length === 0, null, { timeout: 180_000 });
  const greedyText = await page.textContent('#ranking');
  assert.doesNotMatch(greedyText, RAW_SCORE, `${name}: the greedy ranking shows raw scores`);
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}-greedy.png`), fullPage: true });
  await page.selectOption('#mode', 'single');

  results[name].uiStatus = status;
  checkNoLateRequests(name, afterLoad, serverMark, requests, consoleErrors);
}

function checkNoLateRequests(name, afterLoad, serverMark, requests, consoleErrors) {
  const late = requests.filter((r) => r.at >= afterLoad).map((r) => r.url);
  assert.deepEqual(late, [], `${name}: the page made requests after the model loaded`);
  assert.deepEqual(serverLog.slice(serverMark), [], `${name}: the server saw requests after the model loaded`);
  assert.ok(requests.every((r) => r.url.startsWith(base)), `${name}: request to another origin: ${requests.map((r) => r.url)}`);
  assert.deepEqual(consoleErrors, [], `${name}: console errors`);
}

test('CPU backend (WebGPU disabled): same ranking as the native CLI, no request after load, model cached', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const opened = await openPage(browser, '?backend=auto');
    assert.equal(opened.load.info.backend, 'cpu', 'auto must fall back to the CPU without an adapter');
    assert.match(opened.load.info.fallbackReason, /WebGPU/i);
    assert.equal(opened.load.fromCache, false);
    assert.match(await opened.page.textContent('#backend-line'), /CPU/);
    await checkModelPresentation('cpu', opened.page, opened.load.info);
    results.cpuLoad = opened.load;
    await rankAndCheck('cpu', opened, 'cpu', { fixtures: FIXTURES.map((_, i) => i), visitorPath: true });

    // A second visit takes the model from Cache Storage: no download of the model file.
    const mark = Date.now();
    await opened.page.reload();
    const again = await opened.page.evaluate(() => window.alroDemo.ready);
    assert.equal(again.fromCache, true);
    const modelFetches = opened.requests.filter((r) => r.at >= mark && r.url.endsWith('.gguf'));
    assert.deepEqual(modelFetches, [], 'the reload downloaded the model again');
    results.cpuWarmLoad = again;
    await opened.context.close();
  } finally {
    await browser.close();
  }
});

test('WebGPU backend (SwiftShader): same ranking as the native CLI, no request after load', { timeout: 600_000, skip: process.env.ALRO_SKIP_WEBGPU === '1' && 'ALRO_SKIP_WEBGPU=1' }, async () => {
  const browser = await launch({ webgpu: true });
  try {
    const opened = await openPage(browser, '?backend=webgpu');
    assert.equal(opened.load.info.backend, 'webgpu');
    assert.match(await opened.page.textContent('#backend-line'), /WebGPU/);
    // The adapter is named once, readably (no wgpu backend enum like "BrowserWebGpu").
    const adapter = opened.load.info.adapter;
    assert.ok(adapter && !/BrowserWebGpu/.test(adapter), `adapter: ${adapter}`);
    const line = await opened.page.textContent('#backend-line');
    const bare = adapter.replace(/ \(software\)$/, '');
    // Chromium hides the adapter's description unless asked: then no name, and no placeholder.
    if (bare === 'unnamed adapter') assert.ok(!line.includes(bare), `placeholder shown: ${line}`);
    else assert.equal(line.split(bare).length - 1, 1, `the adapter should be named once: ${line}`);
    await checkModelPresentation('webgpu', opened.page, opened.load.info);
    results.webgpuLoad = opened.load;
    // SwiftShader runs the WGSL kernels on the CPU (~1 minute for a 100-token prompt here), so
    // this run ranks the small fixture and skips the 20-movie visitor path (the CPU run covers
    // the page itself); on a real GPU the same test takes seconds.
    await rankAndCheck('webgpu', opened, 'webgpu', { fixtures: [1], visitorPath: false });
    await opened.context.close();
  } finally {
    await browser.close();
  }
});

test("'auto' with only a software (fallback) WebGPU adapter runs on the CPU", { timeout: 300_000 }, async (t) => {
  const browser = await launch({ webgpu: true });
  try {
    const opened = await openPage(browser, '?backend=auto');
    // Headless Chromium without a GPU offers SwiftShader, a fallback adapter.
    const adapter = await opened.page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? { fallback: Boolean(a.info?.isFallbackAdapter ?? a.isFallbackAdapter), name: a.info?.description || a.info?.device || '' } : null;
    });
    results.fallbackAdapter = { adapter, load: opened.load };
    if (!adapter?.fallback) {
      t.skip(`this browser offers no fallback adapter (${JSON.stringify(adapter)})`);
      return;
    }
    const { info } = opened.load;
    assert.equal(info.backend, 'cpu', `'auto' chose the software adapter: ${info.adapter}`);
    assert.equal(info.adapter, null);
    assert.match(info.fallbackReason, /software adapter.*slower than WebAssembly on the CPU.*backend 'webgpu'/);
    assert.ok(info.fallbackReason.length < 240, `fallback reason is not one short sentence: ${info.fallbackReason}`);
    await checkModelPresentation('fallbackAdapter', opened.page, info);
    // Still ranks, on the CPU.
    const r = await opened.page.evaluate((req) => window.alroDemo.rank(req, { mode: 'single' }), FIXTURES[1]);
    assert.equal(r.backend, 'cpu');
    await opened.page.screenshot({ path: path.join(ARTIFACTS, 'fallback-adapter.png'), fullPage: true });
    await opened.context.close();
  } finally {
    await browser.close();
  }
});

test('package errors are JS Errors that say what to fix', { timeout: 300_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    // A blank same-origin document to import the package into (the demo's own worker is not needed).
    await page.route(`${base}blank.html`, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title>' }));
    await page.goto(`${base}blank.html`);
    const outcome = await page.evaluate(async (fixture) => {
      const pkg = await import('./pkg/alro_ranker.js');
      await pkg.default();
      const bytes = new Uint8Array(await (await fetch('./models/ranker.gguf')).arrayBuffer());
      const caught = async (f) => {
        try { await f(); return { threw: false }; } catch (e) {
          return { threw: true, isError: e instanceof Error, message: String(e?.message ?? e) };
        }
      };
      const out = {};
      out.truncated = await caught(() => pkg.Ranker.load(bytes.slice(0, 4096), { backend: 'cpu' }));
      out.notBytes = await caught(() => pkg.Ranker.load('models/ranker.gguf'));
      out.badOption = await caught(() => pkg.Ranker.load(bytes, { backed: 'cpu' }));
      out.badBackend = await caught(() => pkg.Ranker.load(bytes, { backend: 'tpu' }));
      const ranker = await pkg.Ranker.load(bytes, { backend: 'cpu' });
      const rank = (req, opts) => caught(() => ranker.rank(req, opts));
      const many = Array.from({ length: 27 }, (_, i) => ({ id: `m${i}`, title: `Movie ${i}` }));
      out.missingField = await rank({ history: fixture.history });
      out.wrongType = await rank({ history: [{ title: 'Heat (1995)', rating: '4' }], candidates: fixture.candidates });
      out.badCandidate = await rank({ history: fixture.history, candidates: [{ id: 7, title: 'x' }] });
      out.tooMany = await rank({ history: fixture.history, candidates: many });
      out.duplicate = await rank({ history: fixture.history, candidates: [fixture.candidates[0], fixture.candidates[0]] });
      out.emptyHistory = await rank({ history: [], candidates: fixture.candidates });
      out.badMode = await rank(fixture, { mode: 'fast' });
      out.notObject = await rank('rank these please');
      // Still usable after all those errors.
      out.ok = await ranker.rank({ history: fixture.history, candidates: fixture.candidates.slice(0, 2) });
      out.info = ranker.info();
      return out;
    }, FIXTURE);
    const expect = {
      truncated: /model file model\.gguf/,
      notBytes: /must be a Uint8Array or an ArrayBuffer/,
      badOption: /options\.backed is not an option/,
      badBackend: /options\.backend: .*tpu.*expected 'auto', 'webgpu' or 'cpu'/,
      missingField: /request: missing field `candidates`/,
      wrongType: /request\.history\[0\]\.rating: invalid type: string "4", expected/,
      badCandidate: /request\.candidates\[0\]\.id: invalid type/,
      tooMany: /27 candidates, but this model has only 26 identifiers/,
      duplicate: /candidate id "ml356" appears more than once/,
      emptyHistory: /history is empty/,
      badMode: /options\.mode: unknown variant `fast`, expected one of `greedy`, `single`, `bootstrap`/,
      notObject: /request: invalid type: string/,
    };
    for (const [name, pattern] of Object.entries(expect)) {
      const o = outcome[name];
      assert.ok(o.threw, `${name}: did not throw`);
      assert.ok(o.isError, `${name}: threw a non-Error: ${o.message}`);
      assert.match(o.message, pattern, `${name}`);
    }
    assert.equal(outcome.ok.ranking.length, 2);
    assert.equal(outcome.info.maxCandidates, 26);
    assert.equal(outcome.info.templateVersion, 'alro-v2');
    assert.ok(outcome.info.displayName && outcome.info.displayName !== outcome.info.name, `displayName: ${outcome.info.displayName}`);
    assert.ok('quality' in outcome.info && 'cardUrl' in outcome.info);
    if (Object.keys(outcome.info.metadata).length === 0) {
      assert.match(outcome.info.displayName, /^\S.* \(untrained backbone\)$/);
      assert.equal(outcome.info.quality, 'untrained: ranks at chance');
      assert.equal(outcome.info.cardUrl, null);
    }
    results.packageInfo = outcome.info;
    results.errorMessages = Object.fromEntries(Object.keys(expect).map((k) => [k, outcome[k].message]));
  } finally {
    await browser.close();
  }
});
