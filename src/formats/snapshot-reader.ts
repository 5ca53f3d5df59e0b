// Reading a snapshot stream (layout in snapshot.ts) node by node, from a buffer that holds it all or
// from a file read a window at a time: the same parser either way, so a tree of millions of nodes is
// read in memory bounded by its largest node. Every seal is checked once the nodes are read.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { IntegrityError } from '../errors.js';
import type { AclEntry, NodeStat } from './records.js';
import { adler32 } from './checksum.js';
import { JuteReader } from './jute.js';
import { EPHEMERAL_OWNER_OFFSET, STAT_SIZE, StatView } from './stat.js';
import { SEAL_TAIL, SNAPSHOT_MAGIC, type SnapshotInfo, type SnapshotSession } from './snapshot.js';

const SEAL_SIZE = 13;
const DIGEST_SECTION = 20;
const LAST_ZXID_SECTION = 8;
const WINDOW = 1 << 20;

/**
 * One node record as it lies in the stream: offsets into the reader's current buffer, decoded only on
 * request. The reader reuses one instance for every node (no garbage per node), and the buffer it
 * points into changes as a file is read: copy what you keep before asking for the next node.
 */
export class SnapshotNode {
  buf: Buffer = Buffer.alloc(0);
  /** Where the record starts in the file (its path length field), and its length there. */
  fileOffset = 0;
  recordLength = 0;
  /** Where the path's bytes lie in `buf`. */
  pathOff = 0;
  pathLen = 0;
  private decodedPath: string | null = null;
  dataOff = 0;
  /** -1 for a null value. */
  dataLen = -1;
  aclIndex = -1;
  /**
   * The ACL list the index stands for; null for index -1 (world:anyone, all permissions); undefined
   * when the ACL map lacks the index. A fuzzy snapshot can hold such a node: it was created with a
   * new ACL after the map had been written. Replaying its create txn supplies the list.
   */
  acl: AclEntry[] | null | undefined = null;
  statOff = 0;

  /** Tree key: "" for the root (decoded on first use). */
  get path(): string {
    return (this.decodedPath ??= this.buf.toString('utf8', this.pathOff, this.pathOff + this.pathLen));
  }

  /** Points the node at the next record (the reader's hot loop). */
  reset(buf: Buffer, pathOff: number, pathLen: number): void {
    this.buf = buf;
    this.pathOff = pathOff;
    this.pathLen = pathLen;
    this.decodedPath = null;
  }

  get data(): Buffer | null {
    return this.dataLen < 0 ? null : this.buf.subarray(this.dataOff, this.dataOff + this.dataLen);
  }

  /** The stat's ephemeralOwner (which says the node's type), read in place: no StatView per node. */
  get ephemeralOwner(): bigint {
    return this.buf.readBigInt64BE(this.statOff + EPHEMERAL_OWNER_OFFSET);
  }

  /** A view over the stat bytes in place. */
  get statView(): StatView {
    return new StatView(this.buf, this.statOff);
  }

  get stat(): NodeStat {
    return this.statView.toObject();
  }
}

/** Where the bytes come from: all at once, or a file descriptor read on demand. */
interface Input {
  size: number;
  /** The last bytes of the stream (for the "ends with /" check). */
  tail: Buffer;
  /** Reads into `buf` at `at` from absolute offset `pos`; 0 at the end. */
  read(buf: Buffer, at: number, length: number, pos: number): number;
  close(): void;
}

function toIndex(v: bigint, r: JuteReader, at: number): number {
  if (v < -1n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IntegrityError('malformed', r.file, at, `malformed: ACL index ${v} is out of range`);
  }
  return Number(v);
}

export interface SnapshotHeader {
  version: number;
  dbid: bigint;
  sessions: SnapshotSession[];
  acls: Map<number, AclEntry[]>;
}

