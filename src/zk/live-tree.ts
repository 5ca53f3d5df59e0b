// Reads a live ZooKeeper tree into NodeRecords: the source side of a logical backup and of `diff zk://`.
// The walk is fuzzy (nodes change while it runs); callers that need a zxid window read it around the walk.
//
// Container and TTL nodes come back typed persistent: the server reports their ephemeralOwner as 0 to
// clients (see src/zk/client.ts). Only snapshot and log files keep those types.
import { SYSTEM_SUBTREE } from '../core/znode-path.js';
import { comparePaths, type NodeRecord } from '../core/node-record.js';
import { CancelledError, ConnectionError, UserError } from '../errors.js';
import { ZK_ERROR, ZkOpError } from './errors.js';
import { ReadBatcher } from './read-batcher.js';
import type { ZkSession } from './types.js';

export interface ReadLiveTreeOptions {
  /** Paths (relative to the session's chroot) left out together with their subtrees. */
  exclude?: string[];
  /** Nodes read at once, over all sessions; each costs up to three requests in flight. Default 64. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Nodes started per second, at most (default: no limit). */
  rate?: number;
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
 * How long one node's read is tried again after its connection was lost (on another session first,
 * backing off up to a second): as long as a session outlives a lost connection by default.
 */
const LOST_RETRY_MS = 30_000;

/**
 * The streaming form of readLiveTree: calls `onNode` for each node as it is read, in an order where
 * a parent always comes before its children (not sorted), and keeps nothing itself. `numChildren` is
 * the child count the server reported with the node's stat (needed to turn the client's cversion
 * back into the stored one).
 *
 * Given several sessions (spread over the ensemble's members), each read goes to the one with the
 * fewest in flight; a read whose connection was lost is tried again, on another session first, so a
 * member that dies mid-walk costs retries, not nodes. `concurrency` bounds the reads in flight over
 * all sessions, `rate` the nodes started per second.
 */
export async function walkLiveTree(
  sessions: ZkSession | readonly ZkSession[],
  root: string,
  opts: ReadLiveTreeOptions,
  onNode: (record: NodeRecord, numChildren: number) => void,
): Promise<void> {
  const pool = (Array.isArray(sessions) ? (sessions as readonly ZkSession[]) : [sessions as ZkSession]).map((s) => new ReadBatcher(s));
  const chroot = pool[0].session.chroot;
  const excluded = [...(opts.exclude ?? [])];
  if (chroot === '') excluded.push(SYSTEM_SUBTREE);
  const isExcluded = (path: string) => excluded.some((e) => e !== '/' && isWithin(path, e));
  const concurrency = Math.max(1, opts.concurrency ?? 64);
  const inFlight = pool.map(() => 0);
  /** The session with the fewest reads in flight, other than `avoid` when there is a choice. */
  const pick = (avoid: number): number => {
    let best = -1;
    for (let i = 0; i < pool.length; i++) {
      if (i === avoid && pool.length > 1) continue;
      if (best < 0 || inFlight[i] < inFlight[best]) best = i;
    }
    return best;
  };

  interface Item {
    path: string;
    /** Reads of it lost so far, and when the first was. */
    lost: number;
    lostSince: number;
    avoid: number;
  }
  const queue: Item[] = [{ path: root, lost: 0, lostSince: 0, avoid: -1 }];
  let active = 0;
  let started = 0;
  const t0 = Date.now();
  let rootSeen = false;

  const visit = async (item: Item): Promise<void> => {
    const i = pick(item.avoid);
    inFlight[i]++;
    let node: NodeRead | undefined;
    try {
      node = await readNode(pool[i], item.path, opts);
    } catch (err) {
      const since = item.lost === 0 ? Date.now() : item.lostSince;
      if (!(err instanceof ConnectionError) || Date.now() - since > LOST_RETRY_MS || opts.signal?.aborted) throw err;
      // Reads change nothing: read it again, elsewhere, once the connection had a moment to come back.
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** item.lost)));
      queue.push({ path: item.path, lost: item.lost + 1, lostSince: since, avoid: i });
      return;
    } finally {
      inFlight[i]--;
    }
    if (node === undefined) return;
    if (item.path === root) rootSeen = true;
    onNode(node.record, node.numChildren);
    for (const name of node.children) {
      const child = childPath(item.path, name);
      if (!isExcluded(child)) queue.push({ path: child, lost: 0, lostSince: 0, avoid: -1 });
    }
  };

  if (isExcluded(root)) return;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      if (failed) return;
      if (opts.signal?.aborted) {
        failed = true;
        return reject(new CancelledError());
      }
      while (active < concurrency && queue.length > 0) {
        if (opts.rate) {
          // Never start reads faster than the rate allows: wait for the next one's turn.
          const due = t0 + (started / opts.rate) * 1000;
          const wait = due - Date.now();
          if (wait > 0) {
            timer ??= setTimeout(pump, Math.min(wait, 1000));
            return;
          }
        }
        const item = queue.pop()!; // depth first keeps the queue short on wide, deep trees
        active += 1;
        started += 1;
        visit(item).then(
          () => {
            active -= 1;
            pump();
          },
          (error: Error) => {
            failed = true;
            if (timer) clearTimeout(timer);
            reject(error);
          },
        );
      }
      if (active === 0 && queue.length === 0) resolve();
    };
    pump();
  });

  if (!rootSeen)
    throw new UserError(`${root}: no such znode${chroot === '' ? '' : ` under the chroot ${chroot}`}`, {
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
async function readNode(reader: ReadBatcher, path: string, opts: ReadLiveTreeOptions): Promise<NodeRead | undefined> {
  const session = reader.session;
  for (let attempt = 1; ; attempt += 1) {
    let got;
    try {
      const [data, acl] = await Promise.all([reader.getData(path), session.getAcl(path)]);
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
