// Reads a live ZooKeeper tree into NodeRecords: the source side of a logical backup and of `diff zk://`.
// The walk is fuzzy (nodes change while it runs); callers that need a zxid window read it around the walk.
//
// Container and TTL nodes come back typed persistent: the server reports their ephemeralOwner as 0 to
// clients (see src/zk/client.ts). Only snapshot and log files keep those types.
import { SYSTEM_SUBTREE } from '../core/znode-path.js';
import { comparePaths, type NodeRecord } from '../core/node-record.js';
import { CancelledError, UserError } from '../errors.js';
import { ZK_ERROR, ZkOpError } from './errors.js';
import type { ZkSession } from './types.js';

export interface ReadLiveTreeOptions {
  /** Paths (relative to the session's chroot) left out together with their subtrees. */
  exclude?: string[];
  /** Nodes read at once; each costs three requests in flight. Default 64. */
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * Called for a node the session may not read (NoAuth); the node and its subtree are then left out
   * and the walk goes on. Without it, the walk rejects with that ZkOpError (code -102).
   */
  onUnreadable?: (path: string, error: ZkOpError) => void;
}

/** How often one node is re-read when its ACL changed between reading its data and its ACL. */
const MAX_READ_ATTEMPTS = 5;

export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function isWithin(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(root + '/');
}

/**
 * Every node under `root` (root included), with data, ACL and stat, sorted by path. `/zookeeper` is
 * left out unless the session has a chroot (then `/zookeeper` names an ordinary node). A node deleted
 * between being listed and being read is skipped, as is one that vanishes mid-read.
 */
export async function readLiveTree(session: ZkSession, root = '/', opts: ReadLiveTreeOptions = {}): Promise<NodeRecord[]> {
  const records: NodeRecord[] = [];
  await walkLiveTree(session, root, opts, (record) => void records.push(record));
  return records.sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * The streaming form of readLiveTree: calls `onNode` for each node as it is read, in an order where
 * a parent always comes before its children (not sorted), and keeps nothing itself. `numChildren` is
 * the child count the server reported with the node's stat (needed to turn the client's cversion
 * back into the stored one).
 */
export async function walkLiveTree(
  session: ZkSession,
  root: string,
  opts: ReadLiveTreeOptions,
  onNode: (record: NodeRecord, numChildren: number) => void,
): Promise<void> {
  const excluded = [...(opts.exclude ?? [])];
  if (session.chroot === '') excluded.push(SYSTEM_SUBTREE);
  const isExcluded = (path: string) => excluded.some((e) => e !== '/' && isWithin(path, e));
  const concurrency = Math.max(1, opts.concurrency ?? 64);

  const queue: string[] = [root];
  let active = 0;
  let rootSeen = false;

  const visit = async (path: string): Promise<void> => {
    const node = await readNode(session, path, opts);
    if (node === undefined) return;
    if (path === root) rootSeen = true;
    onNode(node.record, node.numChildren);
    for (const name of node.children) {
      const child = childPath(path, name);
      if (!isExcluded(child)) queue.push(child);
    }
  };

  if (isExcluded(root)) return;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const pump = () => {
      if (failed) return;
      if (opts.signal?.aborted) {
        failed = true;
        return reject(new CancelledError());
      }
      while (active < concurrency && queue.length > 0) {
        const path = queue.pop()!; // depth first keeps the queue short on wide, deep trees
        active += 1;
        visit(path).then(
          () => {
            active -= 1;
            pump();
          },
          (error: Error) => {
            failed = true;
            reject(error);
          },
        );
      }
      if (active === 0 && queue.length === 0) resolve();
    };
    pump();
  });

  if (!rootSeen)
    throw new UserError(`${root}: no such znode${session.chroot === '' ? '' : ` under the chroot ${session.chroot}`}`, {
      hint: 'check --path (and the chroot in --zk)',
    });
}

interface NodeRead {
  record: NodeRecord;
  children: string[];
  /** From the same reply as the stat (cversion is only meaningful beside it). */
  numChildren: number;
}

/** One node's data, stat, ACL and child names; undefined if it is gone or unreadable (and tolerated). */
async function readNode(session: ZkSession, path: string, opts: ReadLiveTreeOptions): Promise<NodeRead | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    let got;
    try {
      const [data, acl] = await Promise.all([session.getData(path), session.getAcl(path)]);
      // Most nodes are leaves: list children only when the stat says there are some.
      const children = data && data.stat.numChildren > 0 ? await session.getChildren(path) : { children: [] as string[] };
      got = { data, acl, children };
    } catch (error) {
      if (error instanceof ZkOpError && error.code === ZK_ERROR.NoAuth && opts.onUnreadable) {
        opts.onUnreadable(path, error);
        return undefined;
      }
      throw error;
    }
    const { data, acl, children } = got;
    if (data === null || acl === null || children === null) return undefined;
    // The replies may straddle a change; the ACL must be the one the stat's aversion names.
    if (acl.stat.aversion !== data.stat.aversion && attempt < MAX_READ_ATTEMPTS) continue;
    const { dataLength: _dataLength, numChildren: _numChildren, ...stat } = data.stat;
    return { record: { path, data: data.data, acl: acl.acl, stat }, children: children.children, numChildren: data.stat.numChildren };
  }
}
