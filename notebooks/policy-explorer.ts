/**
 * Notebook 3 — Policy explorer: sweep one hyperparameter over a few values, everything else fixed and
 * seeded; small multiples of samples and trajectories, and quality against the swept value.
 */
import { Notebook } from '../src/runtime/notebook.js';
import { int, num, numList, oneOf, parseValue } from '../src/runtime/url-state.js';
import { DATASETS_2D } from '../src/data/toy2d.js';
import { button, numberControl, selectControl, showError, type ControlEl } from '../src/viz/controls.js';
import { scatterGrid, SmallMultiples } from '../src/viz/scatter.js';
import { TrajectoryView, type TrajectoryData } from '../src/viz/trajectories.js';
import { SweepChart, type SweepAxes } from '../src/viz/charts.js';
import type { Reference } from '../src/viz/chart-layout.js';
import { ProgressView } from '../src/viz/progress.js';
import { exportButtons } from '../src/viz/export.js';
import { splitPaths } from '../src/runtime/paths.js';
import { POLICY_FAMILIES, POLICY_FAMILY_NAMES, policyFamily } from '../src/engine/families.js';
import type { LabClient } from '../src/runtime/lab-client.js';
import type { DistillConfig } from '../src/runtime/student.js';
import { $, DATASET_OPTIONS, initialState, messenger, noisePoints, renderMath, startLab, syncUrl } from './common.js';
import { showApplicableControls } from './student-controls.js';

