/**
 * What every piflow command shares, for both layouts (2D points in train.ts, MNIST images in
 * mnist.ts): the common options, the dataset routing, the training loop, `distill --resume`, the
 * policy options and the sampling rule. Neither layout's module imports the other; commands.ts routes to them.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { NonFiniteLossError } from '../engine/optim.js';
import { POLICY_FAMILIES, POLICY_FAMILY_NAMES, policyFamily, windowDefaultsText, windowSubstepsFor, type PolicyFamily } from '../engine/families.js';
import { isImageNetDir } from '../models/image-io-node.js';
import { validateStudentPolicyConfig, type StudentPolicyConfig, type StudentSampleOptions } from '../runtime/student.js';
import { type ExtraFile } from '../models/io-node.js';
import { decodeTrainerState, trainStateFiles, TRAIN_STATE_BIN, TRAIN_STATE_JSON, type Resumable, type TrainerState } from '../runtime/train-state.js';
import { OptSpecs, ParsedOpts, SEED_MAX, UsageError } from './args.js';
import { readConfigJson } from './output.js';
import { Progress } from './progress.js';
import { METHOD_TITLES, type BaselineMark, type BaselineMethod } from '../models/methods.js';

/** The two data layouts the CLI knows. */
export type Layout = 'points' | 'images';
export const LAYOUTS: readonly Layout[] = ['points', 'images'];

export const BACKEND = { type: 'string', default: 'wasm', choices: ['wasm', 'cpu', 'webgpu'], help: 'tfjs backend (webgpu: Dawn, the optional webgpu package)' } as const;
export const SEED = { type: 'int', default: 0, min: 0, max: SEED_MAX, help: 'random seed (0 … 2^32 − 1)' } as const;
/** Static ceilings of the counts (the memory bound in limits.ts is usually the tighter one). */
export const BIG = 1_000_000_000;

/** The value of `--name V` / `--name=V` in argv (before parsing), for the routing. */
export function rawOption(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return undefined;
}

/** The option names given on the command line (`--name`, `--name=V`), whatever their values. */
export function givenOptions(argv: string[]): Set<string> {
  const names = new Set<string>();
  for (const a of argv) if (a.startsWith('--')) names.add(a.slice(2).split('=')[0]);
  return names;
}

/**
 * The dataset routing, in one place: images when `--dataset mnist`, or when the input model folder
 * (`--teacher` / `--model`, named by `modelOption`) holds an image network; points otherwise.
 */
export async function layoutOf(argv: string[], modelOption?: 'teacher' | 'model'): Promise<Layout> {
  if (rawOption(argv, 'dataset') === 'mnist') return 'images';
  const dir = modelOption ? rawOption(argv, modelOption) : undefined;
  return dir !== undefined && (await isImageNetDir(dir)) ? 'images' : 'points';
}

/** Runs a training loop, saving every `saveEvery` steps and at the end; a NaN stops it, the last save intact. */
export async function trainLoop(
  label: string,
  steps: number,
  saveEvery: number,
  step: () => Promise<{ loss: number }>,
  save: (done: number) => Promise<void>,
  /** iterations already done (a resumed run): the loop runs start + 1 … steps */
  start = 0,
): Promise<number> {
  const progress = new Progress(label, steps);
  let lastLoss = NaN;
  for (let i = start + 1; i <= steps; i++) {
    try {
      lastLoss = (await step()).loss;
    } catch (e) {
      if (e instanceof NonFiniteLossError) {
        process.stderr.write('\n');
        throw new Error(`${e.message}. The last saved model (if any) is left as it was.`);
      }
      throw e;
    }
    progress.update(i, lastLoss);
    if ((saveEvery > 0 && i % saveEvery === 0) || i === steps) await save(i);
  }
  return progress.elapsed();
}

/** The options that are not part of a distillation run's definition (a resumed run may change them). */
export const NOT_RUN_OPTIONS = new Set(['iters', 'out', 'save-every', 'backend', 'resume']);

/**
 * The options that define a distillation run, saved in meta.options (the teacher as an absolute
 * path); `fixed` overrides values the layout settles itself (MNIST: the dataset is mnist whether
 * `--dataset` was given or not).
 */
export function runOptionsOf(o: ParsedOpts, specs: OptSpecs, fixed: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(specs)) {
    if (NOT_RUN_OPTIONS.has(k)) continue;
    out[k] = k in fixed ? fixed[k] : k === 'teacher' ? path.resolve(String(o[k])) : (o[k] ?? null);
  }
  return out;
}

/**
 * `distill --resume DIR`, before any work: DIR holds a student saved by a resumable run whose options
 * (runOptionsOf) match these (the first that differs is named), and --iters goes beyond its
 * iterations. Returns the saved iteration count.
 */
