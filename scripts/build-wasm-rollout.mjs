#!/usr/bin/env node
// Builds the SIMD wasm GMFlow rollout for 2D points (src/engine/wasm-rollout.ts runs it) from the
// WebAssembly text below, with wabt's assembler (a dev dependency), into
// src/engine/wasm-rollout-module.ts (the module as base64: ~2 KB, committed so that a build needs no
// assembler). `--check` exits 1 when the committed file differs from what this script builds (a test
// runs it). It imports the JS loop's constants from dist: run `npm run build` first.
//
// The program is `gmflowRolloutHost2` (src/engine/fused.ts) with two mixture components per f64x2
// vector: the same float64 operations in the same order per component (logit, the one-pass softmax
// shifted by the previous substep's maximum, redone max-subtracted beyond SHIFT_SLACK, exp64's
// reduction, polynomial and table), the lanes' partial sums added at the end. Where they differ: sums
// over K are two interleaved partial sums (float64 rounding, ~1e−16 relative), and an exp argument below
// −708 gives 0 where exp64 goes through subnormals (such a weight is e^−108 or less of the largest).
import { fileURLToPath } from 'node:url';
import { assemble, writeOrCheck } from './wasm-build.mjs';
// exp64's constants and table and the softmax slack, from the JS loop itself (build first: npm run build)
import { INV_LN2_32, LN2_32_HI, LN2_32_LO, POW2_32, ROUND_MAGIC as MAGIC, SHIFT_SLACK } from '../dist/src/engine/fused.js';

const OUT = fileURLToPath(new URL('../src/engine/wasm-rollout-module.ts', import.meta.url));
const f = (x) => (Object.is(x, -Infinity) ? '-inf' : Number.isNaN(x) ? 'nan' : x.toPrecision(17));
const splat = (x) => `(v128.const f64x2 ${f(x)} ${f(x)})`;

/** e^(arg) for both lanes of an f64x2 expression, as exp64 computes it; leaves the result on the stack. */
function expV(arg) {
  return `
          (local.set $ex ${arg})
          ;; pmin/pmax (one instruction each) keep a NaN argument NaN
          (local.set $ey (f64x2.pmin (f64x2.pmax (local.get $ex) ${splat(-708)}) ${splat(709)}))
          (local.set $ekb (f64x2.add (f64x2.mul (local.get $ey) ${splat(INV_LN2_32)}) ${splat(MAGIC)}))
          (local.set $en (f64x2.sub (local.get $ekb) ${splat(MAGIC)}))
          (local.set $er (f64x2.sub (f64x2.sub (local.get $ey) (f64x2.mul (local.get $en) ${splat(LN2_32_HI)}))
                                    (f64x2.mul (local.get $en) ${splat(LN2_32_LO)})))
          (local.set $ep (f64x2.add ${splat(1)} (f64x2.mul (local.get $er)
            (f64x2.add ${splat(1)} (f64x2.mul (local.get $er)
              (f64x2.add ${splat(0.5)} (f64x2.mul (local.get $er)
                (f64x2.add ${splat(1 / 6)} (f64x2.mul (local.get $er)
                  (f64x2.add ${splat(1 / 24)} (f64x2.mul (local.get $er) ${splat(1 / 120)})))))))))))
          ;; n mod 32 is in the low bits of y*32/ln2 + 1.5*2^52; 2^floor(n/32) from floor(n/32) + 1023 in the low bits of
          ;; floor(n/32) + 1023 + 1.5*2^52, shifted into the exponent field (no 64-bit arithmetic shift: SSE has none)
          (local.set $eni (i64x2.shl (f64x2.add (f64x2.floor (f64x2.mul (local.get $en) ${splat(1 / 32)})) ${splat(MAGIC + 1023)}) (i32.const 52)))
          (v128.andnot
            (f64x2.mul
              (f64x2.mul (local.get $ep)
                (f64x2.replace_lane 1
                  (f64x2.splat (f64.load (i32.shl (i32.and (i32.wrap_i64 (i64x2.extract_lane 0 (local.get $ekb))) (i32.const 31)) (i32.const 3))))
                  (f64.load (i32.shl (i32.and (i32.wrap_i64 (i64x2.extract_lane 1 (local.get $ekb))) (i32.const 31)) (i32.const 3)))))
              (local.get $eni))
            (f64x2.lt (local.get $ex) ${splat(-708)}))`;
}

