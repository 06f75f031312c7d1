/**
 * The comparison lab (the notebook "Quality, diversity, fidelity: π-Flow vs the baselines"): one 2D
 * teacher and several few-step students trained side by side on it — π-Flow GMFlow and the
 * constant-velocity policy by π-ID (student.ts / toy.ts), shortcut (KD) regression and the DMD-style
 * one-step generator (baselines.ts) — with the same seed, the same batch and the same iteration
 * budget, round-robin: one round steps every method once, so all progress together.
 *
 * `evaluate` draws every sampler's samples from the same seeded noise (teacher Euler at many steps and
 * at the students' NFE, each student at its NFE) and scores them: sliced W1 to fresh data, precision,
 * mode coverage and entropy (metrics/modes.ts) and fidelity, the mean distance to the teacher's
 * many-step sample from the same noise (metrics/fidelity.ts). DOM-free; runs in the comparison worker
 * (compare-worker.ts) and directly in Node tests. A non-finite step stops the loop with an error naming
 * the method; that method's model is left as it was (the guarded optimizer did not apply the step), the
 * methods before it in that round keep the step they took, and the unfinished round does not count.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { check } from '../engine/tensors.js';
import { NonFiniteLossError } from '../engine/optim.js';
import { DATASETS_2D } from '../data/toy2d.js';
import type { ToyNet } from '../models/mlp.js';
import { toyNetFromArtifacts, toyNetToArtifacts, type LoadedToyNet, type ToyNetArtifacts } from '../models/artifacts.js';
import { baselineOf } from '../models/methods.js';
import { slicedWasserstein1 } from '../metrics/swd.js';
import { modeCoverage, precision } from '../metrics/modes.js';
import { meanPairDistance } from '../metrics/fidelity.js';
import { datasetSource, Distiller, policyConfigOf, sampleStudent, sampleTeacher, type PointSource } from './toy.js';
import { DmdDistiller, ShortcutDistiller } from './baselines.js';
import { LoopRunner, type LoopHooks } from './model-lab.js';
import type { Resumable, TrainerState } from './train-state.js';

/** The methods the lab can train side by side, in the order a round steps them. */
export const COMPARE_METHODS = ['gmflow', 'constant', 'shortcut', 'dmd'] as const;
export type CompareMethod = (typeof COMPARE_METHODS)[number];

/** How each method is named on the page (the paper's words). */
export const COMPARE_TITLES: Record<CompareMethod, string> = {
  gmflow: 'π-Flow GMFlow (π-ID)',
  constant: 'constant velocity (π-ID)',
  shortcut: 'shortcut regression',
  dmd: 'DMD-style',
};

export interface CompareConfig {
  /** which methods race (a subset of COMPARE_METHODS, in any order; stepped in COMPARE_METHODS order) */
  methods: CompareMethod[];
  /** the students' NFE (DMD is a one-step generator whatever this is) */
  nfe: number;
  /** iterations of every method (one round = one iteration of each) */
  iters: number;
  /** samples per iteration, every method */
  batch: number;
  /** Adam learning rate of the π-ID students and the shortcut student */
  lr: number;
  /** Adam learning rate of DMD's generator and fake network (the peer's 1e-4) */
  dmdLr: number;
  /** GMFlow components */
  k: number;
  /** shortcut: teacher trajectories in the regression pool */
  pool: number;
  /** one seed for every method's initialisation and noise draws */
  seed: number;
}

export const DEFAULT_COMPARE: CompareConfig = {
  methods: [...COMPARE_METHODS], nfe: 1, iters: 300, batch: 256, lr: 5e-4, dmdLr: 1e-4, k: 8, pool: 4096, seed: 0,
};

export const COMPARE_LIMITS = { nfe: [1, 2], iters: [1, 100_000], batch: [16, 4096], k: [1, 64], pool: [256, 65536] } as const;

