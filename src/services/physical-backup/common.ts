// What the parts of a physical backup share: reading a log with its warnings, turning the event loop
// between files, and the shape of what a backup stages before it commits.
import { createHash } from 'node:crypto';
import { throwIfAborted } from '../../errors.js';
import { type LogRecord, type LogTail } from '../../formats/txn-log.js';
import { formatZxid } from '../../core/zxid.js';
import { type HistoryFacts } from '../../core/committed.js';
import type { CountingTree } from '../../core/count-replay.js';
import { scanLogFile, type ScannedLog } from '../../datadir/history.js';
import type { BackupManifest, NodeCounts } from '../../repository/types.js';
import { type PhysicalExtra } from '../../repository/physical-manifest.js';

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** scanLogFile with a warning for a torn tail. */
export function scanLog(
  ref: ScannedLog['ref'],
  warn: (m: string) => void,
  onRecords?: (bytes: Buffer, records: Iterable<LogRecord>) => void,
): ScannedLog {
  const l = scanLogFile(ref, onRecords);
  warnTorn(ref.name, l.tail, warn);
  return l;
}

export function warnTorn(name: string, tail: LogTail, warn: (m: string) => void): void {
  if (tail.kind === 'torn') warn(`${name}: ${tail.detail} at byte ${tail.offset}; copied up to the last complete record`);
}

/**
 * Lets the event loop turn between files (each is read synchronously), so that a SIGINT/SIGTERM is
 * seen within one file's time, then stops if it was.
 */
export async function nextTurn(signal: AbortSignal | undefined): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  throwIfAborted(signal);
}

export function logMeta(
  name: string,
  first: { zxid: bigint; time: bigint },
  last: { zxid: bigint; time: bigint },
  txns: number,
): PhysicalExtra['logs'][number] {
  return {
    name,
    firstZxid: formatZxid(first.zxid),
    lastZxid: formatZxid(last.zxid),
    firstTime: Number(first.time),
    lastTime: Number(last.time),
    txns,
  };
}

/** What a backup stages before it commits. */
export interface Staged {
  extra: PhysicalExtra;
  from: bigint;
  to: bigint;
  /** The base snapshot's counts, or the parent's: recorded only when the files do not replay. */
  counts: NodeCounts;
  /** The tree's counts, counted through every txn read (full backups): used when it ends at the backup's end. */
  counted?: CountingTree;
  /** What the files read showed of the ensemble's history. */
  facts: HistoryFacts;
  gapFound?: string;
}

export interface Parent {
  manifest: BackupManifest;
  /** The log that holds the parent's last txn. */
  logIndex: number;
}
