/**
 * Entry script of web/notebooks/playground-check.html: can this browser run the playground?
 * Chooses the backend (WebGPU → WebGL → wasm → cpu, or `?backend=`), shows it in
 * `data-testid="backend-indicator"`, then runs a tiny tfjs computation with a gradient and one step of
 * each engine path the lessons use (teacher training, GMFlow and DX π-ID, both samplers) on tiny
 * shapes, so a kernel missing on a backend shows up here first. The result table ends in
 * `data-testid="check-result"` with `data-state="pass" | "fail"`. "Simulate device loss" loses the
 * WebGPU device or WebGL context on purpose and shows the fallback to the next backend.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendChoice, chooseBackend, describeBackend, fallBackAfterLoss, onDeviceLost, simulateDeviceLoss } from './backend.js';
import { Rng } from '../engine/rng.js';
import { createToyNet } from '../models/mlp.js';
import { POLICY_FAMILIES, POLICY_FAMILY_NAMES } from '../engine/families.js';
import { datasetSource, Distiller, policyConfigOf, sampleStudent, sampleTeacher, TeacherTrainer } from './toy.js';
import { wasmBackendMemory } from '../engine/backend-extras.js';
import { heapKernelsError, heapKernelsFor, setHeapKernels } from '../engine/wasm-heap.js';
import { setWasmRollout, wasmRolloutActive, wasmRolloutError } from '../engine/wasm-rollout.js';
import { gmflowRolloutHost } from '../engine/fused.js';

interface CheckRow {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}

const $ = <T extends HTMLElement>(testid: string): T => {
  const el = document.querySelector<T>(`[data-testid="${testid}"]`);
  if (!el) throw new Error(`page is missing data-testid="${testid}"`);
  return el;
};

function showBackend(choice: BackendChoice): void {
  const el = $('backend-indicator');
  el.textContent = describeBackend(choice);
  el.dataset.backend = choice.name;
  el.dataset.fellBackFrom = choice.fellBackFrom.join(',');
  el.dataset.state = 'ready';
  const reason = $('backend-reason');
  reason.textContent = choice.reason ?? '';
  reason.hidden = !choice.reason;
  $<HTMLButtonElement>('simulate-device-loss').disabled = choice.name !== 'webgpu' && choice.name !== 'webgl';
}

const allFinite = (a: ArrayLike<number>) => Array.prototype.every.call(a, Number.isFinite);

/** f(W) = Σ relu(X·W)², checked with its gradient 2·Xᵀ·(relu(XW) ⊙ [XW > 0]) against float64 on the host. */
async function mathCheck(): Promise<string> {
  const X = [[1, 2], [3, -4], [-0.5, 0.25]];
  const W = [[0.5, -1], [1.5, 0.75]];
  const xw = X.map((r) => [0, 1].map((j) => r[0] * W[0][j] + r[1] * W[1][j]));
  const relu = xw.map((r) => r.map((v) => Math.max(v, 0)));
  const f = relu.flat().reduce((s, v) => s + v * v, 0);
  const g = [0, 1].map((i) => [0, 1].map((j) => X.reduce((s, r, n) => s + 2 * r[i] * relu[n][j], 0)));
  const x = tf.tensor2d(X);
  const w = tf.tensor2d(W);
  const { value, grad } = tf.valueAndGrad((wv: tf.Tensor) => tf.relu(tf.matMul(x, wv)).square().sum() as tf.Scalar)(w);
  try {
    const [fv, gv] = [await value.data(), await grad.data()];
    const err = Math.max(Math.abs(fv[0] - f) / Math.abs(f), ...g.flat().map((v, k) => Math.abs(gv[k] - v) / Math.max(1, Math.abs(v))));
    if (!(err < 1e-4)) throw new Error(`relative error ${err.toExponential(2)} (f=${fv[0]}, expected ${f})`);
    return `f = ${fv[0].toFixed(4)}, ∇f matches to ${err.toExponential(1)}`;
  } finally {
    tf.dispose([x, w, value, grad]);
  }
}

/**
 * On wasm: whether the SIMD heap kernels are bound to the backend's heap (which memory: plain, or shared in
 * the threaded build), and that a transpose, row sums, a broadcast product and sin give the JS loops' bits.
 */
