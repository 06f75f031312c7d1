/**
 * The option tables of the model commands, one per command for both layouts (2D points and MNIST
 * images): a table is built for a layout from the small per-layout defaults object below, so the
 * two layouts cannot drift apart. Also the one mapping of parsed `distill` options to the π-ID
 * DistillConfig (and to the 2D baselines' configs), and the rules on which options go with which
 * `--method`. Pure: nothing here trains or touches the file system.
 */
import { DATASETS_2D } from '../data/toy2d.js';
import { POLICY_FAMILIES, policyFamily } from '../engine/families.js';
import { DEFAULT_DISTILL, type DistillConfig } from '../runtime/student.js';
import { DEFAULT_IMAGE_DISTILL } from '../runtime/mnist.js';
import { DEFAULT_DMD, DEFAULT_SHORTCUT, validateDmd, validateShortcut, type DmdConfig, type ShortcutConfig } from '../runtime/baselines.js';
import { OptSpecs, ParsedOpts, UsageError } from './args.js';
import { BACKEND, BIG, Layout, POLICY_OPTION, SEED, sizeOption, TEMPERATURE, WINDOW_OPTION, windowOf } from './common.js';
import { BASELINE_METHODS, Method, METHOD_TITLES, METHODS, type BaselineMethod } from '../models/methods.js';

/** The shipped classifier `evaluate` reads by default (train-classifier never writes there unless told to). */
export const DEFAULT_CLASSIFIER_DIR = 'static/classifier';

/** What differs between the layouts: defaults and ceilings only (the options are the same). */
export const LAYOUT_DEFAULTS = {
  points: {
    datasets: DATASETS_2D as readonly string[],
    base: DEFAULT_DISTILL,
    teacher: { batch: 2048, batchMax: 10_000_000, saveEvery: 500 },
    distill: {
      k: DEFAULT_DISTILL.k, n: DEFAULT_DISTILL.n, batch: DEFAULT_DISTILL.batch, batchMax: 10_000_000, lr: DEFAULT_DISTILL.adam.lr,
      beta1: 0.9, beta2: 0.999, warmup: 0, gmDropout: 0, saveEvery: 250,
    },
    sample: { countMax: 100_000_000 },
    evaluate: { count: 20000 },
  },
  images: {
    datasets: ['mnist'] as readonly string[],
    base: DEFAULT_IMAGE_DISTILL,
    teacher: { batch: 128, batchMax: 1_000_000, saveEvery: 250 },
    distill: {
      k: DEFAULT_IMAGE_DISTILL.k, n: DEFAULT_IMAGE_DISTILL.n, batch: DEFAULT_IMAGE_DISTILL.batch, batchMax: 1_000_000,
      lr: DEFAULT_IMAGE_DISTILL.adam.lr, beta1: DEFAULT_IMAGE_DISTILL.adam.beta1 ?? 0.9, beta2: DEFAULT_IMAGE_DISTILL.adam.beta2 ?? 0.95,
      warmup: DEFAULT_IMAGE_DISTILL.adam.warmupSteps ?? 100, gmDropout: DEFAULT_IMAGE_DISTILL.gmDropout, saveEvery: 100,
    },
    sample: { countMax: 10_000_000 },
    evaluate: { count: 10000 },
  },
} as const;

/** `piflow train-teacher` */
export function trainTeacherOpts(layout: Layout): OptSpecs {
  const d = LAYOUT_DEFAULTS[layout];
  const points = layout === 'points';
  return {
    dataset: { type: 'string', choices: d.datasets, help: points ? '2D dataset' : 'dataset' },
    steps: { type: 'int', min: 1, max: BIG, help: 'training steps' },
    batch: { type: 'int', default: d.teacher.batch, min: 1, max: d.teacher.batchMax, help: 'batch size' },
    lr: { type: 'number', default: 1e-3, gt: 0, help: 'Adam learning rate' },
    ...(points
      ? {
        width: { type: 'int', default: 256, min: 1, max: 65536, help: 'MLP width' },
        depth: { type: 'int', default: 4, min: 1, max: 256, help: 'MLP hidden layers' },
      } as OptSpecs
      : {
        warmup: { type: 'int', default: 200, min: 0, max: BIG, help: 'learning-rate warm-up steps' },
        clip: { type: 'number', default: 1, min: 0, help: 'gradient-norm clip (0: none)' },
        ema: { type: 'number', default: 0.999, min: 0, max: 0.999999, help: 'EMA decay of the saved weights (0: off)' },
        size: { type: 'string', default: 'full', choices: ['full', 'small', 'tiny'], help: 'U-Net size (full: 677,540 parameters, small: 173,396, tiny: for tests)' },
      } as OptSpecs),
    seed: SEED,
    out: { type: 'string', help: points ? 'output directory (model.json, weights.bin, config.json): new, empty, or a teacher made by piflow' : 'output directory: new, empty, or a teacher made by piflow' },
    'save-every': { type: 'int', default: d.teacher.saveEvery, min: 0, max: BIG, help: 'checkpoint every N steps (0: only at the end)' },
    backend: BACKEND,
  };
}

