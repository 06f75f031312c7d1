/**
 * Typed URL state (after TensorFlow Playground's state.ts): a notebook declares its controls once as
 * a schema of typed properties with defaults and ranges; the state is read from the address
 * (`location.hash`, or the query string) with every bad value replaced by its default and reported,
 * and written back so that a copied link reproduces configuration and seed.
 *
 *     const schema = {
 *       dataset: oneOf(DATASETS_2D, 'checkerboard', 'toy dataset'),
 *       k: int(8, { min: 1, max: 64 }, 'GMFlow components'),
 *       lr: num(1e-3, { min: 0, max: 1, exclusiveMin: true }, 'learning rate'),
 *       seed: int(0, { min: 0 }),
 *       dataFree: bool(false),
 *     };
 *     const { state, messages } = readLocationState(schema, location);   // state.k: number, …
 *     history.replaceState(null, '', '#' + serializeState(schema, state));
 *
 * Pure functions over strings (URLSearchParams is in Node and in browsers); no DOM global is touched
 * at import time, so it is unit-tested in Node.
 */

interface Base<T> {
  default: T;
  /** one line for messages and tooltips */
  description?: string;
  /** how the property is shown as a control (src/viz/schema-controls.ts); ignored by URL parsing */
  ui?: UiMeta;
}

/**
 * Control metadata: the schema is the single source of a control's range, default and validation;
 * this adds only what the page shows. Everything is optional (label defaults to the description).
 */
export interface UiMeta {
  /** the control's label and the subject of its messages ("Learning rate: must be > 0") */
  label?: string;
  /** data-testid of the control's input; its message is `<testid>-error` */
  testid?: string;
  /** help text: the control's tooltip and a small (i) next to the label */
  help?: string;
  /** a number: a slider with a field (default when both bounds are known), or a field only */
  control?: 'slider' | 'field';
  /** slider on a log scale */
  log?: boolean;
  /** slider step (linear sliders; integers always step by 1) */
  step?: number;
  /** the slider's own extent where the valid range is open or too wide for it (e.g. lr > 0 on a log slider from 1e-5) */
  sliderMin?: number;
  sliderMax?: number;
  /** an enum's option labels and tooltips: value → label, or [label, tooltip] */
  options?: Readonly<Record<string, string | readonly [string, string]>>;
}

export interface NumberProp extends Base<number> {
  kind: 'number' | 'int';
  min?: number;
  max?: number;
  /** min itself is not allowed (e.g. a learning rate > 0) */
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
}
export interface StringProp extends Base<string> {
  kind: 'string';
  maxLength?: number;
  pattern?: RegExp;
}
export interface EnumProp<T extends string = string> extends Base<T> {
  kind: 'enum';
  values: readonly T[];
}
export interface BoolProp extends Base<boolean> {
  kind: 'bool';
}
/** a comma-separated list of numbers, e.g. a sweep `1,2,4,8` */
export interface NumberListProp extends Base<number[]> {
  kind: 'numberList';
  integer?: boolean;
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
}

export type Prop = NumberProp | StringProp | EnumProp | BoolProp | NumberListProp;
export type Schema = Record<string, Prop>;

type ValueOf<P extends Prop> = P extends EnumProp<infer T> ? T : P['default'];
/** The state a schema describes: `{ k: number, dataset: 'moons' | …, … }`. */
export type StateOf<S extends Schema> = { [K in keyof S]: ValueOf<S[K]> };

type Range = { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean };

const meta = (description?: string, ui?: UiMeta) => ({ ...(description ? { description } : {}), ...(ui ? { ui } : {}) });

export function num(def: number, range: Range = {}, description?: string, ui?: UiMeta): NumberProp {
  return { kind: 'number', default: def, ...range, ...meta(description, ui) };
}
export function int(def: number, range: Range = {}, description?: string, ui?: UiMeta): NumberProp {
  return { kind: 'int', default: def, ...range, ...meta(description, ui) };
}
export function str(def: string, opts: { maxLength?: number; pattern?: RegExp } = {}, description?: string): StringProp {
  return { kind: 'string', default: def, ...opts, ...(description ? { description } : {}) };
}
export function oneOf<const T extends string>(values: readonly T[], def: T, description?: string, ui?: UiMeta): EnumProp<T> {
  return { kind: 'enum', values, default: def, ...meta(description, ui) };
}
export function bool(def: boolean, description?: string, ui?: UiMeta): BoolProp {
  return { kind: 'bool', default: def, ...meta(description, ui) };
}
export function numList(
  def: number[],
  opts: { integer?: boolean; min?: number; max?: number; minLength?: number; maxLength?: number } = {},
  description?: string,
  ui?: UiMeta,
): NumberListProp {
  return { kind: 'numberList', default: def, ...opts, ...meta(description, ui) };
}

/** Every property's default (lists copied). */
export function defaultState<S extends Schema>(schema: S): StateOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(schema)) out[key] = Array.isArray(p.default) ? [...p.default] : p.default;
  return out as StateOf<S>;
}

