/**
 * The MNIST training worker: owns tfjs, the backend and the MnistLab, so training never blocks the
 * page. Assets (IDX files, classifier, pretrained models) are fetched from the page's own server;
 * checkpoints and the fallback after a lost GPU device are the host's (worker-host.ts).
 */
import { MnistLab } from './mnist-lab.js';
import type { MnistApi, MnistLoopOptions, MnistStatus } from './mnist-protocol.js';
import { parseMnist } from '../data/mnist.js';
import { fetchModelDir } from '../models/io-handlers.js';
import { commonStatus, modelApi, WorkerHost, type WorkerScope } from './worker-host.js';

const host = new WorkerHost(self as unknown as WorkerScope, () => new MnistLab());
/** what a restored lab needs besides its models */
let assets: { test?: Parameters<MnistLab['setTestData']>[0]; train?: Parameters<MnistLab['setTrainData']>[0]; classifier?: Awaited<ReturnType<typeof fetchModelDir>> } = {};

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

async function fetchSet(dataUrl: string, split: 'train' | 't10k') {
  const base = dataUrl.replace(/\/?$/, '/');
  const files = { images: `${base}${split}-images-idx3-ubyte`, labels: `${base}${split}-labels-idx1-ubyte` };
  const [images, labels] = await Promise.all([fetchBytes(files.images), fetchBytes(files.labels)]);
  return parseMnist(images, labels, files);
}

/** Gives a freshly created lab (after a device loss) the data and classifier the old one had. */
async function equip(lab: MnistLab): Promise<void> {
  if (assets.test) lab.setTestData(assets.test);
  if (assets.train) lab.setTrainData(assets.train);
  if (assets.classifier) await lab.setClassifier(assets.classifier.art, assets.classifier.base);
}

function status(): MnistStatus {
  const lab = host.lab;
  return {
    ...commonStatus(host),
    hasTrainData: lab.hasTrainData,
  };
}

/** Live classifier metrics of fresh samples every `metricEvery` iterations. */
function hooks(phase: 'teacher' | 'student', opts: MnistLoopOptions) {
  return host.loopHooks(phase, opts.metricEvery ?? 0, async (iter) => {
    const count = opts.metricCount ?? 200;
    const seed = 12345;
    const lab = host.lab;
    const samples = phase === 'teacher' ? await lab.teacherSamples(count, opts.metricSteps ?? 16, seed) : await lab.studentSamples(count, seed);
    return { event: 'metric', phase, iter, quality: await lab.quality(samples) };
  });
}

const api: { [K in keyof MnistApi]: (...args: Parameters<MnistApi[K]>) => Promise<ReturnType<MnistApi[K]>> | ReturnType<MnistApi[K]> } = {
  ...modelApi(host, hooks),
  status,
  async loadAssets(a) {
    const [test, classifier, teacher, student] = await Promise.all([
      fetchSet(a.data, 't10k'),
      fetchModelDir(a.classifier),
      fetchModelDir(a.teacher),
      a.student ? fetchModelDir(a.student).catch((e: Error) => e) : Promise.resolve(undefined),
    ]);
    assets = { ...assets, test, classifier };
    await equip(host.lab);
    await host.lab.loadTeacher(teacher.art, teacher.base);
    const notes: string[] = [];
    if (student instanceof Error) notes.push(`no pretrained student (${student.message}): distill one`);
    else if (student) await host.lab.loadStudent(student.art, student.base);
    await host.checkpoint();
    return { ...status(), notes };
  },
  async loadTrainData(dataUrl) {
    if (assets.train) return;
    assets.train = await fetchSet(dataUrl, 'train');
    host.lab.setTrainData(assets.train);
  },
  newTeacher: (cfg) => host.lab.newTeacher(cfg),
  teacherSamples: (count, steps, seed) => host.lab.teacherSamples(count, steps, seed),
  studentSamples: (count, seed, opts) => host.lab.studentSamples(count, seed, opts),
  dataSamples: (count, seed) => host.lab.dataSamples(count, seed),
  quality: (samples) => host.lab.quality(samples),
  testClassShares: () => host.lab.testClassShares(),
  paths: (count, seed, opts) => host.lab.paths(count, seed, opts),
};

host.onRestore = equip;
host.serve(api);
