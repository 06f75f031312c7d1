/**
 * Notebook 4 — π-Flow on MNIST. Loads the test set, the classifier and the pretrained teacher and
 * student in the MNIST worker; trains a teacher or distills a student live; shows sample grids from the
 * same noise (teacher many/1/2/4 Euler steps vs student 1/2/4 NFE), classifier quality and diversity,
 * the policy's x̂₀ across the substeps next to the teacher's, and PCA trajectories with pixel traces.
 */
import { button } from '../src/viz/controls.js';
import { schemaInputs } from '../src/viz/schema-controls.js';
import { ImageGridView, type ImageRow } from '../src/viz/images.js';
import { TrajectoryView } from '../src/viz/trajectories.js';
import { BarChart, LineChart, LossChart, MetricChart, type LineSeries } from '../src/viz/charts.js';
import { ProgressView } from '../src/viz/progress.js';
import { exportButtons } from '../src/viz/export.js';
import { mostVaryingPixels, pcaPaths, pixelTrace, x0Strip } from '../src/runtime/image-paths.js';
import { fitDomain } from '../src/viz/geometry.js';
import { LabClient } from '../src/runtime/lab-client.js';
import { policyFamily } from '../src/engine/families.js';
import type { MnistApi, MnistEvent } from '../src/runtime/mnist-protocol.js';
import type { ImagePaths, ImageQuality, UNetSize } from '../src/runtime/mnist-lab.js';
import type { DistillConfig } from '../src/runtime/student.js';
import { studentConfig, studentControls } from './student-controls.js';
import { distillButtons, loopButtons } from './loop-buttons.js';
import { mnistSchema } from './schemas.js';
import { $, byTestId, counter, messenger, modelIO, presentation, startLab, openNotebook } from './common.js';

type Mnist = LabClient<MnistApi, MnistEvent>;

/** Every control's range, default, label and help (notebooks/schemas.ts): the URL state and the controls are built from it. */
export const schema = mnistSchema;

const { state, nb } = openNotebook(schema, 'student-message');

const assetsNote = messenger('assets-message');
const teacherNote = messenger('teacher-message');
const studentNote = messenger('student-message');
const qualityNote = messenger('quality-message');
const originNote = messenger('distill-origin');

// ---- controls (from the schema) ----------------------------------------------------------------
const tc = $('#teacher-controls');
const sc = $('#sampling-controls');
schemaInputs(nb, schema, state, { size: tc, teacherLr: tc, teacherBatch: tc, teacherSteps: tc });
studentControls(nb, schema, state, $('#policy-controls'), $('#piid-controls'));
schemaInputs(nb, schema, state, {
  dataFree: $('#piid-controls'),
  distillFrom: $('#piid-controls'),
  temperature: sc,
  sampleSeed: sc,
  manySteps: sc,
  qualityCount: $('#quality-controls'),
  image: $('#inside-controls'),
});
const teacherVersion = nb.input('teacherVersion', counter());
const studentVersion = nb.input('studentVersion', counter());

const value = <T>(name: string) => nb.controls.get(name)!.value as T;

/** The π-ID configuration from the controls (the 2D lesson's, plus data-free π-ID: the shared resolver reads both). */
export const distillConfig = (): Partial<DistillConfig> => studentConfig(nb);

