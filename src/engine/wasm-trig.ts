/**
 * Speed fix for the wasm backend's Sin and Cos: its kernels call the C library per element, ~80 ns an
 * element here (measured: 21 ms for a fresh [4096, 64] tensor of coordinate-embedding angles, |x| up to
 * ~5,000), against ~26 ns for a JavaScript loop of Math.sin over the wasm heap (6.8 ms). The 2D networks'
 * coordinate embedding is one such Sin per forward (19 ms of a π-ID iteration). Math.sin/Math.cos work in
 * float64 with exact argument reduction, so each result is sin/cos of the float32 input correctly rounded to
 * float32; the C kernels (float32 sinf/cosf) differ from that on about half of such angles, by up to 2.5e−7
 * (measured on 2²⁰ embedding-like angles): values move in the last bit, losses in the 6th digit. Gradients are unchanged (Sin's is Cos, Cos's is −Sin: both these
 * kernels). Where the SIMD heap kernels are bound (wasm-heap.ts) a float64 pass two values a vector
 * replaces the loop (fdlibm's three-part π/2 reduction and kernel polynomials; |x| > 1e5 redone by
 * Math.sin/Math.cos): the same float32 results on 2²² embedding-like angles (tests), 3× faster.
 * Installed by the backend set-up (Node and browser) when wasm is active.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapInfo, WasmBackendLike } from './wasm-util.js';
import { heapKernelsFor } from './wasm-heap.js';
import { HEAP_TRIG_LIMIT } from './wasm-heap-module.js';

type KernelFn = tf.KernelConfig['kernelFunc'];
let installed = false;

/** Whether the loops replace the wasm kernels (the tests check they run). */
export function wasmFastTrigInstalled(): boolean {
  return installed;
}

export function installWasmFastTrig(): void {
  if (installed) return;
  for (const [name, f] of [['Sin', Math.sin], ['Cos', Math.cos]] as const) {
    const orig = tf.getKernel(name, 'wasm');
    if (!orig) continue;
    const origFn = orig.kernelFunc as KernelFn;
    const kernelFunc: KernelFn = (args) => {
      const { x } = args.inputs as unknown as { x: HeapInfo };
      if (x.dtype !== 'float32') return origFn(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const out = backend.makeOutput(x.shape, 'float32');
      // views after the allocation (a growing heap detaches earlier views)
      const src = backend.typedArrayFromHeap(x);
      const dst = backend.typedArrayFromHeap(out);
      const n = src.length;
      const hk = heapKernelsFor(dst.buffer);
      if (!hk) {
        for (let i = 0; i < n; i++) dst[i] = f(src[i]);
        return out as never;
      }
      // the SIMD pass (float64, two values a vector), the odd last value and any |x| above its limit here
      const even = n & ~1;
      const big = hk.sincos(src.byteOffset, dst.byteOffset, even, name === 'Cos' ? 1 : 0);
      if (big > 0) for (let i = 0; i < even; i++) if (Math.abs(src[i]) > HEAP_TRIG_LIMIT) dst[i] = f(src[i]);
      for (let i = even; i < n; i++) dst[i] = f(src[i]);
      return out as never;
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...orig, kernelFunc });
  }
  installed = true;
}
