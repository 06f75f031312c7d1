/** Minimal typings for @observablehq/inputs 0.12 (the package ships none): the inputs used here. */
declare module '@observablehq/inputs' {
  /** an Inputs control: a <form> with `value`, firing bubbling `input` events */
  export type InputForm<T> = HTMLFormElement & { value: T };
  export function range(
    extent?: [number, number],
    options?: { value?: number; step?: number; transform?: (x: number) => number; invert?: (x: number) => number; label?: string | Node; format?: (x: number) => string; disabled?: boolean },
  ): InputForm<number>;
  export function text(options?: {
    label?: string | Node;
    value?: string;
    type?: string;
    placeholder?: string;
    validate?: (input: HTMLInputElement) => boolean;
    submit?: boolean | string;
    width?: number | string;
    disabled?: boolean;
  }): InputForm<string>;
  export function toggle(options?: { label?: string | Node; value?: boolean; disabled?: boolean }): InputForm<boolean>;
}
