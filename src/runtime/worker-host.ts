/**
 * What every training worker does, whatever its lab (2D: lab-worker.ts; MNIST: mnist-worker.ts):
 * answer requests (`serve`), stream events, pick the backend, keep a host copy of the models (a
 * checkpoint before a loop's first step and every few seconds), and, when the GPU device is lost, fall
 * back to the next backend, rebuild the lab from the last good state and let the interrupted loop go on.
 */
import { chooseBackend, fallBackAfterLoss, onDeviceLost, simulateDeviceLoss, type BackendChoice } from './backend.js';
import type { LoopHooks, ModelLab, Progress } from './model-lab.js';
import type { DistillConfig } from './student.js';
import { loadFromIndexedDb, saveToIndexedDb, type NetArtifacts } from '../models/io-handlers.js';
import type { BackendInfo } from './lab-protocol.js';

export interface WorkerScope {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<{ id: number; method: string; args: unknown[] }>) => void) | null;
}

/** A lab as the host sees it: it can be stopped, snapshotted and rebuilt from a snapshot. */
export interface HostedLab<S> {
  stop(): void;
  snapshot(): Promise<S>;
  /** loads a snapshot into this (fresh) lab; returns what it restored ('teacher', 'student') */
  restore(s: S): Promise<string[]>;
}

const CHECKPOINT_MS = 5000;

export class WorkerHost<L extends HostedLab<S>, S> {
  lab: L;
  backend: BackendInfo = { name: 'none', fellBackFrom: [] };
  private lastGood: S | undefined;
  private lastAt = 0;
  /** prepares a fresh lab before the snapshot is restored into it (data, classifier) */
  onRestore: ((lab: L) => Promise<void>) | null = null;
  /** set while a lost device is being replaced; loops wait for it and then go on */
  private restoring: Promise<void> | null = null;

  constructor(private readonly scope: WorkerScope, private readonly create: () => L) {
    this.lab = create();
    onDeviceLost((loss) => void this.startRestore(loss));
  }

  post(m: unknown, transfer: Transferable[] = []): void {
    this.scope.postMessage(m, transfer);
  }

  /** Picks the backend (`name`: the page's `?backend=`; `threads`: its `?threads=`, wasm's thread count). */
  async init(name?: string, threads?: string): Promise<BackendInfo> {
    this.backend = info(await chooseBackend(name, threads ?? ''));
    return this.backend;
  }

  async checkpoint(): Promise<void> {
    this.lastAt = performance.now();
    this.lastGood = await this.lab.snapshot();
  }

  /** A checkpoint when the last is older than a few seconds (from a loop's progress hook). */
  maybeCheckpoint(): void {
    if (performance.now() - this.lastAt > CHECKPOINT_MS) {
      this.checkpoint().catch((e) => this.post({ event: 'log', message: `checkpoint failed: ${(e as Error).message}` }));
    }
  }

  /** Starts the fallback once per lost backend (the loss event and a failing op may both report it). */
  private startRestore(loss: { backend: BackendChoice['name']; message: string }): Promise<void> {
    if (!this.restoring && this.backend.name === loss.backend) this.restoring = this.restore(loss).finally(() => (this.restoring = null));
    return this.restoring ?? Promise.resolve();
  }

  /** A GPU op that failed because its device or context is gone (it can report before the loss event). */
  private isDeviceLoss(e: unknown): boolean {
    const m = String((e as Error)?.message ?? e);
    return (this.backend.name === 'webgpu' || this.backend.name === 'webgl') &&
      /unmapped before mapping|device (is |was )?(lost|destroyed)|destroyed device|context (is |was )?lost|CONTEXT_LOST/i.test(m);
  }

  private async restore(loss: { backend: BackendChoice['name']; message: string }): Promise<void> {
    try {
      const choice = await fallBackAfterLoss(loss.backend);
      this.backend = info(choice);
      this.lab.stop();
      this.lab = this.create();
      await this.onRestore?.(this.lab);
      const restored = this.lastGood === undefined ? [] : await this.lab.restore(this.lastGood);
      this.post({
        event: 'backend', backend: this.backend,
        restored: `${loss.message}; restored ${restored.join(' and ') || 'nothing'} on ${this.backend.name}, going on from the last good state`,
      });
    } catch (e) {
      this.post({ event: 'log', message: `device lost and no fallback: ${(e as Error).message}` });
    }
  }

  /**
   * Runs a training loop after a checkpoint (a last good state exists before its first step); if the
   * GPU device is lost meanwhile, waits for the fallback backend and the restored lab, then goes on with
   * the loop from the last good state (`run` reads `this.lab` afresh). Checkpoints again at the end.
   */
  async resilient(run: () => Promise<void>): Promise<void> {
    await this.checkpoint();
    for (let attempt = 0; ; attempt++) {
      try {
        await run();
        if (!this.restoring) break;
      } catch (e) {
        if (!this.restoring && this.isDeviceLoss(e)) void this.startRestore({ backend: this.backend.name as BackendChoice['name'], message: (e as Error).message });
        if (!this.restoring || attempt > 2) throw e;
      }
      await this.restoring;
    }
    await this.checkpoint();
  }

