// Export: the tree at a zxid as sorted node records, from a server's data files (and, later, backups).
import { UsageError, UserError, throwIfAborted } from '../errors.js';
import { validateZnodePath } from '../core/znode-path.js';
import type { NodeRecord } from '../core/node-record.js';
import { replayDataDir } from '../zk/data-dir-source.js';
import { commitBoundaries, isReplayable, pastBoundary } from '../core/committed.js';
import { dataDirHistory } from '../datadir/history.js';
import { listDataDir } from '../formats/data-dir.js';
import { treeKey } from '../core/tree.js';
import { formatZxid } from '../core/zxid.js';

export interface ExportDataDirOptions {
  dataDir: string;
  logDir?: string;
  toZxid?: bigint;
  path?: string;
  verifyDigests?: boolean;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export interface ExportResult {
  records: NodeRecord[];
  zxid: bigint;
  snapshot: string | null;
  logsRead: number;
  txnsApplied: number;
  digestsChecked: number;
}

export function exportDataDir(options: ExportDataDirOptions): ExportResult {
  throwIfAborted(options.signal);
  const path = validateZnodePath(options.path ?? '/');
  // The files' own evidence of what the ensemble committed: never replay past a cut they show.
  const boundaries = commitBoundaries([dataDirHistory(listDataDir(options.dataDir, options.logDir))]);
  if (options.toZxid !== undefined) {
    const p = pastBoundary(options.toZxid, boundaries, `--to-zxid ${formatZxid(options.toZxid)}`);
    if (p) throw new UsageError(p.message, { hint: p.hint });
  }
  const result = replayDataDir(options.dataDir, options.logDir, {
    targetZxid: options.toZxid,
    refuse: (txn) => {
      if (isReplayable(txn.header.zxid, boundaries)) return null;
      const p = pastBoundary(txn.header.zxid, boundaries, `txn ${formatZxid(txn.header.zxid)}`)!;
      return `${p.message}; ${p.hint}, or give --to-zxid`;
    },
    verifyDigests: options.verifyDigests ?? true,
    warn: options.warn,
  });
  throwIfAborted(options.signal);
  if (!result.tree.nodes.has(treeKey(path))) {
    throw new UserError(`${path} does not exist in the tree at this zxid`, {
      hint: 'check --path, or export without it to see every node',
    });
  }
  return {
    records: result.tree.records(path),
    zxid: result.zxid,
    snapshot: result.snapshot?.name ?? null,
    logsRead: result.logsRead.length,
    txnsApplied: result.txnsApplied,
    digestsChecked: result.digestsChecked,
  };
}

export interface ExportBackupOptions {
  ref: string;
  repo: string;
  path?: string;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

/** The tree of a backup (or `ID@ZXID`) as sorted records, limited to `path` when given. */
export async function exportBackup(options: ExportBackupOptions): Promise<ExportResult & { id: string }> {
  const { openRepository } = await import('../repository/repository.js');
  const { partialWarning, resolveSource, treeAtPoint } = await import('./restore-offline.js');
  if (options.path !== undefined) validateZnodePath(options.path);
  const repo = await openRepository(options.repo, { create: false, signal: options.signal });
  const { manifest, point, latest } = await resolveSource(repo, { ref: options.ref });
  const partial = partialWarning(manifest);
  if (partial) options.warn?.(partial);
  const { tree, zxid } = await treeAtPoint(repo, manifest, point, { signal: options.signal, warn: options.warn, latest });
  const root = manifest.source.path ?? '/';
  const path = validateZnodePath(options.path ?? root);
  if (!tree.nodes.has(treeKey(path))) {
    throw new UserError(`${path} is not in backup ${manifest.id} at ${formatZxid(zxid)}`, { hint: `the backup holds ${root} and below` });
  }
  return { id: manifest.id, records: tree.records(path), zxid, snapshot: null, logsRead: 0, txnsApplied: 0, digestsChecked: 0 };
}