// ---- views -------------------------------------------------------------------------------------
const teacherProgress = new ProgressView($('#teacher-progress'), { testid: 'teacher-progress' });
const teacherLoss = new LossChart($('#teacher-loss'), { logY: true, title: 'teacher flow-matching loss', width: 420, height: 240, testid: 'teacher-loss-plot' });
const progress = new ProgressView($('#progress'));
const loss = new LossChart($('#loss'), { logY: true, title: 'π-ID loss', width: 420, height: 260 });
/** the live Fréchet distance: every this many π-ID iterations */
const METRIC_EVERY = 25;
const metric = new MetricChart($('#metric'), {
  title: 'Fréchet distance to the test set (live, 200 samples)', yTitle: 'classifier FD', width: 420, height: 260,
  // before a run: what the chart will show, not an empty iteration axis with the teacher's lines alone
  emptyUntilPoints: true, emptyText: `run Distill to see the student's Fréchet distance<br>against the teacher's (a point every ${METRIC_EVERY} iterations)`,
});
const samples = new ImageGridView($('#samples'), { title: 'same noise, every sampler', testid: 'samples-plot', labelWidth: 170 });
const qualityChart = new BarChart($('#quality'), { title: 'Fréchet distance (lower is better)', xTitle: 'sampler', yTitle: 'classifier FD', testid: 'quality-plot', width: 460, emptyText: 'press “Measure quality”' });
const classes = new BarChart($('#classes'), { title: 'predicted classes', xTitle: 'digit', yTitle: 'share of samples', testid: 'classes-plot', width: 460, emptyText: 'press “Measure quality”' });
const inside = new ImageGridView($('#inside'), { title: 'x̂₀ along the trajectory', testid: 'inside-plot', labelWidth: 170 });
const traj = new TrajectoryView($('#trajectories'), { title: 'PCA of the paths (PC1, PC2)', width: 420, height: 420 });
// Start from and what the run started from sit under the buttons, on the same screen as Distill
presentation({ scrubber: traj, side: [$('#student-buttons'), $('#progress'), nb.controls.get('distillFrom')!, $('[data-testid="distill-origin"]'), $('[data-testid="student-message"]')], figures: [$('#trajectories').parentElement as HTMLElement] });
const pixels = new LineChart($('#pixels'), { title: 'pixel value against σ', xTitle: 'σ', yTitle: 'pixel value', reverseX: true, width: 420, height: 420, testid: 'pixel-plot' });
exportButtons($('#teacher-loss'), teacherLoss, 'mnist-teacher-loss');
exportButtons($('#loss'), loss, 'mnist-piid-loss');
exportButtons($('#metric'), metric, 'mnist-frechet');
exportButtons($('#samples'), samples, 'mnist-samples');
exportButtons($('#quality'), qualityChart, 'mnist-quality');
exportButtons($('#classes'), classes, 'mnist-classes');
exportButtons($('#inside'), inside, 'mnist-x0-along-the-step');
exportButtons($('#trajectories'), traj, 'mnist-pca-trajectories');
exportButtons($('#pixels'), pixels, 'mnist-pixels');

const ASSETS = { data: '/mnist/', classifier: '/classifier/', teacher: '/pretrained/mnist/teacher/', student: '/pretrained/mnist/gmflow/' };
const COLUMNS = 10;
/**
 * Euler steps of the teacher's best row: the shipped teacher's Fréchet distance (500 samples, seed 0)
 * is 74.1 / 66.8 / 63.5 / 61.9 at 16 / 32 / 64 / 128 steps, so 128 is its best within noise.
 */
const BEST_STEPS = 128;
/** the live metric's samples and noise seed (the worker's defaults) */
const LIVE_COUNT = 200;
const LIVE_SEED = 12345;
const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');

/** whether the student now loaded is the one shipped with the page */
let studentShipped = false;
/** "shipped GMFlow student (K = 8) for 2 NFE" */
function studentName(net: { k?: number; n?: number }, p: { policy: string; nfe: number }): string {
  const fam = policyFamily(p.policy);
  const size = fam.size ? ` (${fam.size.symbol} = ${net[fam.size.key]})` : '';
  return `${studentShipped ? 'shipped ' : ''}${fam.title} student${size}, distilled for ${p.nfe} NFE`;
}

async function withTrainData(lab: Mnist): Promise<void> {
  const st = await lab.call.status();
  if (!st.hasTrainData) {
    teacherNote('Loading the 60,000 training images…');
    await lab.call.loadTrainData(ASSETS.data);
    teacherNote('');
  }
}

// ---- cells -------------------------------------------------------------------------------------
nb.cell('lab', [], async () => {
  const lab = await startLab<MnistApi, MnistEvent>(() =>
    LabClient.connect<MnistApi, MnistEvent>(new Worker(new URL('../src/runtime/mnist-worker.ts', import.meta.url), { type: 'module' })),
  );
  assetsNote('Loading the MNIST test set, the classifier and the pretrained models…');
  try {
    const st = await lab.call.loadAssets(ASSETS);
    studentShipped = st.student !== null;
    assetsNote(`Loaded: test set (10,000 images), classifier, teacher (${st.teacherIteration} steps)${st.student ? `, ${st.studentPolicy ? policyFamily(st.studentPolicy.policy).title : ''} student` : ''}.${st.notes.length ? ` ${st.notes.join('; ')}.` : ''}`);
  } catch (e) {
    assetsNote(`Could not load the lesson's assets: ${(e as Error).message}`, 'error');
  }
  // no version bumps here: this cell's value runs every view once; bumps as well ran each of them
  // again on arrival (the reference FD's 128-step teacher samples twice: ~12 s more on one wasm thread)
  return lab;
});

