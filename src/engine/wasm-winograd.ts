/**
 * 3×3 stride-1 convolutions padded by 1 on the wasm backend as Winograd F(2×2, 3×3) (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016): each 2×2 output tile is A^T[(G g G^T) ⊙ (B^T d B)]A
 * of its 4×4 input patch d, so the 9 products a pixel of the direct convolution become 16 a tile of four
 * pixels (2.25× fewer multiply-adds). The transforms are SIMD heap kernels (scripts/build-wasm-heap.mjs:
 * wino_in, wino_filter, wino_out, four channels a vector, in place on tfjs's heap); the 16 products
 * [T, Cin]·[Cin, Cout] (T tiles) between them are the heap kernel gemm_nn's where 8 | Cout (unpacked, 4×8
 * tiles: measured 41.7 GFLOP/s on [6272, 64]·[64, 64] against 1.7 ms more for XNNPACK's, which creates an
 * operator and packs its operand for each; the forward [128, 14, 14, 64] → 64 49.7 → 30.3 ms), else
 * XNNPACK's, called on views of one buffer each (no copies).
 *
 * Installed over wasm's `Conv2D` and `FusedConv2D` (bias, linear activation) for the shapes it covers
 * (NHWC float32, 3×3, stride 1, dilation 1, padding 1 on every side, both channel counts multiples of 4;
 * everything else runs tfjs's kernel), so the stride-1 input gradient (wasm-conv.ts: a forward Conv2D of dy
 * with the kernel flipped) runs on it too. Float32 throughout; the result differs from the direct
 * convolution by rounding (the transforms add and subtract up to 16 terms: ~1e-6 relative, tested).
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapInfo, WasmBackendLike } from './wasm-util.js';
import { heapKernelsFor, heapProductCovers, type HeapKernels } from './wasm-heap.js';

type KernelFn = tf.KernelConfig['kernelFunc'];

/** What the products need of tfjs's wasm backend beyond the kernels' usual slice: tensor records and the C product. */
interface WasmBackendInternals extends WasmBackendLike {
  dataIdMap: { get(id: object): { id: number; memoryOffset: number } | undefined };
  dataIdNextNumber: number;
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
}

let enabled = true;
/** Switches the Winograd path on or off (on by default; off: tfjs's direct convolutions). Returns the previous setting. */
export function setWinograd(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

let calls = 0;
/** How many convolutions the Winograd path has run (tests check that it ran). */
export function winogradCalls(): number {
  return calls;
}

/** The convolution attributes the conv kernels receive (the gradients' have no dilations: 1). */
export interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/**
 * Whether the Winograd path is on and covers the convolution of an input of `xShape` by a filter of
 * `filterShape` (see the module comment; `dtype`: both operands'). The input and filter gradients of a
 * covered convolution are covered too (the filter gradient adds its own conditions: wasm-conv.ts).
 */
export function winogradCovers(xShape: number[], filterShape: number[], dtype: string, attrs: ConvAttrs): boolean {
  if (!enabled || dtype !== 'float32' || xShape.length !== 4 || attrs.dataFormat === 'NCHW') return false;
  const [KH, KW, Ci, Co] = filterShape;
  if (KH !== 3 || KW !== 3 || Ci % 4 !== 0 || Co % 4 !== 0 || xShape[3] !== Ci) return false;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number], attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode,
  );
  const p = info.padInfo;
  return info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1
    && p.top === 1 && p.bottom === 1 && p.left === 1 && p.right === 1 && info.outHeight === xShape[1] && info.outWidth === xShape[2];
}

let product: ((...a: unknown[]) => void) | null = null;

/**
 * Runs `body` on the heap kernels with temporaries of `sizes` float32 words and the output (`out`; byte
 * addresses, all freed afterwards but the output, which is returned — freed too if the body throws) and
 * `products`: the 16 products a_k·b_k → o_k ([M, K]·[K, N], each operand a plane of a buffer, registered as
 * a view for XNNPACK's product and dropped afterwards). Null where the heap kernels are not bound.
 */
