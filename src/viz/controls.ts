/**
 * Notebook controls: labelled sliders, number fields, selects, checkboxes and buttons. Each control's
 * root element carries `value` (the last valid value) and fires `input` when it changes, so a
 * reactive cell can follow it (see runtime/notebook.ts). Invalid entries (empty, non-numeric, out of
 * range) show a message at the control and keep the last valid value: nothing crashes, nothing is lost.
 * Plain DOM; no tfjs. Controls built from a URL-state schema are in schema-controls.ts.
 */
import { checkInput, type NumberProp } from '../runtime/url-state.js';

export type ControlEl<T> = HTMLElement & { value: T };

export interface ControlBase {
  label: string;
  /** data-testid of the control's input */
  testid?: string;
  /** tooltip / help text */
  title?: string;
}

export function shell(o: ControlBase, cls: string): { root: HTMLDivElement; msg: HTMLSpanElement; label: HTMLLabelElement } {
  const root = document.createElement('div');
  root.className = `control ${cls}`;
  const label = document.createElement('label');
  label.textContent = o.label;
  if (o.title) root.title = o.title;
  const msg = document.createElement('span');
  msg.className = 'control-error';
  msg.setAttribute('role', 'alert');
  msg.hidden = true;
  if (o.testid) msg.dataset.testid = `${o.testid}-error`;
  root.append(label);
  return { root, msg, label };
}

function defineValue<T>(root: HTMLElement, get: () => T, set: (v: T) => void): ControlEl<T> {
  Object.defineProperty(root, 'value', { get, set, configurable: true });
  return root as ControlEl<T>;
}

export function showError(el: HTMLElement, message: string | null): void {
  const msg = el.querySelector<HTMLElement>('.control-error');
  if (!msg) return;
  msg.textContent = message ?? '';
  msg.hidden = !message;
  el.classList.toggle('invalid', Boolean(message));
}

export interface NumberOptions extends ControlBase {
  value: number;
  min?: number;
  max?: number;
  step?: number;
  integer?: boolean;
  /** the value must be > min (e.g. a learning rate) */
  exclusiveMin?: boolean;
  /** slider on a log scale (min > 0) */
  log?: boolean;
  /** show a slider (default) or a number field only */
  slider?: boolean;
  format?: (v: number) => string;
}

/**
 * Validates a typed number; returns the value or a message naming the allowed range. The check is
 * url-state's `checkInput` (the one validator of URL text and controls) on the equivalent property.
 */
export function checkNumber(raw: string, o: NumberOptions): number | string {
  const p: NumberProp = { kind: o.integer ? 'int' : 'number', default: o.value, min: o.min, max: o.max, exclusiveMin: o.exclusiveMin };
  const r = checkInput(p, raw, o.label);
  return r.ok ? (r.value as number) : r.message;
}

export function numberControl(o: NumberOptions): ControlEl<number> {
  const { root, msg } = shell(o, 'control-number');
  let value = o.value;
  const fmt = o.format ?? ((v: number) => (o.integer ? String(v) : String(+v.toPrecision(4))));
  const text = document.createElement('input');
  text.type = 'text';
  text.inputMode = 'decimal';
  text.value = fmt(value);
  text.size = 7;
  if (o.testid) text.dataset.testid = o.testid;
  const useSlider = o.slider !== false && o.min !== undefined && o.max !== undefined;
  const slider = document.createElement('input');
  const toSlider = (v: number) => (o.log ? Math.log(v) : v);
  const fromSlider = (s: number) => {
    const v = o.log ? Math.exp(s) : s;
    return o.integer ? Math.round(v) : +v.toPrecision(3);
  };
  if (useSlider) {
    slider.type = 'range';
    slider.min = String(toSlider(o.log ? Math.max(o.min!, 1e-12) : o.min!));
    slider.max = String(toSlider(o.max!));
    slider.step = o.log ? 'any' : String(o.step ?? (o.integer ? 1 : (o.max! - o.min!) / 100));
    slider.value = String(toSlider(value));
    if (o.testid) slider.dataset.testid = `${o.testid}-slider`;
    root.append(slider);
  }
  root.append(text, msg);
  const el = defineValue<number>(root, () => value, (v) => {
    value = v;
    text.value = fmt(v);
    if (useSlider) slider.value = String(toSlider(v));
    showError(root, null);
  });
  const commit = (v: number) => {
    value = v;
    showError(root, null);
    root.dispatchEvent(new Event('input', { bubbles: true }));
  };
  text.addEventListener('change', () => {
    const r = checkNumber(text.value, o);
    if (typeof r === 'string') {
      showError(root, r);
      return;
    }
    if (useSlider) slider.value = String(toSlider(r));
    commit(r);
  });
  if (useSlider) {
    slider.addEventListener('input', () => {
      const v = fromSlider(Number(slider.value));
      text.value = fmt(v);
      commit(v);
    });
  }
  return el;
}

export interface SelectOptions<T extends string> extends ControlBase {
  /** a value, [value, label], or [value, label, tooltip] */
  options: readonly (T | readonly [T, string] | readonly [T, string, string])[];
  value: T;
}

export function selectControl<T extends string>(o: SelectOptions<T>): ControlEl<T> {
  const { root, msg } = shell(o, 'control-select');
  const sel = document.createElement('select');
  if (o.testid) sel.dataset.testid = o.testid;
  for (const opt of o.options) {
    const [v, label, title] = typeof opt === 'string' ? [opt, opt, undefined] : opt;
    const e = document.createElement('option');
    e.value = v;
    e.textContent = label;
    if (title) e.title = title;
    sel.append(e);
  }
  sel.value = o.value;
  root.append(sel, msg);
  sel.addEventListener('change', () => root.dispatchEvent(new Event('input', { bubbles: true })));
  return defineValue<T>(root, () => sel.value as T, (v) => (sel.value = v));
}

export function checkboxControl(o: ControlBase & { value: boolean }): ControlEl<boolean> {
  const { root, msg, label } = shell(o, 'control-checkbox');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = o.value;
  if (o.testid) box.dataset.testid = o.testid;
  label.prepend(box);
  root.append(msg);
  box.addEventListener('change', () => root.dispatchEvent(new Event('input', { bubbles: true })));
  return defineValue<boolean>(root, () => box.checked, (v) => (box.checked = v));
}

export function button(label: string, testid: string, onClick: () => void, title?: string): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.testid = testid;
  if (title) b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

/** A status/message line for errors and notes (role=status). */
export function messageLine(testid: string): HTMLParagraphElement & { show(text: string, kind?: 'error' | 'note'): void; clear(): void } {
  const p = document.createElement('p') as HTMLParagraphElement & { show(text: string, kind?: 'error' | 'note'): void; clear(): void };
  p.dataset.testid = testid;
  p.setAttribute('role', 'status');
  p.className = 'message';
  p.hidden = true;
  p.show = (text, kind = 'note') => {
    p.textContent = text;
    p.dataset.kind = kind;
    p.hidden = false;
  };
  p.clear = () => {
    p.textContent = '';
    p.hidden = true;
  };
  return p;
}