async function wasmKernelCheck(): Promise<string> {
  const backend = tf.getBackend();
  if (backend !== 'wasm') return `not used on ${backend}`;
  const mem = wasmBackendMemory();
  if (!mem) return 'not bound: this tfjs build hides its memory (the JS loops run)';
  const shared = typeof SharedArrayBuffer !== 'undefined' && mem.buffer instanceof SharedArrayBuffer;
  if (!heapKernelsFor(mem.buffer)) return `not bound (${heapKernelsError() ?? 'switched off'}): the JS loops run`;
  const x = tf.randomNormal([36, 68], 0, 1, 'float32', 1);
  const m = tf.randomNormal([36, 1], 0, 1, 'float32', 2);
  const run = () => [tf.transpose(x), tf.sum(x, 0), tf.mul(x, m), tf.sin(tf.mul(x, 1000))].map((t) => {
    const d = t.dataSync().slice();
    t.dispose();
    return d;
  });
  try {
    const simd = run();
    const prev = setHeapKernels(false);
    let loops: Float32Array[];
    try {
      loops = run() as Float32Array[];
    } finally {
      setHeapKernels(prev);
    }
    ['transpose', 'row sums', 'broadcast product', 'sin'].forEach((what, i) => {
      const bad = simd[i].findIndex((v, k) => !Object.is(v, loops[i][k]));
      if (bad >= 0) throw new Error(`${what}: [${bad}] ${simd[i][bad]} (kernel) vs ${loops[i][bad]} (loop)`);
    });
  } finally {
    tf.dispose([x, m]);
  }
  return `bound to the wasm heap (${shared ? 'shared' : 'plain'} memory); transpose, row sums, broadcast product and sin equal the JS loops bit for bit`;
}

/**
 * On cpu and wasm: whether the SIMD wasm rollout program is loaded, and that its 2D and one-channel GMFlow
 * rollouts (four samples or pixels a vector, float32 logits) give the float64 JS loops' states.
 */
async function rolloutCheck(): Promise<string> {
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') return `not used on ${backend}${backend === 'webgpu' ? ' (its WGSL program runs)' : ''}`;
  if (!wasmRolloutActive()) return `not loaded (${wasmRolloutError() ?? 'switched off'}): the JS loops run`;
  const rng = new Rng(7);
  const steps = 12;
  let worst = 0;
  // a 2D segment (6 samples, K = 5) and a one-channel image (2 samples of 8 pixels, K = 3)
  for (const [B, K, C, S] of [[6, 5, 2, 1], [2, 3, 1, 8]]) {
    const mk = (n: number) => Float32Array.from(rng.normalArray(n));
    const feat = C === 2 ? [2] : [1, S];
    const inp = {
      x: tf.tensor(mk(B * C * S), [B, ...feat]), xSrc: tf.tensor(mk(B * C * S), [B, ...feat]),
      means: tf.tensor(mk(B * K * C * S), [B, K, ...feat]), logweights: tf.tensor(mk(B * K * S), C === 2 ? [B, K] : [B, K, 1, S]),
      gmVars: tf.tensor(Float32Array.from(mk(B), (v) => 0.01 + 0.05 * v * v), [B]), raSrc: Float64Array.from({ length: B }, (_, i) => 0.2 + i / B),
      K, C, S, eps: 1e-6,
    };
    const coef = new Float64Array(steps * B * 4);
    for (let i = 0; i < B; i++) for (let j = 0; j < steps; j++) coef.set([0.5 + j / steps, 0.2 + j / steps, -1 / steps, 1], (j * B + i) * 4);
    try {
      const program = gmflowRolloutHost(inp, coef, steps);
      const prev = setWasmRollout(false);
      let loop: Float32Array;
      try {
        loop = gmflowRolloutHost(inp, coef, steps);
      } finally {
        setWasmRollout(prev);
      }
      program.forEach((v, i) => {
        const d = Math.abs(v - loop[i]) / (1 + Math.abs(loop[i]));
        if (!(d <= 1e-6)) throw new Error(`${C === 2 ? '2D' : 'image'} [${i}]: ${v} (program) vs ${loop[i]} (loop)`);
        worst = Math.max(worst, d);
      });
    } finally {
      tf.dispose([inp.x, inp.xSrc, inp.means, inp.logweights, inp.gmVars]);
    }
  }
  return `loaded; its 2D and one-channel GMFlow rollouts are within ${worst.toExponential(1)} of the float64 JS loops`;
}

