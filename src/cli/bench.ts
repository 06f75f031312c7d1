/**
 * `piflow bench`: timings of the toy π-Flow workload (design/WORKLOAD.md §4–§11) on the Node backends,
 * for side-by-side comparison with the PyTorch peer (shared/peer/bench.py). Untrained weights: timings only.
 *
 * Per backend (fresh networks each): teacher training steps/s (batch 2048, checkerboard), π-ID
 * iterations/s (GMFlow K = 32 student initialised from the teacher, batch 2048, 2 NFE, 128 substeps,
 * 2 intermediate states), teacher Euler-32 and student 2-NFE sampling samples/s. Protocol: warm-up,
 * then the median of `--repeats` repeats, each repeat running the operation as many times as needed to
 * last about `--min-time` seconds. Also: tfjs kernel dispatches of one π-ID iteration (tf.profile),
 * policy evaluations per iteration, the share of an iteration spent in the no-gradient rollouts, the
 * peer's FLOP-model GFLOP/s, process CPU use, and a tensor-leak check across repeats.
 *
 * Human-readable lines go to stderr; the last stdout line is one JSON object. Exit status 1 when a
 * section leaked tensors across repeats.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { initNodeBackend, NODE_BACKENDS } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { createToyNet, paramCount, MlpConfig, ToyNet } from '../models/mlp.js';
import { datasetSource, Distiller, DistillConfig, policyConfigOf, sampleStudent, sampleTeacher, TeacherTrainer } from '../runtime/toy.js';
import { OptSpecs, parseArgs, UsageError } from './args.js';
import { GMFlowPolicy } from '../engine/gmflow.js';
import { policyRollout, setFusedRollouts } from '../engine/policy.js';
import { fusedStats, fusedTraining, setFusedTraining } from '../engine/fused.js';
import { countGpuDispatches } from '../engine/webgpu-dispatches.js';
import { nodeWebGpuAdapter } from '../engine/webgpu-node.js';
import { fillTimes, warpT } from '../engine/time.js';
import { DEFAULT_UNET, TINY_UNET, createImageNet, unetParamCount, type UNetConfig } from '../models/unet.js';
import { ImageDistiller, ImageTeacherTrainer } from '../runtime/mnist.js';

export const BENCH_OPTS: OptSpecs = {
  backends: { type: 'string', default: 'wasm,cpu', help: `comma-separated backends to time (${NODE_BACKENDS.join(', ')})` },
  repeats: { type: 'int', default: 5, min: 1, help: 'timed repeats per figure (median reported)' },
  'cpu-repeats': { type: 'int', default: 3, min: 1, help: 'timed repeats on the (slow) cpu backend' },
  'min-time': { type: 'number', default: 1, gt: 0, help: 'seconds each repeat should last at least (sets the inner count)' },
  samples: { type: 'int', optional: true, min: 1, help: 'sampling count on every backend (default: 8192 wasm, 512 cpu)' },
  chunk: { type: 'int', default: 4096, min: 1, help: 'sampling micro-batch' },
  rollouts: { type: 'string', default: 'fused', help: "rollout path: 'fused' (one program per segment where the policy has one) or 'generic' (substep by substep: the reference)" },
  training: { type: 'string', default: 'fused', help: "π-ID and optimizer path: 'fused' (one student forward per segment, batched teacher queries, host GMFlow velocity op and host Adam on cpu/wasm) or 'generic' (the reference)" },
  dataset: { type: 'string', default: 'toy', help: "what to time: 'toy' (the 2D workload), 'mnist' (the full U-Net: teacher step at batch 128, π-ID at batch 64, K = 8) or 'toy,mnist'" },
  quick: { type: 'flag', help: 'smoke test: tiny networks and counts, 1 repeat, short timing windows' },
};

/** Sampling counts (WORKLOAD §9 says 65,536; samples/s is per sample, and the cpu backend runs Euler-32
 * at ~50 samples/s, so it gets far fewer). */
const DEFAULT_SAMPLES: Record<string, number> = { wasm: 8192, cpu: 512 };

/** The workload (WORKLOAD.md §4, §5, §8); `--quick` shrinks it. */
interface Workload {
  width: number;
  depth: number;
  k: number;
  batch: number;
  totalSubsteps: number;
  nfe: number;
  numIntermediateStates: number;
  eulerSteps: number;
  teacherLr: number;
  studentLr: number;
}

