/**
 * SIMD wasm "heap kernels" (scripts/build-wasm-heap.mjs builds them from their text into
 * wasm-heap-module.ts): a matrix transpose and a column sum that run in place on the wasm backend's heap
 * (the module imports tfjs's own memory: no copies), and the host Adam update (on a memory of its own,
 * for the cpu and wasm backends). Each is the JavaScript loop it replaces operation for operation, so the
 * results are identical; the JS loops stay as the fallback (no WebAssembly SIMD, or `setHeapKernels(false)`)
 * and as the reference the tests compare against.
 *
 * `loadHeapKernels()` compiles both builds (plain and shared memory) once, asynchronously (browsers
 * refuse synchronous compiles on the main thread); instances are made per memory, asynchronously too, by
 * `bindHeapKernels(memory)` when a backend is set up, and looked up synchronously by the kernels.
 */
import { HEAP_KERNELS_SHARED_WASM, HEAP_KERNELS_WASM } from './wasm-heap-module.js';
import { decodeBase64 } from './wasm-util.js';

export interface HeapKernels {
  memory: WebAssembly.Memory;
  /** dst[n, c, r] = src[n, r, c] (32-bit words at byte addresses), R % 4 = C % 4 = 0 */
  transpose(src: number, dst: number, N: number, R: number, C: number): void;
  /** dst[a, c] = f32(scale · Σ_j src[a, j, c]), float64 sums in row order, K1 % 4 = 0 */
  colsum(src: number, dst: number, K0: number, R: number, K1: number, scale: number): void;
  /** sin (cos = 1: cos) of n float32 values (n even) in float64, rounded; returns the count of |x| > 1e5 (to redo) */
  sincos(px: number, po: number, n: number, cos: number): number;
  /** the same for float64 inputs (float32 results) */
  sincos64(px: number, po: number, n: number, cos: number): number;
  /** dst[n, y, x] = src[n·Hp·Wp + y·Wp + x] (32-bit words at byte addresses): a convolution tap's windows */
  window(src: number, dst: number, N: number, OH: number, OW: number, Hp: number, Wp: number): void;
  /** out[a, m, g, c] = x[a, m, g, c] OP y[a, g] (float32 at byte addresses; rsub: y − x) */
  bcast_mul(px: number, py: number, po: number, A: number, M: number, G: number, Cg: number): void;
  bcast_add(px: number, py: number, po: number, A: number, M: number, G: number, Cg: number): void;
  bcast_sub(px: number, py: number, po: number, A: number, M: number, G: number, Cg: number): void;
  bcast_rsub(px: number, py: number, po: number, A: number, M: number, G: number, Cg: number): void;
  /** dst[n·dstStride + x] = src[n·srcStride + x] for n < N, x < len (32-bit words; strides in words) */
  copy2d(src: number, dst: number, N: number, len: number, srcStride: number, dstStride: number): void;
  /** Winograd F(2×2, 3×3) input transform: dst [16, T, C] of x [N, H, W, C] padded by 1 (zero: C zero words), C % 4 = 0 */
  wino_in(src: number, dst: number, zero: number, N: number, H: number, W: number, C: number): void;
  /** the filter transform: dst [16, Ci, Co] of g [3, 3, Ci, Co]; flip = 1: of g flipped in space and transposed ([16, Co, Ci]) */
  wino_filter(g: number, dst: number, Ci: number, Co: number, flip: number): void;
  /** the output transform plus bias [C]: y [N, H, W, C] of the products m [16, T, C] (trash: C words for cut tiles) */
  wino_out(m: number, bias: number, dst: number, trash: number, N: number, H: number, W: number, C: number): void;
  /** the filter gradient's dy transform: dst [16, T, C] (A e Aᵀ of each tile's 2×2 block of dy [N, H, W, C]; zero: C zero words) */
  wino_dy(src: number, dst: number, zero: number, N: number, H: number, W: number, C: number): void;
  /** the filter gradient's output transform: dW [3, 3, K] = Gᵀ m G of the products m [16, K] (K % 4 = 0) */
  wino_wgrad(m: number, dst: number, K: number): void;
  /** C[q] = A[q]ᵀ·B[q] for q < Q: A [Q, K, M], B [Q, K, N], C [Q, M, N] float32 row-major, M % 4 = 0, K ≥ 1 (no packing; the N % 8 columns scalar) */
  gemm_tn(a: number, b: number, c: number, Q: number, K: number, M: number, N: number): void;
  /** C[q] = A[q]·B[q] for q < Q: A [Q, M, K], B [Q, K, N], C [Q, M, N] float32 row-major, K ≥ 1 (no packing; the N % 8 columns scalar) */
  gemm_nn(a: number, b: number, c: number, Q: number, M: number, K: number, N: number): void;
  /** dz = dy·s + (dy·z)·(s·(1 − s)) in float32, n % 4 = 0 (SiLU's gradient, s = sigmoid(z)) */
  silugrad(pdy: number, pz: number, ps: number, po: number, n: number): void;
  /** the Adam update of n (even) float32 elements at byte addresses (see optim.ts applyHost) */
  adam(pg: number, pw: number, pm: number, pv: number, po: number, n: number,
    scale: number, b1: number, ob1: number, b2: number, ob2: number, lr: number, c1: number, c2: number, eps: number): void;
}

