#!/usr/bin/env node
// Seconds from opening the MNIST notebook (default settings: the shipped small teacher, a fresh copy of
// it as the student, GMFlow K = 8, 2 NFE, 200 π-ID iterations at batch 16) in headless Chromium to a
// student whose live Fréchet distance (200 samples, the notebook's live metric every 25 iterations) is
// within `ratio` (default 1.5) of the teacher's 32-step Euler distance on the same 200 samples' noise.
// Usage: npm run build && npx vite build && node scripts/mnist-time-to-quality.mjs [backend] [ratio]
// Prints one JSON line (also every live point, so a run that does not reach it says how close it got).
import { fileURLToPath } from 'node:url';
import { startHarness } from '../dist/tests/browser/harness.js';

export async function mnistTimeToQuality(h, backend, ratio = 1.5) {
  let result = { backend, ratio, reached: false };
  const t0 = Date.now();
  const r = await h.open('notebooks/piflow-mnist.html', { backend });
  try {
    const p = r.page;
    await p.waitForSelector('[data-testid="backend-indicator"][data-state="ready"]', { timeout: 180000 });
    // the page is ready once the teacher's paths are drawn (the reference lines follow with the first point)
    await p.waitForSelector('[data-testid="teacher-path"]', { timeout: 300000 });
    const tReady = Date.now();
    await p.click('[data-testid="distill-student"]');
    const tStart = Date.now();
    const deadline = Date.now() + 40 * 60 * 1000;
    let points = [];
    while (Date.now() < deadline) {
      const s = await p.evaluate(() => {
        const el = document.querySelector('[data-testid="metric-plot"]');
        const tr = (el?.data ?? []).find((d) => d.mode !== 'lines' && (d.x?.length ?? 0) > 0) ?? el?.data?.[0];
        return {
          x: tr?.x ?? [], y: tr?.y ?? [], refs: (el?.layout?.shapes ?? []).map((sh) => sh.y0),
          status: document.querySelector('[data-testid="progress"]')?.getAttribute('data-status'),
          iteration: document.querySelector('[data-testid="progress"]')?.getAttribute('data-iteration'),
        };
      });
      points = s.x.map((x, i) => [x, +Number(s.y[i]).toFixed(1)]);
      const last = s.y[s.y.length - 1];
      const many = s.refs[0];
      if (last !== undefined && last !== null && Number.isFinite(many) && last <= ratio * many) {
        result = { backend, ratio, reached: true, seconds: +((Date.now() - t0) / 1000).toFixed(1), secondsDistilling: +((Date.now() - tStart) / 1000).toFixed(1), iteration: s.x[s.x.length - 1], fd: +last.toFixed(1), teacherEuler32: +many.toFixed(1), teacherEulerNfe: +Number(s.refs[1]).toFixed(1) };
        break;
      }
      if (s.status === 'done' || s.status === 'error') {
        result = { backend, ratio, reached: false, status: s.status, secondsDistilling: +((Date.now() - tStart) / 1000).toFixed(1), lastIteration: s.iteration, lastFd: last, teacherEuler32: many, teacherEulerNfe: s.refs[1] };
        break;
      }
      await p.waitForTimeout(500);
    }
    result.secondsToReady = +((tReady - t0) / 1000).toFixed(1);
    result.points = points;
    result.consoleErrors = r.consoleErrors.length;
  } finally {
    await r.close();
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const backend = process.argv[2] ?? 'wasm';
  const ratio = Number(process.argv[3] ?? 1.5);
  const h = await startHarness({ gpu: backend === 'webgpu' || backend === 'webgl' ? 'software' : 'none' });
  try {
    console.log(JSON.stringify(await mnistTimeToQuality(h, backend, ratio)));
  } finally {
    await h.close();
  }
}
