/**
 * The wasm backend has no Conv2DBackpropFilter kernel, so a conv layer cannot be trained on it
 * ("kernel not registered"). This registers one, composed of wasm kernels like the backend's own
 * composite kernels: pad x, take the KH·KW strided taps, concatenate them on the channel axis
 * (im2col, [B·OH·OW, KH·KW·Cin]) and multiply by dy ([B·OH·OW, Cout]) transposed: dW = colsᵀ·dy,
 * reshaped to [KH, KW, Cin, Cout]. NHWC, any stride/padding, dilation 1.
 * Also Conv2DBackpropInput for stride 1: wasm's own is a slow generic loop (measured 4.1 s of an 8 s
 * U-Net step at batch 128); dx is the forward Conv2D (XNNPACK) of dy with the kernel flipped in space
 * and transposed in/out, padded by (KH−1−top, KH−1−bottom) and (KW−1−left, KW−1−right). Strided
 * convolutions (the U-Net's stride-2 downsample: 583 of a 6,600 ms step, wasm's generic loop) dilate dy
 * by the stride first (reshape, pad, reshape) and run the same stride-1 conv, or, where the sizes allow,
 * run one small stride-1 conv per output phase instead (subPixelInputGrad: the U-Net's downsample
 * gradient 100 → 33 ms at batch 128). Installed by initNodeBackend (engine/backend.ts) on wasm; a browser front end
 * that trains conv nets on wasm calls `installWasmConv2DBackpropFilter()` after selecting the backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapInfo, WasmBackendLike } from './wasm-util.js';
import { heapKernelsFor, heapProductCovers } from './wasm-heap.js';
import { type ConvAttrs, winogradConv, winogradCovers, winogradFilterGrad } from './wasm-winograd.js';

type KernelFn = tf.KernelConfig['kernelFunc'];

/**
 * Runs a composite kernel body: `run(name, inputs, attrs)` calls a wasm kernel and frees its output
 * when the body returns; `final` calls one whose output is the body's result (kept).
 */
