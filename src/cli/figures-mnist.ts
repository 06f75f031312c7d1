/**
 * The `methods-mnist` figure of `piflow figures`: every method on the shipped MNIST teacher
 * (static/pretrained/mnist/teacher, a small U-Net), each student initialised from it and trained with
 * the same budget (iterations at the same batch): π-Flow GMFlow by π-ID (distilled for 2 NFE, sampled
 * at 1 / 2 / 4), shortcut regression at 1 and 2 NFE, the DMD-style one-step generator; the teacher's
 * Euler at 1 / 2 / 4 / many steps; the shipped GMFlow student (longer π-ID) as a reference row.
 *
 * Every sampler draws its noise from the same seeded stream in the same chunks (h = 0: no sampler
 * draws more), so row i of every method comes from the same noise: fidelity compares it with the
 * teacher's many-step Euler sample of the same row — pixel ℓ2, classifier-feature distance and class
 * match (src/metrics/fidelity.ts). Quality and diversity: the classifier's Fréchet distance to the
 * test set, predicted-class entropy and classes covered (src/metrics/frechet.ts).
 */
import { policyFamily } from '../engine/families.js';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ImageSampler } from '../data/mnist.js';
import { loadMnist } from '../data/mnist-node.js';
import type { ImageNet } from '../models/unet.js';
import { loadImageNet, saveImageNet } from '../models/image-io-node.js';
import { readArtifactsDir } from '../models/io-node.js';
import { classifierFromArtifacts, classifyImages, FEATURE_DIM, type Classifier } from '../models/classifier.js';
import { classStats, frechetDistance, meanCov } from '../metrics/frechet.js';
import { imageFidelity, type ClassifiedImages } from '../metrics/fidelity.js';
import {
  DEFAULT_IMAGE_DISTILL, ImageDistiller, ImageDmdDistiller, ImageShortcutDistiller, sampleImageStudent, sampleImageTeacher,
} from '../runtime/mnist.js';
import { policyConfigOf, type DistillConfig, type StudentPolicyConfig } from '../runtime/student.js';
import { ModelCache, trainSteps, type ModelRecord } from './figure-cache.js';
import type { BlockSpec, FigureLayer, FigureSpec, ScatterPanelSpec } from '../viz/figure-render.js';

/** What the MNIST figure trains and measures (quick or full). */
export interface MnistFiguresConfig {
  /** samples per method (and for the data row), from the same noise */
  samples: number;
  /** images per row of the grid */
  grid: number;
  /** test images of the Fréchet reference */
  testImages: number;
  /** the teacher's "many" Euler steps: the fidelity reference, and the shortcut's target ODE */
  manySteps: number;
  k: number;
  /** Adam (0.9, 0.95) warm-up steps of every student */
  warmup: number;
  piid: { iters: number; batch: number; lr: number };
  shortcut: { iters: number; batch: number; lr: number; pool: number };
  dmd: { iters: number; batch: number; lr: number; fakeUpdates: number };
}

export const MNIST_QUICK: MnistFiguresConfig = {
  samples: 24, grid: 8, testImages: 500, manySteps: 8, k: 8, warmup: 0,
  piid: { iters: 3, batch: 4, lr: 2e-4 },
  shortcut: { iters: 4, batch: 8, lr: 2e-4, pool: 16 },
  dmd: { iters: 2, batch: 4, lr: 1e-4, fakeUpdates: 5 },
};

/**
 * The full configuration: one budget for every student, 200 updates at batch 32 (measured here on a
 * quiet core: π-ID ≈ 1 s an iteration, shortcut ≈ 0.3 s plus ≈ 30 s for its pool, DMD ≈ 2.2 s with its
 * 5 fake updates: about 14 minutes of training), 1,000 samples per method.
 */
export const MNIST_FULL: MnistFiguresConfig = {
  samples: 1000, grid: 12, testImages: 10000, manySteps: 32, k: 8, warmup: 100,
  piid: { iters: 200, batch: 32, lr: 2e-4 },
  shortcut: { iters: 200, batch: 32, lr: 2e-4, pool: 512 },
  dmd: { iters: 200, batch: 32, lr: 1e-4, fakeUpdates: 5 },
};

export type MnistSpec =
  | { method: 'piid'; policy: 'gmflow' | 'dx'; k: number; nfe: number; window?: number; iters: number; batch: number; lr: number; warmup: number }
  | { method: 'shortcut'; nfe: number; teacherSteps: number; iters: number; batch: number; lr: number; pool: number; warmup: number }
  | { method: 'dmd'; iters: number; batch: number; lr: number; fakeUpdates: number; warmup: number };

