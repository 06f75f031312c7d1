/** The one options table of `distill` for both layouts and its one mapping to the π-ID DistillConfig (pure: nothing trains). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, UsageError } from '../src/cli/args.js';
import { givenOptions, type Layout } from '../src/cli/common.js';
import { checkMethodOptions, distillConfigOf, distillOpts, dmdConfigOf, LAYOUT_DEFAULTS, shortcutConfigOf } from '../src/cli/options.js';
import { POLICY_FAMILIES, POLICY_FAMILY_NAMES } from '../src/engine/families.js';

const BASE = ['--teacher', 't', '--iters', '5', '--out', 'o'];

function configOf(flags: string[], layout: Layout) {
  const { opts } = parseArgs([...BASE, ...flags], distillOpts(layout));
  return distillConfigOf(opts, layout);
}

/** The dotted paths where two plain objects differ. */
function diff(a: unknown, b: unknown, at = ''): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return Object.is(a, b) ? [] : [at];
}

/** The flags that set every per-layout default explicitly. */
const PINNED = ['--k', '6', '--n', '7', '--batch', '32', '--lr', '3e-4', '--beta1', '0.8', '--beta2', '0.99', '--warmup', '10', '--gm-dropout', '0.1'];

test('distill: one table — both layouts take the same options', () => {
  assert.deepEqual(Object.keys(distillOpts('points')).sort(), Object.keys(distillOpts('images')).sort());
});

test('distill: the same flags give the same DistillConfig on both layouts', () => {
  const cases: string[][] = [
    [],
    ['--policy', 'dx', '--dx-mode', 'polynomial'],
    ['--policy', 'constant', '--nfe', '4', '--data-free'],
    ['--policy', 'gmflow', '--window', '5', '--substeps', '64', '--intermediate', '3', '--decay-iters', '9', '--shift', '2', '--final-step-scale', '0.5', '--clip', '1', '--seed', '11'],
  ];
  for (const flags of cases) {
    const p = configOf([...PINNED, ...flags], 'points');
    const i = configOf([...PINNED, ...flags], 'images');
    assert.deepEqual(diff(p, i), [], flags.join(' '));
  }
  // and the flags do reach the config
  const c = configOf([...PINNED, '--policy', 'gmflow', '--window', '5', '--nfe', '3', '--seed', '11'], 'images');
  assert.equal(c.k, 6);
  assert.equal(c.windowSubsteps, 5);
  assert.equal(c.nfe, 3);
  assert.equal(c.seed, 11);
  assert.equal(c.gmDropout, 0.1);
  assert.deepEqual(c.adam, { lr: 3e-4, beta1: 0.8, beta2: 0.99, warmupSteps: 10, clipNorm: 0 });
});

test('distill: without those flags the layouts differ only in the documented per-layout defaults', () => {
  const p = configOf([], 'points');
  const i = configOf([], 'images');
  assert.deepEqual(diff(p, i).sort(), ['adam.beta2', 'adam.lr', 'adam.warmupSteps', 'batch', 'gmDropout', 'k'].sort());
  for (const [layout, c] of [['points', p], ['images', i]] as const) {
    const d = LAYOUT_DEFAULTS[layout].distill;
    assert.equal(c.k, d.k, layout);
    assert.equal(c.n, d.n, layout);
    assert.equal(c.batch, d.batch, layout);
    assert.equal(c.gmDropout, d.gmDropout, layout);
    assert.deepEqual(c.adam, { lr: d.lr, beta1: d.beta1, beta2: d.beta2, warmupSteps: d.warmup, clipNorm: 0 }, layout);
  }
  assert.equal(p.batch, 2048);
  assert.equal(i.batch, 64);
});

test('distill: the registry supplies the window default and whether GM dropout applies, on both layouts', () => {
  for (const layout of ['points', 'images'] as const) {
    for (const policy of POLICY_FAMILY_NAMES) {
      const c = configOf(['--policy', policy, '--gm-dropout', '0.2'], layout);
      assert.equal(c.windowSubsteps, POLICY_FAMILIES[policy].defaults.windowSubsteps, `${layout} ${policy}`);
      assert.equal(c.gmDropout, POLICY_FAMILIES[policy].gmDropout ? 0.2 : 0, `${layout} ${policy}`);
    }
    assert.equal(configOf(['--policy', 'dx'], layout).windowSubsteps, 3);
    assert.equal(configOf(['--policy', 'dx', '--window', '0'], layout).windowSubsteps, 0);
    // MNIST's default dropout (0.05) is not given to a DX student either
    assert.equal(configOf(['--policy', 'dx'], layout).gmDropout, 0);
  }
});