/** logit of the two components at byte offset $kk of the scratch: l + mu0*q0 + mu1*q1 - z*h */
const logit = `(f64x2.sub
            (f64x2.add (f64x2.add (v128.load offset=0 (i32.add (local.get $pl) (local.get $kk)))
                                  (f64x2.mul (v128.load (i32.add (local.get $pscr) (local.get $kk))) (local.get $vq0)))
                       (f64x2.mul (v128.load (i32.add (local.get $pm1) (local.get $kk))) (local.get $vq1)))
            (f64x2.mul (local.get $vz) (v128.load (i32.add (local.get $ph) (local.get $kk)))))`;

/** the shifted weights' sums over the components: $vs, $va0, $va1 (and the running maximum $vmx when `withMax`) */
const sums = (withMax) => `
        (local.set $vs (v128.const i64x2 0 0)) (local.set $va0 (v128.const i64x2 0 0)) (local.set $va1 (v128.const i64x2 0 0))
        (local.set $kk (i32.const 0))
        (block $done (loop $comp
          (br_if $done (i32.ge_u (local.get $kk) (local.get $kb)))
          (local.set $vt ${logit})
          ${withMax ? '(local.set $vmx (f64x2.pmax (local.get $vmx) (local.get $vt)))' : ''}
          (local.set $ve ${expV('(f64x2.sub (local.get $vt) (local.get $vsh))')})
          (local.set $vs (f64x2.add (local.get $vs) (local.get $ve)))
          (local.set $va0 (f64x2.add (local.get $va0) (f64x2.mul (local.get $ve) (v128.load (i32.add (local.get $pscr) (local.get $kk))))))
          (local.set $va1 (f64x2.add (local.get $va1) (f64x2.mul (local.get $ve) (v128.load (i32.add (local.get $pm1) (local.get $kk))))))
          (local.set $kk (i32.add (local.get $kk) (i32.const 16)))
          (br $comp)))`;

const lanesMax = (v) => `(f64.max (f64x2.extract_lane 0 ${v}) (f64x2.extract_lane 1 ${v}))`;
const lanesSum = (v) => `(f64.add (f64x2.extract_lane 0 ${v}) (f64x2.extract_lane 1 ${v}))`;

/** stores x0, x1 as float32 at output state $jj for sample $b */
const store = (jj) => `
        (local.set $po (i32.add (local.get $pout) (i32.shl (i32.add (i32.mul ${jj} (local.get $NS)) (i32.shl (local.get $b) (i32.const 1))) (i32.const 2))))
        (f32.store (local.get $po) (f32.demote_f64 (local.get $x0)))
        (f32.store offset=4 (local.get $po) (f32.demote_f64 (local.get $x1)))`;

