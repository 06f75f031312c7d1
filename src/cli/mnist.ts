/**
 * The MNIST side of `piflow train-teacher --dataset mnist`, `distill`, `sample`, `evaluate` (chosen by
 * commands.ts when the dataset is mnist or the model directory holds an image network; the options
 * come from options.ts, shared with the 2D side), and
 * `piflow train-classifier` (the metric's classifier).
 */
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../engine/backend.js';
import { GuardedAdam } from '../engine/optim.js';
import { Rng } from '../engine/rng.js';
import { ImageSampler } from '../data/mnist.js';
import { loadMnist } from '../data/mnist-node.js';
import { createImageNet, DEFAULT_UNET, SMALL_UNET, TINY_UNET, type ImageNet, type UNetConfig } from '../models/unet.js';
import { loadImageNet, saveImageNet } from '../models/image-io-node.js';
import type { LoadedImageNet } from '../models/image-artifacts.js';
import { readArtifactsDir, writeArtifactsDir } from '../models/io-node.js';
import { classifierFromArtifacts, classifierToArtifacts, classifyImages, createClassifier, FEATURE_DIM, type Classifier } from '../models/classifier.js';
import { classStats, frechetFromFeatures } from '../metrics/frechet.js';
import { imageFidelity } from '../metrics/fidelity.js';
import {
  ImageDistiller, ImageDmdDistiller, ImageShortcutDistiller, ImageSource, ImageTeacherTrainer, sampleImageStudent, sampleImageTeacher,
} from '../runtime/mnist.js';
import type { TrainerState } from '../runtime/train-state.js';
import { policyConfigOf } from '../runtime/student.js';
import { OptSpecs, parseArgs, ParsedOpts, UsageError } from './args.js';
import { encodeGrayPng, imageGrid } from './png.js';
import {
  BACKEND, checkResume, DistillRun, drawWith, fidelityTeacherDir, givenOptions, importResumed, kindOf, loadResume, nfeOf, notATeacher, runOptionsOf, SampledModel, SEED, sizeOf,
  stateFiles, studentPolicyOf, trainLoop,
} from './common.js';
import { baselineOf, METHOD_TITLES } from '../models/methods.js';
import { baselineConfigOf, checkMethodOptions, DEFAULT_CLASSIFIER_DIR, distillConfigOf, distillOpts, evaluateOpts, sampleOpts, trainTeacherOpts } from './options.js';
import { headWidth, policyFamily } from '../engine/families.js';
import { checkOutDir, checkOutFile, readConfigJson, writeOutFile } from './output.js';
import { checkMemory, classifierTrainBytes, unetFloatsPerImage, unetTrainBytes } from './limits.js';

export { DEFAULT_CLASSIFIER_DIR };

/** An image model's sizes from its config.json (for the memory estimates; the load checks the file). */
async function imageCfgOf(dir: string): Promise<{ size: number; base: number; channels: number }> {
  const c = (await readConfigJson(dir))?.config ?? {};
  const int = (v: unknown, d: number) => (Number.isInteger(v) && Number(v) > 0 ? Number(v) : d);
  return { size: int(c.size, DEFAULT_UNET.size), base: int(c.base, DEFAULT_UNET.base), channels: int(c.channels, DEFAULT_UNET.channels) };
}

async function mnistSource(): Promise<ImageSource> {
  const { images, labels } = await loadMnist('train');
  const s = new ImageSampler(images, labels);
  return (n, rng) => s.sample(n, rng);
}

export const TRAIN_TEACHER_MNIST_OPTS = trainTeacherOpts('images');

