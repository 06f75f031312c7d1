/**
 * Notebook 2 — π-Flow: distill a policy. Loads (or takes) a teacher, distills a GMFlow or DX student
 * live in the worker, streams the π-ID loss and the sliced-W1 distance to data, and shows teacher vs
 * policy trajectories with the selected particle's policy, plus samples at 1, 2 and 4 NFE.
 */
import { DATASETS_2D } from '../src/data/toy2d.js';
import { schemaInputs } from '../src/viz/schema-controls.js';
import { scatterGrid } from '../src/viz/scatter.js';
import { TrajectoryView } from '../src/viz/trajectories.js';
import { PolicyInspector, type PolicySnapshot } from '../src/viz/policy-inspector.js';
import { LossChart, MetricChart } from '../src/viz/charts.js';
import { ProgressView } from '../src/viz/progress.js';
import { exportButtons } from '../src/viz/export.js';
import { particleX0, splitPaths } from '../src/runtime/paths.js';
import { POLICY_FAMILIES } from '../src/engine/families.js';
import type { PolicyPaths } from '../src/runtime/inspect2d.js';
import type { LabClient } from '../src/runtime/lab-client.js';
import type { DistillConfig } from '../src/runtime/student.js';
import { studentConfig, studentControls } from './student-controls.js';
import { piflow2dSchema } from './schemas.js';
import { $, counter, messenger, modelIO, noisePoints, presentation, startLab, openNotebook } from './common.js';
import { distillButtons, type LoopControls } from './loop-buttons.js';

/**
 * The students shipped next to each dataset's teacher (static/pretrained/<dataset>/<dir>/, made by
 * scripts/pretrain-students.sh with this notebook's defaults, 400 π-ID iterations, DX on moons and spirals
 * longer): loaded on arrival,
 * and again whenever the policy settings (family, K or N, DX mode, NFE) match one and no student of
 * your own is there, so paths, inspector and samples show at once.
 */
export const SHIPPED_STUDENTS = [
  { policy: 'gmflow', k: 8, nfe: 2, dir: 'gmflow-k8-nfe2', datasets: DATASETS_2D },
  // moons and spirals with their own π-ID settings (1,000 iterations; 800 at lr 1e-3): scripts/pretrain-students.sh
  { policy: 'dx', n: 10, dxMode: 'grid', nfe: 2, dir: 'dx-n10-nfe2', datasets: DATASETS_2D },
] as const;

/** Every control's range, default, label and help (notebooks/schemas.ts): the URL state and the controls are built from it. */
export const schema = piflow2dSchema;

const { state, nb } = openNotebook(schema, 'student-message');

const teacherNote = messenger('teacher-message');
const studentNote = messenger('student-message');

// ---- controls (from the schema) ----------------------------------------------------------------
schemaInputs(nb, schema, state, { dataset: $('#teacher-controls'), temperature: $('#sampling-controls') });
studentControls(nb, schema, state, $('#policy-controls'), $('#piid-controls'));
schemaInputs(nb, schema, state, { distillFrom: $('#piid-controls') });
const studentVersion = nb.input('studentVersion', counter());
const teacherVersion = nb.input('teacherVersion', counter());
/** bumped every few seconds while distilling: the trajectory view and the student's samples follow it */
const liveVersion = nb.input('liveVersion', counter());

const value = <T>(name: string) => nb.controls.get(name)!.value as T;

/** The π-ID configuration from the controls. */
export const distillConfig = (): Partial<DistillConfig> => studentConfig(nb);

