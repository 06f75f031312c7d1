import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bool, checkInput, defaultState, hashFor, int, labelOf, num, numList, oneOf, parseState, readLocationState, serializeState, str,
  validateState, type StateOf,
} from '../src/runtime/url-state.js';
import { DATASETS_2D } from '../src/data/toy2d.js';
import { askedThreadsNote, candidateOrder, coresToReport, tfjsDefaultThreads, describeBackend, MAX_WASM_THREADS, parseBackendParam, parseThreadsParam, validateThreads } from '../src/runtime/backend-param.js';

const schema = {
  dataset: oneOf(DATASETS_2D, 'checkerboard', 'toy dataset'),
  k: int(8, { min: 1, max: 64 }, 'GMFlow components'),
  lr: num(1e-3, { min: 0, max: 1, exclusiveMin: true }, 'learning rate'),
  seed: int(0, { min: 0 }),
  dataFree: bool(false),
  label: str('run', { maxLength: 12, pattern: /^[\w-]*$/ }),
  sweep: numList([1, 2, 4], { integer: true, min: 1, max: 8, minLength: 1, maxLength: 6 }),
};

test('url-state: defaults, and the state type follows the schema', () => {
  const s: StateOf<typeof schema> = defaultState(schema);
  assert.deepEqual(s, { dataset: 'checkerboard', k: 8, lr: 1e-3, seed: 0, dataFree: false, label: 'run', sweep: [1, 2, 4] });
  s.sweep.push(8);
  assert.deepEqual(defaultState(schema).sweep, [1, 2, 4], 'defaults are copied, not shared');
});

test('url-state: valid values parse from a hash or a query string', () => {
  for (const prefix of ['#', '?', '']) {
    const { state, messages, given } = parseState(
      schema,
      `${prefix}dataset=moons&k=32&lr=2.5e-4&seed=7&dataFree=true&label=my-run&sweep=1,2,8`,
    );
    assert.deepEqual(messages, []);
    assert.deepEqual(state, { dataset: 'moons', k: 32, lr: 2.5e-4, seed: 7, dataFree: true, label: 'my-run', sweep: [1, 2, 8] });
    assert.deepEqual(given.sort(), ['dataFree', 'dataset', 'k', 'label', 'lr', 'seed', 'sweep']);
  }
});

test('url-state: every bad value falls back to its default with a message naming it', () => {
  const { state, messages } = parseState(
    schema,
    '#dataset=mnist&k=0&lr=NaN&seed=1.5&dataFree=maybe&label=a%20b&sweep=1,x&extra=1',
  );
  assert.deepEqual(state, defaultState(schema));
  assert.equal(messages.length, 8, messages.join('\n'));
  const byKey = (k: string) => messages.find((m) => m.startsWith(k)) ?? '';
  assert.match(byKey('dataset'), /'mnist' must be one of checkerboard, moons/);
  assert.match(byKey('k'), /GMFlow components.*'0' must be >= 1 and <= 64; using 8/);
  assert.match(byKey('lr'), /'NaN' not a number; using 0\.001/);
  assert.match(byKey('seed'), /not an integer/);
  assert.match(byKey('dataFree'), /true or false/);
  assert.match(byKey('label'), /does not match/);
  assert.match(byKey('sweep'), /'x' is not a number/);
  assert.match(messages.find((m) => m.includes('extra')) ?? '', /unknown parameter 'extra' ignored/);
});