export async function trainTeacherMnistCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, TRAIN_TEACHER_MNIST_OPTS);
  const cfg: UNetConfig = o.size === 'small' ? SMALL_UNET : o.size === 'tiny' ? TINY_UNET : DEFAULT_UNET;
  checkMemory(o, TRAIN_TEACHER_MNIST_OPTS, ['batch'], (v) => unetTrainBytes(Number(v.batch), cfg, cfg.channels), String(o.backend));
  const out = await checkOutDir(String(o.out), 'teacher');
  const backend = await initNodeBackend(String(o.backend));
  const data = await mnistSource();
  const rng = new Rng(Number(o.seed));
  const net = createImageNet(cfg, rng.fork());
  const adam = { lr: Number(o.lr), warmupSteps: Number(o.warmup), clipNorm: Number(o.clip) };
  const trainer = new ImageTeacherTrainer(net, data, Number(o.batch), adam, rng.nextU32(), Number(o.ema));
  const meta = { dataset: 'mnist', steps: o.steps, batch: o.batch, adam, ema: o.ema, seed: o.seed, backend, command: `piflow train-teacher ${argv.join(' ')}` };
  const secs = await trainLoop('teacher', Number(o.steps), Number(o['save-every']), () => trainer.step(), (done) =>
    trainer.withEmaWeights(() => saveImageNet(net, out, { ...meta, stepsDone: done, weights: Number(o.ema) > 0 ? 'ema' : 'live' })),
  );
  console.log(JSON.stringify({ out, steps: o.steps, seconds: +secs.toFixed(1), backend }));
  trainer.dispose();
  net.dispose();
  return 0;
}

export const DISTILL_MNIST_OPTS = distillOpts('images');

export async function distillMnistCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, DISTILL_MNIST_OPTS);
  const method = checkMethodOptions(o, givenOptions(argv), 'images');
  const baseline = method === 'piflow' ? null : baselineConfigOf(method, o);
  const mark = baselineOf((await readConfigJson(String(o.teacher)))?.meta);
  if (mark) throw notATeacher(String(o.teacher), mark);
  const tcfg = await imageCfgOf(String(o.teacher));
  // the run's definition (meta.options; the dataset is mnist whether --dataset was given or not) and --resume's checks, before any work
  const options = runOptionsOf(o, DISTILL_MNIST_OPTS, { dataset: 'mnist' });
  const resumeDir = o.resume === undefined ? null : String(o.resume);
  const start = resumeDir === null ? 0 : await checkResume(resumeDir, o, options);
  const C = tcfg.channels;
  const pixels = tcfg.size * tcfg.size * C;
  if (baseline?.method === 'shortcut') {
    // the pool's boundary states on the host, the teacher's passes over it (64 at a time), the student's training step
    checkMemory(o, DISTILL_MNIST_OPTS, ['batch', 'pool'], (v) =>
      unetTrainBytes(Number(v.batch), tcfg, C) + unetTrainBytes(64, tcfg, C) / 2 + 4 * Number(v.pool) * pixels * (baseline.nfe + 2), String(o.backend));
  } else if (baseline?.method === 'dmd') {
    // the generator's and the fake network's training steps, and the teacher's forward pass
    checkMemory(o, DISTILL_MNIST_OPTS, ['batch'], (v) => 2.5 * unetTrainBytes(Number(v.batch), tcfg, C), String(o.backend));
  } else {
    checkMemory(o, DISTILL_MNIST_OPTS, ['batch', 'k', 'n', 'intermediate'], (v) => {
      const B = Number(v.batch);
      const policy = policyFamily(v.policy).name;
      const size = sizeOf(v, policy);
      const outCh = headWidth(policy, size, C, 'images');
      return unetTrainBytes(B, tcfg, outCh) + 4 * B * unetFloatsPerImage(tcfg) / 4 +
        4 * B * Number(v.intermediate) * pixels * size * 16;
    }, String(o.backend));
  }
  const out = await checkOutDir(String(o.out), 'student', [String(o.teacher)]);
  const backend = await initNodeBackend(String(o.backend));
  const teacher = await loadImageNet(String(o.teacher), 'teacher');
  const command = `piflow distill ${argv.join(' ')}`;
  let resumed: { student: LoadedImageNet; state: TrainerState } | undefined;
  if (resumeDir !== null) {
    try {
      resumed = await loadResume(resumeDir, start, (d) => loadImageNet(d));
    } catch (e) {
      teacher.dispose();
      throw e;
    }
  }
  let run: DistillRun<ImageNet>;
  try {
    if (baseline) {
      // no data: the shortcut regresses onto the teacher's ODE, DMD matches the teacher's distribution
      const d = baseline.method === 'shortcut'
        ? new ImageShortcutDistiller(teacher, baseline.cfg, resumed?.student)
        : new ImageDmdDistiller(teacher, baseline.cfg, resumed?.student);
      run = {
        label: METHOD_TITLES[baseline.method], step: () => d.step(), student: d.student, trainer: d, dispose: () => d.dispose(),
        meta: { dataset: 'mnist', teacher: String(o.teacher), backend, method: baseline.method, nfe: baseline.nfe, [baseline.method]: baseline.cfg, options, command },
      };
    } else {
      const data = await mnistSource();
      const cfg = distillConfigOf(o, 'images');
      let d: ImageDistiller;
      try {
        d = new ImageDistiller(teacher, data, cfg, resumed?.student);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      run = {
        label: `π-ID ${cfg.policy}`, step: () => d.step(), student: d.student, trainer: d, dispose: () => d.dispose(),
        meta: { dataset: 'mnist', teacher: String(o.teacher), backend, piid: cfg, policy: policyConfigOf(cfg), options, command },
      };
    }
  } catch (e) {
    resumed?.student.dispose();
    teacher.dispose();
    throw e;
  }
  if (resumed) importResumed(run, resumed.state, resumeDir!, teacher);
  const secs = await trainLoop(run.label, Number(o.iters), Number(o['save-every']), run.step, (done) =>
    stateFiles(run.trainer).then((files) => saveImageNet(run.student, out, { ...run.meta, itersDone: done }, files)),
  start);
  console.log(JSON.stringify({ out, method, iters: o.iters, ...(resumeDir !== null ? { resumedFrom: start } : {}), seconds: +secs.toFixed(1), backend }));
  run.dispose();
  run.student.dispose();
  teacher.dispose();
  return 0;
}