/** Checks a whole configuration before anything is allocated; errors name the setting and its range. */
export function validateCompare(c: CompareConfig): void {
  check(c !== null && typeof c === 'object', 'the comparison config must be an object');
  check(Array.isArray(c.methods) && c.methods.length >= 1, `methods: choose at least one of ${COMPARE_METHODS.join(', ')}`);
  for (const m of c.methods) check((COMPARE_METHODS as readonly string[]).includes(m), `methods: unknown method '${m}'; allowed: ${COMPARE_METHODS.join(', ')}`);
  check(new Set(c.methods).size === c.methods.length, `methods: each method at most once, got ${c.methods.join(', ')}`);
  const int = (name: 'nfe' | 'iters' | 'batch' | 'k' | 'pool') => {
    const [lo, hi] = COMPARE_LIMITS[name];
    check(Number.isInteger(c[name]) && c[name] >= lo && c[name] <= hi, `${name} must be an integer in [${lo}, ${hi}], got ${c[name]}`);
  };
  int('nfe');
  int('iters');
  int('batch');
  int('k');
  int('pool');
  for (const name of ['lr', 'dmdLr'] as const) {
    check(typeof c[name] === 'number' && Number.isFinite(c[name]) && c[name] > 0 && c[name] < 0.1, `${name === 'lr' ? 'learning rate' : 'DMD learning rate'} must be a number in (0, 0.1), got ${c[name]}`);
  }
  check(Number.isInteger(c.seed) && c.seed >= 0 && c.seed <= 0xffffffff, `seed must be an integer in [0, 2^32 − 1], got ${c.seed}`);
}

interface Racer {
  method: CompareMethod;
  /** the NFE it samples with */
  nfe: number;
  iteration: number;
  lastLoss: number;
  /** the student network and its trainer (for the checkpoint: weights + optimizer and random stream) */
  student: ToyNet;
  trainer: Resumable;
  step(): Promise<{ loss: number }>;
  samples(count: number, seed: number): Promise<Float32Array>;
  /** the config.json meta a saved copy carries (the CLI's and the π-Flow notebook's format) */
  meta: Record<string, unknown>;
  dispose(): void;
}

/** A method's racer from the teacher; around `student` (a checkpoint's copy, which it then owns) when given. */
function racer(method: CompareMethod, teacher: ToyNet, data: PointSource, c: CompareConfig, student?: ToyNet): Racer {
  const base = { method, iteration: 0, lastLoss: NaN };
  if (method === 'gmflow' || method === 'constant') {
    const d = new Distiller(teacher, data, {
      policy: method, k: c.k, nfe: c.nfe, batch: c.batch, seed: c.seed, adam: { lr: c.lr }, windowSubsteps: 0,
    }, student);
    const policy = policyConfigOf(d.cfg);
    return {
      ...base, nfe: c.nfe, student: d.student, trainer: d, meta: { piid: d.cfg, policy },
      step: () => d.step(),
      samples: (count, seed) => sampleStudent(d.student, policy, count, seed, { chunk: count }),
      dispose: () => {
        d.dispose();
        d.student.dispose();
      },
    };
  }
  if (method === 'shortcut') {
    const d = new ShortcutDistiller(teacher, { nfe: c.nfe, teacherSteps: 128, pool: c.pool, batch: c.batch, seed: c.seed, adam: { lr: c.lr } }, student);
    return {
      ...base, nfe: c.nfe, student: d.student, trainer: d,
      meta: { method: 'shortcut', nfe: c.nfe, shortcut: { nfe: c.nfe, teacherSteps: 128, pool: c.pool, batch: c.batch, seed: c.seed, adam: { lr: c.lr } } },
      step: () => d.step(),
      samples: (count, seed) => sampleTeacher(d.student, count, c.nfe, seed, count),
      dispose: () => {
        d.dispose();
        d.student.dispose();
      },
    };
  }
  const d = new DmdDistiller(teacher, null, { batch: c.batch, seed: c.seed, generatorAdam: { lr: c.dmdLr }, fakeAdam: { lr: c.dmdLr } }, student);
  return {
    ...base, nfe: 1, student: d.student, trainer: d,
    meta: { method: 'dmd', nfe: 1, dmd: { batch: c.batch, seed: c.seed, generatorAdam: { lr: c.dmdLr }, fakeAdam: { lr: c.dmdLr } } },
    step: () => d.step(),
    samples: (count, seed) => sampleTeacher(d.student, count, 1, seed, count),
    dispose: () => {
      d.dispose();
      d.student.dispose();
    },
  };
}

