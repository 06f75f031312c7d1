import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from './helpers.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'piflow-cli-'));

test('bad options: exit code 2, the option, the value and the range named, nothing written', () => {
  const dir = tmp();
  const out = path.join(dir, 'never');
  const cases: [string[], RegExp][] = [
    [['train-teacher', '--dataset', 'checkerboard', '--steps', '0', '--out', out], /--steps 0: must be an integer >= 1/],
    [['train-teacher', '--dataset', 'checkerboard', '--steps', '5', '--lr', 'nan', '--out', out], /--lr nan: must be a finite number > 0/],
    [['train-teacher', '--dataset', 'galaxy', '--steps', '5', '--out', out], /--dataset galaxy: must be one of checkerboard, moons, gaussians8, spirals, rings/],
    [['train-teacher', '--dataset', 'moons', '--steps', '5', '--out', out, '--backend', 'webgl'], /--backend webgl: must be one of wasm, cpu, webgpu/],
    [['train-teacher', '--dataset', 'moons', '--steps', '5'], /missing required option --out/],
    [['distill', '--teacher', dir, '--iters', '5', '--k', '0', '--out', out], /--k 0: must be an integer >= 1/],
    [['distill', '--teacher', dir, '--iters', '5', '--policy', 'ddim', '--out', out], /--policy ddim: must be one of gmflow, dx/],
    [['distill', '--teacher', dir, '--iters', '5', '--nfe', '0', '--out', out], /--nfe 0: must be an integer >= 1/],
    [['distill', '--teacher', dir, '--iters', '5', '--gm-dropout', '1.5', '--out', out], /--gm-dropout 1.5: must be a finite number >= 0 <= 0.999/],
    [['distill', '--teacher', dir, '--iters', '5', '--substeps', '0', '--out', out], /--substeps 0: must be an integer >= 1/],
    [['distill', '--teacher', dir, '--iters', '5', '--lr', '-1', '--out', out], /--lr -1: must be a finite number > 0/],
    [['sample', '--model', dir, '--count', '10', '--temperature', '0', '--out', out], /--temperature 0: must be a finite number > 0/],
    [['train-teacher', '--stpes', '5'], /unknown option --stpes/],
  ];
  for (const [args, re] of cases) {
    const r = runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}\n${r.stderr}`);
    assert.match(r.stderr, re);
  }
  assert.equal(existsSync(out), false);
  const r = runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('--help lists the command\'s options for its layout, exits 0 and runs nothing', () => {
  const dir = tmp();
  const out = path.join(dir, 'never');
  let r = runCli(['distill', '--teacher', dir, '--out', out, '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^usage: piflow distill \[options\] \(2D; with --dataset mnist: the MNIST options\)/);
  assert.match(r.stdout, /--resume STRING {2}continue the run saved in this student folder exactly/);
  assert.match(r.stdout, /--teacher STRING {2}teacher model directory \(required\)/);
  r = runCli(['evaluate', '--dataset', 'mnist', '-h']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^usage: piflow evaluate \[options\] \(MNIST\)/);
  assert.match(r.stdout, /--fidelity-steps INT/);
  r = runCli(['evaluate', '--help']);
  assert.doesNotMatch(r.stdout, /--fidelity-steps/, 'the 2D evaluate has no MNIST-only option');
  r = runCli(['figures', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--only STRING/);
  assert.equal(existsSync(out), false, 'nothing written');
});

test('train → distill → sample → evaluate through the CLI; a malformed model dir is a clear error', () => {
  const dir = tmp();
  const teacher = path.join(dir, 'teacher');
  let r = runCli(['train-teacher', '--dataset', 'checkerboard', '--steps', '30', '--batch', '128', '--width', '32', '--depth', '2', '--seed', '3', '--out', teacher]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['model.json', 'weights.bin', 'config.json']) assert.ok(existsSync(path.join(teacher, f)), f);
  const student = path.join(dir, 'student');
  r = runCli(['distill', '--teacher', teacher, '--iters', '6', '--batch', '64', '--k', '4', '--substeps', '32', '--gm-dropout', '0.1', '--decay-iters', '3', '--out', student]);
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(readFileSync(path.join(student, 'config.json'), 'utf8'));
  assert.equal(cfg.config.kind, 'gmflow');
  assert.equal(cfg.meta.policy.nfe, 2);
  const csv = path.join(dir, 's.csv');
  r = runCli(['sample', '--model', student, '--count', '50', '--seed', '1', '--out', csv]);
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'x,y');
  assert.equal(lines.length, 51);
  for (const l of lines.slice(1)) {
    const v = l.split(',').map(Number);
    assert.equal(v.length, 2);
    assert.ok(v.every(Number.isFinite), l);
  }
  // same seed, same file
  const again = path.join(dir, 's2.csv');
  assert.equal(runCli(['sample', '--model', student, '--count', '50', '--seed', '1', '--out', again]).code, 0);
  assert.equal(readFileSync(again, 'utf8'), readFileSync(csv, 'utf8'));
  // the teacher samples with --steps, the student with --nfe
  r = runCli(['sample', '--model', teacher, '--count', '5', '--nfe', '2', '--out', path.join(dir, 'x.csv')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--nfe is for students/);
  r = runCli(['evaluate', '--model', teacher, '--steps', '4', '--count', '500']);
  assert.equal(r.code, 0, r.stderr);
  const ev = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(ev.dataset, 'checkerboard');
  assert.ok(ev.swd > 0 && ev.swd < 5, String(ev.swd));
  assert.ok(ev.precision >= 0 && ev.precision <= 1, String(ev.precision));
  assert.equal(ev.coverage.modes, 8);
  assert.equal(ev.coverage.share.length, 8);
  assert.ok(Math.abs(ev.coverage.share.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-3, String(ev.coverage.share));
  assert.equal(ev.coverage.uncovered.length, 8 - ev.coverage.covered);
  r = runCli(['sample', '--model', path.join(dir, 'nope'), '--count', '5', '--steps', '2', '--out', path.join(dir, 'y.csv')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config\.json/);
  assert.equal(existsSync(path.join(dir, 'y.csv')), false);
});

test('a diverging run stops with a clear error and leaves the last saved model intact', () => {
  const dir = tmp();
  const out = path.join(dir, 'teacher');
  const base = ['train-teacher', '--dataset', 'moons', '--batch', '64', '--width', '16', '--depth', '1', '--out', out];
  assert.equal(runCli([...base, '--steps', '5']).code, 0);
  const before = ['model.json', 'weights.bin', 'config.json'].map((f) => readFileSync(path.join(out, f)));
  const r = runCli([...base, '--steps', '200', '--lr', '1e30', '--save-every', '0']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /diverged at iteration \d+: loss = (NaN|Infinity)/);
  assert.match(r.stderr, /last saved model/);
  const after = ['model.json', 'weights.bin', 'config.json'].map((f) => readFileSync(path.join(out, f)));
  before.forEach((b, i) => assert.ok(b.equals(after[i])));
});

test('bench --quick prints one JSON line last with both backends and the dispatch count', () => {
  const r = runCli(['bench', '--quick']);
  assert.equal(r.code, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
  for (const b of ['wasm', 'cpu']) {
    const res = last.results[b];
    for (const k of ['teacher_steps_per_s', 'piid_iters_per_s', 'euler32_samples_per_s', 'student2nfe_samples_per_s']) {
      assert.ok(res[k] > 0, `${b} ${k}`);
    }
    assert.ok(res.piid_kernels_per_iter > 100, `${b} kernels`);
    assert.equal(res.leak_free, true);
  }
});

test('bench --quick --dataset mnist times the U-Net steps (tiny in --quick); a bad --dataset or --training is refused', () => {
  const r = runCli(['bench', '--quick', '--backends', 'wasm', '--dataset', 'mnist']);
  assert.equal(r.code, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual(last.results, {});
  const m = last.mnist.wasm;
  for (const k of ['teacher_step_s', 'piid_iter_s', 'teacher_step_kernels', 'piid_iter_kernels']) assert.ok(m[k] > 0, k);
  assert.ok(m.piid_iter_fused_programs > 0, 'the image π-ID uses the fused host programs');
  assert.equal(m.leak_free, true);
  assert.equal(last.load_avg.length, 3);
  for (const [args, re] of [[['--dataset', 'cifar'], /--dataset: 'toy', 'mnist' or 'toy,mnist', got 'cifar'/], [['--training', 'fast'], /--training: 'fused' or 'generic', got 'fast'/]] as const) {
    const bad = runCli(['bench', '--quick', '--backends', 'wasm', ...args]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, re);
  }
});
