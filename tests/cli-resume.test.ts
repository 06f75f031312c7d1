/** `piflow distill --resume DIR` (2D and MNIST): k iterations + resume to N == N straight, byte for byte; mismatching options and corrupt states are refused, nothing written. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from './helpers.js';

let dir = '';
let teacher = '';

const files = (d: string) => Object.fromEntries(readdirSync(d).sort().map((f) => [f, readFileSync(path.join(d, f)).toString('base64')]));

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'piflow-resume-cli-'));
  teacher = path.join(dir, 'teacher');
  const r = runCli(['train-teacher', '--dataset', 'checkerboard', '--steps', '20', '--batch', '64', '--width', '16', '--depth', '2', '--seed', '3', '--out', teacher]);
  assert.equal(r.code, 0, r.stderr);
});

const METHODS: Record<string, string[]> = {
  shortcut: ['--method', 'shortcut', '--nfe', '2', '--pool', '64', '--teacher-steps', '8'],
  dmd: ['--method', 'dmd', '--nfe', '1', '--fake-updates', '2'],
  piflow: ['--k', '4', '--nfe', '2', '--decay-iters', '4', '--intermediate', '2'],
};

for (const [method, extra] of Object.entries(METHODS)) {
  test(`distill --method ${method} --resume: 2 + 2 iterations equal 4 straight (weights and training state)`, () => {
    const common = ['distill', '--teacher', teacher, ...extra, '--batch', '16', '--lr', '0.001', '--seed', '5'];
    const straight = path.join(dir, `${method}-straight`);
    const parted = path.join(dir, `${method}-parted`);
    let r = runCli([...common, '--iters', '4', '--out', straight]);
    assert.equal(r.code, 0, r.stderr);
    r = runCli([...common, '--iters', '2', '--out', parted]);
    assert.equal(r.code, 0, r.stderr);
    const atTwo = files(parted);
    assert.ok(atTwo['train-state.json'] && atTwo['train-state.bin'], 'a save holds the training state');
    r = runCli([...common, '--iters', '4', '--resume', parted, '--out', parted]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).resumedFrom, 2);
    const a = files(straight), b = files(parted);
    assert.notEqual(b['weights.bin'], atTwo['weights.bin'], 'the resumed iterations moved the weights');
    assert.equal(b['weights.bin'], a['weights.bin'], 'the resumed run ends at the uninterrupted run\'s weights');
    assert.equal(b['train-state.bin'], a['train-state.bin'], 'and at its optimizer state');
    assert.equal(b['train-state.json'], a['train-state.json']);
  });
}

test('distill --resume: other options, a done run, a corrupt or missing state are clear errors and nothing is written', () => {
  const common = ['distill', '--teacher', teacher, ...METHODS.shortcut, '--batch', '16', '--lr', '0.001', '--seed', '5'];
  const src = path.join(dir, 'shortcut-parted');
  const before = files(src);
  let r = runCli([...common, '--lr', '0.002', '--iters', '6', '--resume', src, '--out', src]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--resume .*saved with --lr 0\.001, this command gives --lr 0\.002/);
  r = runCli([...common, '--iters', '4', '--resume', src, '--out', src]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--iters 4: the run in .* has done 4 iterations already/);
  assert.deepEqual(files(src), before, 'the refused resumes wrote nothing');

  const bad = path.join(dir, 'corrupt');
  cpSync(src, bad, { recursive: true });
  const bin = readFileSync(path.join(bad, 'train-state.bin'));
  writeFileSync(path.join(bad, 'train-state.bin'), bin.subarray(0, bin.length - 4));
  const badBefore = files(bad);
  r = runCli([...common, '--iters', '6', '--resume', bad, '--out', bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /train-state\.bin holds \d+ bytes, train-state\.json expects \d+/);
  assert.deepEqual(files(bad), badBefore);

  const old = path.join(dir, 'no-state');
  cpSync(src, old, { recursive: true });
  rmSync(path.join(old, 'train-state.json'));
  r = runCli([...common, '--iters', '6', '--resume', old, '--out', path.join(dir, 'elsewhere')]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--resume .*no-state: no training state \(train-state\.json, train-state\.bin\)/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('elsewhere')), [], 'no output folder made');
});

// MNIST (issue 12): the same resume on a tiny U-Net teacher, for π-ID and the baselines
let mnistTeacher = '';

const MNIST_METHODS: Record<string, string[]> = {
  piflow: ['--k', '2', '--nfe', '2', '--decay-iters', '4', '--intermediate', '1', '--substeps', '8'],
  shortcut: ['--method', 'shortcut', '--nfe', '2', '--pool', '4', '--teacher-steps', '2'],
  dmd: ['--method', 'dmd', '--fake-updates', '1'],
};

for (const [method, extra] of Object.entries(MNIST_METHODS)) {
  test(`distill MNIST --method ${method} --resume: 2 + 2 iterations equal 4 straight (weights and training state)`, () => {
    if (!mnistTeacher) {
      mnistTeacher = path.join(dir, 'mnist-teacher');
      const t = runCli(['train-teacher', '--dataset', 'mnist', '--size', 'tiny', '--steps', '1', '--batch', '2', '--out', mnistTeacher]);
      assert.equal(t.code, 0, t.stderr);
    }
    const common = ['distill', '--teacher', mnistTeacher, ...extra, '--batch', '2', '--lr', '0.001', '--seed', '5'];
    const straight = path.join(dir, `mnist-${method}-straight`);
    const parted = path.join(dir, `mnist-${method}-parted`);
    let r = runCli([...common, '--iters', '4', '--out', straight]);
    assert.equal(r.code, 0, r.stderr);
    // the first part checkpoints at 1 and 2 (--save-every is not part of the run)
    r = runCli([...common, '--iters', '2', '--save-every', '1', '--out', parted]);
    assert.equal(r.code, 0, r.stderr);
    const atTwo = files(parted);
    assert.ok(atTwo['train-state.json'] && atTwo['train-state.bin'], 'an MNIST save holds the training state');
    const meta = JSON.parse(readFileSync(path.join(parted, 'config.json'), 'utf8')).meta;
    assert.equal(meta.itersDone, 2);
    assert.equal(meta.options.teacher, path.resolve(mnistTeacher));
    assert.equal(meta.options.dataset, 'mnist');
    assert.equal(meta.options.method, method);
    // --dataset mnist given now and not before: the same run
    r = runCli([...common, '--dataset', 'mnist', '--iters', '4', '--resume', parted, '--out', parted]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).resumedFrom, 2);
    const a = files(straight), b = files(parted);
    assert.notEqual(b['weights.bin'], atTwo['weights.bin'], 'the resumed iterations moved the weights');
    assert.equal(b['weights.bin'], a['weights.bin'], 'the resumed run ends at the uninterrupted run\'s weights');
    assert.equal(b['train-state.bin'], a['train-state.bin'], 'and at its optimizer state');
    assert.equal(b['train-state.json'], a['train-state.json']);
    assert.equal(b['model.json'], a['model.json']);
  });
}

test('distill MNIST --resume: other options, a 2D run, a done run, a corrupt state are clear errors and nothing is written', () => {
  const common = ['distill', '--teacher', mnistTeacher, ...MNIST_METHODS.piflow, '--batch', '2', '--lr', '0.001', '--seed', '5'];
  const src = path.join(dir, 'mnist-piflow-parted');
  const before = files(src);
  const withK3 = common.map((v, i) => (common[i - 1] === '--k' ? '3' : v));
  let r = runCli([...withK3, '--iters', '6', '--resume', src, '--out', src]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--resume .*saved with --k 2, this command gives --k 3/);
  r = runCli([...common, '--iters', '4', '--resume', src, '--out', src]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--iters 4: the run in .* has done 4 iterations already/);
  // a 2D student's run is another run (its teacher), even with the same flags
  r = runCli([...common, '--iters', '6', '--resume', path.join(dir, 'piflow-parted'), '--out', src]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--resume .*piflow-parted: the run was saved with --teacher ".*teacher", this command gives --teacher ".*mnist-teacher"/);
  assert.deepEqual(files(src), before, 'the refused resumes wrote nothing');

  const bad = path.join(dir, 'mnist-corrupt');
  cpSync(src, bad, { recursive: true });
  const state = JSON.parse(readFileSync(path.join(bad, 'train-state.json'), 'utf8'));
  state.state.iteration = 3;
  writeFileSync(path.join(bad, 'train-state.json'), JSON.stringify(state));
  const badBefore = files(bad);
  r = runCli([...common, '--iters', '6', '--resume', bad, '--out', bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /mnist-corrupt: train-state\.json is at iteration 3, config\.json at 4; the folder is inconsistent/);
  assert.deepEqual(files(bad), badBefore);
});
