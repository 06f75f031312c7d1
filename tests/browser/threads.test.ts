/**
 * Threaded wasm in headless chromium. `npm start`'s server (startServer's default) sends COOP/COEP/
 * CORP, so the pages and their workers are `crossOriginIsolated` and tfjs's wasm backend takes the
 * threaded SIMD build, whose pthread workers must survive the minified bundle (vite.config.ts,
 * verbatimWasmThreadFactory). tfjs runs XNNPACK on half the logical cores (at most 8), so on a
 * 2-core machine the page is told it has 4 (`hardwareConcurrency`) to see more than one thread, or
 * asks for two with `?threads=2` (which lifts that cap, in the page and in its training worker).
 * A server without the headers gives one thread and says why. No timings are asserted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHarness, WEB_ROOT, type Harness, type PageRecord } from './harness.js';
import { assertClean, READY, tid } from './page-helpers.js';

const CHECK_PAGE = 'notebooks/playground-check.html';
const DONE = '[data-testid="check-result"][data-state="pass"], [data-testid="check-result"][data-state="fail"]';

interface Outcome {
  isolated: boolean;
  /** the check page's row on the SIMD heap kernels */
  kernels: string;
  backend: string | null;
  indicator: string;
  state: string | null;
  result: string;
}

/** Opens the check page on wasm (its tiny computations with known results), waits for the verdict. */
async function runCheck(h: Harness, hardwareConcurrency?: number, query?: Record<string, string>): Promise<{ r: PageRecord; o: Outcome }> {
  const r = await h.open(CHECK_PAGE, { backend: 'wasm', ...(hardwareConcurrency !== undefined ? { hardwareConcurrency } : {}), ...(query ? { query } : {}) });
  await r.page.waitForSelector(DONE, { timeout: 120_000 });
  const res = r.page.locator(tid('check-result'));
  const ind = r.page.locator(tid('backend-indicator'));
  return {
    r,
    o: {
      isolated: await r.page.evaluate(() => globalThis.crossOriginIsolated),
      backend: await ind.getAttribute('data-backend'),
      indicator: (await ind.textContent()) ?? '',
      state: await res.getAttribute('data-state'),
      result: (await res.textContent()) ?? '',
      kernels: ((JSON.parse((await res.getAttribute('data-rows')) ?? '[]') as { name: string; detail: string }[]).find((x) => x.name === 'wasm SIMD heap kernels')?.detail) ?? '',
    },
  };
}

