/**
 * The notebooks' URL-state schemas, pure data (no DOM; unit-tested in Node): every control's range,
 * default, label, test id and help text written once. The pages build their controls from them
 * (src/viz/schema-controls.ts) and read and write the address with them (src/runtime/url-state.ts).
 * Also the one resolver from the student's settings to the π-ID configuration (`distillConfigOf`),
 * shared by the 2D, explorer and MNIST notebooks.
 */
import { bool, int, num, numList, oneOf } from '../src/runtime/url-state.js';
import { DATASETS_2D } from '../src/data/toy2d.js';
import { DATASETS } from '../datasets/index.js';
import { POLICY_FAMILIES, POLICY_FAMILY_NAMES, policyFamily, windowDefaultsText, windowSubstepsFor, type PolicyFamily } from '../src/engine/families.js';
import type { DistillConfig } from '../src/runtime/student.js';
import type { DXMode } from '../src/engine/dx.js';
import type { SweepAxes } from '../src/viz/charts.js';

/** The registry's 2D datasets for a data select: [name, name, description as the option's tooltip]. */
export const DATASET_OPTIONS = DATASETS.map((d) => [d.name, d.name, d.description] as const);

/** The 2D data select (the π-Flow notebook and the explorer). */
export const datasetProp = () =>
  oneOf(DATASETS_2D, 'checkerboard', 'data', {
    label: 'Data',
    testid: 'dataset',
    help: 'the 2D data set the shipped teacher was trained on',
    options: Object.fromEntries(DATASET_OPTIONS.map(([name, , about]) => [name, [name, about] as const])),
  });

export interface StudentDefaults {
  k: number;
  kMax: number;
  gmDropout: number;
  lr: number;
  /** the learning-rate slider's lower end */
  lrSliderMin?: number;
  batch: number;
  batchMin: number;
  batchMax: number;
  iters: number;
  nfe?: number;
  window?: number;
}

/** The policy and π-ID settings (the paper's names in the help texts). */
export function studentSchema(d: StudentDefaults) {
  return {
    policy: oneOf(POLICY_FAMILY_NAMES, 'gmflow', 'policy', {
      label: 'Policy',
      help: 'the family of the network-free policy the student outputs, rolled out between its network evaluations',
      options: Object.fromEntries(POLICY_FAMILY_NAMES.map((f) => [f, POLICY_FAMILIES[f].label])),
    }),
    k: int(d.k, { min: 1, max: d.kMax }, 'GMFlow components K', { label: 'K', testid: 'k', help: 'number of Gaussian components of the GMFlow policy' }),
    n: int(10, { min: 1, max: 32 }, 'DX grid points N', { label: 'N', testid: 'n', help: 'number of x̂₀ grid points of the DX policy along σ' }),
    dxMode: oneOf(['grid', 'polynomial'] as const, 'grid', 'DX mode', { label: 'DX mode', testid: 'dx-mode', help: 'how the DX policy interpolates between its N points: piecewise-linear grid or polynomial' }),
    nfe: int(d.nfe ?? 2, { min: 1, max: 8 }, 'NFE', { label: 'NFE', testid: 'nfe', help: 'network function evaluations per sample: the student is distilled for this many steps' }),
    substeps: int(128, { min: 8, max: 512 }, 'total substeps', { label: 'Total substeps', testid: 'substeps', log: true, help: 'total Euler substeps of the policy over the whole time interval' }),
    intermediate: int(2, { min: 1, max: 8 }, 'intermediate states', { label: 'Intermediate states', testid: 'intermediate', help: "states per segment at which the teacher is queried along the policy's own rollout" }),
    decayIters: int(0, { min: 0, max: 100000 }, 'teacher-ratio decay iterations', {
      label: 'Teacher-ratio decay iters', testid: 'decay-iters', control: 'field',
      help: 'iterations over which scheduled trajectory mixing decays the share of teacher-trajectory states from 1 to 0',
    }),
    window: int(d.window ?? -1, { min: -1, max: 16 }, `window substeps (-1: ${windowDefaultsText('title')})`, {
      label: 'Window substeps (−1: auto)', testid: 'window',
      help: `the policy's average velocity over this many substeps is regressed instead of its instantaneous velocity (DX needs 3); −1: the family's default (${windowDefaultsText('title')})`,
    }),
    gmDropout: num(d.gmDropout, { min: 0, max: 0.9 }, 'GM dropout', { label: 'GM dropout', testid: 'gm-dropout', step: 0.01, help: 'probability of dropping each Gaussian component during training (GMFlow)' }),
    lr: num(d.lr, { min: 0, max: 0.1, exclusiveMin: true }, 'learning rate', { label: 'Learning rate', testid: 'student-lr', log: true, sliderMin: d.lrSliderMin ?? 1e-6, help: "Adam step size of the student's network" }),
    batch: int(d.batch, { min: d.batchMin, max: d.batchMax }, 'batch', { label: 'Batch', testid: 'student-batch', log: true, help: 'noise samples per π-ID iteration' }),
    iters: int(d.iters, { min: 1, max: 100000 }, 'iterations', { label: 'Iterations', testid: 'iters', control: 'field', help: 'π-ID iterations of a run' }),
    seed: int(0, { min: 0 }, 'seed', { label: 'Seed', testid: 'seed', control: 'field', help: 'initialisation and noise draws: the same seed and settings reproduce a run' }),
  };
}

