/** `piflow distill --policy constant`, then `sample` and `evaluate` of that student, through the CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from './helpers.js';

test('distill --policy constant → sample → evaluate; --temperature is refused for it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'piflow-constant-'));
  try {
    const teacher = path.join(dir, 'teacher');
    let r = runCli(['train-teacher', '--dataset', 'moons', '--steps', '10', '--batch', '64', '--width', '16', '--depth', '2', '--seed', '2', '--out', teacher]);
    assert.equal(r.code, 0, r.stderr);
    const student = path.join(dir, 'student');
    r = runCli(['distill', '--teacher', teacher, '--policy', 'constant', '--iters', '3', '--batch', '32', '--substeps', '16', '--out', student]);
    assert.equal(r.code, 0, r.stderr);
    const cfg = JSON.parse(readFileSync(path.join(student, 'config.json'), 'utf8'));
    assert.equal(cfg.config.kind, 'constant');
    assert.equal(cfg.meta.policy.policy, 'constant');
    assert.equal(cfg.meta.piid.windowSubsteps, 0);
    const csv = path.join(dir, 's.csv');
    r = runCli(['sample', '--model', student, '--count', '20', '--seed', '1', '--out', csv]);
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines.length, 21);
    assert.ok(lines.slice(1).every((l) => l.split(',').map(Number).every(Number.isFinite)));
    r = runCli(['evaluate', '--model', student, '--count', '200', '--nfe', '3']);
    assert.equal(r.code, 0, r.stderr);
    const ev = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(ev.kind, 'student constant nfe 3');
    assert.ok(Number.isFinite(ev.swd) && ev.swd > 0);
    r = runCli(['sample', '--model', student, '--count', '5', '--temperature', '0.5', '--out', path.join(dir, 't.csv')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /only a GMFlow student has a temperature; this model is a Constant velocity student/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
