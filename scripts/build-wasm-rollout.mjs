#!/usr/bin/env node
// Builds the SIMD wasm GMFlow rollouts for 2D points and one-channel images (src/engine/wasm-rollout.ts
// runs them) from the WebAssembly text below, with wabt's assembler (a dev dependency), into
// src/engine/wasm-rollout-module.ts (the module as base64: ~8 KB, committed so that a build needs no
// assembler). `--check` exits 1 when the committed file differs from what this script builds (a test
// runs it). It imports the softmax's slack from dist: run `npm run build` first.
//
// `rollout2` is `gmflowRolloutHost2` (src/engine/fused.ts) with four samples per f32x4 vector (lanes =
// samples; a sample's components one after another, two interleaved chains): per substep the logits,
// the one-pass softmax shifted by the previous substep's maximum (redone max-subtracted, for the four
// lanes, when a lane's maximum moved beyond SHIFT_SLACK), the weighted sums of the means, all in
// float32; the per-sample coefficients, the posterior mean's last step and the state in float64, as in
// the JS loop. exp in float32: e^a = 2^n·e^r, n = round(a/ln 2), r = a − n·ln 2 (ln 2 split so that n·C1
// is exact), e^r = 1 + r + r²·P(r) with Cephes expf's P (about 1 ulp); a < EXP32_MIN gives 0 (such a
// weight is below e^−37 of the largest, as the slack keeps the largest above e^−50). Frozen samples
// (coefficient flag 0 from a substep on) keep their state by a lane mask; a group of four runs until
// all its lanes are frozen. `rollout1` is `gmflowRolloutHost1` (C = 1) the same way with four pixels of
// one sample a vector (they share the sample's coefficients: no masks). Against the float64 JS loops:
// ~2e−7 (float32 rounding of the logits and sums).
import { fileURLToPath } from 'node:url';
import { assemble, writeOrCheck } from './wasm-build.mjs';
// the softmax's slack, from the JS loop itself (build first: npm run build)
import { SHIFT_SLACK } from '../dist/src/engine/fused.js';

const OUT = fileURLToPath(new URL('../src/engine/wasm-rollout-module.ts', import.meta.url));
const f32 = (x) => (Object.is(x, -Infinity) ? '-inf' : Object.is(x, Infinity) ? 'inf' : Number.isNaN(x) ? 'nan' : Math.fround(x).toPrecision(9));
const sp = (x) => `(v128.const f32x4 ${f32(x)} ${f32(x)} ${f32(x)} ${f32(x)})`;
const sp64 = (x) => `(v128.const f64x2 ${x.toPrecision(17)} ${x.toPrecision(17)})`;
const SLACK32 = SHIFT_SLACK;
// the shifted weights stay finite (e^slack times up to 1024 components) and the floor far below the largest weight
if (!(SLACK32 + Math.log(1024) < 88 && 87 - SLACK32 > 30)) throw new Error(`SHIFT_SLACK ${SHIFT_SLACK} does not fit float32's exp range`);
const EXP32_MIN = -87; // e^-87 ~ 1.6e-38: float32's smallest normals
const MAGIC32 = 12582912; // 1.5*2^23: (y + M) - M rounds y to the nearest integer in float32 (|y| < 2^22)
const EXP_C = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]; // Cephes expf
const I127 = 127 - 0x400000; // (bits of y + M) + I127, shifted left 23: the exponent field of 2^round(y)

