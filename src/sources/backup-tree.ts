// Reading a backup's tree: extract its snapshot member (checksummed on the way), then load it whole,
// or stream its nodes from the file as often as a restore reads them.
import { readFileSync } from 'node:fs';
import { IntegrityError, UsageError, throwIfAborted } from '../errors.js';
import { SnapshotReader } from '../formats/snapshot-reader.js';
import type { AclEntry } from '../core/node-record.js';
import { isUnder, type SourceNode } from '../core/restore-plan.js';
import { loadSnapshotTree } from '../core/snapshot-tree.js';
import { displayPath, treeKey, type DataTree } from '../core/tree.js';
import { isSystemPath } from '../core/znode-path.js';
import { parseZxid } from '../core/zxid.js';
import type { BackupManifest, Repository } from '../repository/types.js';
import { sortSnapshot, type SortedSnapshot } from './sorted-snapshot.js';

export interface BackupTree {
  manifest: BackupManifest;
  tree: DataTree;
  /** The zxid the tree stands for. */
  zxid: bigint;
  /** The subtree the backup covers (a logical backup of --path P holds P only). */
  root: string;
}

/** Splits `ID@ZXID` into its parts. */
export function parseBackupRef(ref: string): { id: string; zxid?: bigint } {
  const at = ref.indexOf('@');
  if (at < 0) return { id: ref };
  return { id: ref.slice(0, at), zxid: parseZxid(ref.slice(at + 1), `the zxid in ${ref}`) };
}

/** A logical backup's snapshot member, extracted (its sha256 checked) to a local file until close(). */
export interface BackupSnapshotFile {
  manifest: BackupManifest;
  file: string;
  /** Names it in errors. */
  name: string;
  zxid: bigint;
  close(): Promise<void>;
}

export async function openBackupSnapshot(repo: Repository, ref: string): Promise<BackupSnapshotFile> {
  const { id, zxid } = parseBackupRef(ref);
  const manifest = await repo.resolve(id);
  if (manifest.kind !== 'logical') {
    throw new UsageError(`backup ${manifest.id} is ${manifest.kind}; reading its tree needs the physical restore path`);
  }
  if (zxid !== undefined) {
    throw new UsageError(
      `backup ${manifest.id} is a logical backup: it holds one tree (${manifest.zxid.to}), not a range to choose a zxid from`,
      {
        hint: `use ${manifest.id} without @ZXID, or a physical backup for point-in-time restores`,
      },
    );
  }
  const snap = manifest.members.find((m) => m.role === 'snapshot');
  if (!snap) throw new IntegrityError('malformed', `backup ${manifest.id}`, undefined, 'the manifest lists no snapshot member');
  const reader = await repo.open(manifest.id);
  try {
    const file = await reader.extractMember(snap.name);
    return {
      manifest,
      file,
      name: `backup ${manifest.id}: ${snap.name}`,
      zxid: parseZxid(snap.zxid ?? manifest.zxid.to),
      close: () => reader.close(),
    };
  } catch (err) {
    await reader.close();
    throw err;
  }
}

/**
 * A logical backup's records at and under `root`, sorted by path and read from its extracted snapshot
 * as they are taken (sources/sorted-snapshot.ts); `sorted` is null when the tree has no `root`.
 * close() once they are read.
 */
export async function openSortedBackup(
  repo: Repository,
  id: string,
  root: string,
  signal?: AbortSignal,
): Promise<{ sorted: SortedSnapshot | null; zxid: bigint; close: () => Promise<void> }> {
  const snap = await openBackupSnapshot(repo, id);
  try {
    throwIfAborted(signal);
    return { sorted: sortSnapshot(snap.file, snap.name, root), zxid: snap.zxid, close: () => snap.close() };
  } catch (err) {
    await snap.close();
    throw err;
  }
}

export async function loadBackupTree(repo: Repository, ref: string): Promise<BackupTree> {
  const snap = await openBackupSnapshot(repo, ref);
  try {
    const { tree } = loadSnapshotTree(readFileSync(snap.file), snap.name, snap.zxid);
    return { manifest: snap.manifest, tree, zxid: snap.zxid, root: snap.manifest.source.path ?? '/' };
  } finally {
    await snap.close();
  }
}

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];

/** A restore's source nodes: those at and under `root`, `/zookeeper` left out, each after its parent. */
export interface NodeSource {
  nodes(): Iterable<SourceNode>;
  tree?: DataTree;
  snapshotFile?: { path: string; name: string };
  zxid: bigint;
}

/** A tree in memory as a restore source (sorted by path; stats as clients see them). */
export function treeSource(tree: DataTree, root: string, zxid: bigint): NodeSource {
  return {
    tree,
    zxid,
    *nodes() {
      for (const rec of tree.records(root)) {
        const node = tree.nodes.get(treeKey(rec.path))!;
        yield { ...rec, storedCversion: node.stat.cversion };
      }
    },
  };
}

/**
 * A snapshot file as a restore source, read again for each pass through it and never held whole:
 * its nodes at and under `root` in file order, each copied out of the reader's window. The stat is
 * as stored (a snapshot keeps no child counts to turn cversion into the client's view); the seals
 * are checked each time the file is read to its end.
 */
export function snapshotFileSource(file: string, name: string, root: string, zxid: bigint): NodeSource {
  return {
    zxid,
    snapshotFile: { path: file, name },
    *nodes() {
      const reader = SnapshotReader.openFile(file, { file: name });
      try {
        for (let n = reader.next(); n; n = reader.next()) {
          const path = displayPath(n.path);
          if (!isUnder(path, root) || isSystemPath(n.path)) continue;
          if (n.acl === undefined)
            throw new IntegrityError(
              'malformed',
              name,
              undefined,
              `node ${path} has ACL index ${n.aclIndex}, which the snapshot's ACL map lacks`,
            );
          const data = n.data;
          const stat = n.statView.toObject();
          yield { path, data: data === null ? null : Buffer.from(data), acl: n.acl ?? OPEN, stat, storedCversion: stat.cversion };
        }
      } finally {
        reader.close();
      }
    },
  };
}

/**
 * The subtrees a backup does not know, as backup paths: left out with --exclude, or unreadable
 * (NoAuth) when it was taken (`unread`). What they hold now is neither in the backup nor known absent.
 */
export function unknownSubtrees(m: BackupManifest): Array<{ path: string; unread: boolean }> {
  const out: Array<{ path: string; unread: boolean }> = [];
  const ex = m.extra?.exclude;
  if (Array.isArray(ex)) for (const p of ex) if (typeof p === 'string') out.push({ path: p, unread: false });
  for (const u of m.unreadable ?? []) if (u.reason.startsWith('NoAuth')) out.push({ path: u.path, unread: true });
  return out;
}
