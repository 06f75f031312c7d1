/** Minimal typings for @observablehq/runtime 6 (the package ships none). */
declare module '@observablehq/runtime' {
  export interface Observer {
    pending?(): void;
    fulfilled?(value: unknown, name?: string): void;
    rejected?(error: unknown, name?: string): void;
  }
  export interface Variable {
    define(name: string | null, inputs: string[], definition: (...args: any[]) => unknown): Variable;
    define(name: string | null, definition: (...args: any[]) => unknown): Variable;
    delete(): Variable;
  }
  export interface Module {
    variable(observer?: Observer): Variable;
    value(name: string): Promise<unknown>;
    redefine(name: string, inputs: string[], definition: (...args: any[]) => unknown): Variable;
  }
  export class Runtime {
    constructor(builtins?: Record<string, unknown>, global?: (name: string) => unknown);
    module(): Module;
    dispose(): void;
  }
  export class RuntimeError extends Error {}
}