/** `distill` options of π-ID only (refused with another --method). */
export const PIID_ONLY = ['policy', 'k', 'n', 'dx-mode', 'substeps', 'intermediate', 'decay-iters', 'window', 'gm-dropout', 'final-step-scale', 'shift', 'data-free'] as const;
/** `distill` options of one baseline only. */
export const METHOD_ONLY: Record<Exclude<Method, 'piflow'>, readonly string[]> = {
  shortcut: ['pool', 'teacher-steps'],
  dmd: ['fake-updates', 'sigma-min', 'sigma-max', 'fake-lr'],
};

/** `piflow distill` */
export function distillOpts(layout: Layout): OptSpecs {
  const d = LAYOUT_DEFAULTS[layout].distill;
  const points = layout === 'points';
  return {
    teacher: { type: 'string', help: points ? 'teacher model directory' : 'image teacher directory' },
    method: {
      type: 'string', default: 'piflow', choices: METHODS,
      help: `distillation method: ${METHODS.map((m) => `${m} (${METHOD_TITLES[m]})`).join(', ')}`,
    },
    policy: POLICY_OPTION,
    k: points ? sizeOption('gmflow', d.k) : { ...sizeOption('gmflow', d.k), help: `${POLICY_FAMILIES.gmflow.size!.label} per pixel` },
    n: sizeOption('dx', d.n),
    'dx-mode': { type: 'string', default: 'grid', choices: POLICY_FAMILIES.dx.modes!, help: 'DX interpolation' },
    nfe: { type: 'int', default: 2, min: 1, max: 1000, help: 'student steps (network evaluations; dmd: 1, its default)' },
    iters: { type: 'int', min: 1, max: BIG, help: 'iterations (π-ID, or the baseline\'s)' },
    batch: { type: 'int', default: d.batch, min: 1, max: d.batchMax, help: 'batch size' },
    lr: { type: 'number', default: d.lr, gt: 0, help: 'Adam learning rate (dmd: the generator\'s)' },
    beta1: { type: 'number', default: d.beta1, min: 0, max: 0.999999, help: 'Adam beta1' },
    beta2: { type: 'number', default: d.beta2, min: 0, max: 0.999999, help: 'Adam beta2' },
    warmup: { type: 'int', default: d.warmup, min: 0, max: BIG, help: 'learning-rate warm-up steps' },
    clip: { type: 'number', default: 0, min: 0, help: 'gradient-norm clip (0: none)' },
    substeps: { type: 'int', default: 128, min: 1, max: 100_000, help: 'total rollout substeps' },
    intermediate: { type: 'int', default: 2, min: 1, max: 1000, help: 'intermediate states per segment' },
    'decay-iters': { type: 'int', default: 0, min: 0, max: BIG, help: 'teacher-ratio decay iterations (0: off)' },
    window: WINDOW_OPTION,
    'gm-dropout': { type: 'number', default: d.gmDropout, min: 0, max: 0.999, help: 'GM dropout probability (families with GM dropout only; 0 for the others)' },
    'final-step-scale': { type: 'number', default: 1, gt: 0, max: 1, help: 'final step size scale' },
    shift: { type: 'number', default: 1, gt: 0, help: 'time shift' },
    'data-free': { type: 'flag', help: points ? 'data-free π-ID (segments rolled out from noise)' : 'data-free π-ID' },
    pool: { type: 'int', default: DEFAULT_SHORTCUT.pool, min: 1, max: 100_000_000, help: 'shortcut: teacher trajectories in the pool' },
    'teacher-steps': { type: 'int', default: DEFAULT_SHORTCUT.teacherSteps, min: 1, max: 100_000, help: 'shortcut: teacher Euler steps of the target ODE' },
    'fake-updates': { type: 'int', default: DEFAULT_DMD.fakeUpdates, min: 1, max: 1000, help: 'dmd: fake-network updates per generator update' },
    'sigma-min': { type: 'number', default: DEFAULT_DMD.sigmaMin, min: 0, max: 1, help: 'dmd: smallest noise level of the matching loss' },
    'sigma-max': { type: 'number', default: DEFAULT_DMD.sigmaMax, min: 0, max: 1, help: 'dmd: largest noise level of the matching loss' },
    'fake-lr': { type: 'number', default: DEFAULT_DMD.fakeAdam.lr, gt: 0, help: 'dmd: Adam learning rate of the fake flow network' },
    dataset: points
      ? { type: 'string', optional: true, choices: DATASETS_2D, help: "data (default: the teacher's)" }
      : { type: 'string', optional: true, choices: ['mnist'], help: 'data (mnist)' },
    seed: SEED,
    out: { type: 'string', help: 'output directory: new, empty, or a student made by piflow (never the teacher)' },
    'save-every': { type: 'int', default: d.saveEvery, min: 0, max: BIG, help: 'checkpoint every N iterations (0: only at the end)' },
    resume: { type: 'string', optional: true, help: 'continue the run saved in this student folder exactly (its train-state); --iters is the total; the other options must match its run' },
    backend: BACKEND,
  };
}

