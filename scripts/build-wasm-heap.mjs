#!/usr/bin/env node
// Builds the SIMD wasm "heap kernels" (src/engine/wasm-heap.ts runs them) from the WebAssembly text
// below, with wabt's assembler (a dev dependency), into src/engine/wasm-heap-module.ts (two ~1 KB
// modules as base64, committed so that a build needs no assembler). `--check` exits 1 when the committed
// file differs from what this script builds (a test runs it).
//
// The module has no memory of its own: it imports one ("env" "memory"), so that on the wasm backend it
// works in place on tfjs's heap (the tensors' bytes, no copies), and on the cpu backend on a memory of
// its own. Two builds of the same text: one imports a plain memory (tfjs's SIMD build), one a shared
// memory (the threaded build, cross-origin isolated pages).
//
// Each kernel is the JavaScript loop it replaces, operation for operation, so results are identical:
//  - transpose: dst[n, c, r] = src[n, r, c] (32-bit words; R and C multiples of 4), 4 x 4 blocks moved
//    with shuffles, in tiles of TILE x TILE (wasm-reduce.ts transposeTiles);
//  - colsum: dst[a, c] = f32(scale * sum_j src[a, j, c]), float64 accumulators, rows in order (K1 a
//    multiple of 4; wasm-reduce.ts's Sum/Mean over a leading or middle block of axes);
//  - window: a convolution tap's windows copied into rows (wasm-conv.ts's filter gradient);
//  - copy2d: rows copied between two strides (wasm-binary.ts's slices and concatenation);
//  - bcast_*: x OP y with y broadcast over two axes ([A, M, G, Cg] by [A, 1, G, 1]: GroupNorm's
//    statistics), one float32 operation per element (wasm-binary.ts);
//  - silugrad: the gradient of tfjs-layers' swish, mul(sigmoid(z), z), as its kernels compute it
//    (float32 operations in their order, four elements a vector; models/mlp.ts);
//  - adam: tfjs's Adam update in float64 per element, two elements per f64x2 (n even; optim.ts applyHost).
//  - gemm_tn, gemm_nn: C = A^T B (A [K, M]) and C = A B (A [M, K]), B [K, N], row-major, batched, unpacked (the
//    products of Winograd's filter gradient, and of its forward and input gradient);
//  - wino_in, wino_filter, wino_out, wino_dy, wino_wgrad: the transforms of Winograd F(2x2, 3x3) and, for the
//    filter gradient, F(3x3, 2x2) (wasm-winograd.ts; float32, four channels a vector: not a JS loop's twin, so
//    tests/winograd.test.ts compares them with a float64 direct convolution instead).
import { fileURLToPath } from 'node:url';
import { assemble, writeOrCheck } from './wasm-build.mjs';

const OUT = fileURLToPath(new URL('../src/engine/wasm-heap-module.ts', import.meta.url));

// tile edge of the transpose, in elements (measured on [2048, 256]: 8 0.74 ms, 16 0.65, 32 0.87, 64 0.89)
const TILE = 16;

const f = (x) => x.toPrecision(17);
const splat = (x) => `(v128.const f64x2 ${f(x)} ${f(x)})`;
/** c[0] + z*(c[1] + z*(... c[n-1])) for the f64x2 local z */
const horner = (z, c) => c.reduceRight((acc, ci) => (acc === null ? splat(ci) : `(f64x2.add ${splat(ci)} (f64x2.mul (local.get ${z}) ${acc}))`), null);
// pi/2 in three parts (fdlibm e_rem_pio2.c): pio2_1 and pio2_2 have 33 significant bits
const PIO2_1 = 1.57079632673412561417e+0;
const PIO2_2 = 6.07710050630396597660e-11;
const PIO2_2T = 2.02226624879595063154e-21;
// fdlibm k_sin.c / k_cos.c
const SIN_C = [-1.66666666666666324348e-1, 8.33333333332248946124e-3, -1.98412698298579493134e-4, 2.75573137070700676789e-6, -2.50507602534068634195e-8, 1.58969099521155010221e-10];
const COS_C = [4.16666666666666019037e-2, -1.38888888888741095749e-3, 2.48015872894767294178e-5, -2.75573143513906633035e-7, 2.08757232129817482790e-9, -1.13596475577881948265e-11];
/** above this |x| the caller recomputes (|k| < 2^17 here: the reduction's products stay exact) */
const TRIG_LIMIT = 1e5;

// i32 lanes k of a and b as byte indices of i8x16.shuffle
const lanes = (...ls) => ls.flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b)).join(' ');

/** the sin/cos pass over values loaded by `load` (at $px + $o), 2^inShift bytes each, float32 results */
const sincos = (name, load, inShift) => `
  ;; sin (cos: $cos = 1) of n values (n even; float32, or float64 for sincos64) in float64: k = nearest(x*2/pi), r = x - k*pi/2 in three
  ;; parts (fdlibm's pio2_1, pio2_2, pio2_2t: exact products for |k| < 2^20), fdlibm's kernel polynomials on
  ;; [-pi/4, pi/4], the quadrant's choice and sign; rounded to float32. Returns how many |x| exceed
  ;; TRIG_LIMIT (finite): the caller recomputes those (Math.sin's full argument reduction).
  (func (export "${name}") (param $px i32) (param $po i32) (param $n i32) (param $cos i32) (result i32)
    (local $o i32) (local $end i32) (local $big i32) (local $x v128) (local $k v128) (local $r v128) (local $z v128)
    (local $s v128) (local $c v128) (local $q v128) (local $res v128)
    (local.set $o (i32.const 0))
    (local.set $end (i32.shl (local.get $n) (i32.const ${inShift})))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $o) (local.get $end)))
      (local.set $x ${load})
      (if (v128.any_true (f64x2.gt (f64x2.abs (local.get $x)) ${splat(TRIG_LIMIT)}))
        (then (local.set $big (i32.add (local.get $big) (i32.const 1)))))
      (local.set $k (f64x2.nearest (f64x2.mul (local.get $x) ${splat(2 / Math.PI)})))
      (local.set $r (f64x2.sub (f64x2.sub (f64x2.sub (local.get $x) (f64x2.mul (local.get $k) ${splat(PIO2_1)}))
        (f64x2.mul (local.get $k) ${splat(PIO2_2)})) (f64x2.mul (local.get $k) ${splat(PIO2_2T)})))
      (local.set $z (f64x2.mul (local.get $r) (local.get $r)))
      ;; sin r = r + r*z*(S1 + z*(S2 + ... S6)); cos r = 1 - z/2 + z*z*(C1 + z*(C2 + ... C6))
      (local.set $s (f64x2.add (local.get $r) (f64x2.mul (f64x2.mul (local.get $r) (local.get $z)) ${horner('$z', SIN_C)})))
      (local.set $c (f64x2.add (f64x2.sub ${splat(1)} (f64x2.mul (local.get $z) ${splat(0.5)}))
        (f64x2.mul (f64x2.mul (local.get $z) (local.get $z)) ${horner('$z', COS_C)})))
      ;; quadrant q = k (+1 for cos): odd q takes the cosine, q & 2 flips the sign
      (local.set $q (i64x2.add (i64x2.extend_low_i32x4_s (i32x4.trunc_sat_f64x2_s_zero (local.get $k)))
        (i64x2.splat (i64.extend_i32_u (local.get $cos)))))
      (local.set $res (v128.xor
        (v128.bitselect (local.get $c) (local.get $s) (i64x2.eq (v128.and (local.get $q) (i64x2.splat (i64.const 1))) (i64x2.splat (i64.const 1))))
        (i64x2.shl (v128.and (local.get $q) (i64x2.splat (i64.const 2))) (i32.const 62))))
      ;; sin(+-0) = +-0 (r would be +0)
      (if (i32.eqz (local.get $cos)) (then
        (local.set $res (v128.bitselect (local.get $x) (local.get $res) (f64x2.eq (local.get $x) ${splat(0)})))))
      (v128.store64_lane 0 (i32.add (local.get $po) (i32.shr_u (local.get $o) (i32.const ${inShift - 2}))) (f32x4.demote_f64x2_zero (local.get $res)))
      (local.set $o (i32.add (local.get $o) (i32.const ${2 << inShift})))
      (br $l)))
    (local.get $big))`;

