/**
 * tfjs-backend-webgpu's AddN binds every input as a storage buffer in one shader, so a sum of more than
 * `maxStorageBuffersPerShaderStage − 1` tensors (7 on a default device: WebGPU's default limit is 8,
 * and tfjs does not ask for more) fails to compile ("The number of storage buffers (11) in the Compute
 * stage exceeds the maximum per-stage limit (8)") and every later op of that submit is invalid. Autodiff
 * makes such sums: the gradient of a tensor used n times is AddN of n terms (the 2D workload's teacher
 * at full size trips it). This wraps the kernel to sum in groups that fit the device's limit, then the
 * partial sums, the same tree the limit allows (float32 addition in another order: within rounding of
 * one big sum). Installed whenever webgpu is selected (Node: engine/backend.ts; browser: runtime/backend.ts).
 */
import * as tf from '@tensorflow/tfjs';

type KernelFn = tf.KernelConfig['kernelFunc'];
interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}

let installed = false;

/** The most inputs one AddN shader may take on this backend's device (its output is one more buffer). */
export function webGpuAddNGroup(backend: unknown): number {
  const limit = (backend as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } }).device?.limits?.maxStorageBuffersPerShaderStage;
  return Math.max(2, (Number.isFinite(limit) ? Number(limit) : 8) - 1);
}

export function installWebGpuAddNGroups(): void {
  if (installed) return;
  const k = tf.getKernel('AddN', 'webgpu');
  if (!k) return; // webgpu not registered here
  const original = k.kernelFunc as KernelFn;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({
    kernelName: 'AddN',
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as Info[];
      const group = webGpuAddNGroup(args.backend);
      if (inputs.length <= group) return original(args);
      const backend = args.backend as unknown as { disposeData(id: object): void };
      const temps: Info[] = [];
      try {
        let level = inputs;
        while (level.length > group) {
          const next: Info[] = [];
          for (let i = 0; i < level.length; i += group) {
            const g = level.slice(i, i + group);
            if (g.length === 1) {
              next.push(g[0]);
              continue;
            }
            const part = original({ ...args, inputs: g as never }) as unknown as Info;
            temps.push(part);
            next.push(part);
          }
          level = next;
        }
        return original({ ...args, inputs: level as never });
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    },
  });
  installed = true;
}