/** e^(arg) for the four lanes of an f32x4 expression (locals suffixed `u`); leaves the result on the stack. */
function exp32(arg, u) {
  // e^a = 2^n * e^r, n = round(a/ln2), r = a - n ln2 (ln2 split: n*C1 exact), e^r = 1 + r + r^2 P(r) (Cephes expf's P);
  // no clamps: a < EXP32_MIN gives 0 through the mask, a > 88 garbage that only far-moved (redone) lanes see
  const pr = (a, b) => `(f32x4.add (f32x4.mul (local.get $fr${u}) ${sp(EXP_C[a])}) ${sp(EXP_C[b])})`;
  return `
          (local.set $fx${u} ${arg})
          (local.set $fkb${u} (f32x4.add (f32x4.mul (local.get $fx${u}) ${sp(1 / Math.LN2)}) ${sp(MAGIC32)}))
          (local.set $fn${u} (f32x4.sub (local.get $fkb${u}) ${sp(MAGIC32)}))
          (local.set $fr${u} (f32x4.sub (f32x4.sub (local.get $fx${u}) (f32x4.mul (local.get $fn${u}) ${sp(0.693359375)}))
                                    (f32x4.mul (local.get $fn${u}) ${sp(-2.12194440e-4)})))
          (local.set $fr2${u} (f32x4.mul (local.get $fr${u}) (local.get $fr${u})))
          (v128.andnot
            (f32x4.mul
              (f32x4.add (f32x4.add (local.get $fr${u}) ${sp(1)})
                (f32x4.mul (local.get $fr2${u})
                  (f32x4.add (f32x4.add ${pr(4, 5)} (f32x4.mul (local.get $fr2${u}) ${pr(2, 3)}))
                    (f32x4.mul (f32x4.mul (local.get $fr2${u}) (local.get $fr2${u})) ${pr(0, 1)}))))
              (i32x4.shl (i32x4.add (local.get $fkb${u}) (v128.const i32x4 ${I127} ${I127} ${I127} ${I127})) (i32.const 23)))
            (f32x4.lt (local.get $fx${u}) ${sp(EXP32_MIN)}))`;
}

// component k's rows at $pc: l, mu0, mu1, h (4 lanes each); one channel (C = 1): l, mu0, -, h
const logit = (u, off, C = 2) => `(f32x4.sub
            ${C === 2 ? `(f32x4.add (f32x4.add (v128.load offset=${off} (local.get $pc))
                                  (f32x4.mul (local.tee $fm0${u} (v128.load offset=${off + 16} (local.get $pc))) (local.get $vq0)))
                       (f32x4.mul (local.tee $fm1${u} (v128.load offset=${off + 32} (local.get $pc))) (local.get $vq1)))`
    : `(f32x4.add (v128.load offset=${off} (local.get $pc)) (f32x4.mul (local.tee $fm0${u} (v128.load offset=${off + 16} (local.get $pc))) (local.get $vq0)))`}
            (f32x4.mul (local.get $vz) (v128.load offset=${off + 48} (local.get $pc))))`;

const body = (u, off, withMax, C) => `
          (local.set $vt${u} ${logit(u, off, C)})
          ${withMax ? `(local.set $vmx${u} (f32x4.pmax (local.get $vmx${u}) (local.get $vt${u})))` : ''}
          (local.set $ve${u} ${exp32(`(f32x4.sub (local.get $vt${u}) (local.get $vsh))`, u)})
          (local.set $vs${u} (f32x4.add (local.get $vs${u}) (local.get $ve${u})))
          (local.set $va0${u} (f32x4.add (local.get $va0${u}) (f32x4.mul (local.get $ve${u}) (local.get $fm0${u}))))
          ${C === 2 ? `(local.set $va1${u} (f32x4.add (local.get $va1${u}) (f32x4.mul (local.get $ve${u}) (local.get $fm1${u}))))` : ''}`;

const ZERO = '(v128.const i64x2 0 0)';
// the sums over the components (two interleaved chains, components k and k + 1), with the running maximum when withMax
const sums = (withMax, C = 2) => `
        (local.set $vs ${ZERO}) (local.set $va0 ${ZERO}) (local.set $va1 ${ZERO})
        (local.set $vsb ${ZERO}) (local.set $va0b ${ZERO}) (local.set $va1b ${ZERO})
        ${withMax ? `(local.set $vmx ${sp(-Infinity)}) (local.set $vmxb ${sp(-Infinity)})` : ''}
        (local.set $pc (local.get $pscr))
        (block $done (loop $comp
          (br_if $done (i32.ge_u (local.get $pc) (local.get $pend)))
          ${body('', 0, withMax, C)}
          ${body('b', 64, withMax, C)}
          (local.set $pc (i32.add (local.get $pc) (i32.const 128)))
          (br $comp)))
        (local.set $vs (f32x4.add (local.get $vs) (local.get $vsb)))
        (local.set $va0 (f32x4.add (local.get $va0) (local.get $va0b)))
        (local.set $va1 (f32x4.add (local.get $va1) (local.get $va1b)))
        ${withMax ? '(local.set $vmx (f32x4.pmax (local.get $vmx) (local.get $vmxb)))' : ''}`;


