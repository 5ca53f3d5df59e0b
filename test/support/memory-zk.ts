// An in-memory ZooKeeper session for unit tests of what runs on top of a session (the restore sink):
// a tree with ZooKeeper's semantics for what zkvault uses — NoNode/NodeExists/NotEmpty, sequential names
// from the parent's count of creates, cversion as clients see it (2 × creates − children), multis that
// apply all or nothing, container and TTL modes — and a log of every write in the order it happened.
// It enforces no ACL: tests check what ACLs were set, and when.
import type { AclEntry } from '../../src/core/node-record.js';
import {
  ZK_ERROR,
  ZkOpError,
  type ZkCreateMode,
  type ZkCreateOptions,
  type ZkOp,
  type ZkOpResult,
  type ZkSession,
  type ZkStat,
} from '../../src/zk/client.js';

interface MemNode {
  data: Uint8Array | null;
  acl: AclEntry[];
  version: number;
  aversion: number;
  /** Count of child creations, as ZooKeeper stores it. */
  creates: number;
  mode: ZkCreateMode;
  czxid: bigint;
  mzxid: bigint;
  pzxid: bigint;
}

export type WriteLog = Array<{ op: 'create' | 'setData' | 'delete' | 'setAcl'; path: string; acl?: AclEntry[] }>;

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export class MemoryZk implements ZkSession {
  readonly sessionId = 0x42n;
  readonly chroot = '';
  readonly server = 'memory:2181';
  lastZxidSeen = 0n;
  readonly nodes = new Map<string, MemNode>();
  readonly writes: WriteLog = [];
  closed = false;

  constructor() {
    this.nodes.set('/', this.node(new Uint8Array(0), OPEN, 'persistent')); // as a server's root: empty, not null
  }

  private node(data: Uint8Array | null, acl: readonly AclEntry[], mode: ZkCreateMode): MemNode {
    const z = ++this.lastZxidSeen;
    return { data, acl: [...acl], version: 0, aversion: 0, creates: 0, mode, czxid: z, mzxid: z, pzxid: z };
  }

  private children(path: string): string[] {
    const prefix = path === '/' ? '/' : path + '/';
    return [...this.nodes.keys()]
      .filter((p) => p !== path && p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
      .map((p) => p.slice(prefix.length));
  }

  private stat(path: string): ZkStat {
    const n = this.nodes.get(path)!;
    const numChildren = this.children(path).length;
    return {
      czxid: n.czxid,
      mzxid: n.mzxid,
      pzxid: n.pzxid,
      ctime: 0n,
      mtime: 0n,
      version: n.version,
      cversion: 2 * n.creates - numChildren,
      aversion: n.aversion,
      ephemeralOwner: n.mode === 'ephemeral' || n.mode === 'ephemeral_sequential' ? this.sessionId : 0n,
      dataLength: n.data?.byteLength ?? 0,
      numChildren,
    };
  }

  /** The stored cversion (count of child creates) of a node, as a snapshot keeps it. */
  storedCversion(path: string): number {
    return this.nodes.get(path)!.creates;
  }

  private need(path: string, op: string): MemNode {
    const n = this.nodes.get(path);
    if (!n) throw new ZkOpError(ZK_ERROR.NoNode, op, path);
    return n;
  }

  getData(path: string) {
    const n = this.nodes.get(path);
    return Promise.resolve(n ? { data: n.data, stat: this.stat(path) } : null);
  }

  getDataMany(paths: readonly string[]) {
    return Promise.resolve(
      paths.map((path) => {
        const n = this.nodes.get(path);
        return n ? { data: n.data, stat: this.stat(path) } : { code: ZK_ERROR.NoNode };
      }),
    );
  }

  getChildren(path: string) {
    return Promise.resolve(this.nodes.has(path) ? { children: this.children(path), stat: this.stat(path) } : null);
  }

  getAcl(path: string) {
    const n = this.nodes.get(path);
    return Promise.resolve(n ? { acl: [...n.acl], stat: this.stat(path) } : null);
  }

  exists(path: string) {
    return Promise.resolve(this.nodes.has(path) ? this.stat(path) : null);
  }

  create(
    path: string,
    data: Uint8Array | null,
    acl: readonly AclEntry[],
    mode: ZkCreateMode = 'persistent',
    _o: ZkCreateOptions = {},
  ): Promise<string> {
    try {
      return Promise.resolve(this.doCreate(path, data, acl, mode));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private doCreate(path: string, data: Uint8Array | null, acl: readonly AclEntry[], mode: ZkCreateMode): string {
    const parent = this.need(parentOf(path), 'create');
    const name = mode.endsWith('sequential') ? `${path}${String(parent.creates).padStart(10, '0')}` : path;
    if (this.nodes.has(name)) throw new ZkOpError(ZK_ERROR.NodeExists, 'create', name);
    parent.creates++;
    this.nodes.set(name, this.node(data, acl, mode));
    parent.pzxid = this.lastZxidSeen;
    this.writes.push({ op: 'create', path: name, acl: [...acl] });
    return name;
  }

  setData(path: string, data: Uint8Array | null, version = -1): Promise<ZkStat> {
    try {
      const n = this.need(path, 'setData');
      if (version !== -1 && version !== n.version) throw new ZkOpError(ZK_ERROR.BadVersion, 'setData', path);
      n.data = data;
      n.version++;
      n.mzxid = ++this.lastZxidSeen;
      this.writes.push({ op: 'setData', path });
      return Promise.resolve(this.stat(path));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  setAcl(path: string, acl: AclEntry[], version = -1): Promise<ZkStat> {
    try {
      const n = this.need(path, 'setAcl');
      if (version !== -1 && version !== n.aversion) throw new ZkOpError(ZK_ERROR.BadVersion, 'setAcl', path);
      n.acl = [...acl];
      n.aversion++;
      this.writes.push({ op: 'setAcl', path, acl: [...acl] });
      return Promise.resolve(this.stat(path));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  delete(path: string): Promise<void> {
    try {
      this.doDelete(path);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private doDelete(path: string): void {
    this.need(path, 'delete');
    if (this.children(path).length > 0) throw new ZkOpError(ZK_ERROR.NotEmpty, 'delete', path);
    this.nodes.delete(path);
    this.nodes.get(parentOf(path))!.pzxid = ++this.lastZxidSeen;
    this.writes.push({ op: 'delete', path });
  }

  /** All or nothing: a copy of the tree is put back when an op fails. */
  multi(ops: ZkOp[]): Promise<ZkOpResult[]> {
    const saved = new Map([...this.nodes].map(([k, v]) => [k, { ...v, acl: [...v.acl] }]));
    const logged = this.writes.length;
    const results: ZkOpResult[] = [];
    for (const [i, o] of ops.entries()) {
      try {
        if (o.type === 'create') results.push({ type: 'create', path: this.doCreate(o.path, o.data, o.acl, o.mode ?? 'persistent') });
        else if (o.type === 'delete') {
          this.doDelete(o.path);
          results.push({ type: 'delete' });
        } else if (o.type === 'setData') {
          const n = this.need(o.path, 'setData');
          n.data = o.data;
          n.version++;
          this.writes.push({ op: 'setData', path: o.path });
          results.push({ type: 'setData', stat: this.stat(o.path) });
        } else results.push({ type: 'check' });
      } catch (err) {
        this.nodes.clear();
        for (const [k, v] of saved) this.nodes.set(k, v);
        this.writes.length = logged;
        const code = err instanceof ZkOpError ? err.code : ZK_ERROR.SystemError;
        return Promise.reject(
          new ZkOpError(code, 'multi', o.path, {
            index: i,
            results: ops.map((_, j) => ({ type: 'error', code: j < i ? 0 : j === i ? code : -2 })),
          }),
        );
      }
    }
    return Promise.resolve(results);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