/**
 * out[a, m, g, c] = x[a, m, g, c] OP y[a, g] for a < A, m < M, g < G, c < Cg (float32 at byte addresses;
 * the broadcast pattern of GroupNorm's statistics), four lanes a vector where Cg % 4 == 0; 'rsub' is y - x.
 */
const bcast = (op) => {
  const f32 = { mul: 'f32x4.mul', add: 'f32x4.add', sub: 'f32x4.sub', rsub: 'f32x4.sub' }[op];
  const s32 = { mul: 'f32.mul', add: 'f32.add', sub: 'f32.sub', rsub: 'f32.sub' }[op];
  const [va, vb] = op === 'rsub' ? ['(local.get $vy)', '(v128.load (local.get $px))'] : ['(v128.load (local.get $px))', '(local.get $vy)'];
  const [sa, sb] = op === 'rsub' ? ['(local.get $sy)', '(f32.load (local.get $px))'] : ['(f32.load (local.get $px))', '(local.get $sy)'];
  return `
  (func (export "bcast_${op}") (param $px i32) (param $py i32) (param $po i32) (param $A i32) (param $M i32) (param $G i32) (param $Cg i32)
    (local $a i32) (local $m i32) (local $g i32) (local $c i32) (local $pyr i32) (local $sy f32) (local $vy v128) (local $vec i32)
    (local.set $vec (i32.eqz (i32.and (local.get $Cg) (i32.const 3))))
    (local.set $a (i32.const 0))
    (block $ad (loop $al
      (br_if $ad (i32.ge_u (local.get $a) (local.get $A)))
      (local.set $m (i32.const 0))
      (block $md (loop $ml
        (br_if $md (i32.ge_u (local.get $m) (local.get $M)))
        (local.set $pyr (i32.add (local.get $py) (i32.shl (i32.mul (local.get $a) (local.get $G)) (i32.const 2))))
        (local.set $g (i32.const 0))
        (block $gd (loop $gl
          (br_if $gd (i32.ge_u (local.get $g) (local.get $G)))
          (local.set $sy (f32.load (i32.add (local.get $pyr) (i32.shl (local.get $g) (i32.const 2)))))
          (local.set $c (i32.const 0))
          (if (local.get $vec) (then
            (local.set $vy (f32x4.splat (local.get $sy)))
            (block $vd (loop $vl
              (br_if $vd (i32.ge_u (local.get $c) (local.get $Cg)))
              (v128.store (local.get $po) (${f32} ${va} ${vb}))
              (local.set $px (i32.add (local.get $px) (i32.const 16)))
              (local.set $po (i32.add (local.get $po) (i32.const 16)))
              (local.set $c (i32.add (local.get $c) (i32.const 4)))
              (br $vl))))
            (else
            (block $sd (loop $sl
              (br_if $sd (i32.ge_u (local.get $c) (local.get $Cg)))
              (f32.store (local.get $po) (${s32} ${sa} ${sb}))
              (local.set $px (i32.add (local.get $px) (i32.const 4)))
              (local.set $po (i32.add (local.get $po) (i32.const 4)))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br $sl)))))
          (local.set $g (i32.add (local.get $g) (i32.const 1)))
          (br $gl)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $ml)))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br $al))))`;
};

/** one row of $w4 bytes from $ps to $pd ($v4 of them in 16-byte vectors, the rest a word at a time); uses $x */
const copyRow = `
      (local.set $x (i32.const 0))
      (block $vd (loop $vl
        (br_if $vd (i32.ge_u (local.get $x) (local.get $v4)))
        (v128.store (i32.add (local.get $pd) (local.get $x)) (v128.load (i32.add (local.get $ps) (local.get $x))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $vl)))
      (block $td (loop $tl
        (br_if $td (i32.ge_u (local.get $x) (local.get $w4)))
        (i32.store (i32.add (local.get $pd) (local.get $x)) (i32.load (i32.add (local.get $ps) (local.get $x))))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $tl)))`;

// Winograd F(2x2, 3x3) (Lavin & Gray 2016) for 3x3 stride-1 convolutions padded by 1 (wasm-winograd.ts):
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
// A^T = [1 1 1 0; 0 1 -1 -1]. Four channels a vector; the 16 products between the transforms are XNNPACK's.
const get = (n) => `(local.get ${n})`;
const vsub = (a, b) => `(f32x4.sub ${a} ${b})`;
const vadd = (a, b) => `(f32x4.add ${a} ${b})`;
const vhalf = (a) => `(f32x4.mul ${a} (f32x4.splat (f32.const 0.5)))`;
const idx16 = [...Array(16).keys()];
/** B^T d B on 4 x 4 locals named pre+r+s into out+r+s (rows first, via t+r+s) */
const inTransform = (d, t, v) => [0, 1, 2, 3].map((s) => `
      (local.set ${t}0${s} ${vsub(get(`${d}0${s}`), get(`${d}2${s}`))})
      (local.set ${t}1${s} ${vadd(get(`${d}1${s}`), get(`${d}2${s}`))})
      (local.set ${t}2${s} ${vsub(get(`${d}2${s}`), get(`${d}1${s}`))})
      (local.set ${t}3${s} ${vsub(get(`${d}1${s}`), get(`${d}3${s}`))})`).join('') + [0, 1, 2, 3].map((r) => `
      (local.set ${v}${r}0 ${vsub(get(`${t}${r}0`), get(`${t}${r}2`))})
      (local.set ${v}${r}1 ${vadd(get(`${t}${r}1`), get(`${t}${r}2`))})
      (local.set ${v}${r}2 ${vsub(get(`${t}${r}2`), get(`${t}${r}1`))})
      (local.set ${v}${r}3 ${vsub(get(`${t}${r}1`), get(`${t}${r}3`))})`).join('');
