// Every way a user names a tree, resolved into one TreeSource: a backup (`ID`, `ID@ZXID`, `latest`),
// the physical backup covering a point (`--to-zxid`, `--to-time`), a live ensemble (`zk://…`) or a
// server's files (`--data-dir`). Resolving is cheap (a bad ref fails before anything is loaded);
// loading gives the tree a restore, export, diff or verify works on.
import { commitBoundaries, isReplayable, pastBoundary } from '../core/committed.js';
import { parseConnectString } from '../core/connect-string.js';
import type { DataTree } from '../core/tree.js';
import { znodePathProblem } from '../core/znode-path.js';
import { formatZxid, parseZxid, zxidEpoch } from '../core/zxid.js';
import { dataDirHistory } from '../datadir/history.js';
import { listDataDir } from '../datadir/listing.js';
import { replayDataDir } from '../datadir/source.js';
import { UsageError } from '../errors.js';
import { loadCommitView } from '../repository/physical-manifest.js';
import type { BackupManifest, Repository } from '../repository/types.js';
import { loadBackupTree, parseBackupRef } from './backup-tree.js';
import { chooseBackup, physicalTree, type PointInTime } from './physical.js';

/** A tree as the user named it, resolved but not loaded. */
export type TreeSource =
  | {
      kind: 'backup';
      /** The argument as given. */
      ref: string;
      manifest: BackupManifest;
      point: PointInTime;
      /** Named as `latest` (a restore that lands behind newer history says so). */
      latest: boolean;
    }
  | { kind: 'live'; ref: string; /** Hosts only, normalised `host:port,…`. */ connect: string; /** The subtree to walk. */ path: string }
  | { kind: 'files'; ref: string; dataDir: string; logDir?: string; toZxid?: bigint };

export interface TreeSpec {
  /** `ID`, `ID@ZXID`, `latest`, or with `allowLive` `zk://CONNECT[/path]`. */
  ref?: string;
  toZxid?: bigint;
  toTime?: number;
  /** A server's dataDir (and dataLogDir), read straight from its files. */
  dataDir?: string;
  logDir?: string;
}

/**
 * Resolves a spec into a source. `repo` is opened only when a backup is named; `allowLive` accepts
 * `zk://` refs (diff compares live trees; restore and export read backups or files).
 */
export async function resolveTreeSource(
  spec: TreeSpec,
  repo: () => Promise<Repository>,
  opts: { allowLive?: boolean } = {},
): Promise<TreeSource> {
  if (spec.dataDir !== undefined) {
    if (spec.ref !== undefined) throw new UsageError('give a backup or --data-dir, not both');
    if (spec.toTime !== undefined) throw new UsageError('--to-time needs a repository of physical backups; a dataDir is read to --to-zxid');
    return { kind: 'files', ref: spec.dataDir, dataDir: spec.dataDir, logDir: spec.logDir, toZxid: spec.toZxid };
  }
  if (spec.ref !== undefined) {
    if (spec.toZxid !== undefined || spec.toTime !== undefined)
      throw new UsageError('give ID@ZXID, or --to-zxid/--to-time without an id, not both');
    const parsed = await parseTreeRef(spec.ref);
    if (parsed.kind === 'live') {
      if (!opts.allowLive)
        throw new UsageError(`"${spec.ref}" is a live ensemble; this command reads backups`, {
          hint: 'give a backup id, ID@ZXID or latest',
        });
      return parsed;
    }
    const { id, zxid } = parseBackupRef(spec.ref);
    return { kind: 'backup', ref: spec.ref, manifest: await (await repo()).resolve(id), point: { zxid }, latest: id === 'latest' };
  }
  if (spec.toZxid !== undefined && spec.toTime !== undefined) throw new UsageError('give --to-zxid or --to-time, not both');
  if (spec.toZxid === undefined && spec.toTime === undefined) {
    throw new UsageError('restore needs a backup id, --to-zxid or --to-time', { hint: 'zkvault list shows the ids' });
  }
  const point: PointInTime = { zxid: spec.toZxid, time: spec.toTime };
  const ref = spec.toZxid !== undefined ? `--to-zxid ${formatZxid(spec.toZxid)}` : `--to-time ${new Date(spec.toTime!).toISOString()}`;
  return { kind: 'backup', ref, manifest: await chooseBackup(await repo(), point), point, latest: false };
}

/**
 * Splits `zk://CONNECT[/path]`: CONNECT is `host:port[,host:port…]`; everything from the first `/`
 * after it is the subtree to walk (default `/`) on a session without a chroot. Anything else is a
 * backup ref.
 */