function composite(args: Parameters<KernelFn>[0], body: (run: (name: string, inputs: unknown, attrs: unknown) => HeapInfo, final: (name: string, inputs: unknown, attrs: unknown) => HeapInfo) => HeapInfo): ReturnType<KernelFn> {
  const backend = args.backend as unknown as WasmBackendLike;
  const call = (name: string, inputs: unknown, a: unknown) =>
    (tf.getKernel(name, 'wasm')!.kernelFunc as KernelFn)({ inputs: inputs as never, backend: args.backend, attrs: a as never }) as unknown as HeapInfo;
  const temps: HeapInfo[] = [];
  try {
    return body((name, inputs, a) => {
      const out = call(name, inputs, a);
      temps.push(out);
      return out;
    }, call) as never;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

let installed = false;

/**
 * Which Conv2DBackpropFilter formulation: 'taps' (stride 1 where the heap kernels are bound: one product a
 * tap, the default), 'conv' (swapped-axes convolution: the default for strided convolutions or without the
 * heap kernels) or 'im2col' (tests compare them).
 */
type FilterGradMode = 'taps' | 'conv' | 'im2col';
let filterMode: FilterGradMode = 'taps';
export function setWasmFilterGradMode(mode: FilterGradMode): void {
  filterMode = mode;
}

export function installWasmConv2DBackpropFilter(): void {
  if (installed) return;
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    installed = true;
    return;
  }
  const need = ['PadV2', 'StridedSlice', 'Concat', 'Reshape', 'BatchMatMul', 'Transpose', 'Conv2D', 'Slice'];
  if (need.some((n) => !tf.getKernel(n, 'wasm'))) return;
  const kernelFunc: KernelFn = (args) => {
    const { x, dy } = args.inputs as unknown as { x: HeapInfo; dy: HeapInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
    if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (wasm): only NHWC is supported');
    const [B, , , Cin] = x.shape;
    const [KH, KW, , Cout] = attrs.filterShape;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode,
    );
    const { top, bottom, left, right } = info.padInfo;
    const { outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
    const backend = args.backend as unknown as WasmBackendLike;
    return composite(args, (run, final) => {
      // Winograd F(3×3, 2×2): with Cout % 8 = 0 its 16 products are the heap kernels' own (gemm_tn, no packing),
      // faster than the taps from Cin = 8 at any size (measured at batch 128: [14, 14, 64] → 64 109 → 51 ms,
      // 128 → 64 159 → 88, [7, 7, 96] → 96 55 → 33 against the taps; Cin = 4: 8 against the taps' 5 ms); else they
      // are XNNPACK's, which packs a [T, Cout] operand each: only where both channel counts are ≥ 16 and the
      // 2×2 tiles cover the image exactly (an odd size measured slower than the taps on [128, 7, 7, 96])
      const ownProducts = heapProductCovers(Cout, Cin); // as winogradFilterGrad decides
      if (filterMode === 'taps' && x.dtype === dy.dtype && winogradCovers(x.shape, attrs.filterShape, x.dtype, attrs)
        && (ownProducts ? Cin >= 8 : Math.min(Cin, Cout) >= 16 && OH % 2 === 0 && OW % 2 === 0 && (B * (OH / 2) * (OW / 2)) % 4 === 0)) {
        const dW = winogradFilterGrad(backend, x, dy);
        if (dW) return dW;
      }
      if (filterMode === 'taps' && pointwise(KH, KW, sh, sw, top + bottom + left + right, x.dtype, dy.dtype)) {
        // a 1×1 stride-1 unpadded convolution: dW = xᵀ·dy as one product ([128, 7, 7, 96] → 256: 22 → 10 ms)
        pointwiseRuns++;
        const a = run('Reshape', { x }, { shape: [1, B * OH * OW, Cin] });
        const b = run('Reshape', { x: dy }, { shape: [1, B * OH * OW, Cout] });
        const mm = run('BatchMatMul', { a, b }, { transposeA: true, transposeB: false });
        return final('Reshape', { x: mm }, { shape: [1, 1, Cin, Cout] });
      }
      const xp = top || bottom || left || right
        ? run('PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 })
        : x;
      const hk = filterMode === 'taps' && sh === 1 && sw === 1 && x.dtype === 'float32' ? heapKernelsFor(backend.typedArrayFromHeap(xp).buffer) : null;
      const Hp = x.shape[1] + top + bottom;
      const Wp = x.shape[2] + left + right;
      if (hk && OH === Hp - KH + 1 && OW === Wp - KW + 1) {
        // dW[i, j] = Xᵢⱼᵀ·dy for each tap: Xᵢⱼ[ci, (b, y, x)] = xp[b, y + i, x + j, ci], copied (heap kernel
        // `window`) out of xp transposed to [Cin, B, Hp, Wp]; dy ([B·OH·OW, Cout]) is the same operand of every product
        const xt = run('Transpose', { x: xp }, { perm: [3, 0, 1, 2] });
        const d2 = run('Reshape', { x: dy }, { shape: [1, B * OH * OW, Cout] });
        const prods: HeapInfo[] = [];
        // one buffer for every tap's windows (each product is done before the next tap is copied in)
        const a = backend.makeOutput([1, Cin, B * OH * OW], 'float32');
        try {
          for (let i = 0; i < KH; i++) {
            for (let j = 0; j < KW; j++) {
              const src = backend.typedArrayFromHeap(xt); // views now (a product may have grown the heap)
              const dst = backend.typedArrayFromHeap(a);
              hk.window(src.byteOffset + 4 * (i * Wp + j), dst.byteOffset, Cin * B, OH, OW, Hp, Wp);
              prods.push(run('BatchMatMul', { a, b: d2 }, { transposeA: false, transposeB: false }));
            }
          }
        } finally {
          backend.disposeData(a.dataId);
        }
        const all = prods.length === 1 ? prods[0] : run('Concat', prods, { axis: 0 });
        return final('Reshape', { x: all }, { shape: [KH, KW, Cin, Cout] });
      }
      const hs = filterMode === 'taps' && (sh > 1 || sw > 1) && x.dtype === 'float32' && dy.dtype === 'float32'
        && heapProductCovers(Cout, Cin) ? heapKernelsFor(backend.typedArrayFromHeap(xp).buffer) : null;
      if (hs) {
        // strided: dW[i, j] = Xᵢⱼᵀ·dy a tap as well, Xᵢⱼ[(b, y, x), ci] = xp[b, y·sh + i, x·sw + j, ci] gathered by
        // strided row copies (heap kernel copy2d), the products the heap kernels' gemm_tn (wasm's BatchMatMul with
        // transposeA): the U-Net's downsample [128, 14, 14, 64] → 96 at stride 2 55 → 43 ms against the
        // swapped-axes convolution below
        stridedTapRuns++;
        const M = B * OH * OW;
        const d2 = run('Reshape', { x: dy }, { shape: [1, M, Cout] });
        const prods: HeapInfo[] = [];
        const a = backend.makeOutput([1, M, Cin], 'float32');
        try {
          for (let i = 0; i < KH; i++) {
            for (let j = 0; j < KW; j++) {
              const src = backend.typedArrayFromHeap(xp).byteOffset; // offsets now (a product may have grown the heap)
              const dst = backend.typedArrayFromHeap(a).byteOffset;
              for (let b = 0; b < B; b++) {
                for (let y = 0; y < OH; y++) {
                  hs.copy2d(src + 4 * ((b * Hp + y * sh + i) * Wp + j) * Cin, dst + 4 * (b * OH + y) * OW * Cin, OW, Cin, sw * Cin, Cin);
                }
              }
              prods.push(run('BatchMatMul', { a, b: d2 }, { transposeA: true, transposeB: false }));
            }
          }
        } finally {
          backend.disposeData(a.dataId);
        }
        const all = prods.length === 1 ? prods[0] : run('Concat', prods, { axis: 0 });
        return final('Reshape', { x: all }, { shape: [KH, KW, Cin, Cout] });
      }
      if (filterMode !== 'im2col') {
        // dW[i, j, ci, co] = Σ_{b,y,x} xp[b, y·sh + i, x·sw + j, ci]·dy[b, y, x, co]: a valid conv of xp with
        // batch and channels swapped ([Cin, Hp, Wp, B]) by dy as the filter ([OH, OW, B, Cout]), dilated by the stride
        const xt = run('Transpose', { x: xp }, { perm: [3, 1, 2, 0] });
        const dyt = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
        let c = run('Conv2D', { x: xt, filter: dyt }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [sh, sw] });
        if (c.shape[1] !== KH || c.shape[2] !== KW) c = run('Slice', { x: c }, { begin: [0, 0, 0, 0], size: [Cin, KH, KW, Cout] });
        return final('Transpose', { x: c }, { perm: [1, 2, 0, 3] });
      }
      const taps: HeapInfo[] = [];
      for (let i = 0; i < KH; i++) {
        for (let j = 0; j < KW; j++) {
          taps.push(run('StridedSlice', { x: xp }, {
            begin: [0, i, j, 0], end: [B, i + (OH - 1) * sh + 1, j + (OW - 1) * sw + 1, Cin], strides: [1, sh, sw, 1],
            beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
          }));
        }
      }
      const cols = taps.length === 1 ? taps[0] : run('Concat', taps, { axis: 3 });
      const M = B * OH * OW;
      const a = run('Reshape', { x: cols }, { shape: [1, M, KH * KW * Cin] });
      const b = run('Reshape', { x: dy }, { shape: [1, M, Cout] });
      const mm = run('BatchMatMul', { a, b }, { transposeA: true, transposeB: false });
      return final('Reshape', { x: mm }, { shape: [KH, KW, Cin, Cout] });
    });
  };
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc });
  installFastBackpropInput();
  installed = true;
}

