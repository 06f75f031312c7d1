#!/usr/bin/env node
/**
 * Import-cycle check for src/ and notebooks/ (no dependencies): parses the relative
 * `import … from './x.js'`, side-effect `import './x.js'` and `export … from './x.js'` statements of
 * every .ts file (not `import type` / `export type`, which vanish at compile time), resolves './x.js'
 * to './x.ts', and fails listing every cycle it finds.
 *
 *   node scripts/check-cycles.mjs [ROOT]     (ROOT: the repository root, default the current folder)
 * Exit 0 with "no import cycles (N files)", or 1 with one line per cycle: a.ts -> b.ts -> a.ts.
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';

const DIRS = ['src', 'notebooks'];

function tsFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative runtime imports of one file's text (comments stripped first). */
export function runtimeImports(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs = [];
  const re = /(?:^|;|\n)\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|;|\n)\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of code.matchAll(re)) {
    if (m[5]) { specs.push(m[5]); continue; }
    if (m[2]) continue; // import type / export type
    const clause = m[3].trim();
    // `import { type A, type B } from` is type-only too
    const braces = /^\{([^}]*)\}$/.exec(clause);
    if (braces && braces[1].split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '))) continue;
    specs.push(m[4]);
  }
  return specs;
}

/** The import graph of ROOT's src/ and notebooks/: file (relative) → files it imports at run time. */
export function importGraph(root) {
  const graph = new Map();
  const files = DIRS.flatMap((d) => tsFiles(path.join(root, d)));
  for (const f of files) {
    const deps = [];
    for (const spec of runtimeImports(readFileSync(f, 'utf8'))) {
      const target = path.resolve(path.dirname(f), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target)) deps.push(path.relative(root, target));
    }
    graph.set(path.relative(root, f), deps);
  }
  return graph;
}

/** Every elementary cycle found by a depth-first search, each once (rotated to start at its smallest file). */
export function findCycles(graph) {
  const cycles = new Map();
  const state = new Map(); // 1: on the stack, 2: done
  const stack = [];
  const visit = (n) => {
    state.set(n, 1);
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 1) {
        const cyc = stack.slice(stack.indexOf(d));
        const i = cyc.indexOf([...cyc].sort()[0]);
        const rot = [...cyc.slice(i), ...cyc.slice(0, i)];
        cycles.set(rot.join(' -> '), rot);
      } else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return [...cycles.values()];
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const root = path.resolve(process.argv[2] ?? '.');
  const graph = importGraph(root);
  const cycles = findCycles(graph);
  if (cycles.length === 0) {
    console.log(`no import cycles (${graph.size} files)`);
  } else {
    console.error(`${cycles.length} import cycle(s):`);
    for (const c of cycles) console.error(`  ${[...c, c[0]].join(' -> ')}`);
    process.exit(1);
  }
}
