// Choosing what an incremental continues: the newest backup whose last txn the server's logs still
// hold, byte for byte, and that is itself restorable.
import { formatZxid, isZxidGap, missingRange, parseZxid, zxidEpoch } from '../../core/zxid.js';
import { describeBoundary, isReplayable } from '../../core/committed.js';
import { scanLogFile } from '../../datadir/history.js';
import type { DataDirListing } from '../../datadir/listing.js';
import type { Repository } from '../../repository/types.js';
import { brokenChain, physicalExtra as extraOf, type CommitView } from '../../repository/physical-manifest.js';
import { nextTurn, sha256, type Parent } from './common.js';

/**
 * The newest backup whose last txn these logs still hold, byte for byte, with no hole after it, that is
 * restorable itself (its chain whole, its last txn not past a known boundary). Or why there is none.
 */
export async function chooseParent(
  repo: Repository,
  listing: DataDirListing,
  view: CommitView,
  signal: AbortSignal | undefined,
): Promise<{ parent: Parent | null; gap?: string }> {
  const physical = (await repo.list()).filter((m) => m.kind === 'physical' && extraOf(m).lastTxn).reverse();
  const wantedZxids = new Set(physical.map((m) => parseZxid(extraOf(m).lastTxn!.zxid)));
  const found = new Map<string, { sha: string; next: bigint | null; logIndex: number }>();
  let pending: string | null = null;
  for (const [i, l] of listing.logs.entries()) {
    // A log holds the txns from the zxid in its name up to the next log's: only a log that can hold a
    // wanted txn, or the txn after one, is read.
    const nextStart = listing.logs[i + 1]?.zxid;
    if (pending === null && ![...wantedZxids].some((z) => z >= l.zxid && (nextStart === undefined || z < nextStart))) continue;
    await nextTurn(signal);
    scanLogFile(l, (_bytes, records) => {
      for (const rec of records) {
        const zxid = rec.txn.header.zxid;
        if (pending !== null) {
          found.get(pending)!.next = zxid;
          pending = null;
        }
        if (!wantedZxids.has(zxid)) continue;
        const z = formatZxid(zxid);
        found.set(z, { sha: sha256(rec.payload), next: null, logIndex: i });
        pending = z;
      }
    });
  }
  let broken: string | null = null;
  let dropped: string | null = null;
  for (const m of physical) {
    const last = extraOf(m).lastTxn!;
    const f = found.get(last.zxid);
    if (!f || f.sha !== last.sha256 || (f.next !== null && isZxidGap(parseZxid(last.zxid), f.next))) continue;
    const lastZxid = parseZxid(last.zxid);
    if (!isReplayable(lastZxid, view.boundaries)) {
      dropped ??= `${m.id} ends at ${last.zxid}, but ${describeBoundary(view.boundaries.get(zxidEpoch(lastZxid))!)}`;
      continue;
    }
    // Never build on a backup that cannot be restored itself (its chain lacks a backup or archive).
    const problem = (await repo.archiveProblem(m).then((p) => p && `backup ${m.id}: ${p}`)) ?? (await brokenChain(repo, m));
    if (problem) {
      broken ??= problem;
      continue;
    }
    return { parent: { manifest: m, logIndex: f.logIndex } };
  }
  if (broken) return { parent: null, gap: `${broken}, so nothing can continue it` };
  if (dropped) return { parent: null, gap: dropped };
  const newest = physical[0];
  if (!newest) return { parent: null, gap: 'the repository has no physical backup to continue' };
  const last = extraOf(newest).lastTxn!;
  const other = found.get(last.zxid);
  if (other && other.sha !== last.sha256) {
    return {
      parent: null,
      gap: `these logs hold a different txn ${last.zxid} than ${newest.id} does: another history (an ensemble restored or rebuilt since), not a continuation`,
    };
  }
  if (other && other.next !== null) {
    const z = parseZxid(last.zxid);
    const why =
      zxidEpoch(other.next) > zxidEpoch(z)
        ? "as when the server rejoined its ensemble from a leader's snapshot"
        : 'a log deleted by hand, or lost';
    return {
      parent: null,
      gap: `the logs continue ${last.zxid} (the end of ${newest.id}) only at ${formatZxid(other.next)}: txns ${missingRange(z, other.next)} are missing (${why})`,
    };
  }
  // The log that would hold it is there but does not: the server truncated it (a TRUNC on rejoin).
  const z = parseZxid(last.zxid);
  const holder = listing.logs.some((l, i) => l.zxid <= z && (listing.logs[i + 1] === undefined || z < listing.logs[i + 1].zxid));
  return {
    parent: null,
    gap: holder
      ? `the logs no longer hold txn ${last.zxid} (the end of ${newest.id}): the server truncated its log past it, as when it rejoins its ensemble and drops txns that were never committed`
      : `the logs no longer hold txn ${last.zxid} (the end of ${newest.id}): txns after it were purged before they were copied`,
  };
}
