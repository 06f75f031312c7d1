/**
 * scripts/check-cycles.mjs: the repository's src/ and notebooks/ have no runtime import cycle, and
 * the script does find one (and ignores type-only imports) in a small tree made for the purpose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './helpers.js';

const SCRIPT = path.join(ROOT, 'scripts', 'check-cycles.mjs');

function check(root: string) {
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('the repository has no import cycle in src/ and notebooks/', () => {
  const r = check(ROOT);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /no import cycles \((\d+) files\)/);
  assert.ok(Number(/\((\d+) files\)/.exec(r.out)![1]) > 50, 'the whole tree was read');
});

test('a cycle in a synthetic tree is found and listed; type-only imports do not count', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cycles-'));
  try {
    mkdirSync(path.join(dir, 'src', 'a'), { recursive: true });
    mkdirSync(path.join(dir, 'notebooks'));
    // a type-only loop: x ↔ y (no cycle at run time)
    writeFileSync(path.join(dir, 'src', 'x.ts'), "import type { Y } from './y.js';\nexport const x = 1;\n");
    writeFileSync(path.join(dir, 'src', 'y.ts'), "import { type X } from './x.js';\nexport type Y = number;\n");
    writeFileSync(path.join(dir, 'notebooks', 'page.ts'), "import { x } from '../src/x.js';\nconsole.log(x);\n");
    assert.equal(check(dir).code, 0, check(dir).out);
    // a real loop across folders and an `export … from`: src/a/p.ts → src/q.ts → src/a/p.ts
    writeFileSync(path.join(dir, 'src', 'a', 'p.ts'), "// import { nothing } from './nowhere.js';\nimport { q } from '../q.js';\nexport const p = q + 1;\n");
    writeFileSync(path.join(dir, 'src', 'q.ts'), "export { p } from './a/p.js';\nexport const q = 2;\n");
    const r = check(dir);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /1 import cycle/);
    assert.match(r.out, /src\/a\/p\.ts -> src\/q\.ts -> src\/a\/p\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