// ---- views -------------------------------------------------------------------------------------
const progress = new ProgressView($('#progress'));
const loss = new LossChart($('#loss'), { logY: true, title: 'π-ID loss', width: 420, height: 260 });
/** the live sliced W1: every this many π-ID iterations */
const METRIC_EVERY = 50;
const metric = new MetricChart($('#metric'), {
  title: 'sliced W1 to data (2,000 samples)', width: 420, height: 260,
  // before a run: what the chart will show, not an empty iteration axis with the teacher's lines alone
  emptyUntilPoints: true, emptyText: `run Distill to see the student's sliced W1<br>against the teacher's (a point every ${METRIC_EVERY} iterations)`,
});
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
    const fam = POLICY_FAMILIES[st.kind];
    const part = {
      x0Path: x0.slice(2 * a, 2 * b + 2), xPath: xs.slice(2 * a, 2 * b + 2), sigma: p.sigma.slice(a, b + 1),
      label: `step ${s + 1}, σ_src = ${st.sigmaSrc.toFixed(2)}`, family: fam.title, symbol: fam.size?.symbol,
    };
    if (st.draw === 'mixture') {
      return { draw: 'mixture', ...part, means: st.means.slice(i * st.k * 2, (i + 1) * st.k * 2), weights: st.weights.slice(i * st.k, (i + 1) * st.k), std: st.std[i] };
    }
    if (st.draw === 'points') return { draw: 'points', ...part, points: st.points.slice(i * st.n * 2, (i + 1) * st.n * 2) };
    return { draw: 'none', ...part };
  });
  inspector.update(snaps);
  inspector.setTime(traj.time);
}

/** the Distill / Pause / Resume loop (space drives it in presentation mode) */
let distillLoop: LoopControls | undefined;
presentation({
  loop: () => distillLoop,
  scrubber: traj,
  // Start from and what Distill will do sit under the buttons: the choice is made on the same screen as the run
  side: [$('#student-buttons'), $('#progress'), nb.controls.get('distillFrom')!, $('[data-testid="distill-plan"]'), $('[data-testid="distill-origin"]'), $('[data-testid="student-message"]')],
  figures: [$('#trajectories').parentElement as HTMLElement],
});

/** Where the current student came from: shipped with the page, distilled here, or loaded by you. */
let studentOrigin: 'none' | 'shipped' | 'distilled' | 'loaded' = 'none';
/** whether the teacher is the shipped one (a shipped student only goes with its own teacher) */
let teacherShipped = false;

/** "GMFlow student (K = 8), distilled for 2 NFE" — from the worker's status, whatever its origin. */
function studentLabel(st: Awaited<ReturnType<LabClient['call']['status']>>): string {
  const p = st.studentPolicy;
  if (!st.student || !p) return '';
  const fam = POLICY_FAMILIES[p.policy];
  const size = fam.size ? ` (${fam.size.symbol} = ${st.student[fam.size.key]})` : '';
  const origin = studentOrigin === 'shipped' ? 'shipped ' : studentOrigin === 'loaded' ? 'loaded ' : '';
  const running = st.running === 'student' ? `, iteration ${st.studentIteration}` : '';
  return `${origin}${fam.title} student${size}, distilled for ${p.nfe} NFE${running}`;
}
const originNote = messenger('student-origin');
/** what Distill will do to the student that is there (next to "Start from"), and, once it runs, what it started from */
const planNote = messenger('distill-plan');
const startNote = messenger('distill-origin');

// ---- cells -------------------------------------------------------------------------------------
nb.cell('lab', [], () => startLab());

nb.cell('teacher', ['lab', 'dataset'], async (lab: LabClient, dataset: string) => {
  await lab.call.stop();
  await lab.call.setData({ kind: 'builtin', name: dataset });
  try {
    await lab.call.loadTeacherUrl(`/pretrained/${dataset}/`);
    teacherShipped = true;
    studentOrigin = 'none'; // loading a teacher drops the student
    startNote('');
    teacherNote(`Pretrained ${dataset} teacher loaded.`);
  } catch (e) {
    teacherShipped = false;
    teacherNote(`No pretrained teacher for ${dataset}: ${(e as Error).message}. Upload one.`, 'error');
  }
  // no teacherVersion bump here: this cell's own value re-runs every view of the teacher, and a bump
  // as well ran each of them twice on arrival (the 2,000-sample 128-step reference: 1.8 s more)
  return dataset;
});