/** The GMFlow sampling temperature (2D and MNIST). */
export const temperatureProp = (label: string) =>
  num(1, { min: 0.05, max: 1 }, 'temperature', { label, testid: 'temperature', step: 0.05, help: "GMFlow sampling temperature: scales the spread of the policy's Gaussians (1: as distilled)" });

/**
 * What Distill trains: a fresh copy of the teacher, the student already there (shipped, distilled or
 * loaded) continued with these settings, or that student's own π-ID run resumed where it was (2D and MNIST).
 */
export const distillFromProp = () =>
  oneOf(['teacher', 'student', 'run'] as const, 'teacher', 'π-ID starts from', {
    label: 'Start from', testid: 'distill-from',
    help: 'what Distill trains: a fresh copy of the teacher (the default: the student learns from scratch and the loaded one is replaced); the loaded student itself, continued with these settings (same policy and K or N; a fresh optimizer, iterations from 0); or the student\'s own π-ID run resumed where it was saved or stopped (its saved settings, iteration, optimizer and random stream: exactly the uninterrupted run; a save without its training state resumes from its iteration with a fresh optimizer)',
    options: { teacher: 'the teacher (fresh copy)', student: 'the loaded student (continue it)', run: 'the student\'s run (resume it)' },
  });

/** The π-Flow 2D notebook. */
export const PIFLOW_2D_STUDENT: StudentDefaults = { k: 8, kMax: 64, gmDropout: 0, lr: 5e-4, batch: 512, batchMin: 16, batchMax: 8192, iters: 1000 };
export const piflow2dSchema = {
  dataset: datasetProp(),
  ...studentSchema(PIFLOW_2D_STUDENT),
  distillFrom: distillFromProp(),
  temperature: temperatureProp('Temperature (sampling)'),
};

/** The MNIST notebook. */
export const MNIST_STUDENT: StudentDefaults = { k: 8, kMax: 32, gmDropout: 0.05, lr: 2e-4, batch: 16, batchMin: 1, batchMax: 256, iters: 200 };
export const mnistSchema = {
  size: oneOf(['tiny', 'small', 'full'] as const, 'small', 'U-Net size', { label: 'U-Net', testid: 'size', help: "the teacher's U-Net (the student is a copy of it)", options: { tiny: 'tiny (tests)', small: 'small (173k)', full: 'full (678k)' } }),
  teacherLr: num(1e-3, { min: 0, max: 0.1, exclusiveMin: true }, 'teacher learning rate', { label: 'Learning rate', testid: 'teacher-lr', log: true, sliderMin: 1e-5, help: "Adam step size of the teacher's flow-matching training" }),
  teacherBatch: int(64, { min: 1, max: 512 }, 'teacher batch', { label: 'Batch', testid: 'teacher-batch', log: true, help: 'training images per teacher step' }),
  teacherSteps: int(3500, { min: 1, max: 100000 }, 'teacher steps', { label: 'Steps', testid: 'teacher-steps', control: 'field', help: 'teacher training steps of a run (EMA 0.999 from 2,000 steps)' }),
  ...studentSchema(MNIST_STUDENT),
  dataFree: oneOf(['data', 'data-free'] as const, 'data', 'π-ID data', {
    label: 'π-ID data', testid: 'data-free',
    help: 'where the rollouts start: MNIST images noised to the first σ, or data-free — pure noise only, the teacher alone supplies the targets',
    options: { data: 'MNIST images', 'data-free': 'data-free (noise only)' },
  }),
  distillFrom: distillFromProp(),
  temperature: temperatureProp('Temperature'),
  sampleSeed: int(1, { min: 0 }, 'noise seed', { label: 'Noise seed', testid: 'sample-seed', control: 'field', help: 'the noise every sampler starts from (same noise in every row)' }),
  manySteps: int(32, { min: 8, max: 256 }, 'teacher steps (reference)', { label: 'Teacher steps (reference)', testid: 'many-steps', log: true, help: 'Euler steps of the reference teacher row and line' }),
  qualityCount: int(500, { min: 50, max: 10000 }, 'samples for quality', { label: 'Samples', testid: 'quality-count', log: true, help: 'samples per sampler for the classifier metrics' }),
  image: int(0, { min: 0, max: 7 }, 'image', { label: 'Image', testid: 'image', help: 'which of the 8 paths the x̂₀ strip and the pixel traces follow' }),
};