/** Sample grids from the same noise: teacher many/1/2/4 Euler steps, student 1/2/4 NFE, data. */
nb.cell('samplesView', ['lab', 'teacherVersion', 'studentVersion', 'temperature', 'sampleSeed', 'manySteps'], async (lab: Mnist, _tv: number, _sv: number, temperature: number, seed: number, many: number) => {
  const st = await lab.call.status();
  if (!st.teacher) return;
  const rows: ImageRow[] = [];
  // the teacher's best sampler (its FD stops improving by 128 Euler steps: the shipped teacher, not its sampler, limits these digits)
  if (many < BEST_STEPS) rows.push({ label: `teacher, ${BEST_STEPS} Euler steps (its best)`, images: await lab.call.teacherSamples(COLUMNS, BEST_STEPS, seed) });
  rows.push({ label: `teacher, ${many} Euler steps${many >= BEST_STEPS ? ' (its best)' : ''}`, images: await lab.call.teacherSamples(COLUMNS, many, seed) });
  for (const s of [4, 2, 1]) rows.push({ label: `teacher, ${s} Euler step${s > 1 ? 's' : ''}`, images: await lab.call.teacherSamples(COLUMNS, s, seed) });
  if (st.student) {
    for (const nfe of [4, 2, 1]) rows.push({ label: `π-Flow student, ${nfe} NFE`, images: await lab.call.studentSamples(COLUMNS, seed, { nfe, temperature }) });
  }
  rows.push({ label: 'test images', images: await lab.call.dataSamples(COLUMNS, seed) });
  samples.update({ rows });
});

/** Reference lines for the live Fréchet distance: the teacher with many and with NFE Euler steps, same 200 samples. */
nb.cell('references', ['lab', 'teacherVersion', 'nfe', 'manySteps'], async (lab: Mnist, _tv: number, nfe: number, many: number) => {
  const st = await lab.call.status();
  if (!st.teacher) return null;
  const fd = async (steps: number) => (await lab.call.quality(await lab.call.teacherSamples(LIVE_COUNT, steps, LIVE_SEED))).frechet;
  const refs = { many: await fd(many), few: await fd(nfe) };
  await metric.setReferences([
    { name: `teacher, ${many} Euler steps`, value: refs.many },
    { name: `teacher, ${nfe} Euler step${nfe > 1 ? 's' : ''}`, value: refs.few, dash: 'dot' },
  ]);
  return refs;
});

/** Paths of 8 images: teacher ODE and policy, for the x̂₀ strip, the PCA view and the pixel traces. */
nb.cell('paths', ['lab', 'teacherVersion', 'studentVersion', 'temperature', 'sampleSeed', 'manySteps'], async (lab: Mnist, _tv: number, _sv: number, temperature: number, seed: number, many: number) => {
  const st = await lab.call.status();
  if (!st.teacher) return null;
  return lab.call.paths(8, seed, { teacherSteps: many, temperature });
});

nb.cell('insideView', ['paths', 'image'], (paths: ImagePaths | null, image: number) => {
  if (paths) inside.update(x0Strip(paths, image));
});

nb.cell('trajectoryView', ['paths'], (paths: ImagePaths | null) => {
  if (!paths) return;
  const { teacher, policy } = pcaPaths(paths);
  traj.setDomain(fitDomain([...teacher, ...policy].map((p) => p.points)));
  traj.update({ teacher, policy });
});

/** The three pixels that differ most across the teacher's final images, against σ (teacher solid, policy dashed). */
nb.cell('pixelView', ['paths', 'image'], async (paths: ImagePaths | null, image: number) => {
  if (!paths) return;
  const colors = ['#1f77b4', '#d62728', '#2ca02c'];
  await pixels.update(mostVaryingPixels(paths, 3).flatMap((j, k) => {
    const name = `pixel (${Math.floor(j / 28)}, ${j % 28})`;
    const lines: LineSeries[] = [{ name: `${name}, teacher`, x: paths.teacher.sigma, y: pixelTrace(paths, paths.teacher, image, j), color: colors[k] }];
    if (paths.policy) lines.push({ name: `${name}, policy`, x: paths.policy.sigma, y: pixelTrace(paths, paths.policy, image, j), color: colors[k], dash: 'dash' });
    return lines;
  }));
});

