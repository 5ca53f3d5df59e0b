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
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { NotFoundError, UserError, throwIfAborted } from '../errors.js';
import { decompress } from '../formats/compression.js';
import { listDataDir, type DataDirListing } from '../formats/data-dir.js';
import { parseSnapshot } from '../formats/snapshot.js';
import { txnLogHeaderBytes, type LogRecord, type LogTail } from '../formats/txn-log.js';
import { formatZxid, isZxidGap, missingRange, parseZxid, zxidEpoch, zxidToFileSuffix } from '../core/zxid.js';
import {
  addsToKnown,
  commitBoundaries,
  describeBoundary,
  factsToJson,
  HistoryObserver,
  isReplayable,
  lastReplayable,
  observeHistory,
  type HistoryEvent,
  type HistoryFacts,
} from '../core/committed.js';
import { nodeTypeOf } from '../core/node-record.js';
import { isSystemPath } from '../core/znode-path.js';
import { logHistoryEvents, scanLogFile, type ScannedLog } from '../datadir/history.js';
import { openRepository } from '../repository/repository.js';
import type { BackupManifest, BackupWriter, NodeCounts, Repository } from '../repository/types.js';
import { manifestToResult, type BackupResult } from './backup-result.js';
import { brokenChain, loadCommitView, physicalExtra as extraOf, type CommitView, type PhysicalExtra } from './physical-manifest.js';

export type { PhysicalExtra } from './physical-manifest.js';

export interface PhysicalBackupOptions {
  dataDir: string;
  logDir?: string;
  repo: string;
  incremental?: boolean;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export type PhysicalBackupResult = BackupResult & { unchanged?: boolean; gap?: string };

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** scanLogFile with a warning for a torn tail. */
function scanLog(
  ref: ScannedLog['ref'],
  warn: (m: string) => void,
  onRecords?: (bytes: Buffer, records: Iterable<LogRecord>) => void,
): ScannedLog {
  const l = scanLogFile(ref, onRecords);
  warnTorn(ref.name, l.tail, warn);
  return l;
}

function warnTorn(name: string, tail: LogTail, warn: (m: string) => void): void {
  if (tail.kind === 'torn') warn(`${name}: ${tail.detail} at byte ${tail.offset}; copied up to the last complete record`);
}

/**
 * Lets the event loop turn between files (each is read synchronously), so that a SIGINT/SIGTERM is
 * seen within one file's time, then stops if it was.
 */
async function nextTurn(signal: AbortSignal | undefined): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  throwIfAborted(signal);
}

function logMeta(
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

const ZERO_COUNTS: NodeCounts = { nodes: 0, persistent: 0, ephemeral: 0, container: 0, ttl: 0, dataBytes: 0 };

/** What a backup stages before it commits. */
interface Staged {
  extra: PhysicalExtra;
  from: bigint;
  to: bigint;
  counts: NodeCounts;
  /** What the files read showed of the ensemble's history. */
  facts: HistoryFacts;
  gapFound?: string;
}

interface Parent {
  manifest: BackupManifest;
  /** The log that holds the parent's last txn. */
  logIndex: number;
}

export async function backupPhysical(options: PhysicalBackupOptions): Promise<PhysicalBackupResult> {
  const started = Date.now();
  const warn = options.warn ?? (() => {});
  const listing = listDataDir(options.dataDir, options.logDir);
  if (listing.snapshots.length === 0) {
    throw new UserError(`${listing.snapDir} holds no snapshot`, {
      hint: 'a physical backup starts from a snapshot; a running server writes one at startup',
    });
  }
  const repo = await openRepository(options.repo, { create: true, signal: options.signal, warn: options.warn });
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
    const manifest = await writer.commit({
      kind: 'physical',
      createdAt: new Date(started).toISOString(),
      source,
      zxid: { from: formatZxid(staged.from), to: formatZxid(to) },
      partial: false,
      unreadable: [],
      counts: staged.counts,
      extra: staged.extra as unknown as Record<string, unknown>,
    });
    return { ...manifestToResult(manifest, Date.now() - started), gap: gap ?? staged.gapFound };
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
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

/**
 * The newest backup whose last txn these logs still hold, byte for byte, with no hole after it, that is
 * restorable itself (its chain whole, its last txn not past a known boundary). Or why there is none.
 */
async function chooseParent(
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

type IncrementalOutcome = { kind: 'staged'; staged: Staged } | { kind: 'unchanged'; facts: HistoryFacts } | { kind: 'cut'; why: string };

/**
 * Only the txns after the parent's last one, framed into one new log file, copied as the server framed
 * them. A history cut after the parent (a rejoin from a leader's snapshot) is not crossed: the caller
 * takes a full backup instead.
 */
async function stageIncremental(
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
  renameSync(staged, join(writer.stagingDir, name));
  const meta = logMeta(name, f, ln, txns);
  await writer.addMember(name, 'log', { zxid: formatZxid(f.zxid), meta });
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

/** The newest valid snapshot, the log that holds its zxid and every later log, up to any hole. */
async function stageFull(
  writer: BackupWriter,
  listing: DataDirListing,
  signal: AbortSignal | undefined,
  warn: (m: string) => void,
): Promise<Staged> {
  // The newest snapshot whose seals check out; its stats say which txns of older epochs were committed.
  let chosen: { ref: (typeof listing.snapshots)[number]; digestZxid: bigint | null; size: number; statMax: Map<bigint, bigint> } | null =
    null;
  let counts: NodeCounts = ZERO_COUNTS;
  for (const snap of listing.snapshots) {
    try {
      const raw = readFileSync(snap.path);
      const c: NodeCounts = { ...ZERO_COUNTS };
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
        if (isSystemPath(n.path)) return;
        c.nodes++;
        c[nodeTypeOf(n.buf.readBigInt64BE(at + 44))]++;
        c.dataBytes += Math.max(0, n.dataLen);
      });
      chosen = { ref: snap, digestZxid: info.digest ? info.digest.zxid : null, size: raw.length, statMax };
      counts = c;
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
    const l = scanLog(ref, warn, holdsStart ? findStart : undefined);
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
    facts,
    gapFound,
  };
}
