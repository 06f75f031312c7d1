/**
 * Hostile inputs to the CLI (issue 8): each case runs on fresh copies in a temporary folder and checks
 * the exit code, the message (naming the option or path), that no byte of what was there changed and
 * that nothing was left behind (no .tmp-/.old-/probe files).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from './helpers.js';

const FAST = { timeoutMs: 20_000 }; // a refusal must come at once; a hang fails the case instead of the suite
const SMALL = ['--steps', '2', '--batch', '64', '--width', '16', '--depth', '1'];
let base = '';

/** Every entry under `dir`: a file's sha256, a link's target, or 'dir'. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const rel = path.relative(dir, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[rel] = `link:${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = 'dir';
        walk(p);
      } else out[rel] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

function leftovers(dir: string): string[] {
  return Object.keys(snapshot(dir)).filter((p) => !p.includes(path.sep) && /\.(tmp|old)-|\.piflow-probe-/.test(p));
}

/** A dead process's pid (for leftovers whose writer is gone). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

before(() => {
  base = mkdtempSync(path.join(tmpdir(), 'piflow-safety-base-'));
  let r = runCli(['train-teacher', '--dataset', 'moons', ...SMALL, '--out', path.join(base, 'teacher')]);
  assert.equal(r.code, 0, r.stderr);
  r = runCli(['distill', '--teacher', path.join(base, 'teacher'), '--iters', '2', '--batch', '64', '--k', '4', '--substeps', '16', '--out', path.join(base, 'student')]);
  assert.equal(r.code, 0, r.stderr);
  // a broken model: the teacher with NaN weights
  cpSync(path.join(base, 'teacher'), path.join(base, 'nan'), { recursive: true });
  const w = readFileSync(path.join(base, 'nan', 'weights.bin'));
  const f = new Float32Array(w.buffer, w.byteOffset, w.byteLength / 4).slice();
  f.fill(NaN, 0, 8);
  writeFileSync(path.join(base, 'nan', 'weights.bin'), Buffer.from(f.buffer));
});

/** A fresh workspace: copies of the models, a folder of user files, a plain file and a link to it. */
function workspace(): string {
  const w = mkdtempSync(path.join(tmpdir(), 'piflow-safety-'));
  for (const m of ['teacher', 'student', 'nan']) cpSync(path.join(base, m), path.join(w, m), { recursive: true });
  mkdirSync(path.join(w, 'user'));
  writeFileSync(path.join(w, 'user', 'thesis.txt'), 'five years of work\n');
  writeFileSync(path.join(w, 'file.txt'), 'a plain file\n');
  symlinkSync('file.txt', path.join(w, 'link'));
  // a model folder with a file piflow did not write
  cpSync(path.join(base, 'teacher'), path.join(w, 'crowded'), { recursive: true });
  writeFileSync(path.join(w, 'crowded', 'notes.txt'), 'mine\n');
  // what routes a run to the MNIST commands: an image network's config.json
  mkdirSync(path.join(w, 'imgteacher'));
  writeFileSync(path.join(w, 'imgteacher', 'config.json'), JSON.stringify({
    config: { arch: 'unet', kind: 'teacher', channels: 1, size: 28, base: 8, mid: 8, groups: 4, timeDim: 16, embDim: 16 }, meta: {},
  }));
  writeFileSync(path.join(w, 'bad.json'), '{"format": 1, "cases": [');
  const good = { id: 'a', kind: 'warp_t', params: { shift: 3 }, inputs: { raw_t: [0.5] }, expected: { sigma: [0.75] }, rtol: 0, atol: 1e-6 };
  const files: Record<string, unknown> = {
    'array.json': [],
    'format2.json': { format: 2, cases: [] },
    'nocases.json': { format: 1 },
    'noatol.json': { format: 1, cases: [{ ...good, atol: undefined }] },
    'ragged.json': { format: 1, cases: [{ ...good, inputs: { x: [[1, 2], [3]] } }] },
    'strexp.json': { format: 1, cases: [good, { ...good, id: 'b', expected: { u: ['x'] } }] },
    'badparam.json': { format: 1, cases: [{ ...good, params: { shift: [3] } }] },
    'negtol.json': { format: 1, cases: [{ ...good, rtol: -1 }] },
    'notobj.json': { format: 1, cases: [3] },
  };
  for (const [name, v] of Object.entries(files)) writeFileSync(path.join(w, name), JSON.stringify(v));
  return w;
}