const FULL: Workload = {
  width: 256, depth: 4, k: 32, batch: 2048, totalSubsteps: 128, nfe: 2, numIntermediateStates: 2, eulerSteps: 32,
  teacherLr: 1e-3, studentLr: 1e-4,
};
const QUICK: Workload = { ...FULL, width: 32, depth: 2, k: 4, batch: 64, totalSubsteps: 16 };

/** Approximate flops per (sample, component) of one GMFlow policy evaluation (peer bench.py PI_BK 'fast':
 * our points rollout uses the matmul form with precomputed |μ_k|²). */
const PI_FLOPS_PER_BK = 17;
const EMBED_DIM = 128;

// ---- FLOP model (WORKLOAD.md §11; the same formulas as the peer's toyflow.py, so GFLOP/s compare)
function linearDims(w: Workload, out: number): [number, number][] {
  const dims = [EMBED_DIM, ...Array<number>(w.depth).fill(w.width)];
  const layers: [number, number][] = dims.slice(0, -1).map((d, i) => [d, dims[i + 1]]);
  layers.push([w.width, out]);
  return layers;
}
function mlpFlops(w: Workload, out: number, batch: number, backward: boolean): number {
  const L = linearDims(w, out);
  const fwd = L.reduce((s, [i, o]) => s + 2 * batch * i * o, 0);
  if (!backward) return fwd;
  return 2 * fwd + L.slice(1).reduce((s, [i, o]) => s + 2 * batch * i * o, 0);
}
function mlpElemFlops(w: Workload, batch: number, backward: boolean): number {
  const nAct = w.width * w.depth;
  let f = batch * (EMBED_DIM * 15 + nAct * (1 + 5));
  if (backward) f += batch * nAct * (1 + 8);
  return f;
}

interface Timing {
  /** operations per timed repeat */
  inner: number;
  /** seconds per repeat */
  times: number[];
  median: number;
  /** process CPU seconds / wall seconds over the timed repeats */
  cpuUtil: number;
  /** tf.memory().numTensors before the first and after each timed repeat */
  tensors: number[];
  leaked: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

interface TimeOptions {
  /** untimed calls before the timed repeats; the last one sets the inner count */
  warmup: number;
  /** seconds per call, used for the inner count when warmup is 0 */
  estimate?: number;
  /** runs after the warm-up, just before the timed repeats */
  onTimedStart?: () => void;
}

/**
 * Warm-up, then `repeats` timed repeats of `inner` calls each, `inner` chosen so that a repeat lasts
 * at least `minTime` seconds (from the last warm-up call's time, or `estimate`).
 */
async function timeRepeats(fn: () => Promise<unknown>, repeats: number, minTime: number, o: TimeOptions): Promise<Timing> {
  let last = o.estimate ?? 0;
  for (let i = 0; i < o.warmup; i++) {
    const t0 = performance.now();
    await fn();
    last = (performance.now() - t0) / 1000;
  }
  o.onTimedStart?.();
  const inner = Math.max(1, Math.ceil(minTime / Math.max(last, 1e-6)));
  const times: number[] = [];
  const tensors = [tf.memory().numTensors];
  const c0 = process.cpuUsage();
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) await fn();
    times.push((performance.now() - t0) / 1000);
    tensors.push(tf.memory().numTensors);
  }
  const cpu = process.cpuUsage(c0);
  const wall = times.reduce((a, b) => a + b, 0);
  return {
    inner, times, median: median(times), cpuUtil: (cpu.user + cpu.system) / 1e6 / wall,
    tensors, leaked: tensors.some((n) => n !== tensors[0]),
  };
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;
const sig = (v: number) => Number(v.toPrecision(4));

function describe(name: string, t: Timing, rate: number, unit: string): void {
  log(
    `  ${name.padEnd(26)} ${sig(rate).toString().padStart(9)} ${unit}   (median of ${t.times.length} x ${t.inner}; ` +
      `repeats ${t.times.map((x) => x.toFixed(2)).join(' ')} s; cpu util ${t.cpuUtil.toFixed(2)}` +
      `${t.leaked ? `; LEAK: tensors ${t.tensors.join(' → ')}` : ''})`,
  );
}

interface BackendResult {
  [key: string]: unknown;
}

