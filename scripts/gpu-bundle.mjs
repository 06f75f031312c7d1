#!/usr/bin/env node
// Prepares gpu-run/ (git-ignored): everything `bash scripts/gpu-run.sh` needs on the device machine,
// a bare GPU machine with Python and PyTorch but no Node, no npm and no network. It travels with the
// working tree (tracked files, ~18 MB) as the device tool's `carry: ["gpu-run"]`; the two must stay
// under the tool's 64 MiB. Contents:
//   piflow.mjs.xz     the CLI (dist/src/cli/piflow.js) bundled into one ES module by rolldown (the
//                     Emscripten code of tfjs's wasm backend wants __dirname and require: a banner
//                     defines them); only 'webgpu' stays external
//   node_modules/     the 'webgpu' package (its index.js and linux-x64 dawn.node, xz-compressed) and
//                     tfjs-backend-wasm's .wasm binaries, where the bundle resolves them
//   node.xz           this machine's Node binary (x86-64 Linux), xz-compressed
//   peer/             the PyTorch peer's bench.py, toyflow.py and mnist/common.py, when ../shared has them
//   gl/*.deb          Ubuntu's/Debian's Vulkan loader (libvulkan1), in case the device image lacks it
// Usage: npm run build && node scripts/gpu-bundle.mjs    (then see scripts/gpu-run.sh)
//        node scripts/gpu-bundle.mjs --cli-only DIR       just DIR/piflow.mjs (uncompressed) and the wasm
//                                                        binaries beside it (tests/gpu-bundle.test.ts runs it)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cliOnly = process.argv[2] === '--cli-only';
if (cliOnly && !process.argv[3]) {
  console.error('gpu-bundle: --cli-only needs a folder');
  process.exit(1);
}
const OUT = cliOnly ? path.resolve(process.argv[3]) : path.join(ROOT, 'gpu-run');
const require = createRequire(import.meta.url);
const LIMIT = 46 * 1024 * 1024; // 64 MiB for all that travels, less the ~18 MB tracked tree

const fail = (m) => {
  console.error(`gpu-bundle: ${m}`);
  process.exit(1);
};
if (!existsSync(path.join(ROOT, 'dist/src/cli/piflow.js'))) fail('dist/ is missing: run `npm run build` first');
let webgpuDir;
if (!cliOnly) try {
  webgpuDir = path.dirname(require.resolve('webgpu/package.json'));
} catch {
  fail("the optional 'webgpu' package is not installed (npm install)");
}
const dawn = cliOnly ? '' : path.join(webgpuDir, 'dist/linux-x64/dawn.node');
if (!cliOnly && !existsSync(dawn)) fail(`no ${dawn}`);
const xz = (src, dst) => {
  const r = spawnSync('sh', ['-c', `xz -T0 -6 -c "${src}" > "${dst}"`], { stdio: 'inherit' });
  if (r.status !== 0) fail(`xz failed on ${src}`);
};

if (!cliOnly) rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

// 1. the CLI as one file
const { build } = await import('rolldown');
const banner =
  "import { createRequire as __piflowCreateRequire } from 'node:module'; import { fileURLToPath as __piflowFileURLToPath } from 'node:url'; import { dirname as __piflowDirname } from 'node:path';\n" +
  'var require = __piflowCreateRequire(import.meta.url); var __filename = __piflowFileURLToPath(import.meta.url); var __dirname = __piflowDirname(__filename);';
await build({
  input: path.join(ROOT, 'dist/src/cli/piflow.js'),
  platform: 'node',
  external: ['webgpu'],
  logLevel: 'silent',
  output: { file: path.join(OUT, 'piflow.mjs'), format: 'esm', codeSplitting: false, banner },
});

// 2. the packages the bundle resolves at run time
const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
const tw = path.join(OUT, 'node_modules/@tensorflow/tfjs-backend-wasm');
mkdirSync(path.join(tw, 'dist'), { recursive: true });
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(path.join(wasmDir, f), path.join(tw, 'dist', f));
writeFileSync(path.join(tw, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-backend-wasm', version: require('@tensorflow/tfjs-backend-wasm/package.json').version }) + '\n');
if (cliOnly) {
  console.log(`${path.relative(process.cwd(), OUT) || '.'}/piflow.mjs`);
  process.exit(0);
}
xz(path.join(OUT, 'piflow.mjs'), path.join(OUT, 'piflow.mjs.xz'));
rmSync(path.join(OUT, 'piflow.mjs'));
const wg = path.join(OUT, 'node_modules/webgpu');
mkdirSync(path.join(wg, 'dist/linux-x64'), { recursive: true });
for (const f of ['package.json', 'index.js']) copyFileSync(path.join(webgpuDir, f), path.join(wg, f));
xz(dawn, path.join(wg, 'dist/linux-x64/dawn.node.xz'));

// 3. Node itself
xz(process.execPath, path.join(OUT, 'node.xz'));

// 4. the peer (read from ../shared, never written there)
const notes = [];
const peer = path.join(ROOT, '..', 'shared', 'peer');
if (existsSync(path.join(peer, 'bench.py'))) {
  mkdirSync(path.join(OUT, 'peer/mnist'), { recursive: true });
  for (const f of ['bench.py', 'toyflow.py']) copyFileSync(path.join(peer, f), path.join(OUT, 'peer', f));
  copyFileSync(path.join(peer, 'mnist/common.py'), path.join(OUT, 'peer/mnist/common.py'));
} else notes.push('no ../shared/peer: the peer is not carried (its figures are skipped there)');

// 5. the Vulkan loader, in case the image has none (the device tool's README: apt-get download)
mkdirSync(path.join(OUT, 'gl'), { recursive: true });
const apt = spawnSync('sh', ['-c', 'cd "$0" && apt-get download libvulkan1 2>&1', path.join(OUT, 'gl')], { encoding: 'utf8' });
if (apt.status !== 0 || readdirSync(path.join(OUT, 'gl')).length === 0) notes.push(`no Vulkan loader package (apt-get download libvulkan1: ${(apt.stdout || '').trim().split('\n').pop()})`);

const size = (p) => (statSync(p).isDirectory() ? readdirSync(p).reduce((a, f) => a + size(path.join(p, f)), 0) : statSync(p).size);
const total = size(OUT);
for (const f of ['piflow.mjs.xz', 'node.xz', 'node_modules', 'peer', 'gl']) if (existsSync(path.join(OUT, f))) console.log(`  ${f.padEnd(14)} ${(size(path.join(OUT, f)) / 1e6).toFixed(1)} MB`);
console.log(`gpu-run/: ${(total / 1e6).toFixed(1)} MB${notes.length ? `; ${notes.join('; ')}` : ''}`);
if (total > LIMIT) fail(`gpu-run/ is ${(total / 1e6).toFixed(1)} MB, over the ${(LIMIT / 1e6).toFixed(0)} MB that fit beside the tree`);