describe('browser: wasm threads under cross-origin isolation (npm start)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  test('every kind of response carries COOP, COEP and CORP', { timeout: 30_000 }, async () => {
    const r = await h.open('');
    try {
      const assets = readdirSync(path.join(WEB_ROOT, 'assets'));
      const worker = assets.find((f) => /^lab-worker-.*\.js$/.test(f));
      const wasm = assets.find((f) => /^tfjs-backend-wasm-threaded-simd-.*\.wasm$/.test(f));
      assert.ok(worker && wasm, 'the build has the training worker and the threaded wasm binary');
      for (const p of ['', `assets/${worker}`, `assets/${wasm}`, 'mnist/t10k-labels-idx1-ubyte', 'no-such-file']) {
        const resp = await r.page.request.get(new URL(p, h.baseUrl).toString());
        const hd = resp.headers();
        assert.equal(hd['cross-origin-opener-policy'], 'same-origin', p);
        assert.equal(hd['cross-origin-embedder-policy'], 'require-corp', p);
        assert.equal(hd['cross-origin-resource-policy'], 'same-origin', p);
      }
      assertClean(r, 'index');
    } finally {
      await r.close();
    }
  });

  test('the check page is isolated, wasm runs on more than one thread and computes correctly', { timeout: 180_000 }, async () => {
    const { r, o } = await runCheck(h, 4);
    try {
      assert.equal(o.isolated, true);
      assert.equal(o.backend, 'wasm', o.indicator);
      const threads = Number(o.indicator.match(/^wasm \((\d+) threads\)$/)?.[1]);
      assert.ok(threads > 1, `expected more than one thread, got "${o.indicator}"`);
      assert.equal(o.state, 'pass', o.result);
      // the threaded build's shared memory: the kernels bind to it (and match the JS loops)
      assert.match(o.kernels, /^bound to the wasm heap \(shared memory\)/, o.kernels);
      assertClean(r, 'check page, threaded wasm');
    } finally {
      await r.close();
    }
  });

  test("the machine's own core count: tfjs's half of it, and the indicator says so", { timeout: 180_000 }, async () => {
    const { r, o } = await runCheck(h);
    try {
      const cores = await r.page.evaluate(() => navigator.hardwareConcurrency);
      const expected = Math.min(Math.max(Math.floor(cores / 2), 1), 8);
      assert.equal(o.isolated, true);
      assert.match(o.indicator, expected > 1 ? new RegExp(`^wasm \\(${expected} threads\\)$`) : /^wasm \(1 thread: tfjs uses half of the \d+ logical cores\)$/);
      assert.equal(o.state, 'pass', o.result);
      assertClean(r, 'check page, own cores');
    } finally {
      await r.close();
    }
  });

  test("?threads=2 lifts tfjs's half-the-cores cap: two threads on any machine, the core count restored, correct results", { timeout: 180_000 }, async () => {
    const { r, o } = await runCheck(h, undefined, { threads: '2' });
    try {
      assert.equal(o.isolated, true);
      assert.match(o.indicator, /^wasm \(2 threads: asked for 2; tfjs's default here: \d+\)$/);
      assert.equal(o.state, 'pass', o.result);
      assert.match(o.kernels, /^bound to the wasm heap \(shared memory\)/, o.kernels);
      // the navigator reports the machine's own count again once wasm is up
      const reported = await r.page.evaluate(() => ({ n: navigator.hardwareConcurrency, own: Object.getOwnPropertyDescriptor(navigator, 'hardwareConcurrency') !== undefined }));
      assert.equal(reported.n, os.cpus().length);
      assert.equal(reported.own, false);
      assertClean(r, 'check page, ?threads=2');
    } finally {
      await r.close();
    }
  });

  test("a lesson's training worker takes ?threads= from its page; a bad value gives a message and tfjs's default", { timeout: 240_000 }, async () => {
    for (const [threads, indicator, reason] of [
      ['2', /^wasm \(2 threads: asked for 2; tfjs's default here: \d+\)$/, /^$/],
      ['64', /^wasm \(\d+ threads?(: tfjs uses half of the \d+ logical cores)?\)$/, /^\?threads=64: must be an integer from 1 to 8 \(wasm threads\); using tfjs's default/],
    ] as const) {
      const r = await h.open('notebooks/flow-matching-2d.html', { backend: 'wasm', query: { threads } });
      try {
        await r.page.waitForSelector(READY, { timeout: 120_000 });
        const ind = r.page.locator(tid('backend-indicator'));
        assert.equal(await ind.getAttribute('data-backend'), 'wasm');
        assert.match((await ind.textContent()) ?? '', indicator, threads);
        assert.match((await r.page.locator(tid('backend-reason')).textContent()) ?? '', reason, threads);
        assertClean(r, `lesson on wasm, ?threads=${threads}`);
      } finally {
        await r.close();
      }
    }
  });

  test('a lesson whose training worker runs wasm: the worker is isolated too', { timeout: 180_000 }, async () => {
    const r = await h.open('notebooks/flow-matching-2d.html', { backend: 'wasm' });
    try {
      await r.page.waitForSelector(READY, { timeout: 120_000 });
      const ind = r.page.locator(tid('backend-indicator'));
      assert.equal(await ind.getAttribute('data-backend'), 'wasm');
      const text = (await ind.textContent()) ?? '';
      assert.match(text, /^wasm \(\d+ threads?/);
      assert.doesNotMatch(text, /no cross-origin isolation/);
      assertClean(r, 'lesson on wasm');
    } finally {
      await r.close();
    }
  });
});

describe('browser: wasm without cross-origin isolation', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ isolation: false });
  });
  after(async () => {
    await h?.close();
  });

  test('one thread, and the indicator says why; the computation is still correct', { timeout: 180_000 }, async () => {
    const { r, o } = await runCheck(h, 4);
    try {
      assert.equal(o.isolated, false);
      assert.equal(o.backend, 'wasm', o.indicator);
      assert.equal(o.indicator, 'wasm (1 thread: no cross-origin isolation)');
      assert.equal(o.state, 'pass', o.result);
      assert.match(o.kernels, /^bound to the wasm heap \(plain memory\)/, o.kernels);
      assertClean(r, 'check page, no isolation');
    } finally {
      await r.close();
    }
  });

  test('?threads= cannot give threads without isolation, and the indicator says both', { timeout: 180_000 }, async () => {
    const { r, o } = await runCheck(h, undefined, { threads: '2' });
    try {
      assert.equal(o.indicator, 'wasm (1 thread: no cross-origin isolation (asked for 2))');
      assert.equal(o.state, 'pass', o.result);
      assertClean(r, 'check page, no isolation, ?threads=2');
    } finally {
      await r.close();
    }
  });
});