/** One sampler's scores (NaN where its samples were not all finite). */
export interface SamplerRow {
  /** 'teacher-many', 'teacher-few' or a method */
  id: 'teacher-many' | 'teacher-few' | CompareMethod;
  title: string;
  nfe: number;
  /** the method's iterations so far (teacher rows: null) */
  iteration: number | null;
  samples: Float32Array;
  swd: number;
  precision: number;
  modesCovered: number;
  modes: number;
  entropy: number;
  /** mean distance to the teacher's many-step sample from the same noise */
  fidelity: number;
  /** samples that were not finite (their row's metrics are NaN) */
  nonFinite: number;
}

export interface Evaluation {
  dataset: string;
  count: number;
  seed: number;
  /** the teacher's Euler steps of the many-step reference */
  manySteps: number;
  /** rounds done */
  round: number;
  /** fresh data, for the panels' background */
  data: Float32Array;
  rows: SamplerRow[];
  /** the race or the teacher changed while this evaluation ran: show the next one instead */
  stale: boolean;
}

/** One student of a checkpointed race: its weights, its trainer's state (optimizer, random stream, DMD's fake net), its last loss. */
export interface RacerSnapshot {
  method: CompareMethod;
  student: ToyNetArtifacts;
  state: TrainerState;
  lastLoss: number;
}

export interface CompareSnapshot {
  dataset: string;
  teacher?: ToyNetArtifacts;
  config?: CompareConfig;
  /** the race's rounds done and every student (absent in a checkpoint taken without a race) */
  round?: number;
  racers?: RacerSnapshot[];
}

/** the teacher's Euler steps of the reference ("many-step") sampler */
export const MANY_STEPS = 128;

export class CompareLab extends LoopRunner {
  teacher: LoadedToyNet | null = null;
  config: CompareConfig | null = null;
  private racers: Racer[] = [];
  private round = 0;
  private data: PointSource = datasetSource('checkerboard');
  private name = 'checkerboard';
  /** true while a round's steps run (a tensor count read then is mid-step) */
  stepping = false;
  /** evaluations in flight */
  evaluating = 0;
  /** bumped whenever the race or the teacher is replaced: an evaluation that sees it change is stale */
  private generation = 0;
  /** the teacher's reference samples by (count, seed, steps): host arrays */
  private teacherMemo = new Map<string, Float32Array>();

  get dataName(): string {
    return this.name;
  }

  setData(name: string): void {
    this.assertIdle();
    check((DATASETS_2D as readonly string[]).includes(name), `unknown dataset '${name}'; allowed: ${DATASETS_2D.join(', ')}`);
    this.data = datasetSource(name);
    this.name = name;
    this.disposeRace();
  }

  /** Replaces the teacher (validated; on error the current one stays); the race is dropped. */
  async loadTeacher(art: { modelJson: unknown; weights: ArrayBuffer; file: unknown }, name: string): Promise<void> {
    this.assertIdle();
    const net = await toyNetFromArtifacts(art, { config: `${name} (config)`, model: `${name} (model.json)`, weights: `${name} (weights)` }, 'teacher');
    const b = baselineOf(net.meta);
    if (b) {
      net.dispose();
      throw new Error(`${name}: a ${b.method} baseline student, not a teacher`);
    }
    this.disposeRace();
    this.teacher?.dispose();
    this.teacher = net;
    this.generation++;
    this.teacherMemo = new Map();
  }

