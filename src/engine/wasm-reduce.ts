/**
 * Speed fix for the wasm backend's Sum and Mean over axes that are not the innermost: wasm transposes
 * the input so that the reduced axes come last, then reduces (a full strided copy first). The U-Net's
 * training step runs ~70 such reductions (bias gradients sum a [B, H, W, C] gradient over B, H, W;
 * GroupNorm's moments and their gradients reduce over H, W inside each group): 780 ms of a 6.7 s
 * teacher step at batch 128 (measured). Here a reduction over a leading block of axes, or over a
 * middle block between kept ones (x [R, K] or [K0, R, K1]), is one JavaScript loop over the wasm heap,
 * row by row with Float64 accumulators (measured on a fresh [128·14·14, 64] tensor: 5 ms, against 9–17
 * ms for a product with a vector of ones, where XNNPACK packs the new operand, and 57 ms for wasm's
 * transpose + sum); trailing reduced axes are summed first with the backend's own kernel (innermost,
 * no transpose). Other patterns (and non-float32) keep the original kernels. Where the SIMD heap kernels
 * are bound (wasm-heap.ts) and the kept inner block is a multiple of 4 wide, the same float64 sums run
 * four columns a pass in place on the heap (bit for bit the loop's; [2048, 256] over rows 1.08 → 0.23 ms).
 * Installed by the backend set-up (Node and browser) when wasm is active.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapInfo, WasmBackendLike } from './wasm-util.js';
import { heapKernelsFor } from './wasm-heap.js';

type KernelFn = tf.KernelConfig['kernelFunc'];
/** The reduction as runs of kept (K) and reduced (R) axes, sizes multiplied, size-1 axes dropped. */
function runs(shape: number[], axes: Set<number>): { kind: 'K' | 'R'; size: number }[] {
  const out: { kind: 'K' | 'R'; size: number }[] = [];
  shape.forEach((n, i) => {
    if (n === 1) return;
    const kind = axes.has(i) ? 'R' : 'K';
    const last = out[out.length - 1];
    if (last && last.kind === kind) last.size *= n;
    else out.push({ kind, size: n });
  });
  return out;
}

let installed = false;

export function installWasmFastReductions(): void {
  if (installed) return;
  const need = ['Sum', 'Mean', 'Reshape'];
  if (need.some((n) => !tf.getKernel(n, 'wasm'))) return;
  const call = (name: string, args: Parameters<KernelFn>[0], inputs: unknown, attrs: unknown) =>
    (tf.getKernel(name, 'wasm')!.kernelFunc as KernelFn)({ inputs: inputs as never, backend: args.backend, attrs: attrs as never }) as unknown as HeapInfo;
  for (const name of ['Sum', 'Mean'] as const) {
    const orig = tf.getKernel(name, 'wasm')!;
    const origFn = orig.kernelFunc as KernelFn;
    const kernelFunc: KernelFn = (args) => {
      const { x } = args.inputs as unknown as { x: HeapInfo };
      const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
      if (x.dtype !== 'float32' || x.shape.length === 0) return origFn(args);
      const axes = tf.util.parseAxisParam(axis, x.shape);
      const r = runs(x.shape, new Set(axes));
      const rIdx = r.map((g) => g.kind).join('');
      // the innermost cases are the backend's fast path already
      if (rIdx === '' || rIdx === 'R' || rIdx === 'KR') return origFn(args);
      const pattern = rIdx.endsWith('R') ? rIdx.slice(0, -1) : rIdx;
      if (pattern !== 'RK' && pattern !== 'KRK') return origFn(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const count = axes.reduce((p, a) => p * x.shape[a], 1);
      const outShape = x.shape.map((n, i) => (axes.includes(i) ? 1 : n)).filter((_, i) => keepDims || !axes.includes(i));
      const temps: HeapInfo[] = [];
      try {
        let t = x;
        if (rIdx.endsWith('R')) {
          // the trailing reduced run first (innermost: no transpose)
          const inner = r[r.length - 1].size;
          const flat = call('Reshape', args, { x }, { shape: [x.shape.reduce((p, n) => p * n, 1) / inner, inner] });
          temps.push(flat);
          t = call('Sum', args, { x: flat }, { axis: [1], keepDims: false });
          temps.push(t);
        }
        const [K0, R, K1] = pattern === 'RK' ? [1, r[0].size, r[1].size] : [r[0].size, r[1].size, r[2].size];
        const out = backend.makeOutput(outShape, 'float32');
        // views after the allocation (a growing heap detaches earlier views)
        const src = backend.typedArrayFromHeap(t);
        const dst = backend.typedArrayFromHeap(out);
        const scale = name === 'Mean' ? 1 / count : 1;
        // the SIMD heap kernel (the same sums, in place) where it is bound to this heap
        const hk = K1 % 4 === 0 ? heapKernelsFor(src.buffer) : null;
        if (hk) {
          hk.colsum(src.byteOffset, dst.byteOffset, K0, R, K1, scale);
          return out as never;
        }
        const acc = new Float64Array(K1);
        for (let a = 0; a < K0; a++) {
          acc.fill(0);
          const base = a * R * K1;
          for (let j = 0; j < R; j++) {
            const o = base + j * K1;
            for (let c = 0; c < K1; c++) acc[c] += src[o + c];
          }
          for (let c = 0; c < K1; c++) dst[a * K1 + c] = acc[c] * scale;
        }
        return out as never;
      } finally {
        for (const tt of temps) backend.disposeData(tt.dataId);
      }
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...orig, kernelFunc });
  }
  installed = true;
}

