/**
 * Notebook 1 — Flow matching in 2D: pick or draw data, train a teacher live in the worker, and watch
 * its samples, ODE trajectories, velocity field and density. Cells on @observablehq/runtime; every
 * control is in the URL.
 */
import { bool, int, num, oneOf } from '../src/runtime/url-state.js';
import { DATASETS_2D, parseCsv2d } from '../src/data/toy2d.js';
import { button, messageLine } from '../src/viz/controls.js';
import { schemaInputs } from '../src/viz/schema-controls.js';
import { ScatterView } from '../src/viz/scatter.js';
import { TrajectoryView } from '../src/viz/trajectories.js';
import { VelocityFieldView } from '../src/viz/field.js';
import { LossChart } from '../src/viz/charts.js';
import { ProgressView } from '../src/viz/progress.js';
import { DrawPad } from '../src/viz/draw.js';
import { exportButtons } from '../src/viz/export.js';
import { splitPaths } from '../src/runtime/paths.js';
import type { LabClient } from '../src/runtime/lab-client.js';
import { $, byTestId, counter, DATASET_OPTIONS, messenger, modelIO, noisePoints, presentation, startLab, openNotebook } from './common.js';
import { loopButtons, type LoopControls } from './loop-buttons.js';

const DATA_CHOICES = [...DATASETS_2D, 'draw', 'csv'] as const;
/** Every control's range, default, label and help: the URL state and the controls are built from it. */
const schema = {
  dataset: oneOf(DATA_CHOICES, 'checkerboard', 'data', {
    label: 'Data',
    options: { ...Object.fromEntries(DATASET_OPTIONS.map(([name, , about]) => [name, [name, about] as const])), draw: 'draw your own', csv: ['CSV file', 'x,y rows, e.g. datasets/examples/*.csv'] },
  }),
  width: int(128, { min: 8, max: 512 }, 'teacher width', { label: 'Width', testid: 'teacher-width', help: 'hidden units in each layer of the teacher MLP' }),
  depth: int(3, { min: 1, max: 6 }, 'teacher depth', { label: 'Depth', testid: 'teacher-depth', help: 'number of hidden layers' }),
  lr: num(2e-3, { min: 0, max: 0.1, exclusiveMin: true }, 'learning rate', { label: 'Learning rate', testid: 'teacher-lr', log: true, sliderMin: 1e-5, help: 'Adam step size' }),
  batch: int(1024, { min: 16, max: 8192 }, 'batch', { label: 'Batch', testid: 'teacher-batch', log: true, help: 'data points per training step' }),
  steps: int(2000, { min: 1, max: 100000 }, 'training steps', { label: 'Steps', testid: 'teacher-steps', control: 'field', help: 'training steps of a run' }),
  seed: int(0, { min: 0 }, 'seed', { label: 'Seed', testid: 'seed', help: 'initialisation, noise and σ draws: the same seed and settings reproduce a run' }),
  eulerSteps: int(64, { min: 1, max: 256 }, 'Euler steps', { label: 'Euler steps', testid: 'euler-steps', log: true, help: 'steps of the ODE solver for the teacher samples' }),
  fieldSigma: num(0.5, { min: 0, max: 1 }, 'σ of the field', { label: 'σ', testid: 'field-sigma', step: 0.01, help: 'the noise level at which the velocity field is drawn' }),
  logLoss: bool(true, 'log-scale loss'),
};

const { state, nb } = openNotebook(schema, 'teacher-message');

const note = messenger('teacher-message');

// ---- controls (from the schema) ----------------------------------------------------------------
const tc = $('#teacher-controls');
const controls = schemaInputs(nb, schema, state, {
  dataset: $('#data-controls'),
  width: tc,
  depth: tc,
  lr: tc,
  batch: tc,
  steps: tc,
  seed: tc,
  eulerSteps: $('#sample-controls'),
  fieldSigma: $('#field-controls'),
});
const version = counter();
nb.input('version', version);
/** bumped every few seconds while training: the live views follow it */
const liveVersion = counter();
nb.input('liveVersion', liveVersion);
/** what the current teacher was trained on (or loaded for); bumped when that changes */
const teacherFor = Object.assign(counter(), { data: null as string | null });
nb.input('teacherFor', teacherFor);
const setTeacherFor = (data: string | null) => {
  teacherFor.data = data;
  teacherFor.bump();
};
/** the data now in the worker (a built-in's name, or the custom data's label) */
let currentData: string | null = null;

// ---- views -------------------------------------------------------------------------------------
const progress = new ProgressView($('#progress'));
const loss = new LossChart($('#loss'), { logY: state.logLoss, title: 'teacher loss' });
const samples = new ScatterView($('#samples'), { title: 'data vs teacher samples' });
const traj = new TrajectoryView($('#trajectories'), { title: 'teacher ODE trajectories' });
presentation({ scrubber: traj, side: [$('#teacher-buttons'), $('#progress')], figures: [$('#trajectories')] });
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