type LoadedImageModel = SampledModel<LoadedImageNet>;

async function loadImageModel(dir: string): Promise<LoadedImageModel> {
  const net = await loadImageNet(dir);
  if (net.cfg.kind !== 'teacher') return { net, policy: studentPolicyOf(net.meta, dir) };
  const baseline = baselineOf(net.meta);
  return baseline ? { net, baseline } : { net };
}

function drawImages(m: LoadedImageModel, o: ParsedOpts, count: number, seed: number): Promise<Float32Array> {
  return drawWith(m, o, count, seed, { teacher: sampleImageTeacher, student: sampleImageStudent });
}

export const SAMPLE_MNIST_OPTS = sampleOpts('images');

export async function sampleMnistCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, SAMPLE_MNIST_OPTS);
  const mcfg = await imageCfgOf(String(o.model));
  // the float32 samples, the grid's pixels and the PNG
  checkMemory(o, SAMPLE_MNIST_OPTS, ['count'], (v) => Number(v.count) * mcfg.size * mcfg.size * (4 * mcfg.channels + 3), String(o.backend));
  const out = String(o.out);
  const raw = out.replace(/\.png$/i, '') + '.f32';
  const inputs = [String(o.model)];
  const dests = {
    png: await checkOutFile(out, { inputs }),
    raw: await checkOutFile(raw, { inputs, option: 'out (its .f32)' }),
    json: await checkOutFile(`${raw}.json`, { inputs, option: 'out (its .f32.json)' }),
  };
  await initNodeBackend(String(o.backend));
  const m = await loadImageModel(String(o.model));
  const count = Number(o.count);
  const samples = await drawImages(m, o, count, Number(o.seed));
  if (!samples.every(Number.isFinite)) throw new Error(`${o.model}: sampling produced non-finite values; nothing was written`);
  const { channels: C, size } = m.net.cfg;
  const grid = imageGrid(samples, count, size, size, o.cols === undefined ? undefined : Number(o.cols));
  await writeOutFile(dests.raw, new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
  await writeOutFile(dests.json, JSON.stringify({ dtype: 'float32', endianness: 'little', shape: [count, C, size, size], range: [-1, 1], model: o.model, seed: o.seed }, null, 2) + '\n');
  await writeOutFile(dests.png, encodeGrayPng(grid.width, grid.height, grid.pixels));
  console.log(JSON.stringify({ out, raw, count }));
  m.net.dispose();
  return 0;
}