const locals = (pre, type, n = 16) => idx16.slice(0, n).map((k) => `(local ${pre}${k >> 2}${k & 3} ${type})`).join(' ');
const winoIn = `
  ;; Winograd input transform: V[xi, t, c] = (B^T d B)[xi] of tile t's 4 x 4 patch d (rows 2ty-1.., columns
  ;; 2tx-1..; zero outside the image: read from $zero, C zero words) of x [N, H, W, C] (float32, byte
  ;; addresses, C % 4 == 0); tiles t = (n, ty, tx), ceil(H/2) x ceil(W/2) an image; xi = 4r + s, planes of T*C words
  (func (export "wino_in") (param $src i32) (param $dst i32) (param $zero i32) (param $N i32) (param $H i32) (param $W i32) (param $C i32)
    (local $n i32) (local $ty i32) (local $tx i32) (local $tH i32) (local $tW i32) (local $c i32) (local $row i32) (local $plane i32)
    (local $po i32) (local $y i32) (local $x i32) (local $img i32)
    ${locals('$p', 'i32')} ${locals('$d', 'v128')} ${locals('$t', 'v128')} ${locals('$v', 'v128')}
    (local.set $tH (i32.shr_u (i32.add (local.get $H) (i32.const 1)) (i32.const 1)))
    (local.set $tW (i32.shr_u (i32.add (local.get $W) (i32.const 1)) (i32.const 1)))
    (local.set $row (i32.shl (local.get $C) (i32.const 2)))
    (local.set $plane (i32.mul (i32.mul (local.get $row) (local.get $N)) (i32.mul (local.get $tH) (local.get $tW))))
    (local.set $po (local.get $dst))
    (local.set $n (i32.const 0))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $img (i32.add (local.get $src) (i32.mul (i32.mul (local.get $n) (local.get $H)) (i32.mul (local.get $W) (local.get $row)))))
      (local.set $ty (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u (local.get $ty) (local.get $tH)))
        (local.set $tx (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u (local.get $tx) (local.get $tW)))
${idx16.map((k) => { const r = k >> 2, s = k & 3; return `          (local.set $y (i32.add (i32.shl (local.get $ty) (i32.const 1)) (i32.const ${r - 1})))
          (local.set $x (i32.add (i32.shl (local.get $tx) (i32.const 1)) (i32.const ${s - 1})))
          (local.set $p${r}${s} (select
            (i32.add (local.get $img) (i32.mul (i32.add (i32.mul (local.get $y) (local.get $W)) (local.get $x)) (local.get $row)))
            (local.get $zero)
            (i32.and (i32.lt_u (local.get $y) (local.get $H)) (i32.lt_u (local.get $x) (local.get $W)))))`; }).join('\n')}
          (local.set $c (i32.const 0))
          (block $cd (loop $cl
            (br_if $cd (i32.ge_u (local.get $c) (local.get $row)))
${idx16.map((k) => `            (local.set $d${k >> 2}${k & 3} (v128.load (i32.add (local.get $p${k >> 2}${k & 3}) (local.get $c))))`).join('\n')}
${inTransform('$d', '$t', '$v')}
${idx16.map((k) => `            (v128.store (i32.add (i32.add (local.get $po) (local.get $c)) (i32.mul (local.get $plane) (i32.const ${k}))) (local.get $v${k >> 2}${k & 3}))`).join('\n')}
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cl)))
          (local.set $po (i32.add (local.get $po) (local.get $row)))
          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
          (br $xl)))
        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
        (br $yl)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl))))

`;
// the accumulators of gemm_tn's and gemm_nn's 4 x 8 tiles: $c<row><vector>
const GEMM_ACC = [0, 1, 2, 3].flatMap((r) => [0, 1].map((v) => `$c${r}${v}`));
// their scalar twins for the N % 8 columns: $s<row>
const GEMM_SUM = [0, 1, 2, 3].map((r) => `$s${r}`);
// gemm_tn's K block (rows of both operands per pass over the tiles: 2 x 256 x 64 x 4 bytes stay in L2);
// measured on [6272, 64]^T [6272, 64]: 128 2.14 ms, 256 2.06, 512 2.25
const GEMM_KC = 256;

/**
 * The parts of gemm_tn's and gemm_nn's tiles, `rows` rows by 8 columns (two v128 accumulators a row, `vec`) or
 * by one (a scalar sum a row, the N % 8 columns): `a(r)` is the memory operand of row r's A element at $pa
 * (an `offset=` immediate or an address), `aStep` what $pa moves a k.
 */
const tileZero = (rows, vec) => (vec ? GEMM_ACC.slice(0, 2 * rows).map((n) => `(local.set ${n} (v128.const i32x4 0 0 0 0))`)
  : GEMM_SUM.slice(0, rows).map((n) => `(local.set ${n} (f32.const 0))`)).join('\n');
const tileLoad = (rows, vec) => (vec ? Array.from({ length: rows }, (_, r) => [0, 1].map((v) => `(local.set $c${r}${v} (v128.load offset=${16 * v} (i32.add (local.get $pc) (i32.mul (local.get $N4) (i32.const ${r})))))`)).flat()
  : GEMM_SUM.slice(0, rows).map((n, r) => `(local.set ${n} (f32.load (i32.add (local.get $pc) (i32.mul (local.get $N4) (i32.const ${r})))))`)).join('\n');
const tileStore = (rows, vec) => (vec ? Array.from({ length: rows }, (_, r) => [0, 1].map((v) => `(v128.store offset=${16 * v} (i32.add (local.get $pc) (i32.mul (local.get $N4) (i32.const ${r}))) (local.get $c${r}${v}))`)).flat()
  : GEMM_SUM.slice(0, rows).map((n, r) => `(f32.store (i32.add (local.get $pc) (i32.mul (local.get $N4) (i32.const ${r}))) (local.get ${n}))`)).join('\n');
const tileLoop = (label, rows, vec, a, aStep) => `(loop ${label}
${vec ? `(local.set $b0 (v128.load (local.get $pb)))
(local.set $b1 (v128.load offset=16 (local.get $pb)))
${Array.from({ length: rows }, (_, r) => `(local.set $x (v128.load32_splat ${a(r)}))
(local.set $c${r}0 (f32x4.add (local.get $c${r}0) (f32x4.mul (local.get $x) (local.get $b0))))
(local.set $c${r}1 (f32x4.add (local.get $c${r}1) (f32x4.mul (local.get $x) (local.get $b1))))`).join('\n')}`
    : `(local.set $y (f32.load (local.get $pb)))
