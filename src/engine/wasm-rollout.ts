/**
 * The 2D and one-channel GMFlow rollouts (fused.ts `gmflowRolloutHost2`, `gmflowRolloutHost1`) as SIMD
 * WebAssembly programs: four samples (2D) or four pixels of a sample (images) per f32x4 vector, the
 * logits, weights and sums in float32, the coefficients and states in float64 (see
 * scripts/build-wasm-rollout.mjs, which builds src/engine/wasm-rollout-module.ts from its text; ~2.3×
 * the float64 two-components-a-vector program it replaced, ~2e−7 from the float64 JS loop).
 * `loadWasmRollout()` compiles it once (asynchronously: browsers refuse synchronous compiles on the main
 * thread); until then, where WebAssembly SIMD is missing, or after `setWasmRollout(false)`, the JS loop
 * runs. The module has its own memory, grown to fit: the inputs are copied in, the states copied out.
 */
import { GMFLOW_ROLLOUT_WASM } from './wasm-rollout-module.js';
import { decodeBase64 } from './wasm-util.js';
import type { Times } from './time.js';

interface RolloutExports {
  mem: WebAssembly.Memory;
  rollout1(B: number, K: number, S: number, steps: number, every: number, eps: number,
    px: number, pxs: number, pmu: number, plw: number, pgv: number, pra: number, pcoef: number, pout: number, pscr: number): number;
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

/** Writes a rollout's coefficients (fused.ts gmflowCoefficients) into `out`, substep j's row at j·rowSamples·4. */
export type CoefficientFill = (out: Float64Array, rowSamples: number) => void;

interface Staged {
  px: number; pxs: number; pmu: number; plw: number; pgv: number; pra: number; pcoef: number; pout: number; pscr: number;
  buf: ArrayBuffer;
  outLen: number;
}

/**
 * Lays a rollout's inputs out in the module's memory (after the 256 bytes it keeps: scratch, then the
 * inputs and the output, 16-aligned), growing it to fit, and copies them in: R ≥ B rows (samples), each
 * row `perX` values of x and x_src and `perMu` of μ and of l (rows past B zero); the coefficients
 * [steps, R, 4] copied or filled in place (rows past B: zero when copied, left when filled — the program
 * never reads them as active).
 */
function stage(
  ex: RolloutExports, R: number, perX: number, perMu: number, perL: number, K: number, steps: number, outLen: number,
  x: Float32Array, xSrc: Float32Array, mu: Float32Array, lw: Float32Array, gv: Float32Array, raSrc: Times, coef: Float64Array | CoefficientFill,
): Staged {
  const B = gv.length;
  let p = 256;
  const take = (bytes: number) => {
    const at = p;
    p = align(p + bytes);
    return at;
  };
  const pscr = take(64 * (K + 1));
  const pcoef = take(steps * R * 4 * 8);
  const pra = take(R * 8);
  const px = take(R * perX * 4);
  const pxs = take(R * perX * 4);
  const pmu = take(R * perMu * 4);
  const plw = take(R * perL * 4);
  const pgv = take(R * 4);
  const pout = take(outLen * 4);
  if (p > ex.mem.buffer.byteLength) ex.mem.grow(Math.ceil((p - ex.mem.buffer.byteLength) / 65536));
  const buf = ex.mem.buffer;
  const c = new Float64Array(buf, pcoef, steps * R * 4);
  if (typeof coef === 'function') coef(c, R);
  else if (R === B) c.set(coef.subarray(0, steps * B * 4));
  else {
    for (let j = 0; j < steps; j++) {
      c.set(coef.subarray(j * B * 4, (j + 1) * B * 4), j * R * 4);
      c.fill(0, (j * R + B) * 4, (j + 1) * R * 4);
    }
  }
  // n values a row, zero past B
  const put = (ptr: number, n: number, src: Float32Array | Float64Array) => {
    const dst = src instanceof Float64Array ? new Float64Array(buf, ptr, R * n) : new Float32Array(buf, ptr, R * n);
    dst.set(src.subarray(0, B * n));
    dst.fill(0, B * n);
  };
  put(pra, 1, raSrc);
  put(px, perX, x);
  put(pxs, perX, xSrc);
  put(pmu, perMu, mu);
  put(plw, perL, lw);
  put(pgv, 1, gv);
  return { px, pxs, pmu, plw, pgv, pra, pcoef, pout, pscr, buf, outLen };
}

/** The program's output states, copied out of its memory. */
const outOf = (s: Staged) => new Float32Array(s.buf, s.pout, s.outLen).slice();

/**
 * Runs the 2D rollout in the module: x, xSrc [B, 2], μ [B, K, 2], l [B, K], v [B] (float32), r_a/a [B],
 * the coefficients [steps, B, 4] (gmflowCoefficients), or a fill that writes them into the module's
 * memory. Returns the end state [B·2], or with `every` all states [(steps + 1)·B·2], and the count of
 * redone softmaxes; null when the module is not active. The program takes four samples a vector: the
 * inputs are copied in padded to a multiple of four samples (padding lanes are never active).
 */
export function gmflowRollout2Wasm(
  x: Float32Array, xSrc: Float32Array, mu: Float32Array, lw: Float32Array, gv: Float32Array, raSrc: Times,
  K: number, eps: number, coef: Float64Array | CoefficientFill, steps: number, every: boolean,
): { out: Float32Array; redos: number } | null {
  if (!enabled || !exportsOf) return null;
  const B = gv.length;
  const s = stage(exportsOf, (B + 3) & ~3, 2, K * 2, K, K, steps, ((every ? steps : 0) + 1) * B * 2, x, xSrc, mu, lw, gv, raSrc, coef);
  const redos = exportsOf.rollout2(B, K, steps, every ? 1 : 0, eps, s.px, s.pxs, s.pmu, s.plw, s.pgv, s.pra, s.pcoef, s.pout, s.pscr);
  return { out: outOf(s), redos };
}

/**
 * The one-channel rollout (fused.ts `gmflowRolloutHost1`: single-channel images) in the module, four
 * pixels of a sample a vector: x, xSrc [B, S], μ and l [B, K, S], v [B] (float32), r_a/a [B], the
 * coefficients [steps, B, 4] or their fill. Returns the end state [B·S], or with `every` all states
 * [(steps + 1)·B·S], and the count of redone softmaxes; null when the module is not active or S is not
 * a multiple of 4 (then the JS loop runs).
 */
export function gmflowRollout1Wasm(
  x: Float32Array, xSrc: Float32Array, mu: Float32Array, lw: Float32Array, gv: Float32Array, raSrc: Times,
  K: number, S: number, eps: number, coef: Float64Array | CoefficientFill, steps: number, every: boolean,
): { out: Float32Array; redos: number } | null {
  if (!enabled || !exportsOf || S % 4 !== 0 || S === 0) return null;
  const B = gv.length;
  const s = stage(exportsOf, B, S, K * S, K * S, K, steps, ((every ? steps : 0) + 1) * B * S, x, xSrc, mu, lw, gv, raSrc, coef);
  const redos = exportsOf.rollout1(B, K, S, steps, every ? 1 : 0, eps, s.px, s.pxs, s.pmu, s.plw, s.pgv, s.pra, s.pcoef, s.pout, s.pscr);
  return { out: outOf(s), redos };
}
