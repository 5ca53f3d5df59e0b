// Adler-32 (snapshot seals, txn-record checksums) and CRC-32 (tree digest), incremental, by hand:
// Node 20's zlib exposes neither as a function.

const ADLER_MOD = 65521;
// Largest n such that 255n(n+1)/2 + (n+1)(ADLER_MOD-1) <= 2^53-1 would be huge; 5552 keeps the sums
// inside 32-bit-safe integers like zlib, which keeps V8 on its fast small-integer path.
const ADLER_NMAX = 5552;

/** Continues an Adler-32 over `buf[start, end)`; start a new one with `value = 1`. Unsigned result. */
export function adler32(buf: Uint8Array, value = 1, start = 0, end = buf.length): number {
  let a = value & 0xffff;
  let b = (value >>> 16) & 0xffff;
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + ADLER_NMAX);
    for (; i < stop; i++) {
      a += buf[i]!;
      b += a;
    }
    a %= ADLER_MOD;
    b %= ADLER_MOD;
  }
  return ((b << 16) | a) >>> 0;
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Continues a CRC-32 (IEEE, as java.util.zip.CRC32) over `buf[start, end)`; start with 0. Unsigned. */
export function crc32(buf: Uint8Array, value = 0, start = 0, end = buf.length): number {
  let c = ~value;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
