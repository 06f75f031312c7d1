/** The largest seed `Rng` tells apart (it uses the seed's low 32 bits). */
export const SEED_MAX = 2 ** 32 - 1;

/** A small, strict option parser for the CLI: every option is declared, typed and range-checked. */

export class UsageError extends Error {}

export type OptType = 'int' | 'number' | 'string' | 'flag';
export interface OptSpec {
  type: OptType;
  /** default value (absent: the option is required unless it is a flag) */
  default?: number | string | boolean;
  min?: number;
  max?: number;
  /** exclusive lower bound */
  gt?: number;
  choices?: readonly string[];
  help: string;
  optional?: boolean;
}
export type OptSpecs = Record<string, OptSpec>;
export type ParsedOpts = Record<string, number | string | boolean | undefined>;

function describeRange(s: OptSpec): string {
  if (s.choices) return `one of ${s.choices.join(', ')}`;
  const parts: string[] = [];
  if (s.type === 'int') parts.push('an integer');
  else parts.push('a finite number');
  if (s.gt !== undefined) parts.push(`> ${s.gt}`);
  if (s.min !== undefined) parts.push(`>= ${s.min}`);
  if (s.max !== undefined) parts.push(`<= ${s.max}`);
  return parts.join(' ');
}

/**
 * Parses `--name value` / `--name=value` / `--flag`. A positional argument (a word not starting with
 * `--` and not an option's value) is refused unless `allow.positional` is set; then they are returned apart.
 */
export function parseArgs(argv: string[], specs: OptSpecs, allow: { positional?: boolean } = {}): { opts: ParsedOpts; positional: string[] } {
  // `--help` / `-h` anywhere: the options, nothing run (main prints them with the command's name)
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested(optionLines(specs));
  const opts: ParsedOpts = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      if (!allow.positional) throw new UsageError(`unexpected argument '${arg}': this command takes only --options (did you forget an option name or quotes?)`);
      positional.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option --${name}; known: ${Object.keys(specs).map((k) => '--' + k).join(' ')}`);
    if (spec.type === 'flag') {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      opts[name] = true;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value (${describeRange(spec)})`);
    }
    opts[name] = convert(name, value, spec);
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (opts[name] !== undefined) continue;
    if (spec.default !== undefined) opts[name] = spec.default;
    else if (spec.type === 'flag') opts[name] = false;
    else if (!spec.optional) throw new UsageError(`missing required option --${name} (${spec.help})`);
  }
  return { opts, positional };
}

function convert(name: string, raw: string, spec: OptSpec): number | string {
  if (spec.type === 'string') {
    if (spec.choices && !spec.choices.includes(raw)) {
      throw new UsageError(`--${name} ${raw}: must be ${describeRange(spec)}`);
    }
    return raw;
  }
  const v = raw.trim() === '' ? NaN : Number(raw);
  const bad =
    !Number.isFinite(v) ||
    (spec.type === 'int' && !Number.isInteger(v)) ||
    (spec.min !== undefined && v < spec.min) ||
    (spec.max !== undefined && v > spec.max) ||
    (spec.gt !== undefined && !(v > spec.gt));
  if (bad) throw new UsageError(`--${name} ${raw}: must be ${describeRange(spec)}`);
  return v;
}

export function usage(command: string, specs: OptSpecs): string {
  return [`usage: piflow ${command} [options]`, ...optionLines(specs)].join('\n');
}

/** One line per option: name, value type, help, choices, default or "(required)". */
export function optionLines(specs: OptSpecs): string[] {
  return Object.entries(specs).map(([name, s]) => {
    const def = s.default !== undefined ? ` (default ${s.default})` : s.type === 'flag' || s.optional ? '' : ' (required)';
    return `  --${name}${s.type === 'flag' ? '' : ' ' + s.type.toUpperCase()}  ${s.help}${s.choices ? ` [${s.choices.join('|')}]` : ''}${def}`;
  });
}

/** Thrown by parseArgs for `--help` / `-h`: `lines` are the command's options (exit 0, nothing done). */
export class HelpRequested extends Error {
  /** the model commands' layout, set by commands.ts: which options these are */
  layout?: 'points' | 'images';
  constructor(readonly lines: string[]) {
    super('help requested');
  }
}
