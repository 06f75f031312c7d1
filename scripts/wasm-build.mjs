// What the two wasm build scripts (build-wasm-rollout.mjs, build-wasm-heap.mjs) share: assembling
// WebAssembly text with wabt (a dev dependency) and writing the committed module file, or with `--check`
// exiting 1 when the committed file differs from what the script builds (a test runs each with it).
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

const wabt = await wabtInit();

/** The binary of module text `wat` (ASCII only: wabt.js misreads other characters), validated with `features`. */
export function assemble(name, wat, features = { simd: true }) {
  if (/[^\x00-\x7f]/.test(wat)) throw new Error('the WebAssembly text must be ASCII (wabt.js misreads other characters)');
  const mod = wabt.parseWat(name, wat, features);
  try {
    mod.validate(features);
    return mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
}

/** Writes `text` to `out`, or with `--check` compares it with the committed file; `script` and `summary` name it in the message. */
export function writeOrCheck(out, text, script, summary) {
  if (process.argv.includes('--check')) {
    let old = '';
    try {
      old = readFileSync(out, 'utf8');
    } catch {}
    if (old !== text) {
      console.error(`${out} is not what ${script} builds: run it and commit the result`);
      process.exit(1);
    }
    console.log(`${out} is up to date (${summary})`);
  } else {
    writeFileSync(out, text);
    console.log(`wrote ${out} (${summary})`);
  }
}