function rangeText(p: Range): string {
  const lo = p.min === undefined ? '' : `${p.exclusiveMin ? '>' : '>='} ${p.min}`;
  const hi = p.max === undefined ? '' : `${p.exclusiveMax ? '<' : '<='} ${p.max}`;
  return [lo, hi].filter(Boolean).join(' and ');
}

function inRange(v: number, p: Range): boolean {
  if (p.min !== undefined && (p.exclusiveMin ? v <= p.min : v < p.min)) return false;
  if (p.max !== undefined && (p.exclusiveMax ? v >= p.max : v > p.max)) return false;
  return true;
}

/** A number as written in a URL: only finite decimal or exponent notation ('', 'NaN', '0x1f' refused). */
function parseNumber(raw: string): number | undefined {
  const s = raw.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Why a value was refused, for the message at a control (the URL message uses `why`):
 * `syntax` (text that is not a value of the kind), `empty`, `integer`, `low` / `high` (out of range,
 * naming the violated bound), `other` (enum, string, list, type).
 */
export type Problem = 'syntax' | 'empty' | 'integer' | 'low' | 'high' | 'other';

export type Check = { ok: true; value: unknown } | { ok: false; why: string; problem: Problem };

const refuse = (why: string, problem: Problem = 'other'): Check => ({ ok: false, why, problem });

/** Checks a value given as text (from a URL). */
export function parseValue(p: Prop, raw: string): Check {
  switch (p.kind) {
    case 'number':
    case 'int': {
      const v = parseNumber(raw);
      if (v === undefined) return refuse('not a number', raw.trim() === '' ? 'empty' : 'syntax');
      return checkValue(p, v);
    }
    case 'bool': {
      const s = raw.trim().toLowerCase();
      if (s === 'true' || s === '1' || s === '') return { ok: true, value: true };
      if (s === 'false' || s === '0') return { ok: true, value: false };
      return refuse('must be true or false', 'syntax');
    }
    case 'numberList': {
      const parts = raw.trim() === '' ? [] : raw.split(',');
      const values: number[] = [];
      for (const part of parts) {
        const v = parseNumber(part);
        if (v === undefined) return refuse(`'${part}' is not a number`, 'syntax');
        values.push(v);
      }
      return checkValue(p, values);
    }
    default:
      return checkValue(p, raw);
  }
}

/** Checks a typed value (from a control, or parsed from text). */
export function checkValue(p: Prop, v: unknown): Check {
  switch (p.kind) {
    case 'number':
    case 'int':
      if (typeof v !== 'number' || !Number.isFinite(v)) return refuse('not a finite number', 'syntax');
      if (p.kind === 'int' && !Number.isInteger(v)) return refuse('not an integer', 'integer');
      if (!inRange(v, p)) return refuse(`must be ${rangeText(p)}`, inRange(v, { ...p, max: undefined }) ? 'high' : 'low');
      return { ok: true, value: v };
    case 'bool':
      return typeof v === 'boolean' ? { ok: true, value: v } : refuse('must be true or false');
    case 'enum':
      return typeof v === 'string' && p.values.includes(v) ? { ok: true, value: v } : refuse(`must be one of ${p.values.join(', ')}`);
    case 'string':
      if (typeof v !== 'string') return refuse('not a string');
      if (p.maxLength !== undefined && v.length > p.maxLength) return refuse(`longer than ${p.maxLength} characters`);
      if (p.pattern && !p.pattern.test(v)) return refuse(`does not match ${p.pattern}`);
      return { ok: true, value: v };
    case 'numberList': {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) return refuse('not a list of numbers');
      if (p.minLength !== undefined && v.length < p.minLength) return refuse(`needs at least ${p.minLength} values`);
      if (p.maxLength !== undefined && v.length > p.maxLength) return refuse(`takes at most ${p.maxLength} values`);
      if (p.integer && !v.every(Number.isInteger)) return refuse('values must be integers');
      if (!v.every((x) => inRange(x, p))) return refuse(`values must be ${rangeText(p)}`);
      return { ok: true, value: [...v] };
    }
  }
}

/** The label a control and its messages use: `ui.label`, else the description, else the key. */
export function labelOf(p: Prop, key = ''): string {
  return p.ui?.label ?? p.description ?? key;
}

/**
 * The one validator for URL text and controls: checks `raw` (text as typed or read from a URL, or a
 * typed value from a control) against the property. On refusal, `message` is the line a control shows:
 * "Learning rate: 'abc' is not a number", "K: must be ≥ 1", "Steps: must be a whole number".
 */
export function checkInput(p: Prop, raw: unknown, label = labelOf(p)): { ok: true; value: unknown } | { ok: false; message: string; problem: Problem } {
  const r = typeof raw === 'string' ? parseValue(p, raw) : checkValue(p, raw);
  if (r.ok) return r;
  return { ok: false, message: `${label}: ${controlReason(p, raw, r)}`, problem: r.problem };
}

