/**
 * The device run's bundle (scripts/gpu-bundle.mjs, scripts/gpu-run.sh): the CLI bundled into one ES
 * module runs from a folder outside the repository, with nothing beside it but the wasm binaries (the
 * GPU machine has no node_modules), and passes the golden cases. The full bundle (Node, dawn.node,
 * the peer, xz-compressed) is made by hand before a device run; its dry run on SwiftShader is in the README.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('the bundled CLI runs outside the repository and passes the golden cases on wasm and cpu', { timeout: 120_000 }, (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'piflow-bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const b = spawnSync(process.execPath, ['scripts/gpu-bundle.mjs', '--cli-only', dir], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  assert.ok(existsSync(path.join(dir, 'piflow.mjs')));
  assert.ok(existsSync(path.join(dir, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')));
  for (const backend of ['wasm', 'cpu']) {
    const r = spawnSync(process.execPath, [path.join(dir, 'piflow.mjs'), 'conformance', 'tests/fixtures/cases.json', '--backend', backend], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${backend}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /\n(\d+) passed, 0 failed\n?$/, backend);
  }
  // a usage error is clear
  const bad = spawnSync(process.execPath, ['scripts/gpu-bundle.mjs', '--cli-only'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--cli-only needs a folder/);
});

test('the device script parses (bash -n) and refuses to run without its bundle', () => {
  assert.equal(spawnSync('bash', ['-n', 'scripts/gpu-run.sh']).status, 0);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'piflow-gpu-run-'));
  try {
    // a copy of the script in a tree without gpu-run/
    const scripts = path.join(dir, 'scripts');
    mkdirSync(scripts, { recursive: true });
    copyFileSync('scripts/gpu-run.sh', path.join(scripts, 'gpu-run.sh'));
    const r = spawnSync('bash', [path.join(scripts, 'gpu-run.sh')], { encoding: 'utf8', env: { ...process.env, OUT: path.join(dir, 'out') } });
    assert.equal(r.status, 2);
    assert.match(r.stdout + r.stderr, /gpu-run\/ is missing: node scripts\/gpu-bundle.mjs first/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