/** a substep's softmax sums ($vs, $va0, $va1) and maximum ($vmx, the next shift), per lane: one pass shifted by the
 * previous maximum ($shift), the lanes redone max-subtracted when one of the active ($act) moved beyond the slack */
const softmax = (C) => `
        (local.set $need (i32.eqz (local.get $j))) ;; the first substep: the max-subtracted passes
        (if (local.get $j) (then
          (local.set $vsh (local.get $shift))
          ${sums(true, C)}
          (local.set $ok (v128.and (f32x4.le (f32x4.sub (local.get $vmx) (local.get $shift)) ${sp(SLACK32)})
                                   (f32x4.ge (f32x4.sub (local.get $vmx) (local.get $shift)) ${sp(-SLACK32)})))
          (local.set $m (v128.andnot (local.get $act) (local.get $ok)))
          (if (v128.any_true (local.get $m)) (then
            (local.set $redos (i32.add (local.get $redos) (i32.popcnt (i32x4.bitmask (local.get $m)))))
            (local.set $need (i32.const 1))))))
        (if (local.get $need) (then
          ;; a far-moved maximum in a lane (or the first substep, or non-finite logits): all four max-subtracted
          (local.set $vmx ${sp(-Infinity)})
          (local.set $pc (local.get $pscr))
          (block $maxDone (loop $maxLoop
            (br_if $maxDone (i32.ge_u (local.get $pc) (local.get $pend)))
            (local.set $vmx (f32x4.pmax (local.get $vmx) ${logit('', 0, C)}))
            (local.set $pc (i32.add (local.get $pc) (i32.const 64)))
            (br $maxLoop)))
          (local.set $vsh (local.get $vmx))
          ${sums(false, C)}))
        (local.set $shift (local.get $vmx))`;

// f64x2 of the f64 at byte offsets a, b
const pair = (a, b) => `(f64x2.replace_lane 1 (f64x2.splat (f64.load ${a})) (f64.load ${b}))`;
// f32x4 of two f64x2 (rounded)
const join = (lo, hi) => `(i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero ${lo}) (f32x4.demote_f64x2_zero ${hi}))`;
const lo64 = (v) => `(f64x2.promote_low_f32x4 ${v})`;
const hi64 = (v) => `(f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 ${v} ${v}))`;

/** stores lane i's state (x0 from $x0a/$x0b, x1 likewise) at output state `jj` when sample b + i < B */
const store = (jj) => `
        (local.set $po (i32.add (local.get $pout) (i32.shl (i32.add (i32.mul ${jj} (local.get $NS)) (i32.shl (local.get $b) (i32.const 1))) (i32.const 2))))
        (f32.store (local.get $po) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $x0a))))
        (f32.store offset=4 (local.get $po) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $x1a))))
        (if (i32.lt_u (i32.add (local.get $b) (i32.const 1)) (local.get $B)) (then
          (f32.store offset=8 (local.get $po) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $x0a))))
          (f32.store offset=12 (local.get $po) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $x1a))))))
        (if (i32.lt_u (i32.add (local.get $b) (i32.const 2)) (local.get $B)) (then
          (f32.store offset=16 (local.get $po) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $x0b))))
          (f32.store offset=20 (local.get $po) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $x1b))))))
        (if (i32.lt_u (i32.add (local.get $b) (i32.const 3)) (local.get $B)) (then
          (f32.store offset=24 (local.get $po) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $x0b))))
          (f32.store offset=28 (local.get $po) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $x1b))))))`;

