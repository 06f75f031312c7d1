#!/usr/bin/env node
/**
 * `npm run bench:browser`: what a user feels in the browser, per backend, in headless Debian chromium.
 * Wall-clock figures live here (and in the README), never in tests.
 *
 *   node scripts/bench-browser.mjs [--backends wasm,webgpu] [--skip-ttq] [--mnist-ttq]
 *
 * Per backend:
 * - frame gaps (requestAnimationFrame, ms: median, p99, max) while the worker trains a teacher
 *   (flow matching in 2D, 200 steps at batch 1024), distills a student (π-Flow notebook, 60 iterations
 *   at batch 512) and distills an MNIST student (6 iterations, batch 8, K = 4, data-free), with the
 *   iterations per second the worker reached meanwhile;
 * - time to quality: seconds from opening the π-Flow notebook (defaults) to a 2-NFE student within
 *   1.25x of the teacher's 128-step sliced W1 (scripts/time-to-quality.mjs);
 * - with --mnist-ttq, MNIST time to quality: seconds from opening the MNIST notebook (defaults) to a
 *   student whose live Fréchet distance is within 1.5x of the teacher's 32-step Euler distance
 *   (scripts/mnist-time-to-quality.mjs; minutes on one wasm thread).
 * webgpu and webgl run on SwiftShader here (no GPU): software figures, not GPU figures.
 * Prints a table, then one JSON line last. Expects the builds (npm run build && npx vite build).
 */
import os from 'node:os';
import { startHarness } from '../dist/tests/browser/harness.js';
import { frameGaps, READY, setField, tid, watchFrames } from '../dist/tests/browser/page-helpers.js';
import { timeToQuality } from './time-to-quality.mjs';
import { mnistTimeToQuality } from './mnist-time-to-quality.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const backends = opt('backends', 'wasm').split(',');
const skipTtq = args.includes('--skip-ttq');
const mnistTtq = args.includes('--mnist-ttq');

async function waitDone(p, timeout) {
  await p.waitForFunction(() => ['done', 'error'].includes(document.querySelector('[data-testid="progress"]')?.getAttribute('data-status') ?? ''), null, { timeout });
  return p.locator(tid('progress')).getAttribute('data-status');
}

/** Opens `page`, sets `fields`, clicks `button`, records frame gaps until the loop is done. */
async function gapsWhile(h, backend, page, hash, fields, button, ready, extra) {
  const r = await h.open(page, { backend });
  try {
    const p = r.page;
    if (hash) {
      await p.goto(`${p.url().split('#')[0]}#${hash}`);
      await p.reload();
    }
    await p.waitForSelector(READY, { timeout: 180_000 });
    await p.waitForSelector(ready, { timeout: 600_000 });
    for (const [id, v] of fields) await setField(r, id, v);
    if (extra) await extra(r);
    await watchFrames(r);
    const t0 = Date.now();
    await p.click(tid(button));
    const status = await waitDone(p, 1_200_000);
    const seconds = (Date.now() - t0) / 1000;
    const gaps = await frameGaps(r);
    const iterations = Number(await p.locator(tid('progress')).getAttribute('data-iteration'));
    return {
      status,
      iterations,
      itPerS: +(iterations / seconds).toFixed(2),
      frames: gaps.n,
      gapP50: +gaps.p50.toFixed(1),
      gapP99: +gaps.p99.toFixed(1),
      gapMax: +gaps.max.toFixed(1),
    };
  } finally {
    await r.close();
  }
}

const results = {};
for (const backend of backends) {
  const software = backend === 'webgpu' || backend === 'webgl';
  const h = await startHarness({ gpu: software ? 'software' : 'none' });
  try {
    const res = { software };
    res.teacherTraining = await gapsWhile(h, backend, 'notebooks/flow-matching-2d.html', software ? 'eulerSteps=1' : '', [['teacher-steps', '200'], ['teacher-batch', '1024']], 'train-teacher', tid('teacher-path'));
    res.distill2d = await gapsWhile(h, backend, 'notebooks/piflow-2d.html', '', [['iters', '60'], ['student-batch', '512']], 'distill-student', tid('teacher-path'));
    res.distillMnist = await gapsWhile(h, backend, 'notebooks/piflow-mnist.html', '', [['iters', '6'], ['student-batch', '8'], ['k', '4']], 'distill-student', tid('teacher-path'), (r) => r.page.selectOption(tid('data-free'), 'data-free'));
    if (!skipTtq) res.timeToQuality = await timeToQuality(h, backend);
    if (mnistTtq) res.mnistTimeToQuality = await mnistTimeToQuality(h, backend);
    results[backend] = res;
  } finally {
    await h.close();
  }
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`\nbrowser benchmark: ${os.cpus().length} × ${cpu}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('| backend | loop | it/s | frames | frame gap p50 / p99 / max (ms) |');
console.log('|---|---|---|---|---|');
for (const [b, res] of Object.entries(results)) {
  for (const k of ['teacherTraining', 'distill2d', 'distillMnist']) {
    const g = res[k];
    console.log(`| ${b}${res.software ? ' (software)' : ''} | ${k} | ${g.itPerS} | ${g.frames} | ${g.gapP50} / ${g.gapP99} / ${g.gapMax} |`);
  }
  if (res.timeToQuality) console.log(`| ${b} | time to quality | ${res.timeToQuality.reached ? `${res.timeToQuality.seconds} s (iteration ${res.timeToQuality.iteration})` : 'not reached'} | | |`);
  const m = res.mnistTimeToQuality;
  if (m) console.log(`| ${b} | MNIST time to quality | ${m.reached ? `${m.seconds} s (iteration ${m.iteration}, FD ${m.fd} vs teacher ${m.teacherEuler32})` : `not reached (FD ${m.lastFd} vs teacher ${m.teacherEuler32})`} | | |`);
}
console.log(JSON.stringify({ machine: { cpus: os.cpus().length, cpu, node: process.version }, results }));