let transposeInstalled = false;

/**
 * dst[n, c, r] = src[n, r, c] for n < N, r < R, c < C, in tiles of T × T (the gather's source rows stay
 * in cache): measured on [2048, 256] 1.1 ms, against 5.0 ms for wasm's own Transpose and 1.8 ms for the
 * plain double loop. Works on float32 and int32 views alike (a copy of 32-bit words).
 */
export function transposeTiles(src: Float32Array | Int32Array, dst: Float32Array | Int32Array, N: number, R: number, C: number, T = 32): void {
  const RC = R * C;
  for (let n = 0; n < N; n++) {
    const base = n * RC;
    for (let c0 = 0; c0 < C; c0 += T) {
      const c1 = Math.min(c0 + T, C);
      for (let r0 = 0; r0 < R; r0 += T) {
        const r1 = Math.min(r0 + T, R);
        for (let c = c0; c < c1; c++) {
          const o = base + c * R;
          for (let r = r0; r < r1; r++) dst[o + r] = src[base + r * C + c];
        }
      }
    }
  }
}

/**
 * wasm's Transpose is fast up to rank 4 and slow above (measured: a fresh [64, 14, 14, 16, 2, 2] tensor,
 * the U-Net's unpatchify, 59 ms at rank 6 against 4.9 ms for the same bytes at rank 4). Here axes that
 * stay next to each other are merged first (and size-1 axes dropped); what is still above rank 4 runs
 * as one JavaScript loop over the heap, the innermost output axis as a strided gather (9.7 ms there).
 * A merged problem that is a (batched) matrix transpose, at any rank, runs as `transposeTiles`: wasm's
 * own takes 5.0 ms for a [2048, 256] matrix (dense backprop's xᵀ in every weight gradient), the tiles 1.1;
 * with both sides multiples of 4 and the heap kernels bound, the SIMD kernel's 4 × 4 shuffles: 0.65.
 */
