/**
 * Speed fix for the wasm backend: its matrix multiply is fast (XNNPACK) only for untransposed
 * operands; with transposeA or transposeB it takes a slow path (~10× slower, measured: 2048×256·256×256
 * 9.5 ms plain vs 105–115 ms transposed). Backpropagation through every dense layer asks for exactly
 * those products (dW = xᵀ·dy, dx = dy·Wᵀ). This wraps the wasm BatchMatMul and _FusedMatMul kernels so
 * that a transposed operand is first transposed explicitly (a cheap copy) and the fast path runs.
 * Numerics are unchanged. Where the SIMD heap kernels cover the product (heapMatMul below) they run it
 * instead, XNNPACK's arithmetic without its per-call operator and packing. Installed once by the backend
 * set-up (Node and browser) when wasm is active.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapInfo, WasmBackendLike } from './wasm-util.js';
import { heapKernelsFor, heapProductCovers } from './wasm-heap.js';

type KernelFn = tf.KernelConfig['kernelFunc'];
interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: string;
}

let installed = false;

export function installWasmTransposeFreeMatMul(): void {
  if (installed) return;
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!transpose) return;
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const orig = tf.getKernel(name, 'wasm');
    if (!orig) continue;
    const origFn = orig.kernelFunc as KernelFn;
    const wrapped: KernelFn = (args) => {
      const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
      const heap = heapMatMul(args, name === '_FusedMatMul');
      if (heap) return heap as never;
      if (!attrs.transposeA && !attrs.transposeB) return origFn(args);
      const backend = args.backend as unknown as { disposeData(id: object): void };
      const inputs = { ...(args.inputs as Record<string, TensorInfoLike>) };
      const temps: TensorInfoLike[] = [];
      const swapLast = (t: TensorInfoLike): TensorInfoLike => {
        const r = t.shape.length;
        const perm = [...Array(r - 2).keys(), r - 1, r - 2];
        // the Transpose registered now (installWasmFastTranspose may replace it after this install)
        const out = (tf.getKernel('Transpose', 'wasm')!.kernelFunc as KernelFn)({ inputs: { x: t } as never, backend: args.backend, attrs: { perm } as never }) as TensorInfoLike;
        temps.push(out);
        return out;
      };
      if (attrs.transposeA) inputs.a = swapLast(inputs.a);
      if (attrs.transposeB) inputs.b = swapLast(inputs.b);
      try {
        return origFn({ ...args, inputs: inputs as never, attrs: { ...attrs, transposeA: false, transposeB: false } as never });
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...orig, kernelFunc: wrapped });
  }
  installed = true;
}

let heapOn = true;
let heapRuns = 0;
/** Switches the heap kernels' products (below) on or off (tests compare); returns the previous setting. */
export function setHeapMatMul(on: boolean): boolean {
  const prev = heapOn;
  heapOn = on;
  return prev;
}
/** How many products the heap kernels have run (tests check that they ran). */
export function heapMatMulRuns(): number {
  return heapRuns;
}

const size = (shape: number[]) => shape.reduce((p, q) => p * q, 1);

/**
 * a·b (transposes as asked) on the SIMD heap kernels gemm_nn / gemm_tn (scripts/build-wasm-heap.mjs): the
 * same 4 × 8 tiles of four-lane multiplies and adds as XNNPACK's wasm kernels, k in order, so the same
 * float32 results bit for bit (tested), without an operator created and the right operand packed for
 * every call: measured [2048, 256]·[256, 256] 9.4 → 8.0 ms, [2048, 128]·[128, 256] 6.4 → 4.2, the weight
 * gradient's [2048, 256]ᵀ·[2048, 256] 9.5 → 8.7 ms. Where heapProductCovers (N % 8 = 0 or N ≥ 64; M % 4 = 0 with transposeA), equal
 * batch shapes, float32; _FusedMatMul with a linear activation and a bias of N values, added afterwards by
 * wasm's Add (XNNPACK's fused bias starts its sums from the bias: a rounding apart). Null elsewhere.
 */