// ---- π-Flow vs the baselines ---------------------------------------------------------------------

/**
 * The comparison notebook (notebooks/methods-2d.ts): every method gets the same teacher, seed, batch and
 * iteration budget; the ranges are those of the comparison lab (src/runtime/compare-lab.ts, COMPARE_LIMITS).
 */
export const methodsSchema = {
  dataset: datasetProp(),
  nfe: int(1, { min: 1, max: 2 }, 'NFE', { label: 'NFE', testid: 'nfe', help: "the students' network evaluations per sample (π-Flow, constant policy, shortcut); DMD is a one-step generator whatever this is; the teacher's Euler at the same NFE is the reference" }),
  constant: bool(true, 'constant-velocity policy', { label: 'Constant policy too', testid: 'with-constant', help: 'also train the constant-velocity policy by π-ID: an ordinary few-step velocity student, one velocity per segment' }),
  iters: int(300, { min: 1, max: 100000 }, 'iterations', { label: 'Iterations (each)', testid: 'iters', control: 'field', help: 'iterations of every method (one round steps each method once): the same budget for all' }),
  batch: int(256, { min: 16, max: 4096 }, 'batch', { label: 'Batch', testid: 'batch', log: true, help: 'noise samples per iteration, every method' }),
  lr: num(5e-4, { min: 0, max: 0.1, exclusiveMin: true, exclusiveMax: true }, 'learning rate', { label: 'Learning rate', testid: 'lr', log: true, sliderMin: 1e-5, sliderMax: 0.01, help: 'Adam step size of the π-ID students and the shortcut student' }),
  dmdLr: num(1e-4, { min: 0, max: 0.1, exclusiveMin: true, exclusiveMax: true }, 'DMD learning rate', { label: 'DMD learning rate', testid: 'dmd-lr', log: true, sliderMin: 1e-5, sliderMax: 0.01, help: "Adam step size of DMD's generator and its fake flow network (the peer's 1e-4)" }),
  k: int(8, { min: 1, max: 64 }, 'GMFlow components K', { label: 'K (GMFlow)', testid: 'k', help: 'number of Gaussian components of the π-Flow GMFlow policy' }),
  seed: int(0, { min: 0, max: 4294967295 }, 'seed', { label: 'Seed', testid: 'seed', control: 'field', help: "every method's initialisation and noise draws: the same seed and settings reproduce the race" }),
  links: bool(false, 'connect to the teacher', { label: "Connect each sample to the teacher's sample from the same noise", testid: 'links', help: 'a short segment from each of the first 300 samples of a panel to the 128-step teacher sample drawn from the same noise: fidelity made visible' }),
};

// ---- the policy explorer -------------------------------------------------------------------------