const wat = `(module
  (memory (export "mem") 1)
  ;; 2^(i/32), i = 0...31, at byte 0: exp's table
  (data (i32.const 0) "${Array.from(new Uint8Array(POW2_32.buffer, POW2_32.byteOffset, POW2_32.byteLength), (x) => '\\' + x.toString(16).padStart(2, '0')).join('')}")
  ;; The 2D GMFlow rollout (fused.ts gmflowRolloutHost2). Pointers are byte offsets into "mem":
  ;; x, xs: f32 [B, 2]; mu: f32 [B, K, 2]; lw: f32 [B, K]; gv: f32 [B]; ra: f64 [B]; coef: f64 [steps, B, 4];
  ;; out: f32 [(every ? steps + 1 : 1), B, 2]; scr: 4*Kp f64 of scratch (16-aligned), Kp = K rounded up to even.
  ;; Returns the number of substeps (after each sample's first) whose one-pass softmax was redone.
  (func (export "rollout2")
    (param $B i32) (param $K i32) (param $steps i32) (param $every i32) (param $eps f64)
    (param $px i32) (param $pxs i32) (param $pmu i32) (param $plw i32) (param $pgv i32) (param $pra i32)
    (param $pcoef i32) (param $pout i32) (param $pscr i32)
    (result i32)
    (local $b i32) (local $j i32) (local $k i32) (local $kk i32) (local $kb i32) (local $o i32) (local $po i32)
    (local $NS i32) (local $last i32) (local $redos i32) (local $pm1 i32) (local $ph i32) (local $pl i32)
    (local $v f64) (local $ra f64) (local $x0 f64) (local $x1 f64) (local $xr0 f64) (local $xr1 f64)
    (local $a f64) (local $c f64) (local $shift f64) (local $mx f64) (local $sum f64) (local $s0 f64) (local $s1 f64)
    (local $cx f64) (local $zeta f64) (local $cdt f64) (local $invDen f64) (local $nu0 f64) (local $nu1 f64) (local $inv f64)
    (local $vq0 v128) (local $vq1 v128) (local $vz v128) (local $vsh v128) (local $vmx v128) (local $vt v128) (local $ve v128)
    (local $vs v128) (local $va0 v128) (local $va1 v128)
    (local $ex v128) (local $ey v128) (local $ekb v128) (local $en v128) (local $er v128) (local $ep v128) (local $eni v128)
    (local.set $NS (i32.shl (local.get $B) (i32.const 1)))
    (local.set $last (select (local.get $steps) (i32.const 0) (local.get $every)))
    ;; scratch: mu0 [Kp], mu1 [Kp], |mu|^2/2 [Kp], l [Kp]; kb = Kp*8 bytes per row
    (local.set $kb (i32.shl (i32.and (i32.add (local.get $K) (i32.const 1)) (i32.const -2)) (i32.const 3)))
    (local.set $pm1 (i32.add (local.get $pscr) (local.get $kb)))
    (local.set $ph (i32.add (local.get $pm1) (local.get $kb)))
    (local.set $pl (i32.add (local.get $ph) (local.get $kb))) ;; l
    (if (i32.and (local.get $K) (i32.const 1)) (then
      ;; an odd K: one padding component of weight 0 (logit -inf)
      (local.set $o (i32.shl (local.get $K) (i32.const 3)))
      (f64.store (i32.add (local.get $pscr) (local.get $o)) (f64.const 0))
      (f64.store (i32.add (local.get $pm1) (local.get $o)) (f64.const 0))
      (f64.store (i32.add (local.get $ph) (local.get $o)) (f64.const 0))
      (f64.store (i32.add (local.get $pl) (local.get $o)) (f64.const -inf))))
    (local.set $b (i32.const 0))
    (block $samplesDone (loop $sample
      (br_if $samplesDone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $v (f64.promote_f32 (f32.load (i32.add (local.get $pgv) (i32.shl (local.get $b) (i32.const 2))))))
      (local.set $ra (f64.load (i32.add (local.get $pra) (i32.shl (local.get $b) (i32.const 3)))))
      (local.set $o (i32.shl (local.get $b) (i32.const 3)))
      (local.set $x0 (f64.promote_f32 (f32.load (i32.add (local.get $px) (local.get $o)))))
      (local.set $x1 (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $px) (local.get $o)))))
      (local.set $xr0 (f64.mul (local.get $ra) (f64.promote_f32 (f32.load (i32.add (local.get $pxs) (local.get $o))))))
      (local.set $xr1 (f64.mul (local.get $ra) (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $pxs) (local.get $o))))))
      ;; this sample's components into the scratch rows
      (local.set $k (i32.const 0))
      (block $unpacked (loop $unpack
        (br_if $unpacked (i32.ge_u (local.get $k) (local.get $K)))
        (local.set $o (i32.shl (i32.add (i32.mul (local.get $b) (local.get $K)) (local.get $k)) (i32.const 3)))
        (local.set $a (f64.promote_f32 (f32.load (i32.add (local.get $pmu) (local.get $o)))))
        (local.set $c (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $pmu) (local.get $o)))))
        (local.set $kk (i32.shl (local.get $k) (i32.const 3)))
        (f64.store (i32.add (local.get $pscr) (local.get $kk)) (local.get $a))
        (f64.store (i32.add (local.get $pm1) (local.get $kk)) (local.get $c))
        (f64.store (i32.add (local.get $ph) (local.get $kk))
          (f64.mul (f64.const 0.5) (f64.add (f64.mul (local.get $a) (local.get $a)) (f64.mul (local.get $c) (local.get $c)))))
        (f64.store (i32.add (local.get $pl) (local.get $kk))
          (f64.promote_f32 (f32.load (i32.add (local.get $plw) (i32.shr_u (local.get $o) (i32.const 1))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $unpack)))
      (if (local.get $every) (then ${store('(i32.const 0)')}))
      (local.set $shift (f64.const nan))
      (local.set $j (i32.const 0))
      (block $stepsDone (loop $substep
        (br_if $stepsDone (i32.ge_u (local.get $j) (local.get $steps)))
        (local.set $o (i32.add (local.get $pcoef) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $B)) (local.get $b)) (i32.const 5))))
        (br_if $stepsDone (f64.eq (f64.load offset=24 (local.get $o)) (f64.const 0))) ;; frozen from here on
        (local.set $cx (f64.load (local.get $o)))
        (local.set $zeta (f64.load offset=8 (local.get $o)))
        (local.set $cdt (f64.load offset=16 (local.get $o)))
        (local.set $invDen (f64.div (f64.const 1) (f64.max (f64.add (f64.mul (local.get $v) (local.get $zeta)) (f64.const 1)) (local.get $eps))))
        (local.set $nu0 (f64.sub (f64.mul (local.get $cx) (local.get $x0)) (local.get $xr0)))
        (local.set $nu1 (f64.sub (f64.mul (local.get $cx) (local.get $x1)) (local.get $xr1)))
        (local.set $vq0 (f64x2.splat (f64.mul (local.get $nu0) (local.get $invDen))))
        (local.set $vq1 (f64x2.splat (f64.mul (local.get $nu1) (local.get $invDen))))
        (local.set $vz (f64x2.splat (f64.mul (local.get $zeta) (local.get $invDen))))
        (local.set $mx (f64.const -inf))
        (if (f64.eq (local.get $shift) (local.get $shift)) (then
          (local.set $vsh (f64x2.splat (local.get $shift)))
          (local.set $vmx ${splat(-Infinity)})
          ${sums(true)}
          (local.set $mx ${lanesMax('(local.get $vmx)')})
          (local.set $sum ${lanesSum('(local.get $vs)')})
          (local.set $s0 ${lanesSum('(local.get $va0)')})
          (local.set $s1 ${lanesSum('(local.get $va1)')})))
        (if (i32.eqz (i32.and (f64.le (f64.sub (local.get $mx) (local.get $shift)) (f64.const ${SHIFT_SLACK}))
                              (f64.ge (f64.sub (local.get $mx) (local.get $shift)) (f64.const -${SHIFT_SLACK})))) (then
          ;; first substep, a far-moved maximum, or non-finite logits: the max-subtracted two passes
          (if (i32.gt_u (local.get $j) (i32.const 0)) (then (local.set $redos (i32.add (local.get $redos) (i32.const 1)))))
          (local.set $vmx ${splat(-Infinity)})
          (local.set $kk (i32.const 0))
          (block $maxDone (loop $maxLoop
            (br_if $maxDone (i32.ge_u (local.get $kk) (local.get $kb)))
            (local.set $vmx (f64x2.pmax (local.get $vmx) ${logit}))
            (local.set $kk (i32.add (local.get $kk) (i32.const 16)))
            (br $maxLoop)))
          (local.set $mx ${lanesMax('(local.get $vmx)')})
          (local.set $vsh (f64x2.splat (local.get $mx)))
          ${sums(false)}
          (local.set $sum ${lanesSum('(local.get $vs)')})
          (local.set $s0 ${lanesSum('(local.get $va0)')})
          (local.set $s1 ${lanesSum('(local.get $va1)')})))
        (local.set $shift (local.get $mx))
        (local.set $inv (f64.div (f64.const 1) (local.get $sum)))
        (local.set $x0 (f64.add (local.get $x0) (f64.mul (f64.sub (local.get $x0)
          (f64.mul (f64.add (f64.mul (local.get $v) (local.get $nu0)) (f64.mul (local.get $s0) (local.get $inv))) (local.get $invDen))) (local.get $cdt))))
        (local.set $x1 (f64.add (local.get $x1) (f64.mul (f64.sub (local.get $x1)
          (f64.mul (f64.add (f64.mul (local.get $v) (local.get $nu1)) (f64.mul (local.get $s1) (local.get $inv))) (local.get $invDen))) (local.get $cdt))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (if (local.get $every) (then ${store('(local.get $j)')}))
        (br $substep)))
      ;; frozen states, or the end
      (local.set $k (select (i32.add (local.get $j) (i32.const 1)) (i32.const 0) (local.get $every)))
      (block $tailDone (loop $tail
        (br_if $tailDone (i32.gt_u (local.get $k) (local.get $last)))
        ${store('(local.get $k)')}
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tail)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $sample)))
    (local.get $redos)))
`;

const buffer = assemble('gmflow-rollout.wat', wat);
const text = `// Generated by scripts/build-wasm-rollout.mjs (the WebAssembly text is there); do not edit.
/** The SIMD wasm module of the 2D GMFlow rollout (${buffer.length} bytes), base64. */
export const GMFLOW_ROLLOUT_WASM = '${Buffer.from(buffer).toString('base64')}';
`;
writeOrCheck(OUT, text, 'scripts/build-wasm-rollout.mjs', `${buffer.length} bytes`);
