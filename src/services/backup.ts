// Logical backup: walk a live tree through the client API (many requests in flight), spool it into a
// ZooKeeper snapshot file, and commit it to the repository as one archive with its manifest.
import { join } from 'node:path';
import { hostname } from 'node:os';
import { AuthError, UsageError, throwIfAborted } from '../errors.js';
import { formatZxid, zxidToFileSuffix } from '../core/zxid.js';
import { openSession, type ZkSession, type ZkAccess } from '../zk/client.js';
import { walkLiveTree } from '../zk/live-tree.js';
import { hasRedactedDigest, isSystemPath, SYSTEM_SUBTREE } from '../core/znode-path.js';
import { SnapshotSpool } from '../datadir/snapshot-spool.js';
import type { Repository } from '../repository/types.js';
import { manifestToResult, type BackupResult } from '../repository/backup-summary.js';

export type { BackupResult } from '../repository/backup-summary.js';
import { validateZnodePath } from '../core/znode-path.js';
import { normalizeConnectString } from '../core/connect-string.js';

export interface LogicalBackupOptions {
  zk: string;
  /** Credentials, TLS and SASL for the sessions. Never printed or stored. */
  access?: ZkAccess;
  /** Subtree to back up (default `/`). */
  path?: string;
  /** Subtrees left out. */
  exclude?: string[];
  repo: Repository;
  /** Nodes read at once (default 64). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (nodes: number) => void;
  warn?: (message: string) => void;
}

/** The zxid the connected server has applied: a read's reply header carries it. */
async function currentZxid(session: ZkSession): Promise<bigint> {
  await session.exists('/');
  return session.lastZxidSeen;
}

export async function backupLogical(options: LogicalBackupOptions): Promise<BackupResult> {
  const started = Date.now();
  const path = validateZnodePath(options.path ?? '/');
  if (isSystemPath(path)) {
    throw new UsageError(`--path ${path} is inside /zookeeper, the server's own subtree, which is never backed up`, {
      hint: "back up your own data (e.g. --path /app); quotas and config are the servers' to keep",
    });
  }
  const exclude = (options.exclude ?? []).map((e) => validateZnodePath(e, '--exclude'));
  const repo = options.repo;
  const session = await openSession({ connectString: options.zk, ...options.access, signal: options.signal });
  let writer;
  try {
    writer = await repo.beginBackup('logical', options.signal);
    const createdAt = new Date(started).toISOString();
    await session.sync('/');
    const from = await currentZxid(session);
    const spool = new SnapshotSpool(writer.stagingDir);
    const unreadable: Array<{ path: string; reason: string }> = [];
    let changed = 0;
    let seen = 0;
    try {
      await walkLiveTree(
        session,
        path,
        {
          exclude,
          concurrency: options.concurrency,
          signal: options.signal,
          onUnreadable: (p) => unreadable.push({ path: p, reason: 'NoAuth: the credentials given cannot read it (nor its subtree)' }),
        },
        (rec, numChildren) => {
          // Under a chroot, the chroot's own child named "zookeeper" reads as the server's subtree, which
          // no reader of the backup restores: say so rather than lose it quietly.
          if (session.chroot && rec.path === SYSTEM_SUBTREE) {
            unreadable.push({
              path: rec.path,
              reason: `not restorable: under the chroot ${session.chroot}, ${session.chroot}${SYSTEM_SUBTREE} and its subtree read as the server's own /zookeeper; back up without the chroot, with --path ${session.chroot}`,
            });
          }
          const s = rec.stat;
          if (s.czxid > from || s.mzxid > from || s.pzxid > from) changed++;
          if (hasRedactedDigest(rec.acl)) {
            unreadable.push({ path: rec.path, reason: 'ACL hidden: reading digest ACLs needs ADMIN permission on the node' });
          }
          spool.add(rec, numChildren);
          if (++seen % 1000 === 0) options.onProgress?.(seen);
        },
      );
    } catch (err) {
      spool.close();
      // An unreadable root ends the walk with "no such znode"; say what really happened.
      if (unreadable.some((u) => u.path === path)) {
        throw new AuthError(`${path}: the credentials given cannot read the backup root`, {
          hint: 'pass --auth SCHEME:CREDENTIALS for a user with READ (and ADMIN, for digest ACLs)',
          cause: err,
        });
      }
      throw err;
    }
    throwIfAborted(options.signal);
    const to = await currentZxid(session);
    const snapName = `snapshot.${zxidToFileSuffix(to)}`;
    const spooled = await spool.finish(join(writer.stagingDir, snapName), { zxid: to, root: path });
    throwIfAborted(options.signal);
    await writer.addMember(snapName, 'snapshot', { zxid: formatZxid(to) });
    const manifest = await writer.commit({
      kind: 'logical',
      createdAt,
      source: { zk: normalizeConnectString(options.zk), path, host: hostname() },
      zxid: { from: formatZxid(from), to: formatZxid(to) },
      consistent: from === to,
      changedDuringWalk: changed,
      partial: unreadable.length > 0,
      unreadable,
      counts: spooled.counts,
      extra: { exclude, chroot: session.chroot || undefined, digest: formatZxid(spooled.digest) },
    });
    return manifestToResult(manifest, Date.now() - started);
  } catch (err) {
    await writer?.abort().catch(() => {});
    throw err;
  } finally {
    await session.close().catch(() => {});
  }
}