function controlReason(p: Prop, raw: unknown, r: Extract<Check, { ok: false }>): string {
  const n = p as NumberProp;
  switch (r.problem) {
    case 'empty':
      return p.kind === 'numberList' ? r.why : 'enter a number';
    case 'syntax':
      if (p.kind === 'numberList') return r.why;
      return `${typeof raw === 'string' ? `'${raw}'` : show(raw)} ${p.kind === 'bool' ? 'must be true or false' : 'is not a number'}`;
    case 'integer':
      return 'must be a whole number';
    case 'low':
      return `must be ${n.exclusiveMin ? '>' : '≥'} ${n.min}`;
    case 'high':
      return `must be ${n.exclusiveMax ? '<' : '≤'} ${n.max}`;
    default:
      return r.why.replace(/>=/g, '≥').replace(/<=/g, '≤');
  }
}

function show(v: unknown): string {
  return Array.isArray(v) ? v.join(',') : typeof v === 'string' ? `'${v}'` : String(v);
}

export interface ParseResult<S extends Schema> {
  state: StateOf<S>;
  /** one line per refused or unknown parameter; empty when all is well */
  messages: string[];
  /** the keys that were given and accepted */
  given: (keyof S)[];
}

export interface ParseOptions {
  /** report parameters the schema does not know (default true); keys in `ignore` are never reported */
  reportUnknown?: boolean;
  ignore?: readonly string[];
}

/**
 * Parses `a=1&b=x` (a leading '#' or '?' is dropped) against the schema, starting from `base`
 * (default: the defaults). A refused value keeps the base value and adds a message.
 */
export function parseState<S extends Schema>(schema: S, text: string, opts: ParseOptions = {}, base?: StateOf<S>): ParseResult<S> {
  const state = { ...(base ?? defaultState(schema)) } as Record<string, unknown>;
  const messages: string[] = [];
  const given: (keyof S)[] = [];
  const params = new URLSearchParams(text.replace(/^[#?]/, ''));
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (seen.has(key)) continue;
    seen.add(key);
    const all = params.getAll(key);
    const raw = all[all.length - 1]; // the last of repeated keys wins
    const p = Object.prototype.hasOwnProperty.call(schema, key) ? schema[key] : undefined;
    if (!p) {
      if ((opts.reportUnknown ?? true) && !opts.ignore?.includes(key)) messages.push(`unknown parameter '${key}' ignored`);
      continue;
    }
    const r = parseValue(p, raw);
    if (r.ok) {
      state[key] = r.value;
      given.push(key);
    } else {
      const what = p.description ? ` (${p.description})` : '';
      messages.push(`${key}${what}: '${raw}' ${r.why}; using ${show(state[key])}`);
    }
  }
  return { state: state as StateOf<S>, messages, given };
}

/**
 * Checks a whole state object (e.g. assembled from controls): every invalid or missing value is
 * replaced by its default and reported.
 */
export function validateState<S extends Schema>(schema: S, values: Partial<Record<keyof S, unknown>>): { state: StateOf<S>; messages: string[] } {
  const state = defaultState(schema) as Record<string, unknown>;
  const messages: string[] = [];
  for (const [key, p] of Object.entries(schema)) {
    if (!(key in values)) continue;
    const v = (values as Record<string, unknown>)[key];
    const r = checkValue(p, v);
    if (r.ok) state[key] = r.value;
    else messages.push(`${key}: ${show(v)} ${r.why}; using ${show(p.default)}`);
  }
  return { state: state as StateOf<S>, messages };
}

function encode(v: unknown): string {
  if (Array.isArray(v)) return v.map(String).join(',');
  return String(v);
}

/**
 * Writes the state as `a=1&b=x` in schema order (URL-encoded). With `omitDefaults`, values equal to
 * their default are left out (shorter links that follow future default changes); by default every
 * value is written, so a link keeps meaning the same run.
 */
export function serializeState<S extends Schema>(schema: S, state: StateOf<S>, opts: { omitDefaults?: boolean } = {}): string {
  const params = new URLSearchParams();
  for (const [key, p] of Object.entries(schema)) {
    const v = (state as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (opts.omitDefaults && encode(v) === encode(p.default)) continue;
    params.set(key, encode(v));
  }
  return params.toString();
}

/**
 * Reads the state from a location: the query string first (unknown keys there are not reported:
 * `?backend=` and the like live there), then the hash, which wins.
 */
export function readLocationState<S extends Schema>(schema: S, loc: { search: string; hash: string }): ParseResult<S> {
  const fromSearch = parseState(schema, loc.search, { reportUnknown: false });
  const fromHash = parseState(schema, loc.hash, {}, fromSearch.state);
  return {
    state: fromHash.state,
    messages: [...fromSearch.messages, ...fromHash.messages],
    given: [...new Set([...fromSearch.given, ...fromHash.given])],
  };
}

/** The hash (with '#') for a state; a page sets it with `history.replaceState(null, '', hashFor(…))`. */
export function hashFor<S extends Schema>(schema: S, state: StateOf<S>, opts: { omitDefaults?: boolean } = {}): string {
  return '#' + serializeState(schema, state, opts);
}
