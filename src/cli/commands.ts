/**
 * The model commands, routed by layout in one place (common.ts `layoutOf`): 2D points to train.ts,
 * MNIST images to mnist.ts (loaded only when needed). Neither module imports the other.
 */
import { layoutOf } from './common.js';
import * as points from './train.js';

async function images() {
  return import('./mnist.js');
}

export async function trainTeacherCommand(argv: string[]): Promise<number> {
  return (await layoutOf(argv)) === 'images' ? (await images()).trainTeacherMnistCommand(argv) : points.trainTeacherCommand(argv);
}

export async function distillCommand(argv: string[]): Promise<number> {
  return (await layoutOf(argv, 'teacher')) === 'images' ? (await images()).distillMnistCommand(argv) : points.distillCommand(argv);
}

export async function sampleCommand(argv: string[]): Promise<number> {
  return (await layoutOf(argv, 'model')) === 'images' ? (await images()).sampleMnistCommand(argv) : points.sampleCommand(argv);
}

export async function evaluateCommand(argv: string[]): Promise<number> {
  return (await layoutOf(argv, 'model')) === 'images' ? (await images()).evaluateMnistCommand(argv) : points.evaluateCommand(argv);
}

export async function trainClassifierCommand(argv: string[]): Promise<number> {
  return (await images()).trainClassifierCommand(argv);
}
