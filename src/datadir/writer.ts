// An offline dataDir as a tree sink: writes `version-2/snapshot.<hex Z>` (atomically: a temp name the
// server never parses, fsync, rename), optionally the epoch files and myid, so a real server starts
// from exactly that tree at zxid Z.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, existsSync, writeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { IntegrityError, UsageError } from '../errors.js';
import { SYSTEM_NODES, writeTreeSnapshot } from '../core/snapshot-tree.js';
import { add64, recordDigest } from '../core/digest.js';
import { countNode, sameAcl, zeroCounts, type AclEntry, type NodeCounts } from '../core/node-record.js';
import type { DataTree } from '../core/tree.js';
import { isSystemPath } from '../core/znode-path.js';
import { SnapshotWriter } from '../formats/snapshot.js';
import { SnapshotReader } from '../formats/snapshot-reader.js';
import { STAT_SIZE, StatView } from '../formats/stat.js';
import { zxidEpoch, zxidToFileSuffix } from '../core/zxid.js';

export interface WriteDataDirOptions {
  zxid: bigint;
  /** Write currentEpoch/acceptedEpoch (quorum members); default true. */
  epochFiles?: boolean;
  myid?: number;
  /** Write the 3.9 lastProcessedZxid section too. */
  lastZxidSection?: boolean;
}

export interface WrittenDataDir {
  snapshotPath: string;
  bytes: number;
  nodes: number;
  digest: bigint;
}

function writeFileDurably(path: string, content: string | Buffer): void {
  const tmp = join(path, '..', `.zkvault-tmp-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Refuses anything but a missing or empty directory: a restore never mixes with existing files. */
export function requireEmptyDir(dir: string, flag = '--data-dir'): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UsageError(`${flag} ${dir} is not empty`, {
      hint: 'give a new or empty directory; zkvault never writes over existing server files',
    });
  }
}

export async function writeDataDir(tree: DataTree, dir: string, options: WriteDataDirOptions): Promise<WrittenDataDir> {
  const written = await writeSnapshotInto(dir, options, (sink) =>
    writeTreeSnapshot(tree, sink, { zxid: options.zxid, digest: true, lastZxid: options.lastZxidSection ?? false }),
  );
  return { ...written, digest: written.result.digest, nodes: written.result.nodes };
}

/**
 * writeDataDir for a tree held in an uncompressed snapshot file (a logical backup's, `name` in
 * errors): its node records copied through as they are, one at a time, never a tree in memory; the
 * server's own nodes added where the file lacks them, and the digest summed on the way.
 */
export async function writeDataDirFromSnapshot(
  file: string,
  name: string,
  dir: string,
  options: WriteDataDirOptions,
): Promise<WrittenDataDir & { counts: NodeCounts; sessions: number }> {
  const written = await writeSnapshotInto(dir, options, (sink) => copySnapshotNodes(file, name, sink, options));
  const { digest, nodes, counts, sessions } = written.result;
  return { snapshotPath: written.snapshotPath, bytes: written.bytes, digest, nodes, counts, sessions };
}

async function copySnapshotNodes(
  file: string,
  name: string,
  sink: (chunk: Buffer) => void,
  options: WriteDataDirOptions,
): Promise<{ bytes: number; nodes: number; digest: bigint; counts: NodeCounts; sessions: number }> {
  const reader = SnapshotReader.openFile(file, { file: name });
  try {
    // The server's own nodes the file may lack; each one's ACL must be in the map if it is to be added.
    const acls = new Map<number, readonly AclEntry[]>(reader.header.acls);
    const system = SYSTEM_NODES.filter((x) => x.key !== '').map((x) => ({ ...x, aclIndex: x.acl === null ? -1 : indexOf(acls, x.acl) }));
    const writer = new SnapshotWriter(sink);
    await writer.begin(reader.header.sessions, acls);
    const counts = zeroCounts();
    const present = new Set<string>();
    let sum = 0n;
    for (let n = reader.next(); n; n = reader.next()) {
      const key = n.path;
      if (present.size === 0 && key !== '')
        throw new IntegrityError('malformed', name, n.fileOffset, 'malformed tree: the first node is not the root');
      if (key === '' || isSystemPath(key)) present.add(key);
      sum = add64(sum, recordDigest(key, n.data, n.buf, n.statOff));
      if (!isSystemPath(key)) countNode(counts, n.ephemeralOwner, n.dataLen);
      await writer.rawNodes(n.buf.subarray(n.pathOff - 4, n.statOff + STAT_SIZE), 1);
    }
    if (!present.has('')) throw new IntegrityError('malformed', name, undefined, 'malformed tree: the snapshot holds no root');
    for (const x of system) {
      if (present.has(x.key)) continue;
      const stat = x.stat();
      const view = StatView.from(stat);
      sum = add64(sum, recordDigest(x.key, Buffer.alloc(0), view.buf, view.off));
      await writer.node(x.key, Buffer.alloc(0), x.aclIndex, stat);
    }
    const digest = BigInt.asIntN(64, sum);
    const bytes = await writer.finish({
      digest: { zxid: options.zxid, value: digest },
      lastZxid: options.lastZxidSection ? options.zxid : null,
    });
    return { bytes, nodes: writer.nodesWritten, digest, counts, sessions: reader.header.sessions.length };
  } finally {
    reader.close();
  }
}

/** The index of `acl` in the snapshot's ACL map, added at the end when the map lacks it. */
function indexOf(acls: Map<number, readonly AclEntry[]>, acl: readonly AclEntry[]): number {
  for (const [index, a] of acls) if (sameAcl(a, acl)) return index;
  const index = Math.max(0, ...acls.keys()) + 1;
  acls.set(index, acl);
  return index;
}

/** Writes `version-2/snapshot.<zxid>` by `write` (atomically), then the epoch files and myid. */
async function writeSnapshotInto<T>(
  dir: string,
  options: WriteDataDirOptions,
  write: (sink: (chunk: Buffer) => void) => Promise<T & { bytes: number }>,
): Promise<{ snapshotPath: string; bytes: number; result: T & { bytes: number } }> {
  requireEmptyDir(dir);
  const v2 = join(dir, 'version-2');
  mkdirSync(v2, { recursive: true });
  const finalPath = join(v2, `snapshot.${zxidToFileSuffix(options.zxid)}`);
  // A dot-name in dataDir itself: ZooKeeper only parses names in version-2, and 3.6+ parses any
  // `snapshot.<hex>.<suffix>` there, so the temp file must live outside it.
  const tmp = join(dir, `.snapshot.${zxidToFileSuffix(options.zxid)}.zkvault-tmp`);
  const fd = openSync(tmp, 'w');
  let result;
  try {
    result = await write((chunk) => {
      writeSync(fd, chunk);
    });
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, finalPath);
  if (options.epochFiles ?? true) {
    const epoch = zxidEpoch(options.zxid).toString();
    writeFileDurably(join(v2, 'currentEpoch'), epoch);
    writeFileDurably(join(v2, 'acceptedEpoch'), epoch);
  }
  if (options.myid !== undefined) writeFileDurably(join(dir, 'myid'), `${options.myid}\n`);
  return { snapshotPath: finalPath, bytes: result.bytes, result };
}
