/**
 * Controls built from their URL-state schema: a property's range, default, label, help and test id
 * are written once (src/runtime/url-state.ts, `ui` metadata), and its control validates with the
 * same function as the URL parsing (`checkInput`). Same contract as src/viz/controls.ts: the root
 * element has `value` (the last valid value) and fires `input` when it changes (runtime/notebook.ts
 * follows it); the input carries `data-testid=<testid>`; an invalid entry shows a message in
 * `<testid>-error` and keeps the last valid value.
 *
 * Built on @observablehq/inputs where it meets that contract, and wrapped where it does not
 * (measured on 0.12.0, src/range.js, text.js, chooser.js):
 * - The slider is `Inputs.range` (with `transform: Math.log` for log scales; it inverts with
 *   Math.exp, and an integer step rounds through its untransformed twin). Its own number box is an
 *   `<input type=number>`: the browser hands script '' for "abc", so no message could name what was
 *   typed (and playwright cannot type text into it), and Inputs clamps out-of-range entries silently.
 *   So that box is removed and the typed field is an `Inputs.text` (type=text) checked by
 *   `checkInput` when it is committed (Enter / change), not on every keystroke.
 * - Enums use controls.ts's `selectControl`: `Inputs.select` makes each option's value its index
 *   ("0", "1", …), not the state value, which breaks `select.value` and the tests that read it.
 * - Booleans are `Inputs.toggle`.
 * Inputs' own events are stopped at the wrapper, which fires one `input` per committed change.
 * Inputs' stylesheet is not loaded; static/style.css styles `.control` as before.
 */
import * as Inputs from '@observablehq/inputs';
import { checkInput, type Schema, type StateOf } from '../runtime/url-state.js';
import { controlSpec, formatNumber, sliderValue, type ControlSpec } from './control-spec.js';
import { selectControl, shell, showError, type ControlEl } from './controls.js';
import type { Notebook } from '../runtime/notebook.js';

function defineValue<T>(root: HTMLElement, get: () => T, set: (v: T) => void): ControlEl<T> {
  Object.defineProperty(root, 'value', { get, set, configurable: true });
  return root as ControlEl<T>;
}

/** The label's small (i): the help text as a tooltip (and for screen readers). */
function addHelp(label: HTMLLabelElement, help: string | undefined): void {
  if (!help) return;
  const i = document.createElement('span');
  i.className = 'help';
  i.textContent = 'i';
  i.title = help;
  i.setAttribute('aria-label', help);
  label.append(' ', i);
}

const stop = (e: Event) => e.stopPropagation();

/**
 * The control for one schema property, showing `value`. `refine` (optional) is a further check of a
 * value the schema accepts, for ranges that depend on another control (the explorer's swept values):
 * a message refuses it as the schema's check would.
 */
export function schemaControl<S extends Schema, K extends keyof S & string>(schema: S, key: K, value: StateOf<S>[K], refine?: (v: StateOf<S>[K]) => string | null): ControlEl<StateOf<S>[K]> {
  const p = schema[key];
  const spec = controlSpec(key, p, value);
  return buildControl(spec, value, (raw) => {
    const r = checkInput(p, raw, spec.label);
    const why = r.ok && refine ? refine(r.value as StateOf<S>[K]) : null;
    return why ? { ok: false, message: why } : r;
  }) as ControlEl<StateOf<S>[K]>;
}

type Checker = (raw: unknown) => { ok: true; value: unknown } | { ok: false; message: string };

function buildControl(spec: ControlSpec, initial: unknown, check: Checker): ControlEl<unknown> {
  if (spec.kind === 'select') {
    const el = selectControl({ label: spec.label, options: spec.options, value: spec.value, testid: spec.testid, ...(spec.help ? { title: spec.help } : {}) });
    addHelp(el.querySelector('label')!, spec.help);
    return el;
  }
  const { root, msg, label } = shell({ label: spec.label, testid: spec.testid, ...(spec.help ? { title: spec.help } : {}) }, `control-${spec.kind}`);
  addHelp(label, spec.help);
  const fire = () => root.dispatchEvent(new Event('input', { bubbles: true }));

  if (spec.kind === 'toggle') {
    const t = Inputs.toggle({ value: spec.value });
    const box = t.querySelector('input')!;
    box.dataset.testid = spec.testid;
    label.htmlFor = box.id = `ctl-${spec.testid}`;
    t.addEventListener('input', (e) => {
      e.stopPropagation();
      fire();
    });
    root.append(t, msg);
    return defineValue<boolean>(root, () => t.value, (v) => (t.value = v));
  }

  // a text field (numbers, strings, lists), and a slider for numbers that have one
  const number = spec.kind === 'number' ? spec : null;
  const show = (v: unknown): string => (number ? formatNumber(v as number, number.integer) : Array.isArray(v) ? v.join(',') : String(v));
  let value: unknown = initial;
  const field = Inputs.text({ value: show(value), validate: () => true });
  field.addEventListener('input', stop);
  const text = field.querySelector('input')!;
  text.dataset.testid = spec.testid;
  text.size = 7;
  if (number) text.inputMode = 'decimal';
  label.htmlFor = text.id = `ctl-${spec.testid}`;

  let slider: ReturnType<typeof Inputs.range> | null = null;
  if (number?.slider) {
    const s = number.slider;
    slider = Inputs.range([s.min, s.max], { value: number.value, ...(s.step !== undefined ? { step: s.step } : {}), ...(s.log ? { transform: Math.log } : {}) });
    slider.querySelector('input[type=number]')?.remove(); // the typed field above replaces it (see the header)
    const r = slider.querySelector<HTMLInputElement>('input[type=range]')!;
    r.dataset.testid = `${spec.testid}-slider`;
    r.setAttribute('aria-label', spec.label);
    slider.addEventListener('input', (e) => {
      e.stopPropagation();
      const v = sliderValue(slider!.value, number.integer);
      text.value = show(v);
      commit(v);
    });
  }
  root.append(field, ...(slider ? [slider] : []), msg);

  function commit(v: unknown) {
    showError(root, null);
    const same = Array.isArray(v) ? String(v) === String(value) : v === value;
    value = v;
    if (!same) fire();
  }
  text.addEventListener('change', () => {
    const r = check(text.value); // text: parsed and checked as URL text is
    if (!r.ok) {
      showError(root, r.message);
      return;
    }
    if (slider) slider.value = r.value as number;
    commit(r.value);
  });
  return defineValue<unknown>(root, () => (Array.isArray(value) ? [...value] : value), (v) => {
    value = v;
    text.value = show(v);
    if (slider) slider.value = v as number;
    showError(root, null);
  });
}

/**
 * Adds a schema-built control for every key in `layout` to the notebook, as an input of the same
 * name, mounted where the layout says; returns the controls by key.
 */
export function schemaInputs<S extends Schema>(
  nb: Notebook,
  schema: S,
  state: StateOf<S>,
  layout: Partial<Record<keyof S & string, HTMLElement>>,
): { [K in keyof S]?: ControlEl<StateOf<S>[K]> } {
  const out: Record<string, ControlEl<unknown>> = {};
  for (const [key, mount] of Object.entries(layout) as [keyof S & string, HTMLElement][]) {
    out[key] = nb.input(key, schemaControl(schema, key, state[key]), mount) as ControlEl<unknown>;
  }
  return out as { [K in keyof S]?: ControlEl<StateOf<S>[K]> };
}