/** What can be swept, how it maps onto π-ID settings, and its allowed values. */
/** `axis`: the x axis for the parameter (log₂ ticks for sizes and NFE, so 1, 8, 32 are evenly spread). */
const LOG2_TICKS = [1, 2, 4, 8, 16, 32, 64];
const PARAMS = {
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
type Param = keyof typeof PARAMS;

/** Fixed y axes: sliced W1 on a log scale from 0.03 to 3 (noise stays noise; the teacher's 1-step Euler line, ~1.8 on checkerboard, stays on the chart), precision 0–1. */
const W1_AXIS: SweepAxes = { yTitle: 'sliced W1 to data (log)', logY: true, yRange: [0.03, 3] };
const PRECISION_AXIS: SweepAxes = { yTitle: 'precision (share inside the data)', logY: false, yRange: [0, 1.02] };

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
type Preset = keyof typeof PRESETS;
const DEFAULT = PRESETS['k-1nfe'].set;

const schema = {
  dataset: oneOf(DATASETS_2D, 'checkerboard', 'data'),
  preset: oneOf([...(Object.keys(PRESETS) as Preset[]), 'custom'], 'k-1nfe', 'preset'),
  sweep: oneOf(Object.keys(PARAMS) as Param[], DEFAULT.sweep, 'swept hyperparameter'),
  values: numList([...DEFAULT.values], { min: 0, minLength: 1, maxLength: 8 }, 'values'),
  policy: oneOf(POLICY_FAMILY_NAMES, DEFAULT.policy, 'policy'),
  k: int(DEFAULT.k, { min: 1, max: 64 }),
  n: int(DEFAULT.n, { min: 1, max: 32 }),
  nfe: int(DEFAULT.nfe, { min: 1, max: 8 }),
  window: int(DEFAULT.window, { min: -1, max: 16 }, 'window substeps (-1: the family default)'),
  iters: int(DEFAULT.iters, { min: 1, max: 100000 }, 'iterations per student'),
  batch: int(DEFAULT.batch, { min: 16, max: 8192 }),
  lr: num(5e-4, { min: 0, max: 0.1, exclusiveMin: true }),
  seed: int(0, { min: 0 }),
};

const { state, messages } = initialState(schema);
const nb = new Notebook();
syncUrl(schema, nb, state);
renderMath();
const note = messenger('sweep-message');
if (messages.length) note(`Some settings in the address were invalid and were reset: ${messages.join('; ')}`, 'error');

// ---- controls ----------------------------------------------------------------------------------
const sc = $('#sweep-controls');
const presetNote = messenger('preset-note');
nb.input('preset', selectControl({ label: 'Preset', options: [...(Object.keys(PRESETS) as Preset[]).map((p) => [p, PRESETS[p].label] as const), ['custom', 'custom (your settings)'] as const], value: state.preset, testid: 'preset', title: 'one-click lessons: each sets the sweep, the base settings and the axes' }), sc);
nb.input('dataset', selectControl({ label: 'Data', options: DATASET_OPTIONS, value: state.dataset, testid: 'dataset' }), sc);
nb.input('sweep', selectControl({ label: 'Sweep', options: (Object.keys(PARAMS) as Param[]).map((p) => [p, PARAMS[p].label] as const), value: state.sweep, testid: 'sweep' }), sc);

/** A comma-separated list of values, checked against the swept parameter's range. */
function valuesControl(initial: number[]): ControlEl<number[]> {
  const root = document.createElement('div') as unknown as ControlEl<number[]>;
  root.className = 'control control-list';
  const label = document.createElement('label');
  label.textContent = 'Values';
  const input = document.createElement('input');
  input.value = initial.join(',');
  input.dataset.testid = 'sweep-values';
  const err = document.createElement('span');
  err.className = 'control-error';
  err.hidden = true;
  root.append(label, input, err);
  let value = initial;
  Object.defineProperty(root, 'value', { get: () => value, set: (v: number[]) => ((value = v), (input.value = v.join(','))) });
  input.addEventListener('change', () => {
    const p = PARAMS[(nb.controls.get('sweep')!.value as Param) ?? 'k'];
    const r = parseValue({ kind: 'numberList', default: [], integer: p.integer, min: p.min, max: p.max, minLength: 1, maxLength: 8 }, input.value);
    if (!r.ok) return showError(root, `Values: ${r.why}`);
    showError(root, null);
    value = r.value as number[];
    root.dispatchEvent(new Event('input'));
  });
  return root;
}
nb.input('values', valuesControl(state.values), sc);
const bc = $('#base-controls');
nb.input('policy', selectControl({ label: 'Policy', options: POLICY_FAMILY_NAMES.map((f) => [f, POLICY_FAMILIES[f].label] as const), value: state.policy, testid: 'policy' }), bc);
nb.input('k', numberControl({ label: 'K', value: state.k, min: 1, max: 64, integer: true, testid: 'k' }), bc);
nb.input('n', numberControl({ label: 'N', value: state.n, min: 1, max: 32, integer: true, testid: 'n' }), bc);
nb.input('nfe', numberControl({ label: 'NFE', value: state.nfe, min: 1, max: 8, integer: true, testid: 'nfe' }), bc);
nb.input('window', numberControl({ label: 'Window substeps (−1: auto)', value: state.window, min: -1, max: 16, integer: true, testid: 'window' }), bc);
nb.input('iters', numberControl({ label: 'Iterations each', value: state.iters, min: 1, max: 100000, integer: true, slider: false, testid: 'iters' }), bc);
nb.input('batch', numberControl({ label: 'Batch', value: state.batch, min: 16, max: 8192, integer: true, log: true, testid: 'student-batch' }), bc);
nb.input('lr', numberControl({ label: 'Learning rate', value: state.lr, min: 1e-5, max: 0.1, log: true, exclusiveMin: true, testid: 'student-lr' }), bc);
nb.input('seed', numberControl({ label: 'Seed', value: state.seed, min: 0, integer: true, slider: false, testid: 'seed' }), bc);
const value = <T>(name: string) => nb.controls.get(name)!.value as T;
showApplicableControls(nb);

/** Sets a control as if the reader had changed it (its cells and the address follow). */
function setControl(name: string, v: unknown): void {
  const el = nb.controls.get(name)!;
  if (JSON.stringify(el.value) === JSON.stringify(v)) return;
  el.value = v;
  el.dispatchEvent(new Event('input'));
}

// a link that sets one of the preset's settings to another value opens as 'custom', so the preset does
// not overwrite it; settings the link leaves out are the preset's (`#preset=dx-window` is that preset)
const inLink = new Set(Array.from(new URLSearchParams(location.hash.slice(1)).keys()));
if (state.preset !== 'custom' && Object.entries(PRESETS[state.preset].set).some(([n, v]) => inLink.has(n) && JSON.stringify((state as Record<string, unknown>)[n]) !== JSON.stringify(v))) {
  nb.controls.get('preset')!.value = 'custom';
  state.preset = 'custom';
}

/** Choosing a preset sets its settings; changing one of them afterwards makes the preset 'custom'. */
let applying = false;
nb.cell('presetApplied', ['preset'], (preset: Preset | 'custom') => {
  if (preset === 'custom') return presetNote('');
  const p = PRESETS[preset];
  applying = true;
  try {
    for (const [name, v] of Object.entries(p.set)) setControl(name, v);
  } finally {
    applying = false;
  }
  presetNote(p.text);
  return preset;
});
for (const name of Object.keys(PRESETS['k-1nfe'].set)) {
  nb.controls.get(name)!.addEventListener('input', () => {
    const preset = value<Preset | 'custom'>('preset');
    if (applying || preset === 'custom') return;
    if (JSON.stringify(value(name)) !== JSON.stringify((PRESETS[preset].set as Record<string, unknown>)[name])) setControl('preset', 'custom');
  });
}

// ---- views -------------------------------------------------------------------------------------
const progress = new ProgressView($('#progress'));
const chart = new SweepChart($('#sweep-chart'), { title: 'sliced W1 to data against the swept value (lower is better)', yTitle: 'sliced W1 to data', logY: true });
const precisionChart = new SweepChart($('#precision-chart'), { title: 'precision: share of samples inside the data (higher is better)', yTitle: 'precision', testid: 'precision-plot' });
exportButtons($('#sweep-chart'), chart, 'sweep');
exportButtons($('#precision-chart'), precisionChart, 'sweep-precision');
const samples = scatterGrid($('#samples'), { maxCols: 4 });
const trajs = new SmallMultiples<TrajectoryData, TrajectoryView>($('#trajectories'), (cell) => new TrajectoryView(cell, { width: 260, height: 260, controls: false }), { maxCols: 4, testid: 'trajectory-grid' });
exportButtons($('#samples'), samples, 'sweep-samples');
exportButtons($('#trajectories'), trajs, 'sweep-trajectories');
const NOISE = noisePoints(16, 1);

// ---- cells -------------------------------------------------------------------------------------
nb.cell('lab', [], () => startLab());
nb.cell('teacher', ['lab', 'dataset'], async (lab: LabClient, dataset: string) => {
  await lab.call.stop();
  await lab.call.setData({ kind: 'builtin', name: dataset });
  try {
    await lab.call.loadTeacherUrl(`/pretrained/${dataset}/`);
  } catch (e) {
    // this notebook has no Train button: say what is missing (a dataset without static/pretrained/<name>/)
    note(`No pretrained teacher for ${dataset} (${(e as Error).message}): this notebook sweeps a shipped teacher; pick another dataset, or add one with bash scripts/pretrain-teachers.sh ${dataset}.`, 'error');
    throw e;
  }
  return dataset;
});

nb.cell('sweeping', ['lab', 'teacher'], (lab: LabClient) => {
  let stopped = false;
  // the progress bar and the time left are the whole sweep's: students done × iterations + this one's
  let runLabel = '';
  let sweep = { done: 0, students: 1, iters: 1 };
  lab.on('progress', (e) => {
    const p = e.progress;
    if (p.phase !== 'student') return;
    const left = (sweep.students - sweep.done - 1) * sweep.iters;
    const eta = p.itPerSec && p.itPerSec > 0 ? p.secondsLeft + left / p.itPerSec : undefined;
    progress.update({ iteration: sweep.done * sweep.iters + p.iter, total: sweep.students * sweep.iters, loss: p.loss, itPerSec: p.itPerSec, etaSec: eta, status: 'running', label: runLabel });
  });
  const run = async () => {
    note('');
    stopped = false;
    const param = value<Param>('sweep');
    const values = value<number[]>('values');
    const spec = PARAMS[param];
    const bad = values.filter((v) => v < spec.min || v > spec.max || (spec.integer && !Number.isInteger(v)));
    if (bad.length) return note(`${spec.label}: ${bad.join(', ')} outside [${spec.min}, ${spec.max}]${spec.integer ? ' or not whole' : ''}`, 'error');
    const policy = value<DistillConfig['policy']>('policy');
    if (spec.policy && spec.policy !== policy) return note(`${spec.label} applies to ${POLICY_FAMILIES[spec.policy as DistillConfig['policy']].title} students only: choose that policy, or sweep something else.`, 'error');
    const w = value<number>('window');
    const base: Partial<DistillConfig> = {
      policy, k: value('k'), n: value('n'), nfe: value('nfe'), batch: value('batch'), seed: value('seed'),
      adam: { lr: value('lr') }, windowSubsteps: w >= 0 ? w : policyFamily(policy).defaults.windowSubsteps,
    };
    const iters = value<number>('iters');
    sweep = { done: 0, students: spec.sampling ? 1 : values.length, iters };
    const data = await lab.call.dataSamples(2000, 101);
    const teacherPaths = splitPaths(await lab.call.teacherPaths(NOISE, 64));
    // the teacher's references, 2,000 samples as the students': many Euler steps, and as many as the student has NFE
    const teacherAt = async (steps: number) => {
      const t = await lab.call.teacherSamples(2000, steps, 12345);
      return { swd: await lab.call.swd(t, 12345), precision: await lab.call.precision(t) };
    };
    const many = await teacherAt(128);
    const perNfe = param === 'nfe' || param === 'sampleNfe';
    const nfeValues = perNfe ? values : [base.nfe!];
    const few = await Promise.all(nfeValues.map((v) => teacherAt(v)));
    const eulerName = (n: number) => `teacher, ${n} Euler step${n > 1 ? 's' : ''}`;
    const refs = (m: 'swd' | 'precision'): Reference[] => [
      { name: 'teacher, 128 Euler steps', value: many[m] },
      ...(perNfe ? [] : [{ name: eulerName(base.nfe!), value: few[0][m], dash: 'dot' as const }]),
    ];
    // an NFE sweep has one NFE-step teacher per value: a series instead of a line
    const fewSeries = (m: 'swd' | 'precision', count: number) =>
      perNfe ? [{ name: 'teacher, NFE Euler steps', y: few.slice(0, count).map((f) => f[m]), color: '#7f7f7f' }] : [];
    const axes = spec.axis as SweepAxes;
    const drawCharts = (q: number[], pr: number[]) => Promise.all([
      chart.update({ x: values.slice(0, q.length), series: [{ name: 'student', y: q }, ...fewSeries('swd', q.length)], references: refs('swd'), axes: { ...axes, ...W1_AXIS } }),
      precisionChart.update({ x: values.slice(0, pr.length), series: [{ name: 'student', y: pr }, ...fewSeries('precision', pr.length)], references: refs('precision'), axes: { ...axes, ...PRECISION_AXIS } }),
    ]);
    const quality: number[] = [];
    const precisions: number[] = [];
    const panels: { title: string; data: { name: string; points: Float32Array; color: string }[] }[] = [];
    const trajPanels: { title: string; data: TrajectoryData }[] = [];
    for (let i = 0; i < values.length && !stopped; i++) {
      const v = values[i];
      runLabel = `${param} = ${v} (${i + 1}/${values.length})`;
      const cfg: Partial<DistillConfig> = { ...base };
      let temperature = 1;
      let sampleNfe: number | undefined;
      if (param === 'temperature') temperature = v;
      else if (param === 'sampleNfe') sampleNfe = v;
      else if (param === 'k') cfg.k = v;
      else if (param === 'n') cfg.n = v;
      else if (param === 'nfe') cfg.nfe = v;
      else if (param === 'substeps') cfg.totalSubsteps = v;
      else if (param === 'gmDropout') cfg.gmDropout = v;
      else if (param === 'decayIters') cfg.numDecayIters = v;
      else if (param === 'window') cfg.windowSubsteps = v;
      // sampling-time sweeps share one student
      if (!spec.sampling || i === 0) {
        sweep.done = spec.sampling ? 0 : i;
        await lab.call.newStudent(cfg);
        await lab.call.distill(iters, {});
      }
      const s = await lab.call.studentSamples(2000, 12345, { temperature, nfe: sampleNfe });
      quality.push(await lab.call.swd(s, 12345));
      precisions.push(await lab.call.precision(s));
      panels.push({ title: `${param} = ${v}`, data: [{ name: 'data', points: data, color: '#bbb' }, { name: 'student', points: s, color: '#d62728' }] });
      const pp = await lab.call.policyPaths(NOISE, { temperature, nfe: sampleNfe });
      trajPanels.push({ title: `${param} = ${v}`, data: { teacher: teacherPaths, policy: splitPaths(pp, pp.nfeIndices) } });
      samples.update(panels);
      trajs.update(trajPanels);
      await drawCharts(quality, precisions);
    }
    progress.update({ iteration: sweep.students * iters, total: sweep.students * iters, status: stopped ? 'paused' : 'done', label: stopped ? 'stopped' : 'sweep done' });
  };
  $('#sweep-buttons').append(
    button('Run sweep', 'run-sweep', () => void run().catch((e) => note((e as Error).message, 'error'))),
    button('Stop', 'stop-sweep', async () => {
      stopped = true;
      await lab.call.stop();
    }),
  );
});
