/**
 * The 2D GMFlow rollout (fused.ts `gmflowRolloutHost2`) as a SIMD WebAssembly program: two mixture
 * components per f64x2 vector, the same float64 arithmetic per component (see
 * scripts/build-wasm-rollout.mjs, which builds src/engine/wasm-rollout-module.ts from its text).
 * `loadWasmRollout()` compiles it once (asynchronously: browsers refuse synchronous compiles on the main
 * thread); until then, where WebAssembly SIMD is missing, or after `setWasmRollout(false)`, the JS loop
 * runs. The module has its own memory, grown to fit: the inputs are copied in, the states copied out.
 */
import { GMFLOW_ROLLOUT_WASM } from './wasm-rollout-module.js';
import { decodeBase64 } from './wasm-util.js';
import type { Times } from './time.js';

interface RolloutExports {
  mem: WebAssembly.Memory;
  rollout2(B: number, K: number, steps: number, every: number, eps: number,
    px: number, pxs: number, pmu: number, plw: number, pgv: number, pra: number, pcoef: number, pout: number, pscr: number): number;
}

let exportsOf: RolloutExports | null = null;
let loading: Promise<boolean> | null = null;
let loadError: string | null = null;
let enabled = true;

/** Compiles and instantiates the module (once); false, with `wasmRolloutError()` saying why, where it cannot run. */
export function loadWasmRollout(): Promise<boolean> {
  loading ??= (async () => {
    try {
      const module = await WebAssembly.compile(decodeBase64(GMFLOW_ROLLOUT_WASM));
      const instance = await WebAssembly.instantiate(module);
      exportsOf = instance.exports as unknown as RolloutExports;
      return true;
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e); // e.g. no WebAssembly SIMD
      return false;
    }
  })();
  return loading;
}

/** Why the module did not load (null when it did, or was not tried). */
export function wasmRolloutError(): string | null {
  return loadError;
}

/** Switches the wasm rollout on or off (on by default; off: the JS loop). Returns the previous setting. */
export function setWasmRollout(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Whether `gmflowRollout2Wasm` runs now (loaded and switched on). */
export function wasmRolloutActive(): boolean {
  return enabled && exportsOf !== null;
}

const align = (n: number) => (n + 15) & ~15;

/**
 * Runs the 2D rollout in the module: x, xSrc [B, 2], μ [B, K, 2], l [B, K], v [B] (float32), r_a/a [B],
 * the coefficients [steps, B, 4] (gmflowCoefficients). Returns the end state [B·2], or with `every` all
 * states [(steps + 1)·B·2], and the count of redone softmaxes; null when the module is not active.
 */
export function gmflowRollout2Wasm(
  x: Float32Array, xSrc: Float32Array, mu: Float32Array, lw: Float32Array, gv: Float32Array, raSrc: Times,
  K: number, eps: number, coef: Float64Array, steps: number, every: boolean,
): { out: Float32Array; redos: number } | null {
  if (!enabled || !exportsOf) return null;
  const B = gv.length;
  const Kp = K + (K & 1);
  const outLen = ((every ? steps : 0) + 1) * B * 2;
  // layout after the 256-byte exp table: scratch, then the inputs and the output, 16-aligned
  let p = 256;
  const pscr = p;
  p = align(p + 4 * Kp * 8);
  const pcoef = p;
  p = align(p + steps * B * 4 * 8);
  const pra = p;
  p = align(p + B * 8);
  const px = p;
  p = align(p + B * 2 * 4);
  const pxs = p;
  p = align(p + B * 2 * 4);
  const pmu = p;
  p = align(p + B * K * 2 * 4);
  const plw = p;
  p = align(p + B * K * 4);
  const pgv = p;
  p = align(p + B * 4);
  const pout = p;
  p = align(p + outLen * 4);
  const { mem } = exportsOf;
  if (p > mem.buffer.byteLength) mem.grow(Math.ceil((p - mem.buffer.byteLength) / 65536));
  const buf = mem.buffer;
  new Float64Array(buf, pcoef, steps * B * 4).set(coef.subarray(0, steps * B * 4));
  new Float64Array(buf, pra, B).set(raSrc.subarray(0, B));
  new Float32Array(buf, px, B * 2).set(x.subarray(0, B * 2));
  new Float32Array(buf, pxs, B * 2).set(xSrc.subarray(0, B * 2));
  new Float32Array(buf, pmu, B * K * 2).set(mu.subarray(0, B * K * 2));
  new Float32Array(buf, plw, B * K).set(lw.subarray(0, B * K));
  new Float32Array(buf, pgv, B).set(gv);
  const redos = exportsOf.rollout2(B, K, steps, every ? 1 : 0, eps, px, pxs, pmu, plw, pgv, pra, pcoef, pout, pscr);
  return { out: new Float32Array(buf, pout, outLen).slice(), redos };
}