/** Data set in the worker; for built-ins, the pretrained teacher is loaded. Returns the data's label. */
nb.cell('data', ['lab', 'training', 'dataset', 'customPoints'], async (lab: LabClient, loop: LoopControls, dataset: string) => {
  if (dataset === 'draw' || dataset === 'csv') {
    if (!customPoints.points) return null;
    await loop.stop();
    await lab.call.setData({ kind: 'points', points: customPoints.points, name: customPoints.label });
    currentData = customPoints.label;
    return currentData; // the teacher (if any) stays, flagged stale until one is trained on these points
  }
  await loop.stop();
  await lab.call.setData({ kind: 'builtin', name: dataset });
  currentData = dataset;
  try {
    await lab.call.loadTeacherUrl(`/pretrained/${dataset}/`);
    // no teacherFor / version bumps: this cell's own value re-runs 'stale' (which reads teacherFor.data) and
    // every view; bumps as well drew each view twice on arrival (the 3,000-sample panel, the paths)
    teacherFor.data = dataset;
    note(`Loaded the pretrained ${dataset} teacher. Press Train to train your own.`);
  } catch (e) {
    note(`No pretrained teacher for ${dataset} (${(e as Error).message}); press Train.`);
  }
  return dataset;
});

/**
 * Staleness: every panel that shows the teacher says when it was trained on other data than the
 * data now set (drawn points, a CSV, a built-in without a pretrained teacher), until Train makes one
 * for these data.
 */
const staleNote = byTestId('stale-note');
const teacherPanels = [samples.element, traj.frame.root, field.frame.root];
nb.cell('stale', ['lab', 'data', 'teacherFor'], async (lab: LabClient, data: string | null) => {
  const st = await lab.call.status();
  const stale = Boolean(st.teacher) && data !== null && teacherFor.data !== data;
  staleNote.textContent = stale ? `stale: this teacher was trained on ${teacherFor.data ?? 'other data'}, not on ${data}; press Train to fit one to these data.` : '';
  staleNote.hidden = !stale;
  for (const el of teacherPanels) el.dataset.stale = String(stale);
  return stale;
});

let refreshes = 0;
async function refreshViews(lab: LabClient, eulerSteps: number, seed: number, stale: boolean) {
  const st = await lab.call.status();
  const data = await lab.call.dataSamples(3000, seed + 101);
  if (!st.teacher) {
    samples.update([{ name: 'data', points: data, color: '#9e9e9e' }]);
    return null;
  }
  const model = await lab.call.teacherSamples(3000, eulerSteps, seed + 202);
  samples.update([
    { name: 'data', points: data, color: '#9e9e9e' },
    { name: `teacher${stale ? ' (stale)' : ''}, ${eulerSteps} Euler steps`, points: model, color: '#1f77b4' },
  ]);
  // which teacher the panel shows: its iteration when sampled, and a count of redraws (tests follow them)
  samples.element.dataset.teacherIteration = String(st.teacherIteration);
  samples.element.dataset.version = String(++refreshes);
  return { model, data };
}

nb.cell('samplesView', ['lab', 'data', 'version', 'liveVersion', 'eulerSteps', 'seed', 'stale'], (lab: LabClient, _d: unknown, _v: number, _l: number, eulerSteps: number, seed: number, stale: boolean) =>
  refreshViews(lab, eulerSteps, seed, stale),
);

nb.cell('pathsView', ['lab', 'data', 'version', 'liveVersion'], async (lab: LabClient) => {
  const st = await lab.call.status();
  if (!st.teacher) return;
  const p = await lab.call.teacherPaths(NOISE, 64);
  traj.update({ teacher: splitPaths(p), policy: [], background: await lab.call.dataSamples(2000, 7) });
});

/** The field and the density of the teacher's samples: redrawn with every new sample panel (live while training). */
nb.cell('fieldView', ['lab', 'fieldSigma', 'samplesView'], async (lab: LabClient, sigma: number, s: { model: Float32Array } | null) => {
  const st = await lab.call.status();
  if (!st.teacher) return;
  const f = await lab.call.field(sigma, 21, 4.2);
  const density = s ? await lab.call.density(s.model, 48, 4.5) : undefined;
  field.update({ positions: f.positions, vectors: f.vectors, sigma, density: density ? { nx: 48, ny: 48, values: density } : undefined });
});

// ---- training ----------------------------------------------------------------------------------
const cfg = () => ({
  width: controls.width!.value,
  depth: controls.depth!.value,
  lr: controls.lr!.value,
  batch: controls.batch!.value,
  steps: controls.steps!.value,
  seed: controls.seed!.value,
});
/** The Train / Pause / Resume buttons, Reset and the model files; the cell's value is the loop's controls. */
nb.cell('training', ['lab'], (lab: LabClient): LoopControls => {
  const loop = loopButtons({
    lab,
    phase: 'teacher',
    label: 'teacher',
    progress,
    loss,
    mount: $('#teacher-buttons'),
    note,
    total: () => cfg().steps,
    iteration: async () => (await lab.call.status()).teacherIteration,
    prepare: async () => {
      await lab.call.newTeacher(cfg());
      setTeacherFor(currentData);
    },
    run: () => lab.call.trainTeacher({}),
    onTick: () => liveVersion.bump(),
    onSettle: () => version.bump(),
    start: ['Train', 'train-teacher', 'train a new teacher from scratch with these settings'],
  });
  presentation({ loop: () => loop }); // space: train / pause / resume
  $('#teacher-buttons').append(
    button('Reset', 'reset', async () => {
      await loop.stop();
      await loss.clear();
      controls.dataset!.dispatchEvent(new Event('input'));
    }, 'stop and go back to the pretrained teacher'),
  );
  modelIO(lab, 'teacher', $('#teacher-io'), {
    storageKey: () => `piflow-teacher-${controls.dataset!.value}`,
    fileName: () => `teacher-${controls.dataset!.value}`,
    // a loaded teacher is taken as meant for the data now set (its file does not say otherwise)
    onLoaded: () => {
      setTeacherFor(currentData);
      version.bump();
    },
  });
  return loop;
});