async function loadClassifier(dir: string): Promise<Classifier> {
  const art = await readArtifactsDir(dir);
  return classifierFromArtifacts(art, art.where);
}

export const EVALUATE_MNIST_OPTS = evaluateOpts('images');

/**
 * An image student's fidelity to its teacher (meta.teacher), as in the methods-mnist figure: pixel ℓ2,
 * classifier-feature distance and class match of its samples against the teacher's `--fidelity-steps`
 * Euler samples from the same seeded noise, and the same for the teacher's own Euler sampler at the
 * student's NFE (the scale). Teachers, `--fidelity-steps 0` and a missing teacher folder give a note.
 */
async function imageFidelityOf(
  m: LoadedImageModel, o: ParsedOpts, s: { pixels: Float32Array; features: Float32Array; pred: ArrayLike<number> }, clf: Classifier, count: number,
): Promise<Record<string, unknown>> {
  if (!m.policy && !m.baseline) return {};
  const steps = Number(o['fidelity-steps']);
  if (steps === 0) return { fidelity: null, fidelityNote: '--fidelity-steps 0: no fidelity' };
  const t = await fidelityTeacherDir(m.net.meta);
  if ('note' in t) return t.note;
  const { dir } = t;
  const teacher = await loadImageNet(dir, 'teacher');
  try {
    const { size, channels } = teacher.cfg;
    if (size !== m.net.cfg.size || channels !== m.net.cfg.channels) {
      return { fidelity: null, fidelityNote: `the teacher ${dir} makes ${channels}×${size}×${size} images, the model ${m.net.cfg.channels}×${m.net.cfg.size}×${m.net.cfg.size}; no fidelity` };
    }
    const seed = Number(o.seed);
    const nfe = nfeOf(m, o)!;
    const classify = async (pixels: Float32Array) => ({ pixels, ...(await classifyImages(clf, pixels, count)) });
    const ref = await classify(await sampleImageTeacher(teacher, count, steps, seed));
    const euler = await classify(await sampleImageTeacher(teacher, count, nfe, seed));
    const dims = channels * size * size;
    const round = (f: { pixelL2: number; featureDistance: number; classMatch: number }) => ({
      pixelL2: +f.pixelL2.toFixed(4), featureDistance: +f.featureDistance.toFixed(4), classMatch: +f.classMatch.toFixed(4),
    });
    return {
      fidelity: round(imageFidelity(s, ref, dims, FEATURE_DIM)),
      fidelityTeacherEuler: round(imageFidelity(euler, ref, dims, FEATURE_DIM)),
      fidelityTeacher: dir, fidelitySteps: steps, fidelityNfe: nfe,
    };
  } finally {
    teacher.dispose();
  }
}

