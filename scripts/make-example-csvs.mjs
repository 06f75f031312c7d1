#!/usr/bin/env node
/**
 * Writes the "load your own data" examples in datasets/examples/ (x,y header, one point a row, 4
 * decimals, inside [-4, 4]²), from a fixed seed, so the files are reproducible:
 *
 *   node scripts/make-example-csvs.mjs [--out DIR]     (default DIR: datasets/examples)
 *
 * - smiley.csv       a face: outline circle, two eyes, a smile (320 points)
 * - two-clusters.csv two Gaussian clusters of unequal size and spread (300 points: 200 + 100)
 *
 * Self-contained (its own small generator, no build needed); tests/datasets.test.ts checks that the
 * committed files are what this script writes and that they parse with parseCsv2d.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** mulberry32: a small seeded uniform generator in [0, 1) */
function rng(seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

function csv(points) {
  return 'x,y\n' + points.map(([x, y]) => `${x.toFixed(4)},${y.toFixed(4)}`).join('\n') + '\n';
}

function smiley() {
  const r = rng(1);
  const pts = [];
  const arc = (cx, cy, radius, a0, a1, n, noise) => {
    for (let i = 0; i < n; i++) {
      const a = a0 + (a1 - a0) * r.uniform();
      pts.push([cx + radius * Math.cos(a) + noise * r.normal(), cy + radius * Math.sin(a) + noise * r.normal()]);
    }
  };
  const blob = (cx, cy, std, n) => {
    for (let i = 0; i < n; i++) pts.push([cx + std * r.normal(), cy + std * r.normal()]);
  };
  arc(0, 0, 3, 0, 2 * Math.PI, 160, 0.06); // face
  blob(-1.1, 1.1, 0.18, 40); // eyes
  blob(1.1, 1.1, 0.18, 40);
  arc(0, 0.2, 1.8, (-150 * Math.PI) / 180, (-30 * Math.PI) / 180, 80, 0.06); // smile
  return pts;
}

function twoClusters() {
  const r = rng(2);
  const pts = [];
  for (let i = 0; i < 200; i++) pts.push([-1.8 + 0.5 * r.normal(), -1.2 + 0.5 * r.normal()]);
  for (let i = 0; i < 100; i++) pts.push([1.8 + 0.7 * r.normal(), 1.4 + 0.7 * r.normal()]);
  return pts;
}

const clamp = (pts) => pts.map(([x, y]) => [Math.max(-4, Math.min(4, x)), Math.max(-4, Math.min(4, y))]);

const outArg = process.argv.indexOf('--out');
const out = outArg >= 0 ? path.resolve(process.argv[outArg + 1] ?? '') : path.join(ROOT, 'datasets', 'examples');
mkdirSync(out, { recursive: true });
for (const [name, pts] of [['smiley.csv', smiley()], ['two-clusters.csv', twoClusters()]]) {
  writeFileSync(path.join(out, name), csv(clamp(pts)));
  console.log(`${path.join(out, name)}: ${pts.length} points`);
}
