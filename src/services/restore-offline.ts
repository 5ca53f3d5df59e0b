// Offline restore: rebuild a dataDir that a real ZooKeeper server starts from, holding the tree at
// exactly the chosen zxid (snapshot named for it, epoch files consistent with it, no logs past it).
import { formatZxid, makeZxid, parseZxid, zxidEpoch } from '../core/zxid.js';
import { UsageError } from '../errors.js';
import { openRepository } from '../repository/repository.js';
import type { BackupManifest, Repository } from '../repository/types.js';
import { requireEmptyDir, writeDataDir } from '../zk/data-dir-sink.js';
import { parseBackupRef, loadBackupTree } from './backup-tree.js';
import { chooseBackup, physicalTree, type PointInTime } from './pitr.js';
import { loadCommitView } from './physical-manifest.js';
import type { DataTree } from '../core/tree.js';

export interface OfflineRestoreOptions {
  repo: string;
  /** A backup id / ID@ZXID / latest; or none with toZxid/toTime. */
  ref?: string;
  toZxid?: bigint;
  toTime?: number;
  dataDir: string;
  myid?: number;
  /**
   * Name the snapshot in a new epoch above every zxid the repository has seen, so clients that saw
   * newer zxids before the rollback are not refused ("has seen zxid …").
   */
  bumpEpoch?: boolean;
  signal?: AbortSignal;
  warn?: (m: string) => void;
}

export interface OfflineRestoreResult {
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  /** The zxid of the restored state. */
  zxid: string;
  /** The zxid the snapshot file is named for (differs with --bump-epoch). */
  snapshotZxid: string;
  backup: { id: string; chain: string[] };
  /** Why the restored point is not what the backup's recorded range promised, or is behind newer history (exit 3). */
  notice: string | null;
  dataDir: string;
  snapshot: string;
  sessions: number;
}

/** What to tell whoever restores or exports a partial backup: which nodes it lacks. */
export function partialWarning(manifest: BackupManifest): string | null {
  if (!manifest.partial) return null;
  const u = manifest.unreadable;
  const first = u[0] ? ` (first: ${u[0].path}: ${u[0].reason})` : '';
  return `backup ${manifest.id} is partial: ${u.length} node(s) could not be read when it was taken${first}; what it restores lacks them`;
}

/** Resolves what to restore: an explicit id (maybe @zxid), or the backup covering --to-zxid/--to-time. */
export async function resolveSource(
  repo: Repository,
  o: { ref?: string; toZxid?: bigint; toTime?: number },
): Promise<{ manifest: BackupManifest; point: PointInTime; latest?: boolean }> {
  if (o.ref) {
    if (o.toZxid !== undefined || o.toTime !== undefined)
      throw new UsageError('give ID@ZXID, or --to-zxid/--to-time without an id, not both');
    const { id, zxid } = parseBackupRef(o.ref);
    return { manifest: await repo.resolve(id), point: { zxid }, ...(id === 'latest' ? { latest: true } : {}) };
  }
  if (o.toZxid !== undefined && o.toTime !== undefined) throw new UsageError('give --to-zxid or --to-time, not both');
  if (o.toZxid === undefined && o.toTime === undefined)
    throw new UsageError('restore needs a backup id, --to-zxid or --to-time', { hint: 'zkvault list shows the ids' });
  const point: PointInTime = { zxid: o.toZxid, time: o.toTime };
  return { manifest: await chooseBackup(repo, point), point };
}

/**
 * The tree (and its zxid) a backup restores to at a point. `notice` says, loudly, when that is not the
 * point the backup's recorded range promised (its end lies past txns the ensemble dropped or never
 * confirmed), or when `latest` resolves to a point behind a newer history the repository knows of.
 */
export async function treeAtPoint(
  repo: Repository,
  manifest: BackupManifest,
  point: PointInTime,
  o: { warn?: (m: string) => void; signal?: AbortSignal; latest?: boolean },
): Promise<{ tree: DataTree; zxid: bigint; chain: string[]; notice: string | null }> {
  if (manifest.kind === 'logical') {
    if (point.zxid !== undefined || point.time !== undefined) {
      throw new UsageError(`backup ${manifest.id} is logical: it holds one tree (${manifest.zxid.to}), not a range`, {
        hint: 'point-in-time restores need physical backups',
      });
    }
    const bt = await loadBackupTree(repo, manifest.id);
    return { tree: bt.tree, zxid: bt.zxid, chain: [manifest.id], notice: null };
  }
  const all = await repo.list();
  const view = await loadCommitView(repo, all);
  const r = await physicalTree(repo, manifest, point, { warn: o.warn, signal: o.signal, view });
  let notice = r.cutShort;
  if (o.latest && zxidEpoch(r.zxid) < view.newestEpoch && view.boundaries.has(zxidEpoch(r.zxid))) {
    const newer = all.filter((m) => zxidEpoch(parseZxid(m.zxid.to)) > zxidEpoch(r.zxid)).map((m) => m.id);
    const behind = `latest (${manifest.id}) restores ${formatZxid(r.zxid)} of epoch ${zxidEpoch(r.zxid)}, behind a newer history the repository knows of (epoch ${view.newestEpoch}${newer.length ? `: backup ${newer[newer.length - 1]}` : ''})`;
    notice = notice ? `${notice}; ${behind}` : behind;
  }
  if (notice) o.warn?.(notice);
  return { tree: r.tree, zxid: r.zxid, chain: r.chain.map((m) => m.id), notice };
}

export async function restoreOffline(o: OfflineRestoreOptions): Promise<OfflineRestoreResult> {
  requireEmptyDir(o.dataDir); // before any work: a restore never writes next to existing files
  const repo = await openRepository(o.repo, { create: false, signal: o.signal, warn: o.warn });
  const { manifest, point, latest } = await resolveSource(repo, o);
  const partial = partialWarning(manifest);
  if (partial) o.warn?.(partial);
  const { tree, zxid, chain, notice } = await treeAtPoint(repo, manifest, point, { ...o, latest });
  let fileZxid = zxid;
  if (o.bumpEpoch) {
    let maxEpoch = zxidEpoch(zxid);
    for (const m of await repo.list()) {
      const e = zxidEpoch(parseZxid(m.zxid.to));
      if (e > maxEpoch) maxEpoch = e;
    }
    fileZxid = makeZxid(maxEpoch + 1n, 0n);
    o.warn?.(
      `the snapshot is named ${formatZxid(fileZxid)} (epoch ${maxEpoch + 1n}) so clients that saw zxids up to epoch ${maxEpoch} are accepted`,
    );
  }
  const written = await writeDataDir(tree, o.dataDir, { zxid: fileZxid, myid: o.myid, epochFiles: true });
  const nodes = tree.records('/').length;
  return {
    created: nodes,
    updated: 0,
    deleted: 0,
    skipped: 0,
    zxid: formatZxid(zxid),
    snapshotZxid: formatZxid(fileZxid),
    backup: { id: manifest.id, chain },
    notice,
    dataDir: o.dataDir,
    snapshot: written.snapshotPath,
    sessions: tree.sessions.size,
  };
}