/** What can be swept, how it maps onto π-ID settings, and its allowed values. */
/** `axis`: the x axis for the parameter (log₂ ticks for sizes and NFE, so 1, 8, 32 are evenly spread). */
const LOG2_TICKS = [1, 2, 4, 8, 16, 32, 64];
export const PARAMS = {
  k: { label: 'GMFlow components K', integer: true, min: 1, max: 64, sampling: false, policy: 'gmflow', axis: { xTitle: 'GMFlow components K (log₂ scale)', logX: true, xTicks: LOG2_TICKS, xRange: [0.8, 80] } },
  n: { label: 'DX grid points N', integer: true, min: 1, max: 32, sampling: false, policy: 'dx', axis: { xTitle: 'DX grid points N (log₂ scale)', logX: true, xTicks: LOG2_TICKS, xRange: [0.8, 40] } },
  nfe: { label: 'NFE', integer: true, min: 1, max: 8, sampling: false, policy: null, axis: { xTitle: 'NFE the student is distilled for (log₂ scale)', logX: true, xTicks: [1, 2, 4, 8], xRange: [0.8, 10] } },
  sampleNfe: { label: 'sampling NFE (one student, distilled at the base NFE)', integer: true, min: 1, max: 8, sampling: true, policy: null, axis: { xTitle: 'NFE at sampling (log₂ scale; one student)', logX: true, xTicks: [1, 2, 4, 8], xRange: [0.8, 10] } },
  window: { label: 'window substeps', integer: true, min: 0, max: 16, sampling: false, policy: null, axis: { xTitle: 'π-ID window substeps', logX: false, xTicks: [0, 1, 2, 3, 4, 6, 8, 12, 16], xRange: [-0.5, 16.5] } },
  substeps: { label: 'total substeps', integer: true, min: 8, max: 512, sampling: false, policy: null, axis: { xTitle: 'total substeps (log₂ scale)', logX: true, xTicks: [8, 16, 32, 64, 128, 256, 512], xRange: [6, 640] } },
  gmDropout: { label: 'GM dropout', integer: false, min: 0, max: 0.9, sampling: false, policy: 'gmflow', axis: { xTitle: 'GM dropout', logX: false, xRange: [-0.05, 0.95] } },
  temperature: { label: 'temperature (sampling)', integer: false, min: 0.05, max: 1, sampling: true, policy: 'gmflow', axis: { xTitle: 'temperature (sampling)', logX: false, xRange: [0, 1.05] } },
  decayIters: { label: 'teacher-ratio decay iterations', integer: true, min: 0, max: 100000, sampling: false, policy: null, axis: { xTitle: 'teacher-ratio decay iterations', logX: false } },
} as const satisfies Record<string, { label: string; integer: boolean; min: number; max: number; sampling: boolean; policy: string | null; axis: SweepAxes }>;
export type Param = keyof typeof PARAMS;

/**
 * One-click lessons: every setting the sweep needs, and what it shows on the shipped checkerboard
 * teacher, measured with the CLI at the same settings (commands in the README).
 */
export const PRESETS = {
  'k-1nfe': {
    label: 'K at 1 NFE: K ∈ {1, 8, 32}',
    set: { sweep: 'k', values: [1, 8, 32], policy: 'gmflow', k: 8, n: 10, nfe: 1, window: 0, iters: 150, batch: 128 },
    text: 'GMFlow at 1 NFE, 150 π-ID iterations at batch 128 (CLI, 20,000 samples): K = 1 → sliced W1 0.35, K = 8 → 0.13, K = 32 → 0.11 (teacher: 128 Euler steps 0.064, 1 Euler step 1.81). ' +
      'Precision barely moves in this short budget (0.64, 0.66, 0.70; teacher 0.89): it takes longer training to show — at 300 iterations, batch 256, K = 1 / 8 / 32 give W1 0.150 / 0.065 / 0.074 and precision 0.49 / 0.77 / 0.80.',
  },
  'dx-window': {
    label: 'DX window 0 vs 3',
    set: { sweep: 'window', values: [0, 3], policy: 'dx', k: 8, n: 10, nfe: 2, window: 3, iters: 300, batch: 128 },
    text: 'DX N = 10 at 2 NFE, 300 π-ID iterations at batch 128 (CLI, 20,000 samples): window 0 → sliced W1 0.48, precision 0.63; window 3 → 0.18, 0.82. ' +
      'Teacher: 128 Euler steps 0.064 / 0.89, 2 Euler steps 1.14 / 0.71. The window is what makes DX train in this budget; the shipped DX student (window 3, 400 iterations at batch 512) reaches 0.077.',
  },
  'nfe-elasticity': {
    label: 'NFE elasticity: one GMFlow student (2 NFE) sampled at 1, 2, 4, 8 NFE',
    set: { sweep: 'sampleNfe', values: [1, 2, 4, 8], policy: 'gmflow', k: 8, n: 10, nfe: 2, window: 0, iters: 400, batch: 128 },
    text: 'One GMFlow K = 8 student distilled for 2 NFE (400 π-ID iterations at batch 128; CLI, 20,000 samples), sampled at 1, 2, 4, 8 NFE: sliced W1 0.109, 0.067, 0.234, 0.242; precision 0.58, 0.84, 0.89, 0.91. ' +
      'More NFE than it was distilled for keeps the samples inside the squares (precision rises) but puts them in the wrong places (W1 triples): the student learnt its 2 steps, it is no ODE solver. Teacher Euler at 1, 2, 4, 8 steps: 1.81, 1.14, 0.56, 0.29.',
  },
} as const;
export type Preset = keyof typeof PRESETS;
const DEFAULT = PRESETS['k-1nfe'].set;

