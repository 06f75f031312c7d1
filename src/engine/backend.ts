/**
 * Backend selection for Node (wasm by default, cpu, or webgpu through Dawn's Node bindings: see
 * webgpu-node.ts). The browser front end has its own chooser in src/runtime; the engine itself never
 * picks a backend.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { installNodeWebGpu } from './webgpu-node.js';
import { installBackendExtras } from './backend-extras.js';

export type NodeBackend = 'wasm' | 'cpu' | 'webgpu';
export const NODE_BACKENDS: readonly string[] = ['wasm', 'cpu', 'webgpu'];

let wasmPathsSet = false;

/** Initialise tfjs on the named backend in Node and wait until it is ready. */
export async function initNodeBackend(name: string = 'wasm'): Promise<string> {
  if (!NODE_BACKENDS.includes(name)) {
    throw new Error(
      `--backend: unknown or unavailable backend '${name}' in Node; allowed: ${NODE_BACKENDS.join(', ')} ` +
        `(webgl runs in the browser notebooks)`,
    );
  }
  if (name === 'wasm' && !wasmPathsSet) {
    const require = createRequire(import.meta.url);
    const wasmFile = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
    setWasmPaths(path.dirname(wasmFile) + path.sep);
    wasmPathsSet = true;
  }
  if (name === 'webgpu') await installNodeWebGpu();
  // production mode: no debug checks, and no console banner suggesting tfjs-node (it cannot install here)
  tf.env().set('PROD', true);
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`could not initialise the '${name}' backend`);
  await tf.ready();
  await installBackendExtras(name);
  return tf.getBackend();
}