async function engineChecks(row: (name: string, fn: () => Promise<string>) => Promise<void>): Promise<void> {
  const rng = new Rng(0);
  const teacher = createToyNet({ kind: 'teacher', width: 32, depth: 2 }, rng.fork());
  const data = datasetSource('moons');
  // one teacher row (training and sampling) and one row per registered policy family
  await row('teacher: 2 flow-matching steps, Euler sampling (4 steps)', async () => {
    const trainer = new TeacherTrainer(teacher, data, 64, { lr: 1e-3 }, 1);
    let losses: string;
    try {
      const a = await trainer.step();
      const b = await trainer.step();
      if (!Number.isFinite(a.loss) || !Number.isFinite(b.loss)) throw new Error(`loss ${a.loss}, ${b.loss}`);
      losses = `loss ${a.loss.toFixed(3)} → ${b.loss.toFixed(3)}`;
    } finally {
      trainer.dispose();
    }
    const pts = await sampleTeacher(teacher, 64, 4, 2);
    if (!allFinite(pts)) throw new Error('non-finite samples');
    return `${losses}; ${pts.length / 2} points`;
  });
  for (const policy of POLICY_FAMILY_NAMES) {
    await row(`π-ID: ${policy} student, 1 iteration`, async () => {
      const d = new Distiller(teacher, data, {
        policy, k: 4, n: 6, nfe: 2, totalSubsteps: 16, batch: 32, seed: 3, gmDropout: POLICY_FAMILIES[policy].gmDropout ? 0.1 : 0,
        windowSubsteps: POLICY_FAMILIES[policy].defaults.windowSubsteps,
        numDecayIters: 10, adam: { lr: 1e-4 },
      });
      try {
        const s = await d.step();
        if (!Number.isFinite(s.loss)) throw new Error(`loss ${s.loss}`);
        const pts = await sampleStudent(d.student, policyConfigOf(d.cfg), 64, 4);
        if (!allFinite(pts)) throw new Error('non-finite student samples');
        return `loss ${s.loss.toFixed(4)}, ${s.policyEvals} policy evaluations; 2-NFE samples finite`;
      } finally {
        d.dispose();
        d.student.model.dispose();
      }
    });
  }
  teacher.model.dispose();
}

async function runChecks(choice: BackendChoice): Promise<void> {
  const result = $('check-result');
  const table = $('check-table');
  table.replaceChildren();
  result.dataset.state = 'running';
  result.textContent = `running on ${choice.name}…`;
  const rows: CheckRow[] = [];
  const row = async (name: string, fn: () => Promise<string>) => {
    const t0 = performance.now();
    let r: CheckRow;
    try {
      r = { name, ok: true, detail: await fn(), ms: 0 };
    } catch (e) {
      r = { name, ok: false, detail: e instanceof Error ? e.message : String(e), ms: 0 };
    }
    r.ms = Math.round(performance.now() - t0);
    rows.push(r);
    const tr = document.createElement('tr');
    tr.dataset.ok = String(r.ok);
    for (const text of [r.ok ? '✓' : '✗', r.name, `${r.ms} ms`, r.detail]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    table.append(tr);
  };
  await row('tensors: matmul, relu, gradient', mathCheck);
  await row('wasm SIMD heap kernels', wasmKernelCheck);
  await row('SIMD wasm rollout program', rolloutCheck);
  await engineChecks(row);
  const ok = rows.every((r) => r.ok);
  result.dataset.state = ok ? 'pass' : 'fail';
  result.dataset.backend = choice.name;
  result.textContent = ok
    ? `All ${rows.length} checks passed on ${choice.name}.`
    : `${rows.filter((r) => !r.ok).length} of ${rows.length} checks failed on ${choice.name}.`;
  // for scripted runs (tests): the rows as JSON
  result.dataset.rows = JSON.stringify(rows);
}

async function main(): Promise<void> {
  $('backend-indicator').textContent = 'choosing…';
  let choice = await chooseBackend();
  showBackend(choice);
  onDeviceLost(async (loss) => {
    $('backend-indicator').dataset.state = 'lost';
    $('backend-indicator').textContent = `${loss.backend} lost; falling back…`;
    choice = await fallBackAfterLoss(loss.backend);
    showBackend(choice);
    await runChecks(choice);
  });
  $<HTMLButtonElement>('simulate-device-loss').addEventListener('click', () => {
    if (!simulateDeviceLoss()) $('backend-reason').textContent = `nothing to lose on ${tf.getBackend()}`;
  });
  await runChecks(choice);
}

main().catch((e) => {
  const result = $('check-result');
  result.dataset.state = 'fail';
  result.textContent = `check page failed: ${e instanceof Error ? e.message : String(e)}`;
  throw e;
});