/** The explorer's base settings: the student's, with the first preset's defaults. */
const EXPLORER = studentSchema({ k: DEFAULT.k, kMax: 64, gmDropout: 0, lr: 5e-4, lrSliderMin: 1e-5, batch: DEFAULT.batch, batchMin: 16, batchMax: 8192, iters: DEFAULT.iters, nfe: DEFAULT.nfe, window: DEFAULT.window });

export const explorerSchema = {
  dataset: datasetProp(),
  preset: oneOf([...(Object.keys(PRESETS) as Preset[]), 'custom'], 'k-1nfe', 'preset', {
    label: 'Preset', testid: 'preset',
    help: 'one-click lessons: each sets the sweep, the base settings and the axes',
    options: { ...Object.fromEntries((Object.keys(PRESETS) as Preset[]).map((p) => [p, PRESETS[p].label])), custom: 'custom (your settings)' },
  }),
  sweep: oneOf(Object.keys(PARAMS) as Param[], DEFAULT.sweep, 'swept hyperparameter', {
    label: 'Sweep', testid: 'sweep', help: 'the one hyperparameter that changes from student to student; everything else is fixed and seeded',
    options: Object.fromEntries((Object.keys(PARAMS) as Param[]).map((p) => [p, PARAMS[p].label])),
  }),
  values: numList([...DEFAULT.values], { min: 0, minLength: 1, maxLength: 8 }, 'values', { label: 'Values', testid: 'sweep-values', help: "the swept values, comma-separated (up to 8, within the swept parameter's range)" }),
  policy: EXPLORER.policy,
  k: EXPLORER.k,
  n: EXPLORER.n,
  nfe: EXPLORER.nfe,
  window: EXPLORER.window,
  iters: int(DEFAULT.iters, { min: 1, max: 100000 }, 'iterations per student', { ...EXPLORER.iters.ui, label: 'Iterations each', help: 'π-ID iterations of each student' }),
  batch: EXPLORER.batch,
  lr: EXPLORER.lr,
  seed: EXPLORER.seed,
};

// ---- settings → π-ID configuration -----------------------------------------------------------------

/** The student's settings as the controls hold them (keys of `studentSchema`); absent ones keep the distiller's defaults. */
export interface StudentSettings {
  policy: PolicyFamily;
  k: number;
  n: number;
  dxMode?: DXMode;
  nfe: number;
  substeps?: number;
  intermediate?: number;
  decayIters?: number;
  /** −1: the family's default */
  window: number;
  gmDropout?: number;
  lr: number;
  batch: number;
  seed: number;
  dataFree?: 'data' | 'data-free';
}

/**
 * The one resolver from the controls to the π-ID configuration: the window −1 means the family's
 * default (the registry's), GM dropout applies only where the family has it.
 */
export function distillConfigOf(s: StudentSettings): Partial<DistillConfig> {
  const family = policyFamily(s.policy);
  const opt = <K extends keyof DistillConfig>(key: K, v: DistillConfig[K] | undefined): Partial<DistillConfig> => (v === undefined ? {} : { [key]: v });
  return {
    policy: s.policy,
    k: s.k,
    n: s.n,
    nfe: s.nfe,
    batch: s.batch,
    seed: s.seed,
    adam: { lr: s.lr },
    windowSubsteps: windowSubstepsFor(s.policy, s.window),
    ...opt('dxMode', s.dxMode),
    ...opt('totalSubsteps', s.substeps),
    ...opt('numIntermediateStates', s.intermediate),
    ...opt('numDecayIters', s.decayIters),
    ...(s.gmDropout === undefined ? {} : { gmDropout: family.gmDropout ? s.gmDropout : 0 }),
    ...(s.dataFree === undefined ? {} : { dataFree: s.dataFree === 'data-free' }),
  };
}
