/**
 * What this project adds to a tfjs backend once it is selected, shared by the Node chooser
 * (engine/backend.ts) and the browser's (runtime/backend.ts): on wasm the kernel fixes of
 * wasm-matmul/-reduce/-trig/-binary/-conv bound to tfjs's heap, on cpu and wasm the SIMD wasm 2D GMFlow
 * rollout, on webgpu the grouped AddN; on every backend the heap kernels' host-side loops (the JS loops
 * where they cannot load) and tf.layers' swish as one op (silu.ts).
 */
import { installWasmSharedIdentity, installWasmTransposeFreeMatMul } from './wasm-matmul.js';
import { installWasmFastReductions, installWasmFastTranspose } from './wasm-reduce.js';
import { installWasmFastTrig } from './wasm-trig.js';
import { installWasmBroadcastBinary, installWasmFastSlice } from './wasm-binary.js';
import { installWasmConv2DBackpropFilter } from './wasm-conv.js';
import { installWasmWinograd } from './wasm-winograd.js';
import { loadWasmRollout } from './wasm-rollout.js';
import { installWebGpuAddNGroups } from './webgpu-addn.js';
import { bindHeapKernels, loadHeapKernels } from './wasm-heap.js';
import * as tf from '@tensorflow/tfjs';
import { installFastSwish } from './silu.js';

/** The wasm backend's WebAssembly.Memory (tfjs's heap), or null where this build hides it. */
export function wasmBackendMemory(): WebAssembly.Memory | null {
  const w = (tf.findBackend('wasm') as unknown as { wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown } } | null)?.wasm;
  const m = w?.asm?.memory ?? w?.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : null;
}

export async function installBackendExtras(name: string): Promise<void> {
  installFastSwish(); // every backend: tf.layers' swish as one op with its gradient (fused training)
  // every backend: the host-side SIMD loops (the time embedding; on cpu and wasm the Adam update)
  await loadHeapKernels();
  if (name === 'wasm') {
    installWasmTransposeFreeMatMul();
    installWasmSharedIdentity();
    installWasmFastReductions();
    installWasmFastTranspose();
    installWasmFastTrig();
    installWasmBroadcastBinary();
    installWasmFastSlice();
    installWasmConv2DBackpropFilter(); // conv layers (the image nets, the MNIST U-Net) train on wasm too
    installWasmWinograd(); // 3×3 stride-1 convolutions (and their input gradients) as Winograd F(2×2, 3×3)
    // the heap kernels in place on tfjs's heap (transposes, sums, trig, broadcasts, slices)
    const mem = wasmBackendMemory();
    if (mem) await bindHeapKernels(mem);
  }
  if (name === 'wasm' || name === 'cpu') await loadWasmRollout();
  if (name === 'webgpu') installWebGpuAddNGroups(); // gradient sums of many terms within the device's buffer limit
}
