// Snapshot files (`snapshot.<hex zxid>[.gz|.snappy]`), 3.4 through 3.9. Uncompressed stream layout:
//
//   int magic "ZKSN" 0x5A4B534E | int version 2 | long dbid -1
//   int S, S × (long sessionId, int timeoutMs)
//   int A, A × (long aclIndex, vector<ACL>)            index -1 (world:anyone ALL) is never listed
//   nodes, pre-order: ustring path ("" = root), buffer data, long aclIndex, StatPersisted(60)
//   ustring "/"                                          end of nodes
//   seal #1: long adler32(every byte so far), ustring "/"
//   [3.6+] long digestZxid, int digestVersion (2), long digest; seal #2
//   [3.9+] long lastProcessedZxid; seal #3
//
// StatPersisted = czxid, mzxid, ctime, mtime (longs), version, cversion, aversion (ints),
// ephemeralOwner, pzxid (longs). The Adler-32 runs over the uncompressed bytes and is never reset.
// Sections after seal #1 are untagged: they are told apart by how many bytes remain (33/21/54).
import { IntegrityError } from '../errors.js';
import type { AclEntry, NodeStat } from '../core/node-record.js';
import { adler32 } from './checksum.js';
import { JuteReader, JuteWriter } from './jute.js';

export const SNAPSHOT_MAGIC = 0x5a4b534e;
const SEAL_TAIL = Buffer.from([0, 0, 0, 1, 0x2f]);
const SEAL_SIZE = 13;
const DIGEST_SECTION = 20;
const LAST_ZXID_SECTION = 8;

export interface SnapshotSession {
  id: bigint;
  timeout: number;
}

export interface SnapshotNode {
  /** Tree key: "" for the root. */
  path: string;
  /** The path's bytes as stored (for digesting without re-encoding). */
  pathBytes: Buffer;
  data: Buffer | null;
  aclIndex: number;
  /** The ACL list the index stands for; null for index -1 (world:anyone, all permissions). */
  acl: AclEntry[] | null;
  stat: NodeStat;
}

export interface SnapshotDigest {
  zxid: bigint;
  version: number;
  value: bigint;
}

export interface SnapshotInfo {
  version: number;
  dbid: bigint;
  sessions: SnapshotSession[];
  acls: Map<number, AclEntry[]>;
  nodeCount: number;
  /** Number of seals found and verified (1 to 3). */
  seals: number;
  digest: SnapshotDigest | null;
  lastZxid: bigint | null;
  /** Bytes after the last section this reader understands (ZooKeeper ignores them). */
  trailingBytes: number;
  /** Uncompressed size. */
  size: number;
}

function readStat(r: JuteReader): NodeStat {
  r.need(60, 'node stat');
  const b = r.buf;
  const p = r.pos;
  const stat: NodeStat = {
    czxid: b.readBigInt64BE(p),
    mzxid: b.readBigInt64BE(p + 8),
    ctime: b.readBigInt64BE(p + 16),
    mtime: b.readBigInt64BE(p + 24),
    version: b.readInt32BE(p + 32),
    cversion: b.readInt32BE(p + 36),
    aversion: b.readInt32BE(p + 40),
    ephemeralOwner: b.readBigInt64BE(p + 44),
    pzxid: b.readBigInt64BE(p + 52),
  };
  r.pos = p + 60;
  return stat;
}

function toIndex(v: bigint, r: JuteReader, at: number): number {
  if (v < -1n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IntegrityError('malformed', r.file, at, `malformed: ACL index ${v} is out of range`);
  }
  return Number(v);
}

/**
 * Parses an uncompressed snapshot stream, calling `onNode` for each node in file order, and verifies
 * every seal. Throws IntegrityError: 'truncated' when the stream ends early, 'checksum' when a seal
 * does not match, 'malformed' for a wrong magic or an impossible record.
 */
