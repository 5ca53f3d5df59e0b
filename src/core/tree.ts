// The in-memory znode tree with ZooKeeper's own mutation rules (DataTree semantics, 3.6+): the
// digest kept incrementally, ACL lists interned, ephemerals indexed by owner session, and the
// session table and last processed zxid that a snapshot carries alongside the tree.
import type { AclEntry, NodeRecord, NodeStat } from './node-record.js';
import { clientCversion, comparePaths, nodeTypeOf } from './node-record.js';
import { nodeDigest, type DigestPathEncoding } from './digest.js';

/** The ACL ZooKeeper uses for a null list (ACL-map index -1): world:anyone, all permissions. */
export const OPEN_ACL_UNSAFE: readonly AclEntry[] = Object.freeze([Object.freeze({ perms: 31, scheme: 'world', id: 'anyone' })]);

export class ZNode {
  data: Uint8Array | null;
  /** Interned ACL list; null means ZooKeeper's index -1 (world:anyone ALL). */
  acl: readonly AclEntry[] | null;
  stat: NodeStat;
  children: Set<string> | null = null;

  constructor(data: Uint8Array | null, acl: readonly AclEntry[] | null, stat: NodeStat) {
    this.data = data;
    this.acl = acl;
    this.stat = stat;
  }
}

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

export class DataTree {
  readonly nodes = new Map<string, ZNode>();
  /** Global sessions: id → timeout (ms). */
  readonly sessions = new Map<bigint, number>();
  /** Plain ephemerals by owning session (containers and TTL nodes are not listed). */
  readonly ephemerals = new Map<bigint, Set<string>>();
  lastProcessedZxid = 0n;
  private readonly aclIntern = new Map<string, readonly AclEntry[]>();
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
    let key = '';
    for (const a of acl) key += `${a.perms}\u0000${a.scheme}\u0000${a.id}\u0001`;
    let found = this.aclIntern.get(key);
    if (!found) {
      found = Object.freeze(acl.map((a) => Object.freeze({ perms: a.perms, scheme: a.scheme, id: a.id })));
      this.aclIntern.set(key, found);
    }
    return found;
  }

  /**
   * Inserts a node as read from a snapshot: the parent must exist (snapshots are pre-order), and
   * the node is linked into its parent's children. Used for loading, not for replay.
   */
  putNode(key: string, node: ZNode): void {
    if (key !== '') {
      const parent = this.nodes.get(parentKey(key));
      if (!parent) throw new NoNodeError(`parent of ${displayPath(key)} is missing`);
      (parent.children ??= new Set()).add(key.slice(key.lastIndexOf('/') + 1));
    }
    node.acl = this.internAcl(node.acl);
    this.nodes.set(key, node);
    this.trackEphemeral(key, node.stat.ephemeralOwner, true);
    if (this.digestSum !== null) this.digestSum = add64(this.digestSum, nodeDigest(key, node, this.digestEncoding));
  }

  private trackEphemeral(key: string, owner: bigint, add: boolean): void {
    if (nodeTypeOf(owner) !== 'ephemeral') return;
    let set = this.ephemerals.get(owner);
    if (add) {
      if (!set) this.ephemerals.set(owner, (set = new Set()));
      set.add(key);
    } else if (set) {
      set.delete(key);
      if (set.size === 0) this.ephemerals.delete(owner);
    }
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
    for (const key of this.nodes.keys()) if (/[^\x00-\x7f]/.test(key)) return true;
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
    const name = key.slice(key.lastIndexOf('/') + 1);
    if (parent.children?.has(name)) throw new NodeExistsError(path);
    this.preChange(pKey, parent);
    if (parentCVersion === -1) parentCVersion = parent.stat.cversion + 1;
    if (parentCVersion > parent.stat.cversion) {
      parent.stat.cversion = parentCVersion;
      parent.stat.pzxid = zxid;
    }
    (parent.children ??= new Set()).add(name);
    this.postChange(pKey, parent);
    const node = new ZNode(data, interned, {
      czxid: zxid,
      mzxid: zxid,
      pzxid: zxid,
      ctime: time,
      mtime: time,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner,
    });
    this.nodes.set(key, node);
    this.trackEphemeral(key, ephemeralOwner, true);
    if (this.digestSum !== null) this.digestSum = add64(this.digestSum, nodeDigest(key, node, this.digestEncoding));
  }

  deleteNode(path: string, zxid: bigint): void {
    const key = treeKey(path);
    const pKey = parentKey(key);
    const parent = this.nodes.get(pKey);
    if (!parent) throw new NoNodeError(path);
    // The parent is updated even when the child is already gone (fuzzy snapshots).
    this.preChange(pKey, parent);
    parent.children?.delete(key.slice(key.lastIndexOf('/') + 1));
    if (zxid > parent.stat.pzxid) parent.stat.pzxid = zxid;
    this.postChange(pKey, parent);
    const node = this.nodes.get(key);
    if (!node) throw new NoNodeError(path);
    if (this.digestSum !== null) this.digestSum = sub64(this.digestSum, nodeDigest(key, node, this.digestEncoding));
    this.nodes.delete(key);
    this.trackEphemeral(key, node.stat.ephemeralOwner, false);
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

  /** Pre-order walk (parent before children; children sorted) from `root`. */
  *walk(root = ''): Generator<[string, ZNode]> {
    const start = this.nodes.get(treeKey(root));
    if (!start) return;
    const stack: Array<[string, ZNode]> = [[treeKey(root), start]];
    while (stack.length > 0) {
      const [key, node] = stack.pop()!;
      yield [key, node];
      if (node.children && node.children.size > 0) {
        const names = [...node.children].sort();
        for (let i = names.length - 1; i >= 0; i--) {
          const childKey = key + '/' + names[i];
          const child = this.nodes.get(childKey);
          if (child) stack.push([childKey, child]);
        }
      }
    }
  }

  /**
   * The nodes at or under `path`, sorted by path (plain string comparison), `/zookeeper` and its
   * subtree excluded, as export prints them: stats as clients see them (cversion in client terms),
   * ephemeralOwner as stored (so container and TTL types survive).
   */
  records(path = '/'): NodeRecord[] {
    const root = treeKey(path);
    const out: NodeRecord[] = [];
    for (const [key, node] of this.nodes) {
      if (key === '/zookeeper' || key.startsWith('/zookeeper/')) continue;
      if (root !== '' && key !== root && !key.startsWith(root + '/')) continue;
      const stat = { ...node.stat, cversion: clientCversion(node.stat.cversion, node.children?.size ?? 0) };
      out.push({ path: displayPath(key), data: node.data, acl: (node.acl ?? OPEN_ACL_UNSAFE).map((a) => ({ ...a })), stat });
    }
    out.sort((a, b) => comparePaths(a.path, b.path));
    return out;
  }
}

const MOD64 = 1n << 64n;
function add64(a: bigint, b: number): bigint {
  const s = a + BigInt(b);
  return s >= MOD64 ? s - MOD64 : s;
}
function sub64(a: bigint, b: number): bigint {
  const s = a - BigInt(b);
  return s < 0n ? s + MOD64 : s;
}
