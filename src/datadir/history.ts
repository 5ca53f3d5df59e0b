// Reading a server's log files for what they show of its history: each log verified up to its
// preallocation (every record's checksum), its first and last txn, and where it changes epoch. Shared
// by physical backup (which copies what it scans) and by reading a dataDir directly.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { observeHistory, type HistoryEvent, type HistoryFacts } from '../core/committed.js';
import { zxidEpoch } from '../core/zxid.js';
import type { DataDirListing, LogFileRef } from './listing.js';
import { iterateTxnLog, verifyTxnLogFile, type LogRecord, type LogTail } from '../formats/txn-log.js';

/** One log file, read and verified: where its complete records end, and what they hold. */
export interface ScannedLog {
  ref: LogFileRef;
  first: LogRecord | null;
  last: LogRecord | null;
  txns: number;
  /** Bytes up to the end of the last complete record. */
  end: number;
  tail: LogTail;
}

/**
 * Reads and verifies one log up to its preallocation, then hands `onRecords` its verified bytes and
 * their records, headers decoded. The bytes and the records' payloads are views valid only during the
 * call; `first` and `last` of the result are copies.
 */
export function scanLogFile(ref: LogFileRef, onRecords?: (bytes: Buffer, records: Iterable<LogRecord>) => void): ScannedLog {
  const fd = openSync(ref.path, 'r');
  try {
    const v = verifyTxnLogFile((into, position) => readSync(fd, into, 0, into.length, position), fstatSync(fd).size, ref.path, {
      onVerified: onRecords && ((bytes) => onRecords(bytes, iterateVerified(bytes, ref.path))),
    });
    return { ref, first: v.first, last: v.last, txns: v.txns, end: v.end, tail: v.tail };
  } finally {
    closeSync(fd);
  }
}

/** The records of bytes that ended verified: framing walked again, checksums not recomputed. */
export function* iterateVerified(bytes: Buffer, file: string): Generator<LogRecord> {
  const it = iterateTxnLog(bytes, file, { headerOnly: true, skipChecksums: true });
  for (let r = it.next(); !r.done; r = it.next()) yield r.value;
}

/**
 * The history events of one scanned log: one run of consecutive txns per epoch. A log whose first
 * and last txns share an epoch is one run; one that spans a leader change is read again to find where
 * each epoch's txns end (rare: once per election the server lived through).
 */
export function logHistoryEvents(log: ScannedLog): HistoryEvent[] {
  if (!log.first || !log.last) return [];
  const first = log.first.txn.header.zxid;
  const last = log.last.txn.header.zxid;
  if (zxidEpoch(first) === zxidEpoch(last)) return [{ kind: 'txns', first, last }];
  const events: HistoryEvent[] = [];
  scanLogFile(log.ref, (_bytes, records) => {
    let runFirst: bigint | null = null;
    let prev: bigint | null = null;
    for (const rec of records) {
      const z = rec.txn.header.zxid;
      if (prev !== null && zxidEpoch(z) !== zxidEpoch(prev)) {
        events.push({ kind: 'txns', first: runFirst!, last: prev });
        runFirst = null;
      }
      runFirst ??= z;
      prev = z;
    }
    if (runFirst !== null) events.push({ kind: 'txns', first: runFirst, last: prev! });
  });
  return events;
}

/**
 * What a dataDir's files show of which txns the ensemble committed: every log scanned, every
 * snapshot's name taken as evidence (see core/committed.ts). Logs that fail to verify end the scan
 * of that file at the damage, as a server's own loader stops there.
 */
export function dataDirHistory(listing: DataDirListing): HistoryFacts {
  const events: HistoryEvent[] = listing.snapshots.map((s) => ({ kind: 'snapshot', zxid: s.zxid }));
  for (const ref of listing.logs) {
    let log: ScannedLog;
    try {
      log = scanLogFile(ref);
    } catch {
      continue; // damage is reported by whoever reads the file for its txns
    }
    events.push(...logHistoryEvents(log));
  }
  return observeHistory(events).facts();
}
