/**
 * The 2D side of `piflow train-teacher`, `distill` (π-ID and the shortcut / DMD baselines), `sample`,
 * `evaluate` (commands.ts routes here; MNIST runs go to mnist.ts). The options come from options.ts.
 */
import { initNodeBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { DATASETS_2D, sample2d, toCsv2d } from '../data/toy2d.js';
import { createToyNet, ToyNet } from '../models/mlp.js';
import { policyFamily } from '../engine/families.js';
import { loadToyNet, saveToyNet } from '../models/io-node.js';
import type { LoadedToyNet } from '../models/artifacts.js';
import type { TrainerState } from '../runtime/train-state.js';
import { slicedWasserstein1 } from '../metrics/swd.js';
import { modeCoverage, precision } from '../metrics/modes.js';
import { meanPairDistance } from '../metrics/fidelity.js';
import { datasetSource, Distiller, policyConfigOf, sampleStudent, sampleTeacher, TeacherTrainer } from '../runtime/toy.js';
import { DmdDistiller, ShortcutDistiller } from '../runtime/baselines.js';
import { parseArgs, ParsedOpts, UsageError } from './args.js';
import { checkOutDir, checkOutFile, readConfigJson, writeOutFile } from './output.js';
import { checkMemory, mlpForwardBytes, mlpTrainBytes, samplesBytes, toyOutDim } from './limits.js';
import {
  checkResume, DistillRun, drawWith, fidelityTeacherDir, givenOptions, importResumed, kindOf, loadResume, nfeOf, notATeacher, runOptionsOf, SampledModel, sizeOf, stateFiles,
  studentPolicyOf, trainLoop,
} from './common.js';
import { baselineOf, METHOD_TITLES } from '../models/methods.js';
import { baselineConfigOf, checkMethodOptions, distillConfigOf, distillOpts, evaluateOpts, sampleOpts, trainTeacherOpts } from './options.js';

export const TRAIN_TEACHER_OPTS = trainTeacherOpts('points');

export async function trainTeacherCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, TRAIN_TEACHER_OPTS);
  checkMemory(o, TRAIN_TEACHER_OPTS, ['batch', 'width', 'depth'], (v) => mlpTrainBytes(Number(v.batch), Number(v.width), Number(v.depth), 2), String(o.backend));
  const out = await checkOutDir(String(o.out), 'teacher');
  const backend = await initNodeBackend(String(o.backend));
  const seed = Number(o.seed);
  const rng = new Rng(seed);
  const net = createToyNet({ kind: 'teacher', width: Number(o.width), depth: Number(o.depth) }, rng.fork());
  const trainer = new TeacherTrainer(net, datasetSource(String(o.dataset)), Number(o.batch), { lr: Number(o.lr) }, rng.nextU32());
  const meta = {
    dataset: o.dataset, steps: o.steps, batch: o.batch, lr: o.lr, seed, backend,
    command: `piflow train-teacher ${argv.join(' ')}`,
  };
  const secs = await trainLoop('teacher', Number(o.steps), Number(o['save-every']), () => trainer.step(), (done) =>
    saveToyNet(net, out, { ...meta, stepsDone: done }),
  );
  console.log(JSON.stringify({ out, steps: o.steps, seconds: +secs.toFixed(1), backend }));
  trainer.dispose();
  net.dispose();
  return 0;
}

export const DISTILL_OPTS = distillOpts('points');