function withHeap(
  backend: WasmBackendInternals, outShape: number[], sizes: number[],
  body: (ctx: {
    hk: HeapKernels;
    buf: number[];
    out: number;
    at: (t: HeapInfo) => number;
    products: (a: number, b: number, o: number, M: number, K: number, N: number) => void;
  }) => void,
): HeapInfo | null {
  const tmp: HeapInfo[] = [];
  const views: number[] = [];
  let out: HeapInfo | null = null;
  try {
    // every allocation first, then the kernels' binding (an allocation that grows the heap makes a new buffer)
    for (const n of sizes) tmp.push(backend.makeOutput([n], 'float32'));
    out = backend.makeOutput(outShape, 'float32');
    const hk = heapKernelsFor(backend.typedArrayFromHeap(out).buffer);
    if (!hk) return null;
    const at = (t: HeapInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
    product ??= backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    const view = (offset: number, size: number) => {
      const id = backend.dataIdNextNumber++;
      backend.wasm.tfjs.registerTensor(id, size, offset);
      views.push(id);
      return id;
    };
    body({
      hk,
      buf: tmp.map(at),
      out: at(out),
      at,
      products: (a, b, o, M, K, N) => {
        const aShape = new Uint8Array(new Int32Array([1, M, K]).buffer);
        const bShape = new Uint8Array(new Int32Array([1, K, N]).buffer);
        for (let k = 0; k < 16; k++) {
          product!(view(a + 4 * k * M * K, M * K), aShape, 3, view(b + 4 * k * K * N, K * N), bShape, 3, 0, 0, view(o + 4 * k * M * N, M * N));
        }
      },
    });
    calls++;
    const done = out;
    out = null;
    return done;
  } finally {
    // the views first (their disposal drops XNNPACK's operators packed for them), then the buffers
    for (const id of views) backend.wasm.tfjs.disposeData(id);
    for (const t of tmp) backend.disposeData(t.dataId);
    if (out) backend.disposeData(out.dataId);
  }
}

/**
 * y = conv(x, g) + bias (x [N, H, W, Ci], g [3, 3, Ci, Co], padding 1), or with `flip` the convolution by g
 * flipped in space and transposed in/out (x [N, H, W, Co] → [N, H, W, Ci]: the input gradient). Null where
 * the heap kernels are not bound.
 */
export function winogradConv(backendIn: WasmBackendLike, x: HeapInfo, g: HeapInfo, bias: HeapInfo | null, flip = false): HeapInfo | null {
  const backend = backendIn as WasmBackendInternals;
  const [N, H, W] = x.shape;
  const [, , gi, go] = g.shape;
  const [Ci, Co] = flip ? [go, gi] : [gi, go];
  const T = N * Math.ceil(H / 2) * Math.ceil(W / 2);
  // V [16, T, Ci] | U [16, Ci, Co] | M [16, T, Co] | S: zeros [Ci], zero bias [Co], trash [Co]
  return withHeap(backend, [N, H, W, Co], [16 * T * Ci, 16 * Ci * Co, 16 * T * Co, Ci + 2 * Co], ({ hk, buf: [V, U, M, S], out, at, products }) => {
    new Float32Array(hk.memory.buffer, S, Ci + Co).fill(0);
    hk.wino_filter(at(g), U, gi, go, flip ? 1 : 0);
    hk.wino_in(at(x), V, S, N, H, W, Ci);
    if (heapProductCovers(Co)) hk.gemm_nn(V, U, M, 16, T, Ci, Co);
    else products(V, U, M, T, Ci, Co);
    hk.wino_out(M, bias ? at(bias) : S + 4 * Ci, out, S + 4 * (Ci + Co), N, H, W, Co);
  });
}

/**
 * The filter gradient of the same convolutions: dW [3, 3, Ci, Co] = Σ over tiles of Gᵀ[(B^T d B) ⊙ (A e Aᵀ)]G
 * (d: the tile's 4×4 patch of x, e: its 2×2 block of dy; F(3×3, 2×2), the transpose of the forward's
 * algorithm), the sum over tiles as 16 products Vᵀ·E ([T, Ci]ᵀ·[T, Co]): with Co % 8 = 0 the heap kernel
 * gemm_tn's (unpacked: XNNPACK packs a fresh [T, Co] operand for each of the 16, measured as much time again
 * as the product on [6272, 64]), else XNNPACK's on V transposed by the heap transpose (T a multiple of 4).
 * x [N, H, W, Ci], dy [N, H, W, Co], T = N·⌈H/2⌉·⌈W/2⌉. Null where the heap kernels are not bound.
 */
export function winogradFilterGrad(backendIn: WasmBackendLike, x: HeapInfo, dy: HeapInfo): HeapInfo | null {
  const backend = backendIn as WasmBackendInternals;
  const [N, H, W, Ci] = x.shape;
  const Co = dy.shape[3];
  const T = N * Math.ceil(H / 2) * Math.ceil(W / 2);
  const own = heapProductCovers(Co, Ci); // the heap kernels' own unpacked product (else XNNPACK's, on Vᵀ)
  // V [16, T, Ci] | Vt [16, Ci, T] (XNNPACK's products only) | E [16, T, Co] | M [16, Ci, Co] | zeros [max(Ci, Co)]
  return withHeap(backend, [3, 3, Ci, Co], [16 * T * Ci, own ? 0 : 16 * T * Ci, 16 * T * Co, 16 * Ci * Co, Math.max(Ci, Co)], ({ hk, buf: [V, Vt, E, M, Z], out, at, products }) => {
    new Float32Array(hk.memory.buffer, Z, Math.max(Ci, Co)).fill(0);
    hk.wino_in(at(x), V, Z, N, H, W, Ci);
    hk.wino_dy(at(dy), E, Z, N, H, W, Co);
    if (own) {
      hk.gemm_tn(V, E, M, 16, T, Ci, Co);
    } else {
      hk.transpose(V, Vt, 16, T, Ci);
      products(Vt, E, M, Ci, T, Co);
    }
    hk.wino_wgrad(M, out, Ci * Co);
  });
}

let installed = false;

/** Puts the Winograd path in front of wasm's Conv2D and FusedConv2D (where it covers the convolution). */
export function installWasmWinograd(): void {
  if (installed) return;
  for (const name of ['Conv2D', 'FusedConv2D']) {
    const orig = tf.getKernel(name, 'wasm');
    if (!orig) return;
  }
  for (const name of ['Conv2D', 'FusedConv2D']) {
    const orig = tf.getKernel(name, 'wasm')!;
    const origFn = orig.kernelFunc as KernelFn;
    const kernelFunc: KernelFn = (args) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs as unknown as { x: HeapInfo; filter: HeapInfo; bias?: HeapInfo; preluActivationWeights?: HeapInfo };
      const attrs = args.attrs as unknown as ConvAttrs;
      const linear = attrs.activation == null || attrs.activation === 'linear';
      const biasOk = bias == null || (bias.dtype === 'float32' && bias.shape.reduce((p, q) => p * q, 1) === filter.shape[3]);
      if (linear && preluActivationWeights == null && biasOk && filter.dtype === x.dtype && winogradCovers(x.shape, filter.shape, x.dtype, attrs)) {
        const y = winogradConv(args.backend as unknown as WasmBackendLike, x, filter, bias ?? null);
        if (y) return y as never;
      }
      return origFn(args);
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...orig, kernelFunc });
  }
  installed = true;
}
