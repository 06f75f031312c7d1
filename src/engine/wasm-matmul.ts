/**
 * Speed fix for the wasm backend: its matrix multiply is fast (XNNPACK) only for untransposed
 * operands; with transposeA or transposeB it takes a slow path (~10× slower, measured: 2048×256·256×256
 * 9.5 ms plain vs 105–115 ms transposed). Backpropagation through every dense layer asks for exactly
 * those products (dW = xᵀ·dy, dx = dy·Wᵀ). This wraps the wasm BatchMatMul and _FusedMatMul kernels so
 * that a transposed operand is first transposed explicitly (a cheap copy) and the fast path runs.
 * Numerics are unchanged. Installed once by the backend set-up (Node and browser) when wasm is active.
 */
import * as tf from '@tensorflow/tfjs';

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
