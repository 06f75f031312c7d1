/**
 * Notebook 1 — Flow matching in 2D: pick or draw data, train a teacher live in the worker, and watch
 * its samples, ODE trajectories, velocity field and density. Cells on @observablehq/runtime; every
 * control is in the URL.
 */
import { Notebook } from '../src/runtime/notebook.js';
import { bool, int, num, oneOf } from '../src/runtime/url-state.js';
import { DATASETS_2D, parseCsv2d } from '../src/data/toy2d.js';
import { button, messageLine, numberControl, selectControl } from '../src/viz/controls.js';
import { ScatterView } from '../src/viz/scatter.js';
import { TrajectoryView } from '../src/viz/trajectories.js';
import { VelocityFieldView } from '../src/viz/field.js';
import { LossChart } from '../src/viz/charts.js';
import { ProgressView } from '../src/viz/progress.js';
import { DrawPad } from '../src/viz/draw.js';
import { exportButtons } from '../src/viz/export.js';
import { splitPaths } from '../src/runtime/paths.js';
import type { LabClient } from '../src/runtime/lab-client.js';
import { $, counter, DATASET_OPTIONS, followLoop, messenger, initialState, modelIO, noisePoints, renderMath, startLab, syncUrl } from './common.js';

const DATA_CHOICES = [...DATASETS_2D, 'draw', 'csv'] as const;
const schema = {
  dataset: oneOf(DATA_CHOICES, 'checkerboard', 'data'),
  width: int(128, { min: 8, max: 512 }, 'teacher width'),
  depth: int(3, { min: 1, max: 6 }, 'teacher depth'),
  lr: num(2e-3, { min: 0, max: 0.1, exclusiveMin: true }, 'learning rate'),
  batch: int(1024, { min: 16, max: 8192 }, 'batch'),
  steps: int(2000, { min: 1, max: 100000 }, 'training steps'),
  seed: int(0, { min: 0 }, 'seed'),
  eulerSteps: int(64, { min: 1, max: 256 }, 'Euler steps'),
  fieldSigma: num(0.5, { min: 0, max: 1 }, 'σ of the field'),
  logLoss: bool(true, 'log-scale loss'),
};

const { state, messages } = initialState(schema);
const nb = new Notebook();
syncUrl(schema, nb, state);
renderMath();

const note = messenger('teacher-message');
if (messages.length) note(`Some settings in the address were invalid and were reset: ${messages.join('; ')}`, 'error');

// ---- controls ----------------------------------------------------------------------------------
const dataControls = $('#data-controls');
nb.input('dataset', selectControl({ label: 'Data', options: [...DATASET_OPTIONS, ['draw', 'draw your own'], ['csv', 'CSV file', 'x,y rows, e.g. datasets/examples/*.csv']] as const, value: state.dataset, testid: 'dataset' }), dataControls);
const tc = $('#teacher-controls');
nb.input('width', numberControl({ label: 'Width', value: state.width, min: 8, max: 512, integer: true, testid: 'teacher-width' }), tc);
nb.input('depth', numberControl({ label: 'Depth', value: state.depth, min: 1, max: 6, integer: true, testid: 'teacher-depth' }), tc);
nb.input('lr', numberControl({ label: 'Learning rate', value: state.lr, min: 1e-5, max: 0.1, log: true, exclusiveMin: true, testid: 'teacher-lr' }), tc);
nb.input('batch', numberControl({ label: 'Batch', value: state.batch, min: 16, max: 8192, integer: true, log: true, testid: 'teacher-batch' }), tc);
nb.input('steps', numberControl({ label: 'Steps', value: state.steps, min: 1, max: 100000, integer: true, slider: false, testid: 'teacher-steps' }), tc);
nb.input('seed', numberControl({ label: 'Seed', value: state.seed, min: 0, integer: true, slider: false, testid: 'seed' }), tc);
nb.input('eulerSteps', numberControl({ label: 'Euler steps', value: state.eulerSteps, min: 1, max: 256, integer: true, log: true, testid: 'euler-steps' }), $('#sample-controls'));
nb.input('fieldSigma', numberControl({ label: 'σ', value: state.fieldSigma, min: 0, max: 1, step: 0.01, testid: 'field-sigma' }), $('#field-controls'));
const version = counter();
nb.input('version', version);
/** bumped every few seconds while training: the cheap views follow it */
const liveVersion = counter();
nb.input('liveVersion', liveVersion);