  /** A fresh race: every method of `cfg` from the teacher (the whole config is checked first). */
  newRace(cfg: Partial<CompareConfig>): void {
    this.buildRace(cfg);
  }

  /**
   * The race of `cfg` at round 0: every method from the teacher, or around `students` (checkpointed
   * nets by method, owned from here: released on error too). The whole config is checked first.
   */
  private buildRace(cfg: Partial<CompareConfig>, students?: Map<CompareMethod, ToyNet>): void {
    const unused = new Set(students?.values());
    try {
      this.assertIdle();
      check(this.teacher !== null, 'load a teacher first');
      const c: CompareConfig = { ...DEFAULT_COMPARE, ...cfg, methods: [...(cfg.methods ?? DEFAULT_COMPARE.methods)] };
      validateCompare(c);
      this.disposeRace();
      const order = COMPARE_METHODS.filter((m) => c.methods.includes(m));
      try {
        for (const m of order) {
          const net = students?.get(m);
          unused.delete(net!);
          try {
            this.racers.push(racer(m, this.teacher!, this.data, c, net));
          } catch (e) {
            net?.dispose();
            throw e;
          }
        }
      } catch (e) {
        this.disposeRace();
        throw e;
      }
      this.config = c;
      this.round = 0;
    } finally {
      for (const net of unused) net.dispose();
    }
  }

  /** Runs rounds up to the config's budget (or `rounds` more). Resolves when done or stopped. */
  async race(hooks: LoopHooks = {}, rounds?: number): Promise<void> {
    check(this.config !== null && this.racers.length > 0, 'no race: start one first (newRace)');
    if (rounds !== undefined) check(Number.isInteger(rounds) && rounds >= 1, `rounds must be an integer >= 1, got ${rounds}`);
    const total = rounds !== undefined ? this.round + rounds : this.config!.iters;
    await this.loop('student', hooks, () => this.round, total, async () => {
      this.stepping = true;
      try {
        let first = NaN;
        for (const r of this.racers) {
          try {
            r.lastLoss = (await r.step()).loss;
          } catch (e) {
            if (e instanceof NonFiniteLossError) throw new Error(`${COMPARE_TITLES[r.method]}: ${e.message}`);
            throw e;
          }
          r.iteration++;
          if (Number.isNaN(first)) first = r.lastLoss;
        }
        this.round++;
        return { loss: first };
      } finally {
        this.stepping = false;
      }
    });
  }

  get rounds(): number {
    return this.round;
  }

  /** Every method's iteration and last loss. */
  methods(): { method: CompareMethod; title: string; nfe: number; iteration: number; loss: number }[] {
    return this.racers.map((r) => ({ method: r.method, title: COMPARE_TITLES[r.method], nfe: r.nfe, iteration: r.iteration, loss: r.lastLoss }));
  }

  /**
   * One method's student as artifacts in the CLI's and the notebooks' format: a π-ID student carries
   * its policy and π-ID settings (the π-Flow notebook loads it), a baseline its method and NFE; both the
   * dataset, the iterations done and the race's settings.
   */
  async saveStudent(method: CompareMethod): Promise<ToyNetArtifacts> {
    const r = this.racers.find((x) => x.method === method);
    check(r !== undefined, `no ${method} student in this race: train one first`);
    return toyNetToArtifacts(r!.student, { dataset: this.name, ...r!.meta, itersDone: r!.iteration, race: this.config, savedBy: 'the comparison notebook' });
  }

  /** The teacher's Euler samples (memoised; a copy each time: a worker transfers what it returns). */
  private async teacherSamples(count: number, steps: number, seed: number): Promise<Float32Array> {
    const key = `${count}:${steps}:${seed}`;
    const memo = this.teacherMemo; // this teacher's (a new teacher gets a new map while this one samples)
    let s = memo.get(key);
    if (!s) {
      s = await sampleTeacher(this.teacher!, count, steps, seed, count);
      if (memo.size > 8) memo.clear();
      memo.set(key, s);
    }
    return s.slice();
  }

