// A full physical backup: the newest valid snapshot, the log that holds its zxid and every later log,
// up to any hole, with what the files show of the ensemble's history and the node counts of the tree
// they replay to, all from one read of each file.
import { readFileSync } from 'node:fs';
import { UserError } from '../../errors.js';
import { decompress } from '../../formats/compression.js';
import { parseSnapshot } from '../../formats/snapshot-reader.js';
import { type LogRecord } from '../../formats/txn-log.js';
import { formatZxid, isZxidGap, missingRange, zxidEpoch } from '../../core/zxid.js';
import { factsToJson, observeHistory, type HistoryEvent } from '../../core/committed.js';
import { zeroCounts } from '../../core/node-record.js';
import { logHistoryEvents, type ScannedLog } from '../../datadir/history.js';
import { applyRecords } from '../../datadir/count.js';
import { CountingTree } from '../../core/count-replay.js';
import type { DataDirListing } from '../../datadir/listing.js';
import type { BackupWriter, NodeCounts } from '../../repository/types.js';
import { type PhysicalExtra } from '../../repository/physical-manifest.js';
import { logMeta, nextTurn, scanLog, sha256, type Staged } from './common.js';

/** Past every zxid: count every txn read (the backup's end is known only once they are). */
const MAX_ZXID = 0x7fffffffffffffffn;