// ---- views -------------------------------------------------------------------------------------
const progress = new ProgressView($('#progress'));
const loss = new LossChart($('#loss'), { logY: state.logLoss, title: 'teacher loss' });
const samples = new ScatterView($('#samples'), { title: 'data vs teacher samples' });
const traj = new TrajectoryView($('#trajectories'), { title: 'teacher ODE trajectories' });
const field = new VelocityFieldView($('#field'), { title: 'velocity field' });
exportButtons($('#samples'), samples, 'samples');
exportButtons($('#trajectories'), traj, 'trajectories');
exportButtons($('#field'), field, 'field');
exportButtons($('#loss'), loss, 'teacher-loss');
const NOISE = noisePoints(24, 1);

// ---- custom data (draw / CSV) ------------------------------------------------------------------
const custom = $('#custom-data');
const customMsg = messageLine('data-message');
const pad = new DrawPad(custom, { testid: 'draw-pad' });
const useDrawn = button('Use these points', 'use-drawn', () => {
  if (pad.count < 2) return customMsg.show('Draw at least two points first.', 'error');
  setCustom(pad.root.value, `${pad.count} drawn points`);
});
const csvInput = document.createElement('input');
csvInput.type = 'file';
csvInput.accept = '.csv,text/csv';
csvInput.dataset.testid = 'csv-input';
csvInput.addEventListener('change', async () => {
  const f = csvInput.files?.[0];
  if (!f) return;
  try {
    const pts = parseCsv2d(await f.text());
    setCustom(pts, `${pts.length / 2} points from ${f.name}`);
  } catch (e) {
    customMsg.show(`${f.name}: ${(e as Error).message}`, 'error');
  }
});
custom.append(useDrawn, csvInput, customMsg);
const customPoints = Object.assign(counter(), { points: null as Float32Array | null, label: '' });
function setCustom(p: Float32Array, label: string) {
  customPoints.points = p;
  customPoints.label = label;
  customMsg.show(`Using ${label}. Press Train to fit a teacher to them.`);
  customPoints.bump();
}
nb.input('customPoints', customPoints);

// ---- cells -------------------------------------------------------------------------------------
nb.cell('lab', [], () => startLab());

nb.cell('customVisible', ['dataset'], (dataset: string) => {
  pad.root.hidden = dataset !== 'draw';
  useDrawn.hidden = dataset !== 'draw';
  csvInput.hidden = dataset !== 'csv';
  custom.hidden = dataset !== 'draw' && dataset !== 'csv';
});

/** Data set in the worker; for built-ins, the pretrained teacher is loaded. */
nb.cell('data', ['lab', 'dataset', 'customPoints'], async (lab: LabClient, dataset: string) => {
  if (dataset === 'draw' || dataset === 'csv') {
    if (!customPoints.points) return null;
    await lab.call.stop();
    await lab.call.setData({ kind: 'points', points: customPoints.points, name: customPoints.label });
    return 'custom';
  }
  await lab.call.stop();
  await lab.call.setData({ kind: 'builtin', name: dataset });
  try {
    await lab.call.loadTeacherUrl(`/pretrained/${dataset}/`);
    note(`Loaded the pretrained ${dataset} teacher. Press Train to train your own.`);
  } catch (e) {
    note(`No pretrained teacher for ${dataset} (${(e as Error).message}); press Train.`);
  }
  version.bump();
  return dataset;
});