function installFastBackpropInput(): void {
  const orig = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (!orig || ['Reverse', 'Transpose', 'Conv2D', 'Reshape', 'PadV2', 'Slice'].some((n) => !tf.getKernel(n, 'wasm'))) return;
  const origFn = orig.kernelFunc as KernelFn;
  const kernelFunc: KernelFn = (args) => {
    const { dy, filter } = args.inputs as unknown as { dy: HeapInfo; filter: HeapInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
    const [sh, sw] = typeof attrs.strides === 'number' ? [attrs.strides, attrs.strides] : attrs.strides;
    if (attrs.dataFormat === 'NCHW') return origFn(args);
    const [KH, KW] = filter.shape;
    const [, H, W] = attrs.inputShape;
    const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number], [sh, sw], 1, attrs.pad, attrs.dimRoundingMode);
    const { top, left } = info.padInfo;
    const [B, OH, OW, Cout] = dy.shape;
    // dx is the stride-1 'full' conv of dy dilated by the stride (s − 1 zeros between entries) with the
    // kernel flipped in space and transposed in/out: dilated size (O−1)·s + 1, padded by K−1−top before
    // and so much after that the output is H (W): H − (O−1)·s − 1 + top (stride 1: K−1−bottom)
    const padT = KH - 1 - top;
    const padL = KW - 1 - left;
    const padB = H - (OH - 1) * sh - 1 + top;
    const padR = W - (OW - 1) * sw - 1 + left;
    if (padT < 0 || padL < 0 || padB < 0 || padR < 0) return origFn(args);
    if (dy.dtype === filter.dtype && winogradCovers(attrs.inputShape, filter.shape, dy.dtype, attrs)) {
      // the same convolution as below (dy by the flipped, transposed kernel, padded by 1) as Winograd F(2×2, 3×3)
      const dx = winogradConv(args.backend as unknown as WasmBackendLike, dy, filter, null, true);
      if (dx) return dx as never;
    }
    if (pointwise(KH, KW, sh, sw, padT + padL + padB + padR, dy.dtype, filter.dtype)) {
      // a 1×1 stride-1 unpadded convolution: dx = dy·Wᵀ as one product ([128, 14, 14, 64] → 128: 32 → 17 ms)
      pointwiseRuns++;
      return composite(args, (run, final) => {
        const a = run('Reshape', { x: dy }, { shape: [1, B * OH * OW, Cout] });
        const b = run('Reshape', { x: filter }, { shape: [1, filter.shape[2], Cout] });
        const mm = run('BatchMatMul', { a, b }, { transposeA: false, transposeB: true });
        return final('Reshape', { x: mm }, { shape: attrs.inputShape });
      });
    }
    if (sh > 1 || sw > 1) {
      const dx = subPixelInputGrad(args, dy, filter, H, W, top, left, sh, sw);
      if (dx) return dx;
    }
    return composite(args, (run, final) => {
      const flipped = KH === 1 && KW === 1 ? filter : run('Reverse', { x: filter }, { dims: [0, 1] });
      const wT = run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
      let d = dy;
      // dilation as reshape → pad → reshape: [B, O, 1, O', 1, C] padded to [B, O, s, O', s, C] leaves
      // s − 1 zeros after every entry (the trailing ones count as padding after)
      let padAfterH = padB;
      let padAfterW = padR;
      if (sh > 1 || sw > 1) {
        const r = run('Reshape', { x: dy }, { shape: [B, OH, 1, OW, 1, Cout] });
        const p = run('PadV2', { x: r }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
        d = run('Reshape', { x: p }, { shape: [B, OH * sh, OW * sw, Cout] });
        padAfterH -= sh - 1;
        padAfterW -= sw - 1;
        if (padAfterH < 0 || padAfterW < 0) {
          const hh = OH * sh + Math.min(padAfterH, 0);
          const ww = OW * sw + Math.min(padAfterW, 0);
          d = run('Slice', { x: d }, { begin: [0, 0, 0, 0], size: [B, hh, ww, Cout] });
          padAfterH = Math.max(padAfterH, 0);
          padAfterW = Math.max(padAfterW, 0);
        }
      }
      const pad = [[0, 0], [padT, padAfterH], [padL, padAfterW], [0, 0]];
      return final('Conv2D', { x: d, filter: wT }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: attrs.dimRoundingMode });
    });
  };
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc });
}

