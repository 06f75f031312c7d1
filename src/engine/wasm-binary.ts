/**
 * Speed fixes for the wasm backend's Multiply, Add and Sub with a broadcast operand, and for Slice/SplitV.
 *
 * Multiply, Add and Sub where one operand is broadcast over a trailing
 * block of axes (and possibly a middle one): wasm's generic broadcast loop takes ~2–4 ns an element
 * (GroupNorm's x − mean and x·rsqrt(var) over [128, 14, 14, 8, 8] by [128, 1, 1, 8, 1]: 3.75 ms each,
 * ~16 such products and differences in a U-Net teacher step, more in their gradients). Here the shapes
 * are merged into out[a, m, g, c] = x[a, m, g, c] OP y[a, g] and run by the SIMD heap kernel
 * (wasm-heap.ts `bcast_*`: one float32 operation per element, so the values are those of wasm's own
 * kernel) when the innermost broadcast block is a multiple of 4 long. Everything else keeps the
 * original kernels. Installed by the backend set-up (Node and browser) when wasm is active.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapInfo, WasmBackendLike } from './wasm-util.js';
import { heapKernelsFor, type HeapKernels } from './wasm-heap.js';

type KernelFn = tf.KernelConfig['kernelFunc'];
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

/**
 * out[a, m, g, c] = x[a, m, g, c] OP y[a, g] as a float32 loop: each result is the float64 operation
 * stored into a Float32Array (rounded to float32), which for +, − and × of float32 operands is the
 * float32 operation itself (float64 has more than twice float32's precision), so wasm's kernel's bits.
 * For each (a, g, c) one strided run over m with y[a, g] fixed.
 */
function broadcastLoop(op: 'mul' | 'add' | 'sub' | 'rsub', x: Float32Array, y: Float32Array, out: Float32Array, [A, M, G, Cg]: [number, number, number, number]): void {
  const GC = G * Cg;
  const n = M * GC;
  for (let a = 0; a < A; a++) {
    const end = (a + 1) * n;
    for (let g = 0; g < G; g++) {
      const yv = y[a * G + g];
      for (let c = 0; c < Cg; c++) {
        const start = a * n + g * Cg + c;
        if (op === 'mul') for (let i = start; i < end; i += GC) out[i] = x[i] * yv;
        else if (op === 'add') for (let i = start; i < end; i += GC) out[i] = x[i] + yv;
        else if (op === 'sub') for (let i = start; i < end; i += GC) out[i] = x[i] - yv;
        else for (let i = start; i < end; i += GC) out[i] = yv - x[i];
      }
    }
  }
}

let installed = false;

export function installWasmBroadcastBinary(): void {
  if (installed) return;
  for (const [name, op] of [['Multiply', 'mul'], ['Add', 'add'], ['Sub', 'sub']] as const) {
    const orig = tf.getKernel(name, 'wasm');
    if (!orig) continue;
    const origFn = orig.kernelFunc as KernelFn;
    const kernelFunc: KernelFn = (args) => {
      const { a, b } = args.inputs as unknown as { a: HeapInfo; b: HeapInfo };
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.join() === b.shape.join()) return origFn(args);
      const out = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      // the full operand x and the broadcast y; Sub with the broadcast one first is y − x
      let blocks = broadcastBlocks(out, a.shape, b.shape);
      let swapped = false;
      if (!blocks) {
        blocks = broadcastBlocks(out, b.shape, a.shape);
        swapped = true;
      }
      // the SIMD kernel needs whole vectors of a broadcast value (Cg % 4 = 0); short full runs (G < 4, Cg < 4:
      // a [B, 1, 2] point against [B, K, 2] means) go through a float32 loop; the rest stays with wasm
      const loop = blocks !== null && blocks[3] % 4 !== 0 && blocks[2] < 4 && blocks[3] < 4;
      if (!blocks || (blocks[3] % 4 !== 0 && !loop)) return origFn(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const o = backend.makeOutput(out, 'float32');
      const vo = backend.typedArrayFromHeap(o); // views after the allocation
      const hk = heapKernelsFor(vo.buffer);
      if (!hk) {
        backend.disposeData(o.dataId);
        return origFn(args);
      }
      const vx = backend.typedArrayFromHeap(swapped ? b : a);
      const vy = backend.typedArrayFromHeap(swapped ? a : b);
      if (loop) {
        broadcastLoop(op === 'sub' && swapped ? 'rsub' : op, vx as Float32Array, vy as Float32Array, vo as Float32Array, blocks);
        return o as never;
      }
      const fn: keyof HeapKernels = op === 'sub' && swapped ? 'bcast_rsub' : `bcast_${op}`;
      (hk[fn] as HeapKernels['bcast_mul'])(vx.byteOffset, vy.byteOffset, vo.byteOffset, ...blocks);
      return o as never;
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...orig, kernelFunc });
  }
  installed = true;
}

let sliceInstalled = false;

/**
 * The blocks of a slice with one partial axis p (every other axis whole): `outer` rows, each a contiguous
 * run of `len` elements starting `offset` elements into its block of `stride`; null for other slices.
 */
