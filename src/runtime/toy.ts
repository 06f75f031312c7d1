/**
 * The 2D adapter of the student core (student.ts): the tiny MLPs and the toy datasets — teacher
 * training, the 2D student as a policy factory, the 2D distiller and samplers. Shared by the CLI, the
 * benchmark and the browser's training worker. No DOM, no fs.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../engine/rng.js';
import { Times } from '../engine/time.js';
import { check } from '../engine/tensors.js';
import { Policy } from '../engine/policy.js';
import { forwardDiffusion, flowMatchingLoss } from '../engine/forward.js';
import { GuardedAdam, AdamConfig, StepStats } from '../engine/optim.js';
import { StudentPolicyFn } from '../engine/piid.js';
import { VelocityFn } from '../engine/sample.js';
import { familySize, familySizeFields, policyFamily } from '../engine/policies.js';
import { createToyNet, initStudentFromTeacher, MlpConfig, ToyNet } from '../models/mlp.js';
import { DATASETS_2D, PointSampler, sample2d } from '../data/toy2d.js';
import {
  DEFAULT_DISTILL, distillSize, DistillConfig, eulerSamples, piflowSamples, PolicyDistiller, StudentPolicyConfig, StudentSampleOptions,
  studentPolicyFrom,
} from './student.js';

export {
  DEFAULT_DISTILL, distillSize, eulerSamples, piflowSamples, policyConfigOf, PolicyDistiller, sampleInChunks, studentPolicyFrom,
  validateStudentPolicyConfig,
} from './student.js';
export type { DistillConfig, DistillerParts, StudentPolicyConfig, StudentSampleOptions } from './student.js';

/** A source of data batches: [n, 2] row-major. */
export type PointSource = (n: number, rng: Rng) => Float32Array;

export function datasetSource(name: string): PointSource {
  check((DATASETS_2D as readonly string[]).includes(name), `--dataset '${name}': unknown; allowed: ${DATASETS_2D.join(', ')}`);
  return (n, rng) => sample2d(name, n, rng);
}

export function pointsSource(points: Float32Array): PointSource {
  const s = new PointSampler(points);
  return (n, rng) => s.sample(n, rng);
}

/** The teacher as a velocity field u(x_t, σ_t): x [B, 2] → [B, 2]. */
export function teacherVelocity(net: ToyNet): VelocityFn {
  return (x, sigma) => net.apply(x as tf.Tensor2D, sigma);
}

/** The 2D student network as a policy factory: one evaluation at (x_src, σ_src) → its family's policy. */
export function studentPolicy(net: ToyNet, p: StudentPolicyConfig): StudentPolicyFn {
  const size = familySize(policyFamily(net.cfg.kind), net.cfg);
  return studentPolicyFrom((x, s) => ({ out: net.applyConstant(x as tf.Tensor2D, s) }), size, p);
}

export function trainableVars(net: ToyNet): tf.Variable[] {
  return net.model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

/** Teacher flow-matching training: σ ~ U[0,1), x_t = (1−σ)x₀ + σε, loss = mean (f(x_t, σ) − (ε − x₀))². */
export class TeacherTrainer {
  readonly optimizer: GuardedAdam;
  readonly rng: Rng;
  constructor(
    readonly net: ToyNet,
    readonly data: PointSource,
    readonly batch: number,
    adam: AdamConfig,
    seed: number,
  ) {
    check(Number.isInteger(batch) && batch >= 1, `batch must be an integer >= 1, got ${batch}`);
    this.optimizer = new GuardedAdam(adam);
    this.rng = new Rng(seed);
  }

  async step(): Promise<StepStats> {
    const B = this.batch;
    const x0 = tf.tensor2d(this.data(B, this.rng), [B, 2]);
    const noise = tf.tensor2d(this.rng.normalArray(2 * B), [B, 2]);
    const sigma: Times = this.rng.uniformArray(B);
    const { xT, u } = forwardDiffusion(x0, noise, sigma);
    x0.dispose();
    noise.dispose();
    try {
      return await this.optimizer.minimize(() => flowMatchingLoss(this.net.applyConstant(xT as tf.Tensor2D, sigma), u), trainableVars(this.net));
    } finally {
      xT.dispose();
      u.dispose();
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** A π-Flow student distilled from a teacher by π-ID on a 2D data source (DEFAULT_DISTILL under `cfg`). */
export class Distiller extends PolicyDistiller<ToyNet> {
  constructor(readonly teacher: ToyNet, data: PointSource, cfg: Partial<DistillConfig>, student?: ToyNet) {
    const c: DistillConfig = { ...DEFAULT_DISTILL, ...cfg, adam: { ...DEFAULT_DISTILL.adam, ...cfg.adam } };
    super(c, {
      create: (rng) => {
        const { k: _k, n: _n, ...trunk } = teacher.cfg;
        const scfg: MlpConfig = { ...trunk, kind: c.policy, ...familySizeFields(policyFamily(c.policy), distillSize(c)) };
        const net = createToyNet(scfg, rng.fork());
        initStudentFromTeacher(net.model, teacher.model, scfg, rng.fork());
        return net;
      },
      policy: studentPolicy,
      vars: trainableVars,
      teacher: teacherVelocity(teacher),
      data,
      shape: [2],
    }, student);
  }
}

/** Teacher Euler samples: [count, 2] on the host. */
export function sampleTeacher(net: ToyNet, count: number, steps: number, seed: number, chunk = 8192): Promise<Float32Array> {
  return eulerSamples(teacherVelocity(net), [2], count, steps, seed, chunk);
}

/** Student few-step samples: [count, 2] on the host. */
export function sampleStudent(net: ToyNet, p: StudentPolicyConfig, count: number, seed: number, o: StudentSampleOptions = {}): Promise<Float32Array> {
  return piflowSamples(studentPolicy(net, p), p, [2], count, seed, o, 8192);
}

export type { Policy };