${GEMM_SUM.slice(0, rows).map((n, r) => `(local.set ${n} (f32.add (local.get ${n}) (f32.mul (f32.load ${a(r)}) (local.get $y))))`).join('\n')}`}
(local.set $pa (i32.add (local.get $pa) ${aStep}))
(local.set $pb (i32.add (local.get $pb) (local.get $N4)))
(br_if ${label} (local.tee $cnt (i32.sub (local.get $cnt) (i32.const 1)))))`;
// gemm_tn's A row elements are adjacent (A [K, M]); gemm_nn's a row of K apart (A [M, K])
const tnA = (r) => `offset=${4 * r} (local.get $pa)`;
const nnA = (r) => (r ? `(i32.add (local.get $pa) (i32.mul (local.get $K4) (i32.const ${r})))` : '(local.get $pa)');
/** gemm_tn's tile at ($m, $n) for K block $k0: C written by the first block, added to by the next */
const tnTile = (label, vec) => `(local.set $pc (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $m) (local.get $N)) (local.get $n)) (i32.const 2))))
(if (i32.eqz (local.get $k0)) (then
${tileZero(4, vec)})
(else
${tileLoad(4, vec)}))
(local.set $pa (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $M)) (local.get $m)) (i32.const 2))))
(local.set $pb (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $N)) (local.get $n)) (i32.const 2))))
(local.set $cnt (i32.sub (local.get $K) (local.get $k0)))
(if (i32.gt_u (local.get $cnt) (i32.const ${GEMM_KC})) (then (local.set $cnt (i32.const ${GEMM_KC}))))
${tileLoop(label, 4, vec, tnA, '(local.get $M4)')}
${tileStore(4, vec)}`;
const gemmTn = `
  ;; C[q, m, n] = sum_k A[q, k, m] * B[q, k, n] for q < Q (A [Q, K, M], B [Q, K, N], C [Q, M, N] row-major, M % 4 == 0,
  ;; K >= 1; the N % 8 columns scalar): the products of Winograd's filter gradient, whose operands are both fresh (XNNPACK would pack
  ;; one of them first). Tiles of 4 x 8 in eight v128 accumulators, K in blocks of ${GEMM_KC} (each block's rows
  ;; stay in cache across the tiles; C is written by the first block, added to by the next); float32, k in order.
  (func (export "gemm_tn") (param $a i32) (param $b i32) (param $c i32) (param $Q i32) (param $K i32) (param $M i32) (param $N i32)
    (local $q i32) (local $k0 i32) (local $cnt i32) (local $m i32) (local $n i32) (local $pa i32) (local $pb i32) (local $pc i32)
    (local $M4 i32) (local $N4 i32) (local $b0 v128) (local $b1 v128) (local $x v128) ${GEMM_ACC.map((n) => `(local ${n} v128)`).join(' ')}
    (local $y f32) ${GEMM_SUM.map((n) => `(local ${n} f32)`).join(' ')}
    (local.set $M4 (i32.shl (local.get $M) (i32.const 2)))
    (local.set $N4 (i32.shl (local.get $N) (i32.const 2)))
    (local.set $q (i32.const 0))
    (block $dq (loop $lq
      (br_if $dq (i32.ge_u (local.get $q) (local.get $Q)))
      (local.set $k0 (i32.const 0))
      (block $dk (loop $lk
        (br_if $dk (i32.ge_u (local.get $k0) (local.get $K)))
        (local.set $m (i32.const 0))
        (block $dm (loop $lm
          (br_if $dm (i32.ge_u (local.get $m) (local.get $M)))
          (local.set $n (i32.const 0))
          (block $dn (loop $ln
            (br_if $dn (i32.gt_u (i32.add (local.get $n) (i32.const 8)) (local.get $N)))
${tnTile('$l', true)}
            (local.set $n (i32.add (local.get $n) (i32.const 8)))
            (br $ln)))
          ;; the N % 8 columns: one at a time, four scalar sums (the same operations as a vector lane)
          (block $dt (loop $lt
            (br_if $dt (i32.ge_u (local.get $n) (local.get $N)))
${tnTile('$lts', false)}
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $lt)))
          (local.set $m (i32.add (local.get $m) (i32.const 4)))
          (br $lm)))
        (local.set $k0 (i32.add (local.get $k0) (i32.const ${GEMM_KC})))
        (br $lk)))
      (local.set $a (i32.add (local.get $a) (i32.mul (local.get $K) (local.get $M4))))
      (local.set $b (i32.add (local.get $b) (i32.mul (local.get $K) (local.get $N4))))
      (local.set $c (i32.add (local.get $c) (i32.mul (local.get $M) (local.get $N4))))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br $lq))))
`;

/** gemm_nn's tile of `rows` rows at ($m, $n) */
const nnTile = (label, rows, vec) => `${tileZero(rows, vec)}
(local.set $pa (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $K4))))
(local.set $pb (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
(local.set $cnt (local.get $K))
${tileLoop(label, rows, vec, nnA, '(i32.const 4)')}
(local.set $pc (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $m) (local.get $N)) (local.get $n)) (i32.const 2))))
${tileStore(rows, vec)}`;
/** gemm_nn's loop over the column tiles of `rows` (4 or 1) rows from $m: C[m.., n..n+8] = A[m.., :] B[:, n..n+8] */
const gemmNnRows = (rows) => `
          (local.set $n (i32.const 0))
          (block $dn${rows} (loop $ln${rows}
            (br_if $dn${rows} (i32.gt_u (i32.add (local.get $n) (i32.const 8)) (local.get $N)))
${nnTile(`$l${rows}`, rows, true)}
            (local.set $n (i32.add (local.get $n) (i32.const 8)))
            (br $ln${rows})))
          ;; the N % 8 columns: one at a time, scalar sums (the same operations as a vector lane)
          (block $dt${rows} (loop $lt${rows}
            (br_if $dt${rows} (i32.ge_u (local.get $n) (local.get $N)))
${nnTile(`$lts${rows}`, rows, false)}
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $lt${rows})))`;
const gemmNn = `
  ;; C[q, m, n] = sum_k A[q, m, k] * B[q, k, n] for q < Q (A [Q, M, K], B [Q, K, N], C [Q, M, N] row-major, K >= 1,
  ;; any M and N, the N % 8 columns scalar): the products of Winograd's forward and input gradient ([T, Ci] x [Ci, Co]), in place of
  ;; XNNPACK's (an operator created, B packed, for each of the 16). Tiles of 4 x 8 rows, then the M % 4 rows
  ;; one by one; float32, k in order.
  (func (export "gemm_nn") (param $a i32) (param $b i32) (param $c i32) (param $Q i32) (param $M i32) (param $K i32) (param $N i32)
    (local $q i32) (local $cnt i32) (local $m i32) (local $n i32) (local $pa i32) (local $pb i32) (local $pc i32)
    (local $K4 i32) (local $N4 i32) (local $b0 v128) (local $b1 v128) (local $x v128) ${GEMM_ACC.map((n) => `(local ${n} v128)`).join(' ')}
    (local $y f32) ${GEMM_SUM.map((n) => `(local ${n} f32)`).join(' ')}
    (local.set $K4 (i32.shl (local.get $K) (i32.const 2)))
    (local.set $N4 (i32.shl (local.get $N) (i32.const 2)))
    (local.set $q (i32.const 0))
    (block $dq (loop $lq
      (br_if $dq (i32.ge_u (local.get $q) (local.get $Q)))
      (local.set $m (i32.const 0))
      (block $dm (loop $lm
        (br_if $dm (i32.gt_u (i32.add (local.get $m) (i32.const 4)) (local.get $M)))
${gemmNnRows(4)}
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (br $lm)))
      (block $dr (loop $lr
        (br_if $dr (i32.ge_u (local.get $m) (local.get $M)))
${gemmNnRows(1)}
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $lr)))
      (local.set $a (i32.add (local.get $a) (i32.mul (local.get $M) (local.get $K4))))
      (local.set $b (i32.add (local.get $b) (i32.mul (local.get $K) (local.get $N4))))
      (local.set $c (i32.add (local.get $c) (i32.mul (local.get $M) (local.get $N4))))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br $lq))))
`;