export async function checkResume(dir: string, o: ParsedOpts, cur: Record<string, unknown>): Promise<number> {
  const file = await readConfigJson(dir);
  if (!file) throw new UsageError(`--resume ${dir}: no student saved there (no readable config.json)`);
  const saved = file.meta?.options as Record<string, unknown> | undefined;
  const done = file.meta?.itersDone;
  if (!saved || typeof saved !== 'object' || !Number.isInteger(done)) {
    throw new UsageError(`--resume ${dir}: the model records no resumable run (meta.options, meta.itersDone); it was saved by another command or an older piflow`);
  }
  for (const k of Object.keys(cur)) {
    if (JSON.stringify(saved[k] ?? null) !== JSON.stringify(cur[k])) {
      throw new UsageError(`--resume ${dir}: the run was saved with --${k} ${JSON.stringify(saved[k] ?? null)}, this command gives --${k} ${JSON.stringify(cur[k])}; pass the run's own options to continue it`);
    }
  }
  if (Number(done) >= Number(o.iters)) {
    throw new UsageError(`--iters ${o.iters}: the run in ${dir} has done ${done} iterations already; with --resume, --iters is the total, give more`);
  }
  return Number(done);
}

/**
 * The training state of `--resume DIR` (checked against config.json's `done`) and then its student,
 * loaded by `load`; a missing or corrupt state is a clear error.
 */
export async function loadResume<N>(dir: string, done: number, load: (dir: string) => Promise<N>): Promise<{ student: N; state: TrainerState }> {
  let json: string, bin: Uint8Array;
  try {
    json = await fs.readFile(path.join(dir, TRAIN_STATE_JSON), 'utf8');
    bin = await fs.readFile(path.join(dir, TRAIN_STATE_BIN));
  } catch (e) {
    throw new Error(`--resume ${dir}: no training state (${TRAIN_STATE_JSON}, ${TRAIN_STATE_BIN}): ${(e as Error).message}`);
  }
  const state = decodeTrainerState(json, bin, dir);
  if (state.iteration !== done) throw new Error(`${dir}: ${TRAIN_STATE_JSON} is at iteration ${state.iteration}, config.json at ${done}; the folder is inconsistent`);
  return { student: await load(dir), state };
}

/** A distill command's run (2D or MNIST): its loop label and step, the student, the meta its saves carry, the trainer. */
export interface DistillRun<N extends { dispose(): void }> {
  label: string;
  step: () => Promise<{ loss: number }>;
  student: N;
  meta: Record<string, unknown>;
  trainer: Resumable;
  dispose: () => void;
}

/** Restores `--resume DIR`'s training state into the run's trainer; on error the run and the teacher are released and the error names DIR. */
export function importResumed(run: DistillRun<{ dispose(): void }>, state: TrainerState, dir: string, teacher: { dispose(): void }): void {
  try {
    run.trainer.importState(state);
  } catch (e) {
    run.dispose();
    run.student.dispose();
    teacher.dispose();
    throw new Error(`--resume ${dir}: ${(e as Error).message}`);
  }
}

/** A trainer's state as the two files of a save (written inside its crash-safe folder before config.json). */
export async function stateFiles(t: Resumable): Promise<ExtraFile[]> {
  return trainStateFiles(await t.exportStateAsync());
}

/** `--policy`: the registered families. */
export const POLICY_OPTION = {
  type: 'string', default: 'gmflow', choices: POLICY_FAMILY_NAMES,
  help: `policy family: ${POLICY_FAMILY_NAMES.map((f) => `${f} (${POLICY_FAMILIES[f].label})`).join(', ')}`,
} as const;

/** `--window`: −1 means the family's default. */
export const WINDOW_OPTION = {
  type: 'int', default: -1, min: -1, max: 100_000,
  help: `window substeps (default: ${windowDefaultsText()})`,
} as const;

/** A family's size option (`--k`, `--n`) with its registry range and label. */
export function sizeOption(family: PolicyFamily, def: number) {
  const size = POLICY_FAMILIES[family].size!;
  return { type: 'int', default: def, min: size.min, max: size.max, help: size.label } as const;
}

/** The π-ID window: `--window` when set, else the family's default. */
export function windowOf(o: ParsedOpts, policy: PolicyFamily): number {
  return windowSubstepsFor(policy, Number(o.window));
}

/** The size a family's student gets from `--k`/`--n` (1 for a family without one). */
export function sizeOf(o: ParsedOpts, policy: PolicyFamily): number {
  const size = POLICY_FAMILIES[policy].size;
  return size ? Number(o[size.key]) : 1;
}

/** Students of families with a temperature (GMFlow) only; T ≥ 1 would leave the policy unchanged (as in the authors' code), so 1 is the ceiling and means none. */
export const TEMPERATURE = { type: 'number', default: 1, gt: 0, max: 1, help: 'GMFlow student temperature in (0, 1] for all steps but the last (1: none)' } as const;

/** A student's policy config from its config.json meta (validated; the error names the file). */
export function studentPolicyOf(meta: Record<string, unknown>, dir: string): StudentPolicyConfig {
  const policy = meta.policy as StudentPolicyConfig;
  try {
    validateStudentPolicyConfig(policy);
  } catch (e) {
    throw new Error(`${path.join(dir, 'config.json')}: meta.policy is not a valid student policy config (${(e as Error).message})`);
  }
  return policy;
}

