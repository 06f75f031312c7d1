/**
 * A trainer's state for an exact resume (issue 12): everything besides the student's weights that the
 * next iteration reads — the iteration, each optimizer's step count and moments, each random stream's
 * generator state and the weights of any auxiliary net (DMD's fake network). Restoring it into a
 * trainer built from the same config and the saved student makes the continued run equal, bit for bit,
 * the uninterrupted one. Serialised as JSON (`train-state.json`) plus the float arrays in one binary
 * file (`train-state.bin`). No fs here.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdamState } from '../engine/optim.js';
import { check } from '../engine/tensors.js';
import { TRAIN_STATE_BIN, TRAIN_STATE_JSON, type ExtraFile } from '../models/io-handlers.js';

export { TRAIN_STATE_BIN, TRAIN_STATE_JSON } from '../models/io-handlers.js';
const FORMAT = 'piflow-train-state-1';

export interface TrainerState {
  /** which trainer wrote it: 'piid', 'shortcut', 'dmd' */
  kind: string;
  iteration: number;
  adam: AdamState[];
  /** Rng.getState() of each stream */
  rng: number[][];
  /** auxiliary nets' variables (DMD: the fake network), in their vars order */
  nets: Float32Array[][];
}

/** What a resumable trainer offers. */
export interface Resumable {
  /** the state now, read synchronously (cpu and wasm; webgpu in Node cannot read synchronously) */
  exportState(): TrainerState;
  /**
   * The state now, captured synchronously (tensors cloned, host arrays copied, before this returns its
   * promise) and read back asynchronously: a step that runs meanwhile does not change it. Any backend.
   */
  exportStateAsync(): Promise<TrainerState>;
  importState(s: TrainerState): void;
}

/** The state as JSON text and one binary blob (Float32Arrays become {$f32: offset, length}; NaN {$nan: 1}). */
export function encodeTrainerState(s: TrainerState): { json: string; bin: Uint8Array } {
  const parts: Float32Array[] = [];
  let offset = 0;
  const walk = (v: unknown): unknown => {
    if (v instanceof Float32Array) {
      parts.push(v);
      const ref = { $f32: offset, length: v.length };
      offset += v.length;
      return ref;
    }
    if (typeof v === 'number' && Number.isNaN(v)) return { $nan: 1 };
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const body = walk(s);
  const all = new Float32Array(offset);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return { json: JSON.stringify({ format: FORMAT, floats: offset, state: body }), bin: new Uint8Array(all.buffer) };
}

/** The state as the two extra files of a save (train-state.bin, train-state.json). */
export function trainStateFiles(s: TrainerState): ExtraFile[] {
  const enc = encodeTrainerState(s);
  return [{ name: TRAIN_STATE_BIN, data: enc.bin }, { name: TRAIN_STATE_JSON, data: enc.json }];
}

/** The inverse of encodeTrainerState; a malformed or truncated state is a clear error naming `where`. */
export function decodeTrainerState(json: string, bin: Uint8Array, where: string): TrainerState {
  let doc: { format?: unknown; floats?: unknown; state?: unknown };
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new Error(`${where}: ${TRAIN_STATE_JSON} is not valid JSON (${(e as Error).message})`);
  }
  check(doc !== null && typeof doc === 'object' && doc.format === FORMAT, `${where}: ${TRAIN_STATE_JSON} is not a training state (format '${String(doc?.format)}', expected '${FORMAT}')`);
  check(Number.isInteger(doc.floats) && bin.byteLength === 4 * Number(doc.floats), `${where}: ${TRAIN_STATE_BIN} holds ${bin.byteLength} bytes, ${TRAIN_STATE_JSON} expects ${4 * Number(doc.floats)} (truncated or from another save)`);
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('$f32' in o) {
        const off = Number(o.$f32), n = Number(o.length);
        check(Number.isInteger(off) && Number.isInteger(n) && off >= 0 && n >= 0 && off + n <= floats.length, `${where}: ${TRAIN_STATE_JSON} refers to floats outside ${TRAIN_STATE_BIN}`);
        return floats.slice(off, off + n);
      }
      if ('$nan' in o) return NaN;
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  const s = walk(doc.state) as TrainerState;
  check(s !== null && typeof s === 'object' && typeof s.kind === 'string' && Number.isInteger(s.iteration) && s.iteration >= 0 &&
    Array.isArray(s.adam) && Array.isArray(s.rng) && Array.isArray(s.nets), `${where}: ${TRAIN_STATE_JSON} lacks the iteration, optimizer, random or net state`);
  return s;
}

/** Checks a state's kind and its counts of optimizers, streams and nets before anything is restored. */
export function checkTrainerState(s: TrainerState, kind: string, adam: number, rng: number, nets: number): void {
  check(s.kind === kind, `training state: written by a '${s.kind}' run, this is a '${kind}' run`);
  check(s.adam.length === adam && s.rng.length === rng && s.nets.length === nets,
    `training state: ${s.adam.length} optimizers, ${s.rng.length} random streams, ${s.nets.length} nets; a '${kind}' run has ${adam}, ${rng}, ${nets}`);
  for (const r of s.rng) check(Array.isArray(r) && r.length === 5 && r.every((x) => typeof x === 'number'), 'training state: a random stream state is not 5 numbers');
}

/** The variables' values, cloned now and read back asynchronously (the clones are released). */
export async function readVarsAsync(vars: tf.Variable[]): Promise<Float32Array[]> {
  const clones = vars.map((v) => v.clone());
  try {
    return await Promise.all(clones.map(async (t) => Float32Array.from(await t.data())));
  } finally {
    tf.dispose(clones);
  }
}

/** Variables' values, copied to the host. */
export function readVars(vars: tf.Variable[]): Float32Array[] {
  return vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
}

/** Sets variables from readVars' arrays (count and sizes checked first). */
export function writeVars(vars: tf.Variable[], values: Float32Array[], what: string): void {
  check(values.length === vars.length, `training state: ${what} has ${values.length} variables saved, the net has ${vars.length}`);
  vars.forEach((v, i) => check(values[i] instanceof Float32Array && values[i].length === v.size, `training state: ${what}'s variable ${i} holds the wrong number of values`));
  vars.forEach((v, i) => {
    const t = tf.tensor(values[i], v.shape, 'float32');
    v.assign(t);
    t.dispose();
  });
}