const winograd = `
${winoIn}
  ;; Winograd filter transform: U[xi, ci, co] = (G g G^T)[xi] of g[., ., ci, co] for g [3, 3, Ci, Co]; $flip = 1 takes
  ;; the kernel flipped in space and transposed in/out (g'[i, j, co, ci] = g[2-i, 2-j, ci, co]: the input gradient's
  ;; kernel; U is then [16, Co, Ci]). $K = Ci*Co (a multiple of 4 without the flip; with it Ci % 4 == 0)
  (func (export "wino_filter") (param $g i32) (param $dst i32) (param $Ci i32) (param $Co i32) (param $flip i32)
    (local $o i32) (local $K4 i32) (local $end i32) (local $a i32) (local $b i32) (local $q i32)
    ${locals('$d', 'v128', 12).replace(/\$d(\d)(\d)/g, '$$g$1$2')} ${locals('$t', 'v128')} ${locals('$v', 'v128')}
    (local.set $K4 (i32.shl (i32.mul (local.get $Ci) (local.get $Co)) (i32.const 2)))
    (local.set $o (i32.const 0))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $o) (local.get $K4)))
      (if (local.get $flip) (then
        ;; output (co, ci..ci+3) of the flipped kernel reads g[2-i, 2-j, ci..ci+3, co]: four words a row apart
        (local.set $a (i32.shr_u (local.get $o) (i32.const 2)))
        (local.set $b (i32.div_u (local.get $a) (local.get $Ci)))
        (local.set $q (i32.sub (local.get $a) (i32.mul (local.get $b) (local.get $Ci))))
        (local.set $q (i32.add (local.get $g) (i32.shl (i32.add (i32.mul (local.get $q) (local.get $Co)) (local.get $b)) (i32.const 2))))
${[0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => {
  const p = `(i32.add (local.get $q) (i32.mul (local.get $K4) (i32.const ${(2 - i) * 3 + (2 - j)})))`;
  const co = `(i32.shl (local.get $Co) (i32.const 2))`;
  return `        (local.set $g${i}${j} (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat (f32.load ${p}))
          (f32.load (i32.add ${p} ${co}))) (f32.load (i32.add ${p} (i32.mul ${co} (i32.const 2))))) (f32.load (i32.add ${p} (i32.mul ${co} (i32.const 3))))))`;
})).join('\n')})
      (else
${[0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => `        (local.set $g${i}${j} (v128.load (i32.add (i32.add (local.get $g) (local.get $o)) (i32.mul (local.get $K4) (i32.const ${i * 3 + j})))))`)).join('\n')}))
${[0, 1, 2].map((j) => `
      (local.set $t0${j} (local.get $g0${j}))
      (local.set $t1${j} ${vhalf(vadd(vadd(get(`$g0${j}`), get(`$g1${j}`)), get(`$g2${j}`)))})
      (local.set $t2${j} ${vhalf(vadd(vsub(get(`$g0${j}`), get(`$g1${j}`)), get(`$g2${j}`)))})
      (local.set $t3${j} (local.get $g2${j}))`).join('')}
${[0, 1, 2, 3].map((r) => `
      (local.set $v${r}0 (local.get $t${r}0))
      (local.set $v${r}1 ${vhalf(vadd(vadd(get(`$t${r}0`), get(`$t${r}1`)), get(`$t${r}2`)))})
      (local.set $v${r}2 ${vhalf(vadd(vsub(get(`$t${r}0`), get(`$t${r}1`)), get(`$t${r}2`)))})
      (local.set $v${r}3 (local.get $t${r}2))`).join('')}
${idx16.map((k) => `      (v128.store (i32.add (i32.add (local.get $dst) (local.get $o)) (i32.mul (local.get $K4) (i32.const ${k}))) (local.get $v${k >> 2}${k & 3}))`).join('\n')}
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br $l))))

  ;; Winograd output transform: y[n, 2ty+i, 2tx+j, c] = (A^T m A)[i, j] + bias[c] of the 16 products m[xi, t, c]
  ;; (planes of T*C words, tiles as in wino_in), for the pixels inside the image (the others go to $trash, C words);
  ;; y [N, H, W, C], C % 4 == 0
  (func (export "wino_out") (param $m i32) (param $bias i32) (param $dst i32) (param $trash i32) (param $N i32) (param $H i32) (param $W i32) (param $C i32)
    (local $n i32) (local $ty i32) (local $tx i32) (local $tH i32) (local $tW i32) (local $c i32) (local $row i32) (local $plane i32)
    (local $pm i32) (local $img i32) (local $y i32) (local $x i32) (local $bv v128)
    (local $q00 i32) (local $q01 i32) (local $q10 i32) (local $q11 i32)
    ${locals('$d', 'v128')} ${locals('$t', 'v128', 8)}
    (local.set $tH (i32.shr_u (i32.add (local.get $H) (i32.const 1)) (i32.const 1)))
    (local.set $tW (i32.shr_u (i32.add (local.get $W) (i32.const 1)) (i32.const 1)))
    (local.set $row (i32.shl (local.get $C) (i32.const 2)))
    (local.set $plane (i32.mul (i32.mul (local.get $row) (local.get $N)) (i32.mul (local.get $tH) (local.get $tW))))
    (local.set $pm (local.get $m))
    (local.set $n (i32.const 0))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $img (i32.add (local.get $dst) (i32.mul (i32.mul (local.get $n) (local.get $H)) (i32.mul (local.get $W) (local.get $row)))))
      (local.set $ty (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u (local.get $ty) (local.get $tH)))
        (local.set $tx (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u (local.get $tx) (local.get $tW)))
${[0, 1].flatMap((i) => [0, 1].map((j) => `          (local.set $y (i32.add (i32.shl (local.get $ty) (i32.const 1)) (i32.const ${i})))
          (local.set $x (i32.add (i32.shl (local.get $tx) (i32.const 1)) (i32.const ${j})))
          (local.set $q${i}${j} (select
            (i32.add (local.get $img) (i32.mul (i32.add (i32.mul (local.get $y) (local.get $W)) (local.get $x)) (local.get $row)))
            (local.get $trash)
            (i32.and (i32.lt_u (local.get $y) (local.get $H)) (i32.lt_u (local.get $x) (local.get $W)))))`)).join('\n')}
          (local.set $c (i32.const 0))
          (block $cd (loop $cl
            (br_if $cd (i32.ge_u (local.get $c) (local.get $row)))
${idx16.map((k) => `            (local.set $d${k >> 2}${k & 3} (v128.load (i32.add (i32.add (local.get $pm) (local.get $c)) (i32.mul (local.get $plane) (i32.const ${k})))))`).join('\n')}
${[0, 1, 2, 3].map((s) => `
            (local.set $t0${s} ${vadd(vadd(get(`$d0${s}`), get(`$d1${s}`)), get(`$d2${s}`))})
            (local.set $t1${s} ${vsub(vsub(get(`$d1${s}`), get(`$d2${s}`)), get(`$d3${s}`))})`).join('')}
            (local.set $bv (v128.load (i32.add (local.get $bias) (local.get $c))))
${[0, 1].map((i) => `
            (v128.store (i32.add (local.get $q${i}0) (local.get $c)) (f32x4.add ${vadd(vadd(get(`$t${i}0`), get(`$t${i}1`)), get(`$t${i}2`))} (local.get $bv)))
            (v128.store (i32.add (local.get $q${i}1) (local.get $c)) (f32x4.add ${vsub(vsub(get(`$t${i}1`), get(`$t${i}2`)), get(`$t${i}3`))} (local.get $bv)))`).join('')}
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cl)))
          (local.set $pm (i32.add (local.get $pm) (local.get $row)))
          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
          (br $xl)))
        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
        (br $yl)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl))))

  ;; the filter gradient's dy transform: E[xi, t, c] = (A e A^T)[xi] of tile t's 2 x 2 block e of dy [N, H, W, C]
  ;; (rows 2ty.., columns 2tx..; zero outside: read from $zero), A = [1 0; 1 1; 1 -1; 0 -1]; planes of T*C words
  (func (export "wino_dy") (param $src i32) (param $dst i32) (param $zero i32) (param $N i32) (param $H i32) (param $W i32) (param $C i32)
    (local $n i32) (local $ty i32) (local $tx i32) (local $tH i32) (local $tW i32) (local $c i32) (local $row i32) (local $plane i32)
    (local $po i32) (local $y i32) (local $x i32) (local $img i32)
    (local $p00 i32) (local $p01 i32) (local $p10 i32) (local $p11 i32)
    (local $e00 v128) (local $e01 v128) (local $e10 v128) (local $e11 v128) ${[0, 1, 2, 3].map((r) => `(local $t${r}0 v128) (local $t${r}1 v128)`).join(' ')}
    (local.set $tH (i32.shr_u (i32.add (local.get $H) (i32.const 1)) (i32.const 1)))
    (local.set $tW (i32.shr_u (i32.add (local.get $W) (i32.const 1)) (i32.const 1)))
    (local.set $row (i32.shl (local.get $C) (i32.const 2)))
    (local.set $plane (i32.mul (i32.mul (local.get $row) (local.get $N)) (i32.mul (local.get $tH) (local.get $tW))))
    (local.set $po (local.get $dst))
    (local.set $n (i32.const 0))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $img (i32.add (local.get $src) (i32.mul (i32.mul (local.get $n) (local.get $H)) (i32.mul (local.get $W) (local.get $row)))))
      (local.set $ty (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u (local.get $ty) (local.get $tH)))
        (local.set $tx (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u (local.get $tx) (local.get $tW)))
${[0, 1].flatMap((u) => [0, 1].map((v) => `          (local.set $y (i32.add (i32.shl (local.get $ty) (i32.const 1)) (i32.const ${u})))
          (local.set $x (i32.add (i32.shl (local.get $tx) (i32.const 1)) (i32.const ${v})))
          (local.set $p${u}${v} (select
            (i32.add (local.get $img) (i32.mul (i32.add (i32.mul (local.get $y) (local.get $W)) (local.get $x)) (local.get $row)))
            (local.get $zero)
            (i32.and (i32.lt_u (local.get $y) (local.get $H)) (i32.lt_u (local.get $x) (local.get $W)))))`)).join('\n')}
          (local.set $c (i32.const 0))
          (block $cd (loop $cl
            (br_if $cd (i32.ge_u (local.get $c) (local.get $row)))
${[0, 1].flatMap((u) => [0, 1].map((v) => `            (local.set $e${u}${v} (v128.load (i32.add (local.get $p${u}${v}) (local.get $c))))`)).join('\n')}
${[0, 1].map((v) => `
            (local.set $t0${v} (local.get $e0${v}))
            (local.set $t1${v} ${vadd(get(`$e0${v}`), get(`$e1${v}`))})
            (local.set $t2${v} ${vsub(get(`$e0${v}`), get(`$e1${v}`))})
            (local.set $t3${v} (f32x4.neg (local.get $e1${v})))`).join('')}
${[0, 1, 2, 3].map((r) => [
  get(`$t${r}0`), vadd(get(`$t${r}0`), get(`$t${r}1`)), vsub(get(`$t${r}0`), get(`$t${r}1`)), `(f32x4.neg ${get(`$t${r}1`)})`,
].map((val, k) => `            (v128.store (i32.add (i32.add (local.get $po) (local.get $c)) (i32.mul (local.get $plane) (i32.const ${4 * r + k}))) ${val})`).join('\n')).join('\n')}
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cl)))
          (local.set $po (i32.add (local.get $po) (local.get $row)))
          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
          (br $xl)))
        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
        (br $yl)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl))))

  ;; the filter gradient's output transform: dW[i, j] = (G^T m G)[i, j] of the 16 products m [16, K] (K words a plane,
  ;; K % 4 == 0), dW [3, 3, K]; G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]
  (func (export "wino_wgrad") (param $m i32) (param $dst i32) (param $K i32)
    (local $o i32) (local $K4 i32) ${locals('$d', 'v128')} ${locals('$t', 'v128', 12)}
    (local.set $K4 (i32.shl (local.get $K) (i32.const 2)))
    (local.set $o (i32.const 0))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $o) (local.get $K4)))
${idx16.map((k) => `      (local.set $d${k >> 2}${k & 3} (v128.load (i32.add (i32.add (local.get $m) (local.get $o)) (i32.mul (local.get $K4) (i32.const ${k})))))`).join('\n')}
${[0, 1, 2, 3].map((s) => `
      (local.set $t0${s} ${vadd(get(`$d0${s}`), vhalf(vadd(get(`$d1${s}`), get(`$d2${s}`))))})
      (local.set $t1${s} ${vhalf(vsub(get(`$d1${s}`), get(`$d2${s}`)))})
      (local.set $t2${s} ${vadd(vhalf(vadd(get(`$d1${s}`), get(`$d2${s}`))), get(`$d3${s}`))})`).join('')}
${[0, 1, 2].map((i) => [
  vadd(get(`$t${i}0`), vhalf(vadd(get(`$t${i}1`), get(`$t${i}2`)))), vhalf(vsub(get(`$t${i}1`), get(`$t${i}2`))), vadd(vhalf(vadd(get(`$t${i}1`), get(`$t${i}2`))), get(`$t${i}3`)),
].map((val, j) => `      (v128.store (i32.add (i32.add (local.get $dst) (local.get $o)) (i32.mul (local.get $K4) (i32.const ${3 * i + j}))) ${val})`).join('\n')).join('\n')}
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br $l))))
${gemmTn}
${gemmNn}
`;

