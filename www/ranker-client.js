// The page's side of the ranker: download the model once into Cache Storage, then talk to the
// worker (ranker-worker.js) that runs the WebAssembly package.

const MODEL_CACHE = 'alro-models-v1';

/** The model's bytes from Cache Storage, else downloaded (with progress) and cached. */
export async function fetchModel(url, onProgress) {
  const cache = 'caches' in self ? await caches.open(MODEL_CACHE) : null;
  const cached = cache && (await cache.match(url));
  if (cached) {
    onProgress?.({ stage: 'cache', fraction: 1 });
    return { bytes: await cached.arrayBuffer(), fromCache: true };
  }
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`could not download the model from ${url}: HTTP ${response.status}; ` +
      'check the ?model= address or run scripts/build-wasm.sh to link the default model');
  }
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.byteLength;
    onProgress?.({ stage: 'download', fraction: total ? received / total : 0, received, total });
  }
  const blob = new Blob(chunks, { type: 'application/octet-stream' });
  if (cache) {
    // A full quota only costs the next visit a download; ranking works without the cache.
    await cache.put(url, new Response(blob, { headers: { 'content-length': String(blob.size) } }))
      .catch((e) => console.warn('model not cached:', e));
  }
  return { bytes: await blob.arrayBuffer(), fromCache: false };
}

export async function forgetModels() {
  if ('caches' in self) await caches.delete(MODEL_CACHE);
}

/** A Ranker living in a worker; same methods as the package's Ranker, all async. */
export class RankerClient {
  #worker = new Worker(new URL('./ranker-worker.js', import.meta.url), { type: 'module' });
  #next = 0;
  #pending = new Map();

  constructor() {
    this.#worker.onmessage = ({ data }) => {
      const p = this.#pending.get(data.id);
      if (!p) return;
      if (data.progress) return p.onProgress?.(data.progress);
      this.#pending.delete(data.id);
      if (data.ok) p.resolve(data.value);
      else p.reject(new Error(data.error));
    };
    this.#worker.onerror = (e) => {
      const error = new Error(`the ranker worker failed: ${e.message || 'see the console'}`);
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    };
  }

  #call(op, args, onProgress, transfer = []) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ id, op, args }, transfer);
    });
  }

  /** Loads model bytes (an ArrayBuffer, transferred to the worker), with the item table's
   *  bytes (an ArrayBuffer of its JSON, transferred too) when the page has one. Resolves to
   *  {info, loadMillis, itemsUsed}. */
  load(bytes, { backend = 'auto', onProgress, items = null } = {}) {
    return this.#call('load', { bytes, backend, items }, onProgress, items ? [bytes, items] : [bytes]);
  }
  rank(request, options) { return this.#call('rank', { request, options }); }
  info() { return this.#call('info', {}); }
}
