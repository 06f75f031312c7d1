/**
 * Notebook 2 — π-Flow: distill a policy. Loads (or takes) a teacher, distills a GMFlow or DX student
 * live in the worker, streams the π-ID loss and the sliced-W1 distance to data, and shows teacher vs
 * policy trajectories with the selected particle's policy, plus samples at 1, 2 and 4 NFE.
 */
import { Notebook } from '../src/runtime/notebook.js';
import { int, num, oneOf } from '../src/runtime/url-state.js';
import { DATASETS_2D } from '../src/data/toy2d.js';
import { button, numberControl, selectControl } from '../src/viz/controls.js';
import { scatterGrid } from '../src/viz/scatter.js';
import { TrajectoryView } from '../src/viz/trajectories.js';
import { PolicyInspector, type PolicySnapshot } from '../src/viz/policy-inspector.js';
import { LossChart, MetricChart } from '../src/viz/charts.js';
import { ProgressView } from '../src/viz/progress.js';
import { exportButtons } from '../src/viz/export.js';
import { particleX0, splitPaths, type PolicyPaths } from '../src/runtime/inspect2d.js';
import type { LabClient } from '../src/runtime/lab-client.js';
import type { DistillConfig } from '../src/runtime/toy.js';
import { $, counter, followLoop, messenger, initialState, modelIO, noisePoints, renderMath, startLab, syncUrl } from './common.js';

export const schema = {
  dataset: oneOf(DATASETS_2D, 'checkerboard', 'data'),
  policy: oneOf(['gmflow', 'dx'] as const, 'gmflow', 'policy'),
  k: int(8, { min: 1, max: 64 }, 'GMFlow components K'),
  n: int(10, { min: 1, max: 32 }, 'DX grid points N'),
  dxMode: oneOf(['grid', 'polynomial'] as const, 'grid', 'DX mode'),
  nfe: int(2, { min: 1, max: 8 }, 'NFE'),
  substeps: int(128, { min: 8, max: 512 }, 'total substeps'),
  intermediate: int(2, { min: 1, max: 8 }, 'intermediate states'),
  decayIters: int(0, { min: 0, max: 100000 }, 'teacher-ratio decay iterations'),
  window: int(-1, { min: -1, max: 16 }, 'window substeps (-1: 0 for GMFlow, 3 for DX)'),
  gmDropout: num(0, { min: 0, max: 0.9 }, 'GM dropout'),
  lr: num(5e-4, { min: 0, max: 0.1, exclusiveMin: true }, 'learning rate'),
  batch: int(512, { min: 16, max: 8192 }, 'batch'),
  iters: int(1000, { min: 1, max: 100000 }, 'iterations'),
  seed: int(0, { min: 0 }, 'seed'),
  temperature: num(1, { min: 0.05, max: 1 }, 'temperature'),
};

const { state, messages } = initialState(schema);
const nb = new Notebook();
syncUrl(schema, nb, state);
renderMath();

const teacherNote = messenger('teacher-message');
const studentNote = messenger('student-message');
if (messages.length) studentNote(`Some settings in the address were invalid and were reset: ${messages.join('; ')}`, 'error');

// ---- controls ----------------------------------------------------------------------------------
nb.input('dataset', selectControl({ label: 'Data', options: DATASETS_2D, value: state.dataset, testid: 'dataset' }), $('#teacher-controls'));
const pc = $('#policy-controls');
nb.input('policy', selectControl({ label: 'Policy', options: [['gmflow', 'GMFlow (K Gaussians)'], ['dx', 'DX (N grid points)']] as const, value: state.policy, testid: 'policy' }), pc);
nb.input('k', numberControl({ label: 'K', value: state.k, min: 1, max: 64, integer: true, testid: 'k' }), pc);
nb.input('n', numberControl({ label: 'N', value: state.n, min: 1, max: 32, integer: true, testid: 'n' }), pc);
nb.input('dxMode', selectControl({ label: 'DX mode', options: ['grid', 'polynomial'] as const, value: state.dxMode, testid: 'dx-mode' }), pc);
nb.input('nfe', numberControl({ label: 'NFE', value: state.nfe, min: 1, max: 8, integer: true, testid: 'nfe' }), pc);
const ic = $('#piid-controls');
nb.input('substeps', numberControl({ label: 'Total substeps', value: state.substeps, min: 8, max: 512, integer: true, log: true, testid: 'substeps' }), ic);
nb.input('intermediate', numberControl({ label: 'Intermediate states', value: state.intermediate, min: 1, max: 8, integer: true, testid: 'intermediate' }), ic);
nb.input('decayIters', numberControl({ label: 'Teacher-ratio decay iters', value: state.decayIters, min: 0, max: 100000, integer: true, slider: false, testid: 'decay-iters' }), ic);
nb.input('window', numberControl({ label: 'Window substeps (−1: auto)', value: state.window, min: -1, max: 16, integer: true, testid: 'window' }), ic);
nb.input('gmDropout', numberControl({ label: 'GM dropout', value: state.gmDropout, min: 0, max: 0.9, step: 0.01, testid: 'gm-dropout' }), ic);
nb.input('lr', numberControl({ label: 'Learning rate', value: state.lr, min: 1e-5, max: 0.1, log: true, exclusiveMin: true, testid: 'student-lr' }), ic);
nb.input('batch', numberControl({ label: 'Batch', value: state.batch, min: 16, max: 8192, integer: true, log: true, testid: 'student-batch' }), ic);
nb.input('iters', numberControl({ label: 'Iterations', value: state.iters, min: 1, max: 100000, integer: true, slider: false, testid: 'iters' }), ic);
nb.input('seed', numberControl({ label: 'Seed', value: state.seed, min: 0, integer: true, slider: false, testid: 'seed' }), ic);
nb.input('temperature', numberControl({ label: 'Temperature (sampling)', value: state.temperature, min: 0.05, max: 1, step: 0.05, testid: 'temperature' }), $('#sampling-controls'));
const studentVersion = counter();
nb.input('studentVersion', studentVersion);
const teacherVersion = counter();
nb.input('teacherVersion', teacherVersion);
/** bumped every few seconds while distilling: only the cheap trajectory view follows it */
const liveVersion = counter();
nb.input('liveVersion', liveVersion);

