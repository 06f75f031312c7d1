/**
 * Adam's update on webgpu as two WGSL programs per variable (tfjs's Adam dispatches ~14 kernels a
 * variable): one updates the variable's moments, kept as one [2n] buffer (m then v), from its gradient;
 * the other writes the new weights from the old and the new moments. The same update as the host path
 * in optim.ts — m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − lr·(m·c₁)/(√(v·c₂) + ε) with
 * c₁ = 1/(1−β₁ᵗ), c₂ = 1/(1−β₂ᵗ) computed on the host in float64 — in float32 on the GPU. The gradient
 * clipping scale rides along as a uniform. Used by GuardedAdam's 'webgpu' path.
 */
import * as tf from '@tensorflow/tfjs';
import { WORKGROUP, type WebGpuBackendLike } from './fused.js';

class AdamMomentsProgram {
  variableNames = ['mv', 'g'];
  outputShape: number[];
  shaderKey = 'piflow_adam_moments';
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'n : i32, b1 : f32, b2 : f32, scale : f32,';

  constructor(n: number) {
    this.outputShape = [2 * n];
    this.dispatch = [Math.ceil((2 * n) / WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        let n = uniforms.n;
        if (index >= 2 * n) { return; }
        if (index < n) {
          let gi = g[index] * uniforms.scale;
          setOutputAtIndex(index, uniforms.b1 * mv[index] + (1.0 - uniforms.b1) * gi);
        } else {
          let gi = g[index - n] * uniforms.scale;
          setOutputAtIndex(index, uniforms.b2 * mv[index] + (1.0 - uniforms.b2) * gi * gi);
        }
      }
    `;
  }
}

class AdamApplyProgram {
  variableNames = ['w', 'mv'];
  outputShape: number[];
  shaderKey = 'piflow_adam_apply';
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'n : i32, lr : f32, c1 : f32, c2 : f32, eps : f32,';

  constructor(n: number) {
    this.outputShape = [n];
    this.dispatch = [Math.ceil(n / WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.n) { return; }
        let m = mv[index];
        let v = mv[index + uniforms.n];
        setOutputAtIndex(index, w[index] - (uniforms.lr * (m * uniforms.c1)) / (sqrt(v * uniforms.c2) + uniforms.eps));
      }
    `;
  }
}

export interface WebGpuAdamStep {
  b1: number;
  b2: number;
  eps: number;
  lr: number;
  /** 1/(1−β₁ᵗ), 1/(1−β₂ᵗ) of this step */
  c1: number;
  c2: number;
  /** gradient clipping factor (1: none) */
  scale: number;
}

/**
 * One variable's Adam step on webgpu: returns the new moments [2n] (the caller keeps them and
 * disposes the old) and assigns the new weights to `variable`. Two program dispatches.
 */
export function adamStepWebGpu(variable: tf.Variable, grad: tf.Tensor, mv: tf.Tensor, s: WebGpuAdamStep): tf.Tensor {
  const n = variable.size;
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const next = tf.tidy(() => {
    const g = grad.reshape([n]);
    const info = backend.runWebGPUProgram(new AdamMomentsProgram(n), [mv, g], 'float32', [
      { type: 'int32', data: [n] },
      { type: 'float32', data: [s.b1] },
      { type: 'float32', data: [s.b2] },
      { type: 'float32', data: [s.scale] },
    ]);
    return tf.engine().makeTensorFromTensorInfo(info);
  });
  const w = tf.tidy(() => {
    const info = backend.runWebGPUProgram(new AdamApplyProgram(n), [variable.reshape([n]), next], 'float32', [
      { type: 'int32', data: [n] },
      { type: 'float32', data: [s.lr] },
      { type: 'float32', data: [s.c1] },
      { type: 'float32', data: [s.c2] },
      { type: 'float32', data: [s.eps] },
    ]);
    return tf.engine().makeTensorFromTensorInfo(info).reshape(variable.shape);
  });
  variable.assign(w);
  w.dispose();
  return next;
}