export async function distillCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, DISTILL_OPTS);
  const method = checkMethodOptions(o, givenOptions(argv), 'points');
  const baseline = method === 'piflow' ? null : baselineConfigOf(method, o);
  // the teacher's config.json: a baseline student is no teacher; its width and depth for the memory estimate (the load checks it all)
  const tfile = await readConfigJson(String(o.teacher));
  const mark = baselineOf(tfile?.meta);
  if (mark) throw notATeacher(String(o.teacher), mark);
  const tcfg = tfile?.config ?? {};
  const resumeDir = o.resume === undefined ? null : String(o.resume);
  const options = runOptionsOf(o, DISTILL_OPTS);
  const start = resumeDir === null ? 0 : await checkResume(resumeDir, o, options);
  const tw = Number.isInteger(tcfg.width) ? Number(tcfg.width) : 256;
  const td = Number.isInteger(tcfg.depth) ? Number(tcfg.depth) : 4;
  if (baseline?.method === 'shortcut') {
    // the pool's states and the teacher's pass over it, then the student's training step
    checkMemory(o, DISTILL_OPTS, ['batch', 'pool'], (v) => {
      const P = Number(v.pool);
      return mlpTrainBytes(Number(v.batch), tw, td, 2) + mlpForwardBytes(P, tw, td, 2) + 8 * P * (baseline.nfe + 1);
    }, String(o.backend));
  } else if (baseline?.method === 'dmd') {
    // the generator's and the fake network's training steps and the teacher's forward pass
    checkMemory(o, DISTILL_OPTS, ['batch'], (v) => 2 * mlpTrainBytes(Number(v.batch), tw, td, 2) + 2 * mlpForwardBytes(Number(v.batch), tw, td, 2), String(o.backend));
  } else {
    checkMemory(o, DISTILL_OPTS, ['batch', 'k', 'n', 'intermediate'], (v) => {
      const B = Number(v.batch);
      const policy = policyFamily(v.policy).name;
      const per = sizeOf(v, policy);
      return mlpTrainBytes(B, tw, td, toyOutDim(policy, per)) + mlpForwardBytes(B, tw, td, 2) +
        4 * B * Number(v.intermediate) * per * 2 * 16;
    }, String(o.backend));
  }
  const out = await checkOutDir(String(o.out), 'student', [String(o.teacher)]);
  const backend = await initNodeBackend(String(o.backend));
  const teacher = await loadToyNet(String(o.teacher), 'teacher');
  const dataset = String(o.dataset ?? teacher.meta.dataset ?? '');
  if (!(DATASETS_2D as readonly string[]).includes(dataset)) {
    teacher.dispose();
    throw new UsageError(`--dataset: the teacher's config names no known dataset ('${dataset}'); pass --dataset`);
  }
  const command = `piflow distill ${argv.join(' ')}`;
  let resumed: { student: LoadedToyNet; state: TrainerState } | undefined;
  if (resumeDir !== null) {
    try {
      resumed = await loadResume(resumeDir, start, (d) => loadToyNet(d));
    } catch (e) {
      teacher.dispose();
      throw e;
    }
  }
  let run: DistillRun<ToyNet>;
  try {
    if (baseline) {
      const d = baseline.method === 'shortcut'
        ? new ShortcutDistiller(teacher, baseline.cfg, resumed?.student)
        : new DmdDistiller(teacher, datasetSource(dataset), baseline.cfg, resumed?.student);
      run = {
        label: METHOD_TITLES[baseline.method], step: () => d.step(), student: d.student, trainer: d, dispose: () => d.dispose(),
        // a velocity-format student marked by meta.method and meta.nfe (methods.ts)
        meta: { dataset, teacher: String(o.teacher), backend, method: baseline.method, nfe: baseline.nfe, [baseline.method]: baseline.cfg, options, command },
      };
    } else {
      const cfg = distillConfigOf(o, 'points');
      let d: Distiller;
      try {
        d = new Distiller(teacher, datasetSource(dataset), cfg, resumed?.student);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      run = {
        label: `π-ID ${cfg.policy}`, step: () => d.step(), student: d.student, trainer: d, dispose: () => d.dispose(),
        meta: { dataset, teacher: String(o.teacher), backend, piid: cfg, policy: policyConfigOf(cfg), options, command },
      };
    }
  } catch (e) {
    resumed?.student.dispose();
    teacher.dispose();
    throw e;
  }
  if (resumed) importResumed(run, resumed.state, resumeDir!, teacher);
  const secs = await trainLoop(run.label, Number(o.iters), Number(o['save-every']), run.step, (done) =>
    stateFiles(run.trainer).then((files) => saveToyNet(run.student, out, { ...run.meta, itersDone: done }, files)),
  start);
  console.log(JSON.stringify({ out, method, iters: o.iters, ...(resumeDir !== null ? { resumedFrom: start } : {}), seconds: +secs.toFixed(1), backend }));
  run.dispose();
  run.student.dispose();
  teacher.dispose();
  return 0;
}

export const SAMPLE_OPTS = sampleOpts('points');

type LoadedModel = SampledModel<ToyNet & { meta: Record<string, unknown> }>;

async function loadModel(dir: string): Promise<LoadedModel> {
  const net = await loadToyNet(dir);
  if (net.cfg.kind !== 'teacher') return { net, policy: studentPolicyOf(net.meta, dir) };
  const baseline = baselineOf(net.meta);
  return baseline ? { net, baseline } : { net };
}

function drawSamples(m: LoadedModel, o: ParsedOpts, count: number, seed: number): Promise<Float32Array> {
  return drawWith(m, o, count, seed, { teacher: sampleTeacher, student: sampleStudent });
}