async function benchBackend(backendName: string, w: Workload, repeats: number, minTime: number, nSamples: number, chunk: number, quick: boolean, fusedOn: boolean): Promise<{ result: BackendResult; leaked: boolean }> {
  const backend = await initNodeBackend(backendName);
  const tensorsAtStart = tf.memory().numTensors;
  const t0 = performance.now();
  let threads: number | null = null;
  if (backend === 'wasm') {
    try {
      threads = getThreadsCount();
    } catch {
      threads = null;
    }
  } else threads = 1; // the tfjs cpu backend is plain single-threaded JavaScript
  log(`--- backend ${backend} (${fusedOn ? 'fused' : 'generic'} rollouts, ${fusedTraining() ? 'fused' : 'generic'} training; threads ${threads ?? '?'}; repeats ${repeats}; ≥ ${minTime} s per repeat; ${nSamples} samples)`);
  const adapter = backend === 'webgpu' ? nodeWebGpuAdapter() : null;
  if (adapter) log(`  adapter: ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ') || '?'}${adapter.software ? ' (software: no GPU figures)' : ''}`);

  const data = datasetSource('checkerboard');
  const rng = new Rng(0);
  const tcfg: MlpConfig = { kind: 'teacher', width: w.width, depth: w.depth };
  const teacher = createToyNet(tcfg, rng.fork()); // fixed (untrained) teacher: π-ID targets and Euler sampling
  const trainNet = createToyNet(tcfg, rng.fork()); // trained by the teacher-training figure
  const trainer = new TeacherTrainer(trainNet, data, w.batch, { lr: w.teacherLr }, rng.nextU32());
  const dcfg: Partial<DistillConfig> = {
    policy: 'gmflow', k: w.k, batch: w.batch, nfe: w.nfe, totalSubsteps: w.totalSubsteps,
    numIntermediateStates: w.numIntermediateStates, windowSubsteps: 0, numDecayIters: 0, seed: 1, adam: { lr: w.studentLr },
  };
  const distiller = new Distiller(teacher, data, dcfg);
  const student: ToyNet = distiller.student;
  // webgpu: which adapter ran (a software one, SwiftShader, gives no GPU figures)
  const R: BackendResult = { backend, threads, ...(adapter ? { adapter } : {}) };
  const slow = backend === 'cpu'; // seconds per π-ID iteration: fewer warm-up calls
  let leaked = false;
  try {
    const teacherParams = paramCount(tcfg);
    const studentParams = paramCount(student.cfg);
    const studentOut = 3 * w.k + 1;
    log(`  teacher ${teacherParams} params, student (GMFlow K=${w.k}) ${studentParams} params, batch ${w.batch}`);

    // ---- teacher training
    const tt = await timeRepeats(() => trainer.step(), repeats, minTime, { warmup: slow ? 2 : 3 });
    const teacherRate = tt.inner / tt.median;
    describe('teacher training', tt, teacherRate, 'steps/s');
    leaked ||= tt.leaked;

    // ---- π-ID iterations; the no-gradient phase (rollouts + teacher queries) timed by wrapping it
    const piid = distiller.piid as unknown as Record<string, unknown>;
    const phase = { targets: 0, teacher: 0, iters: 0, evals: 0 };
    let instrumented = false;
    if (typeof piid.segmentTargets === 'function' && typeof piid.teacher === 'function') {
      const seg = piid.segmentTargets as (...a: unknown[]) => unknown;
      const teach = piid.teacher as (...a: unknown[]) => unknown;
      piid.segmentTargets = (...a: unknown[]) => {
        const s = performance.now();
        try {
          return seg.apply(distiller.piid, a);
        } finally {
          phase.targets += performance.now() - s;
        }
      };
      piid.teacher = (...a: unknown[]) => {
        const s = performance.now();
        try {
          return teach.apply(distiller.piid, a);
        } finally {
          phase.teacher += performance.now() - s;
        }
      };
      instrumented = true;
    }
    const piidStep = async () => {
      const st = await distiller.step();
      phase.iters++;
      phase.evals += st.policyEvals;
      return st;
    };
    // warm-up: a first iteration (creates the Adam state), then one under tf.profile to count the
    // kernel dispatches; its time sets the inner count (on cpu it is the only other warm-up)
    await distiller.step();
    const before = tf.memory().numTensors;
    const tProf0 = performance.now();
    const piidPrograms0 = fusedStats.programs;
    const { result: prof, dispatches: piidGpu, programs: piidGpuPrograms } = await countGpuDispatches(() => tf.profile(async () => {
      await distiller.step();
    }));
    const piidPrograms = fusedStats.programs - piidPrograms0;
    const tProf = (performance.now() - tProf0) / 1000;
    const piidKernels = prof.kernels.length; // tf.profile reuses its result object: read it now
    const counts = new Map<string, number>();
    for (const k of prof.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
    if (tf.memory().numTensors !== before) {
      leaked = true;
      log(`  LEAK: the profiled π-ID iteration left ${tf.memory().numTensors - before} tensors`);
    }
    log(`  π-ID kernels/iter ${piidKernels} (${counts.size} kinds) + ${piidPrograms} fused host/WGSL programs${piidGpu !== null ? ` (GPU dispatches ${piidGpu}: ${piidGpuPrograms.slice(0, 10).map(([p, c]) => `${p.replace(/Program$/, '')} ${c}`).join(', ')})` : ''}; top: ${top.map(([n, c]) => `${n} ${c}`).join(', ')}`);

    // ---- dispatches of one no-gradient rollout segment: a GMFlow policy of the workload's shape
    // (B, K, C = 2) from σ = 1 over one of the nfe segments (totalSubsteps / nfe substeps); tfjs kernels
    // (tf.profile) plus fused programs (host loops or WGSL dispatches, which tf.profile does not see)
    const seg = await (async () => {
      const B = w.batch;
      const x = tf.randomNormal([B, 2], 0, 1, 'float32', 7);
      const out = tf.tidy(() => ({
        means: tf.randomNormal([B, w.k, 2], 0, 0.7, 'float32', 8),
        logweights: tf.logSoftmax(tf.randomNormal([B, w.k], 0, 1, 'float32', 9)).reshape([B, w.k, 1]),
        logstds: tf.fill([B, 1, 1], -1),
      }));
      const sigma = fillTimes(B, warpT(1, 1));
      const policy = new GMFlowPolicy(out, x, sigma, 1e-4);
      tf.dispose([out.means, out.logweights, out.logstds]);
      const programs0 = fusedStats.programs;
      let substeps = 0;
      const { result: p, dispatches: gpu } = await countGpuDispatches(() => tf.profile(async () => {
        const r = policyRollout(policy, x, sigma, fillTimes(B, 1), fillTimes(B, 1 - 1 / w.nfe), w.totalSubsteps, 1);
        substeps = r.numEvals;
        await r.xTEnd.data();
        r.xTEnd.dispose();
      }));
      const programs = fusedStats.programs - programs0;
      policy.dispose();
      x.dispose();
      return { kernels: p.kernels.length, names: p.kernels.map((k) => k.name), programs, substeps, gpu };
    })();
    log(`  rollout segment (GMFlow K=${w.k}, ${seg.substeps} substeps, batch ${w.batch}): ${seg.kernels} kernels (${seg.names.join(', ')}) + ${seg.programs} fused programs${seg.gpu !== null ? `; GPU dispatches ${seg.gpu}` : ''}`);

    const tp = await timeRepeats(piidStep, repeats, minTime, {
      warmup: slow ? 0 : 1, estimate: tProf, onTimedStart: () => Object.assign(phase, { targets: 0, teacher: 0, iters: 0, evals: 0 }),
    });
    const piidRate = tp.inner / tp.median;
    describe('π-ID', tp, piidRate, 'iters/s');
    leaked ||= tp.leaked;
    const iterMs = (tp.median / tp.inner) * 1000;
    // phase sums cover the timed repeats only (reset after the warm-up)
    const perIter = (ms: number) => ms / Math.max(phase.iters, 1);
    const rolloutMs = perIter(phase.targets - phase.teacher);
    const teacherMs = perIter(phase.teacher);
    const evalsPerIter = phase.evals / Math.max(phase.iters, 1);
    if (instrumented) {
      log(`  π-ID split: ${iterMs.toFixed(1)} ms/iter, rollouts ${rolloutMs.toFixed(1)} ms (${((rolloutMs / iterMs) * 100).toFixed(0)}%), ` +
        `teacher queries ${teacherMs.toFixed(1)} ms; ${evalsPerIter.toFixed(1)} policy evals/iter`);
    }

    // ---- teacher Euler-32 sampling
    const te = await timeRepeats(() => sampleTeacher(teacher, nSamples, w.eulerSteps, 0, chunk), repeats, minTime, { warmup: 1 });
    const eulerRate = (te.inner * nSamples) / te.median;
    describe(`teacher Euler-${w.eulerSteps} sampling`, te, eulerRate, 'samples/s');
    leaked ||= te.leaked;

    // ---- student 2-NFE sampling, 128 substeps
    const pcfg = policyConfigOf(distiller.cfg);
    const ts = await timeRepeats(() => sampleStudent(student, pcfg, nSamples, 0, { chunk }), repeats, minTime, { warmup: 1 });
    const studentRate = (ts.inner * nSamples) / ts.median;
    describe(`student ${w.nfe}-NFE sampling`, ts, studentRate, 'samples/s');
    leaked ||= ts.leaked;

    // ---- FLOP model (peer bench.py): GFLOP/s achieved
    const B = w.batch;
    const teacherStepFlops = mlpFlops(w, 2, B, true) + mlpElemFlops(w, B, true) + 12 * teacherParams;
    const piidFlops =
      mlpFlops(w, studentOut, B, true) + 2 * mlpFlops(w, 2, B, false) +
      mlpElemFlops(w, B, true) + 2 * mlpElemFlops(w, B, false) + 12 * studentParams +
      (evalsPerIter + 3 * w.numIntermediateStates) * PI_FLOPS_PER_BK * B * w.k;
    const studentSampleFlops = w.nfe * mlpFlops(w, studentOut, 1, false) + w.totalSubsteps * PI_FLOPS_PER_BK * w.k;
    const gflops = {
      teacher_train: r3((teacherStepFlops * teacherRate) / 1e9),
      piid: r3((piidFlops * piidRate) / 1e9),
      euler32: r3((w.eulerSteps * mlpFlops(w, 2, 1, false) * eulerRate) / 1e9),
      student2nfe: r3((studentSampleFlops * studentRate) / 1e9),
    };
    log(`  FLOP-model GFLOP/s: teacher train ${gflops.teacher_train}, π-ID ${gflops.piid}, Euler ${gflops.euler32}, student ${gflops.student2nfe}`);

    Object.assign(R, {
      teacher_steps_per_s: sig(teacherRate),
      piid_iters_per_s: sig(piidRate),
      euler32_samples_per_s: sig(eulerRate),
      student2nfe_samples_per_s: sig(studentRate),
      sample_counts: { euler32: nSamples, student2nfe: nSamples, chunk },
      rollouts: fusedOn ? 'fused' : 'generic',
      training: fusedTraining() ? 'fused' : 'generic',
      piid_kernels_per_iter: piidKernels,
      piid_fused_programs_per_iter: piidPrograms,
      rollout_segment: { kernels: seg.kernels, fused_programs: seg.programs, dispatches: seg.kernels + seg.programs, gpu_dispatches: seg.gpu, substeps: seg.substeps },
      piid_gpu_dispatches_per_iter: piidGpu,
      piid_kernel_top: Object.fromEntries(top),
      piid_policy_evals_per_iter: r3(evalsPerIter),
      piid_ms_per_iter: r3(iterMs),
      piid_rollout_frac: instrumented ? r3(rolloutMs / iterMs) : null,
      piid_teacher_query_frac: instrumented ? r3(teacherMs / iterMs) : null,
      gflops_model: gflops,
      repeats,
      inner: { teacher_train: tt.inner, piid: tp.inner, euler32: te.inner, student2nfe: ts.inner },
      repeat_s: { teacher_train: tt.times.map(r3), piid: tp.times.map(r3), euler32: te.times.map(r3), student2nfe: ts.times.map(r3) },
      cpu_util: { teacher_train: r3(tt.cpuUtil), piid: r3(tp.cpuUtil), euler32: r3(te.cpuUtil), student2nfe: r3(ts.cpuUtil) },
      params: { teacher: teacherParams, student: studentParams },
      ...(quick ? { quick: true, workload: w } : {}),
    });
  } finally {
    trainer.dispose();
    distiller.dispose();
    student.dispose();
    trainNet.dispose();
    teacher.dispose();
  }
  const tensorsAtEnd = tf.memory().numTensors;
  if (tensorsAtEnd !== tensorsAtStart) {
    leaked = true;
    log(`  LEAK: ${tensorsAtEnd - tensorsAtStart} tensors left after disposing the ${backend} networks`);
  }
  R.leak_free = !leaked;
  R.wall_s = r3((performance.now() - t0) / 1000);
  log(`  ${backend} done in ${(R.wall_s as number).toFixed(1)} s${leaked ? ' (LEAKED TENSORS)' : ''}`);
  return { result: R, leaked };
}

/** Per-kernel totals of one profiled call: name → count and kernel ms (tf.profile), largest first. */
function kernelTimes(kernels: { name: string; kernelTimeMs?: unknown }[]): { name: string; count: number; ms: number }[] {
  const m = new Map<string, { count: number; ms: number }>();
  for (const k of kernels) {
    // tfjs's customGrad wrappers (names ending in __op) contain their inner kernel: count them, no time
    const ms = typeof k.kernelTimeMs === 'number' && !k.name.endsWith('__op') ? k.kernelTimeMs : 0;
    const e = m.get(k.name) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += ms;
    m.set(k.name, e);
  }
  return [...m.entries()].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.ms - a.ms);
}

