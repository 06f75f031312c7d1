/**
 * What the 2D lab (lab.ts) and the MNIST lab (mnist-lab.ts) share: one loop at a time with pause /
 * resume / stop, throttled progress, every loss and periodic metrics (LoopRunner); and the teacher /
 * student bookkeeping (ModelLab): training and distillation loops, loading a student (validated, and
 * resumable when it carries its π-ID settings: exactly when it also carries its distiller's training
 * state, train-state.ts), saving it (with that state while it distills), checkpoints of both models,
 * disposal.
 * A failed step (NaN/∞) stops the loop with an error and leaves the models as they were.
 */
import { check } from '../engine/tensors.js';
import { NonFiniteLossError } from '../engine/optim.js';
import { distillSize, policyConfigOf, validateStudentPolicyConfig, type DistillConfig, type StudentPolicyConfig } from './student.js';
import { familySizeFields, policyFamily, POLICY_FAMILIES } from '../engine/families.js';
import { decodeTrainerState, trainStateFiles, type Resumable, type TrainerState } from './train-state.js';
import { extraFile, TRAIN_STATE_BIN, TRAIN_STATE_JSON, type ExtraFile } from '../models/io-handlers.js';

export type Phase = 'idle' | 'teacher' | 'student';

export interface Progress {
  phase: Exclude<Phase, 'idle'>;
  iter: number;
  total: number;
  loss: number;
  itPerSec: number;
  secondsLeft: number;
  /** π-ID only */
  teacherRatio?: number;
}

export interface LoopHooks {
  /** called at most every `progressMs` (and at the end) */
  onProgress?: (p: Progress) => void;
  /** every loss, in order (for the loss curve; cheap) */
  onLoss?: (iter: number, loss: number) => void;
  /** every `metricEvery` iterations: the caller may evaluate (the loop awaits it) */
  onMetric?: (iter: number) => Promise<void> | void;
  metricEvery?: number;
  progressMs?: number;
  /** yield to the event loop this often so pause/stop messages get in (ms) */
  yieldMs?: number;
}

const sleep0 = () => new Promise<void>((r) => setTimeout(r, 0));

/**
 * The loop machinery shared by the 2D and the MNIST labs: one loop at a time, pause / resume / stop,
 * throttled progress, every loss, periodic metrics, and yields so that messages get in.
 */