test('url-state: ranges, exclusive bounds, lists, and strict number syntax', () => {
  const p = (t: string) => parseState(schema, t);
  assert.equal(p('lr=0').state.lr, 1e-3, 'exclusive minimum');
  assert.equal(p('lr=1').state.lr, 1, 'inclusive maximum');
  assert.equal(p('k=65').state.k, 8);
  for (const bad of ['', ' ', '0x10', 'Infinity', '1e999', '12abc']) {
    assert.equal(p(`k=${encodeURIComponent(bad)}`).state.k, 8, `'${bad}' must be refused`);
  }
  assert.equal(p('k=%2B16').state.k, 16, 'explicit + sign');
  assert.deepEqual(p('sweep=').state.sweep, [1, 2, 4], 'too short');
  assert.deepEqual(p('sweep=1,2,3,4,5,6,7').state.sweep, [1, 2, 4], 'too long');
  assert.deepEqual(p('sweep=1,9').state.sweep, [1, 2, 4], 'out of range');
  assert.deepEqual(p('sweep=1,2.5').state.sweep, [1, 2, 4], 'not integers');
  assert.equal(p('dataFree').state.dataFree, true, 'a bare flag means true');
  assert.equal(p('dataFree=0').state.dataFree, false);
  assert.equal(p('k=4&k=16').state.k, 16, 'the last repeated key wins');
  assert.equal(p('__proto__=1&constructor=2').messages.length, 2, 'object keys are not schema keys');
});

test('url-state: serialize → parse round-trips every value, including encoded strings', () => {
  const state: StateOf<typeof schema> = {
    dataset: 'spirals', k: 3, lr: 0.1 + 0.2, seed: 123456789, dataFree: true, label: 'a_b-c', sweep: [8, 1],
  };
  const text = serializeState(schema, state);
  assert.equal(text, 'dataset=spirals&k=3&lr=0.30000000000000004&seed=123456789&dataFree=true&label=a_b-c&sweep=8%2C1');
  const back = parseState(schema, text);
  assert.deepEqual(back.messages, []);
  assert.deepEqual(back.state, state);
  const free = { ...schema, note: str('') };
  const withSpaces = { ...defaultState(free), note: 'x & y = 50%?#' };
  assert.deepEqual(parseState(free, hashFor(free, withSpaces)).state, withSpaces);
});

test('url-state: omitDefaults writes only what differs', () => {
  const state = { ...defaultState(schema), k: 16, sweep: [1, 2, 4] };
  assert.equal(serializeState(schema, state, { omitDefaults: true }), 'k=16');
  assert.equal(hashFor(schema, defaultState(schema), { omitDefaults: true }), '#');
});

test('url-state: location reading takes the query first, the hash wins, ?backend= is not reported', () => {
  const r = readLocationState(schema, { search: '?backend=wasm&k=4&seed=3', hash: '#k=12&bogus=1' });
  assert.equal(r.state.k, 12);
  assert.equal(r.state.seed, 3);
  assert.deepEqual(r.messages, ["unknown parameter 'bogus' ignored"]);
  assert.deepEqual([...r.given].sort(), ['k', 'seed']);
});

test('url-state: validateState checks values from controls', () => {
  const { state, messages } = validateState(schema, { k: 4, lr: Number.NaN, dataset: 'rings', sweep: [2, 0] });
  assert.equal(state.k, 4);
  assert.equal(state.lr, 1e-3);
  assert.equal(state.dataset, 'rings');
  assert.deepEqual(state.sweep, [1, 2, 4]);
  assert.equal(messages.length, 2, messages.join('\n'));
  assert.match(messages[0], /^lr: NaN not a finite number; using 0\.001$/);
});