function heapMatMul(args: Parameters<KernelFn>[0], fused: boolean): HeapInfo | null {
  if (!heapOn) return null;
  const { a, b, bias, preluActivationWeights } = args.inputs as unknown as { a: HeapInfo; b: HeapInfo; bias?: HeapInfo; preluActivationWeights?: HeapInfo };
  const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (fused && ((attrs.activation != null && attrs.activation !== 'linear') || preluActivationWeights != null)) return null;
  const ra = a.shape.length;
  if (ra < 2 || b.shape.length !== ra || a.shape.slice(0, -2).some((d, i) => d !== b.shape[i])) return null;
  const tA = !!attrs.transposeA;
  const tB = !!attrs.transposeB;
  const [M, K] = tA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [Kb, N] = tB ? [b.shape[ra - 1], b.shape[ra - 2]] : [b.shape[ra - 2], b.shape[ra - 1]];
  const Q = size(a.shape.slice(0, -2));
  if (K !== Kb || M === 0 || K === 0 || Q === 0 || !heapProductCovers(N, tA ? M : undefined)) return null;
  if (bias != null && (bias.dtype !== 'float32' || size(bias.shape) !== N || bias.shape.length > 2)) return null;
  const backend = args.backend as unknown as WasmBackendLike;
  const call = (kernel: string, inputs: unknown, at: unknown) =>
    (tf.getKernel(kernel, 'wasm')!.kernelFunc as KernelFn)({ inputs: inputs as never, backend: args.backend, attrs: at as never }) as unknown as HeapInfo;
  // every allocation first, then the kernels' binding (an allocation that grows the heap makes a new buffer)
  const bt = tB ? call('Transpose', { x: b }, { perm: [...Array(ra - 2).keys(), ra - 1, ra - 2] }) : b;
  let out: HeapInfo | null = backend.makeOutput([...a.shape.slice(0, -2), M, N], 'float32');
  try {
    const ya = backend.typedArrayFromHeap(a);
    const hk = heapKernelsFor(ya.buffer);
    if (!hk) return null;
    const [pa, pb, pc] = [ya.byteOffset, backend.typedArrayFromHeap(bt).byteOffset, backend.typedArrayFromHeap(out).byteOffset];
    if (tA) hk.gemm_tn(pa, pb, pc, Q, K, M, N);
    else hk.gemm_nn(pa, pb, pc, Q, M, K, N);
    heapRuns++;
    if (bias == null) {
      const done = out;
      out = null;
      return done;
    }
    return call('Add', { a: out, b: bias }, {});
  } finally {
    if (out) backend.disposeData(out.dataId);
    if (bt !== b) backend.disposeData(bt.dataId);
  }
}

let identityInstalled = false;

/**
 * wasm's Identity copies its input; tfjs runs it for every tensor a gradient tape saves (~360 copies in
 * a U-Net teacher step, 250 ms of ~6.6 s at batch 128, measured) and for `clone`. Tensors on wasm are
 * never written in place (every kernel writes a fresh output, Reshape already shares its input's data),
 * so Identity (and Cast to the same dtype) can share the data by reference count, as the cpu and
 * webgl backends do.
 */
export function installWasmSharedIdentity(): void {
  if (identityInstalled) return;
  const orig = tf.getKernel('Identity', 'wasm');
  if (!orig) return;
  const origFn = orig.kernelFunc as KernelFn;
  const kernelFunc: KernelFn = (args) => {
    const { x } = args.inputs as unknown as { x: TensorInfoLike };
    if (x.dtype === 'string') return origFn(args);
    (args.backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as never;
  };
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc });
  // Cast to its own dtype copies too (tfjs's gradients cast every dy: ~90 casts in that step)
  const cast = tf.getKernel('Cast', 'wasm');
  if (cast) {
    const castFn = cast.kernelFunc as KernelFn;
    const castShared: KernelFn = (args) => {
      const { x } = args.inputs as unknown as { x: TensorInfoLike };
      if ((args.attrs as { dtype?: string }).dtype !== x.dtype || x.dtype === 'string') return castFn(args);
      (args.backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as never;
    };
    tf.unregisterKernel('Cast', 'wasm');
    tf.registerKernel({ ...cast, kernelFunc: castShared });
  }
  identityInstalled = true;
}
