/**
 * The training worker: owns tfjs, the backend and the Lab, so training never blocks the page.
 * Requests (lab-protocol.ts) run Lab operations; long loops stream progress, losses (batched per
 * progress tick) and live metrics. The worker keeps a host copy of the models every few seconds: if the
 * GPU device is lost it falls back to the next backend and restores them, then tells the page.
 */
import * as tf from '@tensorflow/tfjs';
import { chooseBackend, describeBackend, fallBackAfterLoss, onDeviceLost, simulateDeviceLoss, type BackendChoice } from './backend.js';
import { Lab, type DataSpec, type Progress } from './lab.js';
import type { BackendInfo, LabApi, LabEvent, LabRequest, LabResponse, LoopOptions } from './lab-protocol.js';
import type { ToyNetArtifacts } from '../models/artifacts.js';
import { fromModelArtifacts, toModelArtifacts } from '../models/io-handlers.js';

const scope = self as unknown as {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<LabRequest>) => void) | null;
};

let lab = new Lab();
let backend: BackendInfo = { name: 'none', fellBackFrom: [] };
let dataSpec: DataSpec = { kind: 'builtin', name: 'checkerboard' };
const lastGood: { teacher?: ToyNetArtifacts; student?: ToyNetArtifacts; at: number } = { at: 0 };
const CHECKPOINT_MS = 5000;

function post(m: LabEvent | LabResponse, transfer: Transferable[] = []): void {
  scope.postMessage(m, transfer);
}

function info(c: BackendChoice): BackendInfo {
  return { name: c.name, fellBackFrom: c.fellBackFrom, reason: c.reason ?? describeBackend(c) };
}

async function checkpoint(): Promise<void> {
  lastGood.at = performance.now();
  if (lab.teacher) lastGood.teacher = await lab.saveTeacher();
  if (lab.student) lastGood.student = await lab.saveStudent();
}

/** set while a lost device is being replaced; loops wait for it and then go on */
let restoring: Promise<void> | null = null;

/** Starts the fallback once per lost backend (the loss event and a failing op may both report it). */
function startRestore(loss: { backend: BackendChoice['name']; message: string }): Promise<void> {
  if (!restoring && backend.name === loss.backend) restoring = restore(loss).finally(() => (restoring = null));
  return restoring ?? Promise.resolve();
}

onDeviceLost((loss) => void startRestore(loss));

/** A GPU op that failed because its device or context is gone (it can report before the loss event). */
function isDeviceLoss(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return (backend.name === 'webgpu' || backend.name === 'webgl') &&
    /unmapped before mapping|device (is |was )?(lost|destroyed)|destroyed device|context (is |was )?lost|CONTEXT_LOST/i.test(m);
}

async function restore(loss: { backend: BackendChoice['name']; message: string }): Promise<void> {
  try {
    const choice = await fallBackAfterLoss(loss.backend);
    backend = info(choice);
    lab.stop();
    lab = new Lab();
    lab.setData(dataSpec);
    const restored: string[] = [];
    if (lastGood.teacher) {
      await lab.loadTeacher(lastGood.teacher, 'last good teacher');
      restored.push('teacher');
    }
    if (lastGood.student) {
      await lab.loadStudent(lastGood.student, 'last good student');
      restored.push('student');
    }
    post({ event: 'backend', backend, restored: `${loss.message}; restored ${restored.join(' and ') || 'nothing'} on ${backend.name}, going on from the last good state` });
  } catch (e) {
    post({ event: 'log', message: `device lost and no fallback: ${(e as Error).message}` });
  }
}

/**
 * Runs a training loop; if the GPU device is lost meanwhile, waits for the fallback backend and the
 * restored models, then goes on with the loop from the last good state.
 */
async function resilient(run: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await run();
      if (!restoring) return;
    } catch (e) {
      if (!restoring && isDeviceLoss(e)) void startRestore({ backend: backend.name as BackendChoice['name'], message: (e as Error).message });
      if (!restoring || attempt > 2) throw e;
    }
    await restoring;
  }
}

function loopHooks(phase: 'teacher' | 'student', opts: LoopOptions) {
  let iters: number[] = [];
  let losses: number[] = [];
  const flush = () => {
    if (iters.length === 0) return;
    post({ event: 'loss', phase, iters, losses });
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
      post({ event: 'progress', progress: p });
      if (performance.now() - lastGood.at > CHECKPOINT_MS) {
        checkpoint().catch((e) => post({ event: 'log', message: `checkpoint failed: ${(e as Error).message}` }));
      }
    },
    metricEvery: opts.metricEvery ?? 0,
    onMetric: async (iter: number) => {
      const count = opts.metricCount ?? 2000;
      const seed = 12345;
      const samples =
        phase === 'teacher'
          ? await lab.teacherSamples(count, opts.metricSteps ?? 32, seed)
          : await lab.studentSamples(count, seed, { nfe: opts.metricNfe });
      flush();
      post({ event: 'metric', phase, iter, swd: lab.swd(samples, seed) });
    },
    progressMs: 100,
    yieldMs: 25,
  };
}

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