// the x update of one half (a: lanes 0, 1; b: lanes 2, 3) with mask m (i64x2): frozen lanes keep their state
const update = (h, sum, s0, s1, m) => `
        (local.set $inv (f64x2.div ${sp64(1)} ${sum}))
        (local.set $x0${h} (v128.bitselect
          (f64x2.add (local.get $x0${h}) (f64x2.mul (f64x2.sub (local.get $x0${h})
            (f64x2.mul (f64x2.add (f64x2.mul (local.get $v${h}) (local.get $nu0${h})) (f64x2.mul ${s0} (local.get $inv))) (local.get $invDen${h}))) (local.get $cdt${h})))
          (local.get $x0${h}) ${m}))
        (local.set $x1${h} (v128.bitselect
          (f64x2.add (local.get $x1${h}) (f64x2.mul (f64x2.sub (local.get $x1${h})
            (f64x2.mul (f64x2.add (f64x2.mul (local.get $v${h}) (local.get $nu1${h})) (f64x2.mul ${s1} (local.get $inv))) (local.get $invDen${h}))) (local.get $cdt${h})))
          (local.get $x1${h}) ${m}))`;

// the per-lane scalars of one half at substep j: cx, zeta, cdt from coef rows of samples b + i0, b + i0 + 1
const coefs = (h, i0) => {
  const at = (i, off) => `(i32.add (local.get $o) (i32.const ${i * 32 + off}))`;
  return `
        (local.set $cx${h} ${pair(at(i0, 0), at(i0 + 1, 0))})
        (local.set $zeta${h} ${pair(at(i0, 8), at(i0 + 1, 8))})
        (local.set $cdt${h} ${pair(at(i0, 16), at(i0 + 1, 16))})
        (local.set $invDen${h} (f64x2.div ${sp64(1)} (f64x2.max (f64x2.add (f64x2.mul (local.get $v${h}) (local.get $zeta${h})) ${sp64(1)}) (f64x2.splat (local.get $eps)))))
        (local.set $nu0${h} (f64x2.sub (f64x2.mul (local.get $cx${h}) (local.get $x0${h})) (local.get $xr0${h})))
        (local.set $nu1${h} (f64x2.sub (f64x2.mul (local.get $cx${h}) (local.get $x1${h})) (local.get $xr1${h})))`;
};

const v128s = (names) => names.map((n) => `(local $${n} v128)`).join(' ');


/** after a sample's (or group's) substeps: with `every` the states j + 1 … steps repeat the last (frozen), else state 0 is the end */
const frozenTail = (put) => `
      (local.set $k (select (i32.add (local.get $j) (i32.const 1)) (i32.const 0) (local.get $every)))
      (block $tailDone (loop $tail
        (br_if $tailDone (i32.gt_u (local.get $k) (local.get $last)))
        ${put('(local.get $k)')}
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tail)))`;

// the one-channel rollout (fused.ts gmflowRolloutHost1: single-channel images), four pixels of a sample a vector
const store1 = (jj) => `
        (v128.store (i32.add (local.get $pout) (i32.shl (i32.add (i32.mul ${jj} (local.get $NS)) (local.get $idx)) (i32.const 2)))
          ${join('(local.get $x0a)', '(local.get $x0b)')})`;
const update1 = (h, sum, s0) => `
        (local.set $inv (f64x2.div ${sp64(1)} ${sum}))
        (local.set $x0${h} (f64x2.add (local.get $x0${h}) (f64x2.mul (f64x2.sub (local.get $x0${h})
          (f64x2.mul (f64x2.add (f64x2.mul (local.get $vv) (local.get $nu0${h})) (f64x2.mul ${s0} (local.get $inv))) (local.get $vinvDen))) (local.get $vcdt))))`;
