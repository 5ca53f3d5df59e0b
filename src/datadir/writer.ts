// An offline dataDir as a tree sink: writes `version-2/snapshot.<hex Z>` (atomically: a temp name the
// server never parses, fsync, rename), optionally the epoch files and myid, so a real server starts
// from exactly that tree at zxid Z.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, existsSync, writeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeTreeSnapshot } from '../core/snapshot-tree.js';
import type { DataTree } from '../core/tree.js';
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
    result = await writeTreeSnapshot(
      tree,
      (chunk) => {
        writeSync(fd, chunk);
      },
      { zxid: options.zxid, digest: true, lastZxid: options.lastZxidSection ?? false },
    );
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
  return { snapshotPath: finalPath, bytes: result.bytes, nodes: result.nodes, digest: result.digest };
}