function methodOf(flags: string[], layout: Layout = 'points') {
  const argv = [...BASE, ...flags];
  const { opts } = parseArgs(argv, distillOpts(layout));
  return { method: checkMethodOptions(opts, givenOptions(argv), layout), opts };
}

test('distill --method: each method takes its own options; the others are refused', () => {
  assert.equal(methodOf([]).method, 'piflow');
  assert.equal(methodOf(['--method', 'shortcut', '--nfe', '2', '--pool', '100', '--teacher-steps', '16']).method, 'shortcut');
  assert.equal(methodOf(['--method', 'dmd', '--fake-updates', '2', '--sigma-min', '0.1', '--fake-lr=1e-3']).method, 'dmd');
  assert.equal(methodOf(['--method', 'dmd', '--nfe', '1']).method, 'dmd');
  // the same table and rules on the MNIST layout
  assert.equal(methodOf(['--method', 'shortcut', '--nfe', '2', '--pool', '100'], 'images').method, 'shortcut');
  assert.equal(methodOf(['--method', 'dmd', '--fake-updates', '2'], 'images').method, 'dmd');
  const refused: [string[], RegExp, Layout?][] = [
    [['--method', 'shortcut', '--policy', 'dx'], /--policy is an option of π-ID/],
    [['--method', 'dmd', '--k', '4'], /--k is an option of π-ID/],
    [['--method', 'shortcut', '--data-free'], /--data-free is an option of π-ID/],
    [['--method', 'dmd', '--pool', '10'], /--pool is an option of --method shortcut, not of --method dmd/],
    [['--method', 'shortcut', '--fake-updates', '2'], /--fake-updates is an option of --method dmd/],
    [['--pool', '10'], /--pool is an option of --method shortcut, not of --method piflow/],
    [['--method', 'dmd', '--nfe', '2'], /--nfe 2: a DMD generator is one step/],
    [['--method', 'dmd', '--k', '4'], /--k is an option of π-ID/, 'images'],
    [['--method', 'dmd', '--nfe', '2'], /--nfe 2: a DMD generator is one step/, 'images'],
  ];
  for (const [flags, re, layout] of refused) {
    assert.throws(() => methodOf(flags, layout), (e: unknown) => e instanceof UsageError && re.test((e as Error).message), flags.join(' '));
  }
});

test('distill --method shortcut|dmd: the flags reach the baselines\' configs', () => {
  const s = shortcutConfigOf(methodOf(['--method', 'shortcut', '--nfe', '3', '--pool', '100', '--teacher-steps', '16', '--batch', '8', '--lr', '2e-4', '--seed', '5']).opts);
  assert.deepEqual(s, { nfe: 3, teacherSteps: 16, pool: 100, batch: 8, seed: 5, adam: { lr: 2e-4, beta1: 0.9, beta2: 0.999, warmupSteps: 0, clipNorm: 0 } });
  const d = dmdConfigOf(methodOf(['--method', 'dmd', '--fake-updates', '2', '--sigma-min', '0.1', '--sigma-max', '0.9', '--fake-lr', '1e-3', '--batch', '8']).opts);
  assert.equal(d.fakeUpdates, 2);
  assert.equal(d.sigmaMin, 0.1);
  assert.equal(d.sigmaMax, 0.9);
  assert.equal(d.batch, 8);
  assert.equal(d.fakeAdam.lr, 1e-3);
  assert.equal(d.generatorAdam.lr, 1e-4);
  // the defaults are the peer's working settings (runtime/baselines.ts)
  const d0 = dmdConfigOf(methodOf(['--method', 'dmd']).opts);
  assert.deepEqual([d0.fakeUpdates, d0.sigmaMin, d0.sigmaMax, d0.fakeAdam.lr], [5, 0.02, 0.98, 1e-4]);
});