export class LoopRunner {
  protected paused = false;
  protected stopped = false;
  private resumeWaiters: (() => void)[] = [];
  /** set while a step is in flight (a save waits for the step's end: weights and state of one iteration) */
  private stepInFlight = false;
  private boundaryWaiters: (() => void)[] = [];
  running: Phase = 'idle';

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.resumeWaiters.splice(0).forEach((r) => r());
  }

  stop(): void {
    this.stopped = true;
    this.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  protected async loop(
    phase: 'teacher' | 'student',
    h: LoopHooks,
    iterNow: () => number,
    total: number,
    step: () => Promise<{ loss: number; teacherRatio?: number }>,
  ): Promise<void> {
    this.assertIdle();
    this.running = phase;
    this.stopped = false;
    const progressMs = h.progressMs ?? 100;
    const yieldMs = h.yieldMs ?? 30;
    const t0 = performance.now();
    const i0 = iterNow();
    let lastProgress = 0;
    let lastYield = performance.now();
    let loss = NaN;
    let ratio: number | undefined;
    const report = () => {
      const secs = (performance.now() - t0) / 1000;
      const rate = (iterNow() - i0) / Math.max(secs, 1e-9);
      h.onProgress?.({ phase, iter: iterNow(), total, loss, itPerSec: rate, secondsLeft: rate > 0 ? (total - iterNow()) / rate : Infinity, teacherRatio: ratio });
    };
    try {
      while (iterNow() < total && !this.stopped) {
        if (this.paused) {
          report();
          await new Promise<void>((r) => this.resumeWaiters.push(r));
          continue;
        }
        this.stepInFlight = true;
        let s: { loss: number; teacherRatio?: number };
        try {
          s = await step();
        } finally {
          this.stepInFlight = false;
          // between two steps: a waiting save reads weights and state now, before the next step starts
          this.boundaryWaiters.splice(0).forEach((r) => r());
        }
        loss = s.loss;
        ratio = s.teacherRatio;
        h.onLoss?.(iterNow(), loss);
        if (h.onMetric && h.metricEvery && iterNow() % h.metricEvery === 0) await h.onMetric(iterNow());
        const now = performance.now();
        if (now - lastProgress >= progressMs) {
          lastProgress = now;
          report();
        }
        if (now - lastYield >= yieldMs) {
          await sleep0();
          lastYield = performance.now();
        }
      }
      report();
    } catch (e) {
      if (e instanceof NonFiniteLossError) throw new Error(`${phase === 'teacher' ? 'Teacher training' : 'π-ID'}: ${e.message}`);
      throw e;
    } finally {
      this.running = 'idle';
    }
  }

  /**
   * Runs `fn` between two steps: at once when no step is in flight, else synchronously right after the
   * running step ends (before the next one starts), so that what it reads belongs to one iteration.
   */
  protected betweenSteps<R>(fn: () => R): Promise<R> {
    if (!this.stepInFlight) {
      try {
        return Promise.resolve(fn());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise<R>((resolve, reject) => this.boundaryWaiters.push(() => {
      try {
        resolve(fn());
      } catch (e) {
        reject(e);
      }
    }));
  }

  protected assertIdle(): void {
    check(this.running === 'idle', `busy: ${this.running === 'teacher' ? 'the teacher is training' : 'a student is distilling'}; pause or stop it first`);
  }

}


type Artifacts = { modelJson: unknown; weights: ArrayBuffer; file: unknown; extra?: ExtraFile[] };
interface NetLike {
  readonly cfg: { kind: string; k?: number; n?: number };
  dispose(): void;
}
interface TrainerLike {
  step(): Promise<{ loss: number }>;
  dispose(): void;
}
interface DistillerLike<S> extends Resumable {
  readonly student: S;
  readonly cfg: DistillConfig;
  readonly piid: { iteration: number };
  step(): Promise<{ loss: number; teacherRatio?: number }>;
  dispose(): void;
}

/** A save's training state (train-state.json / .bin among its extra files), or null when it has none. */
function trainerStateOf(art: Artifacts, name: string): TrainerState | null {
  const json = extraFile(art, TRAIN_STATE_JSON), bin = extraFile(art, TRAIN_STATE_BIN);
  if (!json && !bin) return null;
  const where = `${name} (training state)`;
  check(json !== undefined && bin !== undefined, `${where}: ${json ? TRAIN_STATE_BIN : TRAIN_STATE_JSON} is missing; the save is incomplete`);
  check(typeof json!.data === 'string' && bin!.data instanceof Uint8Array, `${where}: ${TRAIN_STATE_JSON} must be text and ${TRAIN_STATE_BIN} bytes`);
  return decodeTrainerState(json!.data as string, bin!.data as Uint8Array, where);
}

/** The two models' last good state (what a worker keeps to recover from a lost device). */
export interface ModelsSnapshot<A> {
  teacher?: A;
  student?: A;
}

/** Ids of the student networks a lab has had (ModelLab.studentKey). */
const netIds = new WeakMap<object, number>();
let nextNetId = 1;

/**
 * A lab with a teacher (T, trained by Tr) and a π-Flow student (S, distilled by D); A is their
 * artifacts. Subclasses say how nets are read and written and how a distiller is made.
 */
export abstract class ModelLab<
  T extends NetLike,
  S extends NetLike,
  A extends Artifacts,
  Tr extends TrainerLike,
  D extends DistillerLike<S>,
> extends LoopRunner {
  teacher: T | null = null;
  student: S | null = null;
  studentPolicy: StudentPolicyConfig | null = null;
  protected trainer: Tr | null = null;
  protected distiller: D | null = null;
  protected teacherIter = 0;
  protected teacherTotal = 0;

  /** the data's name, recorded in saved models */
  abstract get dataName(): string;
  /** reads a student from artifacts (validated; errors name `name`) */
  protected abstract readStudent(art: Artifacts, name: string): Promise<S & { meta: Record<string, unknown> }>;
  protected abstract writeNet(net: S, meta: Record<string, unknown>): Promise<A>;
  /** a distiller from the teacher (validates `cfg` before allocating); around `student` when given */
  protected abstract makeDistiller(cfg: Partial<DistillConfig>, student?: S): D;
  /** extra checks of a loaded student against the current teacher (throws with a clear message) */
  protected checkStudent(_net: S, _name: string): void {}

  /** A fresh π-ID student from the current teacher. */
  newStudent(cfg: Partial<DistillConfig>): void {
    this.assertIdle();
    check(this.teacher !== null, 'train or load a teacher first');
    const d = this.makeDistiller(cfg);
    this.disposeStudent();
    this.distiller = d;
    this.student = d.student;
    this.studentPolicy = policyConfigOf(d.cfg);
  }

  /**
   * A π-ID run that goes on from the current student (e.g. the shipped one) instead of a fresh copy of
   * the teacher: a new distiller (these settings, a fresh optimizer, iterations counted from 0) around
   * the same network. Its family and size (K or N) and DX mode must be the student's; the NFE and the
   * π-ID options may differ (the student is then distilled for the new NFE).
   */
  continueStudent(cfg: Partial<DistillConfig>): void {
    this.assertIdle();
    check(this.teacher !== null, 'train or load a teacher first');
    check(this.student !== null && this.studentPolicy !== null, 'no student to continue from: start from the teacher');
    const net = this.student!;
    const d = this.makeDistiller(cfg, net); // validates cfg; allocates only the optimizer
    const c = d.cfg;
    const fam = policyFamily(c.policy);
    const want = familySizeFields(fam, distillSize(c));
    const has = familySizeFields(fam, (fam.size ? net.cfg[fam.size.key] : 1) ?? NaN);
    const sizeText = (f: { k?: number; n?: number }) => (fam.size ? `${fam.size.symbol} = ${f[fam.size.key]}` : '');
    let mismatch = '';
    if (net.cfg.kind !== c.policy) mismatch = `it is a ${(POLICY_FAMILIES as Record<string, { title: string } | undefined>)[net.cfg.kind]?.title ?? net.cfg.kind} student, these settings ask for ${fam.title}`;
    else if (fam.size && has[fam.size.key] !== want[fam.size.key]) mismatch = `it has ${sizeText(has)}, these settings ask for ${sizeText(want)}`;
    else if (c.policy === 'dx' && this.studentPolicy!.dxMode !== c.dxMode) mismatch = `its DX mode is ${this.studentPolicy!.dxMode}, these settings ask for ${c.dxMode}`;
    if (mismatch) {
      d.dispose();
      throw new Error(`cannot continue the loaded student: ${mismatch}; match its settings or start from the teacher`);
    }
    this.distiller?.dispose();
    this.distiller = d;
    this.studentPolicy = policyConfigOf(c);
  }

  /**
   * Replaces the student by one loaded from artifacts (validated; on error the current one stays).
   * A student saved while distilling carries its π-ID settings (meta.piid) and, since issue 12, its
   * distiller's training state (extra files train-state.json / .bin: Adam moments and step, the random
   * stream, the iteration): distillation then goes on exactly where the saved run was, bit for bit. An
   * older save without the state goes on from its iteration (the schedule) with a fresh optimizer and
   * stream. A corrupt or mismatched state is a clear error (the current student stays). Returns a
   * sentence on how distillation goes on ('' when it cannot: no π-ID settings or no teacher).
   */
  async loadStudent(art: Artifacts, name: string): Promise<string> {
    this.assertIdle();
    const state = trainerStateOf(art, name); // before anything is allocated: a corrupt state is an error
    const net = await this.readStudent(art, name);
    if (net.cfg.kind === 'teacher') {
      net.dispose();
      throw new Error(`${name}: this is a teacher, not a π-Flow student`);
    }
    const policy = net.meta.policy as StudentPolicyConfig;
    try {
      validateStudentPolicyConfig(policy);
      this.checkStudent(net, name);
    } catch (e) {
      net.dispose();
      throw e instanceof Error && e.message.startsWith(name) ? e : new Error(`${name} (config): meta.policy is not a valid student policy (${(e as Error).message})`);
    }
    const piid = net.meta.piid as Partial<DistillConfig> | undefined;
    let distiller: D | null = null;
    let note = '';
    if (piid && this.teacher) {
      // a student saved while distilling carries its π-ID settings: distillation can go on
      try {
        distiller = this.makeDistiller(piid, net);
      } catch {
        distiller = null;
      }
      if (distiller) {
        const done = Number(net.meta.itersDone ?? 0);
        if (state) {
          try {
            check(state.iteration === done, `training state: it is at iteration ${state.iteration}, the model's meta.itersDone at ${done} (from another save)`);
            distiller.importState(state);
          } catch (e) {
            distiller.dispose();
            net.dispose();
            throw new Error(`${name} (${TRAIN_STATE_JSON}): ${(e as Error).message}; the current student is kept`);
          }
          note = `π-ID goes on exactly from iteration ${done} (its optimizer and random stream restored).`;
        } else {
          distiller.piid.iteration = Number.isInteger(done) && done >= 0 ? done : 0;
          note = `π-ID goes on from iteration ${distiller.piid.iteration} (the schedule); this save has no training state, so the optimizer and random stream start afresh.`;
        }
      }
    }
    this.disposeStudent();
    this.distiller = distiller;
    this.student = net;
    this.studentPolicy = policy;
    return note;
  }

  /**
   * The student's artifacts; while it distills (a π-ID run in this lab) they carry the distiller's
   * training state as extra files, read together with the weights between two steps.
   */
  async saveStudent(): Promise<A> {
    check(this.student !== null && this.studentPolicy !== null, 'no student to save');
    const { art, state } = await this.betweenSteps(() => {
      const d = this.distiller;
      // captured now (tensors cloned), read back after: webgpu cannot read synchronously in Node
      const state = d ? d.exportStateAsync() : null;
      // writeNet reads the weights before its first await (artifacts.ts): the same iteration as the state
      const art = this.writeNet(this.student!, { dataset: this.dataName, policy: this.studentPolicy, piid: d?.cfg, itersDone: this.studentIteration });
      return { art, state };
    });
    const [a, captured] = await Promise.all([art, state]);
    if (!captured) return a;
    return { ...a, extra: [...(a.extra ?? []).filter((f) => f.name !== TRAIN_STATE_BIN && f.name !== TRAIN_STATE_JSON), ...trainStateFiles(captured)] };
  }

  abstract saveTeacher(): Promise<A>;
  abstract loadTeacher(art: Artifacts, name: string): Promise<void>;

  /** Trains the teacher up to its step budget (or `steps` more). Resolves when done or stopped. */
  async trainTeacher(hooks: LoopHooks = {}, steps?: number): Promise<void> {
    check(this.trainer !== null, 'no teacher in training: start a new teacher first');
    if (steps !== undefined) this.teacherTotal = this.teacherIter + steps;
    await this.loop('teacher', hooks, () => this.teacherIter, this.teacherTotal, async () => {
      const s = await this.trainer!.step();
      this.teacherIter++;
      return { loss: s.loss };
    });
  }

  /** Runs `iters` π-ID iterations on the current student. */
  async distill(iters: number, hooks: LoopHooks = {}): Promise<void> {
    check(this.distiller !== null, 'no student in training: start a new student first');
    check(Number.isInteger(iters) && iters >= 1, `iterations must be an integer >= 1, got ${iters}`);
    const d = this.distiller!;
    const start = d.piid.iteration;
    await this.loop('student', hooks, () => d.piid.iteration, start + iters, async () => {
      const s = await d.step();
      return { loss: s.loss, teacherRatio: s.teacherRatio };
    });
  }

  get studentIteration(): number {
    return this.distiller?.piid.iteration ?? 0;
  }

  /**
   * Names the student's weights: which network (a new one on every new, loaded or shipped student) and
   * how many π-ID iterations it has had ('' without a student). The same key, the same weights (a failed
   * step restores them and leaves the iteration), so a view drawn from a key need not be drawn again.
   */
  get studentKey(): string {
    if (!this.student) return '';
    let id = netIds.get(this.student);
    if (id === undefined) netIds.set(this.student, (id = nextNetId++));
    return `${id}:${this.studentIteration}`;
  }

  get teacherIteration(): number {
    return this.teacherIter;
  }

  /** a student with π-ID settings: distillation can go on from it */
  get canDistill(): boolean {
    return this.distiller !== null;
  }

  protected async snapshotModels(): Promise<ModelsSnapshot<A>> {
    return { teacher: this.teacher ? await this.saveTeacher() : undefined, student: this.student ? await this.saveStudent() : undefined };
  }

  protected async restoreModels(s: ModelsSnapshot<A>): Promise<string[]> {
    const restored: string[] = [];
    if (s.teacher) {
      await this.loadTeacher(s.teacher, 'last good teacher');
      restored.push('teacher');
    }
    if (s.student) {
      await this.loadStudent(s.student, 'last good student');
      restored.push('student');
    }
    return restored;
  }

  disposeStudent(): void {
    this.distiller?.dispose();
    this.distiller = null;
    this.student?.dispose();
    this.student = null;
    this.studentPolicy = null;
  }

  disposeTeacher(): void {
    this.trainer?.dispose();
    this.trainer = null;
    this.teacher?.dispose();
    this.teacher = null;
  }

  dispose(): void {
    this.disposeStudent();
    this.disposeTeacher();
  }
}