export interface MnistRow {
  method: string;
  /** network evaluations per sample (null for the data row) */
  nfe: number | null;
  label: string;
  /** classifier-feature Fréchet distance to the test images */
  frechet: number;
  /** predicted-class entropy (nats; ln 10 = 2.303 is uniform) */
  entropy: number;
  /** classes holding more than 1% of the samples */
  classesCovered: number;
  /** fidelity to the teacher's many-step sample from the same noise (null for the data row) */
  pixelL2: number | null;
  featureDistance: number | null;
  classMatch: number | null;
  model?: string;
}

export const MNIST_METHOD_COLORS: Record<string, string> = {
  'data (train images)': '#9e9e9e', 'teacher Euler': '#3b75af', 'π-Flow GMFlow': '#e8710a', 'π-Flow GMFlow (shipped)': '#ffbb78', 'π-Flow DX': '#2ca02c',
  'shortcut regression': '#8c564b', 'DMD-style': '#d62728',
};

const round = (v: number, d = 5) => Number(v.toFixed(d));
const adamOf = (lr: number, warmup: number) => ({ lr, beta1: 0.9, beta2: 0.95, warmupSteps: warmup });

function distillConfigOf(s: Extract<MnistSpec, { method: 'piid' }>, seed: number): DistillConfig {
  return { ...DEFAULT_IMAGE_DISTILL, policy: s.policy, k: s.k, nfe: s.nfe, windowSubsteps: s.window ?? DEFAULT_IMAGE_DISTILL.windowSubsteps, batch: s.batch, seed, adam: { ...DEFAULT_IMAGE_DISTILL.adam, ...adamOf(s.lr, s.warmup) } };
}

export interface MnistFigureInput {
  cfg: MnistFiguresConfig;
  seed: number;
  backend: string;
  cacheRoot: string;
  records: Map<string, ModelRecord>;
  /** the repository root (static/pretrained/mnist, static/classifier) */
  repo: string;
}

export interface MnistFigureResult {
  spec: FigureSpec;
  rows: MnistRow[];
  numbers: Record<string, unknown>;
  models: string[];
}

