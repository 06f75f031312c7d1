/**
 * Notebook controls' common parts: the labelled shell and its message, selects, buttons and message
 * lines (numbers, toggles and lists are built from their URL-state schema in schema-controls.ts). Each control's
 * root element carries `value` (the last valid value) and fires `input` when it changes, so a
 * reactive cell can follow it (see runtime/notebook.ts). Invalid entries (empty, non-numeric, out of
 * range) show a message at the control and keep the last valid value: nothing crashes, nothing is lost.
 * Plain DOM; no tfjs.
 */
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
