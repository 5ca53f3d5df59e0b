// Export: the tree at a zxid as sorted node records, from a backup (`ID`, `ID@ZXID`, `latest`) or a
// server's data files (`--data-dir`), replayed to a zxid. A logical backup is streamed from its
// snapshot file in path order (sources/sorted-snapshot.ts), never loaded whole; a point in time of a
// physical backup, or a dataDir, is replayed into a tree first.
import type { NodeRecord } from '../core/node-record.js';
import { treeKey } from '../core/tree.js';
import { validateZnodePath } from '../core/znode-path.js';
import { formatZxid } from '../core/zxid.js';
import { UserError, throwIfAborted } from '../errors.js';
import type { Repository } from '../repository/types.js';
import { loadServerFiles, loadTree, partialWarning, requireWholeLogical, resolveTreeSource } from '../sources/tree-source.js';
import { openSortedBackup } from '../sources/backup-tree.js';

export interface ExportDataDirOptions {
  dataDir: string;
  logDir?: string;
  toZxid?: bigint;
  path?: string;
  verifyDigests?: boolean;
  signal?: AbortSignal;
  warn?: (message: string) => void;
  /** Called after each txn replayed. */
  onTxn?: () => void;
}

export interface ExportResult {
  /** Sorted by path; read them before close(). */
  records: Iterable<NodeRecord>;
  /** How many `records` holds. */
  count: number;
  zxid: bigint;
  snapshot: string | null;
  logsRead: number;
  txnsApplied: number;
  digestsChecked: number;
}

/** A server's files replayed to `toZxid` (default: the last complete txn), never past a cut they show. */
export function exportDataDir(options: ExportDataDirOptions): ExportResult & { records: NodeRecord[] } {
  throwIfAborted(options.signal);
  const path = validateZnodePath(options.path ?? '/');
  const r = loadServerFiles(
    { kind: 'files', ref: options.dataDir, dataDir: options.dataDir, logDir: options.logDir, toZxid: options.toZxid },
    options,
  );
  throwIfAborted(options.signal);
  if (!r.tree.nodes.has(treeKey(path))) {
    throw new UserError(`${path} does not exist in the tree at this zxid`, {
      hint: 'check --path, or export without it to see every node',
    });
  }
  const records = r.tree.records(path);
  return {
    records,
    count: records.length,
    zxid: r.zxid,
    snapshot: r.snapshot,
    logsRead: r.logsRead,
    txnsApplied: r.txnsApplied,
    digestsChecked: r.digestsChecked,
  };
}

export interface ExportBackupOptions {
  ref: string;
  repo: Repository;
  path?: string;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

/**
 * The tree of a backup (or `ID@ZXID`) as sorted records, limited to `path` when given. close() once
 * the records are read (a logical backup's are read from its extracted snapshot file).
 */
export async function exportBackup(options: ExportBackupOptions): Promise<ExportResult & { id: string; close: () => Promise<void> }> {
  if (options.path !== undefined) validateZnodePath(options.path);
  const source = await resolveTreeSource({ ref: options.ref }, () => Promise.resolve(options.repo));
  if (source.kind !== 'backup') throw new UserError(`${options.ref} is not a backup`);
  const { manifest } = source;
  const partial = partialWarning(manifest);
  if (partial) options.warn?.(partial);
  const root = manifest.source.path ?? '/';
  const path = validateZnodePath(options.path ?? root);
  const missing = (zxid: bigint) =>
    new UserError(`${path} is not in backup ${manifest.id} at ${formatZxid(zxid)}`, { hint: `the backup holds ${root} and below` });
  const counters = { snapshot: null, logsRead: 0, txnsApplied: 0, digestsChecked: 0 };
  if (manifest.kind === 'logical') {
    requireWholeLogical(source);
    const { sorted, zxid, close } = await openSortedBackup(options.repo, manifest.id, path, options.signal);
    if (!sorted) {
      await close();
      throw missing(zxid);
    }
    return { id: manifest.id, records: sorted.records(), count: sorted.count, zxid, ...counters, close };
  }
  const { tree, zxid } = await loadTree(source, { repo: options.repo, signal: options.signal, warn: options.warn });
  if (!tree.nodes.has(treeKey(path))) throw missing(zxid);
  const records = tree.records(path);
  return { id: manifest.id, records, count: records.length, zxid, ...counters, close: () => Promise.resolve() };
}
