#!/usr/bin/env node
// Where the student's 2-NFE sampling time goes on a Node backend (the bench's workload: K = 32, chunks
// of 4096, 64 substeps per segment): the fused rollout programs (GMFlowPolicy.rolloutFused, timed by
// wrapping it), the student's forwards (ToyNet.apply, wrapped) and the rest (policy construction, schedules, chunking).
// Usage: npm run build && node scripts/profile-sampling.mjs [backend] [samples] [repeats]
// With PIFLOW_ROLLOUT_BASELINE=path/to/fused.js (an older build's dist/src/engine/fused.js) the sampling
// runs alternate between that file's host rollout and the current one, and both host loops are timed
// alone on the same inputs, interleaved (before/after comparisons on a shared machine).
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../dist/src/engine/backend.js';
import { Rng } from '../dist/src/engine/rng.js';
import { createToyNet } from '../dist/src/models/mlp.js';
import { datasetSource, Distiller, policyConfigOf, sampleStudent } from '../dist/src/runtime/toy.js';
import { GMFlowPolicy } from '../dist/src/engine/gmflow.js';
import { gmflowCoefficients, gmflowRolloutHost } from '../dist/src/engine/fused.js';
import { rolloutSchedule } from '../dist/src/engine/policy.js';
import { fillTimes } from '../dist/src/engine/time.js';

const backend = await initNodeBackend(process.argv[2] ?? 'wasm');
const nSamples = Number(process.argv[3] ?? 8192);
const repeats = Number(process.argv[4] ?? 3);
const K = 32;

const rng = new Rng(0);
const teacher = createToyNet({ kind: 'teacher', width: 256, depth: 4 }, rng.fork());
const distiller = new Distiller(teacher, datasetSource('checkerboard'), {
  policy: 'gmflow', k: K, batch: 2048, nfe: 2, totalSubsteps: 128, numIntermediateStates: 2, windowSubsteps: 0, numDecayIters: 0, seed: 1,
});
const pcfg = policyConfigOf(distiller.cfg);

const proto = GMFlowPolicy.prototype;
const inner = proto.rolloutFused;
let rolloutMs = 0;
const baselinePath = process.env.PIFLOW_ROLLOUT_BASELINE;
const baseMod = baselinePath ? await import(new URL(baselinePath, `file://${process.cwd()}/`).href) : null;
const baseline = baseMod ? baseMod.gmflowRolloutHost : null;
let useBaseline = false; // sampling runs alternate between the baseline's host loop and the current one
let captured = null; // the first sampling segment's inputs, re-run below with the real policy
proto.rolloutFused = function (...a) {
  const t = performance.now();
  try {
    if (!useBaseline) return inner.apply(this, a);
    // GMFlowPolicy.rolloutFused's host branch with the baseline module's functions
    const [xT, sched, every = false] = a;
    const B = this.batch;
    const C = xT.shape[1];
    const inp = { x: xT, xSrc: this.xTSrc, means: this.means, logweights: this.logweights, gmVars: this.gmVars,
      raSrc: this.raSrc, K: this.numComponents, C, S: xT.size / (B * C), eps: this.eps };
    const coef = baseMod.gmflowCoefficients(sched, this.sigmaTSrc, this.eps);
    return tf.tensor(baseMod.gmflowRolloutHost(inp, coef, sched.steps, every), every ? [sched.steps + 1, ...xT.shape] : xT.shape, 'float32');
  } finally {
    rolloutMs += performance.now() - t;
    if (!captured && a[0].rank === 2) {
      const [xT, sched] = a;
      captured = {
        inp: { x: xT.clone(), xSrc: this.xTSrc.clone(), means: this.means.clone(), logweights: this.logweights.clone(), gmVars: this.gmVars.clone(),
          raSrc: this.raSrc, K: this.numComponents, C: 2, S: 1, eps: this.eps },
        coef: gmflowCoefficients(sched, this.sigmaTSrc, this.eps), steps: sched.steps,
      };
    }
  }
};
// the student's forward passes (wasm and cpu run their kernels synchronously, so the call's time is theirs)
let netMs = 0;
const net = distiller.student;
const apply = net.apply;
net.apply = (...a) => {
  const t = performance.now();
  try {
    return apply(...a);
  } finally {
    netMs += performance.now() - t;
  }
};
await sampleStudent(distiller.student, pcfg, nSamples, 0, { chunk: 4096 }); // warm-up
const modes = baseMod ? ['baseline', 'current'] : ['current'];
const rows = Object.fromEntries(modes.map((m) => [m, []]));
for (let r = 0; r < repeats; r++) {
  for (const mode of modes) {
    useBaseline = mode === 'baseline';
    rolloutMs = 0;
    netMs = 0;
    const c = process.cpuUsage();
    const t = performance.now();
    const out = await sampleStudent(distiller.student, pcfg, nSamples, 0, { chunk: 4096 });
    const total = performance.now() - t;
    const cu = process.cpuUsage(c);
    rows[mode].push({ total, cpu: (cu.user + cu.system) / 1000, rollout: rolloutMs, net: netMs, out });
  }
}
useBaseline = false;
const medianBy = (a, key) => [...a].sort((p, q) => p[key] - q[key])[Math.floor(a.length / 2)][key];
for (const mode of modes) {
  const rs = rows[mode];
  const med = [...rs].sort((p, q) => p.total - q.total)[Math.floor(rs.length / 2)];
  console.log(JSON.stringify({
    backend, rollout_host_loop: mode, samples: nSamples, repeats,
    samples_per_s: Math.round((nSamples / med.total) * 1000),
    total_ms: +med.total.toFixed(1),
    rollout_ms: +med.rollout.toFixed(1),
    network_ms: +med.net.toFixed(1),
    other_ms: +(med.total - med.rollout - med.net).toFixed(1),
    rollout_share: +(med.rollout / med.total).toFixed(3),
    median_cpu_ms: +medianBy(rs, 'cpu').toFixed(0),
    median_rollout_ms: +medianBy(rs, 'rollout').toFixed(1),
    median_network_ms: +medianBy(rs, 'net').toFixed(1),
    cpu_util: +(medianBy(rs, 'cpu') / medianBy(rs, 'total')).toFixed(2),
  }));
}
if (baseMod) {
  let d = 0;
  const [a0, b0] = [rows.baseline[0].out, rows.current[0].out];
  for (let i = 0; i < a0.length; i++) d = Math.max(d, Math.abs(a0[i] - b0[i]));
  console.log(JSON.stringify({ samples_max_abs_diff_baseline_vs_current: d }));
}