/** whether the student message is the 'no shipped student' note (cleared once one loads) */
let noShippedNote = false;
/** The shipped student that matches the policy settings, when there is no student of your own. */
nb.cell('shippedStudent', ['lab', 'teacher', 'teacherVersion', 'policy', 'k', 'n', 'dxMode', 'nfe'], async (lab: LabClient, dataset: string, _v: number, policy: string, k: number, n: number, dxMode: string, nfe: number) => {
  const match = SHIPPED_STUDENTS.find((s) => s.policy === policy && s.nfe === nfe && ('k' in s ? s.k === k : s.n === n && s.dxMode === dxMode));
  if (!match || !teacherShipped || studentOrigin === 'distilled' || studentOrigin === 'loaded') return null;
  if (!(match.datasets as readonly string[]).includes(dataset)) {
    if (studentOrigin === 'none') noShippedNote = true;
    if (studentOrigin === 'none') studentNote(`No shipped ${POLICY_FAMILIES[match.policy].title} student for ${dataset} (scripts/pretrain-students.sh makes one): press Distill.`, 'note');
    return null;
  }
  const st = await lab.call.status();
  if (st.running !== 'idle' || (studentOrigin === 'shipped' && st.studentPolicy?.policy === policy && st.studentPolicy.nfe === nfe && st.student && ('k' in match ? st.student.k === match.k : st.student.n === match.n))) return null;
  try {
    await lab.call.loadStudentUrl(`/pretrained/${dataset}/${match.dir}/`);
    studentOrigin = 'shipped';
    if (noShippedNote) studentNote('');
    noShippedNote = false;
    studentVersion.bump();
  } catch (e) {
    studentNote(`No shipped student for ${dataset} (${(e as Error).message}): press Distill.`, 'note');
  }
  return match.dir;
});

/**
 * The teacher's 128-step Euler samples (2,000, seed 12345), once per teacher: the reference distance
 * and the teacher's sample panel are the same samples (the page's costliest start-up work: ~1.6 s on
 * one wasm thread). After the teacher's paths (a new teacher gives new paths), so that those are drawn first.
 */
nb.cell('teacherMany', ['lab', 'teacherPaths'], async (lab: LabClient) => {
  const st = await lab.call.status();
  if (!st.teacher) return null;
  const samples = await lab.call.teacherSamples(2000, 128, 12345);
  return { samples, swd: await lab.call.swd(samples, 12345) };
});

/** Reference distances: the teacher with many and with few Euler steps. */
nb.cell('references', ['lab', 'teacherMany', 'nfe'], async (lab: LabClient, teacherMany: { swd: number } | null, nfe: number) => {
  if (!teacherMany) return null;
  const many = teacherMany.swd;
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
  originNote(st.student ? `Showing the ${studentLabel(st)}.` : 'No student yet: press Distill.');
  const sel = traj.selection ?? 0;
  if (st.student) {
    traj.select(sel);
    showPolicy(sel);
  } else inspector.update(null);
});

/** The data and the teacher's panel (recomputed only when the teacher changes). */
nb.cell('teacherPanel', ['lab', 'teacherMany'], async (lab: LabClient, teacherMany: { samples: Float32Array } | null) => {
  if (!teacherMany) return null;
  const data = await lab.call.dataSamples(2000, 101);
  return { data, panel: { title: 'teacher, 128 Euler steps', data: [{ name: 'data', points: data, color: '#bbb' }, { name: 'teacher', points: teacherMany.samples, color: '#1f77b4' }] } };
});

/**
 * The student's samples at 1, 2 and 4 NFE for its weights (studentKey) and temperature: a redraw with the
 * same weights (e.g. the shipped student's version bump arriving after the panels were drawn with it, or a
 * new title) reuses them instead of sampling again.
 */
let studentPoints: { key: string; points: Float32Array[] } | null = null;