test('checkInput: the one validator of URL text and controls, with the message a control shows', () => {
  const k = int(8, { min: 1, max: 64 }, 'GMFlow components', { label: 'K' });
  const lr = num(2e-3, { min: 0, max: 0.1, exclusiveMin: true }, 'learning rate', { label: 'Learning rate' });
  const sigma = num(0.5, { min: 0, max: 1, exclusiveMax: true }, 'σ');
  const msg = (r: ReturnType<typeof checkInput>) => (r.ok ? `ok ${JSON.stringify(r.value)}` : r.message);
  // numbers: text as typed, and typed values
  assert.equal(msg(checkInput(k, '16')), 'ok 16');
  assert.equal(msg(checkInput(k, ' +16 ')), 'ok 16');
  assert.equal(msg(checkInput(k, 16)), 'ok 16');
  assert.equal(msg(checkInput(k, '1')), 'ok 1', 'inclusive min');
  assert.equal(msg(checkInput(k, '64')), 'ok 64', 'inclusive max');
  assert.equal(msg(checkInput(k, '0')), 'K: must be ≥ 1');
  assert.equal(msg(checkInput(k, '65')), 'K: must be ≤ 64');
  assert.equal(msg(checkInput(k, '2.5')), 'K: must be a whole number');
  assert.equal(msg(checkInput(k, 2.5)), 'K: must be a whole number');
  assert.equal(msg(checkInput(k, '')), 'K: enter a number');
  assert.equal(msg(checkInput(k, '   ')), 'K: enter a number');
  for (const bad of ['abc', '0x10', 'Infinity', '1e999', '12abc', 'NaN']) assert.equal(msg(checkInput(k, bad)), `K: '${bad}' is not a number`);
  assert.equal(msg(checkInput(k, Number.NaN)), 'K: NaN is not a number');
  assert.equal(msg(checkInput(lr, 'abc')), "Learning rate: 'abc' is not a number");
  assert.equal(msg(checkInput(lr, '0')), 'Learning rate: must be > 0', 'exclusive min');
  assert.equal(msg(checkInput(lr, '1e-9')), 'ok 1e-9');
  assert.equal(msg(checkInput(lr, '0.1')), 'ok 0.1');
  assert.equal(msg(checkInput(lr, '0.2')), 'Learning rate: must be ≤ 0.1');
  assert.equal(msg(checkInput(sigma, '1')), 'σ: must be < 1', 'exclusive max; the description is the label');
  assert.equal(msg(checkInput(sigma, '0')), 'ok 0');
  assert.equal(msg(checkInput(int(0, { min: 0 }), '123456789')), 'ok 123456789', 'open above');
  assert.equal(msg(checkInput(k, '3', 'Components')), 'ok 3');
  assert.equal(msg(checkInput(k, '0', 'Components')), 'Components: must be ≥ 1', 'an explicit label');
  // enums, booleans, strings, lists
  const ds = oneOf(DATASETS_2D, 'checkerboard', 'toy dataset', { label: 'Data' });
  assert.equal(msg(checkInput(ds, 'moons')), 'ok "moons"');
  assert.match(msg(checkInput(ds, 'mnist')), /^Data: must be one of checkerboard, moons/);
  const flag = bool(false, 'data-free');
  assert.equal(msg(checkInput(flag, true)), 'ok true');
  assert.equal(msg(checkInput(flag, 'false')), 'ok false');
  assert.equal(msg(checkInput(flag, 'maybe')), "data-free: 'maybe' must be true or false");
  const name = str('run', { maxLength: 4, pattern: /^[a-z]*$/ }, 'name');
  assert.equal(msg(checkInput(name, 'abcde')), 'name: longer than 4 characters');
  assert.equal(msg(checkInput(name, 'A')), 'name: does not match /^[a-z]*$/');
  const sweep = numList([1, 2], { integer: true, min: 1, max: 8, minLength: 1, maxLength: 3 }, 'sweep');
  assert.equal(msg(checkInput(sweep, '1,4')), 'ok [1,4]');
  assert.equal(msg(checkInput(sweep, '1,x')), "sweep: 'x' is not a number");
  assert.equal(msg(checkInput(sweep, '1,9')), 'sweep: values must be ≥ 1 and ≤ 8');
  assert.equal(msg(checkInput(sweep, '1,2.5')), 'sweep: values must be integers');
  assert.equal(msg(checkInput(sweep, '')), 'sweep: needs at least 1 values');
  assert.equal(msg(checkInput(sweep, [1, 2, 3, 4])), 'sweep: takes at most 3 values');
  // the URL parser refuses exactly what the control refuses
  for (const raw of ['0', '65', '2.5', '', 'abc', '16']) {
    assert.equal(parseState({ k }, `k=${encodeURIComponent(raw)}`).messages.length === 0, checkInput(k, raw).ok, `'${raw}'`);
  }
  // labels: ui.label, else the description, else the key
  assert.equal(labelOf(k), 'K');
  assert.equal(labelOf(int(1, {}, 'seed')), 'seed');
  assert.equal(labelOf(int(1), 'n'), 'n');
  // ui metadata rides along without changing parsing or serialising
  assert.deepEqual(k.ui, { label: 'K' });
  assert.equal(serializeState({ k }, { k: 3 }), 'k=3');
});

