#!/usr/bin/env node
// Seconds from opening the π-Flow notebook (default settings) in headless Chromium to a 2-NFE student
// whose live sliced W1 (2,000 samples) is within 1.25x of the teacher's 128-step Euler distance
// (same sample count and seed). Usage: npm run build && npx vite build && node scripts/time-to-quality.mjs [backend] [threads]
// (threads: the page's ?threads=, wasm's thread count; default tfjs's, half the logical cores)
// Prints one JSON line. Needs Debian's chromium (see README). Also part of `npm run bench:browser`.
import { fileURLToPath } from 'node:url';
import { startHarness } from '../dist/tests/browser/harness.js';

/** Opens the π-Flow notebook on `backend` in harness `h`, distills with the defaults, returns the result. */
export async function timeToQuality(h, backend, threads) {
  let result = { backend, ...(threads ? { threadsAsked: threads } : {}), reached: false };
  const t0 = Date.now();
  const r = await h.open('notebooks/piflow-2d.html', { backend, ...(threads ? { query: { threads: String(threads) } } : {}) });
  try {
    const p = r.page;
    await p.waitForSelector('[data-testid="backend-indicator"][data-state="ready"]', { timeout: 120000 });
    const indicator = await p.locator('[data-testid="backend-indicator"]').textContent();
    await p.waitForSelector('[data-testid="teacher-path"]', { timeout: 120000 });
    // the chart shows its empty state until the first point; the teacher's reference lines come with it
    await p.click('[data-testid="distill-student"]');
    const deadline = Date.now() + 20 * 60 * 1000;
    while (Date.now() < deadline) {
      const s = await p.evaluate(() => {
        const el = document.querySelector('[data-testid="metric-plot"]');
        const x = el?.data?.[0]?.x ?? [];
        const y = el?.data?.[0]?.y ?? [];
        return { iter: x[x.length - 1], swd: y[y.length - 1], ref: el?.layout?.shapes?.[0]?.y0, status: document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') };
      });
      if (s.swd !== undefined && s.swd !== null && Number.isFinite(s.ref) && s.swd <= 1.25 * s.ref) {
        result = { backend, indicator, reached: true, seconds: +((Date.now() - t0) / 1000).toFixed(1), iteration: s.iter, swd: +s.swd.toFixed(4), teacherEuler128: +s.ref.toFixed(4) };
        break;
      }
      if (s.status === 'done' || s.status === 'error') {
        result = { backend, indicator, reached: false, lastIteration: s.iter, lastSwd: s.swd, teacherEuler128: s.ref };
        break;
      }
      await p.waitForTimeout(250);
    }
    result.consoleErrors = r.consoleErrors.length;
  } finally {
    await r.close();
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const backend = process.argv[2] ?? 'wasm';
  const h = await startHarness({ gpu: backend === 'webgpu' || backend === 'webgl' ? 'software' : 'none' });
  try {
    console.log(JSON.stringify(await timeToQuality(h, backend, process.argv[3])));
  } finally {
    await h.close();
  }
}
