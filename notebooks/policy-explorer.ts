/**
 * Notebook 3 — Policy explorer: sweep one hyperparameter over a few values, everything else fixed and
 * seeded; small multiples of samples and trajectories, and quality against the swept value.
 */
import { checkInput, numList } from '../src/runtime/url-state.js';
import { button } from '../src/viz/controls.js';
import { schemaControl, schemaInputs } from '../src/viz/schema-controls.js';
import { scatterGrid, SmallMultiples } from '../src/viz/scatter.js';
import { TrajectoryView, type TrajectoryData } from '../src/viz/trajectories.js';
import { SweepChart, type SweepAxes } from '../src/viz/charts.js';
import type { Reference } from '../src/viz/chart-layout.js';
import { ProgressView } from '../src/viz/progress.js';
import { exportButtons } from '../src/viz/export.js';
import { splitPaths } from '../src/runtime/paths.js';
import { POLICY_FAMILIES } from '../src/engine/families.js';
import type { LabClient } from '../src/runtime/lab-client.js';
import type { DistillConfig } from '../src/runtime/student.js';
import { $, messenger, noisePoints, presentation, startLab, openNotebook } from './common.js';
import { showApplicableControls, studentConfig } from './student-controls.js';
import { explorerSchema, PARAMS, PRESETS, type Param, type Preset } from './schemas.js';

export { PRESETS };

/** Fixed y axes: sliced W1 on a log scale from 0.03 to 3 (noise stays noise; the teacher's 1-step Euler line, ~1.8 on checkerboard, stays on the chart), precision 0–1. */
const W1_AXIS: SweepAxes = { yTitle: 'sliced W1 to data (log)', logY: true, yRange: [0.03, 3] };
const PRECISION_AXIS: SweepAxes = { yTitle: 'precision', logY: false, yRange: [0, 1.02] };

/** Every control's range, default, label and help (notebooks/schemas.ts): the URL state and the controls are built from it. */
const schema = explorerSchema;

const { state, nb } = openNotebook(schema, 'sweep-message');
const note = messenger('sweep-message');

// ---- controls ----------------------------------------------------------------------------------
const sc = $('#sweep-controls');
const presetNote = messenger('preset-note');
const bc = $('#base-controls');
schemaInputs(nb, schema, state, { preset: sc, dataset: sc, sweep: sc });
/** The swept values, also checked against the swept parameter's range. */
nb.input('values', schemaControl(schema, 'values', state.values, (values) => {
  const p = PARAMS[(nb.controls.get('sweep')!.value as Param) ?? 'k'];
  const r = checkInput(numList([], { integer: p.integer, min: p.min, max: p.max, minLength: 1, maxLength: 8 }), values, 'Values');
  return r.ok ? null : r.message;
}), sc);
schemaInputs(nb, schema, state, { policy: bc, k: bc, n: bc, nfe: bc, window: bc, iters: bc, batch: bc, lr: bc, seed: bc });
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
/** the sweep button's label: the charts' empty state names it */
const RUN_LABEL = 'Run sweep';
/** before a sweep each chart says what to press and what it will show */
const emptyText = (metric: string) => `press “${RUN_LABEL}” to see each student's ${metric}<br>at every swept value, against the teacher's lines`;
const chart = new SweepChart($('#sweep-chart'), { title: 'sliced W1 to data against the swept value (lower is better)', yTitle: 'sliced W1 to data', logY: true, emptyText: emptyText('sliced W1') });
const precisionChart = new SweepChart($('#precision-chart'), { title: 'precision: share of samples inside the data (higher is better)', yTitle: 'precision', testid: 'precision-plot', emptyText: emptyText('precision') });
exportButtons($('#sweep-chart'), chart, 'sweep');
exportButtons($('#precision-chart'), precisionChart, 'sweep-precision');
const samples = scatterGrid($('#samples'), { maxCols: 4 });
// presentation mode: Run sweep and its progress beside the two charts it fills
presentation({ side: [$('#sweep-buttons'), $('#progress')], figures: [$('#sweep-chart').parentElement as HTMLElement] });
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
    const base = studentConfig(nb);
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
    button(RUN_LABEL, 'run-sweep', () => void run().catch((e) => note((e as Error).message, 'error'))),
    button('Stop', 'stop-sweep', async () => {
      stopped = true;
      await lab.call.stop();
    }),
  );
});
