/**
 * What the wasm kernel fixes (wasm-*.ts) share: the slice of tfjs's wasm backend they use (the kernels'
 * tensor records and the heap views) and the base64 decoding of the committed WebAssembly modules.
 */

/** A kernel's tensor record (tfjs's TensorInfo, with the data id as the backends key it). */
export interface HeapInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** The part of tfjs-backend-wasm's backend a kernel uses: outputs, views of the heap, freeing. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): HeapInfo;
  /** a view of the tensor's bytes on the heap (detached when the heap grows: take it after allocating) */
  typedArrayFromHeap(t: HeapInfo): Float32Array;
  disposeData(id: object): void;
}

/** The bytes of a base64 string (the committed wasm modules). */
export function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
