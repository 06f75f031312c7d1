/**
 * `piflow figures [--quick] [--only NAME,…] [--backend wasm] --out DIR`: trains (or reuses from the
 * cache) what each figure needs, computes every number behind it, draws it with the notebooks' own
 * views in headless chromium (web/figures/render.html, src/viz/figure-render.ts) and writes NAME.svg,
 * NAME.png, figures.json and figures.md into DIR.
 *
 * Models are cached under `--cache` (default runs/figures-cache) in a folder named by the hash of
 * their configuration (method, training settings, seed, backend, the teacher's weights), saved with
 * the CLI's crash-safe writer (models/io-node.ts); a later run loads them instead of training.
 * Every sampler draws its noise from the same seeded stream in one chunk (sampleInChunks with chunk =
 * count), so row i of every method's samples comes from the same noise point: fidelity to the teacher
 * is the mean distance to the teacher's 128-step Euler sample of the same row.
 *
 * The 2D figures use the `--teacher` (checkerboard); methods-2d adds 8 Gaussians on its shipped
 * teacher (static/pretrained/gaussians8, model ids `gaussians8/…`), and methods-mnist
 * (figures-mnist.ts) the shipped MNIST teacher, student and classifier (ids `mnist/…`).
 * `--only` into a folder whose figures.json has the same configuration, seed and backend keeps that
 * file's other figures (their numbers, models and the runs that made them) in figures.json and figures.md.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { chromium } from 'playwright-core';
import { parseArgs, SEED_MAX, UsageError, type OptSpecs } from './args.js';
import { BASE_FLAGS, chromiumPath, isLocalUrl } from './browser.js';
import { startServer, WEB_ROOT } from './serve.js';
import { initNodeBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { loadToyNet, saveToyNet } from '../models/io-node.js';
import type { ToyNet } from '../models/mlp.js';
import { sample2d } from '../data/toy2d.js';
import { slicedWasserstein1 } from '../metrics/swd.js';
import { modeCoverage, precision } from '../metrics/modes.js';
import { meanPairDistance } from '../metrics/fidelity.js';
import {
  datasetSource, DEFAULT_DISTILL, Distiller, policyConfigOf, sampleStudent, sampleTeacher, type DistillConfig, type StudentPolicyConfig,
} from '../runtime/toy.js';
import { DmdDistiller, ShortcutDistiller } from '../runtime/baselines.js';
import { particleX0, policyPaths, splitPaths, teacherPaths } from '../runtime/inspect2d.js';
import { metricDomain } from '../viz/metric-domain.js';
import type { BlockSpec, FigureLayer, FigureSpec, InspectorPanelSpec, RenderedFigure, ScatterPanelSpec } from '../viz/figure-render.js';
import type { PolicySnapshot } from '../viz/policy-inspector.js';
import { POLICY_FAMILIES } from '../engine/families.js';
import type { PolicyFamily } from '../engine/policies.js';
import { ModelCache, trainSteps, type ModelRecord } from './figure-cache.js';
import { methodsMnist, MNIST_FULL, MNIST_QUICK, mnistRowsTable, type MnistFiguresConfig, type MnistRow } from './figures-mnist.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RENDER_PAGE = 'figures/render.html';
const DATASET = 'checkerboard';
/** methods-2d's second dataset, on its shipped teacher (static/pretrained/gaussians8) */
const SECOND_DATASET = 'gaussians8';

export const FIGURE_NAMES = ['few-step-collapse', 'trajectories', 'k-sweep', 'methods-2d', 'nfe-elastic', 'dx-window', 'policy-inside', 'methods-mnist'] as const;
export type FigureName = (typeof FIGURE_NAMES)[number];

export const FIGURES_OPTS: OptSpecs = {
  out: { type: 'string', help: 'output folder (created; NAME.svg, NAME.png, figures.json and figures.md in it are replaced)' },
  quick: { type: 'flag', help: 'the CI configuration: tiny trainings, a few thousand samples (about 2 minutes)' },
  only: { type: 'string', optional: true, help: `comma-separated figure names (default all): ${FIGURE_NAMES.join(', ')}` },
  backend: { type: 'string', default: 'wasm', choices: ['wasm', 'cpu'], help: 'tfjs backend for training and sampling' },
  seed: { type: 'int', default: 0, min: 0, max: SEED_MAX, help: 'seed of every training and sampler' },
  cache: { type: 'string', default: 'runs/figures-cache', help: 'model cache folder (one sub-folder per configuration hash)' },
  teacher: { type: 'string', default: path.join('static', 'pretrained', DATASET), help: `the ${DATASET} teacher (default: the shipped one)` },
};

/** What one configuration (quick or full) trains and measures. */
export interface FiguresConfig {
  name: 'quick' | 'full';
  /** samples per method (one chunk: ≤ 8192 keeps every sampler's noise identical) */
  samples: number;
  /** points drawn per panel (the metrics use all samples) */
  plotPoints: number;
  projections: number;
  piid: { iters: number; batch: number; lr: number };
  shortcut: { iters: number; batch: number; lr: number; pool: number };
  dmd: { iters: number; batch: number; lr: number };
  kValues: number[];
  /** the GMFlow K of the methods figure and the trajectories */
  methodsK: number;
  dxN: number;
  paths: number;
  /** the methods-mnist figure */
  mnist: MnistFiguresConfig;
}

export const QUICK: FiguresConfig = {
  name: 'quick', samples: 3000, plotPoints: 500, projections: 128,
  piid: { iters: 40, batch: 256, lr: 5e-4 },
  shortcut: { iters: 100, batch: 256, lr: 1e-3, pool: 2048 },
  dmd: { iters: 30, batch: 256, lr: 1e-4 },
  kValues: [1, 2, 4, 8, 32], methodsK: 8, dxN: 10, paths: 16, mnist: MNIST_QUICK,
};

/**
 * The full configuration: sized from the quick run's per-iteration times on this machine (2 cores, shared)
 * to about 20 minutes on one core — 8 π-ID students × 300 iterations at batch 512 (≈ 12 min), two
 * shortcut students × 1,000 (≈ 3 min), DMD 500 generator iterations (≈ 3 min), 8,000 samples each.
 */
export const FULL: FiguresConfig = {
  name: 'full', samples: 8000, plotPoints: 600, projections: 256,
  piid: { iters: 300, batch: 512, lr: 5e-4 },
  shortcut: { iters: 1000, batch: 512, lr: 5e-4, pool: 16384 },
  dmd: { iters: 500, batch: 512, lr: 1e-4 },
  kValues: [1, 2, 4, 8, 32], methodsK: 32, dxN: 10, paths: 24, mnist: MNIST_FULL,
};