/** The refusal for a baseline student given where a teacher is needed. */
export function notATeacher(dir: string, b: { method: BaselineMethod }, option = 'teacher'): UsageError {
  return new UsageError(`--${option} ${dir}: is a ${METHOD_TITLES[b.method]} student (a baseline made by piflow distill --method ${b.method}), not a teacher; pass a teacher made by piflow train-teacher`);
}

/** A loaded model: a teacher, a π-ID student (its policy) or a baseline student (its method and NFE). */
export interface SampledModel<N> {
  net: N;
  policy?: StudentPolicyConfig;
  baseline?: BaselineMark;
}

/** 'teacher', 'student gmflow', 'student shortcut', … (for messages). */
export function describeModel(m: SampledModel<unknown>): string {
  if (m.policy) return `a ${policyFamily(m.policy.policy).title} student`;
  if (m.baseline) return `a ${METHOD_TITLES[m.baseline.method]} student`;
  return 'a teacher';
}

/** The NFE a student samples with: `--nfe` when given, else its own. */
export function nfeOf(m: SampledModel<unknown>, o: ParsedOpts): number | undefined {
  if (o.nfe !== undefined) return Number(o.nfe);
  return m.policy?.nfe ?? m.baseline?.nfe;
}

/** evaluate's `kind`: `teacher euler S`, `student gmflow nfe F`, `student shortcut nfe F`. */
export function kindOf(m: SampledModel<unknown>, o: ParsedOpts): string {
  if (m.policy) return `student ${m.policy.policy} nfe ${nfeOf(m, o)}`;
  if (m.baseline) return `student ${m.baseline.method} nfe ${nfeOf(m, o)}`;
  return `teacher euler ${o.steps}`;
}

/**
 * Samples from a teacher (`--steps` Euler steps), a π-ID student (`--nfe`, temperature, substeps, h)
 * or a baseline student (`--nfe` Euler steps, default its own), refusing the other kinds' options;
 * shared by the 2D and MNIST commands.
 */
export function drawWith<N>(
  m: SampledModel<N>,
  o: ParsedOpts,
  count: number,
  seed: number,
  samplers: {
    teacher: (net: N, count: number, steps: number, seed: number) => Promise<Float32Array>;
    student: (net: N, p: StudentPolicyConfig, count: number, seed: number, opts: StudentSampleOptions) => Promise<Float32Array>;
  },
): Promise<Float32Array> {
  const temperature = Number(o.temperature ?? 1);
  if (temperature !== 1 && !(m.policy && policyFamily(m.policy.policy).temperature)) {
    const withTemperature = POLICY_FAMILY_NAMES.filter((f) => POLICY_FAMILIES[f].temperature).map((f) => POLICY_FAMILIES[f].title).join(' or ');
    throw new UsageError(`--temperature ${temperature}: only a ${withTemperature} student has a temperature; this model is ${describeModel(m)}`);
  }
  if (m.baseline) {
    if (o.steps !== undefined) throw new UsageError(`--steps is for teachers; ${describeModel(m)} samples with --nfe (default: its own, ${m.baseline.nfe})`);
    for (const name of ['substeps'] as const) {
      if (o[name] !== undefined) throw new UsageError(`--${name} is for π-ID students; ${describeModel(m)} samples with Euler steps (--nfe)`);
    }
    if (Number(o.h ?? 0) !== 0) throw new UsageError(`--h is for π-ID students; ${describeModel(m)} samples deterministically with Euler steps`);
    return samplers.teacher(m.net, count, nfeOf(m, o)!, seed);
  }
  if (!m.policy) {
    if (o.nfe !== undefined) throw new UsageError('--nfe is for students; a teacher samples with --steps');
    if (o.steps === undefined) throw new UsageError('a teacher needs --steps (Euler steps)');
    return samplers.teacher(m.net, count, Number(o.steps), seed);
  }
  if (o.steps !== undefined) throw new UsageError('--steps is for teachers; a student samples with --nfe');
  return samplers.student(m.net, m.policy, count, seed, {
    nfe: o.nfe === undefined ? undefined : Number(o.nfe),
    temperature: Number(o.temperature),
    totalSubsteps: o.substeps === undefined ? undefined : Number(o.substeps),
    h: Number(o.h),
  });
}

/**
 * The teacher folder a student's fidelity is measured against (its meta.teacher), or the note the
 * evaluate commands print instead when it records none or the folder is missing (a note, not a failure).
 */
export async function fidelityTeacherDir(meta: Record<string, unknown>): Promise<{ dir: string } | { note: Record<string, unknown> }> {
  const dir = meta.teacher;
  if (typeof dir !== 'string' || dir === '') return { note: { fidelity: null, fidelityNote: 'the model records no teacher (meta.teacher); no fidelity' } };
  const found = await fs.stat(path.join(dir, 'config.json')).then(() => true, () => false);
  if (!found) return { note: { fidelity: null, fidelityNote: `the teacher ${dir} (meta.teacher) is missing; no fidelity` } };
  return { dir };
}