interface Case {
  name: string;
  args: (w: string) => string[];
  cwd?: (w: string) => string;
  code: number;
  re: RegExp;
}

const T = (w: string) => path.join(w, 'teacher');
const S = (w: string) => path.join(w, 'student');
const teacherRun = (w: string, out: string) => ['train-teacher', '--dataset', 'moons', ...SMALL, '--out', out];
const sampleRun = (w: string, out: string, model = S(w)) => ['sample', '--model', model, '--count', '10', '--out', out];

const REFUSED: Case[] = [
  // destinations
  { name: '--out a folder of user files', args: (w) => teacherRun(w, path.join(w, 'user')), code: 2, re: /--out .*user: is a folder that is not empty and holds no model made by piflow/ },
  { name: '--out an existing plain file', args: (w) => teacherRun(w, path.join(w, 'file.txt')), code: 2, re: /--out .*file\.txt: exists and is not a folder/ },
  { name: '--out . (the working folder)', args: (w) => teacherRun(w, '.'), cwd: (w) => path.join(w, 'user'), code: 2, re: /--out \.: is the working folder/ },
  { name: '--out a model folder with a user file', args: (w) => teacherRun(w, path.join(w, 'crowded')), code: 2, re: /--out .*crowded: holds files piflow did not write \(notes\.txt\)/ },
  { name: '--out a student when making a teacher', args: (w) => teacherRun(w, S(w)), code: 2, re: /--out .*student: holds a student model; this command writes a teacher/ },
  { name: '--out under a regular file (before training)', args: (w) => teacherRun(w, path.join(w, 'file.txt', 'model')), code: 2, re: /--out .*file\.txt\/model: a part of its path is a file/ },
  { name: 'distill --out = the teacher', args: (w) => ['distill', '--teacher', T(w), '--iters', '2', '--batch', '64', '--out', T(w)], code: 2, re: /--out .*teacher: is the command's own input model/ },
  { name: 'distill --out = a link to the teacher', args: (w) => {
    symlinkSync('teacher', path.join(w, 'tlink'));
    return ['distill', '--teacher', T(w), '--iters', '2', '--batch', '64', '--out', path.join(w, 'tlink')];
  }, code: 2, re: /--out .*tlink: is the command's own input model/ },
  { name: 'distill of an image teacher --out = the teacher (MNIST path)', args: (w) => ['distill', '--teacher', path.join(w, 'imgteacher'), '--iters', '2', '--batch', '2', '--out', path.join(w, 'imgteacher')], code: 2, re: /--out .*imgteacher: is the command's own input model/ },
  { name: 'train-teacher --dataset mnist --out a folder of user files', args: (w) => ['train-teacher', '--dataset', 'mnist', '--size', 'tiny', '--steps', '1', '--batch', '2', '--out', path.join(w, 'user')], code: 2, re: /--out .*user: is a folder that is not empty/ },
  { name: 'train-classifier has no default --out', args: () => ['train-classifier', '--epochs', '0.01'], code: 2, re: /missing required option --out/ },
  { name: 'train-classifier --out a teacher', args: (w) => ['train-classifier', '--epochs', '0.01', '--out', T(w)], code: 2, re: /--out .*teacher: holds a teacher model; this command writes a classifier/ },
  { name: 'sample --out a symlink', args: (w) => sampleRun(w, path.join(w, 'link')), code: 2, re: /--out .*link: is a symbolic link/ },
  { name: 'sample --out a directory', args: (w) => sampleRun(w, path.join(w, 'user')), code: 2, re: /--out .*user: is a folder, not a file/ },
  { name: 'sample --out a file inside the model', args: (w) => sampleRun(w, path.join(S(w), 'config.json')), code: 2, re: /--out .*config\.json: is inside the command's input model/ },
  { name: 'sample --out under a regular file', args: (w) => sampleRun(w, path.join(w, 'file.txt', 'x.csv')), code: 2, re: /a part of its path is a file/ },
  { name: 'MNIST sample --out - (several files)', args: (w) => sampleRun(w, '-', path.join(w, 'imgteacher')), code: 2, re: /--out -: this command writes several files/ },
  // hostile sizes
  { name: 'sample --count 1e9', args: (w) => sampleRun(w, path.join(w, 'x.csv')).map((a) => (a === '10' ? '1e9' : a)), code: 2, re: /--count 1e9: must be an integer >= 1 <= \d+/ },
  { name: 'sample --count over memory', args: (w) => sampleRun(w, path.join(w, 'x.csv')).map((a) => (a === '10' ? '50000000' : a)), code: 2, re: /--count 50000000: .*--count can be at most \d+/ },
  { name: 'evaluate --count 1e9', args: (w) => ['evaluate', '--model', T(w), '--steps', '2', '--count', '1e9'], code: 2, re: /--count 1e9: must be/ },
  { name: 'train-teacher --batch 1e9', args: (w) => ['train-teacher', '--dataset', 'moons', '--steps', '2', '--batch', '1e9', '--out', path.join(w, 'new')], code: 2, re: /--batch 1e9: must be an integer >= 1 <= \d+/ },
  { name: 'train-teacher --batch over memory', args: (w) => ['train-teacher', '--dataset', 'moons', '--steps', '2', '--batch', '1000000', '--out', path.join(w, 'new')], code: 2, re: /--batch 1000000: the run would need about [\d.]+ GiB, over the memory budget of [\d.]+ GiB \(wasm backend\); .*--batch can be at most \d+/ },
  { name: 'train-teacher --width 1e6', args: (w) => ['train-teacher', '--dataset', 'moons', '--steps', '2', '--width', '1e6', '--out', path.join(w, 'new')], code: 2, re: /--width 1e6: must be an integer >= 1 <= \d+/ },
  { name: 'train-teacher --width over memory', args: (w) => ['train-teacher', '--dataset', 'moons', '--steps', '2', '--width', '60000', '--out', path.join(w, 'new')], code: 2, re: /--width 60000: .*--width can be at most \d+/ },
  { name: 'distill --k 1e8', args: (w) => ['distill', '--teacher', T(w), '--iters', '2', '--k', '1e8', '--out', path.join(w, 'new')], code: 2, re: /--k 1e8: must be an integer >= 1 <= \d+/ },
  { name: 'distill --k over memory', args: (w) => ['distill', '--teacher', T(w), '--iters', '2', '--k', '500000', '--out', path.join(w, 'new')], code: 2, re: /--k 500000: .*--k can be at most \d+/ },
  { name: 'MNIST train-teacher --batch over memory', args: (w) => ['train-teacher', '--dataset', 'mnist', '--steps', '2', '--batch', '100000', '--out', path.join(w, 'new')], code: 2, re: /--batch 100000: .*--batch can be at most \d+/ },
  { name: 'MNIST distill --k over memory', args: (w) => ['distill', '--teacher', path.join(w, 'imgteacher'), '--iters', '2', '--k', '100000', '--out', path.join(w, 'new')], code: 2, re: /--k 100000: .*--k can be at most \d+/ },
  // broken models
  { name: 'evaluate a NaN-weights model', args: (w) => ['evaluate', '--model', path.join(w, 'nan'), '--steps', '2', '--count', '100'], code: 1, re: /nan\/weights\.bin: weight '.*' holds a non-finite value/ },
  { name: 'sample a NaN-weights model', args: (w) => ['sample', '--model', path.join(w, 'nan'), '--steps', '2', '--count', '10', '--out', path.join(w, 'x.csv')], code: 1, re: /nan\/weights\.bin: weight .* non-finite/ },
  // values
  { name: '--seed 4294967296', args: (w) => [...sampleRun(w, path.join(w, 'x.csv')), '--seed', '4294967296'], code: 2, re: /--seed 4294967296: must be an integer >= 0 <= 4294967295/ },
  { name: '--temperature 1.5', args: (w) => [...sampleRun(w, path.join(w, 'x.csv')), '--temperature', '1.5'], code: 2, re: /--temperature 1\.5: must be a finite number > 0 <= 1/ },
  { name: '--temperature for a teacher', args: (w) => ['sample', '--model', T(w), '--steps', '2', '--count', '10', '--temperature', '0.5', '--out', path.join(w, 'x.csv')], code: 2, re: /--temperature 0\.5: only a GMFlow student has a temperature; this model is a teacher/ },
  { name: 'a stray positional word', args: (w) => [...teacherRun(w, path.join(w, 'new')), 'oops'], code: 2, re: /unexpected argument 'oops'/ },
  { name: 'a stray positional word (sample)', args: (w) => ['sample', 'stray', ...sampleRun(w, path.join(w, 'x.csv')).slice(1)], code: 2, re: /unexpected argument 'stray'/ },
  // conformance files
  { name: 'conformance: not JSON', args: (w) => ['conformance', path.join(w, 'bad.json')], code: 1, re: /bad\.json: not valid JSON/ },
  { name: 'conformance: an array', args: (w) => ['conformance', path.join(w, 'array.json')], code: 1, re: /array\.json: expected \{"format": 1, "cases": \[\.\.\.\]\}, got an array/ },
  { name: 'conformance: format 2', args: (w) => ['conformance', path.join(w, 'format2.json')], code: 1, re: /"format" must be 1, got 2/ },
  { name: 'conformance: no cases', args: (w) => ['conformance', path.join(w, 'nocases.json')], code: 1, re: /"cases" must be an array/ },
  { name: 'conformance: a case lacks atol', args: (w) => ['conformance', path.join(w, 'noatol.json')], code: 1, re: /case #0 \(id 'a'\) lacks 'atol'/ },
  { name: 'conformance: a ragged input', args: (w) => ['conformance', path.join(w, 'ragged.json')], code: 1, re: /case #0 \(id 'a'\): inputs\.x: \[1\] breaks the array's rectangular shape/ },
  { name: 'conformance: a string in expected', args: (w) => ['conformance', path.join(w, 'strexp.json')], code: 1, re: /case #1 \(id 'b'\): expected\.u: \[0\] is string/ },
  { name: 'conformance: a bad param', args: (w) => ['conformance', path.join(w, 'badparam.json')], code: 1, re: /case #0 \(id 'a'\): params\.shift must be a finite number, a string or a boolean/ },
  { name: 'conformance: a negative tolerance', args: (w) => ['conformance', path.join(w, 'negtol.json')], code: 1, re: /case #0 \(id 'a'\): 'rtol' must be a finite number >= 0, got -1/ },
  { name: 'conformance: a case not an object', args: (w) => ['conformance', path.join(w, 'notobj.json')], code: 1, re: /case #0 is not an object/ },
  { name: 'conformance: a missing file', args: (w) => ['conformance', path.join(w, 'none.json')], code: 1, re: /cannot read .*none\.json/ },
  { name: 'conformance: two files', args: (w) => ['conformance', path.join(w, 'bad.json'), path.join(w, 'array.json')], code: 2, re: /usage: piflow conformance FILE/ },
];

test('hostile inputs are refused with the right exit code and message; nothing changes, nothing is left behind', () => {
  for (const c of REFUSED) {
    const w = workspace();
    const args = c.args(w);
    const beforeSnap = snapshot(w);
    const r = runCli(args, { ...FAST, cwd: c.cwd?.(w) });
    assert.equal(r.signal, null, `${c.name}: killed by ${r.signal} (a hang?)`);
    assert.equal(r.code, c.code, `${c.name}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, c.re, c.name);
    assert.deepEqual(snapshot(w), beforeSnap, `${c.name}: the workspace changed`);
    rmSync(w, { recursive: true, force: true });
  }
});

test('sample --out /dev/null and --out - write straight through; a regular file is replaced; nothing left behind', () => {
  const w = workspace();
  const beforeSnap = snapshot(w);
  let r = runCli(sampleRun(w, '/dev/null'), FAST);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(snapshot(w), beforeSnap);
  r = runCli(sampleRun(w, '-'), FAST);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^x,y\n(-?[\d.e-]+,-?[\d.e-]+\n){10}$/);
  r = runCli(sampleRun(w, path.join(w, 'file.txt')), FAST);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(path.join(w, 'file.txt'), 'utf8'), /^x,y\n/);
  assert.equal(readFileSync(path.join(w, 'link'), 'utf8'), readFileSync(path.join(w, 'file.txt'), 'utf8'));
  assert.equal(lstatSync(path.join(w, 'link')).isSymbolicLink(), true);
  assert.deepEqual(leftovers(w), []);
});

test('a model of the same kind is replaced; an empty folder is used', () => {
  const w = workspace();
  const oldT = readFileSync(path.join(T(w), 'config.json'), 'utf8');
  let r = runCli([...teacherRun(w, T(w)), '--seed', '7']);
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(readFileSync(path.join(T(w), 'config.json'), 'utf8'));
  assert.notEqual(JSON.stringify(cfg), oldT);
  assert.equal(cfg.meta.seed, 7);
  r = runCli(['distill', '--teacher', T(w), '--iters', '2', '--batch', '64', '--k', '4', '--substeps', '16', '--seed', '5', '--out', S(w)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(S(w), 'config.json'), 'utf8')).meta.piid.seed, 5);
  mkdirSync(path.join(w, 'empty'));
  r = runCli(teacherRun(w, path.join(w, 'empty')));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(path.join(w, 'empty', 'weights.bin')));
  // the user's files are untouched, nothing is left behind
  assert.equal(readFileSync(path.join(w, 'user', 'thesis.txt'), 'utf8'), 'five years of work\n');
  assert.deepEqual(leftovers(w), []);
});

test('an interrupted save is recovered by the next load or save; leftovers of a gone writer are removed, a live one’s kept', () => {
  const w = workspace();
  const dead = deadPid();
  const teacherBytes = snapshot(T(w));
  // 1. killed between the renames: no DIR, a complete DIR.tmp-* and the DIR.old-* → the tmp comes back
  renameSync(T(w), `${T(w)}.old-${dead}-aaaa-x`);
  cpSync(`${T(w)}.old-${dead}-aaaa-x`, `${T(w)}.tmp-${dead}-aaab-y`, { recursive: true });
  let r = runCli(['sample', '--model', T(w), '--steps', '2', '--count', '5', '--out', path.join(w, 'a.csv')], FAST);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(snapshot(T(w)), teacherBytes);
  assert.deepEqual(leftovers(w), []);
  // 2. DIR present with an incomplete tmp (no config.json) and an old copy of a gone writer → both removed
  cpSync(T(w), `${T(w)}.tmp-${dead}-aaac-z`, { recursive: true });
  rmSync(path.join(`${T(w)}.tmp-${dead}-aaac-z`, 'config.json'));
  cpSync(T(w), `${T(w)}.old-${dead}-aaac-z`, { recursive: true });
  // and a live writer's tmp (this test process) stays
  cpSync(T(w), `${T(w)}.tmp-${process.pid}-aaad-q`, { recursive: true });
  r = runCli(['evaluate', '--model', T(w), '--steps', '2', '--count', '100'], FAST);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftovers(w), [`teacher.tmp-${process.pid}-aaad-q`]);
  rmSync(`${T(w)}.tmp-${process.pid}-aaad-q`, { recursive: true });
  // 3. no DIR and only an incomplete tmp: nothing to recover, a clear error, the tmp kept as evidence
  renameSync(T(w), `${T(w)}.tmp-${dead}-aaae-r`);
  rmSync(path.join(`${T(w)}.tmp-${dead}-aaae-r`, 'weights.bin'));
  r = runCli(['sample', '--model', T(w), '--steps', '2', '--count', '5', '--out', path.join(w, 'b.csv')], FAST);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /teacher.config\.json: cannot read/);
  assert.equal(existsSync(path.join(w, 'b.csv')), false);
  // 4. a save recovers too: the complete tmp of a student comes back, then is replaced by a student
  rmSync(`${T(w)}.tmp-${dead}-aaae-r`, { recursive: true });
  cpSync(path.join(base, 'teacher'), T(w), { recursive: true });
  renameSync(S(w), `${S(w)}.tmp-${dead}-aaaf-s`);
  r = runCli(['distill', '--teacher', T(w), '--iters', '2', '--batch', '64', '--k', '4', '--substeps', '16', '--out', S(w)]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftovers(w), []);
});

test('a real kill between the two renames of a save leaves a model that the next load recovers', () => {
  const w = workspace();
  const out = path.join(w, 'killed');
  const r = runCli([...teacherRun(w, out), '--save-every', '1'], { env: { PIFLOW_TEST_KILL_BETWEEN_RENAMES: '1' }, timeoutMs: 60_000 });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.equal(existsSync(out), false, 'the kill came after the old copy was moved aside');
  assert.equal(leftovers(w).length, 2, leftovers(w).join(' ')); // the .old- (step 1) and the complete .tmp- (step 2)
  const s = runCli(['sample', '--model', out, '--steps', '2', '--count', '5', '--out', path.join(w, 'a.csv')], FAST);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')).meta.stepsDone, 2);
  assert.deepEqual(leftovers(w), []);
});