async function refreshViews(lab: LabClient, eulerSteps: number, seed: number) {
  const st = await lab.call.status();
  const data = await lab.call.dataSamples(3000, seed + 101);
  if (!st.teacher) {
    samples.update([{ name: 'data', points: data, color: '#9e9e9e' }]);
    return null;
  }
  const model = await lab.call.teacherSamples(3000, eulerSteps, seed + 202);
  samples.update([
    { name: 'data', points: data, color: '#9e9e9e' },
    { name: `teacher, ${eulerSteps} Euler steps`, points: model, color: '#1f77b4' },
  ]);
  return { model, data };
}

nb.cell('samplesView', ['lab', 'data', 'version', 'eulerSteps', 'seed'], (lab: LabClient, _d: unknown, _v: number, eulerSteps: number, seed: number) =>
  refreshViews(lab, eulerSteps, seed),
);

nb.cell('pathsView', ['lab', 'data', 'version', 'liveVersion'], async (lab: LabClient) => {
  const st = await lab.call.status();
  if (!st.teacher) return;
  const p = await lab.call.teacherPaths(NOISE, 64);
  traj.update({ teacher: splitPaths(p), policy: [], background: await lab.call.dataSamples(2000, 7) });
});

nb.cell('fieldView', ['lab', 'data', 'version', 'liveVersion', 'fieldSigma', 'samplesView'], async (lab: LabClient, _d: unknown, _v: number, _l: number, sigma: number, s: { model: Float32Array } | null) => {
  const st = await lab.call.status();
  if (!st.teacher) return;
  const f = await lab.call.field(sigma, 21, 4.2);
  const density = s ? await lab.call.density(s.model, 48, 4.5) : undefined;
  field.update({ positions: f.positions, vectors: f.vectors, sigma, density: density ? { nx: 48, ny: 48, values: density } : undefined });
});

// ---- training ----------------------------------------------------------------------------------
nb.cell('training', ['lab'], (lab: LabClient) => {
  followLoop(lab, 'teacher', { progress, loss, label: 'teacher' }, () => liveVersion.bump());
  const buttons = $('#teacher-buttons');
  const cfg = () => ({
    width: nb.controls.get('width')!.value as number,
    depth: nb.controls.get('depth')!.value as number,
    lr: nb.controls.get('lr')!.value as number,
    batch: nb.controls.get('batch')!.value as number,
    steps: nb.controls.get('steps')!.value as number,
    seed: nb.controls.get('seed')!.value as number,
  });
  let paused = false;
  const train = async () => {
    note('');
    try {
      await lab.call.stop();
      await lab.call.newTeacher(cfg());
      await loss.clear();
      paused = false;
      const run = lab.call.trainTeacher({});
      progress.update({ iteration: 0, total: cfg().steps, status: 'running', label: 'teacher' });
      await run;
      const st = await lab.call.status();
      progress.update({ iteration: st.teacherIteration, total: cfg().steps, status: 'done', label: 'teacher' });
      version.bump();
    } catch (e) {
      note((e as Error).message, 'error');
      progress.update({ iteration: 0, total: cfg().steps, status: 'error', label: 'teacher' });
    }
  };
  buttons.append(
    button('Train', 'train-teacher', () => void train(), 'train a new teacher from scratch with these settings'),
    button('Pause', 'pause', async () => {
      await lab.call.pause();
      paused = true;
      const st = await lab.call.status();
      progress.update({ iteration: st.teacherIteration, total: cfg().steps, status: 'paused', label: 'teacher' });
    }),
    button('Resume', 'resume', async () => {
      if (!paused) return;
      paused = false;
      await lab.call.resume();
    }),
    button('Reset', 'reset', async () => {
      await lab.call.stop();
      await loss.clear();
      progress.update({ iteration: 0, total: cfg().steps, status: 'idle', label: 'teacher' });
      nb.controls.get('dataset')!.dispatchEvent(new Event('input'));
    }, 'stop and go back to the pretrained teacher'),
  );
  modelIO(lab, 'teacher', $('#teacher-io'), {
    storageKey: () => `piflow-teacher-${nb.controls.get('dataset')!.value}`,
    fileName: () => `teacher-${nb.controls.get('dataset')!.value}`,
    onLoaded: () => version.bump(),
  });
});
