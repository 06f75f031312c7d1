#!/usr/bin/env node
/**
 * The test runner behind `npm test` and `npm run test:quick` (expects `tsc` output in dist/, and for
 * the browser tests the Vite build in dist/web: the npm scripts build both first).
 *
 *   node scripts/test.mjs            every suite: unit (two files at a time), long, browser
 *   node scripts/test.mjs --quick    the unit suite only: no browser, no long training
 *   node scripts/test.mjs FILE...    just these compiled test files (dist/tests/...)
 *
 * Suites:
 * - unit     dist/tests/*.test.js: engine, models, CLI, conformance (wasm, cpu and webgpu in Node);
 *            two files at a time (the machine has two cores; each file is its own process)
 * - long     dist/tests/long/*.test.js: the scaled-down quality claims (2D, MNIST), one at a time
 * - browser  dist/tests/browser/*.test.js: headless Debian chromium, one at a time
 *
 * WebGPU in Node (tests/webgpu-node.test.ts) runs on Dawn; where no GPU driver is set up, the software
 * Vulkan driver of Debian's chromium (SwiftShader) is put in the environment of the test processes
 * (LD_LIBRARY_PATH is read when a process starts, so it is set here, for the children).
 * PIFLOW_TEST_VULKAN=native keeps the machine's own Vulkan driver instead.
 *
 * Prints each suite's time; exits non-zero if any suite fails (all suites still run).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist', 'tests');

/** Compiled test files of `dir` whose TypeScript source still exists (dist/ keeps stale outputs). */
function testFiles(dir) {
  if (!existsSync(dir)) return [];
  const src = path.join(ROOT, 'tests', path.relative(DIST, dir));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.js') && existsSync(path.join(src, f.replace(/\.js$/, '.ts'))))
    .sort()
    .map((f) => path.join(dir, f));
}

/** The test processes' environment: the software Vulkan driver unless PIFLOW_TEST_VULKAN=native (webgpu-node.ts). */
let env = process.env;

/** Runs one suite, streaming its output, and reads node's closing counts (# pass N, # fail N, ...). */
function run(name, files, concurrency) {
  const counts = { pass: 0, fail: 0, skipped: 0, cancelled: 0, todo: 0 };
  if (files.length === 0) return Promise.resolve({ name, ok: true, seconds: 0, files: 0, counts });
  console.log(`\n=== ${name}: ${files.length} file(s), ${concurrency} at a time`);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4000);
    });
    child.on('close', (code) => {
      for (const k of Object.keys(counts)) {
        const m = tail.match(new RegExp(`^# ${k} (\\d+)$`, 'm'));
        if (m) counts[k] = Number(m[1]);
      }
      resolve({ name, ok: code === 0, seconds: (Date.now() - t0) / 1000, files: files.length, counts });
    });
  });
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const explicit = args.filter((a) => !a.startsWith('--'));
if (!existsSync(DIST)) {
  console.error('dist/tests is missing: compile first (npx tsc -p tsconfig.json; the npm scripts do it)');
  process.exit(2);
}
if (process.env.PIFLOW_TEST_VULKAN !== 'native') {
  const { softwareVulkanEnv } = await import('../dist/src/engine/webgpu-node.js');
  env = softwareVulkanEnv() ?? env;
}

const results = [];
if (explicit.length) {
  results.push(await run('selected', explicit.map((f) => path.resolve(f)), 1));
} else {
  results.push(await run('unit', testFiles(DIST), 2));
  if (!quick) {
    results.push(await run('long', testFiles(path.join(DIST, 'long')), 1));
    results.push(await run('browser', testFiles(path.join(DIST, 'browser')), 1));
  }
}
console.log('\n=== suite times');
for (const r of results) console.log(`  ${r.name.padEnd(8)} ${r.ok ? 'ok  ' : 'FAIL'} ${r.files} file(s) in ${r.seconds.toFixed(1)} s`);
const total = results.reduce((s, r) => s + r.seconds, 0);
console.log(`  total    ${total.toFixed(1)} s`);
const sum = (k) => results.reduce((s, r) => s + r.counts[k], 0);
const ok = results.every((r) => r.ok);
// the plain closing line, over every suite (a suite that crashed without counts still fails the run)
console.log(`\n${sum('pass')} passed, ${sum('fail') + sum('cancelled') + (ok ? 0 : results.filter((r) => !r.ok && r.counts.fail === 0).length)} failed, ${sum('skipped')} skipped`);
process.exit(ok ? 0 : 1);