/**
 * MNIST section (issue 9 part 4; the peer's recipe, PAPER.md): the full patch-2 U-Net (678k
 * parameters) — a teacher flow-matching step at batch 128 and a GMFlow π-ID iteration at batch 64
 * (K = 8, 2 NFE, 128 substeps, 2 intermediate states, GM dropout 0.05), on untrained weights and
 * synthetic images (timings only). Per figure: seconds per step (median of the repeats, one call
 * each after a warm-up), kernels per step and the kernels' shares of one profiled step.
 */
async function benchMnist(backendName: string, repeats: number, quick: boolean): Promise<{ result: BackendResult; leaked: boolean }> {
  const backend = await initNodeBackend(backendName);
  const cfg: UNetConfig = quick ? TINY_UNET : DEFAULT_UNET;
  const teacherBatch = quick ? 8 : 128;
  const piidBatch = quick ? 4 : 64;
  log(`--- mnist on ${backend} (U-Net ${quick ? 'tiny' : 'full'}; teacher batch ${teacherBatch}, π-ID batch ${piidBatch}, K = 8; repeats ${repeats})`);
  const tensorsAtStart = tf.memory().numTensors;
  const t0 = performance.now();
  const rng = new Rng(0);
  const data = (n: number, r: Rng) => Float32Array.from(r.normalArray(n * cfg.channels * cfg.size * cfg.size), (v) => Math.tanh(v));
  const teacher = createImageNet(cfg, rng.fork());
  const trainNet = createImageNet(cfg, rng.fork());
  const trainer = new ImageTeacherTrainer(trainNet, data, teacherBatch, { lr: 1e-4 }, 1);
  const distiller = new ImageDistiller(teacher, data, { policy: 'gmflow', k: 8, batch: piidBatch, seed: 2, ...(quick ? { totalSubsteps: 16 } : {}) });
  const R: BackendResult = { backend, ...(backend === 'webgpu' ? { adapter: nodeWebGpuAdapter() } : {}), params: unetParamCount(teacher.model), teacher_batch: teacherBatch, piid_batch: piidBatch };
  let leaked = false;
  try {
    for (const [key, label, fn] of [
      ['teacher_step', `teacher step (batch ${teacherBatch})`, () => trainer.step()],
      ['piid_iter', `π-ID iteration (batch ${piidBatch}, K = 8)`, () => distiller.step()],
    ] as const) {
      await fn(); // warm-up (optimizer state, kernels)
      const before = tf.memory().numTensors;
      const programs0 = fusedStats.programs;
      const prof = await tf.profile(async () => {
        await fn();
      });
      const programs = fusedStats.programs - programs0;
      const kernels = prof.kernels.length;
      const times = kernelTimes(prof.kernels);
      const total = times.reduce((a, k) => a + k.ms, 0);
      if (tf.memory().numTensors !== before) {
        leaked = true;
        log(`  LEAK: the profiled ${label} left ${tf.memory().numTensors - before} tensors`);
      }
      const t = await timeRepeats(fn, repeats, 0, { warmup: 0, estimate: 1e9 });
      leaked ||= t.leaked;
      describe(label, t, 1 / t.median, 'per s');
      const top = times.slice(0, 8).map((k) => ({ name: k.name, count: k.count, share: r3(k.ms / Math.max(total, 1e-9)) }));
      log(`    ${(t.median).toFixed(2)} s/step; ${kernels} kernels + ${programs} fused programs; kernel time ${(total / 1000).toFixed(2)} s ` +
        `(${((total / 1000 / t.median) * 100).toFixed(0)}% of the step); top: ${top.map((k) => `${k.name} ${(k.share * 100).toFixed(0)}%`).join(', ')}`);
      Object.assign(R, {
        [`${key}_s`]: r3(t.median),
        [`${key}_repeat_s`]: t.times.map(r3),
        [`${key}_kernels`]: kernels,
        [`${key}_fused_programs`]: programs,
        [`${key}_kernel_share`]: r3(total / 1000 / t.median),
        [`${key}_top`]: top,
        [`${key}_cpu_util`]: r3(t.cpuUtil),
      });
    }
  } finally {
    trainer.dispose();
    distiller.dispose();
    distiller.student.dispose();
    trainNet.dispose();
    teacher.dispose();
  }
  if (tf.memory().numTensors !== tensorsAtStart) {
    leaked = true;
    log(`  LEAK: ${tf.memory().numTensors - tensorsAtStart} tensors left after disposing the mnist networks`);
  }
  R.leak_free = !leaked;
  R.wall_s = r3((performance.now() - t0) / 1000);
  log(`  mnist on ${backend} done in ${(R.wall_s as number).toFixed(1)} s`);
  return { result: R, leaked };
}

