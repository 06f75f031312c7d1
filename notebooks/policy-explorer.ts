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
import { SweepChart } from '../src/viz/charts.js';
import { ProgressView } from '../src/viz/progress.js';
import { exportButtons } from '../src/viz/export.js';
import { splitPaths } from '../src/runtime/paths.js';
import { POLICY_FAMILIES, POLICY_FAMILY_NAMES, policyFamily } from '../src/engine/families.js';
import type { LabClient } from '../src/runtime/lab-client.js';
import type { DistillConfig } from '../src/runtime/student.js';
import { $, DATASET_OPTIONS, initialState, messenger, noisePoints, renderMath, startLab, syncUrl } from './common.js';

/** What can be swept, how it maps onto π-ID settings, and its allowed values. */
const PARAMS = {
  k: { label: 'GMFlow components K', integer: true, min: 1, max: 64, sampling: false },
  n: { label: 'DX grid points N', integer: true, min: 1, max: 32, sampling: false },
  nfe: { label: 'NFE', integer: true, min: 1, max: 8, sampling: false },
  substeps: { label: 'total substeps', integer: true, min: 8, max: 512, sampling: false },
  gmDropout: { label: 'GM dropout', integer: false, min: 0, max: 0.9, sampling: false },
  temperature: { label: 'temperature (sampling)', integer: false, min: 0.05, max: 1, sampling: true },
  decayIters: { label: 'teacher-ratio decay iterations', integer: true, min: 0, max: 100000, sampling: false },
} as const;
type Param = keyof typeof PARAMS;

const schema = {
  dataset: oneOf(DATASETS_2D, 'checkerboard', 'data'),
  sweep: oneOf(Object.keys(PARAMS) as Param[], 'k', 'swept hyperparameter'),
  values: numList([1, 2, 8], { min: 0, minLength: 1, maxLength: 8 }, 'values'),
  policy: oneOf(POLICY_FAMILY_NAMES, 'gmflow', 'policy'),
  k: int(8, { min: 1, max: 64 }),
  n: int(10, { min: 1, max: 32 }),
  nfe: int(2, { min: 1, max: 8 }),
  iters: int(400, { min: 1, max: 100000 }, 'iterations per student'),
  batch: int(512, { min: 16, max: 8192 }),
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
nb.input('iters', numberControl({ label: 'Iterations each', value: state.iters, min: 1, max: 100000, integer: true, slider: false, testid: 'iters' }), bc);
nb.input('batch', numberControl({ label: 'Batch', value: state.batch, min: 16, max: 8192, integer: true, log: true, testid: 'student-batch' }), bc);
nb.input('lr', numberControl({ label: 'Learning rate', value: state.lr, min: 1e-5, max: 0.1, log: true, exclusiveMin: true, testid: 'student-lr' }), bc);
nb.input('seed', numberControl({ label: 'Seed', value: state.seed, min: 0, integer: true, slider: false, testid: 'seed' }), bc);
const value = <T>(name: string) => nb.controls.get(name)!.value as T;

// ---- views -------------------------------------------------------------------------------------
const progress = new ProgressView($('#progress'));
const chart = new SweepChart($('#sweep-chart'), { title: 'quality against the swept value', yTitle: 'sliced W1 to data' });
exportButtons($('#sweep-chart'), chart, 'sweep');
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
  lab.on('progress', (e) => {
    const p = e.progress;
    if (p.phase === 'student') progress.update({ iteration: p.iter, total: p.total, loss: p.loss, itPerSec: p.itPerSec, etaSec: p.secondsLeft, status: 'running', label: runLabel });
  });
  let runLabel = '';
  const run = async () => {
    note('');
    stopped = false;
    const param = value<Param>('sweep');
    const values = value<number[]>('values');
    const spec = PARAMS[param];
    const bad = values.filter((v) => v < spec.min || v > spec.max || (spec.integer && !Number.isInteger(v)));
    if (bad.length) return note(`${spec.label}: ${bad.join(', ')} outside [${spec.min}, ${spec.max}]${spec.integer ? ' or not whole' : ''}`, 'error');
    const base: Partial<DistillConfig> = {
      policy: value('policy'), k: value('k'), n: value('n'), nfe: value('nfe'), batch: value('batch'), seed: value('seed'),
      adam: { lr: value('lr') }, windowSubsteps: policyFamily(value('policy')).defaults.windowSubsteps,
    };
    const iters = value<number>('iters');
    const data = await lab.call.dataSamples(2000, 101);
    const teacherPaths = splitPaths(await lab.call.teacherPaths(NOISE, 64));
    const refMany = await lab.call.swd(await lab.call.teacherSamples(2000, 128, 12345), 12345);
    const quality: number[] = [];
    const panels: { title: string; data: { name: string; points: Float32Array; color: string }[] }[] = [];
    const trajPanels: { title: string; data: TrajectoryData }[] = [];
    for (let i = 0; i < values.length && !stopped; i++) {
      const v = values[i];
      runLabel = `${param} = ${v} (${i + 1}/${values.length})`;
      const cfg: Partial<DistillConfig> = { ...base };
      let temperature = 1;
      if (param === 'temperature') temperature = v;
      else if (param === 'k') cfg.k = v;
      else if (param === 'n') cfg.n = v;
      else if (param === 'nfe') cfg.nfe = v;
      else if (param === 'substeps') cfg.totalSubsteps = v;
      else if (param === 'gmDropout') cfg.gmDropout = v;
      else if (param === 'decayIters') cfg.numDecayIters = v;
      // sampling-time sweeps share one student
      if (!spec.sampling || i === 0) {
        await lab.call.newStudent(cfg);
        await lab.call.distill(iters, {});
      }
      const s = await lab.call.studentSamples(2000, 12345, { temperature });
      quality.push(await lab.call.swd(s, 12345));
      panels.push({ title: `${param} = ${v}`, data: [{ name: 'data', points: data, color: '#bbb' }, { name: 'student', points: s, color: '#d62728' }] });
      const pp = await lab.call.policyPaths(NOISE, { temperature });
      trajPanels.push({ title: `${param} = ${v}`, data: { teacher: teacherPaths, policy: splitPaths(pp, pp.nfeIndices) } });
      samples.update(panels);
      trajs.update(trajPanels);
      await chart.update({ x: values.slice(0, quality.length), series: [{ name: 'student', y: quality }], references: [{ name: 'teacher, 128 Euler steps', value: refMany }] });
    }
    progress.update({ iteration: iters, total: iters, status: stopped ? 'paused' : 'done', label: stopped ? 'stopped' : 'sweep done' });
  };
  $('#sweep-buttons').append(
    button('Run sweep', 'run-sweep', () => void run().catch((e) => note((e as Error).message, 'error'))),
    button('Stop', 'stop-sweep', async () => {
      stopped = true;
      await lab.call.stop();
    }),
  );
});
