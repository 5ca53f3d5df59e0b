// Logical backup: walk a live tree through the client API (many requests in flight, over several
// sessions spread across the ensemble's members), spool it into a ZooKeeper snapshot file, and commit
// it to the repository as one archive with its manifest.
//
// The zxid window is recorded honestly over every session: each syncs before reading and the window
// starts at the lowest zxid they then saw; it ends at the highest zxid any of them saw after the walk.
// A session only ever reads state at or past what it has seen, and no read is answered past what it
// sees last, so every node read lies inside the window.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { AuthError, UsageError, throwIfAborted } from '../errors.js';
import { formatZxid, zxidToFileSuffix } from '../core/zxid.js';
import { fourLetterWord, openSession, type ZkSession, type ZkAccess } from '../zk/client.js';
import { walkLiveTree } from '../zk/live-tree.js';
import { hasRedactedDigest, isSystemPath, SYSTEM_SUBTREE } from '../core/znode-path.js';
import { SnapshotSpool } from '../datadir/snapshot-spool.js';
import type { Repository } from '../repository/types.js';
import { manifestToResult, type BackupResult } from '../repository/backup-summary.js';

export type { BackupResult } from '../repository/backup-summary.js';
import { validateZnodePath } from '../core/znode-path.js';
import { DEFAULT_MAX_SESSIONS, normalizeConnectString, parseConnectString } from '../core/connect-string.js';

export interface LogicalBackupOptions {
  zk: string;
  /** Credentials, TLS and SASL for the sessions. Never printed or stored. */
  access?: ZkAccess;
  /** Subtree to back up (default `/`). */
  path?: string;
  /** Subtrees left out. */
  exclude?: string[];
  repo: Repository;
  /** Nodes read at once, over all sessions (default 64 per session). */
  concurrency?: number;
  /** Sessions to read with (default: one per server in `zk`, up to DEFAULT_MAX_SESSIONS). */
  sessions?: number;
  /** Nodes read per second, at most (default: no limit). */
  rate?: number;
  signal?: AbortSignal;
  /** Called as nodes are read: how many so far, their data bytes, and an estimate of the total when known. */
  onProgress?: (p: { nodes: number; bytes: number; total?: number }) => void;
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
  const servers = parseConnectString(options.zk).hosts.length;
  const count = options.sessions ?? Math.min(servers, DEFAULT_MAX_SESSIONS);
  const sessions: ZkSession[] = [];
  let writer;
  try {
    // Session i tries server i first: the reads spread over the members.
    for (let i = 0; i < count; i++) {
      sessions.push(await openSession({ connectString: options.zk, ...options.access, signal: options.signal, firstHost: i }));
    }
    const session = sessions[0];
    writer = await repo.beginBackup('logical', options.signal);
    const createdAt = new Date(started).toISOString();
    const seen0: bigint[] = [];
    for (const s of sessions) {
      await s.sync('/');
      seen0.push(await currentZxid(s));
    }
    const from = seen0.reduce((a, b) => (b < a ? b : a));
    const readFrom = [...new Set(sessions.map((s) => s.server).filter((x): x is string => x !== undefined))];
    const total = options.onProgress && path === '/' && exclude.length === 0 ? await estimateNodes(session) : undefined;
    const spool = new SnapshotSpool(writer.stagingDir);
    const unreadable: Array<{ path: string; reason: string }> = [];
    let changed = 0;
    let seen = 0;
    let dataBytes = 0;
    try {
      await walkLiveTree(
        sessions,
        path,
        {
          exclude,
          concurrency: options.concurrency ?? 64 * sessions.length,
          rate: options.rate,
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
          seen++;
          dataBytes += rec.data?.length ?? 0;
          options.onProgress?.({ nodes: seen, bytes: dataBytes, ...(total ? { total } : {}) });
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
    let to = from;
    for (const s of sessions) {
      const z = await currentZxid(s).catch(() => s.lastZxidSeen); // a session lost at the end still saw up to here
      if (z > to) to = z;
    }
    const snapName = `snapshot.${zxidToFileSuffix(to)}`;
    const spooled = await spool.finish(join(writer.stagingDir, snapName), { zxid: to, root: path });
    throwIfAborted(options.signal);
    // Hashed once, as commit packs it (a staged file of our own: its size is checked, not hashed twice).
    writer.addMemberFrom(snapName, 'snapshot', { path: spooled.path, length: statSync(spooled.path).size }, { zxid: formatZxid(to) });
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
      extra: { exclude, chroot: session.chroot || undefined, digest: formatZxid(spooled.digest), sessions: sessions.length, readFrom },
    });
    return manifestToResult(manifest, Date.now() - started);
  } catch (err) {
    await writer?.abort().catch(() => {});
    throw err;
  } finally {
    for (const s of sessions) await s.close().catch(() => {});
  }
}

/**
 * The ensemble's node count from `mntr` (zk_znode_count, `/zookeeper` and its children included), for
 * a progress estimate; undefined when the server does not answer four-letter words.
 */
async function estimateNodes(session: ZkSession): Promise<number | undefined> {
  const server = session.server;
  if (!server) return undefined;
  const text = await fourLetterWord(server, 'mntr', { timeoutMs: 1000 }).catch(() => null);
  const m = text ? /zk_znode_count\s+(\d+)/.exec(text) : null;
  return m ? Math.max(1, Number(m[1]) - 4) : undefined;
}