test('backend parameter: validated, and the order after a forced backend', () => {
  assert.deepEqual(parseBackendParam(''), {});
  assert.deepEqual(parseBackendParam('?k=1'), {});
  assert.deepEqual(parseBackendParam('?backend=WebGL'), { forced: 'webgl', requested: 'WebGL' });
  const bad = parseBackendParam('?backend=cuda');
  assert.equal(bad.forced, undefined);
  assert.match(bad.message ?? '', /unknown backend 'cuda'.*allowed: webgpu, webgl, wasm, cpu; using the default order/);
  assert.deepEqual(candidateOrder(), ['webgpu', 'webgl', 'wasm', 'cpu']);
  assert.deepEqual(candidateOrder('webgl'), ['webgl', 'wasm', 'cpu']);
  assert.deepEqual(candidateOrder('cpu'), ['cpu']);
});

test("notebooks' schemas: every π-ID control has a label and help in the paper's words; the distill resolver", async () => {
  const { piflow2dSchema, explorerSchema, mnistSchema, distillConfigOf } = await import('../notebooks/schemas.js');
  const PIID = ['policy', 'k', 'n', 'dxMode', 'nfe', 'substeps', 'intermediate', 'decayIters', 'window', 'gmDropout', 'lr', 'batch', 'iters', 'seed', 'temperature', 'dataFree'];
  const schemas: [string, Record<string, { ui?: { label?: string; help?: string; testid?: string } }>][] = [['π-Flow 2D', piflow2dSchema], ['explorer', explorerSchema], ['MNIST', mnistSchema]];
  for (const [name, s] of schemas) {
    for (const key of Object.keys(s)) {
      const ui = s[key].ui;
      assert.ok(ui?.label, `${name}: ${key} has a label`);
      assert.ok(ui?.help && ui.help.length > 10, `${name}: ${key} has help`);
    }
    assert.ok(PIID.filter((k) => k in s).length >= 8, `${name}: its π-ID controls are in the schema`);
  }
  const help = (k: keyof typeof mnistSchema) => mnistSchema[k].ui?.help ?? '';
  assert.match(help('substeps'), /total Euler substeps of the policy over the whole time interval/);
  assert.match(help('intermediate'), /states per segment at which the teacher is queried along the policy's own rollout/);
  assert.match(help('decayIters'), /scheduled trajectory mixing decays the share of teacher-trajectory states from 1 to 0/);
  assert.match(help('window'), /average velocity over this many substeps is regressed instead of its instantaneous velocity \(DX needs 3\)/);
  assert.match(help('gmDropout'), /probability of dropping each Gaussian component during training \(GMFlow\)/);
  // the test ids the browser tests address
  assert.deepEqual(['lr', 'batch', 'k', 'n', 'iters', 'substeps', 'dataFree', 'qualityCount', 'manySteps'].map((k) => mnistSchema[k as keyof typeof mnistSchema].ui?.testid),
    ['student-lr', 'student-batch', 'k', 'n', 'iters', 'substeps', 'data-free', 'quality-count', 'many-steps']);
  assert.equal(explorerSchema.values.ui?.testid, 'sweep-values');
  // window −1 → the family's default (registry), GM dropout only where the family has it
  const base = { policy: 'dx' as const, k: 8, n: 10, nfe: 2, window: -1, lr: 1e-3, batch: 64, seed: 0, gmDropout: 0.1, dataFree: 'data-free' as const };
  const dx = distillConfigOf(base);
  assert.equal(dx.windowSubsteps, 3);
  assert.equal(dx.gmDropout, 0);
  assert.equal(dx.dataFree, true);
  assert.deepEqual(dx.adam, { lr: 1e-3 });
  const gm = distillConfigOf({ ...base, policy: 'gmflow', window: -1 });
  assert.equal(gm.windowSubsteps, 0);
  assert.equal(gm.gmDropout, 0.1);
  assert.equal(distillConfigOf({ ...base, window: 5 }).windowSubsteps, 5);
  assert.ok(!('totalSubsteps' in dx), 'settings a notebook has no control for keep the distiller defaults');
});

test('threads parameter: an integer from 1 to 8, else a message and tfjs\'s default', () => {
  assert.deepEqual(parseThreadsParam(''), {});
  assert.deepEqual(parseThreadsParam('?backend=wasm'), {});
  assert.deepEqual(parseThreadsParam('?threads='), {});
  assert.deepEqual(parseThreadsParam('?threads=4'), { threads: 4, requested: '4' });
  assert.deepEqual(validateThreads(' 8 '), { threads: 8, requested: ' 8 ' });
  assert.deepEqual(validateThreads('1'), { threads: 1, requested: '1' });
  assert.equal(MAX_WASM_THREADS, 8);
  for (const bad of ['0', '9', '2.5', '-1', 'many', '1e1', '0x4']) {
    const r = validateThreads(bad);
    assert.equal(r.threads, undefined, bad);
    assert.equal(r.requested, bad);
    assert.match(r.message ?? '', new RegExp(`^\\?threads=${bad.replace(/[.+]/g, '\\$&')}: must be an integer from 1 to 8 \\(wasm threads\\); using tfjs's default`), bad);
  }
});

test("lifting tfjs's half-the-cores cap: the core count reported while wasm starts, and the note", () => {
  // tfjs gives min(asked, 8, floor(cores / 2)) threads
  assert.equal(coresToReport(2, 2), 4);
  assert.equal(coresToReport(1, 2), null);
  assert.equal(coresToReport(4, 8), null);
  assert.equal(coresToReport(4, 7), 8);
  assert.equal(coresToReport(8, 16), null);
  for (const [asked, cores] of [[2, 2], [3, 4], [8, 1], [5, 12]]) {
    const reported = coresToReport(asked, cores) ?? cores;
    assert.equal(Math.min(asked, 8, Math.floor(reported / 2)), asked, `${asked} threads on ${cores} cores`);
  }
  assert.deepEqual([1, 2, 3, 4, 8, 16, 32].map(tfjsDefaultThreads), [1, 1, 1, 2, 4, 8, 8]);
  assert.equal(askedThreadsNote(2, 2, 2, null), "asked for 2; tfjs's default here: 1");
  assert.equal(askedThreadsNote(4, 2, 8, null), "asked for 4, got 2; tfjs's default here: 4");
  assert.equal(askedThreadsNote(2, 1, 2, 'no cross-origin isolation'), 'no cross-origin isolation (asked for 2)');
  assert.equal(describeBackend({ name: 'wasm', fellBackFrom: [], threads: 2, threadsNote: askedThreadsNote(2, 2, 2, null) }), "wasm (2 threads: asked for 2; tfjs's default here: 1)");
});

test('describeBackend: the fallback chain and the wasm thread count', () => {
  assert.equal(describeBackend({ name: 'webgl', fellBackFrom: ['webgpu'] }), 'webgl (fell back from webgpu)');
  assert.equal(describeBackend({ name: 'wasm', fellBackFrom: [], threads: 4 }), 'wasm (4 threads)');
  assert.equal(
    describeBackend({ name: 'wasm', fellBackFrom: ['webgpu', 'webgl'], threads: 1, threadsNote: 'no cross-origin isolation' }),
    'wasm (1 thread: no cross-origin isolation; fell back from webgpu, webgl)',
  );
  assert.equal(describeBackend({ name: 'cpu', fellBackFrom: [] }), 'cpu');
});
