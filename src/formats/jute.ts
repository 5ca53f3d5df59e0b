// Jute "binary archive" primitives: big-endian ints, bigint longs, length-prefixed strings, buffers
// and vectors where -1 means null.
//
//   int     4 bytes BE            long    8 bytes BE (bigint)
//   boolean 1 byte (non-zero=true) ustring int N (-1 = null), N bytes UTF-8
//   buffer  int N (-1 = null), N bytes                vector<T> int C (-1 = null), C × T
//
// Reads are bounds-checked: running off the end is a "truncated" IntegrityError naming the file and
// the offset; an impossible length is "malformed".
import { IntegrityError } from '../errors.js';
import type { AclEntry } from './records.js';

const decoder = new TextDecoder('utf-8', { fatal: false });

/** Lengths above this are refused as malformed (ZooKeeper's default jute.maxbuffer + extrasize, with room). */
export const DEFAULT_MAX_LENGTH = 64 * 1024 * 1024;

export class JuteReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
  /** Names the source in errors. */
  readonly file: string;
  /** Added to `pos` in error messages, when `buf` is a slice of a larger file. */
  readonly baseOffset: number;
  maxLength: number;

  constructor(buf: Buffer, file: string, options: { start?: number; end?: number; baseOffset?: number; maxLength?: number } = {}) {
    this.buf = buf;
    this.pos = options.start ?? 0;
    this.end = options.end ?? buf.length;
    this.file = file;
    this.baseOffset = options.baseOffset ?? 0;
    this.maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Absolute offset in the file of the current position. */
  get offset(): number {
    return this.baseOffset + this.pos;
  }

  need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      throw new IntegrityError('truncated', this.file, this.offset, `truncated: ${what} needs ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  byte(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  bool(what = 'boolean'): boolean {
    return this.byte(what) !== 0;
  }

  int(what = 'int'): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  long(what = 'long'): bigint {
    this.need(8, what);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  private length(what: string): number {
    const at = this.offset;
    const n = this.int(`${what} length`);
    if (n < -1 || n > this.maxLength) {
      throw new IntegrityError('malformed', this.file, at, `malformed: unreasonable ${what} length ${n}`);
    }
    return n;
  }

  /** Passes over a jute buffer or string without reading it: its length, -1 for null. */
  skip(what = 'buffer'): number {
    const n = this.length(what);
    if (n > 0) {
      this.need(n, what);
      this.pos += n;
    }
    return n;
  }

  /** A jute buffer as a view into the source (no copy); null for length -1. */
  buffer(what = 'buffer'): Buffer | null {
    const n = this.length(what);
    if (n === -1) return null;
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  ustring(what = 'string'): string | null {
    const b = this.buffer(what);
    return b === null ? null : decoder.decode(b);
  }

  /** A string that must not be null. */
  string(what = 'string'): string {
    const at = this.offset;
    const s = this.ustring(what);
    if (s === null) throw new IntegrityError('malformed', this.file, at, `malformed: ${what} is null`);
    return s;
  }

  vectorLength(what: string): number {
    const at = this.offset;
    const n = this.int(`${what} count`);
    if (n < -1 || n > this.maxLength) {
      throw new IntegrityError('malformed', this.file, at, `malformed: unreasonable ${what} count ${n}`);
    }
    return n;
  }

  /** vector<ACL>; null for count -1. */
  aclList(what = 'acl'): AclEntry[] | null {
    const n = this.vectorLength(what);
    if (n === -1) return null;
    const out = new Array<AclEntry>(n);
    for (let i = 0; i < n; i++) {
      const perms = this.int('acl perms');
      const scheme = this.string('acl scheme');
      const id = this.string('acl id');
      out[i] = { perms, scheme, id };
    }
    return out;
  }

  stringList(what: string): string[] | null {
    const n = this.vectorLength(what);
    if (n === -1) return null;
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = this.string(what);
    return out;
  }
}

const encoder = new TextEncoder();

/** A growable jute writer. `take()` returns the bytes written so far and starts over. */
export class JuteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  bool(v: boolean): this {
    return this.byte(v ? 1 : 0);
  }

  int(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.len);
    this.len += 4;
    return this;
  }

  long(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.len);
    this.len += 8;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  buffer(bytes: Uint8Array | null): this {
    if (bytes === null) return this.int(-1);
    this.int(bytes.length);
    return this.raw(bytes);
  }

  ustring(s: string | null): this {
    if (s === null) return this.int(-1);
    return this.buffer(encoder.encode(s));
  }

  aclList(acl: readonly AclEntry[] | null): this {
    if (acl === null) return this.int(-1);
    this.int(acl.length);
    for (const a of acl) this.int(a.perms).ustring(a.scheme).ustring(a.id);
    return this;
  }

  stringList(list: readonly string[] | null): this {
    if (list === null) return this.int(-1);
    this.int(list.length);
    for (const s of list) this.ustring(s);
    return this;
  }

  /** The bytes written so far (a copy-free view valid until the next write), without resetting. */
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** The bytes written so far as an independent Buffer; the writer starts over. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    return out;
  }

  reset(): void {
    this.len = 0;
  }
}