/**
 * A snapshot read node by node: `header` once the reader is made, then `next()` until it returns
 * null, after which every seal has been verified and `info()` tells what the trailer held. Throws
 * IntegrityError: 'truncated' when the stream ends early, 'checksum' when a seal does not match,
 * 'malformed' for a wrong magic or an impossible record.
 */
export class SnapshotReader {
  readonly header: SnapshotHeader;
  private buf: Buffer;
  /** Absolute offset of buf[0]. */
  private base = 0;
  private pos = 0;
  private end = 0;
  /** The running Adler-32 covers the stream up to this absolute offset. */
  private summed = 0;
  private adler = 1;
  private readonly node = new SnapshotNode();
  private nodeCount = 0;
  private danglingAcls = 0;
  private finished: SnapshotInfo | null = null;
  private readonly maxLength = new JuteReader(Buffer.alloc(0), '').maxLength;

  private constructor(
    private readonly input: Input,
    private readonly file: string,
    whole?: Buffer,
    windowBytes = WINDOW,
  ) {
    this.buf = whole ?? Buffer.allocUnsafe(Math.max(16, Math.min(windowBytes, input.size)));
    if (whole) this.end = whole.length;
    if (input.size < 4) throw new IntegrityError('truncated', file, 0, `truncated: ${input.size} bytes is too short for a snapshot`);
    this.header = this.readHeader();
  }

  /** A snapshot held whole in memory (uncompressed). */
  static fromBuffer(buf: Buffer, file: string): SnapshotReader {
    return new SnapshotReader(
      { size: buf.length, tail: buf.subarray(Math.max(0, buf.length - SEAL_TAIL.length)), read: () => 0, close: () => {} },
      file,
      buf,
    );
  }