  /**
   * Every sampler from the same seeded noise (one chunk of `count`), scored: the teacher at MANY_STEPS
   * and at the race's NFE (`nfe` when there is no race), then each method at its own NFE.
   */
  async evaluate(count: number, seed: number, nfe?: number): Promise<Evaluation> {
    check(this.teacher !== null, 'no teacher');
    check(Number.isInteger(count) && count >= 16 && count <= 8192, `samples must be an integer in [16, 8192], got ${count}`);
    check(Number.isInteger(seed) && seed >= 0, `seed must be an integer >= 0, got ${seed}`);
    const fewSteps = this.config?.nfe ?? nfe ?? 1; // read now: a race started meanwhile must not change it mid-way
    check(Number.isInteger(fewSteps) && fewSteps >= 1 && fewSteps <= 8, `nfe must be an integer in [1, 8], got ${fewSteps}`);
    this.evaluating++;
    const gen = this.generation;
    const fresh = (): boolean => gen === this.generation && this.teacher !== null;
    const racers = this.racers.slice();
    try {
      const dataset = this.name;
      const data = this.data(count, new Rng(seed + 7919));
      const stale = (): Evaluation => ({ dataset, count, seed, manySteps: MANY_STEPS, round: this.round, data, rows: [], stale: true });
      const reference = await this.teacherSamples(count, MANY_STEPS, seed);
      if (!fresh()) return stale();
      const score = (id: SamplerRow['id'], title: string, n: number, iteration: number | null, samples: Float32Array): SamplerRow => {
        let bad = 0;
        for (let i = 0; i < samples.length; i += 2) if (!Number.isFinite(samples[i]) || !Number.isFinite(samples[i + 1])) bad++;
        if (bad) return { id, title, nfe: n, iteration, samples, swd: NaN, precision: NaN, modesCovered: NaN, modes: NaN, entropy: NaN, fidelity: NaN, nonFinite: bad };
        const cov = modeCoverage(samples, dataset);
        return {
          id, title, nfe: n, iteration, samples,
          swd: slicedWasserstein1(samples, data, 2, 64, new Rng(seed + 5)),
          precision: precision(samples, dataset),
          modesCovered: cov.modesCovered, modes: cov.modes, entropy: cov.entropy,
          fidelity: meanPairDistance(samples, reference, 2),
          nonFinite: 0,
        };
      };
      const few = await this.teacherSamples(count, fewSteps, seed);
      const rows: SamplerRow[] = [
        score('teacher-many', `teacher, Euler ${MANY_STEPS} steps`, MANY_STEPS, null, reference),
        score('teacher-few', `teacher, Euler ${fewSteps} step${fewSteps > 1 ? 's' : ''}`, fewSteps, null, few),
      ];
      for (const r of racers) {
        // the page may reset the race or load another teacher while this evaluation waits for a readback
        if (!fresh()) return stale();
        rows.push(score(r.method, COMPARE_TITLES[r.method], r.nfe, r.iteration, await r.samples(count, seed)));
      }
      return { dataset, count, seed, manySteps: MANY_STEPS, round: this.round, data, rows, stale: !fresh() };
    } finally {
      this.evaluating--;
    }
  }