export function parseSnapshot(buf: Buffer, file: string, onNode: (node: SnapshotNode) => void): SnapshotInfo {
  const r = new JuteReader(buf, file);
  if (buf.length < 4) throw new IntegrityError('truncated', file, 0, `truncated: ${buf.length} bytes is too short for a snapshot`);
  const magic = r.int('magic');
  if (magic !== SNAPSHOT_MAGIC) {
    throw new IntegrityError('malformed', file, 0, `not a ZooKeeper snapshot: magic 0x${(magic >>> 0).toString(16)}, expected 0x5a4b534e ("ZKSN")`);
  }
  const version = r.int('version');
  const dbid = r.long('dbid');

  const sessionCount = r.vectorLength('session');
  const sessions: SnapshotSession[] = [];
  for (let i = 0; i < sessionCount; i++) sessions.push({ id: r.long('session id'), timeout: r.int('session timeout') });

  const aclAt = r.offset;
  const aclCount = r.int('ACL map count');
  if (aclCount < 0 || aclCount > r.maxLength) throw new IntegrityError('malformed', file, aclAt, `malformed: ACL map count ${aclCount}`);
  const acls = new Map<number, AclEntry[]>();
  for (let i = 0; i < aclCount; i++) {
    const at = r.offset;
    const index = toIndex(r.long('ACL index'), r, at);
    const listAt = r.offset;
    const list = r.aclList('ACL list');
    if (list === null) throw new IntegrityError('malformed', file, listAt, `malformed: ACL map entry ${index} has a null list`);
    acls.set(index, list);
  }

  let nodeCount = 0;
  for (;;) {
    const at = r.offset;
    const pathBytes = r.buffer('node path');
    if (pathBytes === null) throw new IntegrityError('malformed', file, at, 'malformed: null node path');
    if (pathBytes.length === 1 && pathBytes[0] === 0x2f) break; // "/" ends the node list
    const path = pathBytes.toString('utf8');
    const data = r.buffer('node data');
    const idxAt = r.offset;
    const aclIndex = toIndex(r.long('node ACL index'), r, idxAt);
    const stat = readStat(r);
    const acl = aclIndex === -1 ? null : acls.get(aclIndex);
    if (acl === undefined) {
      throw new IntegrityError('malformed', file, idxAt, `malformed: node ${path || '/'} uses ACL index ${aclIndex}, which the ACL map lacks`);
    }
    onNode({ path, pathBytes, data, aclIndex, acl, stat });
    nodeCount++;
  }

  let running = 1;
  let checked = 0;
  const seal = () => {
    const at = r.pos;
    running = adler32(buf, running, checked, at);
    const stored = r.long('seal checksum');
    if (stored !== BigInt(running)) {
      throw new IntegrityError(
        'checksum',
        file,
        at,
        `seal checksum mismatch: file says adler32 0x${BigInt.asUintN(64, stored).toString(16)}, content has 0x${running.toString(16)}`,
      );
    }
    const tail = r.buffer('seal marker');
    if (tail === null || tail.length !== 1 || tail[0] !== 0x2f) {
      throw new IntegrityError('malformed', file, at + 8, 'malformed: seal is not followed by "/"');
    }
    running = adler32(buf, running, at, r.pos);
    checked = r.pos;
  };
  seal();
  let seals = 1;

  let digest: SnapshotDigest | null = null;
  let lastZxid: bigint | null = null;
  const left = () => r.remaining;
  if (left() >= DIGEST_SECTION + SEAL_SIZE) {
    const zxid = r.long('digest zxid');
    const dv = r.int('digest version');
    let value: bigint;
    if (dv >= 2) value = r.long('digest');
    else value = BigInt('0x' + (r.ustring('digest') || '0'));
    digest = { zxid, version: dv, value };
    seal();
    seals++;
  }
  if (left() >= LAST_ZXID_SECTION + SEAL_SIZE) {
    lastZxid = r.long('lastProcessedZxid');
    seal();
    seals++;
  }
  return { version, dbid, sessions, acls, nodeCount, seals, digest, lastZxid, trailingBytes: left(), size: buf.length };
}