const rollout1 = `
  ;; The one-channel GMFlow rollout (fused.ts gmflowRolloutHost1), four pixels of a sample a vector (S a multiple of 4):
  ;; x, xs: f32 [B, S]; mu, lw: f32 [B, K, S]; gv: f32 [B]; ra: f64 [B]; coef: f64 [steps, B, 4]; out: f32 [(every ? steps + 1 : 1), B, S];
  ;; scr: 64*(K+1) bytes, 16-aligned. The pixels of a sample share its coefficients (no lane masks); returns the redone count.
  (func (export "rollout1")
    (param $B i32) (param $K i32) (param $S i32) (param $steps i32) (param $every i32) (param $eps f64)
    (param $px i32) (param $pxs i32) (param $pmu i32) (param $plw i32) (param $pgv i32) (param $pra i32)
    (param $pcoef i32) (param $pout i32) (param $pscr i32)
    (result i32)
    (local $b i32) (local $s i32) (local $idx i32) (local $j i32) (local $k i32) (local $o i32) (local $pc i32) (local $pend i32)
    (local $NS i32) (local $last i32) (local $redos i32) (local $need i32)
    (local $v f64) (local $ra f64) (local $zeta f64) (local $invDen f64)
    ${v128s(['x0a', 'x0b', 'xr0a', 'xr0b', 'vv', 'vcx', 'vcdt', 'vinvDen', 'nu0a', 'nu0b', 'inv', 'act', 'shift', 'vq0', 'vz', 'vsh', 'ok', 'm', 'mu',
    'vs', 'va0', 'va1', 'vsb', 'va0b', 'va1b', 'vmx', 'vmxb',
    ...['', 'b'].flatMap((u) => ['fx', 'fkb', 'fn', 'fr', 'fr2', 'fm0', 'fm1', 'vt', 've'].map((n) => n + u))])}
    (local.set $NS (i32.mul (local.get $B) (local.get $S)))
    (local.set $last (select (local.get $steps) (i32.const 0) (local.get $every)))
    (local.set $act (v128.const i32x4 -1 -1 -1 -1)) ;; the four pixels run together
    (local.set $pend (i32.add (local.get $pscr) (i32.shl (i32.and (i32.add (local.get $K) (i32.const 1)) (i32.const -2)) (i32.const 6))))
    (if (i32.and (local.get $K) (i32.const 1)) (then
      (local.set $pc (i32.add (local.get $pscr) (i32.shl (local.get $K) (i32.const 6))))
      (v128.store (local.get $pc) ${sp(-Infinity)})
      (v128.store offset=16 (local.get $pc) ${ZERO})
      (v128.store offset=48 (local.get $pc) ${ZERO})))
    (local.set $b (i32.const 0))
    (block $samplesDone (loop $sample
      (br_if $samplesDone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $v (f64.promote_f32 (f32.load (i32.add (local.get $pgv) (i32.shl (local.get $b) (i32.const 2))))))
      (local.set $vv (f64x2.splat (local.get $v)))
      (local.set $ra (f64.load (i32.add (local.get $pra) (i32.shl (local.get $b) (i32.const 3)))))
      (local.set $s (i32.const 0))
      (block $pixelsDone (loop $pixels
        (br_if $pixelsDone (i32.ge_u (local.get $s) (local.get $S)))
        (local.set $idx (i32.add (i32.mul (local.get $b) (local.get $S)) (local.get $s)))
        (local.set $m (v128.load (i32.add (local.get $px) (i32.shl (local.get $idx) (i32.const 2)))))
        (local.set $x0a ${lo64('(local.get $m)')})
        (local.set $x0b ${hi64('(local.get $m)')})
        (local.set $m (v128.load (i32.add (local.get $pxs) (i32.shl (local.get $idx) (i32.const 2)))))
        (local.set $xr0a (f64x2.mul (f64x2.splat (local.get $ra)) ${lo64('(local.get $m)')}))
        (local.set $xr0b (f64x2.mul (f64x2.splat (local.get $ra)) ${hi64('(local.get $m)')}))
        ;; the components of these four pixels into the scratch rows: l, mu, -, |mu|^2/2
        (local.set $k (i32.const 0))
        (block $unpacked (loop $unpack
          (br_if $unpacked (i32.ge_u (local.get $k) (local.get $K)))
          (local.set $o (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $K)) (local.get $k)) (local.get $S)) (local.get $s)) (i32.const 2)))
          (local.set $pc (i32.add (local.get $pscr) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $mu (v128.load (i32.add (local.get $pmu) (local.get $o))))
          (v128.store (local.get $pc) (v128.load (i32.add (local.get $plw) (local.get $o))))
          (v128.store offset=16 (local.get $pc) (local.get $mu))
          (v128.store offset=48 (local.get $pc)
            ${join(`(f64x2.mul ${sp64(0.5)} (f64x2.mul ${lo64('(local.get $mu)')} ${lo64('(local.get $mu)')}))`,
    `(f64x2.mul ${sp64(0.5)} (f64x2.mul ${hi64('(local.get $mu)')} ${hi64('(local.get $mu)')}))`)})
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $unpack)))
        (if (local.get $every) (then ${store1('(i32.const 0)')}))
        (local.set $j (i32.const 0))
        (block $stepsDone (loop $substep
          (br_if $stepsDone (i32.ge_u (local.get $j) (local.get $steps)))
          (local.set $o (i32.add (local.get $pcoef) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $B)) (local.get $b)) (i32.const 5))))
          (br_if $stepsDone (f64.eq (f64.load offset=24 (local.get $o)) (f64.const 0))) ;; frozen from here on
          (local.set $zeta (f64.load offset=8 (local.get $o)))
          (local.set $invDen (f64.div (f64.const 1) (f64.max (f64.add (f64.mul (local.get $v) (local.get $zeta)) (f64.const 1)) (local.get $eps))))
          (local.set $vinvDen (f64x2.splat (local.get $invDen)))
          (local.set $vcx (f64x2.splat (f64.load (local.get $o))))
          (local.set $vcdt (f64x2.splat (f64.load offset=16 (local.get $o))))
          (local.set $nu0a (f64x2.sub (f64x2.mul (local.get $vcx) (local.get $x0a)) (local.get $xr0a)))
          (local.set $nu0b (f64x2.sub (f64x2.mul (local.get $vcx) (local.get $x0b)) (local.get $xr0b)))
          (local.set $vq0 ${join('(f64x2.mul (local.get $nu0a) (local.get $vinvDen))', '(f64x2.mul (local.get $nu0b) (local.get $vinvDen))')})
          (local.set $vz (f32x4.splat (f32.demote_f64 (f64.mul (local.get $zeta) (local.get $invDen)))))
${softmax(1)}
          ${update1('a', lo64('(local.get $vs)'), lo64('(local.get $va0)'))}
          ${update1('b', hi64('(local.get $vs)'), hi64('(local.get $va0)'))}
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (if (local.get $every) (then ${store1('(local.get $j)')}))
          (br $substep)))
        ${frozenTail(store1)}
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (br $pixels)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $sample)))
    (local.get $redos))`;