let compiled: Promise<boolean> | null = null;
let modules: { plain: WebAssembly.Module; shared: WebAssembly.Module } | null = null;
let loadError: string | null = null;
let enabled = true;
const bound: HeapKernels[] = [];
let own: HeapKernels | null = null;

/** Compiles the two builds (once); false, with `heapKernelsError()` saying why, where they cannot run. */
export function loadHeapKernels(): Promise<boolean> {
  compiled ??= (async () => {
    try {
      const [plain, shared] = await Promise.all([WebAssembly.compile(decodeBase64(HEAP_KERNELS_WASM)), WebAssembly.compile(decodeBase64(HEAP_KERNELS_SHARED_WASM))]);
      modules = { plain, shared };
      own = await instantiate(new WebAssembly.Memory({ initial: 1 }));
      return true;
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e); // e.g. no WebAssembly SIMD
      return false;
    }
  })();
  return compiled;
}

async function instantiate(memory: WebAssembly.Memory): Promise<HeapKernels> {
  const isShared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const instance = await WebAssembly.instantiate(isShared ? modules!.shared : modules!.plain, { env: { memory } });
  const k = { memory, ...(instance.exports as unknown as Omit<HeapKernels, 'memory'>) };
  bound.push(k);
  return k;
}

/** Makes the kernels for `memory` (e.g. the wasm backend's heap); false where they cannot load. */
export async function bindHeapKernels(memory: WebAssembly.Memory): Promise<boolean> {
  if (!(await loadHeapKernels())) return false;
  if (bound.some((k) => k.memory === memory)) return true;
  try {
    await instantiate(memory);
    return true;
  } catch (e) {
    loadError = e instanceof Error ? e.message : String(e);
    return false;
  }
}

/** Why the kernels did not load (null when they did, or were not tried). */
export function heapKernelsError(): string | null {
  return loadError;
}

/** Switches the kernels on or off (on by default; off: the JS loops). Returns the previous setting. */
export function setHeapKernels(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/**
 * Whether the heap products (gemm_nn; gemm_tn with `transposedRows`, its M) take a product with N columns:
 * N % 8 = 0, or N ≥ 64 where the N % 8 scalar columns are a small share (the 2D student's head, N = 97);
 * gemm_tn's rows a multiple of 4. The one rule for every caller (wasm-matmul.ts, wasm-winograd.ts, wasm-conv.ts).
 */
export function heapProductCovers(N: number, transposedRows?: number): boolean {
  return (N % 8 === 0 || N >= 64) && (transposedRows === undefined || transposedRows % 4 === 0);
}

/** The kernels working on `buffer`'s memory (bound before), or null: not loaded, switched off, another memory. */
export function heapKernelsFor(buffer: ArrayBufferLike): HeapKernels | null {
  if (!enabled) return null;
  // the memory whose current buffer this is (at most a couple are bound)
  for (const k of bound) if (k.memory.buffer === buffer) return k;
  return null;
}

/** The kernels on a memory of their own (for work on host arrays, copied in and out), or null. */
export function ownHeapKernels(): HeapKernels | null {
  return enabled ? own : null;
}

/** Bytes of the own memory, grown to at least `bytes`; its buffer (views made before a growth are detached). */
export function ownMemory(bytes: number): ArrayBuffer {
  const m = own!.memory;
  if (bytes > m.buffer.byteLength) m.grow(Math.ceil((bytes - m.buffer.byteLength) / 65536));
  return m.buffer as ArrayBuffer;
}
