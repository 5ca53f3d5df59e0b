// A server's dataDir / dataLogDir as ZooKeeper lays it out: `<dir>/version-2/snapshot.<hex>[.gz|.snappy]`
// and `<dir>/version-2/log.<hex>`, where <hex> is the zxid (lowercase, no prefix) of the snapshot or of
// the log's first txn. Also epoch files and myid.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';
import { compressionOfName, type Compression } from '../formats/compression.js';

export interface SnapshotFileRef {
  kind: 'snapshot';
  name: string;
  path: string;
  zxid: bigint;
  compression: Compression;
  size: number;
}

export interface LogFileRef {
  kind: 'log';
  name: string;
  path: string;
  /** zxid of the first txn, from the name. */
  zxid: bigint;
  size: number;
}

export interface DataDirListing {
  snapDir: string;
  logDir: string;
  /** Newest first. */
  snapshots: SnapshotFileRef[];
  /** Oldest first. */
  logs: LogFileRef[];
  /** Files ZooKeeper 3.6+ would also parse as snapshots or logs (e.g. `.bak`, `.tmp`): ignored here, worth a warning. */
  ignored: string[];
}

const SNAP_RE = /^snapshot\.([0-9a-f]+)(?:\.(gz|snappy))?$/i;
const LOG_RE = /^log\.([0-9a-f]+)$/i;
const LOOSE_RE = /^(snapshot|log)\.[0-9a-f]+\..+$/i;

/** Resolves `dir` (a dataDir, or its version-2 directory) to the directory that holds the files. */
export function resolveVersionDir(dir: string, flag: string): string {
  if (!existsSync(dir)) {
    throw new UsageError(`${flag} ${dir} does not exist`, { hint: `give the server's dataDir (the directory that contains version-2)` });
  }
  if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir} is not a directory`);
  const v2 = join(dir, 'version-2');
  if (existsSync(v2) && statSync(v2).isDirectory()) return v2;
  if (basename(dir) === 'version-2') return dir;
  const names = readdirSync(dir);
  if (names.some((n) => SNAP_RE.test(n) || LOG_RE.test(n))) return dir;
  throw new UsageError(`${flag} ${dir} is not a ZooKeeper data directory: it has no version-2 directory and no snapshot or log files`, {
    hint: "point it at the server's dataDir (zoo.cfg `dataDir=`), which holds version-2/snapshot.* files",
  });
}

function hexZxid(hex: string): bigint {
  return BigInt.asIntN(64, BigInt('0x' + hex));
}

/** Lists a server's snapshot and log files; `logDir` defaults to `dataDir`. */
export function listDataDir(dataDir: string, logDir?: string): DataDirListing {
  const snapDir = resolveVersionDir(dataDir, '--data-dir');
  const lDir = logDir ? resolveVersionDir(logDir, '--log-dir') : snapDir;
  const snapshots: SnapshotFileRef[] = [];
  const logs: LogFileRef[] = [];
  const ignored: string[] = [];
  const dirs = lDir === snapDir ? [snapDir] : [snapDir, lDir];
  for (const d of dirs) {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      let m: RegExpExecArray | null;
      if ((m = SNAP_RE.exec(name))) {
        if (d !== snapDir) continue;
        snapshots.push({
          kind: 'snapshot',
          name,
          path,
          zxid: hexZxid(m[1]),
          compression: compressionOfName(name),
          size: statSync(path).size,
        });
      } else if ((m = LOG_RE.exec(name))) {
        if (d !== lDir) continue;
        logs.push({ kind: 'log', name, path, zxid: hexZxid(m[1]), size: statSync(path).size });
      } else if (LOOSE_RE.test(name)) {
        ignored.push(path);
      }
    }
  }
  snapshots.sort((a, b) => (a.zxid < b.zxid ? 1 : a.zxid > b.zxid ? -1 : 0));
  logs.sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0));
  return { snapDir, logDir: lDir, snapshots, logs, ignored };
}
