/**
 * Schema → control options, pure (no DOM; unit-tested in Node): what control a URL-state property
 * becomes, with its label, test id, help text, slider extent and step. src/viz/schema-controls.ts
 * builds the DOM from it; validation is url-state's `checkInput`, the same function as URL parsing.
 */
import { labelOf, type Prop } from '../runtime/url-state.js';

interface SpecBase {
  key: string;
  label: string;
  /** data-testid of the input; the message is `<testid>-error` */
  testid: string;
  help?: string;
}

export interface SliderSpec {
  min: number;
  max: number;
  /** undefined: any value (log sliders, and linear ones without a step) */
  step?: number;
  log: boolean;
}

export type ControlSpec =
  | (SpecBase & { kind: 'number'; value: number; integer: boolean; slider: SliderSpec | null })
  | (SpecBase & { kind: 'select'; value: string; options: (readonly [string, string] | readonly [string, string, string])[] })
  | (SpecBase & { kind: 'toggle'; value: boolean })
  /** strings and number lists: a text field */
  | (SpecBase & { kind: 'text'; value: string });

/** How a number is written in its field: integers as they are, others to 4 significant digits. */
export function formatNumber(v: number, integer: boolean): string {
  return integer ? String(v) : String(+v.toPrecision(4));
}

/** A slider position → the value it stands for: integers rounded, others to 3 significant digits. */
export function sliderValue(v: number, integer: boolean): number {
  return integer ? Math.round(v) : +v.toPrecision(3);
}

/**
 * The control a property becomes. Numbers get a slider when both ends are known (the range's, or
 * `ui.sliderMin/Max`) unless `ui.control` is 'field'; a log slider needs a positive lower end (a
 * schema mistake otherwise: thrown, so it shows at once).
 */
export function controlSpec(key: string, p: Prop, value: unknown): ControlSpec {
  const ui = p.ui ?? {};
  const base: SpecBase = { key, label: labelOf(p, key), testid: ui.testid ?? key, ...(ui.help ?? p.description ? { help: ui.help ?? p.description } : {}) };
  switch (p.kind) {
    case 'number':
    case 'int': {
      const integer = p.kind === 'int';
      const lo = ui.sliderMin ?? p.min;
      const hi = ui.sliderMax ?? p.max;
      let slider: SliderSpec | null = null;
      if (ui.control !== 'field' && lo !== undefined && hi !== undefined) {
        const log = ui.log ?? false;
        if (log && !(lo > 0)) throw new Error(`${key}: a log slider needs a lower end > 0 (set ui.sliderMin)`);
        if (!(hi > lo)) throw new Error(`${key}: the slider's ends must satisfy min < max`);
        const step = integer ? 1 : ui.step ?? (log ? undefined : (hi - lo) / 100);
        slider = { min: lo, max: hi, log, ...(step !== undefined ? { step } : {}) };
      }
      return { ...base, kind: 'number', value: value as number, integer, slider };
    }
    case 'enum':
      return {
        ...base,
        kind: 'select',
        value: value as string,
        options: p.values.map((v) => {
          const o = ui.options?.[v];
          return o === undefined ? ([v, v] as const) : typeof o === 'string' ? ([v, o] as const) : ([v, o[0], o[1]] as const);
        }),
      };
    case 'bool':
      return { ...base, kind: 'toggle', value: value as boolean };
    case 'numberList':
      return { ...base, kind: 'text', value: (value as number[]).join(',') };
    case 'string':
      return { ...base, kind: 'text', value: value as string };
  }
}
