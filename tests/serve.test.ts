import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ISOLATION_HEADERS, startServer } from '../src/cli/serve.js';

test('serve: cross-origin isolation headers on every response by default, none with isolation: false', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'piflow-serve-'));
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>t</title>');
  for (const isolation of [true, false]) {
    const s = await startServer({ port: 0, quiet: true, root, isolation });
    try {
      for (const p of ['', 'missing.js']) {
        const resp = await fetch(`http://127.0.0.1:${s.port}/${p}`);
        await resp.arrayBuffer();
        assert.equal(resp.status, p === '' ? 200 : 404);
        for (const [k, v] of Object.entries(ISOLATION_HEADERS)) {
          assert.equal(resp.headers.get(k), isolation ? v : null, `${k} on /${p} (isolation ${isolation})`);
        }
      }
    } finally {
      await s.close();
    }
  }
});
