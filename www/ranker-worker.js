// Runs the @alro/ranker package off the main thread, so the page stays responsive while the
// model loads and ranks (a CPU ranking takes seconds). Protocol: the page posts
// {id, op, args}; the worker answers {id, progress} while loading and then {id, ok, value|error}.
import init, { Ranker } from './pkg/alro_ranker.js';

const wasmReady = init();
let ranker = null;

async function handle(id, op, args) {
  await wasmReady;
  switch (op) {
    case 'load': {
      if (ranker) { ranker.free(); ranker = null; }
      const start = performance.now();
      const options = {
        backend: args.backend,
        onProgress: (progress) => self.postMessage({ id, progress }),
      };
      // The item table lets a ranker trained with notes get them computed here. A package
      // without the `items` option (no setItems either) refuses unknown options, so ask first.
      const itemsUsed = Boolean(args.items) && typeof Ranker.prototype.setItems === 'function';
      if (itemsUsed) options.items = new Uint8Array(args.items);
      ranker = await Ranker.load(new Uint8Array(args.bytes), options);
      return { info: ranker.info(), loadMillis: performance.now() - start, itemsUsed };
    }
    case 'rank':
      if (!ranker) throw new Error('no model loaded yet: load one before ranking');
      return await ranker.rank(args.request, args.options);
    case 'info':
      if (!ranker) throw new Error('no model loaded yet');
      return ranker.info();
    default:
      throw new Error(`unknown operation ${op}`);
  }
}

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    self.postMessage({ id, ok: true, value: await handle(id, op, args) });
  } catch (e) {
    self.postMessage({ id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
};