/** The methods-mnist figure: grids of every method's samples from the same noise, and the metrics. */
export async function methodsMnist(input: MnistFigureInput): Promise<MnistFigureResult> {
  const { cfg, seed, repo } = input;
  const teacherDir = path.join(repo, 'static', 'pretrained', 'mnist', 'teacher');
  const shippedDir = path.join(repo, 'static', 'pretrained', 'mnist', 'gmflow');
  const teacher = await loadImageNet(teacherDir, 'teacher');
  const digest = createHash('sha256').update(await readFile(path.join(teacherDir, 'weights.bin'))).digest('hex').slice(0, 16);
  const art = await readArtifactsDir(path.join(repo, 'static', 'classifier'));
  const clf: Classifier = await classifierFromArtifacts(art, art.where);
  let train: ImageSampler | null = null;
  const trainImages = async () => {
    if (!train) {
      const t = await loadMnist('train');
      train = new ImageSampler(t.images, t.labels);
    }
    return train;
  };
  const cache = new ModelCache<ImageNet, MnistSpec>(input.cacheRoot, {
    dataset: 'mnist', seed, backend: input.backend, teacher: digest,
    load: (dir) => loadImageNet(dir),
    save: (net, dir, meta) => saveImageNet(net, dir, meta),
    dispose: (n) => n.dispose(),
    train: async (spec) => {
      if (spec.method === 'piid') {
        const data = await trainImages();
        const d = new ImageDistiller(teacher, (n, rng) => data.sample(n, rng), distillConfigOf(spec, seed));
        const r = await trainSteps(spec.iters, () => d.step());
        d.dispose();
        return { net: d.student, ...r };
      }
      if (spec.method === 'shortcut') {
        const d = new ImageShortcutDistiller(teacher, { nfe: spec.nfe, teacherSteps: spec.teacherSteps, pool: spec.pool, batch: spec.batch, seed, adam: adamOf(spec.lr, spec.warmup) });
        const r = await trainSteps(spec.iters, () => d.step());
        d.dispose();
        return { net: d.student, ...r };
      }
      const d = new ImageDmdDistiller(teacher, {
        batch: spec.batch, fakeUpdates: spec.fakeUpdates, seed, generatorAdam: adamOf(spec.lr, spec.warmup), fakeAdam: adamOf(spec.lr, spec.warmup),
      });
      const r = await trainSteps(spec.iters, () => d.step());
      d.dispose();
      return { net: d.student, ...r };
    },
  }, input.records);
  const shipped = await loadImageNet(shippedDir);
  try {
    const n = cfg.samples;
    const chunk = Math.min(100, n);
    const sampleSeed = seed + 1;
    const test = await loadMnist('test');
    const testN = Math.min(cfg.testImages, test.images.n);
    const ref = await classifyImages(clf, test.images.pixels.subarray(0, testN * 784), testN);
    const refStats = meanCov(ref.features, testN, FEATURE_DIM);
    const classify = async (pixels: Float32Array): Promise<ClassifiedImages> => ({ pixels, ...(await classifyImages(clf, pixels, n)) });
    const euler = (net: ImageNet, steps: number) => sampleImageTeacher(net, n, steps, sampleSeed, chunk);
    const reference = await classify(await euler(teacher, cfg.manySteps));

    const rows: MnistRow[] = [];
    const grid: { label: string; images: number[] }[] = [];
    const models: string[] = [];
    const add = async (method: string, nfe: number | null, label: string, s: ClassifiedImages | Float32Array, model?: string) => {
      const c = s instanceof Float32Array ? await classify(s) : s;
      if (!c.pixels.every(Number.isFinite)) throw new Error(`${label}: non-finite samples`);
      const m = meanCov(c.features, n, FEATURE_DIM);
      const stats = classStats(c.pred, 10, 0.01);
      const fid = nfe === null ? null : imageFidelity(c, reference, 784, FEATURE_DIM);
      rows.push({
        method, nfe, label, frechet: round(frechetDistance(m.mean, m.cov, refStats.mean, refStats.cov), 3), entropy: round(stats.entropy, 4),
        classesCovered: stats.classesCovered, pixelL2: fid && round(fid.pixelL2, 4), featureDistance: fid && round(fid.featureDistance, 4),
        classMatch: fid && round(fid.classMatch, 4), ...(model ? { model } : {}),
      });
      grid.push({ label, images: Array.from(c.pixels.subarray(0, cfg.grid * 784), (v) => round(v, 3)) });
      if (model) models.push(model);
      console.error(`figures: methods-mnist ${label}: FD ${rows[rows.length - 1].frechet}`);
    };

    // the data row: the first training images (no noise, no fidelity): the Fréchet distance's floor at this sample count
    const data = await trainImages();
    await add('data (train images)', null, 'data (train images)', data.images.pixels.slice(0, n * 784));
    for (const steps of [1, 2, 4]) await add('teacher Euler', steps, `teacher Euler ${steps}`, await euler(teacher, steps));
    await add('teacher Euler', cfg.manySteps, `teacher Euler ${cfg.manySteps}`, reference);

    const gmSpec: MnistSpec = { method: 'piid', policy: 'gmflow', k: cfg.k, nfe: 2, ...cfg.piid, warmup: cfg.warmup };
    const gm = await cache.get('mnist/gmflow', gmSpec);
    const gmPolicy: StudentPolicyConfig = policyConfigOf(distillConfigOf(gmSpec, seed));
    for (const nfe of [1, 2, 4]) {
      await add('π-Flow GMFlow', nfe, `π-Flow GMFlow, ${nfe} NFE`, await sampleImageStudent(gm, gmPolicy, n, sampleSeed, { nfe, chunk }), 'mnist/gmflow');
    }
    // DX (N = 10 grid points per pixel, the authors' averaging window of 3 substeps: without it DX
    // diverges here as on 2D — a first run with window 0 went from π-ID loss 0.13 to 2–18 in 200 iterations)
    const dxSpec: MnistSpec = { method: 'piid', policy: 'dx', k: cfg.k, nfe: 2, window: policyFamily('dx').defaults.windowSubsteps, ...cfg.piid, warmup: cfg.warmup };
    const dx = await cache.get('mnist/dx', dxSpec);
    const dxPolicy: StudentPolicyConfig = policyConfigOf(distillConfigOf(dxSpec, seed));
    for (const nfe of [1, 2, 4]) {
      await add('π-Flow DX', nfe, `π-Flow DX, ${nfe} NFE`, await sampleImageStudent(dx, dxPolicy, n, sampleSeed, { nfe, chunk }), 'mnist/dx');
    }
    for (const nfe of [1, 2]) {
      const id = `mnist/shortcut-nfe${nfe}`;
      const net = await cache.get(id, { method: 'shortcut', nfe, teacherSteps: cfg.manySteps, ...cfg.shortcut, warmup: cfg.warmup });
      await add('shortcut regression', nfe, `shortcut, ${nfe} NFE`, await euler(net, nfe), id);
    }
    const dmd = await cache.get('mnist/dmd', { method: 'dmd', ...cfg.dmd, warmup: cfg.warmup });
    await add('DMD-style', 1, 'DMD-style, 1 NFE', await euler(dmd, 1), 'mnist/dmd');
    const shippedMeta = shipped.meta as { policy?: StudentPolicyConfig; itersDone?: number };
    const shippedPolicy = shippedMeta.policy!;
    const shippedIters = Number(shippedMeta.itersDone ?? (shipped.meta.piid as { iters?: number } | undefined)?.iters ?? NaN);
    await add('π-Flow GMFlow (shipped)', 2, `shipped GMFlow (${Number.isFinite(shippedIters) ? `${shippedIters} it.` : 'longer π-ID'}), 2 NFE`,
      await sampleImageStudent(shipped, shippedPolicy, n, sampleSeed, { nfe: 2, chunk }));

    const imageBlock: BlockSpec = {
      kind: 'images', labelWidth: 230,
      title: `MNIST: the first ${cfg.grid} of ${n} samples per method, every row from the same noise (the data row: training images)`,
      rows: grid,
    };
    const layers = (y: 'entropy' | 'classMatch'): FigureLayer[] => rows.filter((r) => r.nfe !== null || y === 'entropy').map((r) => ({
      name: r.label, color: MNIST_METHOD_COLORS[r.method], radius: r.nfe === null ? 4 : r.nfe === 1 ? 3 : r.nfe === 2 ? 4.5 : 6, opacity: 0.9,
      points: [round(Math.log10(Math.max(r.frechet, 1e-3)), 4), (y === 'entropy' ? r.entropy : r.classMatch) as number],
    }));
    const metricBlock: BlockSpec = {
      kind: 'scatter', maxCols: 2, size: 440,
      title: 'quality (log₁₀ Fréchet distance, lower is better) against diversity (class entropy) and fidelity (class match with the teacher\'s sample from the same noise)',
      panels: [
        metricScatter('quality vs diversity', 'x: log₁₀ FD   y: class entropy (nats)', layers('entropy'), 440),
        metricScatter('quality vs fidelity', 'x: log₁₀ FD   y: class match with the teacher', layers('classMatch'), 440),
      ],
    };
    const numbers = {
      samples: n, testImages: testN, manySteps: cfg.manySteps, sampleSeed, chunk, teacher: 'static/pretrained/mnist/teacher',
      shippedStudent: { dir: 'static/pretrained/mnist/gmflow', iters: Number.isFinite(shippedIters) ? shippedIters : null },
      budget: { piid: cfg.piid, shortcut: cfg.shortcut, dmd: cfg.dmd, warmup: cfg.warmup, adam: 'Adam (0.9, 0.95)' },
    };
    return { spec: { name: 'methods-mnist', blocks: [imageBlock, metricBlock] }, rows, numbers, models: [...new Set(models)] };
  } finally {
    cache.dispose();
    teacher.dispose();
    shipped.dispose();
    clf.dispose();
  }
}

