import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, ROOT, runCli } from './helpers.js';

const CASES = path.join(FIXTURES, 'cases.json');

for (const backend of ['wasm', 'cpu']) {
  test(`every golden case passes on ${backend}`, () => {
    const r = runCli(['conformance', CASES, '--backend', backend]);
    const total = JSON.parse(readFileSync(CASES, 'utf8')).cases.length;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${total} passed, 0 failed$`, 'm'));
    // every kind is reported
    for (const kind of ['gmflow_pi', 'dx_pi', 'policy_rollout', 'policy_average_u', 'piflow_sample_ode']) {
      assert.match(r.stdout, new RegExp(`${kind}\\s+\\d+ passed, 0 failed`));
    }
  });
}

test('the fixture is the same as our shared reference copy, when that is present', () => {
  const shared = path.join(ROOT, '..', 'shared', 'reference', 'cases.json');
  if (!existsSync(shared)) return; // a user's clone has no ../shared
  assert.equal(readFileSync(CASES, 'utf8'), readFileSync(shared, 'utf8'));
});

test('a wrong expected value fails the case and the exit code', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const data = JSON.parse(readFileSync(CASES, 'utf8'));
  const c = data.cases.find((x: { kind: string }) => x.kind === 'gmflow_pi');
  c.expected.u[0][0] += 1e-2;
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'piflow-')), 'bad.json');
  writeFileSync(file, JSON.stringify({ format: 1, cases: [c] }));
  const r = runCli(['conformance', file]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^0 passed, 1 failed$/m);
  assert.match(r.stdout, new RegExp(`FAIL ${c.id}`));
});

test('a malformed cases file is a clear error', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'piflow-')), 'broken.json');
  writeFileSync(file, '{"format": 1, "cases": [');
  const r = runCli(['conformance', file]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not valid JSON/);
});