const wat = `(module
  (memory (export "mem") 1)
  ;; The 2D GMFlow rollout (fused.ts gmflowRolloutHost2), four samples a vector. Pointers are byte offsets into "mem":
  ;; x, xs: f32 [Bp, 2]; mu: f32 [Bp, K, 2]; lw: f32 [Bp, K]; gv: f32 [Bp]; ra: f64 [Bp]; coef: f64 [steps, Bp, 4], with B
  ;; padded to a multiple of 4 (Bp; padding samples: coefficients 0, frozen at once); out: f32 [(every ? steps + 1 : 1), B, 2],
  ;; the B real samples only; scr: 64*(K+1) bytes, 16-aligned. Returns the number of (sample, substep) pairs, after each
  ;; sample's first substep, whose one-pass softmax was redone.
  (func (export "rollout2")
    (param $B i32) (param $K i32) (param $steps i32) (param $every i32) (param $eps f64)
    (param $px i32) (param $pxs i32) (param $pmu i32) (param $plw i32) (param $pgv i32) (param $pra i32)
    (param $pcoef i32) (param $pout i32) (param $pscr i32)
    (result i32)
    (local $b i32) (local $i i32) (local $j i32) (local $k i32) (local $o i32) (local $po i32) (local $pc i32) (local $pend i32)
    (local $Bp i32) (local $NS i32) (local $last i32) (local $redos i32) (local $need i32)
    (local $a f32) (local $c f32)
    ${v128s(['x0a', 'x0b', 'x1a', 'x1b', 'xr0a', 'xr0b', 'xr1a', 'xr1b', 'va', 'vb', 'cxa', 'cxb', 'zetaa', 'zetab', 'cdta', 'cdtb',
    'invDena', 'invDenb', 'nu0a', 'nu0b', 'nu1a', 'nu1b', 'inv', 'act', 'shift', 'vq0', 'vq1', 'vz', 'vsh', 'ok', 'm',
    'vs', 'va0', 'va1', 'vsb', 'va0b', 'va1b', 'vmx', 'vmxb',
    ...['', 'b'].flatMap((u) => ['fx', 'fkb', 'fn', 'fr', 'fr2', 'fm0', 'fm1', 'vt', 've'].map((n) => n + u))])}
    (local.set $NS (i32.shl (local.get $B) (i32.const 1)))
    (local.set $Bp (i32.and (i32.add (local.get $B) (i32.const 3)) (i32.const -4)))
    (local.set $last (select (local.get $steps) (i32.const 0) (local.get $every)))
    ;; rows of component k at scr + 64k: l, mu0, mu1, |mu|^2/2, four lanes each; K rounded up to even (a weight-0 component)
    (local.set $pend (i32.add (local.get $pscr) (i32.shl (i32.and (i32.add (local.get $K) (i32.const 1)) (i32.const -2)) (i32.const 6))))
    (if (i32.and (local.get $K) (i32.const 1)) (then
      (local.set $pc (i32.add (local.get $pscr) (i32.shl (local.get $K) (i32.const 6))))
      (v128.store (local.get $pc) ${sp(-Infinity)})
      (v128.store offset=16 (local.get $pc) ${ZERO})
      (v128.store offset=32 (local.get $pc) ${ZERO})
      (v128.store offset=48 (local.get $pc) ${ZERO})))
    (local.set $b (i32.const 0))
    (block $groupsDone (loop $group
      (br_if $groupsDone (i32.ge_u (local.get $b) (local.get $B)))
      ;; the four samples' states and constants
      ${['a', 'b'].map((h, hi) => {
        const s0 = `(i32.add (local.get $b) (i32.const ${2 * hi}))`;
        const s1 = `(i32.add (local.get $b) (i32.const ${2 * hi + 1}))`;
        const f = (p, s, off = 0) => `(f64.promote_f32 (f32.load offset=${off} (i32.add (local.get ${p}) (i32.shl ${s} (i32.const ${p === '$pgv' ? 2 : 3})))))`;
        const pr = (a, b) => `(f64x2.replace_lane 1 (f64x2.splat ${a}) ${b})`;
        const ra = pr(`(f64.load (i32.add (local.get $pra) (i32.shl ${s0} (i32.const 3))))`, `(f64.load (i32.add (local.get $pra) (i32.shl ${s1} (i32.const 3))))`);
        return `
      (local.set $x0${h} ${pr(f('$px', s0), f('$px', s1))})
      (local.set $x1${h} ${pr(f('$px', s0, 4), f('$px', s1, 4))})
      (local.set $xr0${h} (f64x2.mul ${ra} ${pr(f('$pxs', s0), f('$pxs', s1))}))
      (local.set $xr1${h} (f64x2.mul ${ra} ${pr(f('$pxs', s0, 4), f('$pxs', s1, 4))}))
      (local.set $v${h} ${pr(f('$pgv', s0), f('$pgv', s1))})`;
      }).join('')}
      ;; the components into the scratch rows, lane i from sample b + i
      (local.set $k (i32.const 0))
      (block $unpacked (loop $unpack
        (br_if $unpacked (i32.ge_u (local.get $k) (local.get $K)))
        (local.set $pc (i32.add (local.get $pscr) (i32.shl (local.get $k) (i32.const 6))))
        (local.set $i (i32.const 0))
        (block $lanesDone (loop $lane
          (br_if $lanesDone (i32.ge_u (local.get $i) (i32.const 4)))
          (local.set $o (i32.add (i32.mul (i32.add (local.get $b) (local.get $i)) (local.get $K)) (local.get $k))) ;; component index
          (local.set $a (f32.load (i32.add (local.get $pmu) (i32.shl (local.get $o) (i32.const 3)))))
          (local.set $c (f32.load offset=4 (i32.add (local.get $pmu) (i32.shl (local.get $o) (i32.const 3)))))
          (local.set $po (i32.add (local.get $pc) (i32.shl (local.get $i) (i32.const 2))))
          (f32.store (local.get $po) (f32.load (i32.add (local.get $plw) (i32.shl (local.get $o) (i32.const 2)))))
          (f32.store offset=16 (local.get $po) (local.get $a))
          (f32.store offset=32 (local.get $po) (local.get $c))
          (f32.store offset=48 (local.get $po) (f32.demote_f64 (f64.mul (f64.const 0.5)
            (f64.add (f64.mul (f64.promote_f32 (local.get $a)) (f64.promote_f32 (local.get $a))) (f64.mul (f64.promote_f32 (local.get $c)) (f64.promote_f32 (local.get $c)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $lane)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $unpack)))
      (if (local.get $every) (then ${store('(i32.const 0)')}))
      ;; the lanes of real samples are active (the padding never is, whatever its coefficients)
      (local.set $act (i32x4.lt_u (i32x4.add (i32x4.splat (local.get $b)) (v128.const i32x4 0 1 2 3)) (i32x4.splat (local.get $B))))
      (local.set $j (i32.const 0))
      (block $stepsDone (loop $substep
        (br_if $stepsDone (i32.ge_u (local.get $j) (local.get $steps)))
        (local.set $o (i32.add (local.get $pcoef) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $Bp)) (local.get $b)) (i32.const 5))))
        ;; a lane whose flag is 0 is frozen from here on
        (local.set $act (v128.and (local.get $act)
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
            (f64x2.ne ${pair('(i32.add (local.get $o) (i32.const 24))', '(i32.add (local.get $o) (i32.const 56))')} ${sp64(0)})
            (f64x2.ne ${pair('(i32.add (local.get $o) (i32.const 88))', '(i32.add (local.get $o) (i32.const 120))')} ${sp64(0)}))))
        (br_if $stepsDone (i32.eqz (v128.any_true (local.get $act))))
        ${coefs('a', 0)}
        ${coefs('b', 2)}
        (local.set $vq0 ${join('(f64x2.mul (local.get $nu0a) (local.get $invDena))', '(f64x2.mul (local.get $nu0b) (local.get $invDenb))')})
        (local.set $vq1 ${join('(f64x2.mul (local.get $nu1a) (local.get $invDena))', '(f64x2.mul (local.get $nu1b) (local.get $invDenb))')})
        (local.set $vz ${join('(f64x2.mul (local.get $zetaa) (local.get $invDena))', '(f64x2.mul (local.get $zetab) (local.get $invDenb))')})
${softmax(2)}
        ${update('a', lo64('(local.get $vs)'), lo64('(local.get $va0)'), lo64('(local.get $va1)'), '(i64x2.extend_low_i32x4_s (local.get $act))')}
        ${update('b', hi64('(local.get $vs)'), hi64('(local.get $va0)'), hi64('(local.get $va1)'), '(i64x2.extend_high_i32x4_s (local.get $act))')}
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (if (local.get $every) (then ${store('(local.get $j)')}))
        (br $substep)))
      ${frozenTail(store)}
      (local.set $b (i32.add (local.get $b) (i32.const 4)))
      (br $group)))
    (local.get $redos))
${rollout1}
)
`;

const buffer = assemble('gmflow-rollout.wat', wat);
const text = `// Generated by scripts/build-wasm-rollout.mjs (the WebAssembly text is there); do not edit.
/** The SIMD wasm module of the 2D GMFlow rollout (${buffer.length} bytes), base64. */
export const GMFLOW_ROLLOUT_WASM = '${Buffer.from(buffer).toString('base64')}';
`;
writeOrCheck(OUT, text, 'scripts/build-wasm-rollout.mjs', `${buffer.length} bytes`);
