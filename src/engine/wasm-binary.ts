/**
 * Speed fix for the wasm backend's Multiply, Add and Sub where one operand is broadcast over a trailing
 * block of axes (and possibly a middle one): wasm's generic broadcast loop takes ~2–4 ns an element
 * (GroupNorm's x − mean and x·rsqrt(var) over [128, 14, 14, 8, 8] by [128, 1, 1, 8, 1]: 3.75 ms each,
 * ~16 such products and differences in a U-Net teacher step, more in their gradients). Here the shapes
 * are merged into out[a, m, g, c] = x[a, m, g, c] OP y[a, g] and run by the SIMD heap kernel
 * (wasm-heap.ts `bcast_*`: one float32 operation per element, so the values are those of wasm's own
 * kernel) when the innermost broadcast block is a multiple of 4 long. Everything else keeps the
 * original kernels. Installed by the backend set-up (Node and browser) when wasm is active.
 */
import * as tf from '@tensorflow/tfjs';
import { heapKernelsFor, type HeapKernels } from './wasm-heap.js';

type KernelFn = tf.KernelConfig['kernelFunc'];
interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}

/**
 * [A, M, G, Cg] when `small` (right-aligned on `out`) is `out` with the axes of M and Cg set to 1 (after
 * dropping size-1 axes and merging neighbours alike), else null. `big` must have `out`'s shape.
 */
export function broadcastBlocks(out: number[], big: number[], small: number[]): [number, number, number, number] | null {
  if (big.length !== out.length || big.some((d, i) => d !== out[i])) return null;
  if (small.length > out.length) return null;
  const pad = out.length - small.length;
  const runs: { full: boolean; size: number }[] = [];
  for (let i = 0; i < out.length; i++) {
    const n = out[i];
    if (n === 1) continue;
    const s = i < pad ? 1 : small[i - pad];
    if (s !== n && s !== 1) return null;
    const full = s === n;
    const last = runs[runs.length - 1];
    if (last && last.full === full) last.size *= n;
    else runs.push({ full, size: n });
  }
  // from the innermost: broadcast Cg, full G, broadcast M, full A
  const dims = [1, 1, 1, 1]; // Cg, G, M, A
  let k = 0;
  for (let r = runs.length - 1; r >= 0; r--) {
    while (k < 4 && runs[r].full !== (k % 2 === 1)) k++;
    if (k >= 4) return null;
    dims[k++] = runs[r].size;
  }
  const [Cg, G, M, A] = dims;
  return [A, M, G, Cg];
}

let installed = false;

export function installWasmBroadcastBinary(): void {
  if (installed) return;
  for (const [name, op] of [['Multiply', 'mul'], ['Add', 'add'], ['Sub', 'sub']] as const) {
    const orig = tf.getKernel(name, 'wasm');
    if (!orig) continue;
    const origFn = orig.kernelFunc as KernelFn;
    const kernelFunc: KernelFn = (args) => {
      const { a, b } = args.inputs as unknown as { a: Info; b: Info };
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.join() === b.shape.join()) return origFn(args);
      const out = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      // the full operand x and the broadcast y; Sub with the broadcast one first is y − x
      let blocks = broadcastBlocks(out, a.shape, b.shape);
      let swapped = false;
      if (!blocks) {
        blocks = broadcastBlocks(out, b.shape, a.shape);
        swapped = true;
      }
      if (!blocks || blocks[3] % 4 !== 0) return origFn(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const o = backend.makeOutput(out, 'float32');
      const vo = backend.typedArrayFromHeap(o); // views after the allocation
      const hk = heapKernelsFor(vo.buffer);
      if (!hk) {
        (args.backend as unknown as { disposeData(id: object): void }).disposeData(o.dataId);
        return origFn(args);
      }
      const vx = backend.typedArrayFromHeap(swapped ? b : a);
      const vy = backend.typedArrayFromHeap(swapped ? a : b);
      const fn: keyof HeapKernels = op === 'sub' && swapped ? 'bcast_rsub' : `bcast_${op}`;
      (hk[fn] as HeapKernels['bcast_mul'])(vx.byteOffset, vy.byteOffset, vo.byteOffset, ...blocks);
      return o as never;
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...orig, kernelFunc });
  }
  installed = true;
}
