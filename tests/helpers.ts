/** Shared test helpers: backend set-up, paths, and running the compiled CLI. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../src/engine/backend.js';

/** repository root (tests run from dist/tests) */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'bin', 'piflow.js');
export const FIXTURES = path.join(ROOT, 'tests', 'fixtures');

export async function useBackend(name = 'wasm'): Promise<void> {
  await initNodeBackend(name);
}

/** Runs the compiled CLI (cwd: the repository root unless `cwd`; `env` is added to this process's). */
export function runCli(args: string[], opts: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 600_000,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Σ of `vals` (row-major `shape`) over `axes`, in float64, each element added into its output cell. */
export function sumOverAxes(vals: ArrayLike<number>, shape: number[], axes: number[]): Float64Array {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const ref = new Float64Array(kept.reduce((p, i) => p * shape[i], 1));
  const idx = new Array(shape.length).fill(0);
  for (let e = 0; e < vals.length; e++) {
    let o = 0;
    for (const i of kept) o = o * shape[i] + idx[i];
    ref[o] += vals[e];
    for (let d = shape.length - 1; d >= 0; d--) if (++idx[d] < shape[d]) break; else idx[d] = 0;
  }
  return ref;
}

/**
 * A convolution, and the input and filter gradients of Σ y·g, in float64 (NHWC, stride s, explicit top/left
 * pads pt/pl, output [.., OH, OW, ..] from `gs`): the reference the wasm conv kernels are tested against.
 */
export function refConv(x: Float32Array, xs: number[], w: Float32Array, ws: number[], g: Float32Array, gs: number[], s: number, pt: number, pl: number) {
  const [B, H, W, Ci] = xs;
  const [KH, KW, , Co] = ws;
  const [, OH, OW] = gs;
  const y = new Float64Array(B * OH * OW * Co);
  const dW = new Float64Array(w.length);
  const dx = new Float64Array(x.length);
  for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) {
    const iy = oy * s + i - pt;
    const ix = ox * s + j - pl;
    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
    for (let ci = 0; ci < Ci; ci++) for (let co = 0; co < Co; co++) {
      const o = ((b * OH + oy) * OW + ox) * Co + co;
      const wk = ((i * KW + j) * Ci + ci) * Co + co;
      const xv = x[((b * H + iy) * W + ix) * Ci + ci];
      y[o] += xv * w[wk];
      dW[wk] += xv * g[o];
      dx[((b * H + iy) * W + ix) * Ci + ci] += w[wk] * g[o];
    }
  }
  return { y, dW, dx };
}