/** `--only a,b`: known names in FIGURE_NAMES order; unknown names are listed in the error. */
export function parseOnly(raw: string | undefined): FigureName[] {
  if (raw === undefined) return [...FIGURE_NAMES];
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError(`--only '${raw}': name at least one figure (${FIGURE_NAMES.join(', ')})`);
  const unknown = names.filter((n) => !(FIGURE_NAMES as readonly string[]).includes(n));
  if (unknown.length) throw new UsageError(`--only: unknown figure(s) ${unknown.join(', ')}; known: ${FIGURE_NAMES.join(', ')}`);
  return FIGURE_NAMES.filter((n) => names.includes(n));
}

// ---------------------------------------------------------------------------------------------------
// models, cached by configuration

type ModelSpec =
  | { method: 'piid'; policy: PolicyFamily; k: number; n: number; nfe: number; iters: number; batch: number; lr: number; window: number }
  | { method: 'shortcut'; nfe: number; iters: number; batch: number; lr: number; pool: number }
  | { method: 'dmd'; iters: number; batch: number; lr: number };

function distillConfig(s: Extract<ModelSpec, { method: 'piid' }>, seed: number): DistillConfig {
  return {
    ...DEFAULT_DISTILL, policy: s.policy, k: s.k, n: s.n, nfe: s.nfe, batch: s.batch, seed, windowSubsteps: s.window,
    adam: { lr: s.lr },
  };
}

/** The 2D model cache of one dataset's teacher (figure-cache.ts). */
function toyCache(root: string, dataset: string, teacher: ToyNet, digest: string, seed: number, backend: string, records: Map<string, ModelRecord>): ModelCache<ToyNet, ModelSpec> {
  return new ModelCache<ToyNet, ModelSpec>(root, {
    dataset, seed, backend, teacher: digest,
    load: (dir) => loadToyNet(dir),
    save: (net, dir, meta) => saveToyNet(net, dir, meta),
    dispose: (n) => n.dispose(),
    train: async (spec) => {
      if (spec.method === 'piid') {
        const d = new Distiller(teacher, datasetSource(dataset), distillConfig(spec, seed));
        const r = await trainSteps(spec.iters, () => d.step());
        d.dispose();
        return { net: d.student, ...r };
      }
      if (spec.method === 'shortcut') {
        const d = new ShortcutDistiller(teacher, { nfe: spec.nfe, teacherSteps: 128, pool: spec.pool, batch: spec.batch, seed, adam: { lr: spec.lr } });
        const r = await trainSteps(spec.iters, () => d.step());
        d.dispose();
        return { net: d.student, ...r };
      }
      const d = new DmdDistiller(teacher, null, { batch: spec.batch, seed, generatorAdam: { lr: spec.lr }, fakeAdam: { lr: spec.lr } });
      const r = await trainSteps(spec.iters, () => d.step());
      d.dispose();
      return { net: d.student, ...r };
    },
  }, records);
}

// ---------------------------------------------------------------------------------------------------
// samples and metrics

export interface MetricRow {
  /** the 2D dataset */
  dataset: string;
  /** e.g. "teacher Euler", "π-Flow GMFlow K=8" */
  method: string;
  /** network evaluations per sample (null for the data row) */
  nfe: number | null;
  label: string;
  swd: number;
  precision: number;
  modesCovered: number;
  modes: number;
  entropy: number;
  /** mean distance to the teacher's Euler-128 sample from the same noise (null for the data) */
  fidelity: number | null;
  /** the model behind the row (an id of figures.json `models`) */
  model?: string;
}

interface Ctx {
  cfg: FiguresConfig;
  seed: number;
  dataset: string;
  /** model ids of this dataset start with it ('' for checkerboard, 'gaussians8/' …) */
  idPrefix: string;
  teacher: ToyNet;
  models: ModelCache<ToyNet, ModelSpec>;
  data: Float32Array;
  /** a second fresh data draw: the data row and the drawn data */
  data2: Float32Array;
  /** the teacher's Euler-128 samples from the shared noise */
  reference: Float32Array;
  sampleSeed: number;
  teacherDigest: string;
  teacherDir: string;
  memo: Map<string, Float32Array>;
  /** the context of another 2D dataset (its shipped teacher), made on first use */
  other: (dataset: string) => Promise<Ctx>;
  /** the run's backend, cache folder and shared model records (methods-mnist) */
  backend: string;
  cacheRoot: string;
  records: Map<string, ModelRecord>;
}

function metrics(ctx: Ctx, samples: Float32Array, row: Omit<MetricRow, 'dataset' | 'swd' | 'precision' | 'modesCovered' | 'modes' | 'entropy' | 'fidelity'>, fidelity = true): MetricRow {
  const finite = samples.filter((v) => Number.isFinite(v));
  if (finite.length !== samples.length) throw new Error(`${row.label}: ${(samples.length - finite.length) / 2} non-finite samples`);
  const swd = slicedWasserstein1(samples, ctx.data, 2, ctx.cfg.projections, new Rng(ctx.seed + 5));
  const cov = modeCoverage(samples, ctx.dataset);
  return {
    dataset: ctx.dataset, ...row,
    swd: round(swd), precision: round(precision(samples, ctx.dataset)), modesCovered: cov.modesCovered, modes: cov.modes,
    entropy: round(cov.entropy), fidelity: fidelity ? round(meanPairDistance(samples, ctx.reference, 2)) : null,
  };
}

const round = (v: number, d = 5) => Number(v.toFixed(d));

/** `p` relative to the working folder when it lies inside it, else absolute */
const shown = (p: string) => {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
};

async function teacherSamples(ctx: Ctx, steps: number): Promise<Float32Array> {
  const key = `euler:${steps}`;
  let s = ctx.memo.get(key);
  if (!s) {
    s = await sampleTeacher(ctx.teacher, ctx.cfg.samples, steps, ctx.sampleSeed, ctx.cfg.samples);
    ctx.memo.set(key, s);
  }
  return s;
}

function gmflowSpec(cfg: FiguresConfig, k: number): ModelSpec {
  return { method: 'piid', policy: 'gmflow', k, n: 10, nfe: 2, window: 0, ...cfg.piid };
}
function dxSpec(cfg: FiguresConfig, window = 3): ModelSpec {
  return { method: 'piid', policy: 'dx', k: 32, n: cfg.dxN, nfe: 2, window, ...cfg.piid };
}
function constantSpec(cfg: FiguresConfig, nfe: number): ModelSpec {
  return { method: 'piid', policy: 'constant', k: 32, n: 10, nfe, window: 0, ...cfg.piid };
}
function policyOf(spec: ModelSpec, seed: number): StudentPolicyConfig {
  if (spec.method !== 'piid') throw new Error('not a π-ID student');
  return policyConfigOf(distillConfig(spec, seed));
}