  /**
   * Loop hooks that stream losses (batched per progress tick) and progress, checkpoint every few
   * seconds, and every `metricEvery` iterations post what `metric(iter)` returns.
   */
  loopHooks(phase: 'teacher' | 'student', metricEvery: number, metric?: (iter: number) => Promise<unknown>): LoopHooks {
    let iters: number[] = [];
    let losses: number[] = [];
    const flush = () => {
      if (iters.length === 0) return;
      this.post({ event: 'loss', phase, iters, losses });
      iters = [];
      losses = [];
    };
    return {
      onLoss: (i: number, l: number) => {
        iters.push(i);
        losses.push(l);
      },
      onProgress: (p: Progress) => {
        flush();
        this.post({ event: 'progress', progress: p });
        this.maybeCheckpoint();
      },
      metricEvery: metric ? metricEvery : 0,
      onMetric: async (iter: number) => {
        const m = await metric!(iter);
        flush();
        this.post(m);
      },
      progressMs: 100,
      yieldMs: 25,
    };
  }

  /** Requests answered or under way, per method (`requestCounts()`: tests check that each view runs once). */
  readonly requests = new Map<string, number>();

  /** Answers requests `{id, method, args}` with `api[method](...args)`; typed arrays are transferred. */
  serve(api: Record<string, (...a: never[]) => unknown>): void {
    this.scope.onmessage = async (e) => {
      const { id, method, args } = e.data;
      this.requests.set(method, (this.requests.get(method) ?? 0) + 1);
      try {
        const fn = api[method] as ((...a: unknown[]) => unknown) | undefined;
        if (!fn) throw new Error(`unknown operation '${method}'`);
        const value = await fn(...args);
        this.post({ id, ok: true, value }, transferables(value));
      } catch (err) {
        this.post({ id, ok: false, error: (err as Error).message ?? String(err) });
      }
    };
  }
}

function info(c: BackendChoice): BackendInfo {
  return {
    name: c.name,
    fellBackFrom: c.fellBackFrom,
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.threads !== undefined ? { threads: c.threads } : {}),
    ...(c.threadsNote !== undefined ? { threadsNote: c.threadsNote } : {}),
  };
}

/** Buffers of typed arrays in a value, to transfer instead of copy. */
export function transferables(v: unknown, out: Transferable[] = [], seen = new Set<unknown>()): Transferable[] {
  if (v === null || typeof v !== 'object' || seen.has(v)) return out;
  seen.add(v);
  if (ArrayBuffer.isView(v)) {
    if (!seen.has(v.buffer)) {
      seen.add(v.buffer);
      out.push(v.buffer as ArrayBuffer);
    }
  } else if (v instanceof ArrayBuffer) {
    out.push(v);
  } else {
    for (const x of Object.values(v)) transferables(x, out, seen);
  }
  return out;
}

/** any lab built on ModelLab, whatever its nets and artifacts */
type AnyModelLab = ModelLab<any, any, any, any, any>;

/** The status fields every lab reports (backend, the two models, their iterations, the loop's state). */
export function commonStatus<L extends AnyModelLab & HostedLab<S>, S>(host: WorkerHost<L, S>) {
  const lab = host.lab;
  return {
    backend: host.backend,
    teacher: lab.teacher?.cfg ?? null,
    teacherIteration: lab.teacherIteration,
    student: lab.student?.cfg ?? null,
    studentPolicy: lab.studentPolicy,
    studentIteration: lab.studentIteration,
    studentKey: lab.studentKey,
    canDistill: lab.canDistill,
    running: lab.running,
    paused: lab.isPaused,
  };
}

/**
 * The operations every model lab's worker offers the same way (both labs: teacher and student load /
 * save / train / distill, pause / resume / stop, browser storage, a simulated device loss for tests).
 * `hooks(phase, opts)` gives a loop's hooks (with its live metric).
 */
export function modelApi<L extends AnyModelLab & HostedLab<S>, S, O>(host: WorkerHost<L, S>, hooks: (phase: 'teacher' | 'student', opts: O) => LoopHooks) {
  return {
    init: (name?: string, threads?: string) => host.init(name, threads),
    /** how many requests of each method this worker has had (requestCounts itself included) */
    requestCounts: () => Object.fromEntries(host.requests) as Record<string, number>,
    async loadTeacher(art: NetArtifacts, name: string) {
      await host.lab.loadTeacher(art, name);
      await host.checkpoint();
    },
    saveTeacher: () => host.lab.saveTeacher(),
    trainTeacher: (opts: O & { steps?: number }) => host.resilient(() => host.lab.trainTeacher(hooks('teacher', opts), opts.steps)),
    newStudent: (cfg: Partial<DistillConfig>) => host.lab.newStudent(cfg),
    continueStudent: (cfg: Partial<DistillConfig>) => host.lab.continueStudent(cfg),
    async loadStudent(art: NetArtifacts, name: string): Promise<string> {
      const note = await host.lab.loadStudent(art, name);
      await host.checkpoint();
      return note;
    },
    saveStudent: () => host.lab.saveStudent(),
    async distill(iters: number, opts: O) {
      // after a fallback the restored student goes on to the same target iteration
      const target = host.lab.studentIteration + iters;
      await host.resilient(() => host.lab.distill(Math.max(target - host.lab.studentIteration, 1), hooks('student', opts)));
    },
    pause: () => host.lab.pause(),
    resume: () => host.lab.resume(),
    stop: () => host.lab.stop(),
    simulateDeviceLoss: () => simulateDeviceLoss(),
    async saveToBrowser(which: 'teacher' | 'student', key: string) {
      await saveToIndexedDb(which === 'teacher' ? await host.lab.saveTeacher() : await host.lab.saveStudent(), key);
    },
    async loadFromBrowser(which: 'teacher' | 'student', key: string): Promise<string> {
      const art = await loadFromIndexedDb(key);
      let note = '';
      if (which === 'teacher') await host.lab.loadTeacher(art, `browser storage '${key}'`);
      else note = await host.lab.loadStudent(art, `browser storage '${key}'`);
      await host.checkpoint();
      return note;
    },
  };
}
