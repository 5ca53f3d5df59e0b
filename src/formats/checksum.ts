// Adler-32 (snapshot seals, txn-record checksums) and CRC-32 (tree digest), incremental. Node 20's zlib
// exposes neither as a function. Adler-32 runs in a small SIMD WebAssembly module (wasm/checksum.wat)
// for anything longer than a few hundred bytes, with the plain loop below as the fallback for short
// ranges and for machines whose engine lacks WebAssembly SIMD.
import { CHECKSUM_WASM_BASE64 } from './wasm/checksum-wasm.js';

const ADLER_MOD = 65521;
// Largest n such that 255n(n+1)/2 + (n+1)(ADLER_MOD-1) <= 2^32-1, as in zlib: the sums stay small
// integers, which keeps V8 on its fast path.
const ADLER_NMAX = 5552;
/** Below this many bytes the plain loop beats copying into WebAssembly memory and calling out. */
const WASM_MIN_BYTES = 512;
const WASM_PAGE = 65536;
/** Scratch memory for checksumming buffers that live outside WebAssembly memory, a slice at a time. */
const SCRATCH_BYTES = 1 << 20;

interface ChecksumExports {
  adler32(p: number, n: number, init: number): number;
  scanLog(pos: number, end: number, minLen: number, maxLen: number): number;
  count: WebAssembly.Global;
  last: WebAssembly.Global;
}

let compiled: WebAssembly.Module | null | undefined;
function checksumModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(CHECKSUM_WASM_BASE64, 'base64'));
    } catch {
      compiled = null; // no WebAssembly SIMD here: the JS loop serves
    }
  }
  return compiled;
}

function instantiate(memory: WebAssembly.Memory): ChecksumExports | null {
  const mod = checksumModule();
  return mod ? (new WebAssembly.Instance(mod, { env: { mem: memory } }).exports as unknown as ChecksumExports) : null;
}

let scratch: { ex: ChecksumExports; view: Uint8Array } | null | undefined;
function scratchInstance(): { ex: ChecksumExports; view: Uint8Array } | null {
  if (scratch === undefined) {
    const memory = new WebAssembly.Memory({ initial: SCRATCH_BYTES / WASM_PAGE, maximum: SCRATCH_BYTES / WASM_PAGE });
    const ex = instantiate(memory);
    scratch = ex ? { ex, view: new Uint8Array(memory.buffer) } : null;
  }
  return scratch;
}

/** Continues an Adler-32 over `buf[start, end)`; start a new one with `value = 1`. Unsigned result. */
export function adler32(buf: Uint8Array, value = 1, start = 0, end = buf.length): number {
  if (end - start >= WASM_MIN_BYTES) {
    const s = scratchInstance();
    if (s) {
      let v = value;
      for (let i = start; i < end; i += SCRATCH_BYTES) {
        const stop = Math.min(end, i + SCRATCH_BYTES);
        s.view.set(buf.subarray(i, stop));
        v = s.ex.adler32(0, stop - i, v | 0) >>> 0;
      }
      return v;
    }
  }
  return adler32Js(buf, value, start, end);
}

/** The plain-loop Adler-32 (the reference the WebAssembly one is tested against). */
export function adler32Js(buf: Uint8Array, value = 1, start = 0, end = buf.length): number {
  let a = value & 0xffff;
  let b = (value >>> 16) & 0xffff;
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + ADLER_NMAX);
    for (; i < stop; i++) {
      a += buf[i];
      b += a;
    }
    a %= ADLER_MOD;
    b %= ADLER_MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * A buffer in WebAssembly memory, so that bytes read into it (a txn log) are verified in place,
 * without a copy.
 */
export interface VerifiableBuffer {
  bytes: Buffer;
  /**
   * Verifies txn-log records from `pos` while each is whole and sound (see checksum.wat's scanLog):
   * where it stopped, how many it verified, and the offset of the last one (-1: none).
   */
  scanLogRecords(pos: number, end: number, minLen: number, maxLen: number): { stop: number; count: number; last: number };
}

const MAX_VERIFIABLE = 0x7fff0000;
let reusable: { memory: WebAssembly.Memory; ex: ChecksumExports } | undefined;

/**
 * A VerifiableBuffer of `size` bytes, or null when WebAssembly cannot serve (no SIMD, or over 2 GiB).
 * One buffer per process, grown as needed and never freed, for files read one after the other: each
 * call invalidates what the previous one returned (the next file overwrites it), and the contents
 * are not zeroed.
 */
export function reusableVerifiable(size: number): VerifiableBuffer | null {
  if (size > MAX_VERIFIABLE || !checksumModule()) return null;
  const pages = Math.max(1, Math.ceil(size / WASM_PAGE));
  if (!reusable) {
    const memory = new WebAssembly.Memory({ initial: pages, maximum: Math.ceil(MAX_VERIFIABLE / WASM_PAGE) });
    reusable = { memory, ex: instantiate(memory)! };
  } else {
    const have = reusable.memory.buffer.byteLength / WASM_PAGE;
    if (pages > have) reusable.memory.grow(pages - have);
  }
  const { ex } = reusable;
  return {
    bytes: Buffer.from(reusable.memory.buffer, 0, size),
    scanLogRecords(pos, end, minLen, maxLen) {
      const stop = ex.scanLog(pos, end, minLen, maxLen) >>> 0;
      return { stop, count: ex.count.value as number, last: ex.last.value as number };
    },
  };
}

// Slicing-by-8: eight tables of 256 entries, so the loop takes 8 bytes per step instead of 1 (about
// four times the speed of the byte loop; the tree digest hashes every changed node's data).
const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
})();

/** Continues a CRC-32 (IEEE, as java.util.zip.CRC32) over `buf[start, end)`; start with 0. Unsigned. */
export function crc32(buf: Uint8Array, value = 0, start = 0, end = buf.length): number {
  const t = CRC_TABLES;
  let c = ~value;
  let i = start;
  for (const stop = end - 7; i < stop; i += 8) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    c =
      t[1792 + (c & 0xff)] ^
      t[1536 + ((c >>> 8) & 0xff)] ^
      t[1280 + ((c >>> 16) & 0xff)] ^
      t[1024 + (c >>> 24)] ^
      t[768 + buf[i + 4]] ^
      t[512 + buf[i + 5]] ^
      t[256 + buf[i + 6]] ^
      t[buf[i + 7]];
  }
  for (; i < end; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * CRC-32 of a string's UTF-8 bytes without encoding it when it is all ASCII (paths nearly always
 * are): the digest hashes a path for every node it touches.
 */
export function crc32Ascii(text: string, value = 0): number | null {
  const t = CRC_TABLES;
  let c = ~value;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= 0x80) return null;
    c = t[(c ^ ch) & 0xff] ^ (c >>> 8);
  }
  return ~c >>> 0;
}
