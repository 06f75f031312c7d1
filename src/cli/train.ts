/** `piflow train-teacher`, `piflow distill`, `piflow sample`, `piflow evaluate` (2D; MNIST runs go to mnist.ts). */
import path from 'node:path';
import { initNodeBackend } from '../engine/backend.js';
import { NonFiniteLossError } from '../engine/optim.js';
import { Rng } from '../engine/rng.js';
import { DATASETS_2D, sample2d, toCsv2d } from '../data/toy2d.js';
import { createToyNet, ToyNet } from '../models/mlp.js';
import { POLICY_FAMILIES, POLICY_FAMILY_NAMES, policyFamily, type PolicyFamily } from '../engine/families.js';
import { loadToyNet, saveToyNet } from '../models/io-node.js';
import { slicedWasserstein1 } from '../metrics/swd.js';
import { modeCoverage, precision } from '../metrics/modes.js';
import {
  datasetSource, DEFAULT_DISTILL, Distiller, policyConfigOf, sampleStudent, sampleTeacher, StudentPolicyConfig,
  StudentSampleOptions, TeacherTrainer, validateStudentPolicyConfig,
} from '../runtime/toy.js';
import { OptSpecs, parseArgs, ParsedOpts, SEED_MAX, UsageError } from './args.js';
import { checkOutDir, checkOutFile, readConfigJson, writeOutFile } from './output.js';
import { checkMemory, mlpForwardBytes, mlpTrainBytes, samplesBytes, toyOutDim } from './limits.js';
import { Progress } from './progress.js';
import { isImageNetDir } from '../models/image-io-node.js';

/** The value of `--name V` / `--name=V` in argv (before parsing), to route MNIST runs to cli/mnist.ts. */
function rawOption(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return undefined;
}

async function mnist() {
  return import('./mnist.js');
}

const BACKEND = { type: 'string', default: 'wasm', choices: ['wasm', 'cpu', 'webgpu'], help: 'tfjs backend (webgpu: Dawn, the optional webgpu package)' } as const;
const SEED = { type: 'int', default: 0, min: 0, max: SEED_MAX, help: 'random seed (0 … 2^32 − 1)' } as const;
/** Static ceilings of the counts (the memory bound in limits.ts is usually the tighter one). */
const BIG = 1_000_000_000;

/** Runs a training loop, saving every `saveEvery` steps and at the end; a NaN stops it, the last save intact. */
export async function trainLoop(
  label: string,
  steps: number,
  saveEvery: number,
  step: () => Promise<{ loss: number }>,
  save: (done: number) => Promise<void>,
): Promise<number> {
  const progress = new Progress(label, steps);
  let lastLoss = NaN;
  for (let i = 1; i <= steps; i++) {
    try {
      lastLoss = (await step()).loss;
    } catch (e) {
      if (e instanceof NonFiniteLossError) {
        process.stderr.write('\n');
        throw new Error(`${e.message}. The last saved model (if any) is left as it was.`);
      }
      throw e;
    }
    progress.update(i, lastLoss);
    if ((saveEvery > 0 && i % saveEvery === 0) || i === steps) await save(i);
  }
  return progress.elapsed();
}

export const TRAIN_TEACHER_OPTS: OptSpecs = {
  dataset: { type: 'string', choices: DATASETS_2D, help: '2D dataset' },
  steps: { type: 'int', min: 1, max: BIG, help: 'training steps' },
  batch: { type: 'int', default: 2048, min: 1, max: 10_000_000, help: 'batch size' },
  lr: { type: 'number', default: 1e-3, gt: 0, help: 'Adam learning rate' },
  width: { type: 'int', default: 256, min: 1, max: 65536, help: 'MLP width' },
  depth: { type: 'int', default: 4, min: 1, max: 256, help: 'MLP hidden layers' },
  seed: SEED,
  out: { type: 'string', help: 'output directory (model.json, weights.bin, config.json): new, empty, or a teacher made by piflow' },
  'save-every': { type: 'int', default: 500, min: 0, max: BIG, help: 'checkpoint every N steps (0: only at the end)' },
  backend: BACKEND,
};