export function sliceRuns(shape: number[], begin: number[], size: number[]): { outer: number; len: number; stride: number; offset: number } | null {
  let p = -1;
  for (let i = 0; i < shape.length; i++) {
    if (size[i] !== shape[i]) {
      if (p >= 0) return null;
      p = i;
    }
  }
  if (p < 0) return null;
  const inner = shape.slice(p + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, p).reduce((a, b) => a * b, 1);
  return { outer, len: size[p] * inner, stride: shape[p] * inner, offset: begin[p] * inner };
}

/**
 * Speed fix for the wasm backend's Slice, SplitV (which slices) and Concat: wasm's kernel copies element by element
 * (measured: half of a fresh [128, 14, 14, 128] along the channels 9.1 ms, along the batch 6.9 ms, for 6.4
 * MB). A slice that cuts one axis is `outer` contiguous runs: the heap kernel `copy2d` copies them four
 * words a vector (1.6 and 0.6 ms); a concatenation is one such strided copy an input. Same bytes;
 * other slices and dtypes keep wasm's kernels.
 */
export function installWasmFastSlice(): void {
  if (sliceInstalled) return;
  const origSlice = tf.getKernel('Slice', 'wasm');
  const origSplit = tf.getKernel('SplitV', 'wasm');
  if (!origSlice || !origSplit) return;
  const sliceFn = origSlice.kernelFunc as KernelFn;
  const splitFn = origSplit.kernelFunc as KernelFn;
  /** the slice by the heap kernel, or null where it does not apply */
  const fast = (x: HeapInfo, begin: number[], size: number[], backend: WasmBackendLike): HeapInfo | null => {
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return null;
    const r = sliceRuns(x.shape, begin, size);
    if (!r || r.len === 0) return null;
    const out = backend.makeOutput(size, x.dtype);
    const src = backend.typedArrayFromHeap(x); // views after the allocation
    const dst = backend.typedArrayFromHeap(out);
    const hk = heapKernelsFor(dst.buffer);
    if (!hk) {
      backend.disposeData(out.dataId);
      return null;
    }
    hk.copy2d(src.byteOffset + 4 * r.offset, dst.byteOffset, r.outer, r.len, r.stride, r.len);
    return out;
  };
  const slice: KernelFn = (args) => {
    const { x } = args.inputs as unknown as { x: HeapInfo };
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, begin, size);
    return (fast(x, b, s, args.backend as unknown as WasmBackendLike) ?? sliceFn(args)) as never;
  };
  const splitV: KernelFn = (args) => {
    const { x } = args.inputs as unknown as { x: HeapInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return splitFn(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((n) => {
      const size = [...x.shape];
      size[ax] = n;
      const out = fast(x, begin, size, args.backend as unknown as WasmBackendLike) ??
        (sliceFn({ inputs: { x } as never, attrs: { begin: [...begin], size } as never, backend: args.backend }) as unknown as HeapInfo);
      begin[ax] += n;
      return out;
    }) as never;
  };
  // Concat: wasm's copies row by row from JavaScript (a subarray and a set per row and input: a channel
  // concat of two [128, 14, 14, 64] is 50,176 of them, 7 ms); here each input is one strided copy
  const origConcat = tf.getKernel('Concat', 'wasm');
  if (origConcat) {
    const concatFn = origConcat.kernelFunc as KernelFn;
    const concat: KernelFn = (args) => {
      const inputs = (args.inputs as unknown as HeapInfo[]).filter((t) => t.shape.reduce((a, b) => a * b, 1) > 0);
      const dtype = inputs[0]?.dtype;
      if (inputs.length < 2 || (dtype !== 'float32' && dtype !== 'int32') || inputs.some((t) => t.dtype !== dtype)) return concatFn(args);
      const all = args.inputs as unknown as HeapInfo[];
      const axis = tf.util.parseAxisParam((args.attrs as unknown as { axis: number }).axis, all[0].shape)[0];
      tf.backend_util.assertParamsConsistent(all.map((t) => t.shape), axis);
      const outShape = tf.backend_util.computeOutShape(all.map((t) => t.shape), axis);
      const backend = args.backend as unknown as WasmBackendLike;
      const out = backend.makeOutput(outShape, dtype);
      const dst = backend.typedArrayFromHeap(out); // views after the allocation
      const hk = heapKernelsFor(dst.buffer);
      if (!hk) {
        backend.disposeData(out.dataId);
        return concatFn(args);
      }
      const outer = outShape.slice(0, axis).reduce((a, b) => a * b, 1);
      const row = outShape.slice(axis).reduce((a, b) => a * b, 1);
      let off = 0;
      for (const t of inputs) {
        const len = t.shape.slice(axis).reduce((a, b) => a * b, 1);
        const src = backend.typedArrayFromHeap(t);
        hk.copy2d(src.byteOffset, dst.byteOffset + 4 * off, outer, len, len, row);
        off += len;
      }
      return out as never;
    };
    tf.unregisterKernel('Concat', 'wasm');
    tf.registerKernel({ ...origConcat, kernelFunc: concat });
  }
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel({ ...origSlice, kernelFunc: slice });
  tf.unregisterKernel('SplitV', 'wasm');
  tf.registerKernel({ ...origSplit, kernelFunc: splitV });
  sliceInstalled = true;
}