/** Quality and diversity of every sampler on `qualityCount` samples (on demand: it is the slow part). */
nb.cell('quality', ['lab'], (lab: Mnist) => {
  const table = byTestId<HTMLTableElement>('quality-table');
  const measure = async () => {
    const count = value<number>('qualityCount');
    const many = value<number>('manySteps');
    const temperature = value<number>('temperature');
    const st = await lab.call.status();
    if (!st.teacher) return;
    const samplers: { name: string; run: () => Promise<Float32Array> }[] = [
      { name: `teacher ${many} steps`, run: () => lab.call.teacherSamples(count, many, 777) },
      ...[4, 2, 1].map((s) => ({ name: `teacher ${s} step${s > 1 ? 's' : ''}`, run: () => lab.call.teacherSamples(count, s, 777) })),
      ...(st.student ? [4, 2, 1].map((nfe) => ({ name: `student ${nfe} NFE`, run: () => lab.call.studentSamples(count, 777, { nfe, temperature }) })) : []),
    ];
    const results: { name: string; q: ImageQuality }[] = [];
    for (const s of samplers) {
      qualityNote(`Measuring ${s.name} (${count} samples)…`);
      results.push({ name: s.name, q: await lab.call.quality(await s.run()) });
      await qualityChart.update([{ name: `FD, ${count} samples`, x: results.map((r) => r.name), y: results.map((r) => r.q.frechet) }]);
    }
    const digits = Array.from({ length: 10 }, (_, d) => String(d));
    const shares = await lab.call.testClassShares();
    await classes.update(
      results.filter((r) => !/ [12] step/.test(r.name)).map((r) => ({ name: r.name, x: digits, y: r.q.stats.histogram.map((c) => c / r.q.count) })),
      { name: 'test set (10,000 labels)', x: digits, y: shares },
    );
    table.innerHTML = '<tr><th>sampler</th><th>FD</th><th>class entropy</th><th>classes covered</th></tr>' +
      results.map((r) => `<tr data-sampler="${r.name}"><td>${r.name}</td><td>${fmt(r.q.frechet)}</td><td>${fmt(r.q.stats.entropy)} (${fmt(r.q.stats.entropy / Math.log(10))}·ln 10)</td><td>${r.q.stats.classesCovered}/10</td></tr>`).join('');
    qualityNote(`Measured on ${count} samples each (test-set reference: 10,000 images).`);
  };
  $('#quality-buttons').append(button('Measure quality', 'measure-quality', () => {
    measure().catch((e) => qualityNote((e as Error).message, 'error'));
  }, 'sample every sampler and compute the classifier metrics'));
});

nb.cell('training', ['lab'], (lab: Mnist) => {
  lab.on('metric', (e) => e.phase === 'student' && metric.extend(e.iter, e.quality.frechet));
  loopButtons({
    lab,
    phase: 'teacher',
    label: 'teacher',
    progress: teacherProgress,
    loss: teacherLoss,
    mount: $('#teacher-buttons'),
    note: teacherNote,
    total: () => value<number>('teacherSteps'),
    iteration: async () => (await lab.call.status()).teacherIteration,
    prepare: async () => {
      await withTrainData(lab);
      const steps = value<number>('teacherSteps');
      await lab.call.newTeacher({ size: value<UNetSize>('size'), lr: value('teacherLr'), batch: value('teacherBatch'), steps, seed: value('seed'), ema: steps >= 2000 ? 0.999 : 0 });
      studentVersion.bump();
    },
    run: () => lab.call.trainTeacher({}),
    onSettle: () => teacherVersion.bump(),
    start: ['Train a new teacher', 'train-teacher', 'train a teacher from scratch with these settings (replaces the loaded one)'],
    pause: ['Pause', 'teacher-pause'],
    resume: ['Resume', 'teacher-resume'],
  });
  const distill = distillButtons({
    lab,
    progress,
    loss,
    mount: $('#student-buttons'),
    note: studentNote,
    iters: () => value<number>('iters'),
    metricEvery: METRIC_EVERY,
    metricCount: LIVE_COUNT,
    prepare: async () => {
      if (value('dataFree') === 'data') await withTrainData(lab);
      const st = await lab.call.status();
      const had = st.student && st.studentPolicy ? studentName(st.student, st.studentPolicy) : '';
      originNote('');
      if (value('distillFrom') === 'run') {
        if (!st.canDistill) throw new Error('There is no π-ID run to resume: choose another “Start from”.');
        studentShipped = false;
        originNote(`Resuming the π-ID run of the ${had}, at iteration ${st.studentIteration} (its own settings, optimizer and random stream).`);
      } else if (value('distillFrom') === 'student') {
        if (!had) throw new Error('There is no loaded student to continue: choose “Start from: the teacher”.');
        await lab.call.continueStudent(distillConfig());
        studentShipped = false;
        originNote(`Continuing the ${had}, with these settings (its own weights, a fresh optimizer, iterations counted from 0).`);
      } else {
        await lab.call.newStudent(distillConfig());
        studentShipped = false;
        originNote(had ? `Started from a fresh copy of the teacher; the ${had}, was replaced (to keep it, choose “Start from: the loaded student”, or reload the page).` : 'Started from a fresh copy of the teacher.');
      }
      await metric.clear();
    },
    onSettle: () => studentVersion.bump(),
  });
  presentation({ loop: () => distill }); // space: distill / pause / resume
  modelIO(lab, 'teacher', $('#teacher-io'), {
    storageKey: () => 'piflow-mnist-teacher',
    fileName: () => 'mnist-teacher',
    onLoaded: () => teacherVersion.bump(),
  });
  modelIO(lab, 'student', $('#student-io'), {
    storageKey: () => `piflow-mnist-student-${value('policy')}`,
    fileName: () => `mnist-student-${value('policy')}-nfe${value('nfe')}`,
    onLoaded: () => {
      studentShipped = false;
      originNote('');
      studentVersion.bump();
    },
  });
});