async function studentSamples(ctx: Ctx, id: string, spec: ModelSpec, nfe: number): Promise<Float32Array> {
  const key = `${JSON.stringify(spec)}@${nfe}`;
  let s = ctx.memo.get(key);
  if (!s) {
    const net = await ctx.models.get(ctx.idPrefix + id, spec);
    const n = ctx.cfg.samples;
    s = spec.method === 'piid'
      ? await sampleStudent(net, policyOf(spec, ctx.seed), n, ctx.sampleSeed, { nfe, chunk: n })
      : await sampleTeacher(net, n, nfe, ctx.sampleSeed, n);
    ctx.memo.set(key, s);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------
// figures

const GREY = '#9e9e9e';
const METHOD_COLORS: Record<string, string> = {
  'teacher Euler': '#3b75af', 'π-Flow GMFlow': '#e8710a', 'π-Flow DX': '#2ca02c', 'constant velocity (π-ID)': '#9467bd',
  'shortcut regression': '#8c564b', 'DMD-style': '#d62728',
};

const plotPts = (ctx: Ctx, s: Float32Array) => Array.from(s.subarray(0, 2 * ctx.cfg.plotPoints), (v) => round(v, 4));

function samplePanel(ctx: Ctx, title: string, s: Float32Array, color: string, name = 'samples'): ScatterPanelSpec {
  return { title, layers: [{ name, points: plotPts(ctx, s), color, radius: 1.2, opacity: 0.6 }] };
}

/** A metric scatter: one layer per series, domain padded around the values (metricDomain, as the comparison notebook's). */
function metricPanel(title: string, frameTitle: string, layers: FigureLayer[], fixed: { x?: [number, number]; y?: [number, number] } = {}, size = 420): ScatterPanelSpec {
  return { title, frameTitle, layers, domain: metricDomain(layers, fixed, size) };
}

interface FigureResult {
  spec: FigureSpec;
  numbers: Record<string, unknown>;
  rows: MetricRow[];
  /** methods-mnist's rows (figures.json keeps them as the figure's `rows`) */
  mnistRows?: MnistRow[];
  models: string[];
}

async function fewStepCollapse(ctx: Ctx): Promise<FigureResult> {
  const rows: MetricRow[] = [metrics(ctx, ctx.data2, { method: 'data (fresh)', nfe: null, label: 'data' }, false)];
  const panels: ScatterPanelSpec[] = [samplePanel(ctx, 'data', ctx.data2, GREY, 'data')];
  for (const steps of [1, 2, 4, 128]) {
    const s = await teacherSamples(ctx, steps);
    rows.push(metrics(ctx, s, { method: 'teacher Euler', nfe: steps, label: `teacher Euler ${steps}` }));
    panels.push(samplePanel(ctx, `teacher, Euler ${steps} step${steps > 1 ? 's' : ''}`, s, METHOD_COLORS['teacher Euler']));
  }
  return { spec: { name: 'few-step-collapse', blocks: [{ kind: 'scatter', title: `${DATASET}: data vs the teacher at 1 / 2 / 4 / 128 Euler steps`, maxCols: 5, panels }] }, numbers: {}, rows, models: [] };
}

async function trajectories(ctx: Ctx): Promise<FigureResult> {
  const { cfg } = ctx;
  const P = cfg.paths;
  const noise = Float32Array.from(new Rng(ctx.seed + 7).normalArray(2 * P));
  const teacher = await teacherPaths(ctx.teacher, noise, 128);
  const teacherSplit = splitPaths(teacher).map((p) => ({ sigma: p.sigma.map((v) => round(v, 6)), points: Array.from(p.points, (v) => round(v, 4)) }));
  const ends = teacherSplit.map((p) => p.points.slice(-2));
  const panels = [];
  const numbers: Record<string, unknown> = { paths: P, teacherSteps: 128 };
  const models: string[] = [];
  for (const [id, spec, label] of [
    [`gmflow-k${cfg.methodsK}`, gmflowSpec(cfg, cfg.methodsK), `π-Flow GMFlow (K = ${cfg.methodsK}), 2 NFE`],
    ['dx', dxSpec(cfg), `π-Flow DX (N = ${cfg.dxN}, window 3), 2 NFE`],
  ] as const) {
    const net = await ctx.models.get(id, spec);
    models.push(id);
    const pp = await policyPaths(net, policyOf(spec, ctx.seed), noise);
    const split = splitPaths(pp, pp.nfeIndices);
    let dist = 0;
    split.forEach((p, i) => {
      const n = p.points.length;
      dist += Math.hypot(p.points[n - 2] - ends[i][0], p.points[n - 1] - ends[i][1]);
    });
    numbers[id] = { nfeIndices: pp.nfeIndices, substeps: pp.sigma.length, meanEndpointDistanceToTeacher: round(dist / P) };
    panels.push({
      title: label,
      teacher: teacherSplit,
      policy: split.map((p) => ({ sigma: p.sigma.map((v) => round(v, 6)), points: Array.from(p.points, (v) => round(v, 4)), nfeIndices: p.nfeIndices })),
      background: plotPts(ctx, ctx.data2),
    });
  }
  const block: BlockSpec = { kind: 'trajectories', title: `teacher ODE (blue, 128 Euler steps) vs policy paths from the same ${P} noise points; network evaluations ringed, substeps dotted`, maxCols: 2, size: 420, panels };
  return { spec: { name: 'trajectories', blocks: [block] }, numbers, rows: [], models };
}

async function kSweep(ctx: Ctx): Promise<FigureResult> {
  const { cfg } = ctx;
  const rows: MetricRow[] = [];
  const panels: ScatterPanelSpec[] = [];
  const models: string[] = [];
  for (const nfe of [1, 2]) {
    for (const k of cfg.kValues) {
      const id = `gmflow-k${k}`;
      models.push(id);
      const s = await studentSamples(ctx, id, gmflowSpec(cfg, k), nfe);
      rows.push(metrics(ctx, s, { method: `π-Flow GMFlow K=${k}`, nfe, label: `GMFlow K=${k}, ${nfe} NFE`, model: id }));
      panels.push(samplePanel(ctx, `K = ${k}, ${nfe} NFE`, s, METHOD_COLORS['π-Flow GMFlow']));
    }
  }
  const ref = metrics(ctx, await teacherSamples(ctx, 128), { method: 'teacher Euler', nfe: 128, label: 'teacher Euler 128' });
  rows.push(ref);
  const series = (key: 'swd' | 'precision'): FigureLayer[] => [1, 2].map((nfe, i) => ({
    name: `${nfe} NFE`, color: ['#e8710a', '#1f77b4'][i], radius: 4, opacity: 1,
    points: cfg.kValues.flatMap((k) => [Math.log2(k), rows.find((r) => r.nfe === nfe && r.method === `π-Flow GMFlow K=${k}`)![key]]),
  })).concat([{ name: 'teacher Euler 128', color: GREY, radius: 3, opacity: 1, points: cfg.kValues.flatMap((k) => [Math.log2(k), ref[key]]) }]);
  const kx: [number, number] = [-0.5, Math.log2(Math.max(...cfg.kValues)) + 0.5];
  const metricBlock: BlockSpec = {
    kind: 'scatter', title: 'sliced W1 (lower is better) and precision against log₂ K', maxCols: 2, size: 320,
    panels: [
      metricPanel('sliced W1 to the data', 'x: log₂ K   y: sliced W1', series('swd'), { x: kx }, 320),
      metricPanel('precision (share in the support)', 'x: log₂ K   y: precision', series('precision'), { x: kx }, 320),
    ],
  };
  return {
    spec: { name: 'k-sweep', blocks: [{ kind: 'scatter', title: `GMFlow students (π-ID at 2 NFE) with K ∈ {${cfg.kValues.join(', ')}}, sampled at 1 and 2 NFE`, maxCols: cfg.kValues.length, panels }, metricBlock] },
    numbers: { kValues: cfg.kValues }, rows, models: [...new Set(models)],
  };
}

/** methods-2d on one dataset: its small multiples and metric scatters, its rows and models. */
async function methods2dOn(ctx: Ctx): Promise<{ blocks: BlockSpec[]; rows: MetricRow[]; models: string[] }> {
  const { cfg } = ctx;
  const rows: MetricRow[] = [];
  const panels: ScatterPanelSpec[] = [];
  const models: string[] = [];
  const add = (s: Float32Array, method: string, nfe: number, model?: string) => {
    const label = `${method}, ${nfe} NFE`;
    const id = model === undefined ? undefined : ctx.idPrefix + model;
    rows.push(metrics(ctx, s, { method, nfe, label, model: id }));
    panels.push(samplePanel(ctx, label, s, METHOD_COLORS[method]));
    if (id) models.push(id);
  };
  for (const steps of [1, 2, 4, 128]) add(await teacherSamples(ctx, steps), 'teacher Euler', steps);
  const gm = `gmflow-k${cfg.methodsK}`;
  // the π-Flow students are distilled for 2 NFE and sampled at 1, 2 and 4 (elastic NFE, from the same student)
  for (const nfe of [1, 2, 4]) add(await studentSamples(ctx, gm, gmflowSpec(cfg, cfg.methodsK), nfe), 'π-Flow GMFlow', nfe, gm);
  for (const nfe of [1, 2, 4]) add(await studentSamples(ctx, 'dx', dxSpec(cfg), nfe), 'π-Flow DX', nfe, 'dx');
  for (const nfe of [1, 2]) add(await studentSamples(ctx, `constant-nfe${nfe}`, constantSpec(cfg, nfe), nfe), 'constant velocity (π-ID)', nfe, `constant-nfe${nfe}`);
  for (const nfe of [1, 2]) {
    add(await studentSamples(ctx, `shortcut-nfe${nfe}`, { method: 'shortcut', nfe, ...cfg.shortcut }, nfe), 'shortcut regression', nfe, `shortcut-nfe${nfe}`);
  }
  add(await studentSamples(ctx, 'dmd', { method: 'dmd', ...cfg.dmd }, 1), 'DMD-style', 1, 'dmd');
  const layers = (y: 'entropy' | 'fidelity'): FigureLayer[] => rows.map((r) => ({
    name: r.label, color: METHOD_COLORS[r.method], radius: r.nfe === 1 ? 3 : r.nfe === 2 ? 4.5 : 6, opacity: 0.9,
    points: [r.swd, r[y] as number],
  }));
  const metricBlock: BlockSpec = {
    kind: 'scatter', title: `${ctx.dataset}: quality (sliced W1, lower is better) against diversity (mode entropy) and fidelity to the teacher (distance to its Euler-128 sample from the same noise)`, maxCols: 2, size: 420,
    panels: [
      metricPanel('quality vs diversity', 'x: sliced W1   y: mode entropy', layers('entropy')),
      metricPanel('quality vs fidelity', 'x: sliced W1   y: distance to teacher', layers('fidelity')),
    ],
  };
  return { blocks: [{ kind: 'scatter', title: `every method and NFE on ${ctx.dataset}`, maxCols: 6, panels }, metricBlock], rows, models: [...new Set(models)] };
}

/** methods-2d: checkerboard (the --teacher) and 8 Gaussians (its shipped teacher), each with its own panels and scatters. */
async function methods2d(ctx: Ctx): Promise<FigureResult> {
  const a = await methods2dOn(ctx);
  const b = await methods2dOn(await ctx.other(SECOND_DATASET));
  return {
    spec: { name: 'methods-2d', blocks: [...a.blocks, ...b.blocks] },
    numbers: { datasets: [ctx.dataset, SECOND_DATASET] }, rows: [...a.rows, ...b.rows], models: [...a.models, ...b.models],
  };
}

async function methodsMnistFigure(ctx: Ctx): Promise<FigureResult> {
  const r = await methodsMnist({ cfg: ctx.cfg.mnist, seed: ctx.seed, backend: ctx.backend, cacheRoot: ctx.cacheRoot, records: ctx.records, repo: REPO });
  return { spec: r.spec, numbers: r.numbers, rows: [], mnistRows: r.rows, models: r.models };
}

/** NFEs of the elastic figure: the 2-NFE student sampled off its training budget */
const ELASTIC_NFES = [1, 2, 4, 8];

async function nfeElastic(ctx: Ctx): Promise<FigureResult> {
  const { cfg } = ctx;
  const gm = `gmflow-k${cfg.methodsK}`;
  const spec = gmflowSpec(cfg, cfg.methodsK);
  const rows: MetricRow[] = [];
  const teacherPanels: ScatterPanelSpec[] = [];
  const studentPanels: ScatterPanelSpec[] = [];
  for (const nfe of ELASTIC_NFES) {
    const t = await teacherSamples(ctx, nfe);
    rows.push(metrics(ctx, t, { method: 'teacher Euler', nfe, label: `teacher Euler, ${nfe} NFE` }));
    teacherPanels.push(samplePanel(ctx, `teacher Euler, ${nfe} NFE`, t, METHOD_COLORS['teacher Euler']));
  }
  for (const nfe of ELASTIC_NFES) {
    const st = await studentSamples(ctx, gm, spec, nfe);
    rows.push(metrics(ctx, st, { method: 'π-Flow GMFlow', nfe, label: `π-Flow GMFlow, ${nfe} NFE`, model: gm }));
    studentPanels.push(samplePanel(ctx, `GMFlow (2-NFE student), ${nfe} NFE`, st, METHOD_COLORS['π-Flow GMFlow']));
  }
  const nx: [number, number] = [-0.4, Math.log2(Math.max(...ELASTIC_NFES)) + 0.4];
  const metric = (key: 'swd' | 'fidelity', title: string, frame: string): ScatterPanelSpec => {
    const layers: FigureLayer[] = ['teacher Euler', 'π-Flow GMFlow'].map((method) => ({
      name: method, color: METHOD_COLORS[method], radius: 4, opacity: 1,
      points: rows.filter((r) => r.method === method).flatMap((r) => [Math.log2(r.nfe!), r[key] as number]),
    }));
    return { ...metricPanel(title, frame, layers, { x: nx }, 320), lines: layers.map((l) => ({ name: l.name, points: l.points, color: l.color })) };
  };
  const metricBlock: BlockSpec = {
    kind: 'scatter', title: 'sliced W1 to the data (lower is better) and distance to the teacher\'s Euler-128 sample from the same noise, against log₂ NFE', maxCols: 2, size: 320,
    panels: [metric('swd', 'sliced W1 to the data', 'x: log₂ NFE   y: sliced W1'), metric('fidelity', 'fidelity (distance to Euler-128)', 'x: log₂ NFE   y: distance')],
  };
  return {
    spec: {
      name: 'nfe-elastic', blocks: [
        { kind: 'scatter', title: `the teacher's Euler sampler at ${ELASTIC_NFES.join(' / ')} steps`, maxCols: 4, panels: teacherPanels },
        { kind: 'scatter', title: `one GMFlow student (K = ${cfg.methodsK}, distilled for 2 NFE) sampled at ${ELASTIC_NFES.join(' / ')} NFE`, maxCols: 4, panels: studentPanels },
        metricBlock,
      ],
    },
    numbers: { nfes: ELASTIC_NFES, studentTrainedNfe: 2 }, rows, models: [gm],
  };
}

/** π-ID `windowSubsteps` of the DX figure: the plain per-substep target vs the DX default */
const DX_WINDOWS = [0, 3];

async function dxWindow(ctx: Ctx): Promise<FigureResult> {
  const { cfg } = ctx;
  const rows: MetricRow[] = [];
  const panels: ScatterPanelSpec[] = [];
  const losses: FigureLayer[] = [];
  const numbers: Record<string, unknown> = { windows: DX_WINDOWS };
  const models: string[] = [];
  const colors = ['#17becf', METHOD_COLORS['π-Flow DX']];
  for (const [i, window] of DX_WINDOWS.entries()) {
    const id = window === 3 ? 'dx' : `dx-window${window}`;
    const spec = dxSpec(cfg, window);
    const s = await studentSamples(ctx, id, spec, 2);
    const label = `π-Flow DX, window ${window}, 2 NFE`;
    rows.push(metrics(ctx, s, { method: `π-Flow DX window=${window}`, nfe: 2, label, model: id }));
    panels.push(samplePanel(ctx, label, s, colors[i]));
    models.push(id);
    const hist = ctx.models.records.get(id)!.lossHistory;
    const tail = hist.slice(-Math.max(1, Math.floor(hist.length / 5))).filter((v): v is number => v !== null);
    numbers[id] = { window, lossHistory: hist, meanLossLastFifth: tail.length ? round(tail.reduce((a, b) => a + b, 0) / tail.length) : null };
    // log₁₀ of the loss: a spike of one run does not flatten the other's curve (the raw values are in figures.json)
    losses.push({ name: `window ${window}`, color: colors[i], radius: 1.5, opacity: 0.8, points: hist.flatMap((v, it) => (v === null || !(v > 0) ? [] : [it + 1, round(Math.log10(v), 5)])) });
  }
  const iters = cfg.piid.iters;
  const lossPanel: ScatterPanelSpec = {
    ...metricPanel('π-ID training loss', 'x: iteration   y: log₁₀ loss', losses, { x: [0, iters + 1] }, 300),
    lines: losses.map((l) => ({ name: l.name, points: l.points, color: l.color, width: 1.2 })),
  };
  return {
    spec: {
      name: 'dx-window', blocks: [{
        kind: 'scatter', title: `DX students (N = ${cfg.dxN}, π-ID at 2 NFE, ${iters} iterations) with windowSubsteps ${DX_WINDOWS.join(' vs ')}: samples and the loss of every iteration`,
        maxCols: 3, size: 300, panels: [...panels, lossPanel],
      }],
    },
    numbers, rows, models,
  };
}

const arr = (a: ArrayLike<number>) => Array.from(a, (v) => round(v, 4));

/**
 * One particle's policy at each network evaluation, in x₀ space: GMFlow's K components and DX's N grid
 * points, with x̂₀ moving along the step's substeps (PolicyInspector, the notebook's own view) — the
 * trajectories figure's first noise point, the same students.
 */
async function policyInside(ctx: Ctx): Promise<FigureResult> {
  const { cfg } = ctx;
  const noise = Float32Array.from(new Rng(ctx.seed + 7).normalArray(2 * cfg.paths)).subarray(0, 2);
  const panels: InspectorPanelSpec[] = [];
  const numbers: Record<string, unknown> = { particle: arr(noise) };
  const models: string[] = [];
  for (const [id, spec] of [[`gmflow-k${cfg.methodsK}`, gmflowSpec(cfg, cfg.methodsK)], ['dx', dxSpec(cfg)]] as const) {
    const net = await ctx.models.get(id, spec);
    models.push(id);
    const p = await policyPaths(net, policyOf(spec, ctx.seed), Float32Array.from(noise));
    const x0 = particleX0(p, 0);
    const xs = splitPaths(p)[0].points;
    const steps: unknown[] = [];
    const first = panels.length;
    /** every point the student's panels draw (interleaved) */
    const all: number[] = [];
    p.steps.forEach((st, s) => {
      const a = p.nfeIndices[s];
      const b = s + 1 < p.nfeIndices.length ? p.nfeIndices[s + 1] : p.sigma.length - 1;
      const fam = POLICY_FAMILIES[st.kind];
      const part = {
        x0Path: arr(x0.slice(2 * a, 2 * b + 2)), xPath: arr(xs.slice(2 * a, 2 * b + 2)), sigma: p.sigma.slice(a, b + 1).map((v) => round(v, 6)),
        label: `step ${s + 1}, σ_src = ${st.sigmaSrc.toFixed(2)}`, family: fam.title, symbol: fam.size?.symbol,
      };
      const drawn = st.draw === 'mixture' ? arr(st.means.slice(0, st.k * 2)) : st.draw === 'points' ? arr(st.points.slice(0, st.n * 2)) : [];
      all.push(...part.x0Path, ...part.xPath, ...drawn);
      const snap: PolicySnapshot = st.draw === 'mixture'
        ? { draw: 'mixture', ...part, means: drawn, weights: arr(st.weights.slice(0, st.k)), std: round(st.std[0], 5) }
        : st.draw === 'points' ? { draw: 'points', ...part, points: drawn } : { draw: 'none', ...part };
      panels.push({ title: `${fam.title} student, step ${s + 1} of ${p.steps.length}`, snapshot: snap, index: 0 });
      const n = part.x0Path.length;
      steps.push({
        sigmaSrc: round(st.sigmaSrc, 6), substeps: part.sigma.length - 1, x0Start: part.x0Path.slice(0, 2), x0End: part.x0Path.slice(n - 2),
        ...(snap.draw === 'mixture' ? { components: snap.weights.length, weights: snap.weights, std: snap.std } : {}),
        ...(snap.draw === 'points' ? { gridPoints: snap.points.length / 2 } : {}),
      });
    });
    // one zoomed square domain per student around everything its panels draw
    const xsAll = all.filter((_, j) => j % 2 === 0), ysAll = all.filter((_, j) => j % 2 === 1);
    const cx = (Math.min(...xsAll) + Math.max(...xsAll)) / 2, cy = (Math.min(...ysAll) + Math.max(...ysAll)) / 2;
    const half = Math.max(0.8, 0.6 * Math.max(Math.max(...xsAll) - Math.min(...xsAll), Math.max(...ysAll) - Math.min(...ysAll)));
    const domain: [[number, number], [number, number]] = [[round(cx - half, 3), round(cx + half, 3)], [round(cy - half, 3), round(cy + half, 3)]];
    for (const q of panels.slice(first)) q.domain = domain;
    numbers[id] = { steps, end: arr(xs.slice(xs.length - 2)), domain };
  }
  const block: BlockSpec = {
    kind: 'inspector', maxCols: 2, size: 340, panels,
    title: 'one particle\'s policy per network evaluation in x₀ space; x̂₀ along the substeps dashed, the particle orange',
  };
  return { spec: { name: 'policy-inside', blocks: [block] }, numbers, rows: [], models };
}

const BUILDERS: Record<FigureName, (ctx: Ctx) => Promise<FigureResult>> = {
  'few-step-collapse': fewStepCollapse, trajectories, 'k-sweep': kSweep, 'methods-2d': methods2d, 'nfe-elastic': nfeElastic, 'dx-window': dxWindow, 'policy-inside': policyInside,
  'methods-mnist': methodsMnistFigure,
};

const SHOWS: Record<FigureName, string> = {
  'few-step-collapse': 'data vs the shipped teacher at 1 / 2 / 4 / 128 Euler steps: few steps collapse the modes',
  trajectories: 'teacher ODE vs GMFlow and DX policy paths from the same noise; network evaluations ringed, substeps dotted',
  'k-sweep': 'samples, sliced W1 and precision of GMFlow students against K at 1 and 2 NFE',
  'methods-2d': 'quality vs diversity vs fidelity for every method and NFE on checkerboard and 8 Gaussians (per dataset: small multiples of samples + two metric scatters)',
  'nfe-elastic': 'one GMFlow student distilled for 2 NFE, sampled at 1 / 2 / 4 / 8 NFE, against the teacher\'s Euler at the same NFE',
  'dx-window': 'DX students trained with π-ID windowSubsteps 0 vs 3: samples and their per-iteration π-ID loss curves',
  'policy-inside': 'one particle inside the GMFlow and DX students: each step\'s policy in x₀ space (GM components, DX grid) and x̂₀ moving along the substeps',
  'methods-mnist': 'every method on the shipped MNIST teacher with the same budget: sample grids from the same noise, quality (Fréchet distance), diversity (class entropy, coverage) and fidelity to the teacher\'s many-step sample (pixel ℓ2, classifier-feature distance, class match)',
};

// ---------------------------------------------------------------------------------------------------
// rendering in headless chromium

async function renderAll(figs: { name: string; spec: FigureSpec }[], out: string): Promise<Map<string, { svg: string; png: string; width: number; height: number }>> {
  const server = await startServer({ port: 0, quiet: true });
  const files = new Map<string, { svg: string; png: string; width: number; height: number }>();
  try {
    const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: BASE_FLAGS, timeout: 60_000 });
    try {
      for (const f of figs) {
        const context = await browser.newContext({ deviceScaleFactor: 1, viewport: { width: 1600, height: 1200 } });
        try {
          await context.route('**/*', (route) => (isLocalUrl(route.request().url()) ? route.continue() : route.abort('blockedbyclient')));
          const page = await context.newPage();
          const errors: string[] = [];
          page.on('pageerror', (e) => errors.push(e.message));
          await page.goto(`http://127.0.0.1:${server.port}/${RENDER_PAGE}`, { waitUntil: 'load' });
          await page.waitForFunction(() => window.figureRendererReady === true, undefined, { timeout: 30_000 });
          const r = (await page.evaluate((spec) => window.renderFigure!(spec), f.spec)) as RenderedFigure;
          if (errors.length) throw new Error(`figure ${f.name}: page errors: ${errors.join('; ')}`);
          const svgFile = path.join(out, `${f.name}.svg`);
          const pngFile = path.join(out, `${f.name}.png`);
          await writeFile(svgFile, r.svg);
          await page.locator('[data-testid="figure-image"]').screenshot({ path: pngFile, animations: 'disabled' });
          files.set(f.name, { svg: svgFile, png: pngFile, width: r.width, height: r.height });
        } finally {
          await context.close();
        }
      }
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
  return files;
}

// ---------------------------------------------------------------------------------------------------
// the command

function fmt(v: number | null): string {
  if (v === null) return '–';
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

function rowsTable(rows: MetricRow[]): string {
  const head = '| method | NFE | sliced W1 | precision | modes ≥ 2% | mode entropy | fidelity (dist. to Euler-128) |\n|---|---|---|---|---|---|---|';
  return [head, ...rows.map((r) => `| ${r.method} | ${r.nfe ?? '–'} | ${fmt(r.swd)} | ${fmt(r.precision)} | ${r.modesCovered}/${r.modes} | ${fmt(r.entropy)} | ${fmt(r.fidelity)} |`)].join('\n');
}

/** One table per dataset (rows of an older figures.json have no dataset: one table). */
function rowsTables(rows: MetricRow[]): string[] {
  const datasets = [...new Set(rows.map((r) => r.dataset))];
  if (datasets.length <= 1) return [rowsTable(rows), ''];
  return datasets.flatMap((d) => [`### ${d}`, '', rowsTable(rows.filter((r) => r.dataset === d)), '']);
}

/** A 2D dataset's context: its teacher, cache, data draws and the teacher's Euler-128 reference. */
async function datasetCtx(
  base: Pick<Ctx, 'cfg' | 'seed' | 'backend' | 'cacheRoot' | 'records'>, dataset: string, teacherDir: string, idPrefix: string,
  other: (dataset: string) => Promise<Ctx>, owned: { dispose(): void }[],
): Promise<Ctx> {
  if (!existsSync(path.join(teacherDir, 'weights.bin'))) throw new UsageError(`the ${dataset} teacher ${teacherDir} is missing (weights.bin)`);
  const teacher = await loadToyNet(teacherDir, 'teacher');
  owned.push(teacher);
  const tmeta = teacher.meta as { dataset?: string };
  if (tmeta.dataset !== undefined && tmeta.dataset !== dataset) throw new UsageError(`--teacher ${teacherDir}: a ${tmeta.dataset} teacher; the figures need a ${dataset} one`);
  const digest = createHash('sha256').update(await readFile(path.join(teacherDir, 'weights.bin'))).digest('hex').slice(0, 16);
  const models = toyCache(base.cacheRoot, dataset, teacher, digest, base.seed, base.backend, base.records);
  owned.push(models);
  const { cfg, seed } = base;
  const ctx: Ctx = {
    ...base, dataset, idPrefix, teacher, models, other, teacherDigest: digest, teacherDir,
    data: sample2d(dataset, cfg.samples, new Rng(seed + 99)),
    data2: sample2d(dataset, cfg.samples, new Rng(seed + 98)),
    reference: new Float32Array(0), sampleSeed: seed + 1, memo: new Map(),
  };
  ctx.reference = await teacherSamples(ctx, 128);
  return ctx;
}

/** What figures.json says of one run of the command (a merged file lists every run whose figures it still holds). */
interface RunRecord {
  command: string;
  figures: string[];
  computeSeconds: number;
  totalSeconds: number;
}

interface FiguresJson {
  command: string;
  configuration: FiguresConfig;
  seed: number;
  backend: string;
  runs?: RunRecord[];
  models: Record<string, Record<string, unknown>>;
  figures: Record<string, Record<string, unknown> & { models?: string[] }>;
  [k: string]: unknown;
}

/**
 * The figures.json already in the output folder, when it was made with the same configuration, seed
 * and backend (else null: a fresh file). `--only` keeps its other figures, their models and their runs.
 */
async function previousJson(file: string, cfg: FiguresConfig, seed: number, backend: string): Promise<FiguresJson | null> {
  if (!existsSync(file)) return null;
  try {
    const j = JSON.parse(await readFile(file, 'utf8')) as FiguresJson;
    if (j.configuration?.name !== cfg.name || j.seed !== seed || j.backend !== backend) {
      console.error(`figures: ${file} is of another configuration, seed or backend; it is replaced, not merged`);
      return null;
    }
    return j;
  } catch (e) {
    console.error(`figures: ${file} unreadable (${(e as Error).message}); it is replaced`);
    return null;
  }
}

export async function figuresCommand(argv: string[]): Promise<number> {
  const { opts: o } = parseArgs(argv, FIGURES_OPTS);
  const only = parseOnly(o.only as string | undefined);
  const cfg = o.quick ? QUICK : FULL;
  const seed = Number(o.seed);
  if (!existsSync(path.join(WEB_ROOT, RENDER_PAGE))) {
    throw new UsageError(`${path.join(WEB_ROOT, RENDER_PAGE)} is missing: build the pages first with \`npx vite build\` (npm test builds them)`);
  }
  chromiumPath(); // fails early when chromium is missing
  const out = path.resolve(String(o.out));
  const teacherDir = path.resolve(String(o.teacher));
  if (!existsSync(path.join(teacherDir, 'weights.bin'))) throw new UsageError(`--teacher ${o.teacher}: no saved teacher there (weights.bin missing)`);
  await mkdir(out, { recursive: true });
  const command = `npx piflow figures ${argv.join(' ')}`.trim();
  const t0 = performance.now();
  const backend = await initNodeBackend(String(o.backend));
  const owned: { dispose(): void }[] = [];
  const base = { cfg, seed, backend, cacheRoot: path.resolve(String(o.cache)), records: new Map<string, ModelRecord>() };
  const others = new Map<string, Promise<Ctx>>();
  const other = (dataset: string): Promise<Ctx> => {
    if (dataset === DATASET) return Promise.resolve(ctx);
    let c = others.get(dataset);
    if (!c) {
      c = datasetCtx(base, dataset, path.join(REPO, 'static', 'pretrained', dataset), `${dataset}/`, other, owned);
      others.set(dataset, c);
    }
    return c;
  };
  const ctx: Ctx = await datasetCtx(base, DATASET, teacherDir, '', other, owned);
  const results = new Map<FigureName, FigureResult>();
  try {
    for (const name of only) {
      const t = performance.now();
      results.set(name, await BUILDERS[name](ctx));
      console.error(`figures: ${name} computed in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const x of owned.reverse()) x.dispose();
  }
  const computeSeconds = (performance.now() - t0) / 1000;
  const rendered = await renderAll([...results].map(([name, r]) => ({ name, spec: r.spec })), out);
  const totalSeconds = (performance.now() - t0) / 1000;
  const modelRecords = Object.fromEntries([...base.records].map(([id, { lossHistory, ...r }]) => [id, { ...r, dir: shown(r.dir), lossIterations: lossHistory.length }]));
  const figures = Object.fromEntries([...results].map(([name, r]) => [name, {
    shows: SHOWS[name], command: `npx piflow figures${o.quick ? ' --quick' : ''} --only ${name} --backend ${backend} --seed ${seed} --out ${String(o.out)}`,
    svg: `${name}.svg`, png: `${name}.png`, width: rendered.get(name)!.width, height: rendered.get(name)!.height,
    models: r.models, rows: r.mnistRows ?? r.rows, ...r.numbers,
  }])) as FiguresJson['figures'];
  const run: RunRecord = { command, figures: [...results.keys()], computeSeconds: round(computeSeconds, 1), totalSeconds: round(totalSeconds, 1) };
  // --only: the figures (their models and runs) of the file already there are kept
  const jsonFile = path.join(out, 'figures.json');
  const prev = only.length < FIGURE_NAMES.length ? await previousJson(jsonFile, cfg, seed, backend) : null;
  const merged: FiguresJson['figures'] = {};
  const kept: string[] = [];
  for (const name of FIGURE_NAMES) {
    if (figures[name]) merged[name] = figures[name];
    else if (prev?.figures[name]) {
      merged[name] = prev.figures[name];
      kept.push(name);
    }
  }
  const prevRuns: RunRecord[] = prev ? (prev.runs ?? [{
    command: prev.command, figures: Object.keys(prev.figures), computeSeconds: Number(prev.computeSeconds), totalSeconds: Number(prev.totalSeconds),
  }]) : [];
  const runs = [
    ...prevRuns.map((r) => ({ ...r, figures: r.figures.filter((f) => kept.includes(f)) })).filter((r) => r.figures.length > 0),
    run,
  ];
  const keptModels = new Set(kept.flatMap((name) => merged[name].models ?? []));
  const models = {
    ...Object.fromEntries(Object.entries(prev?.models ?? {}).filter(([id]) => keptModels.has(id) && !(id in modelRecords))),
    ...modelRecords,
  };
  const json: FiguresJson = {
    command, configuration: cfg, dataset: DATASET, datasets: [DATASET, SECOND_DATASET, 'mnist'], seed, backend,
    teacher: path.relative(REPO, teacherDir) || teacherDir, teacherDigest: ctx.teacherDigest,
    samplingSeed: ctx.sampleSeed, computeSeconds: round(computeSeconds, 1), totalSeconds: round(totalSeconds, 1), tensorsLeft: tf.memory().numTensors,
    runs, models, figures: merged,
  };
  await writeFile(jsonFile, JSON.stringify(json, null, 2) + '\n');
  await writeFile(path.join(out, 'figures.md'), figuresMarkdown(json));
  console.log(JSON.stringify({ out, figures: [...results.keys()], kept, totalSeconds: round(totalSeconds, 1), cached: Object.fromEntries([...base.records].map(([k, r]) => [k, r.cached])) }));
  return 0;
}

/** figures.md from figures.json (a merged file: every figure it holds, each run's command and time). */
function figuresMarkdown(json: FiguresJson): string {
  const { configuration: cfg, seed, backend } = json;
  const runs = json.runs ?? [];
  const md: string[] = [
    '# π-Flow figures', '',
    ...runs.map((r) => `Made by \`${r.command}\` (${cfg.name} configuration, seed ${seed}, ${backend} backend) in ${r.totalSeconds.toFixed(0)} s ` +
      `(${r.computeSeconds.toFixed(0)} s training and sampling, the rest drawing): ${r.figures.join(', ')}.`),
    '', 'Every number is in figures.json.', '',
    `2D (checkerboard; methods-2d also 8 Gaussians): ${cfg.samples} samples per method from the same seeded noise (seed ${json.samplingSeed}, one chunk); sliced W1 to ${cfg.samples} fresh data points ` +
      `(${cfg.projections} projections); precision and modes by datasets/<name>.ts; fidelity = mean distance to the teacher's 128-step Euler ` +
      'sample from the same noise (the teacher\'s own 1-step Euler row gives the scale).', '',
    `MNIST (methods-mnist): ${cfg.mnist.samples} samples per method from the same seeded noise; Fréchet distance in the shipped classifier's 64-d feature space ` +
      `to the first ${cfg.mnist.testImages} test images; class entropy and classes holding > 1% of the samples; fidelity to the teacher's ${cfg.mnist.manySteps}-step ` +
      'Euler sample from the same noise: mean per-image pixel ℓ2 (784 values in [-1, 1]), mean distance of the classifier\'s penultimate features, share of the same predicted class.', '',
    'Byte-stability: the SVGs are byte-identical between runs on the same backend and seed (tests/long/figures.test.ts checks it); ' +
      'the PNGs are screenshots of those SVGs by the same chromium and were byte-identical in the same check on this machine (a different chromium or font set may change them).', '',
    '## Models', '', '| id | method | cached | train s | last loss | folder |', '|---|---|---|---|---|---|',
    ...Object.entries(json.models).map(([id, r]) => {
      const spec = r.spec as { method: string; policy?: string };
      const last = r.lastLoss as number | null;
      return `| ${id} | ${spec.method}${spec.method === 'piid' ? ` ${spec.policy}` : ''} | ${r.cached} | ${r.trainSeconds} | ${last === null ? '–' : fmt(last)} | ${r.dir} |`;
    }),
    '',
  ];
  for (const [name, f] of Object.entries(json.figures)) {
    md.push(`## ${name}`, '', `${f.shows}.`, '', `![${name}](${name}.svg) — [SVG](${name}.svg), [PNG](${name}.png)`, '', `Command: \`${f.command}\``, '');
    const rows = (f.rows ?? []) as unknown[];
    if (rows.length) {
      if (name === 'methods-mnist') {
        md.push(mnistRowsTable(rows as MnistRow[]), '');
        const b = f.budget as (Pick<MnistFiguresConfig, 'piid' | 'shortcut' | 'dmd' | 'warmup'> & { adam?: string }) | undefined;
        if (b) {
          md.push(`Budget (every student initialised from the teacher, ${b.adam ?? 'Adam'}, ${b.warmup} warm-up steps): π-ID ${b.piid.iters} iterations at batch ${b.piid.batch}; ` +
            `shortcut ${b.shortcut.iters} at batch ${b.shortcut.batch} (pool of ${b.shortcut.pool} teacher trajectories); ` +
            `DMD ${b.dmd.iters} generator updates at batch ${b.dmd.batch}, each after ${b.dmd.fakeUpdates} fake-network updates.`, '');
        }
      } else md.push(...rowsTables(rows as MetricRow[]));
    }
    if (name === 'trajectories') {
      for (const [k, v] of Object.entries(f)) {
        if (typeof v === 'object' && v && 'meanEndpointDistanceToTeacher' in v) {
          const t = v as { nfeIndices: number[]; substeps: number; meanEndpointDistanceToTeacher: number };
          md.push(`- ${k}: ${t.nfeIndices.length} network evaluations, ${t.substeps} stored states per path, mean end-point distance to the teacher's ODE end ${fmt(t.meanEndpointDistanceToTeacher)}`);
        }
      }
      md.push('');
    }
    if (name === 'dx-window') {
      for (const v of Object.values(f)) {
        if (typeof v === 'object' && v && 'lossHistory' in v) {
          const t = v as { window: number; lossHistory: (number | null)[]; meanLossLastFifth: number | null };
          md.push(`- window ${t.window}: ${t.lossHistory.length} iterations, first loss ${fmt(t.lossHistory[0])}, mean loss over the last fifth ${fmt(t.meanLossLastFifth)}`);
        }
      }
      md.push('');
    }
    if (name === 'policy-inside') {
      for (const [id, v] of Object.entries(f)) {
        if (typeof v === 'object' && v && 'steps' in v && 'end' in v) {
          const t = v as { steps: { sigmaSrc: number; x0Start: number[]; x0End: number[] }[]; end: number[] };
          const pt = (q: number[]) => `(${fmt(q[0])}, ${fmt(q[1])})`;
          md.push(`- ${id}: ${t.steps.map((st, i) => `step ${i + 1} (σ_src ${fmt(st.sigmaSrc)}) x̂₀ ${pt(st.x0Start)} → ${pt(st.x0End)}`).join('; ')}; sample ${pt(t.end)}`);
        }
      }
      md.push('');
    }
  }
  return md.join('\n');
}
