// An incremental physical backup: only the txns after its parent's last one, copied as the server
// framed them; a history cut after the parent is not crossed.
import { closeSync, fsyncSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { txnLogHeaderBytes, type LogRecord } from '../../formats/txn-log.js';
import { formatZxid, isZxidGap, missingRange, parseZxid, zxidToFileSuffix } from '../../core/zxid.js';
import { factsToJson, HistoryObserver, type HistoryFacts } from '../../core/committed.js';
import type { DataDirListing } from '../../datadir/listing.js';
import type { BackupWriter } from '../../repository/types.js';
import { physicalExtra as extraOf } from '../../repository/physical-manifest.js';
import { logMeta, nextTurn, scanLog, sha256, type Parent, type Staged } from './common.js';

type IncrementalOutcome = { kind: 'staged'; staged: Staged } | { kind: 'unchanged'; facts: HistoryFacts } | { kind: 'cut'; why: string };

/**
 * Only the txns after the parent's last one, framed into one new log file, copied as the server framed
 * them. A history cut after the parent (a rejoin from a leader's snapshot) is not crossed: the caller
 * takes a full backup instead.
 */
export async function stageIncremental(
  writer: BackupWriter,
  listing: DataDirListing,
  parent: Parent,
  signal: AbortSignal | undefined,
  warn: (m: string) => void,
): Promise<IncrementalOutcome> {
  const pExtra = extraOf(parent.manifest);
  const after = parseZxid(pExtra.lastTxn!.zxid);
  // The history from the parent's log on, snapshots in their places: where it ends or is cut.
  const observer = new HistoryObserver();
  const snapshots = listing.snapshots.map((s) => s.zxid).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let nextSnap = 0;
  const observe = (z: bigint) => {
    while (nextSnap < snapshots.length && snapshots[nextSnap] < z) observer.snapshot(snapshots[nextSnap++]);
    observer.txn(z);
  };
  const staged = join(writer.stagingDir, 'incremental.log');
  const fd = openSync(staged, 'w');
  let firstNew: { zxid: bigint; time: bigint } | null = null;
  let lastNew: { zxid: bigint; time: bigint; payload: Buffer } | null = null;
  let txns = 0;
  let gapFound: string | undefined;
  try {
    writeSync(fd, txnLogHeaderBytes());
    for (const l of listing.logs.slice(parent.logIndex)) {
      await nextTurn(signal);
      if (gapFound) break;
      scanLog(l, warn, (bytes, records) => {
        // The new records are copied as they are framed in the log (verified already), a run of
        // consecutive ones at a time.
        let run: { from: number; to: number } | null = null;
        const flush = () => {
          if (run) writeSync(fd, bytes, run.from, run.to - run.from);
          run = null;
        };
        let newest: LogRecord | null = null;
        for (const rec of records) {
          const z = rec.txn.header.zxid;
          observe(z);
          if (z <= after || (lastNew && z <= lastNew.zxid) || (newest && z <= newest.txn.header.zxid)) {
            flush();
            continue;
          }
          // A hole (a log deleted by hand): nothing past it replays, so the backup stops before it.
          const prev = newest ? newest.txn.header.zxid : lastNew ? lastNew.zxid : after;
          if (isZxidGap(prev, z)) {
            gapFound = `txns ${missingRange(prev, z)} are missing from ${listing.logDir} (${l.name} continues at ${formatZxid(z)})`;
            break;
          }
          if (run && run.to === rec.offset) run.to = rec.end;
          else {
            flush();
            run = { from: rec.offset, to: rec.end };
          }
          firstNew ??= { zxid: z, time: rec.txn.header.time };
          newest = rec;
          txns++;
        }
        flush();
        if (newest) lastNew = { zxid: newest.txn.header.zxid, time: newest.txn.header.time, payload: Buffer.from(newest.payload) };
      });
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  while (nextSnap < snapshots.length) observer.snapshot(snapshots[nextSnap++]);
  const facts = observer.facts();
  const cut = facts.cuts.find((c) => c.lastLogged >= after || c.resumedAt > after);
  if (cut) {
    return {
      kind: 'cut',
      why: `the server's history was cut after ${formatZxid(cut.lastLogged)}, the last txn it logged in epoch ${cut.epoch}: it went on from ${formatZxid(cut.resumedAt)} (a snapshot loaded from a new leader, as when it rejoins its ensemble), so ${parent.manifest.id} cannot be continued`,
    };
  }
  if (gapFound) warn(`${gapFound}; the backup covers up to ${formatZxid(lastNew ? (lastNew as { zxid: bigint }).zxid : after)} only`);
  if (!firstNew || !lastNew) return { kind: 'unchanged', facts };
  const f = firstNew as { zxid: bigint; time: bigint };
  const ln = lastNew as { zxid: bigint; time: bigint; payload: Buffer };
  const name = `log.${zxidToFileSuffix(f.zxid)}`;
  const file = join(writer.stagingDir, name);
  renameSync(staged, file);
  const meta = logMeta(name, f, ln, txns);
  // Hashed once, as commit packs it.
  writer.addMemberFrom(name, 'log', { path: file, length: statSync(file).size }, { zxid: formatZxid(f.zxid), meta });
  return {
    kind: 'staged',
    staged: {
      extra: {
        chain: { base: pExtra.chain.base, parent: parent.manifest.id, depth: pExtra.chain.depth + 1 },
        snapshot: null,
        ...(pExtra.fromTime !== undefined ? { fromTime: pExtra.fromTime } : {}),
        logs: [meta],
        lastTxn: { zxid: formatZxid(ln.zxid), time: Number(ln.time), sha256: sha256(ln.payload) },
        gaps: gapFound ? [gapFound] : [],
        ...(facts.ends.length + facts.cuts.length > 0 ? { history: factsToJson(facts) } : {}),
      },
      from: parseZxid(parent.manifest.zxid.from),
      to: ln.zxid,
      counts: parent.manifest.counts,
      facts,
      gapFound,
    },
  };
}