let stridedTapRuns = 0;
/** How many strided filter gradients have run as per-tap heap products (tests check that they ran). */
export function stridedTapGradRuns(): number {
  return stridedTapRuns;
}

let pointwiseRuns = 0;
/** How many 1×1 convolution gradients have run as one product (tests check that they ran). */
export function pointwiseGradRuns(): number {
  return pointwiseRuns;
}
/**
 * Whether a convolution is 1×1, stride 1, unpadded (`pads`: the sum of its paddings) on float32: its input
 * and filter gradients are then single products (wasm's BatchMatMul: the heap kernels' where they cover
 * it), faster than XNNPACK's convolution of the same sizes; its forward stays XNNPACK's (its fused bias
 * beat a product and a separate add, measured).
 */
function pointwise(KH: number, KW: number, sh: number, sw: number, pads: number, ...dtypes: string[]): boolean {
  return KH === 1 && KW === 1 && sh === 1 && sw === 1 && pads === 0 && dtypes.every((d) => d === 'float32');
}

let subPixel = true;
let subPixelRuns = 0;
/** Switches the sub-pixel form of the strided input gradient on or off (tests compare); returns the previous setting. */
export function setSubPixelInputGrad(on: boolean): boolean {
  const prev = subPixel;
  subPixel = on;
  return prev;
}
/** How many strided input gradients have run in the sub-pixel form (tests check that it ran). */
export function subPixelInputGradRuns(): number {
  return subPixelRuns;
}