/** The newest valid snapshot, the log that holds its zxid and every later log, up to any hole. */
export async function stageFull(
  writer: BackupWriter,
  listing: DataDirListing,
  signal: AbortSignal | undefined,
  warn: (m: string) => void,
): Promise<Staged> {
  // The newest snapshot whose seals check out; its stats say which txns of older epochs were committed.
  let chosen: { ref: (typeof listing.snapshots)[number]; digestZxid: bigint | null; size: number; statMax: Map<bigint, bigint> } | null =
    null;
  let counts: NodeCounts = zeroCounts();
  // The tree's node counts, carried through the logs as they are read: what a restore creates.
  let counted = new CountingTree(0n);
  for (const snap of listing.snapshots) {
    try {
      const raw = readFileSync(snap.path);
      const tree = new CountingTree(snap.zxid);
      const statMax = new Map<bigint, bigint>();
      const note = (z: bigint) => {
        const e = zxidEpoch(z);
        if (z > (statMax.get(e) ?? 0n)) statMax.set(e, z);
      };
      const info = parseSnapshot(decompress(raw, snap.compression, snap.path), snap.path, (n) => {
        const at = n.statOff;
        note(n.buf.readBigInt64BE(at)); // czxid
        note(n.buf.readBigInt64BE(at + 8)); // mzxid
        note(n.buf.readBigInt64BE(at + 52)); // pzxid
        tree.add(n.buf, n.pathOff, n.pathOff + n.pathLen, n.ephemeralOwner, n.dataLen);
      });
      chosen = { ref: snap, digestZxid: info.digest ? info.digest.zxid : null, size: raw.length, statMax };
      counts = tree.counts();
      counted = tree;
      break;
    } catch (err) {
      warn(`${snap.name} is not usable (${(err as Error).message}); trying an older snapshot`);
    }
  }
  if (!chosen)
    throw new UserError(`no valid snapshot in ${listing.snapDir}`, { hint: 'zkvault export --data-dir shows what is wrong with each' });
  const s = chosen.ref.zxid;
  const events: HistoryEvent[] = listing.snapshots.map((x) =>
    x === chosen.ref
      ? { kind: 'snapshot', zxid: x.zxid, evidence: { digestZxid: chosen.digestZxid, statMax: chosen.statMax } }
      : { kind: 'snapshot', zxid: x.zxid },
  );
  writer.addMemberFrom(
    chosen.ref.name,
    'snapshot',
    { path: chosen.ref.path, length: chosen.size },
    {
      zxid: formatZxid(s),
      meta: { digestZxid: chosen.digestZxid === null ? null : formatZxid(chosen.digestZxid) },
    },
  );
  // The newest log starting at or before S (the one that holds txn S), and every later one, one file
  // in memory at a time.
  let firstIdx = 0;
  for (let i = 0; i < listing.logs.length; i++) if (listing.logs[i].zxid <= s) firstIdx = i;
  const logs: PhysicalExtra['logs'] = [];
  let last: ScannedLog['last'] = null;
  let gapFound: string | undefined;
  // The time of the txn where the restorable range starts (the snapshot's digest zxid, or its own).
  const startZxid = chosen.digestZxid !== null && chosen.digestZxid >= s ? chosen.digestZxid : s;
  let startTime: number | null = null;
  const findStart = (_bytes: Buffer, records: Iterable<LogRecord>) => {
    for (const rec of records) if (rec.txn.header.zxid === startZxid) startTime = Number(rec.txn.header.time);
  };
  for (const [i, ref] of listing.logs.slice(firstIdx).entries()) {
    await nextTurn(signal);
    const nextStart = listing.logs[firstIdx + i + 1]?.zxid;
    const holdsStart = ref.zxid <= startZxid && (nextStart === undefined || startZxid < nextStart);
    const l = scanLog(ref, warn, (bytes, records) => {
      if (holdsStart) findStart(bytes, records);
      applyRecords(counted, bytes, ref.path, s, MAX_ZXID);
    });
    if (l.txns === 0) continue;
    events.push(...logHistoryEvents(l));
    const firstZxid = l.first!.txn.header.zxid;
    const lastZxid = l.last!.txn.header.zxid;
    // A log that ends before S holds nothing of what this backup restores: S was loaded from a
    // leader (a rejoin), not logged here. Read for what it shows of the history, not copied.
    if (i === 0 && lastZxid < s) continue;
    const prevZxid = last ? last.txn.header.zxid : null;
    // Txns missing between two logs after the snapshot: nothing past the hole replays.
    if (prevZxid !== null && lastZxid > prevZxid && firstZxid > s + 1n && firstZxid > prevZxid && isZxidGap(prevZxid, firstZxid)) {
      gapFound = `txns ${missingRange(prevZxid, firstZxid)} are missing from ${listing.logDir} (${ref.name} continues at ${formatZxid(firstZxid)})`;
      warn(`${gapFound}; the backup covers up to ${formatZxid(prevZxid)} only`);
      break;
    }
    if (prevZxid === null && firstZxid > s + 1n && isZxidGap(s, firstZxid)) {
      throw new UserError(
        `the txns right after ${chosen.ref.name} are missing (the logs continue at ${formatZxid(firstZxid)}): no restorable state can be copied`,
        {
          hint: 'the server writes a new snapshot as it runs; back up again after its next snapshot, or restore the missing log files',
        },
      );
    }
    const meta = logMeta(ref.name, l.first!.txn.header, l.last!.txn.header, l.txns);
    writer.addMemberFrom(ref.name, 'log', { path: ref.path, length: l.end }, { zxid: formatZxid(ref.zxid), meta });
    logs.push(meta);
    last = l.last;
  }
  const d = chosen.digestZxid;
  let from = d !== null && d >= s ? d : s;
  const noLogs = listing.logs.length === 0;
  if (noLogs) {
    warn(`${listing.logDir} holds no transaction logs; a server with dataLogDir set keeps them there: give it as --log-dir`);
  }
  const lastZxid = last ? last.txn.header.zxid : null;
  // The snapshot alone is the tree at its digest zxid only when no txn of its fuzzy window is missing.
  if (from > s && (lastZxid === null || lastZxid < from)) {
    throw new UserError(
      `${chosen.ref.name} holds txns up to ${formatZxid(from)} (its digest's zxid), but ${noLogs ? `${listing.logDir} holds no transaction logs` : `the logs end at ${formatZxid(lastZxid ?? s)}`}: no restorable state can be copied`,
      {
        hint: noLogs
          ? "give the server's dataLogDir as --log-dir"
          : 'back up again once the server has logged more txns, or give the right --log-dir',
      },
    );
  }
  const to = lastZxid !== null && lastZxid > from ? lastZxid : from;
  if (d === null && to > s) {
    // Without a digest nothing says which txns after S the file already holds; every txn the
    // server applied while writing it was logged first, so the last one copied closes the window.
    from = to;
    startTime = last ? Number(last.txn.header.time) : null;
    warn(
      `${chosen.ref.name} has no digest (a server before ZooKeeper 3.6, or zookeeper.digest.enabled=false): how far its fuzzy window reaches is unknown, ` +
        `so this backup restores exactly only at its last txn ${formatZxid(to)}; incrementals after it restore any later zxid`,
    );
  }
  const facts = observeHistory(events).facts();
  return {
    extra: {
      chain: { base: writer.id, parent: null, depth: 0 },
      snapshot: { zxid: formatZxid(s), digestZxid: d === null ? null : formatZxid(d) },
      fromTime: startTime,
      logs,
      lastTxn: last ? { zxid: formatZxid(last.txn.header.zxid), time: Number(last.txn.header.time), sha256: sha256(last.payload) } : null,
      gaps: gapFound ? [gapFound] : [],
      ...(facts.ends.length + facts.cuts.length > 0 ? { history: factsToJson(facts) } : {}),
    },
    from,
    to,
    counts,
    counted,
    facts,
    gapFound,
  };
}