  /**
   * The last-good-state copy a worker keeps: the data, the teacher, the race's settings and, between
   * rounds, every student with its trainer's state, so that a restored race goes on exactly where this
   * one was (the same weights, optimizer moments and noise as an uninterrupted race).
   */
  async snapshot(): Promise<CompareSnapshot> {
    // everything is read synchronously first (weights cloned, states exported), so a round that runs
    // while the readbacks are awaited cannot mix two rounds into one checkpoint
    const round = this.round;
    const config = this.config ?? undefined;
    let parts: { method: CompareMethod; state: Promise<TrainerState>; art: Promise<ToyNetArtifacts>; lastLoss: number }[] | undefined;
    // after a failed (non-finite) step the methods may be a step apart: such a race restarts instead
    if (config && this.racers.length > 0 && !this.stepping && this.racers.every((r) => r.iteration === round)) {
      // each state and each student's weights are captured synchronously here (read back below)
      parts = this.racers.map((r) => ({ method: r.method, state: r.trainer.exportStateAsync(), art: toyNetToArtifacts(r.student, { method: r.method }), lastLoss: r.lastLoss }));
    }
    const teacher = this.teacher ? toyNetToArtifacts(this.teacher, this.teacher.meta) : Promise.resolve(undefined);
    const [teacherArt, students, states] = await Promise.all([teacher, Promise.all((parts ?? []).map((p) => p.art)), Promise.all((parts ?? []).map((p) => p.state))]);
    const s: CompareSnapshot = { dataset: this.name, teacher: teacherArt, config };
    if (parts) {
      s.round = round;
      s.racers = parts.map((p, i) => ({ method: p.method, student: students[i], state: states[i], lastLoss: p.lastLoss }));
    }
    return s;
  }

  /**
   * Rebuilds this (fresh) lab from a snapshot: the teacher, and the race — from the checkpointed round
   * with its students and trainers' states when the snapshot has them, else from round 0.
   */
  async restore(s: CompareSnapshot): Promise<string[]> {
    this.setData(s.dataset);
    const out: string[] = [];
    if (s.teacher) {
      await this.loadTeacher(s.teacher, 'last good teacher');
      out.push('teacher');
      if (s.config && s.racers && s.round !== undefined) {
        await this.resumeRace(s.config, s.round, s.racers);
        out.push(`the race at round ${s.round}`);
      } else if (s.config) {
        this.newRace(s.config);
        out.push('the race (restarted from round 0: no students were checkpointed)');
      }
    }
    return out;
  }

  /** The race of `cfg` around checkpointed students and trainer states, at round `round`; on error nothing is kept. */
  private async resumeRace(cfg: CompareConfig, round: number, saved: RacerSnapshot[]): Promise<void> {
    this.assertIdle();
    validateCompare(cfg);
    check(Number.isInteger(round) && round >= 0, `checkpoint: round must be an integer >= 0, got ${round}`);
    const order = COMPARE_METHODS.filter((m) => cfg.methods.includes(m));
    check(saved.length === order.length && saved.every((r, i) => r.method === order[i]),
      `checkpoint: students ${saved.map((r) => r.method).join(', ')} do not match the race's methods ${order.join(', ')}`);
    const nets = new Map<CompareMethod, ToyNet>();
    try {
      for (const r of saved) nets.set(r.method, await toyNetFromArtifacts(r.student, { config: `${r.method} (config)`, model: `${r.method} (model.json)`, weights: `${r.method} (weights)` }));
    } catch (e) {
      for (const net of nets.values()) net.dispose();
      throw e;
    }
    this.buildRace(cfg, nets);
    try {
      this.racers.forEach((x, i) => {
        const r = saved[i];
        x.trainer.importState(r.state);
        check(r.state.iteration === round, `checkpoint: ${r.method} was at iteration ${r.state.iteration}, the race at round ${round}`);
        x.iteration = round;
        x.lastLoss = r.lastLoss;
      });
    } catch (e) {
      this.disposeRace();
      throw e;
    }
    this.round = round;
  }

  /** Drops the race: every student, optimizer and the shortcut pool are released. */
  disposeRace(): void {
    this.generation++;
    for (const r of this.racers) r.dispose();
    this.racers = [];
    this.config = null;
    this.round = 0;
  }

  /** Stops a running loop (it ends after its current round) and drops the race. */
  reset(): void {
    this.assertIdle();
    this.disposeRace();
  }

  dispose(): void {
    this.disposeRace();
    this.teacher?.dispose();
    this.teacher = null;
  }

  /** tf.memory().numTensors now (tests: stable across rounds, back to the teacher's after reset) */
  tensors(): number {
    return tf.memory().numTensors;
  }
}
