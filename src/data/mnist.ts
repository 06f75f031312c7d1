/**
 * MNIST from IDX files (browser-safe: works on ArrayBuffers, no fs).
 *
 * IDX: big-endian; magic 0x00000803 (ubyte images, then n, rows, cols) or 0x00000801 (ubyte labels, then n),
 * followed by the bytes. Every check names the file and what was expected.
 * Images become Float32Array [n, 1, 28, 28] (NCHW, the engine's image layout) scaled to [-1, 1]:
 * x = p / 127.5 − 1.
 */
import { Rng } from '../engine/rng.js';

export const MNIST_SIZE = 28;
export const MNIST_CLASSES = 10;
export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface MnistImages {
  /** [n, 1, rows, cols] row-major, in [-1, 1] */
  pixels: Float32Array;
  n: number;
  rows: number;
  cols: number;
}

export interface MnistSet {
  images: MnistImages;
  labels: Uint8Array;
}

function header(buf: ArrayBuffer, file: string, magic: number, dims: number, what: string): number[] {
  const need = 4 + 4 * dims;
  const v = new DataView(buf);
  if (buf.byteLength >= 4) {
    const m = v.getUint32(0, false);
    if (m !== magic) {
      throw new Error(
        `${file}: bad IDX magic 0x${m.toString(16).padStart(8, '0')}, expected 0x${magic.toString(16).padStart(8, '0')} (${what})`,
      );
    }
  }
  if (buf.byteLength < need) {
    throw new Error(`${file}: ${buf.byteLength} bytes, too short for an IDX ${what} header (expected at least ${need})`);
  }
  return Array.from({ length: dims }, (_, i) => v.getUint32(4 + 4 * i, false));
}

/** Parse an IDX image file (magic 0x00000803); `expectCount` (optional) is checked too. */
export function parseIdxImages(buf: ArrayBuffer, file: string, expectCount?: number): MnistImages {
  const [n, rows, cols] = header(buf, file, IDX_IMAGES_MAGIC, 3, 'images');
  const want = 16 + n * rows * cols;
  if (buf.byteLength !== want) {
    throw new Error(`${file}: ${buf.byteLength} bytes, expected ${want} for ${n}×${rows}×${cols}`);
  }
  if (expectCount !== undefined && n !== expectCount) {
    throw new Error(`${file}: ${n} images, expected ${expectCount}`);
  }
  const src = new Uint8Array(buf, 16);
  const pixels = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) pixels[i] = src[i] / 127.5 - 1;
  return { pixels, n, rows, cols };
}

/** Parse an IDX label file (magic 0x00000801); labels must be < 10. */
export function parseIdxLabels(buf: ArrayBuffer, file: string, expectCount?: number): Uint8Array {
  const [n] = header(buf, file, IDX_LABELS_MAGIC, 1, 'labels');
  const want = 8 + n;
  if (buf.byteLength !== want) throw new Error(`${file}: ${buf.byteLength} bytes, expected ${want} for ${n} labels`);
  if (expectCount !== undefined && n !== expectCount) throw new Error(`${file}: ${n} labels, expected ${expectCount}`);
  const labels = new Uint8Array(buf.slice(8));
  for (let i = 0; i < n; i++) {
    if (labels[i] >= MNIST_CLASSES) throw new Error(`${file}: label ${labels[i]} at index ${i}, expected 0..9`);
  }
  return labels;
}

/** Images and labels together; the counts must agree. */
export function parseMnist(images: ArrayBuffer, labels: ArrayBuffer, files: { images: string; labels: string }): MnistSet {
  const im = parseIdxImages(images, files.images);
  const lb = parseIdxLabels(labels, files.labels, im.n);
  return { images: im, labels: lb };
}

/** Per-class counts of a label array. */
export function classCounts(labels: Uint8Array): number[] {
  const c = new Array<number>(MNIST_CLASSES).fill(0);
  for (const l of labels) c[l]++;
  return c;
}

/** Seeded batches of images (with replacement): [n, 1, H, W] and their labels. */
export class ImageSampler {
  readonly size: number;
  readonly count: number;
  constructor(readonly images: MnistImages, readonly labels?: Uint8Array) {
    this.size = images.rows * images.cols;
    this.count = images.n;
    if (this.count < 1) throw new Error('ImageSampler: no images');
  }

  /** n random images (indices from `rng`), optionally their labels into `labelsOut`. */
  sample(n: number, rng: Rng, labelsOut?: Uint8Array): Float32Array {
    const out = new Float32Array(n * this.size);
    for (let i = 0; i < n; i++) {
      const j = rng.int(this.count);
      out.set(this.images.pixels.subarray(j * this.size, (j + 1) * this.size), i * this.size);
      if (labelsOut && this.labels) labelsOut[i] = this.labels[j];
    }
    return out;
  }

  /** Images [start, start+n) in order (evaluation). */
  slice(start: number, n: number): Float32Array {
    return this.images.pixels.slice(start * this.size, (start + n) * this.size);
  }
}
