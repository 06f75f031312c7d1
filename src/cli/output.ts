/**
 * Where the CLI may write, checked before any work (shared by the 2D commands in train.ts and the
 * MNIST ones in mnist.ts):
 *  - a model folder (`--out` of train-teacher, distill, train-classifier) must be new, empty, or hold
 *    only a model this tool made of the same role (teacher / student / classifier; its config.json
 *    says so), and never the command's own input model or the working folder;
 *  - an output file (`--out` of sample) must be new or a regular file (replaced atomically), `-`
 *    (stdout, where allowed) or a character device such as /dev/null (written straight through);
 *  - the destination's folder is created and probed for writability first.
 * Every refusal is a UsageError (exit 2) naming the option, the path and why; nothing is written.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { UsageError } from './args.js';
import { CONFIG_JSON, MODEL_JSON, WEIGHTS_BIN, recoverArtifactsDir, writeSynced } from '../models/io-node.js';
import { validateMlpConfig, type MlpConfig } from '../models/mlp.js';
import { TRAIN_STATE_BIN, TRAIN_STATE_JSON } from '../runtime/train-state.js';
import { validateUNetConfig, type UNetConfig } from '../models/unet.js';
import { CLASSIFIER_ARCH } from '../models/classifier.js';
import { baselineOf } from '../models/methods.js';

export type ArtifactRole = 'teacher' | 'student' | 'classifier';

const ARTIFACT_FILES = new Set([MODEL_JSON, WEIGHTS_BIN, CONFIG_JSON, TRAIN_STATE_JSON, TRAIN_STATE_BIN]);

/** The config.json of a model folder, parsed; undefined when missing or not JSON. */
export async function readConfigJson(dir: string): Promise<{ config?: Record<string, unknown>; meta?: Record<string, unknown> } | undefined> {
  try {
    const v = JSON.parse(await fs.readFile(path.join(dir, CONFIG_JSON), 'utf8'));
    return v !== null && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The role of the model this tool saved in `dir` (from a valid config.json), or null. */
export async function artifactRoleOf(dir: string): Promise<ArtifactRole | null> {
  const file = await readConfigJson(dir);
  const cfg = file?.config;
  if (!cfg || typeof cfg !== 'object') return null;
  if (cfg.arch === CLASSIFIER_ARCH) return 'classifier';
  try {
    if (cfg.arch === 'unet') validateUNetConfig(cfg as unknown as UNetConfig);
    else validateMlpConfig(cfg as unknown as MlpConfig);
  } catch {
    return null;
  }
  // a baseline student (methods.ts) has the teacher's weights layout but is a student
  return cfg.kind === 'teacher' && !baselineOf(file?.meta) ? 'teacher' : 'student';
}

/** `p` resolved through symlinks as far as it exists (a missing tail is appended as is). */
async function realish(p: string): Promise<string> {
  const abs = path.resolve(p);
  try {
    return await fs.realpath(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(await realish(parent), path.basename(abs));
  }
}

function isSameOrInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function refusal(option: string, value: string, why: string): UsageError {
  return new UsageError(`--${option} ${value}: ${why}; nothing was written`);
}

/** Creates the folder `dir` will be written in and checks that a file can be created there. */
async function probeParent(option: string, value: string, parent: string): Promise<void> {
  try {
    await fs.mkdir(parent, { recursive: true });
  } catch (e) {
    throw refusal(option, value, `cannot create its folder ${parent} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const probe = path.join(parent, `.piflow-probe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    await (await fs.open(probe, 'wx')).close();
  } catch (e) {
    throw refusal(option, value, `its folder ${parent} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  await fs.rm(probe, { force: true });
}

/**
 * Checks, before any work, that the model folder `out` may be written by a command that makes a
 * `role` model from the input model folders `inputs`; repairs an interrupted earlier save there
 * first. Returns `out`. Throws a UsageError otherwise.
 */
export async function checkOutDir(out: string, role: ArtifactRole, inputs: string[] = [], option = 'out'): Promise<string> {
  if (out.trim() === '') throw new UsageError(`--${option}: must be a directory path`);
  const real = await realish(out);
  for (const input of inputs) {
    const r = await realish(input);
    if (r === real) throw refusal(option, out, `is the command's own input model (${input})`);
    if (isSameOrInside(r, real)) throw refusal(option, out, `contains the command's input model (${input})`);
  }
  if (isSameOrInside(await realish(process.cwd()), real)) throw refusal(option, out, 'is the working folder (or a folder above it)');
  await recoverArtifactsDir(out);
  const st = await lstatOrNone(option, out);
  if (st) {
    if (st.isSymbolicLink()) throw refusal(option, out, 'is a symbolic link; piflow writes a model only into a real folder');
    if (!st.isDirectory()) throw refusal(option, out, 'exists and is not a folder');
    const entries = await fs.readdir(out);
    if (entries.length > 0) {
      const found = await artifactRoleOf(out);
      if (found === null) throw refusal(option, out, 'is a folder that is not empty and holds no model made by piflow (no valid config.json); piflow replaces only its own models');
      if (found !== role) throw refusal(option, out, `holds a ${found} model; this command writes a ${role} and replaces only a ${role}`);
      const extra = entries.filter((e) => !ARTIFACT_FILES.has(e));
      if (extra.length) throw refusal(option, out, `holds files piflow did not write (${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''}); move them away or choose another folder`);
    }
  }
  await probeParent(option, out, path.dirname(path.resolve(out)));
  return out;
}

/** lstat of a destination, or undefined when it does not exist; other failures are refusals. */
async function lstatOrNone(option: string, out: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw refusal(option, out, 'a part of its path is a file, not a folder');
    if (code !== 'ENOENT') throw refusal(option, out, `cannot be inspected (${code})`);
    return undefined;
  }
}

export type OutFile = { kind: 'stdout' } | { kind: 'device'; path: string } | { kind: 'file'; path: string };

/**
 * Checks, before any work, that the output file `out` may be written: new or a regular file
 * (replaced atomically), `-` for stdout when `allowStdout`, or a character device (/dev/null …)
 * when `allowDevice`; never a symlink, folder or other special file, nor a file inside an input
 * model folder.
 */
export async function checkOutFile(
  out: string,
  opts: { option?: string; inputs?: string[]; allowStdout?: boolean; allowDevice?: boolean } = {},
): Promise<OutFile> {
  const option = opts.option ?? 'out';
  if (out.trim() === '') throw new UsageError(`--${option}: must be a file path`);
  if (out === '-') {
    if (opts.allowStdout) return { kind: 'stdout' };
    throw refusal(option, out, 'this command writes several files and needs a file path, not stdout');
  }
  const real = await realish(out);
  for (const input of opts.inputs ?? []) {
    if (isSameOrInside(real, await realish(input))) throw refusal(option, out, `is inside the command's input model (${input})`);
  }
  const st = await lstatOrNone(option, out);
  if (st) {
    if (st.isSymbolicLink()) throw refusal(option, out, 'is a symbolic link; piflow replaces only regular files');
    if (st.isDirectory()) throw refusal(option, out, 'is a folder, not a file');
    if (st.isCharacterDevice()) {
      if (!opts.allowDevice) throw refusal(option, out, 'is a device; this command writes several files and needs a file path');
      try {
        await fs.access(out, fs.constants.W_OK);
      } catch (e) {
        throw refusal(option, out, `the device is not writable (${(e as NodeJS.ErrnoException).code})`);
      }
      return { kind: 'device', path: out };
    }
    if (!st.isFile()) throw refusal(option, out, 'is not a regular file (a FIFO, socket or block device)');
  }
  await probeParent(option, out, path.dirname(path.resolve(out)));
  return { kind: 'file', path: out };
}

/** Writes `data` to a checked destination: stdout, a device straight through, a file via an fsynced temp file renamed over it. */
export async function writeOutFile(dest: OutFile, data: Uint8Array | string): Promise<void> {
  if (dest.kind === 'stdout') {
    await new Promise<void>((resolve, reject) => process.stdout.write(data, (e) => (e ? reject(e) : resolve())));
    return;
  }
  if (dest.kind === 'device') {
    await fs.writeFile(dest.path, data);
    return;
  }
  const tmp = `${dest.path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await writeSynced(tmp, data);
    await fs.rename(tmp, dest.path);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