/**
 * Which options go with `--method` (checked before any work): the policy options are π-ID's, each
 * baseline's options its own, and DMD is one NFE — the same rules on both layouts.
 */
export function checkMethodOptions(o: ParsedOpts, given: Set<string>, _layout: Layout): Method {
  const method = String(o.method) as Method;
  const foreign = [
    ...(method === 'piflow' ? [] : PIID_ONLY.map((n) => [n, 'π-ID (--method piflow)'] as const)),
    ...BASELINE_METHODS.filter((m) => m !== method).flatMap((m) => METHOD_ONLY[m].map((n) => [n, `--method ${m}`] as const)),
  ].filter(([n]) => given.has(n));
  if (foreign.length) {
    const [name, owner] = foreign[0];
    throw new UsageError(`--${name} is an option of ${owner}, not of --method ${method}`);
  }
  if (method === 'dmd' && given.has('nfe') && Number(o.nfe) !== 1) {
    throw new UsageError(`--nfe ${o.nfe}: a DMD generator is one step (1 NFE); drop --nfe or pass --nfe 1`);
  }
  return method;
}

/** The π-ID DistillConfig of parsed `distill` options, for either layout (the registry supplies the window default and says whether GM dropout applies). */
export function distillConfigOf(o: ParsedOpts, layout: Layout): DistillConfig {
  const policy = policyFamily(o.policy).name;
  return {
    ...LAYOUT_DEFAULTS[layout].base,
    policy, k: Number(o.k), n: Number(o.n), dxMode: String(o['dx-mode']) as 'grid' | 'polynomial',
    nfe: Number(o.nfe), batch: Number(o.batch), seed: Number(o.seed),
    adam: { lr: Number(o.lr), beta1: Number(o.beta1), beta2: Number(o.beta2), warmupSteps: Number(o.warmup), clipNorm: Number(o.clip) },
    totalSubsteps: Number(o.substeps), numIntermediateStates: Number(o.intermediate), numDecayIters: Number(o['decay-iters']),
    windowSubsteps: windowOf(o, policy),
    gmDropout: policyFamily(policy).gmDropout ? Number(o['gm-dropout']) : 0,
    finalStepSizeScale: Number(o['final-step-scale']),
    shift: Number(o.shift), dataFree: Boolean(o['data-free']),
  };
}

function adamOf(o: ParsedOpts, lr: number) {
  return { lr, beta1: Number(o.beta1), beta2: Number(o.beta2), warmupSteps: Number(o.warmup), clipNorm: Number(o.clip) };
}

/** The shortcut baseline's config of parsed `distill --method shortcut` options. */
export function shortcutConfigOf(o: ParsedOpts): ShortcutConfig {
  return { nfe: Number(o.nfe), teacherSteps: Number(o['teacher-steps']), pool: Number(o.pool), batch: Number(o.batch), seed: Number(o.seed), adam: adamOf(o, Number(o.lr)) };
}