export async function sampleCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, SAMPLE_OPTS);
  checkMemory(o, SAMPLE_OPTS, ['count'], (v) => samplesBytes(Number(v.count), 2, 36), String(o.backend));
  const out = String(o.out);
  const dest = await checkOutFile(out, { inputs: [String(o.model)], allowStdout: true, allowDevice: true });
  await initNodeBackend(String(o.backend));
  const m = await loadModel(String(o.model));
  const samples = await drawSamples(m, o, Number(o.count), Number(o.seed));
  if (!samples.every(Number.isFinite)) throw new Error(`${o.model}: sampling produced non-finite values; nothing was written`);
  await writeOutFile(dest, toCsv2d(samples));
  const summary = JSON.stringify({ out, count: o.count });
  if (dest.kind === 'stdout') console.error(summary);
  else console.log(summary);
  m.net.dispose();
  return 0;
}

export const EVALUATE_OPTS = evaluateOpts('points');

/** Euler steps of the teacher's reference ODE samples for `fidelity`. */
export const FIDELITY_STEPS = 128;

/**
 * A student's fidelity to its teacher (meta.teacher): the mean distance of its samples to the
 * teacher's FIDELITY_STEPS-step Euler samples from the same seeded noise, and the same for the
 * teacher's own Euler sampler at the student's NFE (the reference scale). A missing teacher folder is
 * a note, not a failure.
 */
async function fidelityOf(m: LoadedModel, o: ParsedOpts, samples: Float32Array, count: number, seed: number): Promise<Record<string, unknown>> {
  if (!m.policy && !m.baseline) return {};
  const t = await fidelityTeacherDir(m.net.meta);
  if ('note' in t) return t.note;
  const { dir } = t;
  const teacher = await loadToyNet(dir, 'teacher');
  try {
    const nfe = nfeOf(m, o)!;
    const ref = await sampleTeacher(teacher, count, FIDELITY_STEPS, seed);
    const euler = await sampleTeacher(teacher, count, nfe, seed);
    return {
      fidelity: +meanPairDistance(samples, ref, 2).toFixed(5),
      fidelityTeacherEuler: +meanPairDistance(euler, ref, 2).toFixed(5),
      fidelityTeacher: dir, fidelitySteps: FIDELITY_STEPS, fidelityNfe: nfe,
    };
  } finally {
    teacher.dispose();
  }
}

/** `piflow evaluate`: sliced W1 of a model's samples to fresh data, precision, mode coverage and (students) fidelity to the teacher, as JSON. */
export async function evaluateCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, EVALUATE_OPTS);
  // samples and data (float32), the projections and sort buffers (float64), the teacher's two sample sets for fidelity
  checkMemory(o, EVALUATE_OPTS, ['count'], (v) => Number(v.count) * 80, String(o.backend));
  const backend = await initNodeBackend(String(o.backend));
  const m = await loadModel(String(o.model));
  const dataset = String(o.dataset ?? m.net.meta.dataset ?? '');
  if (!(DATASETS_2D as readonly string[]).includes(dataset)) throw new UsageError(`--dataset: unknown '${dataset}'`);
  const count = Number(o.count);
  const seed = Number(o.seed);
  const t0 = performance.now();
  const samples = await drawSamples(m, o, count, seed);
  const sampleSecs = (performance.now() - t0) / 1000;
  if (!samples.every(Number.isFinite)) throw new Error(`${o.model}: the model's samples hold non-finite values; no score for a broken model`);
  const rng = new Rng(seed + 1_000_003);
  const data = sample2d(dataset, count, rng);
  const swd = slicedWasserstein1(samples, data, 2, Number(o.projections), rng);
  // precision and mode coverage against the dataset's descriptor (datasets/), as in src/metrics/modes.ts
  const cov = modeCoverage(samples, dataset);
  const coverage = {
    covered: cov.modesCovered, modes: cov.modes, entropy: +cov.entropy.toFixed(4), targetEntropy: +cov.targetEntropy.toFixed(4),
    share: cov.share.map((v) => +v.toFixed(4)), uncovered: cov.labels.filter((_, k) => !cov.covered[k]),
  };
  const fidelity = await fidelityOf(m, o, samples, count, seed);
  console.log(JSON.stringify({
    model: o.model, kind: kindOf(m, o), dataset, count, swd: +swd.toFixed(5), precision: +precision(samples, dataset).toFixed(4), coverage,
    ...fidelity, sampleSeconds: +sampleSecs.toFixed(2), backend,
  }));
  m.net.dispose();
  return 0;
}
