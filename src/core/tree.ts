// The in-memory znode tree with ZooKeeper's own mutation rules (DataTree semantics, 3.6+): the
// digest kept incrementally, ACL lists interned, ephemerals indexed by owner session, and the
// session table and last processed zxid that a snapshot carries alongside the tree.
import type { AclEntry, NodeCounts, NodeRecord, NodeStat } from './node-record.js';
import { clientCversion, countNode, nodeTypeOf, zeroCounts } from './node-record.js';
import { add64, nodeDigest, sub64, type DigestPathEncoding } from './digest.js';
import { isSystemPath } from './znode-path.js';
import { StatView } from '../formats/stat.js';
import { crc32 } from '../formats/checksum.js';

/** The ACL ZooKeeper uses for a null list (ACL-map index -1): world:anyone, all permissions. */
export const OPEN_ACL_UNSAFE: readonly AclEntry[] = Object.freeze([Object.freeze({ perms: 31, scheme: 'world', id: 'anyone' })]);

export class ZNode {
  // Data as a range of a shared buffer (a loaded snapshot's), so loading copies nothing; dlen -1 = null.
  private dbuf: Uint8Array;
  private doff: number;
  private dlen: number;
  /** Interned ACL list; null means ZooKeeper's index -1 (world:anyone ALL). */
  acl: readonly AclEntry[] | null;
  private readonly sbuf: Buffer;
  private readonly soff: number;
  /** How many children the node has (ZooKeeper's child set, kept as a count; see DataTree.childrenOf). */
  numChildren = 0;

  constructor(data: Uint8Array | null, acl: readonly AclEntry[] | null, stat: NodeStat) {
    this.dbuf = data ?? EMPTY;
    this.doff = 0;
    this.dlen = data ? data.length : -1;
    this.acl = acl;
    const view = stat instanceof StatView ? stat : StatView.from(stat);
    this.sbuf = view.buf;
    this.soff = view.off;
  }

  /** The persisted stat, read and written in place (a fresh view each time; views are cheap). */
  get stat(): StatView {
    return new StatView(this.sbuf, this.soff);
  }

  /** A node over bytes that lie in `buf` (no copy). */
  static inPlace(buf: Buffer, dataOff: number, dataLen: number, acl: readonly AclEntry[] | null, statOff: number): ZNode {
    const n = new ZNode(null, acl, new StatView(buf, statOff));
    n.dbuf = buf;
    n.doff = dataOff;
    n.dlen = dataLen;
    return n;
  }

  get data(): Buffer | null {
    if (this.dlen < 0) return null;
    return Buffer.from(this.dbuf.buffer, this.dbuf.byteOffset + this.doff, this.dlen);
  }

  set data(value: Uint8Array | null) {
    if (value === null) {
      this.dbuf = EMPTY;
      this.doff = 0;
      this.dlen = -1;
    } else {
      this.dbuf = value;
      this.doff = 0;
      this.dlen = value.length;
    }
  }

  get dataLength(): number {
    return this.dlen < 0 ? 0 : this.dlen;
  }

  /** CRC-32 of the data continuing `crc` (for the digest, without creating a view). */
  crcData(crc: number): number {
    return this.dlen <= 0 ? crc : crc32(this.dbuf, crc, this.doff, this.doff + this.dlen);
  }
}

const EMPTY = new Uint8Array(0);

/** ZooKeeper keeps the root under the empty path; `/` is its alias. */
export function treeKey(path: string): string {
  return path === '/' ? '' : path;
}

export function displayPath(key: string): string {
  return key === '' ? '/' : key;
}

export function parentKey(key: string): string {
  return key.slice(0, key.lastIndexOf('/'));
}

export function zeroStat(): NodeStat {
  return { czxid: 0n, mzxid: 0n, pzxid: 0n, ctime: 0n, mtime: 0n, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n };
}

export class NoNodeError extends Error {
  readonly code = -101;
}
export class NodeExistsError extends Error {
  readonly code = -110;
}

