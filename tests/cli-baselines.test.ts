/** `piflow distill --method shortcut|dmd` (2D baselines) → sample → evaluate (fidelity), and what is refused (tiny nets, a few iterations). */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from './helpers.js';

let dir = '';
let teacher = '';
let shortcut = '';
let dmd = '';

const cfgOf = (d: string) => JSON.parse(readFileSync(path.join(d, 'config.json'), 'utf8'));
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

/** Every file under `d` with its bytes (to see that nothing changed). */
function snapshot(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    for (const name of readdirSync(p)) {
      const q = path.join(p, name);
      if (statSync(q).isDirectory()) walk(q);
      else out[path.relative(d, q)] = readFileSync(q).toString('base64');
    }
  };
  walk(d);
  return out;
}

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'piflow-baselines-'));
  teacher = path.join(dir, 'teacher');
  const r = runCli(['train-teacher', '--dataset', 'checkerboard', '--steps', '30', '--batch', '128', '--width', '32', '--depth', '2', '--seed', '3', '--out', teacher]);
  assert.equal(r.code, 0, r.stderr);
  shortcut = path.join(dir, 'shortcut');
  dmd = path.join(dir, 'dmd');
});

test('distill --method shortcut → sample → evaluate: a velocity-format student marked as such, sampled at its own NFE, with fidelity', () => {
  let r = runCli(['distill', '--teacher', teacher, '--method', 'shortcut', '--nfe', '2', '--iters', '3', '--batch', '64', '--pool', '256', '--teacher-steps', '16', '--out', shortcut]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lastJson(r.stdout).method, 'shortcut');
  const cfg = cfgOf(shortcut);
  assert.equal(cfg.config.kind, 'teacher'); // the teacher's weights layout
  assert.equal(cfg.meta.method, 'shortcut');
  assert.equal(cfg.meta.nfe, 2);
  assert.equal(cfg.meta.teacher, teacher);
  assert.equal(cfg.meta.itersDone, 3);
  assert.equal(cfg.meta.shortcut.pool, 256);
  // sampling: its own NFE by default, --nfe overrides, --steps is a teacher's option
  const csv = (name: string, extra: string[] = []) => {
    const f = path.join(dir, name);
    const s = runCli(['sample', '--model', shortcut, '--count', '40', '--seed', '1', ...extra, '--out', f]);
    assert.equal(s.code, 0, s.stderr);
    return readFileSync(f, 'utf8');
  };
  const own = csv('own.csv');
  const lines = own.trim().split('\n');
  assert.equal(lines[0], 'x,y');
  assert.equal(lines.length, 41);
  for (const l of lines.slice(1)) assert.ok(l.split(',').map(Number).every(Number.isFinite), l);
  assert.equal(csv('nfe2.csv', ['--nfe', '2']), own);
  assert.notEqual(csv('nfe1.csv', ['--nfe', '1']), own);
  r = runCli(['sample', '--model', shortcut, '--count', '5', '--steps', '4', '--out', path.join(dir, 'x.csv')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--steps is for teachers/);
  r = runCli(['sample', '--model', shortcut, '--count', '5', '--temperature', '0.5', '--out', path.join(dir, 'x.csv')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /this model is a shortcut \(KD regression\) student/);
  assert.equal(existsSync(path.join(dir, 'x.csv')), false);
  // evaluate: the usual scores and the fidelity to the teacher's 128-step ODE, with the teacher's own Euler reference
  r = runCli(['evaluate', '--model', shortcut, '--count', '300']);
  assert.equal(r.code, 0, r.stderr);
  const ev = lastJson(r.stdout);
  assert.equal(ev.kind, 'student shortcut nfe 2');
  assert.equal(ev.dataset, 'checkerboard');
  assert.ok(Number.isFinite(ev.swd) && ev.swd > 0, String(ev.swd));
  assert.ok(ev.precision >= 0 && ev.precision <= 1);
  assert.equal(ev.coverage.modes, 8);
  assert.ok(Number.isFinite(ev.fidelity) && ev.fidelity >= 0, String(ev.fidelity));
  assert.ok(Number.isFinite(ev.fidelityTeacherEuler) && ev.fidelityTeacherEuler > 0, String(ev.fidelityTeacherEuler));
  assert.equal(ev.fidelityNfe, 2);
  assert.equal(ev.fidelitySteps, 128);
  r = runCli(['evaluate', '--model', shortcut, '--count', '300', '--nfe', '1']);
  assert.equal(r.code, 0, r.stderr);
  const ev1 = lastJson(r.stdout);
  assert.equal(ev1.kind, 'student shortcut nfe 1');
  assert.equal(ev1.fidelityNfe, 1);
  assert.notEqual(ev1.fidelityTeacherEuler, ev.fidelityTeacherEuler);
});

test('distill --method dmd → sample → evaluate: a one-step generator', () => {
  let r = runCli(['distill', '--teacher', teacher, '--method', 'dmd', '--iters', '2', '--batch', '64', '--fake-updates', '2', '--out', dmd]);
  assert.equal(r.code, 0, r.stderr);
  const cfg = cfgOf(dmd);
  assert.equal(cfg.config.kind, 'teacher');
  assert.equal(cfg.meta.method, 'dmd');
  assert.equal(cfg.meta.nfe, 1);
  assert.equal(cfg.meta.dmd.fakeUpdates, 2);
  r = runCli(['sample', '--model', dmd, '--count', '10', '--out', '-']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 11);
  r = runCli(['evaluate', '--model', dmd, '--count', '300']);
  assert.equal(r.code, 0, r.stderr);
  const ev = lastJson(r.stdout);
  assert.equal(ev.kind, 'student dmd nfe 1');
  assert.ok(Number.isFinite(ev.swd));
  assert.ok(Number.isFinite(ev.fidelity) && ev.fidelity >= 0, String(ev.fidelity));
  assert.ok(Number.isFinite(ev.fidelityTeacherEuler) && ev.fidelityTeacherEuler >= 0);
  assert.equal(ev.fidelityNfe, 1);
});

test('evaluate: a π-ID student has fidelity too; a missing teacher is a note, not a failure; a teacher has none', () => {
  const student = path.join(dir, 'piid');
  let r = runCli(['distill', '--teacher', teacher, '--iters', '2', '--batch', '64', '--k', '4', '--substeps', '32', '--out', student]);
  assert.equal(r.code, 0, r.stderr);
  r = runCli(['evaluate', '--model', student, '--count', '300']);
  assert.equal(r.code, 0, r.stderr);
  const ev = lastJson(r.stdout);
  assert.equal(ev.kind, 'student gmflow nfe 2');
  assert.ok(Number.isFinite(ev.fidelity) && ev.fidelity >= 0);
  assert.equal(ev.fidelityNfe, 2);
  // the same model whose teacher folder is gone
  const orphan = path.join(dir, 'orphan');
  cpSync(student, orphan, { recursive: true });
  const cfg = cfgOf(orphan);
  cfg.meta.teacher = path.join(dir, 'no-such-teacher');
  writeFileSync(path.join(orphan, 'config.json'), JSON.stringify(cfg));
  r = runCli(['evaluate', '--model', orphan, '--count', '300']);
  assert.equal(r.code, 0, r.stderr);
  const eo = lastJson(r.stdout);
  assert.equal(eo.fidelity, null);
  assert.match(eo.fidelityNote, /no-such-teacher.*missing/);
  assert.equal(eo.swd, ev.swd);
  r = runCli(['evaluate', '--model', teacher, '--steps', '2', '--count', '300']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal('fidelity' in lastJson(r.stdout), false);
});

test('bad combinations and a baseline student as a teacher are refused (exit 2), nothing written', () => {
  if (!existsSync(shortcut)) {
    const r = runCli(['distill', '--teacher', teacher, '--method', 'shortcut', '--nfe', '2', '--iters', '1', '--batch', '32', '--pool', '64', '--teacher-steps', '8', '--out', shortcut]);
    assert.equal(r.code, 0, r.stderr);
  }
  const out = path.join(dir, 'new', 'student');
  const base = ['distill', '--teacher', teacher, '--iters', '2', '--batch', '32', '--out', out];
  const cases: [string[], RegExp][] = [
    [['distill', '--teacher', shortcut, '--iters', '2', '--out', out], /--teacher .*shortcut: is a shortcut \(KD regression\) student .*not a teacher/],
    [['distill', '--teacher', shortcut, '--method', 'dmd', '--iters', '2', '--out', out], /not a teacher/],
    [[...base, '--method', 'dmd', '--nfe', '2'], /--nfe 2: a DMD generator is one step \(1 NFE\)/],
    [[...base, '--method', 'shortcut', '--policy', 'dx'], /--policy is an option of π-ID/],
    [[...base, '--method', 'dmd', '--k', '4'], /--k is an option of π-ID/],
    [[...base, '--method', 'dmd', '--pool', '10'], /--pool is an option of --method shortcut/],
    [[...base, '--teacher-steps', '10'], /--teacher-steps is an option of --method shortcut, not of --method piflow/],
    [[...base, '--method', 'shortcut', '--nfe', '100'], /--nfe: nfe must be an integer in \[1, 64\]/],
    [[...base, '--method', 'dmd', '--sigma-min', '0.9', '--sigma-max', '0.5'], /σ_min < σ_max/],
    [[...base, '--method', 'sde'], /--method sde: must be one of piflow, shortcut, dmd/],
    [[...base, '--dataset', 'mnist', '--method', 'dmd', '--policy', 'dx'], /--policy is an option of π-ID/],
    [['train-teacher', '--dataset', 'moons', '--steps', '1', '--out', shortcut], /--out .*shortcut: holds a student model; this command writes a teacher/],
  ];
  const before = snapshot(dir);
  for (const [args, re] of cases) {
    const r = runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}\n${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.deepEqual(snapshot(dir), before);
  assert.equal(existsSync(path.join(dir, 'new')), false);
});

test('a baseline student folder is a student for --out (replaced by distill), and a diverging run leaves the last save intact', () => {
  const out = path.join(dir, 'replace');
  let r = runCli(['distill', '--teacher', teacher, '--method', 'dmd', '--iters', '1', '--batch', '32', '--fake-updates', '1', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const saved = snapshot(out);
  r = runCli(['distill', '--teacher', teacher, '--method', 'shortcut', '--nfe', '1', '--iters', '200', '--batch', '32', '--pool', '64', '--teacher-steps', '8', '--lr', '1e30', '--save-every', '0', '--out', out]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /diverged at iteration \d+/);
  assert.match(r.stderr, /last saved model/);
  assert.deepEqual(snapshot(out), saved);
  r = runCli(['distill', '--teacher', teacher, '--method', 'shortcut', '--nfe', '1', '--iters', '1', '--batch', '32', '--pool', '64', '--teacher-steps', '8', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(cfgOf(out).meta.method, 'shortcut');
});
