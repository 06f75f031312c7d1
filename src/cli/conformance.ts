/** `piflow conformance FILE [--backend wasm|cpu]`: golden cases, pass counts per kind, exit 0 only if all pass. */
import { readFileSync } from 'node:fs';
import { parseGoldenFile, runGolden } from '../engine/conformance.js';
import { initNodeBackend } from '../engine/backend.js';
import { parseArgs, UsageError } from './args.js';

export async function conformanceCommand(argv: string[]): Promise<number> {
  const { opts, positional } = parseArgs(argv, {
    backend: { type: 'string', default: 'wasm', help: 'tfjs backend', choices: ['wasm', 'cpu', 'webgl', 'webgpu'] },
    verbose: { type: 'flag', help: 'print every case' },
  }, { positional: true });
  if (positional.length !== 1) throw new UsageError('usage: piflow conformance FILE [--backend wasm|cpu] [--verbose]');
  const file = positional[0];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  const golden = parseGoldenFile(text, file);
  const backend = await initNodeBackend(String(opts.backend));
  const results = await runGolden(golden);
  const perKind = new Map<string, { pass: number; fail: number }>();
  for (const r of results) {
    const k = perKind.get(r.kind) ?? { pass: 0, fail: 0 };
    if (r.pass) k.pass++;
    else k.fail++;
    perKind.set(r.kind, k);
    if (!r.pass || opts.verbose) {
      const detail = r.message ?? `worst excess over tolerance ${r.worstExcess.toExponential(2)}`;
      console.log(`${r.pass ? 'PASS' : 'FAIL'} ${r.id}: ${detail}`);
    }
  }
  console.log(`conformance on ${backend}, ${file}`);
  for (const [kind, k] of perKind) console.log(`  ${kind.padEnd(22)} ${k.pass} passed, ${k.fail} failed`);
  const passed = results.filter((r) => r.pass).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && results.length > 0 ? 0 : 1;
}