export async function parseTreeRef(
  ref: string,
): Promise<{ kind: 'live'; ref: string; connect: string; path: string } | { kind: 'backup'; ref: string }> {
  if (ref.startsWith('zk://')) {
    const rest = ref.slice('zk://'.length);
    const slash = rest.indexOf('/');
    const hosts = slash < 0 ? rest : rest.slice(0, slash);
    let path = slash < 0 ? '/' : rest.slice(slash);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    if (hosts.trim() === '')
      throw new UsageError(`"${ref}" names no ZooKeeper server`, { hint: 'e.g. zk://127.0.0.1:2181 or zk://h1:2181,h2:2181/app' });
    if (hosts.includes('@'))
      throw new UsageError(`"${ref}": credentials do not go in a zk:// source`, { hint: 'pass them with --auth SCHEME:CREDENTIALS' });
    const problem = znodePathProblem(path);
    if (problem)
      throw new UsageError(`the path in "${ref}" ${problem}`, { hint: 'zk://HOST:PORT/path walks /path; e.g. zk://127.0.0.1:2181/app' });
    const parsed = parseConnectString(hosts); // validates hosts and ports (UsageError)
    return { kind: 'live', ref, connect: parsed.hosts.join(','), path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) {
    throw new UsageError(`"${ref}" is not a tree source`, { hint: 'give a backup id, ID@ZXID, latest, or zk://HOST:PORT[/path]' });
  }
  if (ref.trim() === '')
    throw new UsageError('an empty tree source was given', { hint: 'give a backup id, ID@ZXID, latest, or zk://HOST:PORT[/path]' });
  return { kind: 'backup', ref };
}

/** What to tell whoever restores or exports a partial backup: which nodes it lacks. */
export function partialWarning(manifest: BackupManifest): string | null {
  if (!manifest.partial) return null;
  const u = manifest.unreadable;
  const first = u[0] ? ` (first: ${u[0].path}: ${u[0].reason})` : '';
  return `backup ${manifest.id} is partial: ${u.length} node(s) could not be read when it was taken${first}; what it restores lacks them`;
}

export interface LoadedTree {
  tree: DataTree;
  /** The zxid the tree stands for. */
  zxid: bigint;
  /** Backups: the backups read (a physical chain, base first). */
  chain: string[];
  /**
   * Said loudly (and warned): the tree is not at the point the backup's recorded range promised (its
   * end lies past txns the ensemble dropped or never confirmed), or `latest` lands behind a newer
   * history the repository knows of. A restore of it exits 3.
   */
  notice: string | null;
}

/** A logical backup holds one tree: refuses a point inside it. */
export function requireWholeLogical(source: Extract<TreeSource, { kind: 'backup' }>): void {
  const { manifest, point } = source;
  if (manifest.kind === 'logical' && (point.zxid !== undefined || point.time !== undefined)) {
    throw new UsageError(`backup ${manifest.id} is logical: it holds one tree (${manifest.zxid.to}), not a range`, {
      hint: 'point-in-time restores need physical backups',
    });
  }
}

/** Loads a backup or server-files source into a tree (a live source is walked, not loaded). */
export async function loadTree(
  source: Exclude<TreeSource, { kind: 'live' }>,
  o: { repo?: Repository; warn?: (m: string) => void; signal?: AbortSignal; verifyDigests?: boolean },
): Promise<LoadedTree> {
  if (source.kind === 'files') return loadServerFiles(source, o);
  const { manifest, point } = source;
  const repo = o.repo!;
  if (manifest.kind === 'logical') {
    requireWholeLogical(source);
    const bt = await loadBackupTree(repo, manifest.id);
    return { tree: bt.tree, zxid: bt.zxid, chain: [manifest.id], notice: null };
  }
  const all = await repo.list();
  const view = await loadCommitView(repo, all);
  const r = await physicalTree(repo, manifest, point, { warn: o.warn, signal: o.signal, view });
  let notice = r.cutShort;
  if (source.latest && zxidEpoch(r.zxid) < view.newestEpoch && view.boundaries.has(zxidEpoch(r.zxid))) {
    const newer = all.filter((m) => zxidEpoch(parseZxid(m.zxid.to)) > zxidEpoch(r.zxid)).map((m) => m.id);
    const behind = `latest (${manifest.id}) restores ${formatZxid(r.zxid)} of epoch ${zxidEpoch(r.zxid)}, behind a newer history the repository knows of (epoch ${view.newestEpoch}${newer.length ? `: backup ${newer[newer.length - 1]}` : ''})`;
    notice = notice ? `${notice}; ${behind}` : behind;
  }
  if (notice) o.warn?.(notice);
  return { tree: r.tree, zxid: r.zxid, chain: r.chain.map((m) => m.id), notice };
}

/** A server's files replayed to a zxid (default: the last complete txn), never past a cut they show. */
export function loadServerFiles(
  source: Extract<TreeSource, { kind: 'files' }>,
  o: { warn?: (m: string) => void; verifyDigests?: boolean; onTxn?: () => void },
): LoadedTree & { snapshot: string | null; logsRead: number; txnsApplied: number; digestsChecked: number } {
  const boundaries = commitBoundaries([dataDirHistory(listDataDir(source.dataDir, source.logDir))]);
  if (source.toZxid !== undefined) {
    const p = pastBoundary(source.toZxid, boundaries, `--to-zxid ${formatZxid(source.toZxid)}`);
    if (p) throw new UsageError(p.message, { hint: p.hint });
  }
  const result = replayDataDir(source.dataDir, source.logDir, {
    targetZxid: source.toZxid,
    refuse: (txn) => {
      if (isReplayable(txn.header.zxid, boundaries)) return null;
      const p = pastBoundary(txn.header.zxid, boundaries, `txn ${formatZxid(txn.header.zxid)}`)!;
      return `${p.message}; ${p.hint}, or give --to-zxid`;
    },
    verifyDigests: o.verifyDigests ?? true,
    warn: o.warn,
    ...(o.onTxn ? { onTxn: o.onTxn } : {}),
  });
  return {
    tree: result.tree,
    zxid: result.zxid,
    chain: [],
    notice: null,
    snapshot: result.snapshot?.name ?? null,
    logsRead: result.logsRead.length,
    txnsApplied: result.txnsApplied,
    digestsChecked: result.digestsChecked,
  };
}