export function installWasmFastTranspose(): void {
  if (transposeInstalled) return;
  const orig = tf.getKernel('Transpose', 'wasm');
  if (!orig || !tf.getKernel('Reshape', 'wasm')) return;
  const origFn = orig.kernelFunc as KernelFn;
  const kernelFunc: KernelFn = (args) => {
    const { x } = args.inputs as unknown as { x: HeapInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return origFn(args);
    // merge runs of input axes that stay consecutive in the output; drop size-1 axes
    const keep = perm.filter((p) => x.shape[p] !== 1);
    const groups: number[][] = [];
    for (const p of keep) {
      const g = groups[groups.length - 1];
      if (g && g[g.length - 1] + 1 === p) g.push(p);
      else groups.push([p]);
    }
    const outShape = perm.map((p) => x.shape[p]);
    // the merged problem: input axes in input order
    const order = [...groups].sort((a, b) => a[0] - b[0]);
    const cShape = order.map((g) => g.reduce((n, a) => n * x.shape[a], 1));
    const cPerm = groups.map((g) => order.indexOf(g));
    const backend = args.backend as unknown as WasmBackendLike;
    const swap = cShape.length === 2 && cPerm[0] === 1 ? 2 : cShape.length === 3 && cPerm[0] === 0 && cPerm[1] === 2 ? 3 : 0;
    if (swap) {
      // a (batched) matrix transpose, e.g. dense backprop's xᵀ: tiles of 32 × 32, each output row a short gather
      const [N, R, C] = swap === 2 ? [1, cShape[0], cShape[1]] : (cShape as [number, number, number]);
      const out = backend.makeOutput(outShape, x.dtype);
      const src = backend.typedArrayFromHeap(x);
      const dst = backend.typedArrayFromHeap(out);
      const hk = R % 4 === 0 && C % 4 === 0 ? heapKernelsFor(src.buffer) : null;
      if (hk) hk.transpose(src.byteOffset, dst.byteOffset, N, R, C); // the same copy, 4 × 4 blocks by SIMD shuffles
      else transposeTiles(src, dst, N, R, C);
      return out as never;
    }
    if (x.shape.length <= 4) return origFn(args);
    const call = (name: string, inputs: unknown, attrs: unknown) =>
      (tf.getKernel(name, 'wasm')!.kernelFunc as KernelFn)({ inputs: inputs as never, backend: args.backend, attrs: attrs as never }) as unknown as HeapInfo;
    if (cShape.length <= 4) {
      const xr = call('Reshape', { x }, { shape: cShape.length ? cShape : [1] });
      try {
        const t = origFn({ ...args, inputs: { x: xr } as never, attrs: { perm: cShape.length ? cPerm : [0] } as never }) as unknown as HeapInfo;
        try {
          return call('Reshape', { x: t }, { shape: outShape }) as never;
        } finally {
          backend.disposeData(t.dataId);
        }
      } finally {
        backend.disposeData(xr.dataId);
      }
    }
    const r = cShape.length;
    const inStride = new Array<number>(r);
    inStride[r - 1] = 1;
    for (let i = r - 2; i >= 0; i--) inStride[i] = inStride[i + 1] * cShape[i + 1];
    const oShape = cPerm.map((p) => cShape[p]);
    const st = cPerm.map((p) => inStride[p]);
    const out = backend.makeOutput(outShape, x.dtype);
    const src = x.dtype === 'float32' ? backend.typedArrayFromHeap(x) : (backend.typedArrayFromHeap(x) as unknown as Int32Array);
    const dst = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
    const n = dst.length;
    const idx = new Array<number>(r).fill(0);
    const last = r - 1;
    const sl = st[last];
    const nl = oShape[last];
    let off = 0;
    for (let o = 0; o < n; o += nl) {
      for (let j = 0; j < nl; j++) dst[o + j] = src[off + j * sl];
      for (let d = last - 1; d >= 0; d--) {
        off += st[d];
        if (++idx[d] < oShape[d]) break;
        off -= st[d] * oShape[d];
        idx[d] = 0;
      }
    }
    return out as never;
  };
  tf.unregisterKernel('Transpose', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc });
  transposeInstalled = true;
}