  /**
   * An uncompressed snapshot file, read a window at a time (`windowBytes`, grown for a larger node).
   * close() it when done early; reading to the end closes it.
   */
  static openFile(path: string, options: { file?: string; windowBytes?: number } = {}): SnapshotReader {
    const file = options.file ?? path;
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const tail = Buffer.alloc(Math.min(size, SEAL_TAIL.length));
      readSync(fd, tail, 0, tail.length, size - tail.length);
      let open = true;
      const input: Input = {
        size,
        tail,
        read: (buf, at, length, pos) => readSync(fd, buf, at, length, pos),
        close: () => {
          if (open) closeSync(fd);
          open = false;
        },
      };
      return new SnapshotReader(input, file, undefined, options.windowBytes);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  close(): void {
    this.input.close();
  }

  /** Absolute offset of the next byte to parse. */
  private get offset(): number {
    return this.base + this.pos;
  }

  /**
   * Makes `n` bytes from pos available in buf: folds the bytes about to be dropped into the checksum,
   * moves the rest to the front, grows the window for a record larger than it, and reads more.
   */
  private ensure(n: number, what: string): void {
    if (this.end - this.pos >= n) return;
    const want = this.base + this.pos + n;
    if (want > this.input.size) {
      throw new IntegrityError(
        'truncated',
        this.file,
        this.offset,
        `truncated: ${what} needs ${n} bytes, ${this.input.size - this.offset} left`,
      );
    }
    this.adler = adler32(this.buf, this.adler, this.summed - this.base, this.pos);
    this.summed = this.offset;
    const keep = this.end - this.pos;
    let next = this.buf;
    if (n > this.buf.length) next = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    this.buf.copy(next, 0, this.pos, this.end);
    this.buf = next;
    this.base += this.pos;
    this.pos = 0;
    this.end = keep;
    while (this.end < n) {
      const got = this.input.read(this.buf, this.end, this.buf.length - this.end, this.base + this.end);
      if (got === 0) throw new IntegrityError('truncated', this.file, this.offset, `truncated: ${what} needs ${n} bytes`);
      this.end += got;
    }
  }

  /** Parses one element with a JuteReader over the window, reading more and retrying when it runs short. */
  private element<T>(parse: (r: JuteReader) => T): T {
    for (let need = 64; ; need *= 4) {
      this.ensure(Math.min(need, this.input.size - this.offset), 'the header');
      const r = new JuteReader(this.buf, this.file, { start: this.pos, end: this.end, baseOffset: this.base });
      try {
        const v = parse(r);
        this.pos = r.pos;
        return v;
      } catch (err) {
        const short = err instanceof IntegrityError && err.problem === 'truncated';
        if (!short || this.base + this.end >= this.input.size) throw err;
      }
    }
  }

  private readHeader(): SnapshotHeader {
    const { magic, version, dbid } = this.element((r) => ({ magic: r.int('magic'), version: r.int('version'), dbid: r.long('dbid') }));
    if (magic !== SNAPSHOT_MAGIC) {
      throw new IntegrityError(
        'malformed',
        this.file,
        0,
        `not a ZooKeeper snapshot: magic 0x${(magic >>> 0).toString(16)}, expected 0x5a4b534e ("ZKSN")`,
      );
    }
    const sessionCount = this.element((r) => r.vectorLength('session'));
    const sessions: SnapshotSession[] = [];
    for (let i = 0; i < sessionCount; i++)
      sessions.push(this.element((r) => ({ id: r.long('session id'), timeout: r.int('session timeout') })));
    const aclAt = this.offset;
    const aclCount = this.element((r) => r.int('ACL map count'));
    if (aclCount < 0 || aclCount > this.maxLength)
      throw new IntegrityError('malformed', this.file, aclAt, `malformed: ACL map count ${aclCount}`);
    const acls = new Map<number, AclEntry[]>();
    for (let i = 0; i < aclCount; i++) {
      const [index, list, listAt] = this.element((r) => {
        const at = r.offset;
        const idx = toIndex(r.long('ACL index'), r, at);
        const la = r.offset;
        return [idx, r.aclList('ACL list'), la] as const;
      });
      if (list === null) throw new IntegrityError('malformed', this.file, listAt, `malformed: ACL map entry ${index} has a null list`);
      acls.set(index, list);
    }
    return { version, dbid, sessions, acls };
  }

  /** The next node, or null after the last one (the seals then verified). */
  next(): SnapshotNode | null {
    if (this.finished) return null;
    const at = this.offset;
    // Hot loop: lengths are read by hand so no view object is made per node.
    this.ensure(4, 'node path length');
    const pathLen = this.buf.readInt32BE(this.pos);
    if (pathLen < 0 || pathLen > this.maxLength)
      throw new IntegrityError('malformed', this.file, at, `malformed: node path length ${pathLen}`);
    // The path and the data length, or the "/" that ends the node list.
    this.ensure(4 + pathLen + (pathLen === 1 ? 0 : 4), 'node path');
    const buf = this.buf;
    const pathOff = this.pos + 4;
    if (pathLen === 1 && buf[pathOff] === 0x2f) {
      this.pos = pathOff + 1;
      this.finish();
      return null;
    }
    this.ensure(4 + pathLen + 4, 'node data length');
    const dataLen = this.buf.readInt32BE(this.pos + 4 + pathLen);
    if (dataLen < -1 || dataLen > this.maxLength)
      throw new IntegrityError('malformed', this.file, at + 4 + pathLen, `malformed: node data length ${dataLen}`);
    const recordLen = 4 + pathLen + 4 + Math.max(0, dataLen) + 8 + STAT_SIZE;
    this.ensure(recordLen, dataLen > 0 ? 'node data' : 'node stat');
    const b = this.buf;
    const start = this.pos;
    const dataOff = start + 4 + pathLen + 4;
    const idxOff = dataOff + Math.max(0, dataLen);
    const rawIndex = b.readBigInt64BE(idxOff);
    if (rawIndex < -1n || rawIndex > BigInt(Number.MAX_SAFE_INTEGER))
      throw new IntegrityError('malformed', this.file, this.base + idxOff, `malformed: ACL index ${rawIndex} is out of range`);
    const aclIndex = Number(rawIndex);
    const acl = aclIndex === -1 ? null : this.header.acls.get(aclIndex);
    if (acl === undefined) this.danglingAcls++;
    const n = this.node;
    n.reset(b, start + 4, pathLen);
    n.fileOffset = at;
    n.recordLength = recordLen;
    n.dataOff = dataOff;
    n.dataLen = dataLen;
    n.aclIndex = aclIndex;
    n.acl = acl;
    n.statOff = idxOff + 8;
    this.pos = start + recordLen;
    this.nodeCount++;
    return n;
  }

  /** What the stream held beyond its nodes; available once next() has returned null. */
  info(): SnapshotInfo {
    if (!this.finished) throw new Error('SnapshotReader.info() before the last node');
    return this.finished;
  }

  private seal(): void {
    const at = this.offset;
    this.ensure(SEAL_SIZE, 'seal checksum');
    const running = adler32(this.buf, this.adler, this.summed - this.base, this.pos);
    const stored = this.buf.readBigInt64BE(this.pos);
    if (stored !== BigInt(running)) {
      throw new IntegrityError(
        'checksum',
        this.file,
        at,
        `seal checksum mismatch: file says adler32 0x${BigInt.asUintN(64, stored).toString(16)}, content has 0x${running.toString(16)}`,
      );
    }
    if (!this.buf.subarray(this.pos + 8, this.pos + SEAL_SIZE).equals(SEAL_TAIL)) {
      throw new IntegrityError('malformed', this.file, at + 8, 'malformed: seal is not followed by "/"');
    }
    this.pos += SEAL_SIZE;
    // The seal's own bytes count toward the next one.
    this.adler = adler32(this.buf, this.adler, this.summed - this.base, this.pos);
    this.summed = this.offset;
  }

  private finish(): void {
    this.seal();
    let seals = 1;
    const left = () => this.input.size - this.offset;
    if (left() > 0 && !(this.input.size >= 10 && this.input.tail.equals(SEAL_TAIL))) {
      // A server writes the sections after seal #1 last: a file cut while they were written ends
      // inside one, not with "/", and ZooKeeper passes it over as incomplete.
      throw new IntegrityError(
        'truncated',
        this.file,
        this.offset,
        `truncated: the file goes on ${left()} bytes past its first seal but does not end with "/" as a whole section would (cut short while being written)`,
      );
    }
    let digest: SnapshotInfo['digest'] = null;
    let lastZxid: bigint | null = null;
    if (left() >= DIGEST_SECTION + SEAL_SIZE) {
      digest = this.element((r) => {
        const zxid = r.long('digest zxid');
        const version = r.int('digest version');
        const value = version >= 2 ? r.long('digest') : BigInt('0x' + (r.ustring('digest') || '0'));
        return { zxid, version, value };
      });
      this.seal();
      seals++;
    }
    if (left() >= LAST_ZXID_SECTION + SEAL_SIZE) {
      lastZxid = this.element((r) => r.long('lastProcessedZxid'));
      this.seal();
      seals++;
    }
    this.finished = {
      ...this.header,
      nodeCount: this.nodeCount,
      danglingAcls: this.danglingAcls,
      seals,
      digest,
      lastZxid,
      trailingBytes: left(),
      size: this.input.size,
    };
    this.input.close();
  }
}

/**
 * Parses an uncompressed snapshot stream held in memory, calling `onNode` for each node in file order,
 * and verifies every seal (see SnapshotReader).
 */
export function parseSnapshot(buf: Buffer, file: string, onNode: (node: SnapshotNode) => void): SnapshotInfo {
  const reader = SnapshotReader.fromBuffer(buf, file);
  for (let n = reader.next(); n; n = reader.next()) onNode(n);
  return reader.info();
}
