// Physical backup: copy a server's newest valid snapshot, the log that holds its zxid and every later
// log, each verified while read and cut at its last complete record (never the zero preallocation or a
// torn tail). --incremental stores only the txns after the newest backup whose last txn these logs
// still hold, byte for byte; when they no longer reach it (autopurge ran first), the gap is reported and
// a new full backup starts the chain again. A hole between two logs (one deleted by hand) ends either
// kind of backup before it, reported and recorded in the manifest.
//
// The files also show which txns the ensemble committed (core/committed.ts): a log that runs on into a
// new epoch ends the old one exactly; a snapshot loaded from a new leader (a SNAP rejoin) cuts the
// history, and the old epoch's txns past the last confirmed one may have been dropped. What a backup
// learns is recorded in the repository for every reader; an incremental never continues across a cut
// (the next backup starts a new chain from the leader's snapshot), and no backup claims to restore a
// txn past a boundary.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { NotFoundError, UserError } from '../errors.js';
import { listDataDir, type DataDirListing } from '../datadir/listing.js';
import { countFilesAt } from '../datadir/count.js';
import { formatZxid, zxidEpoch } from '../core/zxid.js';
import { addsToKnown, commitBoundaries, describeBoundary, factsToJson, lastReplayable, type HistoryFacts } from '../core/committed.js';
import { chooseParent } from './physical-backup/parent.js';
import { stageIncremental } from './physical-backup/incremental.js';
import { stageFull } from './physical-backup/full.js';
import type { Parent, Staged } from './physical-backup/common.js';
import type { NodeCounts, Repository } from '../repository/types.js';
import { manifestToResult, type BackupResult } from '../repository/backup-summary.js';
import { loadCommitView, type CommitView } from '../repository/physical-manifest.js';

export type { PhysicalExtra } from '../repository/physical-manifest.js';

export interface PhysicalBackupOptions {
  dataDir: string;
  logDir?: string;
  repo: Repository;
  incremental?: boolean;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export type PhysicalBackupResult = BackupResult & { unchanged?: boolean; gap?: string };

export async function backupPhysical(options: PhysicalBackupOptions): Promise<PhysicalBackupResult> {
  const started = Date.now();
  const warn = options.warn ?? (() => {});
  const listing = listDataDir(options.dataDir, options.logDir);
  if (listing.snapshots.length === 0) {
    throw new UserError(`${listing.snapDir} holds no snapshot`, {
      hint: 'a physical backup starts from a snapshot; a running server writes one at startup',
    });
  }
  const repo = options.repo;
  const view = await loadCommitView(repo);
  let parent: Parent | null = null;
  let gap: string | undefined;
  if (options.incremental) ({ parent, gap } = await chooseParent(repo, listing, view, options.signal));
  if (gap) warn(`${gap}; taking a full backup, which starts a new chain`);

  const writer = await repo.beginBackup('physical', options.signal);
  const source = { dataDir: resolve(options.dataDir), logDir: options.logDir ? resolve(options.logDir) : undefined, host: hostname() };
  try {
    // The parent was chosen before the lock was held: a prune may have removed it since.
    if (parent) {
      try {
        await repo.resolve(parent.manifest.id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        gap = `${parent.manifest.id}, the backup this one would continue, was removed meanwhile`;
        warn(`${gap}; taking a full backup, which starts a new chain`);
        parent = null;
      }
    }
    let staged: Staged | null = null;
    if (parent) {
      const inc = await stageIncremental(writer, listing, parent, options.signal, warn);
      if (inc.kind === 'unchanged') {
        await recordFacts(repo, writer.id, source, inc.facts, view);
        await writer.abort();
        return { ...manifestToResult(parent.manifest, Date.now() - started), unchanged: true };
      }
      if (inc.kind === 'cut') {
        gap = inc.why;
        warn(`${gap}; taking a full backup, which starts a new chain`);
      } else staged = inc.staged;
    }
    staged ??= await stageFull(writer, listing, options.signal, warn);
    await recordFacts(repo, writer.id, source, staged.facts, view);
    // Never claim a txn past a boundary: what this backup's files showed, and what the repository knew.
    const boundaries = commitBoundaries([...view.facts, staged.facts], view.evidence);
    const to = lastReplayable(staged.to, boundaries);
    if (to < staged.from) {
      throw new UserError(
        `${listing.logDir}: every txn this backup could restore is past a cut: ${describeBoundary(boundaries.get(zxidEpoch(staged.to))!)}`,
        {
          hint: 'back up again once the server has taken a snapshot in its new epoch',
        },
      );
    }
    if (to !== staged.to)
      warn(
        `txns ${formatZxid(to + 1n)}..${formatZxid(staged.to)} are kept but never restored: ${describeBoundary(boundaries.get(zxidEpoch(staged.to))!)}`,
      );
    const counts = staged.counted?.zxid === to ? staged.counted.counts() : countsAt(listing, to, staged.counts, warn);
    const manifest = await writer.commit({
      kind: 'physical',
      createdAt: new Date(started).toISOString(),
      source,
      zxid: { from: formatZxid(staged.from), to: formatZxid(to) },
      partial: false,
      unreadable: [],
      counts,
      extra: staged.extra as unknown as Record<string, unknown>,
    });
    return { ...manifestToResult(manifest, Date.now() - started), gap: gap ?? staged.gapFound };
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
}

/**
 * The nodes a restore of this backup creates: the tree at `to`, counted from the server's files as
 * restore replays the copies (without building it). When they do not reach it, `fallback` (the base
 * snapshot's count, or the parent's) is recorded, with a warning saying so.
 */
function countsAt(listing: DataDirListing, to: bigint, fallback: NodeCounts, warn: (m: string) => void): NodeCounts {
  const r = countFilesAt(listing, to);
  if ('counts' in r) return r.counts;
  warn(`the files do not replay to ${formatZxid(to)} (${r.problem}): the node count recorded (${fallback.nodes}) is of an earlier point`);
  return fallback;
}

/** Stores what the files showed of the ensemble's history, unless the repository knows it already. */
async function recordFacts(
  repo: Repository,
  id: string,
  source: { dataDir?: string; logDir?: string; host?: string },
  facts: HistoryFacts,
  view: CommitView,
): Promise<void> {
  if (facts.ends.length === 0 && facts.cuts.length === 0) return;
  if (!addsToKnown(facts, view.facts)) return;
  await repo.recordHistory({ recordedBy: id, source, facts: factsToJson(facts) });
}
