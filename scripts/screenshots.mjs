#!/usr/bin/env node
/**
 * Screenshots of every notebook at 1440×900 and 1280×720 (and the π-Flow, explorer and MNIST notebooks in presentation mode at 1280×720),
 * in headless Debian chromium on wasm, into docs/screenshots/ (or the folder given). Each page is shot
 * once its backend is ready and its first figure is drawn. Needs the builds: npm run build && npx vite build.
 *
 *   node scripts/screenshots.mjs [OUT_DIR] [PAGE]
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startHarness } from '../dist/tests/browser/harness.js';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const PAGES = [
  ['flow-matching-2d', '[data-testid="teacher-path"]', ''],
  ['piflow-2d', '[data-testid="policy-path"]', ''],
  ['policy-explorer', '[data-testid="run-sweep"]', ''],
  ['piflow-mnist', '[data-testid="samples-plot"] [data-testid="image-row"]', ''],
  ['piflow-2d', '[data-testid="policy-path"]', 'present=1'],
  ['policy-explorer', '[data-testid="run-sweep"]', 'present=1'],
  ['piflow-mnist', '[data-testid="samples-plot"] [data-testid="image-row"]', 'present=1'],
];
// one page only: node scripts/screenshots.mjs OUT_DIR piflow-mnist
const only = process.argv[3];
const SIZES = [[1440, 900], [1280, 720]];
const h = await startHarness();
try {
  for (const [name, ready, query] of PAGES) {
    if (only && name !== only) continue;
    for (const [width, height] of SIZES) {
      if (query && width !== 1280) continue;
      const r = await h.open(`notebooks/${name}.html`, { backend: 'wasm', query: query ? Object.fromEntries([query.split('=')]) : {} });
      try {
        await r.page.setViewportSize({ width, height });
        await r.page.waitForSelector('[data-testid="backend-indicator"][data-state="ready"]', { timeout: 120_000 });
        await r.page.waitForSelector(ready, { timeout: 240_000 });
        await r.page.waitForTimeout(1500); // let the charts' last flush land
        const file = path.join(out, `${name}${query ? '-present' : ''}-${width}x${height}.png`);
        await r.page.screenshot({ path: file });
        console.log(file);
      } finally {
        await r.close();
      }
    }
  }
} finally {
  await h.close();
}
