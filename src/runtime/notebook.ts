/**
 * A notebook = reactive cells on @observablehq/runtime. Inputs (controls) are variables that follow a
 * control's value; cells are functions of named inputs and other cells, re-run by the runtime when
 * any of them changes, and render into a mount element (a DOM node returned by the cell replaces the
 * mount's content; an error is shown there, with the cell's name). Every input's value also goes to
 * the URL (typed state, url-state.ts), so a copied link reproduces the configuration and seed.
 */
import { Runtime, type Module } from '@observablehq/runtime';
import type { ControlEl } from '../viz/controls.js';

/** A generator that yields the control's value now and again after every `input` event. */
export function* follow<T>(el: ControlEl<T>): Generator<T | Promise<T>, void, unknown> {
  let resolve: ((v: T) => void) | null = null;
  let changed = false;
  const onInput = () => {
    if (resolve) {
      resolve(el.value);
      resolve = null;
    } else changed = true;
  };
  el.addEventListener('input', onInput);
  try {
    yield el.value;
    for (;;) {
      if (changed) {
        changed = false;
        yield el.value;
      } else yield new Promise<T>((r) => (resolve = r));
    }
  } finally {
    el.removeEventListener('input', onInput);
  }
}

export class Notebook {
  readonly runtime = new Runtime();
  readonly main: Module = this.runtime.module();
  readonly controls = new Map<string, ControlEl<unknown>>();
  /** called with (name, value) whenever an input changes (e.g. to write the URL) */
  onInputChange: ((name: string, value: unknown) => void) | null = null;

  /** Adds `el` to `mount` and defines the input `name` that follows it; returns `el` as given (a counter keeps its `bump`). */
  input<E extends ControlEl<unknown>>(name: string, el: E, mount?: HTMLElement): E {
    mount?.append(el);
    this.controls.set(name, el as ControlEl<unknown>);
    el.addEventListener('input', () => this.onInputChange?.(name, el.value));
    this.main.variable({}).define(name, [], () => follow(el));
    return el;
  }

  /** A cell `name` computed from `inputs`; its value (if a Node) is shown in `mount`. */
  cell(name: string, inputs: string[], fn: (...args: any[]) => unknown, mount?: HTMLElement): void {
    this.main.variable(mount ? mountObserver(name, mount) : { rejected: (e) => console.error(`cell ${name}:`, e) }).define(name, inputs, fn);
  }

  value<T>(name: string): Promise<T> {
    return this.main.value(name) as Promise<T>;
  }
}

function mountObserver(name: string, mount: HTMLElement) {
  return {
    pending() {
      mount.classList.add('pending');
    },
    fulfilled(value: unknown) {
      mount.classList.remove('pending', 'error');
      if (value instanceof Node && value.parentNode !== mount) mount.replaceChildren(value);
    },
    rejected(error: unknown) {
      mount.classList.remove('pending');
      mount.classList.add('error');
      const p = document.createElement('p');
      p.className = 'cell-error';
      p.dataset.testid = 'cell-error';
      p.textContent = `${name}: ${(error as Error)?.message ?? String(error)}`;
      mount.replaceChildren(p);
    },
  };
}
