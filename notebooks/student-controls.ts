/**
 * The π-Flow student's controls, shared by the 2D, explorer and MNIST notebooks: built from the
 * student's URL-state schema (notebooks/schemas.ts: ranges, labels and help written once there), the
 * controls that apply to the chosen policy family, and the π-ID configuration they give.
 */
import type { Notebook } from '../src/runtime/notebook.js';
import type { StateOf } from '../src/runtime/url-state.js';
import type { DistillConfig } from '../src/runtime/student.js';
import { schemaInputs } from '../src/viz/schema-controls.js';
import { POLICY_FAMILIES, type PolicyFamily } from '../src/engine/families.js';
import { distillConfigOf, type StudentSettings, type studentSchema } from './schemas.js';

type StudentSchema = ReturnType<typeof studentSchema>;

/** The policy controls into `policyMount`, the π-ID controls into `piidMount` (stable data-testids). */
export function studentControls<S extends StudentSchema>(nb: Notebook, schema: S, state: StateOf<S>, policyMount: HTMLElement, piidMount: HTMLElement): void {
  const pc = policyMount;
  const ic = piidMount;
  schemaInputs(nb, schema as StudentSchema, state as StateOf<StudentSchema>, {
    policy: pc, k: pc, n: pc, dxMode: pc, nfe: pc,
    substeps: ic, intermediate: ic, decayIters: ic, window: ic, gmDropout: ic, lr: ic, batch: ic, iters: ic, seed: ic,
  });
  showApplicableControls(nb);
}

/**
 * Which controls apply to a policy family (the registry, src/engine/families.ts, says): K for a family
 * sized by K (GMFlow), N and the DX mode for one sized by N with modes (DX), GM dropout and the sampling
 * temperature where the family has them. Names absent from a notebook are skipped.
 */
export function applicableControls(family: PolicyFamily): Record<'k' | 'n' | 'dxMode' | 'gmDropout' | 'temperature', boolean> {
  const f = POLICY_FAMILIES[family];
  return { k: f.size?.key === 'k', n: f.size?.key === 'n', dxMode: f.modes !== null, gmDropout: f.gmDropout, temperature: f.temperature };
}

/** A cell that hides the controls that do not apply to the chosen policy family (and shows the rest). */
export function showApplicableControls(nb: Notebook): void {
  nb.cell('applicableControls', ['policy'], (policy: PolicyFamily) => {
    for (const [name, on] of Object.entries(applicableControls(policy))) {
      const el = nb.controls.get(name);
      if (!el) continue;
      el.hidden = !on;
      el.style.display = on ? '' : 'none';
      el.dataset.applies = String(on);
    }
  });
}

const SETTINGS = ['policy', 'k', 'n', 'dxMode', 'nfe', 'substeps', 'intermediate', 'decayIters', 'window', 'gmDropout', 'lr', 'batch', 'seed', 'dataFree'] as const satisfies readonly (keyof StudentSettings)[];

/** The π-ID configuration from the notebook's controls (those it has), through `distillConfigOf`. */
export function studentConfig(nb: Notebook): Partial<DistillConfig> {
  const s: Record<string, unknown> = {};
  for (const key of SETTINGS) {
    const el = nb.controls.get(key);
    if (el) s[key] = el.value;
  }
  return distillConfigOf(s as unknown as StudentSettings); // control values are read by key from a heterogeneous map: typed by the schema, not by TypeScript
}
