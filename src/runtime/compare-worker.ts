/**
 * The comparison worker: owns tfjs, the backend and the CompareLab (compare-lab.ts), so that the race
 * of π-Flow and the baselines never blocks the page. Progress and the loop's losses stream as events;
 * a checkpoint (data, teacher, race settings) is kept for the fallback after a lost GPU device
 * (worker-host.ts).
 */
import { CompareLab } from './compare-lab.js';
import type { CompareApi } from './compare-protocol.js';
import { fetchModelDir } from '../models/io-handlers.js';
import { simulateDeviceLoss } from './backend.js';
import { WorkerHost, type WorkerScope } from './worker-host.js';

const host = new WorkerHost(self as unknown as WorkerScope, () => new CompareLab());

/** Stops a running loop and waits until it has left its current round. */
async function stopAndWait(): Promise<void> {
  host.lab.stop();
  while (host.lab.running !== 'idle') await new Promise((r) => setTimeout(r, 5));
}

const api: { [K in keyof CompareApi]: (...args: Parameters<CompareApi[K]>) => Promise<ReturnType<CompareApi[K]>> | ReturnType<CompareApi[K]> } = {
  init: (name, threads) => host.init(name, threads),
  status: () => {
    const lab = host.lab;
    return {
      backend: host.backend,
      dataName: lab.dataName,
      teacher: lab.teacher?.cfg ?? null,
      config: lab.config,
      round: lab.rounds,
      methods: lab.methods(),
      running: lab.running,
      paused: lab.isPaused,
      quiet: !lab.stepping && lab.evaluating === 0,
      tensors: lab.tensors(),
    };
  },
  async setData(name) {
    await stopAndWait();
    host.lab.setData(name);
  },
  async loadTeacherUrl(url) {
    await stopAndWait();
    const { art, base } = await fetchModelDir(url);
    await host.lab.loadTeacher(art, base);
    await host.checkpoint();
  },
  async newRace(cfg) {
    await stopAndWait();
    host.lab.newRace(cfg);
    await host.checkpoint();
  },
  race: () => host.resilient(() => host.lab.race(host.loopHooks('student', 0))),
  pause: () => host.lab.pause(),
  resume: () => host.lab.resume(),
  stop: () => host.lab.stop(),
  async reset() {
    await stopAndWait();
    host.lab.reset();
    await host.checkpoint();
  },
  evaluate: (count, seed, nfe) => host.lab.evaluate(count, seed, nfe),
  saveStudent: (method) => host.lab.saveStudent(method),
  simulateDeviceLoss: () => simulateDeviceLoss(),
};

host.serve(api);