/**
 * Adds (or removes) `key` to the ephemerals of its owning session, when `owner` makes it ephemeral;
 * a session's set goes when it empties. What a closed session takes with it.
 */
export function trackEphemeral(ephemerals: Map<bigint, Set<string>>, key: string, owner: bigint, add: boolean): void {
  if (nodeTypeOf(owner) !== 'ephemeral') return;
  let set = ephemerals.get(owner);
  if (add) {
    if (!set) ephemerals.set(owner, (set = new Set()));
    set.add(key);
  } else if (set) {
    set.delete(key);
    if (set.size === 0) ephemerals.delete(owner);
  }
}

export class DataTree {
  readonly nodes = new Map<string, ZNode>();
  /** Global sessions: id → timeout (ms). */
  readonly sessions = new Map<bigint, number>();
  /** Plain ephemerals by owning session (containers and TTL nodes are not listed). */
  readonly ephemerals = new Map<bigint, Set<string>>();
  lastProcessedZxid = 0n;
  /**
   * Nodes loaded from a fuzzy snapshot whose ACL index its ACL map lacks (key → index): the txn that
   * created or re-ACLed them is in the fuzzy window, and replaying it gives them their list.
   */
  readonly pendingAcl = new Map<string, number>();
  private readonly aclIntern = new Map<string, readonly AclEntry[]>();
  private readonly aclByIdentity = new WeakMap<readonly AclEntry[], readonly AclEntry[]>();
  /** Running digest (sum of node hashes mod 2^64); null until first asked for. */
  private digestSum: bigint | null = null;
  /** How path bytes are hashed in the digest (see DigestPathEncoding). */
  private digestEncoding: DigestPathEncoding = 'utf8';

