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
import type { AclEntry, NodeStat } from './records.js';
import { adler32 } from './checksum.js';
import { JuteReader, JuteWriter } from './jute.js';
import { STAT_SIZE, StatView } from './stat.js';

export const SNAPSHOT_MAGIC = 0x5a4b534e;
const SEAL_TAIL = Buffer.from([0, 0, 0, 1, 0x2f]);
const SEAL_SIZE = 13;
const DIGEST_SECTION = 20;
const LAST_ZXID_SECTION = 8;

export interface SnapshotSession {
  id: bigint;
  timeout: number;
}

/**
 * One node record as it lies in the stream: offsets into the buffer, decoded only on request. The
 * parser reuses one instance for every node (no garbage per node): copy what you keep.
 */
export class SnapshotNode {
  /** Tree key: "" for the root. */
  path = '';
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

  constructor(readonly buf: Buffer) {}

  get data(): Buffer | null {
    return this.dataLen < 0 ? null : this.buf.subarray(this.dataOff, this.dataOff + this.dataLen);
  }

  /** A view over the stat bytes in place. */
  get statView(): StatView {
    return new StatView(this.buf, this.statOff);
  }

  get stat(): NodeStat {
    return this.statView.toObject();
  }
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
  /** Nodes whose ACL index the map lacks (see SnapshotNode.acl). */
  danglingAcls: number;
  /** Number of seals found and verified (1 to 3). */
  seals: number;
  digest: SnapshotDigest | null;
  lastZxid: bigint | null;
  /** Bytes after the last section this reader understands, in a file that still ends with "/" (ZooKeeper ignores them). */
  trailingBytes: number;
  /** Uncompressed size. */
  size: number;
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
    throw new IntegrityError(
      'malformed',
      file,
      0,
      `not a ZooKeeper snapshot: magic 0x${(magic >>> 0).toString(16)}, expected 0x5a4b534e ("ZKSN")`,
    );
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
  let danglingAcls = 0;
  const cursor = new SnapshotNode(buf);
  for (;;) {
    const at = r.offset;
    // Hot loop: lengths are read by hand so no view object is made per node.
    r.need(4, 'node path length');
    const pathLen = buf.readInt32BE(r.pos);
    if (pathLen < 0 || pathLen > r.maxLength) throw new IntegrityError('malformed', file, at, `malformed: node path length ${pathLen}`);
    r.need(4 + pathLen, 'node path');
    const pathOff = r.pos + 4;
    r.pos = pathOff + pathLen;
    if (pathLen === 1 && buf[pathOff] === 0x2f) break; // "/" ends the node list
    const path = buf.toString('utf8', pathOff, pathOff + pathLen);
    const dataAt = r.offset;
    r.need(4, 'node data length');
    const dataLen = buf.readInt32BE(r.pos);
    if (dataLen < -1 || dataLen > r.maxLength)
      throw new IntegrityError('malformed', file, dataAt, `malformed: node data length ${dataLen}`);
    const dataOff = r.pos + 4;
    r.pos = dataOff;
    if (dataLen > 0) {
      r.need(dataLen, 'node data');
      r.pos += dataLen;
    }
    const idxAt = r.offset;
    const aclIndex = toIndex(r.long('node ACL index'), r, idxAt);
    r.need(STAT_SIZE, 'node stat');
    const statOff = r.pos;
    r.pos += STAT_SIZE;
    const acl = aclIndex === -1 ? null : acls.get(aclIndex);
    if (acl === undefined) danglingAcls++;
    cursor.path = path;
    cursor.dataOff = dataOff;
    cursor.dataLen = dataLen;
    cursor.aclIndex = aclIndex;
    cursor.acl = acl;
    cursor.statOff = statOff;
    onNode(cursor);
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
  if (left() > 0 && !looksComplete(buf)) {
    // A server writes the sections after seal #1 last: a file cut while they were written ends
    // inside one, not with "/", and ZooKeeper passes it over as incomplete.
    throw new IntegrityError(
      'truncated',
      file,
      r.offset,
      `truncated: the file goes on ${left()} bytes past its first seal but does not end with "/" as a whole section would (cut short while being written)`,
    );
  }
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
  return { version, dbid, sessions, acls, nodeCount, danglingAcls, seals, digest, lastZxid, trailingBytes: left(), size: buf.length };
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
    if (stat instanceof StatView) {
      this.w.raw(stat.bytes());
    } else
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

  /**
   * Appends node records already encoded as a snapshot stores them (path, data, ACL index, stat),
   * e.g. spooled to disk while the nodes were collected. `count` is how many records `bytes` holds.
   */
  async rawNodes(bytes: Buffer, count: number): Promise<void> {
    if (this.state !== 'nodes') throw new Error('SnapshotWriter.rawNodes called outside begin/finish');
    this.w.raw(bytes);
    this.nodes += count;
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
