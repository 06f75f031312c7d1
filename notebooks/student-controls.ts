/**
 * The π-Flow student's controls, shared by the 2D and the MNIST notebooks: the URL-state schema of the
 * policy and π-ID settings (defaults and ranges per lesson), the controls themselves, and the π-ID
 * configuration they give.
 */
import { int, num, oneOf } from '../src/runtime/url-state.js';
import { numberControl, selectControl } from '../src/viz/controls.js';
import type { Notebook } from '../src/runtime/notebook.js';
import type { DistillConfig } from '../src/runtime/student.js';
import { POLICY_FAMILIES, POLICY_FAMILY_NAMES, policyFamily, type PolicyFamily } from '../src/engine/families.js';

export interface StudentDefaults {
  k: number;
  kMax: number;
  gmDropout: number;
  lr: number;
  batch: number;
  batchMin: number;
  batchMax: number;
  iters: number;
}

/** URL-state schema of the student's settings. */
export function studentSchema(d: StudentDefaults) {
  return {
    policy: oneOf(POLICY_FAMILY_NAMES, 'gmflow', 'policy'),
    k: int(d.k, { min: 1, max: d.kMax }, 'GMFlow components K'),
    n: int(10, { min: 1, max: 32 }, 'DX grid points N'),
    dxMode: oneOf(['grid', 'polynomial'] as const, 'grid', 'DX mode'),
    nfe: int(2, { min: 1, max: 8 }, 'NFE'),
    substeps: int(128, { min: 8, max: 512 }, 'total substeps'),
    intermediate: int(2, { min: 1, max: 8 }, 'intermediate states'),
    decayIters: int(0, { min: 0, max: 100000 }, 'teacher-ratio decay iterations'),
    window: int(-1, { min: -1, max: 16 }, `window substeps (-1: ${POLICY_FAMILY_NAMES.map((f) => `${POLICY_FAMILIES[f].defaults.windowSubsteps} for ${POLICY_FAMILIES[f].title}`).join(', ')})`),
    gmDropout: num(d.gmDropout, { min: 0, max: 0.9 }, 'GM dropout'),
    lr: num(d.lr, { min: 0, max: 0.1, exclusiveMin: true }, 'learning rate'),
    batch: int(d.batch, { min: d.batchMin, max: d.batchMax }, 'batch'),
    iters: int(d.iters, { min: 1, max: 100000 }, 'iterations'),
    seed: int(0, { min: 0 }, 'seed'),
  };
}

type StudentState = { [K in keyof ReturnType<typeof studentSchema>]: ReturnType<typeof studentSchema>[K] extends { values: readonly (infer V)[] } ? V : number };

/** The policy controls into `policyMount`, the π-ID controls into `piidMount` (stable data-testids). */
export function studentControls(nb: Notebook, state: StudentState, d: StudentDefaults, policyMount: HTMLElement, piidMount: HTMLElement): void {
  const pc = policyMount;
  nb.input('policy', selectControl({ label: 'Policy', options: POLICY_FAMILY_NAMES.map((f) => [f, POLICY_FAMILIES[f].label] as const), value: state.policy, testid: 'policy' }), pc);
  nb.input('k', numberControl({ label: 'K', value: state.k, min: 1, max: d.kMax, integer: true, testid: 'k' }), pc);
  nb.input('n', numberControl({ label: 'N', value: state.n, min: 1, max: 32, integer: true, testid: 'n' }), pc);
  nb.input('dxMode', selectControl({ label: 'DX mode', options: ['grid', 'polynomial'] as const, value: state.dxMode, testid: 'dx-mode' }), pc);
  nb.input('nfe', numberControl({ label: 'NFE', value: state.nfe, min: 1, max: 8, integer: true, testid: 'nfe' }), pc);
  const ic = piidMount;
  nb.input('substeps', numberControl({ label: 'Total substeps', value: state.substeps, min: 8, max: 512, integer: true, log: true, testid: 'substeps' }), ic);
  nb.input('intermediate', numberControl({ label: 'Intermediate states', value: state.intermediate, min: 1, max: 8, integer: true, testid: 'intermediate' }), ic);
  nb.input('decayIters', numberControl({ label: 'Teacher-ratio decay iters', value: state.decayIters, min: 0, max: 100000, integer: true, slider: false, testid: 'decay-iters' }), ic);
  nb.input('window', numberControl({ label: 'Window substeps (−1: auto)', value: state.window, min: -1, max: 16, integer: true, testid: 'window' }), ic);
  nb.input('gmDropout', numberControl({ label: 'GM dropout', value: state.gmDropout, min: 0, max: 0.9, step: 0.01, testid: 'gm-dropout' }), ic);
  nb.input('lr', numberControl({ label: 'Learning rate', value: state.lr, min: 1e-6, max: 0.1, log: true, exclusiveMin: true, testid: 'student-lr' }), ic);
  nb.input('batch', numberControl({ label: 'Batch', value: state.batch, min: d.batchMin, max: d.batchMax, integer: true, log: true, testid: 'student-batch' }), ic);
  nb.input('iters', numberControl({ label: 'Iterations', value: state.iters, min: 1, max: 100000, integer: true, slider: false, testid: 'iters' }), ic);
  nb.input('seed', numberControl({ label: 'Seed', value: state.seed, min: 0, integer: true, slider: false, testid: 'seed' }), ic);
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

/** The π-ID configuration from the controls (the window defaults to the family's, 3 for DX, unless set). */
export function studentConfig(nb: Notebook): Partial<DistillConfig> {
  const value = <T>(name: string) => nb.controls.get(name)!.value as T;
  const policy = value<PolicyFamily>('policy');
  const family = policyFamily(policy);
  const w = value<number>('window');
  return {
    policy,
    k: value('k'),
    n: value('n'),
    dxMode: value('dxMode'),
    nfe: value('nfe'),
    totalSubsteps: value('substeps'),
    numIntermediateStates: value('intermediate'),
    numDecayIters: value('decayIters'),
    windowSubsteps: w >= 0 ? w : family.defaults.windowSubsteps,
    gmDropout: family.gmDropout ? value('gmDropout') : 0,
    batch: value('batch'),
    seed: value('seed'),
    adam: { lr: value('lr') },
  };
}