// the host loop alone, on the workload's shape: one chunk (B = 4096), one segment (σ 1 → 0.5, 64 substeps)
if (backend === 'cpu' || backend === 'wasm') {
  const B = 4096;
  const x = tf.randomNormal([B, 2], 0, 1, 'float32', 7);
  const inp = {
    x, xSrc: x, means: tf.randomNormal([B, K, 2], 0, 0.7, 'float32', 8),
    logweights: tf.logSoftmax(tf.randomNormal([B, K], 0, 1, 'float32', 9)).reshape([B, K, 1]),
    gmVars: tf.fill([B, 1, 1], 0.01), raSrc: new Float64Array(B), K, C: 2, S: 1, eps: 1e-4,
  };
  const sched = rolloutSchedule(fillTimes(B, 1), fillTimes(B, 0.5), fillTimes(B, 1), 128, 1);
  const coef = gmflowCoefficients(sched, fillTimes(B, 1), 1e-4);
  const fns = [['current', gmflowRolloutHost]];
  if (baseline) fns.unshift(['baseline', baseline]);
  const cases = [['synthetic', inp, coef, sched.steps]];
  if (captured) cases.push(['sampling segment 0', captured.inp, captured.coef, captured.steps]);
  for (const [label, inp, coef, steps] of cases) {
  const times = Object.fromEntries(fns.map(([n]) => [n, []]));
  const outs = {};
  for (let r = 0; r < 7; r++) {
    for (const [n, f] of fns) {
      const t = performance.now();
      outs[n] = f(inp, coef, steps);
      times[n].push(performance.now() - t);
    }
  }
  const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const res = Object.fromEntries(fns.map(([n]) => [n + '_ms', +median(times[n]).toFixed(2)]));
  if (outs.baseline) {
    let d = 0;
    for (let i = 0; i < outs.current.length; i++) d = Math.max(d, Math.abs(outs.current[i] - outs.baseline[i]));
    res.max_abs_diff = d;
    res.speedup = +(res.baseline_ms / res.current_ms).toFixed(2);
  }
  console.log(JSON.stringify({ host_loop: `${label}: B ${inp.gmVars.size}, K ${K}, C 2, ${steps} substeps`, ...res }));
  }
  tf.dispose([x, inp.means, inp.logweights, inp.gmVars]);
}
