// A tree sink that turns a stream of node records (parents before children, any other order) into a
// ZooKeeper snapshot file without holding the tree: records are encoded as they arrive and spooled
// to disk; ACL lists are numbered as they are first seen; the digest is summed on the way. finish()
// writes header, ACL map, the spooled records and the seals. Memory stays flat in the tree's size.
import { closeSync, openSync, readSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { JuteWriter } from '../formats/jute.js';
import { SnapshotWriter } from '../formats/snapshot.js';
import { StatView } from '../formats/stat.js';
import { add64, recordDigest } from '../core/digest.js';
import {
  countNode,
  storedCversion,
  zeroCounts,
  type AclEntry,
  type NodeCounts,
  type NodeRecord,
  type NodeStat,
} from '../core/node-record.js';
import { treeKey } from '../core/tree.js';
import { isSystemPath } from '../core/znode-path.js';

const FLUSH_AT = 1 << 20;
const OPEN_KEY = '31\u0000world\u0000anyone\u0001';

export interface SpoolResult {
  path: string;
  bytes: number;
  nodes: number;
  digest: bigint;
  counts: NodeCounts;
}

export class SnapshotSpool {
  private readonly spillPath: string;
  private readonly fd: number;
  private readonly w = new JuteWriter(FLUSH_AT + 64 * 1024);
  private readonly aclIndex = new Map<string, number>();
  private readonly acls = new Map<number, readonly AclEntry[]>();
  private readonly stat = StatView.alloc();
  private count = 0;
  private digestSum = 0n;
  private sawSystemNode = false;
  private sawRoot = false;
  readonly counts: NodeCounts = zeroCounts();

  constructor(dir: string) {
    this.spillPath = join(dir, '.nodes.spool');
    this.fd = openSync(this.spillPath, 'w+');
  }

  private indexOf(acl: readonly AclEntry[]): number {
    let key = '';
    for (const a of acl) key += `${a.perms}\u0000${a.scheme}\u0000${a.id}\u0001`;
    // world:anyone ALL is what ZooKeeper's index -1 means; keep it implicit as servers do for null.
    if (key === OPEN_KEY) return -1;
    let idx = this.aclIndex.get(key);
    if (idx === undefined) {
      idx = this.aclIndex.size + 1;
      this.aclIndex.set(key, idx);
      this.acls.set(
        idx,
        acl.map((a) => ({ ...a })),
      );
    }
    return idx;
  }

  /**
   * Adds one node as a client read it: `numChildren` from the same stat reply, so the client's
   * cversion can be turned back into the stored one.
   */
  add(rec: NodeRecord, numChildren: number): void {
    const key = treeKey(rec.path);
    if (key === '') this.sawRoot = true;
    if (isSystemPath(key)) this.sawSystemNode = true;
    const stored: NodeStat = { ...rec.stat, cversion: storedCversion(rec.stat.cversion, numChildren) };
    this.encodeInto(this.w, key, rec.data, this.indexOf(rec.acl), stored);
    this.count++;
    if (this.w.length >= FLUSH_AT) this.flush();
    countNode(this.counts, rec.stat.ephemeralOwner, rec.data?.length ?? 0);
  }

  private flush(): void {
    if (this.w.length === 0) return;
    writeSync(this.fd, this.w.view());
    this.w.reset();
  }

  /**
   * Writes the snapshot to `outPath` named for `zxid`. `root` is the walked path: for a subtree, the
   * root and the ancestors are written first with empty data and zero stats, since a snapshot must
   * hold every parent. The server's system nodes are added unless the walk already had them.
   */
  async finish(outPath: string, options: { zxid: bigint; root: string }): Promise<SpoolResult> {
    this.flush();
    const out = openSync(outPath, 'w');
    try {
      const writer = new SnapshotWriter((chunk) => void writeSync(out, chunk));
      // Synthetic nodes are encoded into a side writer so they sit before the spooled records.
      const head = new JuteWriter(4096);
      const zero: NodeStat = {
        czxid: 0n,
        mzxid: 0n,
        pzxid: 0n,
        ctime: 0n,
        mtime: 0n,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeralOwner: 0n,
      };
      const headNodes: string[] = [];
      if (!this.sawRoot) {
        headNodes.push('');
        const parts = treeKey(options.root).split('/').filter(Boolean);
        for (let i = 1; i < parts.length; i++) headNodes.push('/' + parts.slice(0, i).join('/'));
      }
      for (const key of headNodes) this.encodeInto(head, key, Buffer.alloc(0), -1, zero);
      await writer.begin([], this.acls);
      await writer.rawNodes(head.view(), headNodes.length);
      const buf = Buffer.allocUnsafe(FLUSH_AT);
      let pos = 0;
      for (;;) {
        const n = readSync(this.fd, buf, 0, buf.length, pos);
        if (n === 0) break;
        pos += n;
        await writer.rawNodes(Buffer.from(buf.subarray(0, n)), 0);
      }
      const tail = new JuteWriter(1024);
      let tailCount = 0;
      if (!this.sawSystemNode) {
        this.encodeInto(tail, '/zookeeper', Buffer.alloc(0), -1, zero);
        this.encodeInto(tail, '/zookeeper/quota', Buffer.alloc(0), -1, zero);
        tailCount = 2;
      }
      await writer.rawNodes(tail.view(), tailCount);
      const digest = BigInt.asIntN(64, this.digestSum);
      const bytes = await writer.finish({ digest: { zxid: options.zxid, value: digest } });
      fsyncSync(out);
      return { path: outPath, bytes, nodes: headNodes.length + this.count + tailCount, digest, counts: { ...this.counts } };
    } finally {
      closeSync(out);
      this.close();
    }
  }

  /** Encodes one node record into `target` and adds its hash to the digest. */
  private encodeInto(target: JuteWriter, key: string, data: Uint8Array | null, aclIndex: number, stat: NodeStat): void {
    const s = this.stat.assign(stat);
    target.ustring(key).buffer(data).long(BigInt(aclIndex)).raw(s.bytes());
    this.digestSum = add64(this.digestSum, recordDigest(key, data, s.buf, s.off));
  }

  /** Removes the spool file (finish does this too). */
  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    rmSync(this.spillPath, { force: true });
  }
}