/** The student at 1, 2 and 4 NFE, each panel labelled with the NFE it was distilled for; live while distilling. */
nb.cell('samplesView', ['lab', 'teacherPanel', 'studentVersion', 'liveVersion', 'temperature'], async (lab: LabClient, tp: { data: Float32Array; panel: { title: string; data: { name: string; points: Float32Array; color: string }[] } } | null, _sv: number, _lv: number, temperature: number) => {
  if (!tp) return;
  const st = await lab.call.status();
  const panels = [tp.panel];
  if (st.student && st.studentPolicy) {
    const label = studentLabel(st);
    const key = `${st.studentKey}|${temperature}`;
    if (studentPoints?.key !== key) {
      const points: Float32Array[] = [];
      for (const nfe of [1, 2, 4]) points.push(await lab.call.studentSamples(2000, 303, { nfe, temperature }));
      studentPoints = { key, points };
    }
    [1, 2, 4].forEach((nfe, i) => {
      const title = `${label[0].toUpperCase()}${label.slice(1)}, shown at ${nfe} NFE`;
      panels.push({ title, data: [{ name: 'data', points: tp.data, color: '#bbb' }, { name: `${nfe} NFE`, points: studentPoints!.points[i], color: '#d62728' }] });
    });
  }
  grid.update(panels);
});

/** Says, before you press Distill, what it will do to the student that is there (the shipped one on arrival). */
nb.cell('distillPlan', ['lab', 'distillFrom', 'studentVersion', 'shippedStudent'], async (lab: LabClient, from: string) => {
  const st = await lab.call.status();
  if (st.running !== 'idle') return;
  const had = studentLabel(st);
  if (from === 'student') planNote(had ? `Distill continues the ${had}, from its own weights.` : 'There is no student to continue: Distill needs “Start from: the teacher”.', had ? 'note' : 'error');
  else if (from === 'run') planNote(st.canDistill ? `Distill resumes the π-ID run of the ${had}, from iteration ${st.studentIteration} (its own settings; these do not apply).` : `There is no π-ID run to resume${had ? ` (the ${had} was saved without its π-ID settings)` : ''}: choose another “Start from”.`, st.canDistill ? 'note' : 'error');
  else planNote(had ? `Distill replaces the ${had}, by a fresh copy of the teacher.` : 'Distill starts from a fresh copy of the teacher.');
});

nb.cell('distilling', ['lab'], (lab: LabClient) => {
  lab.on('metric', (e) => e.phase === 'student' && metric.extend(e.iter, e.swd));
  distillLoop = distillButtons({
    lab,
    progress,
    loss,
    mount: $('#student-buttons'),
    note: studentNote,
    iters: () => value<number>('iters'),
    metricEvery: METRIC_EVERY,
    metricCount: 2000,
    prepare: async () => {
      const had = studentLabel(await lab.call.status());
      startNote('');
      if (value('distillFrom') === 'run') {
        const st = await lab.call.status();
        if (!st.canDistill) throw new Error('There is no π-ID run to resume: choose another “Start from”.');
        startNote(`Resuming the π-ID run of the ${had}, at iteration ${st.studentIteration} (its own settings, optimizer and random stream).`);
      } else if (value('distillFrom') === 'student') {
        if (!had) throw new Error('There is no student to continue: choose “Start from: the teacher”.');
        await lab.call.continueStudent(distillConfig());
        startNote(`Continuing the ${had}, with these settings (its own weights, a fresh optimizer, iterations counted from 0).`);
      } else {
        await lab.call.newStudent(distillConfig());
        startNote(had ? `Started from a fresh copy of the teacher; the ${had}, was replaced (to keep it, choose “Start from: the loaded student”, or reload the page).` : 'Started from a fresh copy of the teacher.');
      }
      studentOrigin = 'distilled';
      await metric.clear();
    },
    onTick: () => liveVersion.bump(),
    onSettle: () => studentVersion.bump(),
  });
  modelIO(lab, 'teacher', $('#teacher-io'), {
    storageKey: () => `piflow-teacher-${value('dataset')}`,
    fileName: () => `teacher-${value('dataset')}`,
    onLoaded: () => {
      teacherShipped = false; // your own teacher: a shipped student would not match it
      studentOrigin = 'none';
      startNote('');
      teacherVersion.bump();
    },
  });
  modelIO(lab, 'student', $('#student-io'), {
    storageKey: () => `piflow-student-${value('dataset')}-${value('policy')}`,
    fileName: () => `student-${value('dataset')}-${value('policy')}-nfe${value('nfe')}`,
    onLoaded: () => {
      studentOrigin = 'loaded';
      startNote('');
      studentVersion.bump();
    },
  });
});
