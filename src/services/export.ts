// Export: the tree at a zxid as sorted node records, from a server's data files (and, later, backups).
import { UserError, throwIfAborted } from '../errors.js';
import type { NodeRecord } from '../core/node-record.js';
import { replayDataDir } from '../zk/data-dir-source.js';
import { treeKey } from '../core/tree.js';

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

export function validateZnodePath(path: string, flag = '--path'): string {
  if (!path.startsWith('/') || (path.length > 1 && path.endsWith('/')) || path.includes('//')) {
    throw new UserError(`${flag} "${path}" is not a znode path`, { hint: 'use an absolute path such as /app or /' });
  }
  return path;
}

export function exportDataDir(options: ExportDataDirOptions): ExportResult {
  throwIfAborted(options.signal);
  const path = validateZnodePath(options.path ?? '/');
  const result = replayDataDir(options.dataDir, options.logDir, {
    targetZxid: options.toZxid,
    verifyDigests: options.verifyDigests ?? true,
    warn: options.warn,
  });
  throwIfAborted(options.signal);
  if (!result.tree.nodes.has(treeKey(path))) {
    throw new UserError(`${path} does not exist in the tree at this zxid`, { hint: 'check --path, or export without it to see every node' });
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
