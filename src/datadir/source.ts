// A server's dataDir as a tree source: its snapshot and log files, read and replayed to a zxid.
import { readFileSync } from 'node:fs';
import { decompress } from '../formats/compression.js';
import { listDataDir, type DataDirListing } from './listing.js';
import { replayToZxid, type ReplayOptions, type ReplayResult, type LogSource, type SnapshotSource } from '../core/replay.js';

export interface DataDirSources {
  listing: DataDirListing;
  snapshots: SnapshotSource[];
  logs: LogSource[];
}

export function dataDirSources(dataDir: string, logDir?: string): DataDirSources {
  const listing = listDataDir(dataDir, logDir);
  return {
    listing,
    snapshots: listing.snapshots.map((s) => ({
      name: s.name,
      zxid: s.zxid,
      read: () => decompress(readFileSync(s.path), s.compression, s.path),
    })),
    logs: listing.logs.map((l) => ({ name: l.name, zxid: l.zxid, read: () => readFileSync(l.path) })),
  };
}

export function replayDataDir(
  dataDir: string,
  logDir: string | undefined,
  options: ReplayOptions,
): ReplayResult & { listing: DataDirListing } {
  const src = dataDirSources(dataDir, logDir);
  for (const f of src.listing.ignored)
    options.warn?.(`${f} is not read (ZooKeeper 3.6+ would parse it as a snapshot or log; remove it from the data dir)`);
  return { ...replayToZxid(src.snapshots, src.logs, { passOverTruncatedSnapshots: true, ...options }), listing: src.listing };
}
