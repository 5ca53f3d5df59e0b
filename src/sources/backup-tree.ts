// Reading a backup's tree: extract its snapshot member (checksummed on the way) and load it.
import { readFileSync } from 'node:fs';
import { IntegrityError, UsageError } from '../errors.js';
import { loadSnapshotTree } from '../core/snapshot-tree.js';
import type { DataTree } from '../core/tree.js';
import { treeKey } from '../core/tree.js';
import type { SourceNode } from '../core/restore-plan.js';
import { parseZxid } from '../core/zxid.js';
import type { BackupManifest, Repository } from '../repository/types.js';

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

export async function loadBackupTree(repo: Repository, ref: string): Promise<BackupTree> {
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
    const z = parseZxid(snap.zxid ?? manifest.zxid.to);
    const { tree } = loadSnapshotTree(readFileSync(file), `backup ${manifest.id}: ${snap.name}`, z);
    return { manifest, tree, zxid: z, root: manifest.source.path ?? '/' };
  } finally {
    await reader.close();
  }
}

/** The backup's nodes under `path` as restore sources (stored cversion alongside the client view). */
export function sourceNodes(tree: DataTree, path: string): SourceNode[] {
  return tree.records(path).map((rec) => {
    const node = tree.nodes.get(treeKey(rec.path))!;
    return { ...rec, storedCversion: node.stat.cversion };
  });
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