/** The taps of one output phase p (0 ≤ p < s) along an axis: dy offsets e from lo to hi, tap k = p + pad − s·e. */
function phaseTaps(p: number, pad: number, K: number, s: number): [number, number] {
  return [Math.ceil((p + pad - K + 1) / s), Math.floor((p + pad) / s)];
}

/**
 * The input gradient of a stride-s convolution (s × s, NHWC float32, H and W multiples of s, K ≥ s) as s²
 * stride-1 convolutions of dy, one an output phase (py, px): dx[b, s·Y + py, s·X + px] = Σ dy[b, Y + e, X + f]·
 * W[py + top − s·e, px + left − s·f]ᵀ over the taps that land on that phase, each phase's sub-kernel
 * transposed in/out; the phases' outputs interleaved into dx by strided copies (heap kernel `copy2d`). The
 * dilated form below multiplies s² as many zeros: on the U-Net's downsample (s = 2) it does 4× the work.
 * Null where it does not apply.
 */
function subPixelInputGrad(
  args: Parameters<KernelFn>[0], dy: HeapInfo, filter: HeapInfo, H: number, W: number, top: number, left: number, sh: number, sw: number,
): ReturnType<KernelFn> | null {
  const [KH, KW, Ci, Co] = filter.shape;
  const [B, OH, OW] = dy.shape;
  if (!subPixel || sh !== sw || H % sh !== 0 || W % sw !== 0 || KH < sh || KW < sw || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const HY = H / sh;
  const WX = W / sw;
  const phases: { py: number; px: number; e: [number, number]; f: [number, number] }[] = [];
  for (let py = 0; py < sh; py++) {
    for (let px = 0; px < sw; px++) {
      const e = phaseTaps(py, top, KH, sh);
      const f = phaseTaps(px, left, KW, sw);
      // dy rows Y + e for Y < HY: padded by −e.lo before and so much after (a crop would be needed otherwise)
      if (e[0] > 0 || f[0] > 0 || HY - 1 + e[1] - (OH - 1) < 0 || WX - 1 + f[1] - (OW - 1) < 0) return null;
      phases.push({ py, px, e, f });
    }
  }
  const backend = args.backend as unknown as WasmBackendLike;
  const hk = heapKernelsFor(backend.typedArrayFromHeap(dy).buffer);
  if (!hk) return null;
  subPixelRuns++;
  const w = backend.typedArrayFromHeap(filter).slice(); // a copy: allocating the sub-kernels may grow the heap
  const subs: HeapInfo[] = [];
  try {
    return composite(args, (run, final) => {
      const outs = phases.map(({ py, px, e, f }) => {
        const kh = e[1] - e[0] + 1;
        const kw = f[1] - f[0] + 1;
        const sub = backend.makeOutput([kh, kw, Co, Ci], 'float32');
        subs.push(sub);
        const v = backend.typedArrayFromHeap(sub);
        for (let a = 0; a < kh; a++) {
          const i = py + top - sh * (e[0] + a);
          for (let c = 0; c < kw; c++) {
            const j = px + left - sw * (f[0] + c);
            const src = (i * KW + j) * Ci * Co;
            const dst = (a * kw + c) * Co * Ci;
            for (let ci = 0; ci < Ci; ci++) for (let co = 0; co < Co; co++) v[dst + co * Ci + ci] = w[src + ci * Co + co];
          }
        }
        const pad = [[0, 0], [-e[0], HY - 1 + e[1] - (OH - 1)], [-f[0], WX - 1 + f[1] - (OW - 1)], [0, 0]];
        return run('Conv2D', { x: dy, filter: sub }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] });
      });
      // interleave: phase (py, px)'s rows [b, Y, X, :] go to dx[b, s·Y + py, s·X + px, :] (a strided copy per (b, Y))
      const dx = backend.makeOutput([B, H, W, Ci], 'float32');
      const base = backend.typedArrayFromHeap(dx).byteOffset;
      phases.forEach(({ py, px }, k) => {
        const src = backend.typedArrayFromHeap(outs[k]).byteOffset;
        for (let b = 0; b < B; b++) {
          for (let Y = 0; Y < HY; Y++) {
            hk.copy2d(src + 4 * ((b * HY + Y) * WX * Ci), base + 4 * (((b * H + sh * Y + py) * W + px) * Ci), WX, Ci, Ci, sw * Ci);
          }
        }
      });
      return dx;
    });
  } finally {
    for (const t of subs) backend.disposeData(t.dataId);
  }
}
