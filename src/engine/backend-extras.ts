/**
 * What this project adds to a tfjs backend once it is selected, shared by the Node chooser
 * (engine/backend.ts) and the browser's (runtime/backend.ts): on wasm the kernel fixes of
 * wasm-matmul/-reduce/-trig/-conv, on cpu and wasm the SIMD wasm 2D GMFlow rollout (the JS loop where it
 * cannot load), on webgpu the grouped AddN.
 */
import { installWasmSharedIdentity, installWasmTransposeFreeMatMul } from './wasm-matmul.js';
import { installWasmFastReductions, installWasmFastTranspose } from './wasm-reduce.js';
import { installWasmFastTrig } from './wasm-trig.js';
import { installWasmConv2DBackpropFilter } from './wasm-conv.js';
import { loadWasmRollout } from './wasm-rollout.js';
import { installWebGpuAddNGroups } from './webgpu-addn.js';

export async function installBackendExtras(name: string): Promise<void> {
  if (name === 'wasm') {
    installWasmTransposeFreeMatMul();
    installWasmSharedIdentity();
    installWasmFastReductions();
    installWasmFastTranspose();
    installWasmFastTrig();
    installWasmConv2DBackpropFilter(); // conv layers (the image nets, the MNIST U-Net) train on wasm too
  }
  if (name === 'wasm' || name === 'cpu') await loadWasmRollout();
  if (name === 'webgpu') installWebGpuAddNGroups(); // gradient sums of many terms within the device's buffer limit
}
