/**
 * The 2D training worker: owns tfjs, the backend and the Lab, so training never blocks the page.
 * Requests (lab-protocol.ts) run Lab operations; long loops stream progress, losses and live metrics;
 * checkpoints and the fallback after a lost GPU device are the host's (worker-host.ts).
 */
import { Lab } from './lab.js';
import type { LabApi, LoopOptions } from './lab-protocol.js';
import { fetchModelDir } from '../models/io-handlers.js';
import { precision } from '../metrics/modes.js';
import { isDatasetName } from '../../datasets/index.js';
import { commonStatus, modelApi, WorkerHost, type WorkerScope } from './worker-host.js';

const host = new WorkerHost(self as unknown as WorkerScope, () => new Lab());

/** The live metric: sliced W1 of fresh samples to data, every `metricEvery` iterations. */
function hooks(phase: 'teacher' | 'student', opts: LoopOptions) {
  return host.loopHooks(phase, opts.metricEvery ?? 0, async (iter) => {
    const count = opts.metricCount ?? 2000;
    const seed = 12345;
    const lab = host.lab;
    const samples =
      phase === 'teacher'
        ? await lab.teacherSamples(count, opts.metricSteps ?? 32, seed)
        : await lab.studentSamples(count, seed, { nfe: opts.metricNfe });
    return { event: 'metric', phase, iter, swd: lab.swd(samples, seed) };
  });
}

const api: { [K in keyof LabApi]: (...args: Parameters<LabApi[K]>) => Promise<ReturnType<LabApi[K]>> | ReturnType<LabApi[K]> } = {
  ...modelApi(host, hooks),
  status: () => {
    const lab = host.lab;
    return {
      ...commonStatus(host),
      dataName: lab.dataName,
    };
  },
  setData: (spec) => host.lab.setData(spec),
  newTeacher: (cfg) => host.lab.newTeacher(cfg),
  async loadTeacherUrl(url) {
    const { art, base } = await fetchModelDir(url);
    await host.lab.loadTeacher(art, base);
    await host.checkpoint();
  },
  async loadStudentUrl(url) {
    const { art, base } = await fetchModelDir(url);
    await host.lab.loadStudent(art, base);
    await host.checkpoint();
  },
  teacherSamples: (count, steps, seed) => host.lab.teacherSamples(count, steps, seed),
  studentSamples: (count, seed, opts) => host.lab.studentSamples(count, seed, opts),
  dataSamples: (count, seed) => host.lab.dataSamples(count, seed),
  swd: (samples, seed, projections) => host.lab.swd(samples, seed, projections),
  precision: (samples) => (isDatasetName(host.lab.dataName) ? precision(samples, host.lab.dataName) : NaN),
  teacherPaths: (noise, steps) => host.lab.teacherPaths(noise, steps),
  policyPaths: (noise, opts) => host.lab.policyPaths(noise, opts),
  field: (sigma, n, extent) => host.lab.field(sigma, n, extent),
  density: (points, n, extent) => host.lab.density(points, n, extent),
};

host.serve(api);
