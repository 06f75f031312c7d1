import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { runCli } from './helpers.js';
import { crc32, encodeGrayPng } from '../src/cli/png.js';

test('PNG encoder: signature, chunk CRCs, pixels round-trip through zlib', () => {
  const px = Uint8Array.from({ length: 6 }, (_, i) => i * 40);
  const png = encodeGrayPng(3, 2, px);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10]);
  const v = new DataView(png.buffer, png.byteOffset);
  let o = 8;
  const types: string[] = [];
  let idat: Uint8Array | null = null;
  while (o < png.length) {
    const len = v.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    types.push(type);
    assert.equal(v.getUint32(o + 8 + len), crc32(png.subarray(o + 4, o + 8 + len)), `${type} CRC`);
    if (type === 'IDAT') idat = png.subarray(o + 8, o + 8 + len);
    o += 12 + len;
  }
  assert.deepEqual(types, ['IHDR', 'IDAT', 'IEND']);
  assert.deepEqual(Array.from(inflateSync(idat!)), [0, 0, 40, 80, 0, 120, 160, 200]);
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('CLI MNIST: train-classifier, train-teacher → distill → sample (PNG + raw) → evaluate (tiny)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'piflow-mnist-'));
  try {
    const clf = path.join(dir, 'clf');
    let r = runCli(['train-classifier', '--epochs', '0.01', '--out', clf]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout.trim().split('\n').pop()!).testAccuracy > 0.1);
    const teacher = path.join(dir, 'teacher');
    r = runCli(['train-teacher', '--dataset', 'mnist', '--size', 'tiny', '--steps', '3', '--batch', '8', '--out', teacher]);
    assert.equal(r.code, 0, r.stderr);
    r = runCli(['train-teacher', '--dataset', 'mnist', '--size', 'huge', '--steps', '3', '--out', teacher]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--size huge: must be one of full, small, tiny/);
    for (const policy of ['gmflow', 'dx']) {
      const student = path.join(dir, policy);
      r = runCli(['distill', '--teacher', teacher, '--policy', policy, '--k', '2', '--n', '3', '--iters', '2', '--batch', '4', '--substeps', '16', '--out', student]);
      assert.equal(r.code, 0, r.stderr);
      const png = path.join(dir, `${policy}.png`);
      r = runCli(['sample', '--model', student, '--count', '6', '--cols', '3', '--out', png]);
      assert.equal(r.code, 0, r.stderr);
      const bytes = await fs.readFile(png);
      assert.deepEqual(Array.from(bytes.subarray(0, 4)), [137, 80, 78, 71]);
      assert.equal(bytes.readUInt32BE(16), 3 * 28 + 4 * 2); // width
      assert.equal(bytes.readUInt32BE(20), 2 * 28 + 3 * 2); // height
      const raw = await fs.readFile(path.join(dir, `${policy}.f32`));
      assert.equal(raw.length, 6 * 784 * 4);
      const header = JSON.parse(await fs.readFile(path.join(dir, `${policy}.f32.json`), 'utf8'));
      assert.deepEqual(header.shape, [6, 1, 28, 28]);
    }
    r = runCli(['sample', '--model', teacher, '--count', '2', '--nfe', '2', '--out', path.join(dir, 'x.png')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--nfe is for students/);
    r = runCli(['evaluate', '--model', path.join(dir, 'gmflow'), '--count', '50', '--classifier', clf]);
    assert.equal(r.code, 0, r.stderr);
    const ev = JSON.parse(r.stdout.trim());
    assert.equal(ev.dataset, 'mnist');
    assert.ok(Number.isFinite(ev.frechet) && ev.frechet > 0);
    assert.equal(ev.classHistogram.reduce((a: number, b: number) => a + b, 0), 50);
    assert.ok(ev.entropy >= 0 && ev.entropy <= Math.log(10) + 1e-9);
    assert.ok(ev.classesCovered >= 1 && ev.classesCovered <= 10);
    // fidelity to the teacher (meta.teacher) from the same noise, with the teacher's own Euler at the student's NFE for scale
    assert.equal(ev.fidelityTeacher, teacher);
    assert.equal(ev.fidelitySteps, 32);
    assert.equal(ev.fidelityNfe, 2);
    for (const f of [ev.fidelity, ev.fidelityTeacherEuler]) {
      assert.ok(Number.isFinite(f.pixelL2) && f.pixelL2 > 0, JSON.stringify(f));
      assert.ok(Number.isFinite(f.featureDistance) && f.featureDistance >= 0, JSON.stringify(f));
      assert.ok(f.classMatch >= 0 && f.classMatch <= 1, JSON.stringify(f));
    }
    // the teacher at its own reference step count scores itself exactly: the same noise gives the same images
    r = runCli(['evaluate', '--model', path.join(dir, 'gmflow'), '--count', '50', '--classifier', clf, '--nfe', '1', '--fidelity-steps', '1']);
    assert.equal(r.code, 0, r.stderr);
    const ev1 = JSON.parse(r.stdout.trim());
    assert.deepEqual(ev1.fidelityTeacherEuler, { pixelL2: 0, featureDistance: 0, classMatch: 1 });
    assert.ok(ev1.fidelity.pixelL2 > 0);
    r = runCli(['evaluate', '--model', teacher, '--steps', '2', '--count', '20', '--classifier', clf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.trim()).fidelity, undefined, 'a teacher has no fidelity');
    // a missing teacher folder is a note, not a failure
    await fs.rename(teacher, `${teacher}-moved`);
    r = runCli(['evaluate', '--model', path.join(dir, 'gmflow'), '--count', '20', '--classifier', clf]);
    assert.equal(r.code, 0, r.stderr);
    const evMissing = JSON.parse(r.stdout.trim());
    assert.equal(evMissing.fidelity, null);
    assert.match(evMissing.fidelityNote, /is missing; no fidelity/);
    r = runCli(['evaluate', '--model', path.join(dir, 'gmflow'), '--count', '20', '--classifier', clf, '--fidelity-steps', '-1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--fidelity-steps/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