const value = <T>(name: string) => nb.controls.get(name)!.value as T;

/** The π-ID configuration from the controls. */
export function distillConfig(): Partial<DistillConfig> {
  const policy = value<'gmflow' | 'dx'>('policy');
  const w = value<number>('window');
  return {
    policy,
    k: value('k'),
    n: value('n'),
    dxMode: value('dxMode'),
    nfe: value('nfe'),
    totalSubsteps: value('substeps'),
    numIntermediateStates: value('intermediate'),
    numDecayIters: value('decayIters'),
    windowSubsteps: w >= 0 ? w : policy === 'dx' ? 3 : 0,
    gmDropout: value('gmDropout'),
    batch: value('batch'),
    seed: value('seed'),
    adam: { lr: value('lr') },
  };
}

// ---- views -------------------------------------------------------------------------------------
const progress = new ProgressView($('#progress'));
const loss = new LossChart($('#loss'), { logY: true, title: 'π-ID loss', width: 420, height: 260 });
const metric = new MetricChart($('#metric'), { title: 'sliced W1 to data (2,000 samples)', width: 420, height: 260 });
const inspector = new PolicyInspector($('#inspector'), { title: 'policy of the selected particle' });
let lastPaths: PolicyPaths | null = null;
const traj = new TrajectoryView($('#trajectories'), {
  title: 'teacher ODE vs policy',
  onSelect: (i) => showPolicy(i),
  onTime: (s) => inspector.setTime(s),
});
const grid = scatterGrid($('#samples'), { maxCols: 4 });
exportButtons($('#trajectories'), traj, 'trajectories');
exportButtons($('#inspector'), inspector, 'policy');
exportButtons($('#loss'), loss, 'piid-loss');
exportButtons($('#metric'), metric, 'swd');
exportButtons($('#samples'), grid, 'samples-by-nfe');
const NOISE = noisePoints(24, 1);

/** The selected particle's policy at each step, for the inspector. */
function showPolicy(i: number) {
  const p = lastPaths;
  if (!p) return;
  const x0 = particleX0(p, i);
  const xs = splitPaths(p)[i].points;
  const snaps: PolicySnapshot[] = p.steps.map((st, s) => {
    const a = p.nfeIndices[s];
    const b = s + 1 < p.nfeIndices.length ? p.nfeIndices[s + 1] : p.sigma.length - 1;
    const part = { x0Path: x0.slice(2 * a, 2 * b + 2), xPath: xs.slice(2 * a, 2 * b + 2), sigma: p.sigma.slice(a, b + 1), label: `step ${s + 1}, σ_src = ${st.sigmaSrc.toFixed(2)}` };
    if (st.kind === 'gmflow') {
      return { kind: 'gmflow', ...part, means: st.means.slice(i * st.k * 2, (i + 1) * st.k * 2), weights: st.weights.slice(i * st.k, (i + 1) * st.k), std: st.std[i] };
    }
    return { kind: 'dx', ...part, points: st.points.slice(i * st.n * 2, (i + 1) * st.n * 2) };
  });
  inspector.update(snaps);
  inspector.setTime(traj.time);
}

// ---- cells -------------------------------------------------------------------------------------
nb.cell('lab', [], () => startLab());

nb.cell('teacher', ['lab', 'dataset'], async (lab: LabClient, dataset: string) => {
  await lab.call.stop();
  await lab.call.setData({ kind: 'builtin', name: dataset });
  try {
    await lab.call.loadTeacherUrl(`/pretrained/${dataset}/`);
    teacherNote(`Pretrained ${dataset} teacher loaded.`);
  } catch (e) {
    teacherNote(`No pretrained teacher for ${dataset}: ${(e as Error).message}. Upload one.`, 'error');
  }
  teacherVersion.bump();
  return dataset;
});

