/**
 * Browser smoke tests in headless Debian chromium (playwright-core): the index lists every notebook,
 * the playground check runs a tfjs computation with a gradient and one step of each engine path on
 * cpu, wasm, webgl and webgpu (SwiftShader), device loss falls back, nothing logs an error and no
 * request leaves localhost. Needs dist/web (`npm test` runs `vite build` before the node tests).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHarness, type Harness, type PageRecord } from './harness.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CHECK_PAGE = 'notebooks/playground-check.html';
const DONE = '[data-testid="check-result"][data-state="pass"], [data-testid="check-result"][data-state="fail"]';

function assertClean(r: PageRecord, what: string): void {
  assert.deepEqual(r.pageErrors, [], `${what}: uncaught errors`);
  assert.deepEqual(r.consoleErrors, [], `${what}: console errors`);
  assert.deepEqual(r.externalRequests, [], `${what}: requests that left localhost`);
}

interface CheckOutcome {
  backend: string | null;
  indicator: string;
  reason: string;
  state: string | null;
  result: string;
  rows: { name: string; ok: boolean; ms: number; detail: string }[];
}

async function checkOutcome(r: PageRecord, timeout: number): Promise<CheckOutcome> {
  await r.page.waitForSelector(DONE, { timeout });
  const ind = r.page.locator('[data-testid="backend-indicator"]');
  const res = r.page.locator('[data-testid="check-result"]');
  return {
    backend: await ind.getAttribute('data-backend'),
    indicator: (await ind.textContent()) ?? '',
    reason: (await r.page.locator('[data-testid="backend-reason"]').textContent()) ?? '',
    state: await res.getAttribute('data-state'),
    result: (await res.textContent()) ?? '',
    rows: JSON.parse((await res.getAttribute('data-rows')) ?? '[]'),
  };
}

function assertPassedOn(o: CheckOutcome, backend: string): void {
  assert.equal(o.backend, backend, `expected the ${backend} backend, got ${o.indicator}: ${o.reason}`);
  const failed = o.rows.filter((x) => !x.ok).map((x) => `${x.name}: ${x.detail}`);
  assert.equal(o.state, 'pass', `${o.result}\n${failed.join('\n')}`);
  assert.equal(o.rows.length, 7);
  // the SIMD heap kernels: bound on wasm (and equal to the JS loops), not used elsewhere
  const k = o.rows.find((x) => x.name === 'wasm SIMD heap kernels')?.detail ?? '';
  assert.match(k, backend === 'wasm' ? /^bound to the wasm heap \((plain|shared) memory\)/ : new RegExp(`^not used on ${backend}`), k);
  // the SIMD rollout program: loaded with cpu and wasm (and within float32 rounding of the JS loops), not used elsewhere
  const r = o.rows.find((x) => x.name === 'SIMD wasm rollout program')?.detail ?? '';
  assert.match(r, backend === 'wasm' || backend === 'cpu' ? /^loaded; its 2D and one-channel GMFlow rollouts are within \S+ of the float64 JS loops$/ : new RegExp(`^not used on ${backend}`), r);
}

function timings(o: CheckOutcome): string {
  return o.rows.map((x) => `${x.name} ${x.ms} ms`).join('; ');
}

describe('browser: plain headless chromium', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.close();
  });

  test('the index page loads and links every notebook, and every link loads', { timeout: 60_000 }, async () => {
    const r = await h.open('');
    try {
      assert.equal(await r.page.title(), 'π-Flow Playground');
      const hrefs = await r.page.locator('[data-testid="notebook-link"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      const pages = readdirSync(path.join(REPO, 'web', 'notebooks')).filter((f) => f.endsWith('.html')).map((f) => `notebooks/${f}`);
      assert.ok(pages.length > 0);
      assert.deepEqual([...hrefs].sort(), [...pages].sort());
      for (const href of pages) {
        const resp = await r.page.request.get(new URL(href, h.baseUrl).toString());
        assert.equal(resp.status(), 200, href);
      }
      assertClean(r, 'index');
    } finally {
      await r.close();
    }
  });

  test('the server: MIME types, no path outside dist/web, HEAD', async () => {
    const html = await fetch(h.baseUrl);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    const wasm = readdirSync(path.join(REPO, 'dist', 'web', 'assets')).find((f) => f.endsWith('.wasm'));
    assert.ok(wasm, 'the build holds the tfjs wasm binaries');
    const w = await fetch(new URL(`assets/${wasm}`, h.baseUrl), { method: 'HEAD' });
    assert.equal(w.status, 200);
    assert.equal(w.headers.get('content-type'), 'application/wasm');
    assert.equal(await w.text(), '');
    for (const bad of ['../package.json', '%2e%2e/package.json', '..%2fpackage.json', 'assets/../../../package.json', 'nope.html']) {
      const resp = await fetch(h.baseUrl + bad);
      assert.equal(resp.status, 404, bad);
    }
    assert.equal((await fetch(h.baseUrl, { method: 'POST' })).status, 405);
  });

  for (const backend of ['cpu', 'wasm']) {
    test(`playground check on ${backend}`, { timeout: 120_000 }, async () => {
      const t0 = Date.now();
      const r = await h.open(CHECK_PAGE, { backend });
      try {
        const o = await checkOutcome(r, 100_000);
        assertPassedOn(o, backend);
        assert.deepEqual(o.reason, '');
        assertClean(r, backend);
        console.log(`${backend}: ${((Date.now() - t0) / 1000).toFixed(1)} s (${timings(o)})`);
      } finally {
        await r.close();
      }
    });
  }

  test('an unknown ?backend= gives a message and the default order (no GPU here: wasm)', { timeout: 120_000 }, async () => {
    const r = await h.open(CHECK_PAGE, { backend: 'cuda' });
    try {
      const o = await checkOutcome(r, 100_000);
      assert.match(o.reason, /unknown backend 'cuda' in \?backend=; allowed: webgpu, webgl, wasm, cpu/);
      assert.equal(o.state, 'pass', o.result);
      // without GPU flags headless chromium has no WebGPU adapter and only software WebGL
      assert.equal(o.backend, 'wasm', `${o.indicator}: ${o.reason}`);
      assertClean(r, 'unknown backend');
    } finally {
      await r.close();
    }
  });
});

describe('browser: chromium with software WebGPU/WebGL (SwiftShader)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gpu: 'software' });
  });
  after(async () => {
    await h?.close();
  });

  for (const backend of ['webgl', 'webgpu']) {
    test(`playground check on ${backend}, then a simulated device loss falls back to wasm`, { timeout: 240_000 }, async () => {
      const t0 = Date.now();
      const r = await h.open(CHECK_PAGE, { backend });
      try {
        const o = await checkOutcome(r, 200_000);
        assertPassedOn(o, backend);
        console.log(`${backend}: ${((Date.now() - t0) / 1000).toFixed(1)} s (${timings(o)})`);
        await r.page.click('[data-testid="simulate-device-loss"]');
        await r.page.waitForSelector('[data-testid="backend-indicator"][data-backend="wasm"]', { timeout: 60_000 });
        const after = await checkOutcome(r, 100_000);
        assertPassedOn(after, 'wasm');
        assert.match(after.indicator, new RegExp(`fell back from ${backend}`));
        assertClean(r, backend);
      } finally {
        await r.close();
      }
    });
  }
});