export async function trainTeacherCommand(argv: string[]): Promise<number> {
  if (rawOption(argv, 'dataset') === 'mnist') return (await mnist()).trainTeacherMnistCommand(argv);
  const { opts: o } = parseArgs(argv, TRAIN_TEACHER_OPTS);
  checkMemory(o, TRAIN_TEACHER_OPTS, ['batch', 'width', 'depth'], (v) => mlpTrainBytes(Number(v.batch), Number(v.width), Number(v.depth), 2), String(o.backend));
  const out = await checkOutDir(String(o.out), 'teacher');
  const backend = await initNodeBackend(String(o.backend));
  const seed = Number(o.seed);
  const rng = new Rng(seed);
  const net = createToyNet({ kind: 'teacher', width: Number(o.width), depth: Number(o.depth) }, rng.fork());
  const trainer = new TeacherTrainer(net, datasetSource(String(o.dataset)), Number(o.batch), { lr: Number(o.lr) }, rng.nextU32());
  const meta = {
    dataset: o.dataset, steps: o.steps, batch: o.batch, lr: o.lr, seed, backend,
    command: `piflow train-teacher ${argv.join(' ')}`,
  };
  const secs = await trainLoop('teacher', Number(o.steps), Number(o['save-every']), () => trainer.step(), (done) =>
    saveToyNet(net, out, { ...meta, stepsDone: done }),
  );
  console.log(JSON.stringify({ out, steps: o.steps, seconds: +secs.toFixed(1), backend }));
  trainer.dispose();
  net.dispose();
  return 0;
}

/** `--policy`: the registered families. */
export const POLICY_OPTION = {
  type: 'string', default: 'gmflow', choices: POLICY_FAMILY_NAMES,
  help: `policy family: ${POLICY_FAMILY_NAMES.map((f) => `${f} (${POLICY_FAMILIES[f].label})`).join(', ')}`,
} as const;

/** `--window`: −1 means the family's default. */
export const WINDOW_OPTION = {
  type: 'int', default: -1, min: -1, max: 100_000,
  help: `window substeps (default: ${POLICY_FAMILY_NAMES.map((f) => `${POLICY_FAMILIES[f].defaults.windowSubsteps} for ${f}`).join(', ')})`,
} as const;

/** A family's size option (`--k`, `--n`) with its registry range and label. */
export function sizeOption(family: PolicyFamily, def: number) {
  const size = POLICY_FAMILIES[family].size!;
  return { type: 'int', default: def, min: size.min, max: size.max, help: size.label } as const;
}

/** The π-ID window: `--window` when set, else the family's default. */
export function windowOf(o: ParsedOpts, policy: PolicyFamily): number {
  return Number(o.window) >= 0 ? Number(o.window) : POLICY_FAMILIES[policy].defaults.windowSubsteps;
}

/** The size a family's student gets from `--k`/`--n` (1 for a family without one). */
export function sizeOf(o: ParsedOpts, policy: PolicyFamily): number {
  const size = POLICY_FAMILIES[policy].size;
  return size ? Number(o[size.key]) : 1;
}

export const DISTILL_OPTS: OptSpecs = {
  teacher: { type: 'string', help: 'teacher model directory' },
  policy: POLICY_OPTION,
  k: sizeOption('gmflow', 32),
  n: sizeOption('dx', 10),
  'dx-mode': { type: 'string', default: 'grid', choices: POLICY_FAMILIES.dx.modes!, help: 'DX interpolation' },
  nfe: { type: 'int', default: 2, min: 1, max: 1000, help: 'student steps (network evaluations)' },
  iters: { type: 'int', min: 1, max: BIG, help: 'π-ID iterations' },
  batch: { type: 'int', default: 2048, min: 1, max: 10_000_000, help: 'batch size' },
  lr: { type: 'number', default: 1e-4, gt: 0, help: 'Adam learning rate' },
  beta2: { type: 'number', default: 0.999, min: 0, max: 0.999999, help: 'Adam beta2' },
  warmup: { type: 'int', default: 0, min: 0, max: BIG, help: 'learning-rate warm-up steps' },
  clip: { type: 'number', default: 0, min: 0, help: 'gradient-norm clip (0: none)' },
  substeps: { type: 'int', default: 128, min: 1, max: 100_000, help: 'total rollout substeps' },
  intermediate: { type: 'int', default: 2, min: 1, max: 1000, help: 'intermediate states per segment' },
  'decay-iters': { type: 'int', default: 0, min: 0, max: BIG, help: 'teacher-ratio decay iterations (0: off)' },
  window: WINDOW_OPTION,
  'gm-dropout': { type: 'number', default: 0, min: 0, max: 0.999, help: 'GM dropout probability' },
  'final-step-scale': { type: 'number', default: 1, gt: 0, max: 1, help: 'final step size scale' },
  shift: { type: 'number', default: 1, gt: 0, help: 'time shift' },
  'data-free': { type: 'flag', help: 'data-free π-ID (segments rolled out from noise)' },
  dataset: { type: 'string', optional: true, choices: DATASETS_2D, help: "data (default: the teacher's)" },
  seed: SEED,
  out: { type: 'string', help: 'output directory: new, empty, or a student made by piflow (never the teacher)' },
  'save-every': { type: 'int', default: 250, min: 0, max: BIG, help: 'checkpoint every N iterations (0: only at the end)' },
  backend: BACKEND,
};

