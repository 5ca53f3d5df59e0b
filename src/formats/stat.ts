// StatPersisted, the 60-byte per-node stat record in snapshots, read and written in place.
//
//   long czxid | long mzxid | long ctime | long mtime | int version | int cversion | int aversion
//   | long ephemeralOwner | long pzxid
//
// A StatView reads and writes those bytes where they lie (in a loaded snapshot's buffer, or in a
// slab for nodes created later), so a loaded tree costs no decoding and no per-field objects.
import type { NodeStat } from './records.js';

export const STAT_SIZE = 60;
/** Where ephemeralOwner (which says a node's type) lies in the record. */
export const EPHEMERAL_OWNER_OFFSET = 44;
const SLAB_STATS = 1024;

let slab = Buffer.alloc(STAT_SIZE * SLAB_STATS);
let slabUsed = 0;

export class StatView implements NodeStat {
  constructor(
    readonly buf: Buffer,
    readonly off: number,
  ) {}

  /** A zeroed stat in fresh memory (slab-allocated: nodes created by replay). */
  static alloc(): StatView {
    if (slabUsed === SLAB_STATS) {
      slab = Buffer.alloc(STAT_SIZE * SLAB_STATS);
      slabUsed = 0;
    }
    return new StatView(slab, STAT_SIZE * slabUsed++);
  }

  static from(stat: NodeStat): StatView {
    return StatView.alloc().assign(stat);
  }

  /** Overwrites every field with `stat`'s. */
  assign(stat: NodeStat): this {
    this.czxid = stat.czxid;
    this.mzxid = stat.mzxid;
    this.ctime = stat.ctime;
    this.mtime = stat.mtime;
    this.version = stat.version;
    this.cversion = stat.cversion;
    this.aversion = stat.aversion;
    this.ephemeralOwner = stat.ephemeralOwner;
    this.pzxid = stat.pzxid;
    return this;
  }

  get czxid(): bigint {
    return this.buf.readBigInt64BE(this.off);
  }
  set czxid(v: bigint) {
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.off);
  }
  get mzxid(): bigint {
    return this.buf.readBigInt64BE(this.off + 8);
  }
  set mzxid(v: bigint) {
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.off + 8);
  }
  get ctime(): bigint {
    return this.buf.readBigInt64BE(this.off + 16);
  }
  set ctime(v: bigint) {
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.off + 16);
  }
  get mtime(): bigint {
    return this.buf.readBigInt64BE(this.off + 24);
  }
  set mtime(v: bigint) {
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.off + 24);
  }
  get version(): number {
    return this.buf.readInt32BE(this.off + 32);
  }
  set version(v: number) {
    this.buf.writeInt32BE(v | 0, this.off + 32);
  }
  get cversion(): number {
    return this.buf.readInt32BE(this.off + 36);
  }
  set cversion(v: number) {
    this.buf.writeInt32BE(v | 0, this.off + 36);
  }
  get aversion(): number {
    return this.buf.readInt32BE(this.off + 40);
  }
  set aversion(v: number) {
    this.buf.writeInt32BE(v | 0, this.off + 40);
  }
  get ephemeralOwner(): bigint {
    return this.buf.readBigInt64BE(this.off + EPHEMERAL_OWNER_OFFSET);
  }
  set ephemeralOwner(v: bigint) {
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.off + EPHEMERAL_OWNER_OFFSET);
  }
  get pzxid(): bigint {
    return this.buf.readBigInt64BE(this.off + 52);
  }
  set pzxid(v: bigint) {
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.off + 52);
  }

  /** The 60 bytes as stored. */
  bytes(): Buffer {
    return this.buf.subarray(this.off, this.off + STAT_SIZE);
  }

  /** A plain object copy (for results that outlive the tree or get spread). */
  toObject(): NodeStat {
    return {
      czxid: this.czxid,
      mzxid: this.mzxid,
      pzxid: this.pzxid,
      ctime: this.ctime,
      mtime: this.mtime,
      version: this.version,
      cversion: this.cversion,
      aversion: this.aversion,
      ephemeralOwner: this.ephemeralOwner,
    };
  }
}