  /** A tree as a fresh ZooKeeper server has it: root, /zookeeper, /zookeeper/quota. */
  static empty(): DataTree {
    const t = new DataTree();
    t.putNode('', new ZNode(Buffer.alloc(0), null, zeroStat()));
    t.putNode('/zookeeper', new ZNode(Buffer.alloc(0), null, zeroStat()));
    t.putNode('/zookeeper/quota', new ZNode(Buffer.alloc(0), null, zeroStat()));
    return t;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(path: string): ZNode | undefined {
    return this.nodes.get(treeKey(path));
  }

  internAcl(acl: readonly AclEntry[] | null): readonly AclEntry[] | null {
    if (acl === null) return null;
    // Loading hands the same list object for every node with one ACL-map index: skip the key then.
    const seen = this.aclByIdentity.get(acl);
    if (seen) return seen;
    let key = '';
    for (const a of acl) key += `${a.perms}\u0000${a.scheme}\u0000${a.id}\u0001`;
    let found = this.aclIntern.get(key);
    if (!found) {
      found = Object.freeze(acl.map((a) => Object.freeze({ perms: a.perms, scheme: a.scheme, id: a.id })));
      this.aclIntern.set(key, found);
      this.aclByIdentity.set(found, found);
    }
    this.aclByIdentity.set(acl, found);
    return found;
  }

  /**
   * Inserts a node as read from a snapshot: the parent must exist (snapshots list parents first), and
   * the parent counts it as a child. Used for loading, not for replay.
   */
  putNode(key: string, node: ZNode): void {
    if (key !== '') {
      const parent = this.nodes.get(parentKey(key));
      if (!parent) throw new NoNodeError(`parent of ${displayPath(key)} is missing`);
      if (!this.nodes.has(key)) parent.numChildren++;
    }
    node.acl = this.internAcl(node.acl);
    this.nodes.set(key, node);
    trackEphemeral(this.ephemerals, key, node.stat.ephemeralOwner, true);
    if (this.digestSum !== null) this.digestSum = add64(this.digestSum, nodeDigest(key, node, this.digestEncoding));
  }

  /** The tree digest as ZooKeeper computes it (signed 64-bit). Computed on first use, then kept. */
  digest(): bigint {
    if (this.digestSum === null) this.digestSum = this.digestSumFor(this.digestEncoding);
    return BigInt.asIntN(64, this.digestSum);
  }

  get digestPathEncoding(): DigestPathEncoding {
    return this.digestEncoding;
  }

  /** The digest recomputed from every node with the given path encoding (signed 64-bit). */
  fullDigest(encoding: DigestPathEncoding): bigint {
    return BigInt.asIntN(64, this.digestSumFor(encoding));
  }

  private digestSumFor(encoding: DigestPathEncoding): bigint {
    let sum = 0n;
    for (const [key, node] of this.nodes) sum = add64(sum, nodeDigest(key, node, encoding));
    return sum;
  }

  /** Switches how paths are hashed from now on (for servers whose JVM charset is not UTF-8). */
  setDigestPathEncoding(encoding: DigestPathEncoding): void {
    if (encoding === this.digestEncoding) return;
    this.digestEncoding = encoding;
    if (this.digestSum !== null) this.digestSum = this.digestSumFor(encoding);
  }

  /** True when some path is not plain ASCII (only then can the path encoding matter). */
  hasNonAsciiPath(): boolean {
    for (const key of this.nodes.keys()) if (/[^\p{ASCII}]/u.test(key)) return true;
    return false;
  }

  private preChange(key: string, node: ZNode): void {
    if (this.digestSum !== null) this.digestSum = sub64(this.digestSum, nodeDigest(key, node, this.digestEncoding));
  }

  private postChange(key: string, node: ZNode): void {
    if (this.digestSum !== null) this.digestSum = add64(this.digestSum, nodeDigest(key, node, this.digestEncoding));
  }

  createNode(
    path: string,
    data: Uint8Array | null,
    acl: readonly AclEntry[] | null,
    ephemeralOwner: bigint,
    parentCVersion: number,
    zxid: bigint,
    time: bigint,
  ): void {
    const key = treeKey(path);
    const pKey = parentKey(key);
    const parent = this.nodes.get(pKey);
    if (!parent) throw new NoNodeError(path);
    const interned = this.internAcl(acl);
    // ZooKeeper asks the parent's child set; the node map holds the same names (3.9.4+ asks it too).
    const existing = this.nodes.get(key);
    if (existing) {
      // A fuzzy snapshot's node with an ACL index its map lacks: this create is where it came from.
      if (this.pendingAcl.delete(key)) existing.acl = interned;
      throw new NodeExistsError(path);
    }
    this.preChange(pKey, parent);
    if (parentCVersion === -1) parentCVersion = parent.stat.cversion + 1;
    if (parentCVersion > parent.stat.cversion) {
      parent.stat.cversion = parentCVersion;
      parent.stat.pzxid = zxid;
    }
    parent.numChildren++;
    this.postChange(pKey, parent);
    const stat = StatView.alloc();
    stat.czxid = zxid;
    stat.mzxid = zxid;
    stat.pzxid = zxid;
    stat.ctime = time;
    stat.mtime = time;
    stat.ephemeralOwner = ephemeralOwner;
    const node = new ZNode(data, interned, stat);
    this.nodes.set(key, node);
    trackEphemeral(this.ephemerals, key, ephemeralOwner, true);
    if (this.digestSum !== null) this.digestSum = add64(this.digestSum, nodeDigest(key, node, this.digestEncoding));
  }

  deleteNode(path: string, zxid: bigint): void {
    const key = treeKey(path);
    const pKey = parentKey(key);
    const parent = this.nodes.get(pKey);
    if (!parent) throw new NoNodeError(path);
    // The parent is updated even when the child is already gone (fuzzy snapshots).
    this.preChange(pKey, parent);
    const node = this.nodes.get(key);
    if (node) parent.numChildren--;
    if (zxid > parent.stat.pzxid) parent.stat.pzxid = zxid;
    this.postChange(pKey, parent);
    if (!node) throw new NoNodeError(path);
    if (this.digestSum !== null) this.digestSum = sub64(this.digestSum, nodeDigest(key, node, this.digestEncoding));
    this.nodes.delete(key);
    this.pendingAcl.delete(key);
    trackEphemeral(this.ephemerals, key, node.stat.ephemeralOwner, false);
  }

  setData(path: string, data: Uint8Array | null, version: number, zxid: bigint, time: bigint): void {
    const key = treeKey(path);
    const node = this.nodes.get(key);
    if (!node) throw new NoNodeError(path);
    this.preChange(key, node);
    node.data = data;
    node.stat.mtime = time;
    node.stat.mzxid = zxid;
    node.stat.version = version;
    this.postChange(key, node);
  }

  setAcl(path: string, acl: readonly AclEntry[] | null, version: number): void {
    const key = treeKey(path);
    const node = this.nodes.get(key);
    if (!node) throw new NoNodeError(path);
    this.pendingAcl.delete(key);
    this.preChange(key, node);
    node.stat.aversion = version;
    node.acl = this.internAcl(acl);
    this.postChange(key, node);
  }

  setCversionPzxid(path: string, newCversion: number, zxid: bigint): void {
    let key = treeKey(path);
    if (key.endsWith('/')) key = key.slice(0, -1);
    const node = this.nodes.get(key);
    if (!node) throw new NoNodeError(path);
    if (newCversion === -1) newCversion = node.stat.cversion + 1;
    if (newCversion > node.stat.cversion) {
      this.preChange(key, node);
      node.stat.cversion = newCversion;
      node.stat.pzxid = zxid;
      this.postChange(key, node);
    }
  }

  /** Deletes a closed session's ephemerals: the listed paths first, then any the tree still has. */
  killSession(session: bigint, zxid: bigint, pathsInTxn: string[] | null): void {
    const local = this.ephemerals.get(session);
    this.ephemerals.delete(session);
    const remaining = local ? new Set(local) : null;
    if (pathsInTxn) {
      for (const p of pathsInTxn) {
        this.deleteQuietly(p, zxid);
        remaining?.delete(treeKey(p));
      }
    }
    if (remaining) for (const key of remaining) this.deleteQuietly(key, zxid);
  }

  private deleteQuietly(path: string, zxid: bigint): void {
    try {
      this.deleteNode(path, zxid);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
  }

  /**
   * The tree keys at or under `root`, sorted by plain string comparison: every parent comes before
   * its children (a parent's key is a prefix of theirs), which is all a snapshot's node order needs.
   */
  sortedKeys(root = ''): string[] {
    const r = treeKey(root);
    const keys: string[] = [];
    for (const key of this.nodes.keys()) if (r === '' || key === r || key.startsWith(r + '/')) keys.push(key);
    return keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The nodes a restore of this tree creates, by type: every node but `/zookeeper` and its subtree. */
  counts(): NodeCounts {
    const c = zeroCounts();
    for (const [key, node] of this.nodes) if (!isSystemPath(key)) countNode(c, node.stat.ephemeralOwner, node.dataLength);
    return c;
  }

  /**
   * The nodes at or under `path`, sorted by path (plain string comparison), `/zookeeper` and its
   * subtree excluded, as export prints them: stats as clients see them (cversion in client terms),
   * ephemeralOwner as stored (so container and TTL types survive).
   */
  records(path = '/'): NodeRecord[] {
    const out: NodeRecord[] = [];
    for (const key of this.sortedKeys(path)) {
      if (isSystemPath(key)) continue;
      const node = this.nodes.get(key)!;
      const stat = { ...node.stat.toObject(), cversion: clientCversion(node.stat.cversion, node.numChildren) };
      out.push({ path: displayPath(key), data: node.data, acl: (node.acl ?? OPEN_ACL_UNSAFE).map((a) => ({ ...a })), stat });
    }
    // Keys sort like paths except the root ("" vs "/"), which comes first either way.
    return out;
  }
}
