#!/usr/bin/env node
// Where the student's 2-NFE sampling time goes on a Node backend (the bench's workload: K = 32, chunks
// of 4096, 64 substeps per segment): the fused rollout programs (GMFlowPolicy.rolloutFused, timed by
// wrapping it), the student's forwards (ToyNet.apply, wrapped) and the rest (policy construction, schedules, chunking).
// Usage: npm run build && node scripts/profile-sampling.mjs [backend] [samples] [repeats]
// With PIFLOW_ROLLOUT_BASELINE=path/to/fused.js it also times that file's gmflowRolloutHost against
// the current one on the same synthetic inputs, interleaved (before/after comparisons).
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
const baseline = baselinePath ? (await import(new URL(baselinePath, `file://${process.cwd()}/`).href)).gmflowRolloutHost : null;
let captured = null; // the first sampling segment's inputs, re-run below with the real policy
proto.rolloutFused = function (...a) {
  const t = performance.now();
  try {
    return inner.apply(this, a);
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
const rows = [];
for (let r = 0; r < repeats; r++) {
  rolloutMs = 0;
  netMs = 0;
  const t = performance.now();
  await sampleStudent(distiller.student, pcfg, nSamples, 0, { chunk: 4096 });
  const total = performance.now() - t;
  rows.push({ total, rollout: rolloutMs, net: netMs });
}
rows.sort((a, b) => a.total - b.total);
const med = rows[Math.floor(rows.length / 2)];
console.log(JSON.stringify({
  backend, samples: nSamples, repeats,
  samples_per_s: Math.round((nSamples / med.total) * 1000),
  total_ms: +med.total.toFixed(1),
  rollout_ms: +med.rollout.toFixed(1),
  network_ms: +med.net.toFixed(1),
  other_ms: +(med.total - med.rollout - med.net).toFixed(1),
  rollout_share: +(med.rollout / med.total).toFixed(3),
}));

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