/** A metric scatter with room above the values for the legend (as figures.ts's metricPanel). */
function metricScatter(title: string, frameTitle: string, layers: FigureLayer[], size: number): ScatterPanelSpec {
  const xs: number[] = [], ys: number[] = [];
  for (const l of layers) for (let i = 0; i < l.points.length; i += 2) { xs.push(l.points[i]); ys.push(l.points[i + 1]); }
  const f = Math.min(0.8, (layers.length * 13 + 16) / Math.max(100, size - 60));
  const top = Math.min(4, (1.12 * f) / (1 - f) + 0.05);
  const pad = (a: number, b: number, up: number): [number, number] => {
    const d = b - a || Math.abs(a) || 1;
    return [round(a - 0.12 * d, 4), round(b + up * d, 4)];
  };
  return { title, frameTitle, layers, domain: [pad(Math.min(...xs), Math.max(...xs), 0.12), pad(Math.min(...ys), Math.max(...ys), top)] };
}

/** figures.md's table of the MNIST rows. */
export function mnistRowsTable(rows: MnistRow[]): string {
  const f = (v: number | null, d = 3) => (v === null ? '–' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(d));
  const head = '| method | NFE | Fréchet distance | class entropy | classes ≥ 1% | pixel ℓ2 to teacher | feature distance | class match |\n|---|---|---|---|---|---|---|---|';
  return [head, ...rows.map((r) => `| ${r.label} | ${r.nfe ?? '–'} | ${f(r.frechet)} | ${f(r.entropy)} | ${r.classesCovered}/10 | ${f(r.pixelL2)} | ${f(r.featureDistance)} | ${f(r.classMatch)} |`)].join('\n');
}