/** Reference distances: the teacher with many and with few Euler steps. */
nb.cell('references', ['lab', 'teacher', 'teacherVersion', 'nfe'], async (lab: LabClient, _t: unknown, _v: number, nfe: number) => {
  const st = await lab.call.status();
  if (!st.teacher) return null;
  const many = await lab.call.swd(await lab.call.teacherSamples(2000, 128, 12345), 12345);
  const few = await lab.call.swd(await lab.call.teacherSamples(2000, nfe, 12345), 12345);
  await metric.setReferences([
    { name: 'teacher, 128 Euler steps', value: many },
    { name: `teacher, ${nfe} Euler step${nfe > 1 ? 's' : ''}`, value: few, dash: 'dot' },
  ]);
  return { many, few };
});

nb.cell('teacherPaths', ['lab', 'teacher', 'teacherVersion'], async (lab: LabClient) => {
  const st = await lab.call.status();
  return st.teacher ? splitPaths(await lab.call.teacherPaths(NOISE, 64)) : [];
});

nb.cell('trajectoryView', ['lab', 'teacherPaths', 'studentVersion', 'liveVersion', 'temperature'], async (lab: LabClient, teacher: ReturnType<typeof splitPaths>, _v: number, _l: number, temperature: number) => {
  const st = await lab.call.status();
  let policy: ReturnType<typeof splitPaths> = [];
  if (st.student) {
    lastPaths = await lab.call.policyPaths(NOISE, { temperature });
    policy = splitPaths(lastPaths, lastPaths.nfeIndices);
  }
  traj.update({ teacher, policy, background: await lab.call.dataSamples(2000, 7) });
  const sel = traj.selection ?? 0;
  if (st.student) {
    traj.select(sel);
    showPolicy(sel);
  } else inspector.update(null);
});

nb.cell('samplesView', ['lab', 'teacher', 'teacherVersion', 'studentVersion', 'temperature'], async (lab: LabClient, _t: unknown, _tv: number, _sv: number, temperature: number) => {
  const st = await lab.call.status();
  if (!st.teacher) return;
  const data = await lab.call.dataSamples(2000, 101);
  const panels = [{ title: 'teacher, 64 Euler steps', data: [{ name: 'data', points: data, color: '#bbb' }, { name: 'teacher', points: await lab.call.teacherSamples(2000, 64, 202), color: '#1f77b4' }] }];
  if (st.student) {
    for (const nfe of [1, 2, 4]) {
      panels.push({ title: `student, ${nfe} NFE`, data: [{ name: 'data', points: data, color: '#bbb' }, { name: `${nfe} NFE`, points: await lab.call.studentSamples(2000, 303, { nfe, temperature }), color: '#d62728' }] });
    }
  }
  grid.update(panels);
});

nb.cell('distilling', ['lab'], (lab: LabClient) => {
  followLoop(lab, 'student', { progress, loss, label: 'π-ID' }, () => liveVersion.bump());
  lab.on('metric', (e) => e.phase === 'student' && metric.extend(e.iter, e.swd));
  let paused = false;
  let startIter = 0;
  const distill = async () => {
    studentNote('');
    const iters = value<number>('iters');
    try {
      await lab.call.stop();
      await lab.call.newStudent(distillConfig());
      await Promise.all([loss.clear(), metric.clear()]);
      startIter = 0;
      paused = false;
      progress.update({ iteration: 0, total: iters, status: 'running', label: 'π-ID' });
      await lab.call.distill(iters, { metricEvery: 50, metricCount: 2000 });
      const st = await lab.call.status();
      progress.update({ iteration: st.studentIteration - startIter, total: iters, status: 'done', label: 'π-ID' });
      studentVersion.bump();
    } catch (e) {
      studentNote((e as Error).message, 'error');
      progress.update({ iteration: 0, total: iters, status: 'error', label: 'π-ID' });
    }
  };
  $('#student-buttons').append(
    button('Distill', 'distill-student', () => void distill(), 'distill a new student from the teacher with these settings'),
    button('Pause', 'pause', async () => {
      await lab.call.pause();
      paused = true;
      const st = await lab.call.status();
      progress.update({ iteration: st.studentIteration, total: value<number>('iters'), status: 'paused', label: 'π-ID' });
    }),
    button('Resume', 'resume', async () => {
      if (!paused) return;
      paused = false;
      await lab.call.resume();
    }),
  );
  modelIO(lab, 'teacher', $('#teacher-io'), {
    storageKey: () => `piflow-teacher-${value('dataset')}`,
    fileName: () => `teacher-${value('dataset')}`,
    onLoaded: () => teacherVersion.bump(),
  });
  modelIO(lab, 'student', $('#student-io'), {
    storageKey: () => `piflow-student-${value('dataset')}-${value('policy')}`,
    fileName: () => `student-${value('dataset')}-${value('policy')}-nfe${value('nfe')}`,
    onLoaded: () => studentVersion.bump(),
  });
});
