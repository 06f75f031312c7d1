/**
 * The distillation methods of `piflow distill` and how a baseline student is marked (no imports, so
 * the CLI's output rules and commands and the browser lab's loader can all read it): π-ID (`piflow`, the default) and the two
 * baselines of runtime/baselines.ts (2D and MNIST). A baseline student is a velocity-format net — config.json's
 * `config.kind` is 'teacher' (the teacher's weights layout) — whose `meta.method` is 'shortcut' or
 * 'dmd' and `meta.nfe` its Euler steps; the CLI treats it as a student everywhere (the --out
 * ownership rule, sampling at its own NFE), and the CLI and the lab refuse it where a teacher is needed.
 */
export const METHODS = ['piflow', 'shortcut', 'dmd'] as const;
export type Method = (typeof METHODS)[number];
export type BaselineMethod = Exclude<Method, 'piflow'>;
export const BASELINE_METHODS: readonly BaselineMethod[] = ['shortcut', 'dmd'];
export const METHOD_TITLES: Record<Method, string> = { piflow: 'π-ID', shortcut: 'shortcut (KD regression)', dmd: 'DMD' };

export interface BaselineMark {
  method: BaselineMethod;
  nfe: number;
}

/** The baseline mark of a model's config.json meta, or null (a teacher or a π-ID student). */
export function baselineOf(meta: unknown): BaselineMark | null {
  if (meta === null || typeof meta !== 'object') return null;
  const { method, nfe } = meta as { method?: unknown; nfe?: unknown };
  if (typeof method !== 'string' || !(BASELINE_METHODS as readonly string[]).includes(method)) return null;
  const f = Number(nfe);
  return { method: method as BaselineMethod, nfe: Number.isInteger(f) && f >= 1 ? f : 1 };
}