const api: { [K in keyof LabApi]: (...args: Parameters<LabApi[K]>) => Promise<ReturnType<LabApi[K]>> | ReturnType<LabApi[K]> } = {
  async init(name?: string) {
    backend = info(await chooseBackend(name));
    return backend;
  },
  status: () => ({
    backend,
    dataName: lab.dataName,
    teacher: lab.teacher?.cfg ?? null,
    teacherIteration: lab.teacherIteration,
    student: lab.student?.cfg ?? null,
    studentPolicy: lab.studentPolicy,
    studentIteration: lab.studentIteration,
    running: lab.running,
    paused: lab.isPaused,
  }),
  setData(spec) {
    lab.setData(spec);
    dataSpec = spec;
  },
  newTeacher: (cfg) => lab.newTeacher(cfg),
  async trainTeacher(opts) {
    await checkpoint(); // a last good state exists before the first step
    await resilient(() => lab.trainTeacher(loopHooks('teacher', opts), opts.steps));
    await checkpoint();
  },
  async loadTeacher(art, name) {
    await lab.loadTeacher(art, name);
    await checkpoint();
  },
  async loadTeacherUrl(url) {
    const base = url.replace(/\/?$/, '/');
    const [modelJson, file, weights] = await Promise.all([
      fetchOk(base + 'model.json').then((r) => r.json()),
      fetchOk(base + 'config.json').then((r) => r.json()),
      fetchOk(base + 'weights.bin').then((r) => r.arrayBuffer()),
    ]);
    await lab.loadTeacher({ modelJson, weights, file }, base);
    await checkpoint();
  },
  saveTeacher: () => lab.saveTeacher(),
  newStudent: (cfg) => lab.newStudent(cfg),
  async distill(iters, opts) {
    await checkpoint(); // the fresh student is a last good state before the first iteration
    const target = lab.studentIteration + iters;
    await resilient(() => lab.distill(Math.max(target - lab.studentIteration, 1), loopHooks('student', opts)));
    await checkpoint();
  },
  async loadStudent(art, name) {
    await lab.loadStudent(art, name);
    await checkpoint();
  },
  saveStudent: () => lab.saveStudent(),
  pause: () => lab.pause(),
  resume: () => lab.resume(),
  stop: () => lab.stop(),
  teacherSamples: (count, steps, seed) => lab.teacherSamples(count, steps, seed),
  studentSamples: (count, seed, opts) => lab.studentSamples(count, seed, opts),
  dataSamples: (count, seed) => lab.dataSamples(count, seed),
  swd: (samples, seed, projections) => lab.swd(samples, seed, projections),
  teacherPaths: (noise, steps) => lab.teacherPaths(noise, steps),
  policyPaths: (noise, opts) => lab.policyPaths(noise, opts),
  field: (sigma, n, extent) => lab.field(sigma, n, extent),
  density: (points, n, extent) => lab.density(points, n, extent),
  simulateDeviceLoss: () => simulateDeviceLoss(),
  async saveToBrowser(which, key) {
    const art = which === 'teacher' ? await lab.saveTeacher() : await lab.saveStudent();
    const [handler] = tf.io.getSaveHandlers(`indexeddb://${key}`);
    if (!handler?.save) throw new Error('browser storage (IndexedDB) is not available here');
    await handler.save(toModelArtifacts(art));
  },
  async loadFromBrowser(which, key) {
    const handlers = tf.io.getLoadHandlers(`indexeddb://${key}`);
    if (handlers.length === 0 || !handlers[0].load) throw new Error('browser storage (IndexedDB) is not available here');
    let m: tf.io.ModelArtifacts;
    try {
      m = await handlers[0].load();
    } catch (e) {
      throw new Error(`nothing saved in this browser under '${key}' (${(e as Error).message})`);
    }
    const art = fromModelArtifacts(m);
    if (which === 'teacher') await lab.loadTeacher(art, `browser storage '${key}'`);
    else await lab.loadStudent(art, `browser storage '${key}'`);
    await checkpoint();
  },
};

/** Buffers of typed arrays in a value, to transfer instead of copy. */
function transferables(v: unknown, out: Transferable[] = [], seen = new Set<unknown>()): Transferable[] {
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

scope.onmessage = async (e: MessageEvent<LabRequest>) => {
  const { id, method, args } = e.data;
  try {
    const fn = api[method] as ((...a: unknown[]) => unknown) | undefined;
    if (!fn) throw new Error(`unknown operation '${method}'`);
    const value = await fn(...args);
    post({ id, ok: true, value }, transferables(value));
  } catch (err) {
    post({ id, ok: false, error: (err as Error).message ?? String(err) });
  }
};
