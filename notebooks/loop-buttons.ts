/**
 * One training loop's buttons: Start (Train / Distill / …), Pause, Resume, with its progress bar,
 * loss curve and message line — the sequence the notebooks used to write out each time. The worker
 * calls are typed by what the helper needs (`LoopLab`), so any lab client fits without casts: the 2D
 * lab's and the MNIST lab's both have stop / pause / resume and the progress / loss events.
 *
 * The run promise (`run()`, e.g. `lab.call.trainTeacher({})`) stays pending while paused and resolves
 * when the loop reaches its target or is stopped.
 */
import { button } from '../src/viz/controls.js';
import type { ProgressView } from '../src/viz/progress.js';
import type { LossChart } from '../src/viz/charts.js';
import type { LabEvent } from '../src/runtime/lab-protocol.js';

/** The events the helper follows (the 2D and the MNIST protocols share them). */
type LoopEvent = Extract<LabEvent, { event: 'progress' | 'loss' }>;

/** What the helper needs of a lab client: any `LabClient` whose events include the loop's fits, without casts. */
export interface LoopLab {
  on<E extends LoopEvent['event']>(event: E, handler: (e: Extract<LoopEvent, { event: E }>) => void): unknown;
  call: { stop(): Promise<void>; pause(): Promise<void>; resume(): Promise<void> };
}

export interface LoopOptions {
  lab: LoopLab;
  phase: 'teacher' | 'student';
  /** the progress bar's label ('teacher', 'π-ID') */
  label: string;
  progress: ProgressView;
  loss: LossChart;
  mount: HTMLElement;
  /** the page's message line (errors of the run go there) */
  note: (text: string, kind?: 'error' | 'note') => void;
  /** the run's target iteration count (read when a run starts) */
  total: () => number;
  /** the loop's iteration now (e.g. `(await lab.call.status()).teacherIteration`) */
  iteration: () => Promise<number>;
  /** sets up a fresh model for a run (after the helper stopped any running loop), e.g. `newTeacher(cfg)` */
  prepare: () => Promise<void>;
  /** runs the loop (pending while paused), e.g. `lab.call.trainTeacher({})` */
  run: () => Promise<unknown>;
  /** every `everyMs` (default 2500) while running, from the first progress report: refresh the live views */
  onTick?: () => void;
  /** at once when the run pauses, finishes or is stopped: refresh every view */
  onSettle?: (status: 'paused' | 'done' | 'stopped') => void;
  everyMs?: number;
  /** [label, data-testid, tooltip] of the three buttons */
  start: readonly [string, string, string?];
  pause?: readonly [string, string, string?];
  resume?: readonly [string, string, string?];
}

export interface LoopControls {
  start(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** stops a running loop (its run resolves as 'stopped') and resets the progress bar */
  stop(): Promise<void>;
  readonly state: 'idle' | 'running' | 'paused';
}

export function loopButtons(o: LoopOptions): LoopControls {
  let state: LoopControls['state'] = 'idle';
  let runId = 0;
  let total = o.total();
  let pausedAt = -1;
  let lastIter = 0;
  /** Pause pressed, the worker not yet answered */
  let pausing = false;
  const show = (iteration: number, status: 'idle' | 'running' | 'paused' | 'pausing' | 'done' | 'error') => o.progress.update({ iteration, total, status, label: o.label });

  // Like common.ts's followLoop, but knowing the loop's state: the worker may finish the step it was
  // in after a pause was answered and report it, so a report while paused keeps 'paused' and
  // refreshes the views again (they must show the teacher as it stopped); reports of a loop this
  // helper stopped are ignored.
  let next = 0;
  o.lab.on('progress', (e) => {
    const p = e.progress;
    if (p.phase !== o.phase || state === 'idle') return;
    lastIter = p.iter;
    o.progress.update({ iteration: p.iter, total: p.total, loss: p.loss, itPerSec: p.itPerSec, etaSec: p.secondsLeft, status: pausing ? 'pausing' : state, label: o.label });
    if (state === 'paused') {
      if (p.iter !== pausedAt) {
        pausedAt = p.iter;
        o.onSettle?.('paused');
      }
    } else if (performance.now() > next) {
      next = performance.now() + (o.everyMs ?? 2500);
      o.onTick?.();
    }
  });
  o.lab.on('loss', (e) => e.phase === o.phase && o.loss.extendMany(e.iters, e.losses));

  const start = async () => {
    const id = ++runId;
    o.note('');
    try {
      await o.lab.call.stop();
      total = o.total();
      await o.prepare();
      await o.loss.clear();
      state = 'running';
      next = 0;
      const run = o.run();
      show(0, 'running');
      await run;
      if (id !== runId) return; // a newer run (or a stop) took over
      state = 'idle';
      const it = await o.iteration();
      const done = it >= total;
      show(it, done ? 'done' : 'idle');
      o.onSettle?.(done ? 'done' : 'stopped');
    } catch (e) {
      if (id !== runId) return;
      state = 'idle';
      o.note((e as Error).message, 'error');
      show(0, 'error');
    }
  };
  const pause = async () => {
    if (state !== 'running') return;
    // the worker answers once the step (or the live metric) in flight is done — seconds on MNIST: say so meanwhile
    pausing = true;
    show(lastIter, 'pausing');
    try {
      await o.lab.call.pause();
    } finally {
      pausing = false;
    }
    state = 'paused';
    pausedAt = await o.iteration();
    show(pausedAt, 'paused');
    o.onSettle?.('paused');
  };
  const resume = async () => {
    if (state !== 'paused') return;
    state = 'running';
    await o.lab.call.resume();
  };
  const stop = async () => {
    runId++;
    state = 'idle';
    await o.lab.call.stop();
    show(0, 'idle');
  };
  const [pl, pt, ph] = o.pause ?? ['Pause', 'pause'];
  const [rl, rt, rh] = o.resume ?? ['Resume', 'resume'];
  o.mount.append(
    button(o.start[0], o.start[1], () => void start(), o.start[2]),
    button(pl, pt, () => void pause(), ph),
    button(rl, rt, () => void resume(), rh),
  );
  return { start, pause, resume, stop, get state() { return state; } };
}

/** What a π-ID loop adds to the helper's options: the lab's distill call and the iteration count. */
export type DistillLab = LoopLab & {
  call: { status(): Promise<{ studentIteration: number }>; distill(iters: number, o: { metricEvery: number; metricCount: number }): Promise<unknown> };
};

/** The Distill / Pause / Resume buttons of a π-ID loop (the 2D and the MNIST notebooks): `iters()` iterations, a live metric every `metricEvery`. */
export function distillButtons(
  o: Omit<LoopOptions, 'phase' | 'label' | 'total' | 'iteration' | 'run' | 'start' | 'lab'> & { lab: DistillLab; iters: () => number; metricEvery: number; metricCount: number },
): LoopControls {
  const { lab, iters, metricEvery, metricCount, ...rest } = o;
  return loopButtons({
    ...rest,
    lab,
    phase: 'student',
    label: 'π-ID',
    total: iters,
    iteration: async () => (await lab.call.status()).studentIteration,
    run: () => lab.call.distill(iters(), { metricEvery, metricCount }),
    start: ['Distill', 'distill-student', 'distill a new student from the teacher with these settings'],
  });
}