const body = `
  ;; dst[n, c, r] = src[n, r, c], byte addresses, R % 4 == 0 and C % 4 == 0
  (func (export "transpose") (param $src i32) (param $dst i32) (param $N i32) (param $R i32) (param $C i32)
    (local $n i32) (local $rb i32) (local $cb i32) (local $r i32) (local $c i32) (local $re i32) (local $ce i32)
    (local $sr i32) (local $dr i32) (local $ps i32) (local $pd i32) (local $base i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $d v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $sr (i32.shl (local.get $C) (i32.const 2)))
    (local.set $dr (i32.shl (local.get $R) (i32.const 2)))
    (local.set $n (i32.const 0))
    (block $done (loop $nl
      (br_if $done (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $base (i32.mul (local.get $n) (i32.mul (local.get $sr) (local.get $R))))
      (local.set $rb (i32.const 0))
      (block $rbd (loop $rbl
        (br_if $rbd (i32.ge_u (local.get $rb) (local.get $R)))
        (local.set $re (select (i32.add (local.get $rb) (i32.const ${TILE})) (local.get $R)
          (i32.lt_u (i32.add (local.get $rb) (i32.const ${TILE})) (local.get $R))))
        (local.set $cb (i32.const 0))
        (block $cbd (loop $cbl
          (br_if $cbd (i32.ge_u (local.get $cb) (local.get $C)))
          (local.set $ce (select (i32.add (local.get $cb) (i32.const ${TILE})) (local.get $C)
            (i32.lt_u (i32.add (local.get $cb) (i32.const ${TILE})) (local.get $C))))
          (local.set $r (local.get $rb))
          (block $rd (loop $rl
            (br_if $rd (i32.ge_u (local.get $r) (local.get $re)))
            (local.set $c (local.get $cb))
            (block $cd (loop $cl
              (br_if $cd (i32.ge_u (local.get $c) (local.get $ce)))
              (local.set $ps (i32.add (i32.add (local.get $src) (local.get $base))
                (i32.add (i32.mul (local.get $r) (local.get $sr)) (i32.shl (local.get $c) (i32.const 2)))))
              (local.set $a (v128.load (local.get $ps)))
              (local.set $b (v128.load (i32.add (local.get $ps) (local.get $sr))))
              (local.set $cc (v128.load (i32.add (local.get $ps) (i32.shl (local.get $sr) (i32.const 1)))))
              (local.set $d (v128.load (i32.add (local.get $ps) (i32.mul (local.get $sr) (i32.const 3)))))
              (local.set $t0 (i8x16.shuffle ${lanes(0, 4, 1, 5)} (local.get $a) (local.get $b)))
              (local.set $t1 (i8x16.shuffle ${lanes(2, 6, 3, 7)} (local.get $a) (local.get $b)))
              (local.set $t2 (i8x16.shuffle ${lanes(0, 4, 1, 5)} (local.get $cc) (local.get $d)))
              (local.set $t3 (i8x16.shuffle ${lanes(2, 6, 3, 7)} (local.get $cc) (local.get $d)))
              (local.set $pd (i32.add (i32.add (local.get $dst) (local.get $base))
                (i32.add (i32.mul (local.get $c) (local.get $dr)) (i32.shl (local.get $r) (i32.const 2)))))
              (v128.store (local.get $pd) (i8x16.shuffle ${lanes(0, 1, 4, 5)} (local.get $t0) (local.get $t2)))
              (v128.store (i32.add (local.get $pd) (local.get $dr)) (i8x16.shuffle ${lanes(2, 3, 6, 7)} (local.get $t0) (local.get $t2)))
              (v128.store (i32.add (local.get $pd) (i32.shl (local.get $dr) (i32.const 1))) (i8x16.shuffle ${lanes(0, 1, 4, 5)} (local.get $t1) (local.get $t3)))
              (v128.store (i32.add (local.get $pd) (i32.mul (local.get $dr) (i32.const 3))) (i8x16.shuffle ${lanes(2, 3, 6, 7)} (local.get $t1) (local.get $t3)))
              (local.set $c (i32.add (local.get $c) (i32.const 4)))
              (br $cl)))
            (local.set $r (i32.add (local.get $r) (i32.const 4)))
            (br $rl)))
          (local.set $cb (local.get $ce))
          (br $cbl)))
        (local.set $rb (local.get $re))
        (br $rbl)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl))))

  ;; dst[a, c] = f32(scale * sum over j < R of src[a, j, c]) for a < K0, c < K1 (K1 % 4 == 0), float64 sums in row order
  (func (export "colsum") (param $src i32) (param $dst i32) (param $K0 i32) (param $R i32) (param $K1 i32) (param $scale f64)
    (local $a i32) (local $c i32) (local $j i32) (local $p i32) (local $row i32) (local $v v128)
    (local $s0 v128) (local $s1 v128) (local $vs v128)
    (local.set $row (i32.shl (local.get $K1) (i32.const 2)))
    (local.set $vs (f64x2.splat (local.get $scale)))
    (local.set $a (i32.const 0))
    (block $ad (loop $al
      (br_if $ad (i32.ge_u (local.get $a) (local.get $K0)))
      (local.set $c (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.ge_u (local.get $c) (local.get $K1)))
        (local.set $p (i32.add (local.get $src)
          (i32.shl (i32.add (i32.mul (i32.mul (local.get $a) (local.get $R)) (local.get $K1)) (local.get $c)) (i32.const 2))))
        (local.set $s0 (f64x2.splat (f64.const 0)))
        (local.set $s1 (f64x2.splat (f64.const 0)))
        (local.set $j (i32.const 0))
        (block $jd (loop $jl
          (br_if $jd (i32.ge_u (local.get $j) (local.get $R)))
          (local.set $v (v128.load (local.get $p)))
          (local.set $s0 (f64x2.add (local.get $s0) (f64x2.promote_low_f32x4 (local.get $v))))
          (local.set $s1 (f64x2.add (local.get $s1) (f64x2.promote_low_f32x4 (i8x16.shuffle ${lanes(2, 3, 2, 3)} (local.get $v) (local.get $v)))))
          (local.set $p (i32.add (local.get $p) (local.get $row)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jl)))
        (v128.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $a) (local.get $K1)) (local.get $c)) (i32.const 2)))
          (i8x16.shuffle ${lanes(0, 1, 4, 5)}
            (f32x4.demote_f64x2_zero (f64x2.mul (local.get $s0) (local.get $vs)))
            (f32x4.demote_f64x2_zero (f64x2.mul (local.get $s1) (local.get $vs)))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cl)))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br $al))))

${sincos('sincos', '(f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $px) (local.get $o))))', 2)}
${sincos('sincos64', '(v128.load (i32.add (local.get $px) (local.get $o)))', 3)}
  ;; dst[n*dstStride + x] = src[n*srcStride + x] for n < N, x < len (32-bit words, strides in words): rows
  ;; copied four words a vector (wasm-binary.ts's slices and concat)
  (func (export "copy2d") (param $src i32) (param $dst i32) (param $N i32) (param $len i32) (param $ss i32) (param $ds i32)
    (local $n i32) (local $x i32) (local $ps i32) (local $pd i32) (local $w4 i32) (local $v4 i32)
    (local.set $w4 (i32.shl (local.get $len) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $w4) (i32.const -16)))
    (local.set $ss (i32.shl (local.get $ss) (i32.const 2)))
    (local.set $ds (i32.shl (local.get $ds) (i32.const 2)))
    (local.set $ps (local.get $src))
    (local.set $pd (local.get $dst))
    (local.set $n (i32.const 0))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u (local.get $n) (local.get $N)))
${copyRow}
      (local.set $ps (i32.add (local.get $ps) (local.get $ss)))
      (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl))))

  ;; the windows of a convolution tap: dst[n, y, x] = src[n*Hp*Wp + y*Wp + x] for n < N, y < OH, x < OW
  ;; (32-bit words; src points at the tap's first element), rows of OW copied four words a vector
  (func (export "window") (param $src i32) (param $dst i32) (param $N i32) (param $OH i32) (param $OW i32) (param $Hp i32) (param $Wp i32)
    (local $n i32) (local $y i32) (local $x i32) (local $ps i32) (local $pd i32) (local $row i32) (local $img i32) (local $w4 i32) (local $v4 i32)
    (local.set $row (i32.shl (local.get $Wp) (i32.const 2)))
    (local.set $img (i32.mul (local.get $row) (local.get $Hp)))
    (local.set $w4 (i32.shl (local.get $OW) (i32.const 2)))
    (local.set $v4 (i32.and (local.get $w4) (i32.const -16)))
    (local.set $pd (local.get $dst))
    (local.set $n (i32.const 0))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u (local.get $n) (local.get $N)))
      (local.set $y (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u (local.get $y) (local.get $OH)))
        (local.set $ps (i32.add (i32.add (local.get $src) (i32.mul (local.get $n) (local.get $img))) (i32.mul (local.get $y) (local.get $row))))
${copyRow}
        (local.set $pd (i32.add (local.get $pd) (local.get $w4)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yl)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl))))

${['mul', 'add', 'sub', 'rsub'].map(bcast).join('\n')}
${winograd}

  ;; SiLU's gradient as tfjs's kernels compute it for mul(sigmoid(z), z), n % 4 == 0, float32 throughout:
  ;; dz = dy*s + (dy*z)*(s*(1 - s)), s = sigmoid(z)
  (func (export "silugrad") (param $pdy i32) (param $pz i32) (param $ps i32) (param $po i32) (param $n i32)
    (local $o i32) (local $end i32) (local $dy v128) (local $sg v128)
    (local.set $o (i32.const 0))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $o) (local.get $end)))
      (local.set $dy (v128.load (i32.add (local.get $pdy) (local.get $o))))
      (local.set $sg (v128.load (i32.add (local.get $ps) (local.get $o))))
      (v128.store (i32.add (local.get $po) (local.get $o))
        (f32x4.add (f32x4.mul (local.get $dy) (local.get $sg))
          (f32x4.mul (f32x4.mul (local.get $dy) (v128.load (i32.add (local.get $pz) (local.get $o))))
            (f32x4.mul (local.get $sg) (f32x4.sub (f32x4.splat (f32.const 1)) (local.get $sg))))))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br $l))))

  ;; tfjs's Adam update, optim.ts applyHost's loop, for n elements (n even), float32 arrays at byte addresses:
  ;; gi = g*scale; m' = b1*m + ob1*gi; v' = b2*v + (ob2*gi)*gi; out = w - (lr*(m'*c1)) / (sqrt(v'*c2) + eps)
  (func (export "adam") (param $pg i32) (param $pw i32) (param $pm i32) (param $pv i32) (param $po i32) (param $n i32)
    (param $scale f64) (param $b1 f64) (param $ob1 f64) (param $b2 f64) (param $ob2 f64) (param $lr f64) (param $c1 f64) (param $c2 f64) (param $eps f64)
    (local $i i32) (local $o i32) (local $gi v128) (local $mi v128) (local $vi v128)
    (local.set $i (i32.const 0))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $o (i32.shl (local.get $i) (i32.const 2)))
      (local.set $gi (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $pg) (local.get $o)))) (f64x2.splat (local.get $scale))))
      (local.set $mi (f64x2.add
        (f64x2.mul (f64x2.splat (local.get $b1)) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $pm) (local.get $o)))))
        (f64x2.mul (f64x2.splat (local.get $ob1)) (local.get $gi))))
      (local.set $vi (f64x2.add
        (f64x2.mul (f64x2.splat (local.get $b2)) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $pv) (local.get $o)))))
        (f64x2.mul (f64x2.mul (f64x2.splat (local.get $ob2)) (local.get $gi)) (local.get $gi))))
      (v128.store64_lane 0 (i32.add (local.get $pm) (local.get $o)) (f32x4.demote_f64x2_zero (local.get $mi)))
      (v128.store64_lane 0 (i32.add (local.get $pv) (local.get $o)) (f32x4.demote_f64x2_zero (local.get $vi)))
      (v128.store64_lane 0 (i32.add (local.get $po) (local.get $o)) (f32x4.demote_f64x2_zero
        (f64x2.sub (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $pw) (local.get $o))))
          (f64x2.div (f64x2.mul (f64x2.splat (local.get $lr)) (f64x2.mul (local.get $mi) (f64x2.splat (local.get $c1))))
            (f64x2.add (f64x2.sqrt (f64x2.mul (local.get $vi) (f64x2.splat (local.get $c2)))) (f64x2.splat (local.get $eps)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br $l))))
`;

function build(shared) {
  return assemble('heap-kernels.wat', `(module
  (import "env" "memory" (memory 1 ${shared ? '65536 shared' : ''}))
${body})
`, { simd: true, threads: true });
}
const plain = build(false);
const shared = build(true);
const b64 = (b) => Buffer.from(b).toString('base64');
const text = `// Generated by scripts/build-wasm-heap.mjs (the WebAssembly text is there); do not edit.
/** The SIMD wasm heap kernels importing a plain memory (${plain.length} bytes), base64. */
export const HEAP_KERNELS_WASM = '${b64(plain)}';
/** The same importing a shared memory (the threaded tfjs build; ${shared.length} bytes), base64. */
export const HEAP_KERNELS_SHARED_WASM = '${b64(shared)}';
/** sincos recomputes nothing itself: above this |x| the caller does (Math.sin's full argument reduction) */
export const HEAP_TRIG_LIMIT = ${TRIG_LIMIT};
`;
writeOrCheck(OUT, text, 'scripts/build-wasm-heap.mjs', `${plain.length} + ${shared.length} bytes`);
