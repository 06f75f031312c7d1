/**
 * The model commands, routed by layout in one place (common.ts `layoutOf`): 2D points to train.ts,
 * MNIST images to mnist.ts (loaded only when needed). Neither module imports the other.
 */
import { layoutOf } from './common.js';
import { HelpRequested } from './args.js';
import * as points from './train.js';

/** Runs the layout's command; a `--help` learns which layout's options it lists. */
async function routed(argv: string[], layout: 'points' | 'images', run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof HelpRequested) e.layout = layout;
    throw e;
  }
}

async function images() {
  return import('./mnist.js');
}

export async function trainTeacherCommand(argv: string[]): Promise<number> {
  const l = await layoutOf(argv);
  return routed(argv, l, async () => (l === 'images' ? (await images()).trainTeacherMnistCommand(argv) : points.trainTeacherCommand(argv)));
}

export async function distillCommand(argv: string[]): Promise<number> {
  const l = await layoutOf(argv, 'teacher');
  return routed(argv, l, async () => (l === 'images' ? (await images()).distillMnistCommand(argv) : points.distillCommand(argv)));
}

export async function sampleCommand(argv: string[]): Promise<number> {
  const l = await layoutOf(argv, 'model');
  return routed(argv, l, async () => (l === 'images' ? (await images()).sampleMnistCommand(argv) : points.sampleCommand(argv)));
}

export async function evaluateCommand(argv: string[]): Promise<number> {
  const l = await layoutOf(argv, 'model');
  return routed(argv, l, async () => (l === 'images' ? (await images()).evaluateMnistCommand(argv) : points.evaluateCommand(argv)));
}

export async function trainClassifierCommand(argv: string[]): Promise<number> {
  return (await images()).trainClassifierCommand(argv);
}