/** `piflow evaluate` for an image model: classifier-feature Fréchet distance to the MNIST test set, class diversity and (students) fidelity to the teacher, as JSON. */
export async function evaluateMnistCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, EVALUATE_MNIST_OPTS);
  const mcfg = await imageCfgOf(String(o.model));
  // the samples and their features (three sets with a student's fidelity: its own, the teacher's reference and Euler), and the test set with its features
  checkMemory(o, EVALUATE_MNIST_OPTS, ['count'], (v) => 3 * Number(v.count) * (mcfg.size * mcfg.size * mcfg.channels * 4 + 64 * 4 * 2) + 10_000 * (784 + 64) * 4 * 2, String(o.backend));
  const backend = await initNodeBackend(String(o.backend));
  const m = await loadImageModel(String(o.model));
  const clf = await loadClassifier(String(o.classifier));
  const count = Number(o.count);
  const t0 = performance.now();
  const samples = await drawImages(m, o, count, Number(o.seed));
  const sampleSecs = (performance.now() - t0) / 1000;
  if (!samples.every(Number.isFinite)) throw new Error(`${o.model}: the model's samples hold non-finite values; no score for a broken model`);
  const test = await loadMnist('test');
  const ref = await classifyImages(clf, test.images.pixels, test.images.n);
  const got = await classifyImages(clf, samples, count);
  const fd = frechetFromFeatures(got.features, count, ref.features, test.images.n, FEATURE_DIM);
  const stats = classStats(got.pred, 10, 0.01);
  const fidelity = await imageFidelityOf(m, o, { pixels: samples, ...got }, clf, count);
  console.log(JSON.stringify({
    model: o.model, kind: kindOf(m, o), dataset: 'mnist', count, frechet: +fd.toFixed(3), classHistogram: stats.histogram,
    entropy: +stats.entropy.toFixed(4), entropyMax: +Math.log(10).toFixed(4), classesCovered: stats.classesCovered,
    ...fidelity, sampleSeconds: +sampleSecs.toFixed(2), backend,
  }));
  m.net.dispose();
  clf.dispose();
  return 0;
}

export const TRAIN_CLASSIFIER_OPTS: OptSpecs = {
  epochs: { type: 'number', default: 6, gt: 0, max: 10_000, help: 'epochs over the 60,000 training images (fractions allowed)' },
  batch: { type: 'int', default: 128, min: 1, max: 1_000_000, help: 'batch size' },
  lr: { type: 'number', default: 1e-3, gt: 0, help: 'Adam learning rate' },
  seed: SEED,
  out: { type: 'string', help: `output directory: new, empty, or a classifier made by piflow (no default: the shipped one is ${DEFAULT_CLASSIFIER_DIR})` },
  backend: BACKEND,
};

/** `piflow train-classifier`: the metric's MNIST classifier; prints its test accuracy. */
export async function trainClassifierCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, TRAIN_CLASSIFIER_OPTS);
  checkMemory(o, TRAIN_CLASSIFIER_OPTS, ['batch'], (v) => classifierTrainBytes(Number(v.batch)), String(o.backend));
  const out = await checkOutDir(String(o.out), 'classifier');
  const backend = await initNodeBackend(String(o.backend));
  const train = await loadMnist('train');
  const test = await loadMnist('test');
  const rng = new Rng(Number(o.seed));
  const clf = createClassifier(rng.fork());
  const sampler = new ImageSampler(train.images, train.labels);
  const B = Number(o.batch);
  const steps = Math.max(1, Math.round((Number(o.epochs) * train.images.n) / B));
  const opt = new GuardedAdam({ lr: Number(o.lr) });
  const vars = clf.model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const labels = new Uint8Array(B);
  const t0 = performance.now();
  const save = async () => {
    const accuracy = await testAccuracy(clf, test.images.pixels, test.labels);
    await writeArtifactsDir(out, await classifierToArtifacts(clf, {
      dataset: 'mnist', epochs: o.epochs, batch: B, lr: o.lr, seed: o.seed, testAccuracy: accuracy, backend, command: `piflow train-classifier ${argv.join(' ')}`,
    }));
    return accuracy;
  };
  await trainLoop('classifier', steps, 0, async () => {
    const x = tf.tensor4d(sampler.sample(B, rng, labels), [B, 1, 28, 28]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10));
    try {
      return await opt.minimize(() => tf.losses.softmaxCrossEntropy(y, clf.apply(x as tf.Tensor4D).logits) as tf.Scalar, vars);
    } finally {
      tf.dispose([x, y]);
    }
  }, async () => undefined);
  const accuracy = await save();
  console.log(JSON.stringify({ out, steps, testAccuracy: +accuracy.toFixed(4), seconds: +((performance.now() - t0) / 1000).toFixed(1), backend }));
  opt.dispose();
  clf.dispose();
  return 0;
}

export async function testAccuracy(clf: Classifier, pixels: Float32Array, labels: Uint8Array): Promise<number> {
  const { pred } = await classifyImages(clf, pixels, labels.length);
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / labels.length;
}
