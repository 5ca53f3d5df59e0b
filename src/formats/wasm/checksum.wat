;; Adler-32 with 128-bit SIMD, and a verifier for runs of txn-log records, for zkvault.
;; Compiled by scripts/build-wasm.mjs into checksum-wasm.ts (committed; a unit test checks they agree).
;;
;; Memory is imported so the caller can read a file straight into it: file offset = address.
;;
;; Adler-32 over 16-byte blocks x0..x15, starting from (a, b):
;;   b += 16·a + Σ (16−k)·x_k      a += Σ x_k
;; Summed over n blocks with vector lanes: va collects Σx, vb the weighted sums, and vps the value of va
;; before each block (Σ over blocks of the bytes before it), so that
;;   b += 16·n·a0 + 16·Σlanes(vps) + Σlanes(vb)      a += Σlanes(va)
;; At most 1024 blocks per chunk keep every lane below 2^32 (vps ≤ 1024·1024·1020); the chunk is then
;; folded into 64-bit a and b and reduced mod 65521.
(module
  (import "env" "mem" (memory 1))

  ;; Set by scanLog: how many records it verified, and the offset of the last one (-1: none).
  (global $count (export "count") (mut i32) (i32.const 0))
  (global $last (export "last") (mut i32) (i32.const -1))

  (func $be32 (param $p i32) (result i32)
    (i32.or
      (i32.or
        (i32.shl (i32.load8_u (local.get $p)) (i32.const 24))
        (i32.shl (i32.load8_u offset=1 (local.get $p)) (i32.const 16)))
      (i32.or
        (i32.shl (i32.load8_u offset=2 (local.get $p)) (i32.const 8))
        (i32.load8_u offset=3 (local.get $p)))))

  (func $hsum (param $v v128) (result i64)
    (i64.add
      (i64.add
        (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $v)))
        (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $v))))
      (i64.add
        (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $v)))
        (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $v))))))

  ;; Continues an Adler-32 (`init`; 1 starts a new one) over memory[p, p+n).
  (func $adler (export "adler32") (param $p i32) (param $n i32) (param $init i32) (result i32)
    (local $a i64) (local $b i64) (local $end i32) (local $chunkEnd i32) (local $blocks i32)
    (local $va v128) (local $vb v128) (local $vps v128) (local $v v128) (local $lo v128) (local $hi v128)
    (local.set $a (i64.extend_i32_u (i32.and (local.get $init) (i32.const 0xffff))))
    (local.set $b (i64.extend_i32_u (i32.shr_u (local.get $init) (i32.const 16))))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $vdone
      (loop $chunks
        (local.set $blocks (i32.shr_u (i32.sub (local.get $end) (local.get $p)) (i32.const 4)))
        (br_if $vdone (i32.eqz (local.get $blocks)))
        (if (i32.gt_u (local.get $blocks) (i32.const 1024))
          (then (local.set $blocks (i32.const 1024))))
        (local.set $chunkEnd (i32.add (local.get $p) (i32.shl (local.get $blocks) (i32.const 4))))
        (local.set $va (v128.const i32x4 0 0 0 0))
        (local.set $vb (v128.const i32x4 0 0 0 0))
        (local.set $vps (v128.const i32x4 0 0 0 0))
        (loop $block
          (local.set $v (v128.load align=1 (local.get $p)))
          (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
          (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
          (local.set $vps (i32x4.add (local.get $vps) (local.get $va)))
          (local.set $va
            (i32x4.add (local.get $va)
              (i32x4.add
                (i32x4.extadd_pairwise_i16x8_u (local.get $lo))
                (i32x4.extadd_pairwise_i16x8_u (local.get $hi)))))
          (local.set $vb
            (i32x4.add (local.get $vb)
              (i32x4.add
                (i32x4.dot_i16x8_s (local.get $lo) (v128.const i16x8 16 15 14 13 12 11 10 9))
                (i32x4.dot_i16x8_s (local.get $hi) (v128.const i16x8 8 7 6 5 4 3 2 1)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $block (i32.lt_u (local.get $p) (local.get $chunkEnd))))
        (local.set $b
          (i64.add (local.get $b)
            (i64.add
              (i64.mul (i64.extend_i32_u (i32.shl (local.get $blocks) (i32.const 4))) (local.get $a))
              (i64.add
                (i64.shl (call $hsum (local.get $vps)) (i64.const 4))
                (call $hsum (local.get $vb))))))
        (local.set $a (i64.add (local.get $a) (call $hsum (local.get $va))))
        (local.set $a (i64.rem_u (local.get $a) (i64.const 65521)))
        (local.set $b (i64.rem_u (local.get $b) (i64.const 65521)))
        (br $chunks)))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (i64.add (local.get $a) (i64.load8_u (local.get $p))))
        (local.set $b (i64.add (local.get $b) (local.get $a)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (local.set $a (i64.rem_u (local.get $a) (i64.const 65521)))
    (local.set $b (i64.rem_u (local.get $b) (i64.const 65521)))
    (i32.or
      (i32.shl (i32.wrap_i64 (local.get $b)) (i32.const 16))
      (i32.wrap_i64 (local.get $a))))

  ;; Verifies txn-log records from `pos` while each is whole and sound: 12 bytes of header, a payload
  ;; length in [minLen, maxLen], the payload and the 0x42 end byte inside [pos, end), and a checksum
  ;; long equal to the payload's Adler-32. Returns the offset of the first record that is not (or
  ;; `end`); the caller classifies what is there (padding, torn tail, damage) the slow, precise way.
  (func (export "scanLog") (param $pos i32) (param $end i32) (param $minLen i32) (param $maxLen i32) (result i32)
    (local $len i32) (local $pay i32)
    (global.set $count (i32.const 0))
    (global.set $last (i32.const -1))
    (block $stop
      (loop $record
        (br_if $stop (i32.lt_u (i32.sub (local.get $end) (local.get $pos)) (i32.const 12)))
        (local.set $len (call $be32 (i32.add (local.get $pos) (i32.const 8))))
        (br_if $stop (i32.lt_s (local.get $len) (local.get $minLen)))
        (br_if $stop (i32.gt_s (local.get $len) (local.get $maxLen)))
        (local.set $pay (i32.add (local.get $pos) (i32.const 12)))
        (br_if $stop (i32.le_u (i32.sub (local.get $end) (local.get $pay)) (local.get $len)))
        (br_if $stop (i32.ne (i32.load8_u (i32.add (local.get $pay) (local.get $len))) (i32.const 0x42)))
        (br_if $stop (i32.ne (call $be32 (local.get $pos)) (i32.const 0)))
        (br_if $stop
          (i32.ne
            (call $be32 (i32.add (local.get $pos) (i32.const 4)))
            (call $adler (local.get $pay) (local.get $len) (i32.const 1))))
        (global.set $count (i32.add (global.get $count) (i32.const 1)))
        (global.set $last (local.get $pos))
        (local.set $pos (i32.add (local.get $pay) (i32.add (local.get $len) (i32.const 1))))
        (br $record)))
    (local.get $pos)))