/** The DMD baseline's config of parsed `distill --method dmd` options (the fake network shares the betas, warm-up and clip). */
export function dmdConfigOf(o: ParsedOpts): DmdConfig {
  return {
    batch: Number(o.batch), fakeUpdates: Number(o['fake-updates']), sigmaMin: Number(o['sigma-min']), sigmaMax: Number(o['sigma-max']),
    seed: Number(o.seed), generatorAdam: adamOf(o, Number(o.lr)), fakeAdam: adamOf(o, Number(o['fake-lr'])),
  };
}

/** A baseline's config checked before any work (its errors are usage errors naming the option); both layouts. */
export function baselineConfigOf(method: BaselineMethod, o: ParsedOpts) {
  try {
    if (method === 'shortcut') {
      const c = shortcutConfigOf(o);
      validateShortcut(c);
      return { method, cfg: c, nfe: c.nfe } as const;
    }
    const c = dmdConfigOf(o);
    validateDmd(c);
    return { method, cfg: c, nfe: 1 } as const;
  } catch (e) {
    const msg = (e as Error).message;
    const option = /^nfe/.test(msg) ? '--nfe' : /σ|sigma/.test(msg) ? '--sigma-min/--sigma-max' : `--method ${method}`;
    throw new UsageError(`${option}: ${msg}`);
  }
}

/** `piflow sample` */
export function sampleOpts(layout: Layout): OptSpecs {
  const points = layout === 'points';
  const count = { type: 'int', min: 1, max: LAYOUT_DEFAULTS[layout].sample.countMax, help: 'number of samples' } as const;
  return {
    model: { type: 'string', help: points ? 'model directory (teacher or student)' : 'image model directory (teacher or student)' },
    ...(points ? { count } : {}),
    nfe: { type: 'int', optional: true, min: 1, max: 1000, help: 'student: network evaluations (default: as distilled)' },
    steps: { type: 'int', optional: true, min: 1, max: 100_000, help: 'teacher: Euler steps' },
    temperature: TEMPERATURE,
    substeps: { type: 'int', optional: true, min: 1, max: 100_000, help: points ? 'student: total rollout substeps (default: as distilled)' : 'student: total rollout substeps' },
    h: { type: 'number', default: 0, min: 0, help: 'FlowMap-SDE h (0: deterministic)' },
    seed: SEED,
    ...(points
      ? { out: { type: 'string', help: "output CSV file (x,y): new or a regular file (replaced atomically); '-' for stdout; a device such as /dev/null" } }
      : {}),
    backend: BACKEND,
    ...(points
      ? {}
      : {
        dataset: { type: 'string', optional: true, choices: ['mnist'], help: 'mnist (implied by an image model)' },
        count,
        cols: { type: 'int', optional: true, min: 1, max: 100_000, help: 'grid columns (default ⌈√count⌉)' },
        out: { type: 'string', help: 'output PNG grid (new or a regular file, replaced atomically); the samples also go to OUT.f32 (float32 [count,1,28,28], little-endian) + OUT.f32.json' },
      }),
  } as OptSpecs;
}

/** `piflow evaluate` */
export function evaluateOpts(layout: Layout): OptSpecs {
  const { out: _out, count: _count, dataset: _dataset, cols: _cols, ...common } = sampleOpts(layout);
  const count = LAYOUT_DEFAULTS[layout].evaluate.count;
  return layout === 'points'
    ? {
      ...common,
      count: { type: 'int', default: count, min: 2, max: 100_000_000, help: 'samples (and fresh data points)' },
      projections: { type: 'int', default: 256, min: 1, max: 1_000_000, help: 'sliced-Wasserstein projections' },
      dataset: { type: 'string', optional: true, choices: DATASETS_2D, help: "reference data (default: the model's)" },
    }
    : {
      ...common,
      count: { type: 'int', default: count, min: 2, max: 10_000_000, help: 'samples (Fréchet distance against the 10,000 test images)' },
      classifier: { type: 'string', default: DEFAULT_CLASSIFIER_DIR, help: 'classifier directory (piflow train-classifier)' },
      dataset: { type: 'string', optional: true, choices: ['mnist'], help: 'reference data (mnist)' },
      'fidelity-steps': {
        type: 'int', default: 32, min: 0, max: 10_000,
        help: "a student's fidelity: Euler steps of its teacher's (meta.teacher) reference samples from the same noise (0: no fidelity)",
      },
    };
}
