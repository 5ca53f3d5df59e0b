// The node counts of a server's files at a zxid, without building the tree (core/count-replay.ts):
// the newest snapshot at or before it that parses, then the logs' txns after the snapshot up to it.
// Records are not checked again here: a backup checks every one as it copies it.
import { readFileSync } from 'node:fs';
import { CountingTree } from '../core/count-replay.js';
import type { NodeCounts } from '../core/node-record.js';
import { decompress } from '../formats/compression.js';
import { parseSnapshot } from '../formats/snapshot-reader.js';
import { LOG_HEADER_SIZE, readTxnLogHeader } from '../formats/txn-log.js';
import { TXN_HEADER_SIZE } from '../formats/txn.js';
import { IntegrityError } from '../errors.js';
import { scanLogFile } from './history.js';
import type { DataDirListing } from './listing.js';

/** The counts at `to`, or why they cannot be had (the files do not reach it, or none parses). */
export function countFilesAt(listing: DataDirListing, to: bigint): { counts: NodeCounts } | { problem: string } {
  let tree: CountingTree | null = null;
  let problem = `no snapshot at or before ${to.toString(16)}`;
  for (const snap of listing.snapshots) {
    if (snap.zxid > to) continue;
    try {
      const t = new CountingTree(snap.zxid);
      const info = parseSnapshot(decompress(readFileSync(snap.path), snap.compression, snap.path), snap.path, (n) =>
        t.add(n.buf, n.pathOff, n.pathOff + n.pathLen, n.ephemeralOwner, n.dataLen),
      );
      // A fuzzy snapshot may hold txns up to its digest's zxid: it cannot be the tree at an earlier one.
      if (info.digest && info.digest.zxid > to) {
        problem = `${snap.name} holds txns up to ${info.digest.zxid.toString(16)}`;
        continue;
      }
      tree = t;
      break;
    } catch (err) {
      problem = (err as Error).message;
    }
  }
  if (!tree) return { problem };
  const base = tree.zxid;
  let first = 0;
  for (let i = 0; i < listing.logs.length; i++) if (listing.logs[i].zxid <= base) first = i;
  const t = tree;
  for (const log of listing.logs.slice(first)) {
    if (log.zxid > to) break;
    scanLogFile(log, (bytes) => applyRecords(t, bytes, log.path, base, to));
  }
  if (tree.zxid !== to) return { problem: `the files reach ${tree.zxid.toString(16)}, not ${to.toString(16)}` };
  return { counts: tree.counts() };
}

/**
 * Applies the txns of a log's verified bytes (file header included, every record whole and checked)
 * after `after`, up to `upTo`, to `tree`: the framing walked in place, each body read only for its
 * effect on the tree's shape.
 */
export function applyRecords(tree: CountingTree, bytes: Buffer, file: string, after: bigint, upTo: bigint): void {
  readTxnLogHeader(bytes, file);
  for (let pos = LOG_HEADER_SIZE; pos + 12 <= bytes.length;) {
    const len = bytes.readInt32BE(pos + 8);
    const start = pos + 12;
    if (len < TXN_HEADER_SIZE || start + len >= bytes.length)
      throw new IntegrityError('malformed', file, pos, `malformed record: payload length ${len} at a record already verified`);
    const z = bytes.readBigInt64BE(start + 12);
    if (z > upTo) break;
    if (z > after) tree.applyRecord(bytes, start, start + len, file, z);
    pos = start + len + 1;
  }
}