/** `piflow bench [--backends wasm,cpu] [--repeats 5] [--quick]`. */
export async function benchCommand(argv: string[]): Promise<number> {
  const { opts: o, positional } = parseArgs(argv, BENCH_OPTS);
  if (positional.length) throw new UsageError(`bench takes no positional arguments, got '${positional.join(' ')}'`);
  const backends = String(o.backends).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (backends.length === 0) throw new UsageError('--backends: name at least one backend');
  for (const b of backends) {
    if (!NODE_BACKENDS.includes(b)) throw new UsageError(`--backends: unknown backend '${b}'; allowed: ${NODE_BACKENDS.join(', ')}`);
  }
  if (new Set(backends).size !== backends.length) throw new UsageError('--backends: a backend is named twice');
  const quick = Boolean(o.quick);
  const rolloutPath = String(o.rollouts);
  if (rolloutPath !== 'fused' && rolloutPath !== 'generic') throw new UsageError(`--rollouts: 'fused' or 'generic', got '${rolloutPath}'`);
  const fusedOn = rolloutPath === 'fused';
  setFusedRollouts(fusedOn);
  const trainingPath = String(o.training);
  if (trainingPath !== 'fused' && trainingPath !== 'generic') throw new UsageError(`--training: 'fused' or 'generic', got '${trainingPath}'`);
  setFusedTraining(trainingPath === 'fused');
  const w = quick ? QUICK : FULL;
  const minTime = quick ? Math.min(Number(o['min-time']), 0.05) : Number(o['min-time']);
  const t0 = performance.now();
  const results: Record<string, BackendResult> = {};
  let leaked = false;
  const datasets = String(o.dataset).split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const d of datasets) if (d !== 'toy' && d !== 'mnist') throw new UsageError(`--dataset: 'toy', 'mnist' or 'toy,mnist', got '${d}'`);
  if (datasets.length === 0) throw new UsageError('--dataset: name at least one of toy, mnist');
  const mnist: Record<string, BackendResult> = {};
  for (const b of backends) {
    const repeats = quick ? 1 : b === 'cpu' ? Math.min(Number(o.repeats), Number(o['cpu-repeats'])) : Number(o.repeats);
    if (datasets.includes('toy')) {
      const n = quick ? 256 : o.samples !== undefined ? Number(o.samples) : DEFAULT_SAMPLES[b];
      const chunk = Math.min(Number(o.chunk), n);
      const r = await benchBackend(b, w, repeats, minTime, n, chunk, quick, fusedOn);
      results[b] = r.result;
      leaked ||= r.leaked;
    }
    if (datasets.includes('mnist')) {
      const r = await benchMnist(b, repeats, quick);
      mnist[b] = r.result;
      leaked ||= r.leaked;
    }
  }
  const cpus = os.cpus();
  const out = {
    machine: { cpus: cpus.length, model: cpus[0]?.model ?? 'unknown', node: process.version },
    date: new Date().toISOString(),
    tfjs: tf.version_core,
    batch_train: w.batch,
    results,
    ...(datasets.includes('mnist') ? { mnist } : {}),
    load_avg: os.loadavg().map(r3),
    wall_s: r3((performance.now() - t0) / 1000),
  };
  log(`bench done in ${out.wall_s.toFixed(1)} s`);
  console.log(JSON.stringify(out));
  return leaked ? 1 : 0;
}
