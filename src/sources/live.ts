// A live ensemble as a tree source: a walk of one subtree on a session without a chroot, with the
// server's zxid before and after it (the walk is fuzzy between the two), and what could not be read.
import { comparePaths, type NodeRecord } from '../core/node-record.js';
import { AuthError } from '../errors.js';
import { openSession, type ZkAccess } from '../zk/client.js';
import { walkLiveTree } from '../zk/live-tree.js';

export interface LiveTree {
  /** The nodes at and under the root, sorted by path ([] when the root does not exist). */
  records: NodeRecord[];
  /** Subtrees the credentials given may not read (NoAuth), left out. */
  unreadable: string[];
  zxidBefore: bigint;
  zxidAfter: bigint;
}

export async function readLiveTree(
  connect: string,
  root: string,
  o: { access?: ZkAccess; signal?: AbortSignal; onNode?: (nodes: number) => void },
): Promise<LiveTree> {
  const session = await openSession({ connectString: connect, ...o.access, signal: o.signal });
  try {
    await session.sync('/');
    await session.exists('/');
    const zxidBefore = session.lastZxidSeen;
    const unreadable: string[] = [];
    const records: NodeRecord[] = [];
    if ((await session.exists(root)) !== null) {
      try {
        await walkLiveTree(session, root, { signal: o.signal, onUnreadable: (p) => unreadable.push(p) }, (rec) => {
          records.push(rec);
          o.onNode?.(records.length);
        });
        records.sort((a, b) => comparePaths(a.path, b.path));
      } catch (err) {
        // The walk reports an unreadable root as missing; say what really happened.
        if (unreadable.includes(root)) {
          throw new AuthError(`${root} on ${connect}: the credentials given cannot read it`, {
            hint: 'pass --auth SCHEME:CREDENTIALS for a user with READ on it',
            cause: err,
          });
        }
        throw err;
      }
    }
    await session.exists('/');
    return { records, unreadable, zxidBefore, zxidAfter: session.lastZxidSeen };
  } finally {
    await session.close().catch(() => {});
  }
}
