/** Shared test helpers: backend set-up, paths, and running the compiled CLI. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../src/engine/backend.js';

/** repository root (tests run from dist/tests) */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'bin', 'piflow.js');
export const FIXTURES = path.join(ROOT, 'tests', 'fixtures');

export async function useBackend(name = 'wasm'): Promise<void> {
  await initNodeBackend(name);
}

/** Runs the compiled CLI (cwd: the repository root unless `cwd`; `env` is added to this process's). */
export function runCli(args: string[], opts: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 600_000,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