export async function distillCommand(argv: string[]): Promise<number> {
  const teacherDir = rawOption(argv, 'teacher');
  if (rawOption(argv, 'dataset') === 'mnist' || (teacherDir !== undefined && (await isImageNetDir(teacherDir)))) {
    return (await mnist()).distillMnistCommand(argv);
  }
  const { opts: o } = parseArgs(argv, DISTILL_OPTS);
  // the teacher's width and depth for the memory estimate (config.json only; the load checks it all)
  const tcfg = (await readConfigJson(String(o.teacher)))?.config ?? {};
  const tw = Number.isInteger(tcfg.width) ? Number(tcfg.width) : 256;
  const td = Number.isInteger(tcfg.depth) ? Number(tcfg.depth) : 4;
  checkMemory(o, DISTILL_OPTS, ['batch', 'k', 'n', 'intermediate'], (v) => {
    const B = Number(v.batch);
    const policy = policyFamily(v.policy).name;
    const per = sizeOf(v, policy);
    return mlpTrainBytes(B, tw, td, toyOutDim(policy, per)) + mlpForwardBytes(B, tw, td, 2) +
      4 * B * Number(v.intermediate) * per * 2 * 16;
  }, String(o.backend));
  const out = await checkOutDir(String(o.out), 'student', [String(o.teacher)]);
  const backend = await initNodeBackend(String(o.backend));
  const teacher = await loadToyNet(String(o.teacher), 'teacher');
  const dataset = String(o.dataset ?? teacher.meta.dataset ?? '');
  if (!(DATASETS_2D as readonly string[]).includes(dataset)) {
    throw new UsageError(`--dataset: the teacher's config names no known dataset ('${dataset}'); pass --dataset`);
  }
  const policy = policyFamily(o.policy).name;
  const window = windowOf(o, policy);
  const cfg = {
    ...DEFAULT_DISTILL,
    policy, k: Number(o.k), n: Number(o.n), dxMode: String(o['dx-mode']) as 'grid' | 'polynomial',
    nfe: Number(o.nfe), batch: Number(o.batch), seed: Number(o.seed),
    adam: { lr: Number(o.lr), beta2: Number(o.beta2), warmupSteps: Number(o.warmup), clipNorm: Number(o.clip) },
    totalSubsteps: Number(o.substeps), numIntermediateStates: Number(o.intermediate), numDecayIters: Number(o['decay-iters']),
    windowSubsteps: window, gmDropout: policyFamily(policy).gmDropout ? Number(o['gm-dropout']) : 0, finalStepSizeScale: Number(o['final-step-scale']),
    shift: Number(o.shift), dataFree: Boolean(o['data-free']),
  };
  let distiller: Distiller;
  try {
    distiller = new Distiller(teacher, datasetSource(dataset), cfg);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const meta = {
    dataset, teacher: String(o.teacher), backend, piid: cfg, policy: policyConfigOf(cfg),
    command: `piflow distill ${argv.join(' ')}`,
  };
  const secs = await trainLoop(`π-ID ${policy}`, Number(o.iters), Number(o['save-every']), () => distiller.step(), (done) =>
    saveToyNet(distiller.student, out, { ...meta, itersDone: done }),
  );
  console.log(JSON.stringify({ out, iters: o.iters, seconds: +secs.toFixed(1), backend }));
  distiller.dispose();
  distiller.student.dispose();
  teacher.dispose();
  return 0;
}

/** Students of families with a temperature (GMFlow) only; T ≥ 1 would leave the policy unchanged (as in the authors' code), so 1 is the ceiling and means none. */
export const TEMPERATURE = { type: 'number', default: 1, gt: 0, max: 1, help: 'GMFlow student temperature in (0, 1] for all steps but the last (1: none)' } as const;

export const SAMPLE_OPTS: OptSpecs = {
  model: { type: 'string', help: 'model directory (teacher or student)' },
  count: { type: 'int', min: 1, max: 100_000_000, help: 'number of samples' },
  nfe: { type: 'int', optional: true, min: 1, max: 1000, help: 'student: network evaluations (default: as distilled)' },
  steps: { type: 'int', optional: true, min: 1, max: 100_000, help: 'teacher: Euler steps' },
  temperature: TEMPERATURE,
  substeps: { type: 'int', optional: true, min: 1, max: 100_000, help: 'student: total rollout substeps (default: as distilled)' },
  h: { type: 'number', default: 0, min: 0, help: 'FlowMap-SDE h (0: deterministic)' },
  seed: SEED,
  out: { type: 'string', help: "output CSV file (x,y): new or a regular file (replaced atomically); '-' for stdout; a device such as /dev/null" },
  backend: BACKEND,
};

/** A student's policy config from its config.json meta (validated; the error names the file). */
export function studentPolicyOf(meta: Record<string, unknown>, dir: string): StudentPolicyConfig {
  const policy = meta.policy as StudentPolicyConfig;
  try {
    validateStudentPolicyConfig(policy);
  } catch (e) {
    throw new Error(`${path.join(dir, 'config.json')}: meta.policy is not a valid student policy config (${(e as Error).message})`);
  }
  return policy;
}

/**
 * Samples from a teacher (`--steps` Euler steps) or a student (`--nfe`, temperature, substeps, h),
 * refusing the other kind's option; shared by the 2D and MNIST commands.
 */
export function drawWith<N>(
  m: { net: N; policy?: StudentPolicyConfig },
  o: ParsedOpts,
  count: number,
  seed: number,
  samplers: {
    teacher: (net: N, count: number, steps: number, seed: number) => Promise<Float32Array>;
    student: (net: N, p: StudentPolicyConfig, count: number, seed: number, opts: StudentSampleOptions) => Promise<Float32Array>;
  },
): Promise<Float32Array> {
  const temperature = Number(o.temperature ?? 1);
  if (temperature !== 1 && !(m.policy && policyFamily(m.policy.policy).temperature)) {
    const withTemperature = POLICY_FAMILY_NAMES.filter((f) => POLICY_FAMILIES[f].temperature).map((f) => POLICY_FAMILIES[f].title).join(' or ');
    throw new UsageError(`--temperature ${temperature}: only a ${withTemperature} student has a temperature; this model is ${m.policy ? `a ${policyFamily(m.policy.policy).title} student` : 'a teacher'}`);
  }
  if (!m.policy) {
    if (o.nfe !== undefined) throw new UsageError('--nfe is for students; a teacher samples with --steps');
    if (o.steps === undefined) throw new UsageError('a teacher needs --steps (Euler steps)');
    return samplers.teacher(m.net, count, Number(o.steps), seed);
  }
  if (o.steps !== undefined) throw new UsageError('--steps is for teachers; a student samples with --nfe');
  return samplers.student(m.net, m.policy, count, seed, {
    nfe: o.nfe === undefined ? undefined : Number(o.nfe),
    temperature: Number(o.temperature),
    totalSubsteps: o.substeps === undefined ? undefined : Number(o.substeps),
    h: Number(o.h),
  });
}

interface LoadedModel {
  net: ToyNet & { meta: Record<string, unknown> };
  policy?: StudentPolicyConfig;
}

async function loadModel(dir: string): Promise<LoadedModel> {
  const net = await loadToyNet(dir);
  return net.cfg.kind === 'teacher' ? { net } : { net, policy: studentPolicyOf(net.meta, dir) };
}

function drawSamples(m: LoadedModel, o: ParsedOpts, count: number, seed: number): Promise<Float32Array> {
  return drawWith(m, o, count, seed, { teacher: sampleTeacher, student: sampleStudent });
}

export async function sampleCommand(argv: string[]): Promise<number> {
  const modelDir = rawOption(argv, 'model');
  if (rawOption(argv, 'dataset') === 'mnist' || (modelDir !== undefined && (await isImageNetDir(modelDir)))) {
    return (await mnist()).sampleMnistCommand(argv);
  }
  const { opts: o } = parseArgs(argv, SAMPLE_OPTS);
  checkMemory(o, SAMPLE_OPTS, ['count'], (v) => samplesBytes(Number(v.count), 2, 36), String(o.backend));
  const out = String(o.out);
  const dest = await checkOutFile(out, { inputs: [String(o.model)], allowStdout: true, allowDevice: true });
  await initNodeBackend(String(o.backend));
  const m = await loadModel(String(o.model));
  const samples = await drawSamples(m, o, Number(o.count), Number(o.seed));
  if (!samples.every(Number.isFinite)) throw new Error(`${o.model}: sampling produced non-finite values; nothing was written`);
  await writeOutFile(dest, toCsv2d(samples));
  const summary = JSON.stringify({ out, count: o.count });
  if (dest.kind === 'stdout') console.error(summary);
  else console.log(summary);
  m.net.dispose();
  return 0;
}

export const EVALUATE_OPTS: OptSpecs = {
  ...Object.fromEntries(Object.entries(SAMPLE_OPTS).filter(([k]) => k !== 'out' && k !== 'count')),
  count: { type: 'int', default: 20000, min: 2, max: 100_000_000, help: 'samples (and fresh data points)' },
  projections: { type: 'int', default: 256, min: 1, max: 1_000_000, help: 'sliced-Wasserstein projections' },
  dataset: { type: 'string', optional: true, choices: DATASETS_2D, help: "reference data (default: the model's)" },
};

/** `piflow evaluate`: sliced W1 of a model's samples to fresh data, precision and mode coverage, as JSON. */
export async function evaluateCommand(argv: string[]): Promise<number> {
  const modelDir = rawOption(argv, 'model');
  if (rawOption(argv, 'dataset') === 'mnist' || (modelDir !== undefined && (await isImageNetDir(modelDir)))) {
    return (await mnist()).evaluateMnistCommand(argv);
  }
  const { opts: o } = parseArgs(argv, EVALUATE_OPTS);
  // samples and data (float32) and the projections and sort buffers (float64)
  checkMemory(o, EVALUATE_OPTS, ['count'], (v) => Number(v.count) * 64, String(o.backend));
  const backend = await initNodeBackend(String(o.backend));
  const m = await loadModel(String(o.model));
  const dataset = String(o.dataset ?? m.net.meta.dataset ?? '');
  if (!(DATASETS_2D as readonly string[]).includes(dataset)) throw new UsageError(`--dataset: unknown '${dataset}'`);
  const count = Number(o.count);
  const seed = Number(o.seed);
  const t0 = performance.now();
  const samples = await drawSamples(m, o, count, seed);
  const sampleSecs = (performance.now() - t0) / 1000;
  if (!samples.every(Number.isFinite)) throw new Error(`${o.model}: the model's samples hold non-finite values; no score for a broken model`);
  const rng = new Rng(seed + 1_000_003);
  const data = sample2d(dataset, count, rng);
  const swd = slicedWasserstein1(samples, data, 2, Number(o.projections), rng);
  const kind = m.policy ? `student ${m.policy.policy} nfe ${o.nfe ?? m.policy.nfe}` : `teacher euler ${o.steps}`;
  // precision and mode coverage against the dataset's descriptor (datasets/), as in src/metrics/modes.ts
  const cov = modeCoverage(samples, dataset);
  const coverage = {
    covered: cov.modesCovered, modes: cov.modes, entropy: +cov.entropy.toFixed(4), targetEntropy: +cov.targetEntropy.toFixed(4),
    share: cov.share.map((v) => +v.toFixed(4)), uncovered: cov.labels.filter((_, k) => !cov.covered[k]),
  };
  console.log(JSON.stringify({
    model: o.model, kind, dataset, count, swd: +swd.toFixed(5), precision: +precision(samples, dataset).toFixed(4), coverage,
    sampleSeconds: +sampleSecs.toFixed(2), backend,
  }));
  m.net.dispose();
  return 0;
}

