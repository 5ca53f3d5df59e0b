// Between snapshot records and the in-memory tree: load a parsed snapshot into a DataTree, and write a
// DataTree as a snapshot ZooKeeper will load (system nodes present, ACL map with real indices, digest).
import { IntegrityError } from '../errors.js';
import { SnapshotWriter, type SnapshotInfo } from '../formats/snapshot.js';
import { parseSnapshot } from '../formats/snapshot-reader.js';
import type { AclEntry, NodeStat } from './node-record.js';
import { DataTree, NoNodeError, ZNode, zeroStat } from './tree.js';

export interface LoadedSnapshot {
  tree: DataTree;
  info: SnapshotInfo;
}

/** Builds a tree from an uncompressed snapshot stream whose file-name zxid is `zxid`. */
export function loadSnapshotTree(buf: Buffer, file: string, zxid: bigint): LoadedSnapshot {
  const tree = new DataTree();
  const info = parseSnapshot(buf, file, (n) => {
    try {
      tree.putNode(n.path, ZNode.inPlace(n.buf, n.dataOff, n.dataLen, n.acl ?? null, n.statOff));
      if (n.acl === undefined) tree.pendingAcl.set(n.path, n.aclIndex);
    } catch (err) {
      if (err instanceof NoNodeError) {
        throw new IntegrityError('malformed', file, undefined, `malformed tree: node ${n.path || '/'} comes before its parent`);
      }
      throw err;
    }
  });
  for (const s of info.sessions) tree.sessions.set(s.id, s.timeout);
  tree.lastProcessedZxid = zxid;
  return { tree, info };
}

export interface WriteTreeOptions {
  /** The snapshot's zxid (its file name); also the digest section's zxid. */
  zxid: bigint;
  /** Write the 3.6+ digest section (default true). */
  digest?: boolean;
  /** Write the 3.9 lastProcessedZxid section (default false: 3.6–3.8 layout, which 3.9 also loads). */
  lastZxid?: boolean;
}

/**
 * The nodes every server expects a snapshot to hold, parents first, as a server creates them: empty,
 * world-open (null ACL) but for /zookeeper/config, which the world may only read.
 */
export const SYSTEM_NODES: ReadonlyArray<{ key: string; acl: AclEntry[] | null; stat: () => NodeStat }> = [
  { key: '', acl: null, stat: zeroStat },
  { key: '/zookeeper', acl: null, stat: zeroStat },
  { key: '/zookeeper/quota', acl: null, stat: zeroStat },
  { key: '/zookeeper/config', acl: [{ perms: 1, scheme: 'world', id: 'anyone' }], stat: () => ({ ...zeroStat(), aversion: -1 }) },
];

/** Adds the nodes every server expects if the tree lacks them (/zookeeper, quota, config). */
export function ensureSystemNodes(tree: DataTree): void {
  for (const s of SYSTEM_NODES) if (!tree.nodes.has(s.key)) tree.putNode(s.key, new ZNode(Buffer.alloc(0), s.acl, s.stat()));
}

/**
 * Streams `tree` to `sink` as a snapshot file's bytes. The digest section, when written, carries the
 * digest of exactly this tree at `zxid`, which makes the snapshot non-fuzzy for the server.
 */
export async function writeTreeSnapshot(
  tree: DataTree,
  sink: (chunk: Buffer) => void | Promise<void>,
  options: WriteTreeOptions,
): Promise<{ bytes: number; nodes: number; digest: bigint }> {
  ensureSystemNodes(tree);
  const indices = new Map<readonly AclEntry[], number>();
  const acls = new Map<number, readonly AclEntry[]>();
  for (const node of tree.nodes.values()) {
    if (node.acl !== null && !indices.has(node.acl)) {
      const index = indices.size + 1;
      indices.set(node.acl, index);
      acls.set(index, node.acl);
    }
  }
  const sessions = [...tree.sessions].map(([id, timeout]) => ({ id, timeout }));
  const writer = new SnapshotWriter(sink);
  await writer.begin(sessions, acls);
  for (const key of tree.sortedKeys('')) {
    const node = tree.nodes.get(key)!;
    await writer.node(key, node.data, node.acl === null ? -1 : indices.get(node.acl)!, node.stat);
  }
  const digest = tree.digest();
  const withDigest = options.digest ?? true;
  const bytes = await writer.finish({
    digest: withDigest ? { zxid: options.zxid, value: digest } : null,
    lastZxid: withDigest && options.lastZxid ? options.zxid : null,
  });
  return { bytes, nodes: writer.nodesWritten, digest };
}
