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
// Reading is in snapshot-reader.ts; this module holds the layout's constants and the writer.
import type { AclEntry, NodeStat } from './records.js';
import { adler32 } from './checksum.js';
import { JuteWriter } from './jute.js';
import { StatView } from './stat.js';

export const SNAPSHOT_MAGIC = 0x5a4b534e;
/** How every complete uncompressed snapshot ends: a seal's `ustring "/"`. */
export const SEAL_TAIL = Buffer.from([0, 0, 0, 1, 0x2f]);

export interface SnapshotSession {
  id: bigint;
  timeout: number;
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