/** ZooKeeper's cheap validity check: an uncompressed file must end in the string "/". */
export function looksComplete(buf: Buffer): boolean {
  return buf.length >= 10 && buf.subarray(buf.length - 5).equals(SEAL_TAIL);
}

export interface SnapshotTrailer {
  /** Written as the 3.6+ digest section; omit for a 3.4/3.5-style file. */
  digest?: { zxid: bigint; value: bigint } | null;
  /** Written as the 3.9 lastProcessedZxid section (needs a digest section before it). */
  lastZxid?: bigint | null;
}

/**
 * Streams a snapshot: header, sessions and ACL map first, then nodes in pre-order, then the seals.
 * Output goes to `sink` in chunks of about `chunkSize` bytes; the running Adler-32 covers it all.
 * Nothing is held beyond one chunk, so memory does not grow with the tree.
 */
export class SnapshotWriter {
  private readonly w: JuteWriter;
  private adler = 1;
  private written = 0;
  private nodes = 0;
  private state: 'new' | 'nodes' | 'done' = 'new';

  constructor(
    private readonly sink: (chunk: Buffer) => void | Promise<void>,
    private readonly chunkSize = 1 << 20,
  ) {
    this.w = new JuteWriter(chunkSize + 64 * 1024);
  }

  get bytesWritten(): number {
    return this.written + this.w.length;
  }

  get nodesWritten(): number {
    return this.nodes;
  }

  private async flush(): Promise<void> {
    if (this.w.length === 0) return;
    const chunk = this.w.take();
    this.adler = adler32(chunk, this.adler);
    this.written += chunk.length;
    await this.sink(chunk);
  }

  async begin(sessions: Iterable<SnapshotSession>, acls: Map<number, readonly AclEntry[]>): Promise<void> {
    if (this.state !== 'new') throw new Error('SnapshotWriter.begin called twice');
    this.w.int(SNAPSHOT_MAGIC).int(2).long(-1n);
    const list = [...sessions];
    this.w.int(list.length);
    for (const s of list) this.w.long(s.id).int(s.timeout);
    this.w.int(acls.size);
    for (const [index, acl] of acls) {
      if (index === -1) throw new Error('ACL index -1 is implicit and must not be written');
      this.w.long(BigInt(index)).aclList(acl);
    }
    this.state = 'nodes';
    if (this.w.length >= this.chunkSize) await this.flush();
  }

  /** Appends one node; `path` is the tree key ("" for the root). Parents must come first. */
  async node(path: string | Uint8Array, data: Uint8Array | null, aclIndex: number, stat: NodeStat): Promise<void> {
    if (this.state !== 'nodes') throw new Error('SnapshotWriter.node called outside begin/finish');
    if (typeof path === 'string') this.w.ustring(path);
    else this.w.buffer(path);
    this.w.buffer(data).long(BigInt(aclIndex));
    this.w
      .long(stat.czxid)
      .long(stat.mzxid)
      .long(stat.ctime)
      .long(stat.mtime)
      .int(stat.version)
      .int(stat.cversion)
      .int(stat.aversion)
      .long(stat.ephemeralOwner)
      .long(stat.pzxid);
    this.nodes++;
    if (this.w.length >= this.chunkSize) await this.flush();
  }

  private async writeSeal(): Promise<void> {
    // The seal's checksum covers everything before it, so flush first to fold those bytes in.
    await this.flush();
    this.w.long(BigInt(this.adler)).ustring('/');
  }

  /** Ends the node list and writes the seals and optional sections. Returns the total size. */
  async finish(trailer: SnapshotTrailer = {}): Promise<number> {
    if (this.state !== 'nodes') throw new Error('SnapshotWriter.finish called out of order');
    this.w.ustring('/');
    await this.writeSeal();
    if (trailer.digest) {
      this.w.long(trailer.digest.zxid).int(2).long(trailer.digest.value);
      await this.writeSeal();
      if (trailer.lastZxid !== undefined && trailer.lastZxid !== null) {
        this.w.long(trailer.lastZxid);
        await this.writeSeal();
      }
    }
    await this.flush();
    this.state = 'done';
    return this.written;
  }
}
