// Physical backup: copy a server's newest valid snapshot, the log before it and every later log, each
// verified while read and cut at its last complete record (never the zero preallocation or a torn
// tail). --incremental stores only the txns after the newest backup whose last txn these logs still
// hold, byte for byte; when they no longer reach it (autopurge ran first), the gap is reported and a
// new full backup starts the chain again. A hole between two logs (one deleted by hand) ends either kind
// of backup before it, reported and recorded in the manifest.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { NotFoundError, UserError, throwIfAborted } from '../errors.js';
import { decompress } from '../formats/compression.js';
import { listDataDir, type LogFileRef } from '../formats/data-dir.js';
import { parseSnapshot } from '../formats/snapshot.js';
import { iterateTxnLog, txnLogHeaderBytes, verifyTxnLogFile, type LogRecord, type LogTail } from '../formats/txn-log.js';
import { formatZxid, isZxidGap, missingRange, parseZxid, zxidToFileSuffix } from '../core/zxid.js';
import { openRepository } from '../repository/repository.js';
import { brokenChain } from './pitr.js';
import type { BackupManifest, NodeCounts } from '../repository/types.js';
import { manifestToResult, type BackupResult } from './backup-result.js';
import { nodeTypeOf } from '../core/node-record.js';

export interface PhysicalBackupOptions {
  dataDir: string;
  logDir?: string;
  repo: string;
  incremental?: boolean;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

/** What a physical backup's manifest keeps in `extra`, for chains and point-in-time restores. */
export interface PhysicalExtra {
  /** The full backup this chain starts from, and the backup this one continues (null for a full). */
  chain: { base: string; parent: string | null; depth: number };
  /** The base snapshot's file zxid and its digest (fuzzy-window end) zxid. */
  snapshot: { zxid: string; digestZxid: string | null } | null;
  /** Every txn-log member: zxid and time ranges. */
  logs: Array<{ name: string; firstZxid: string; lastZxid: string; firstTime: number; lastTime: number; txns: number }>;
  /**
   * Time (ms) of the txn at the start of the chain's restorable range (`zxid.from`): the earliest
   * `--to-time` it serves. Null when no logged txn is at that zxid; absent in older manifests.
   */
  fromTime?: number | null;
  /** The last txn stored, with a hash of its payload: an incremental must find exactly it. */
  lastTxn: { zxid: string; time: number; sha256: string } | null;
  /** Holes found in the server's logs when this backup was taken (it covers up to the first one). */
  gaps?: string[];
}

/** One log file, read and verified: where its complete records end, and what they hold. */
interface ScannedLog {
  ref: LogFileRef;
  first: { zxid: bigint; time: bigint } | null;
  last: { zxid: bigint; time: bigint; payloadSha256: string } | null;
  txns: number;
  /** Bytes up to the end of the last complete record. */
  end: number;
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Reads and verifies one log up to its preallocation (every record's checksum, in WebAssembly), then
 * hands `onRecords` its verified bytes and their records, headers decoded. The bytes and the records'
 * payloads are views valid only during the call.
 */
function scanLog(ref: LogFileRef, warn: (m: string) => void, onRecords?: (bytes: Buffer, records: Iterable<LogRecord>) => void): ScannedLog {
  const fd = openSync(ref.path, 'r');
  try {
    const v = verifyTxnLogFile((into, position) => readSync(fd, into, 0, into.length, position), fstatSync(fd).size, ref.path, {
      onVerified: onRecords && ((bytes) => onRecords(bytes, iterateVerified(bytes, ref.path))),
    });
    warnTorn(ref, v.tail, warn);
    const h = (r: LogRecord) => ({ zxid: r.txn.header.zxid, time: r.txn.header.time });
    return { ref, first: v.first && h(v.first), last: v.last && { ...h(v.last), payloadSha256: sha256(v.last.payload) }, txns: v.txns, end: v.end };
  } finally {
    closeSync(fd);
  }
}

/** The records of bytes that ended verified: framing walked again, checksums not recomputed. */
function* iterateVerified(bytes: Buffer, file: string): Generator<LogRecord> {
  const it = iterateTxnLog(bytes, file, { headerOnly: true, skipChecksums: true });
  for (let r = it.next(); !r.done; r = it.next()) yield r.value;
}

/**
 * Lets the event loop turn between files (each is read synchronously), so that a SIGINT/SIGTERM is
 * seen within one file's time, then stops if it was.
 */
async function nextTurn(signal: AbortSignal | undefined): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  throwIfAborted(signal);
}

function warnTorn(ref: LogFileRef, tail: LogTail, warn: (m: string) => void): void {
  if (tail.kind === 'torn') warn(`${ref.name}: ${tail.detail} at byte ${tail.offset}; copied up to the last complete record`);
}

function logMeta(name: string, l: Pick<ScannedLog, 'first' | 'last' | 'txns'>) {
  return {
    name,
    firstZxid: formatZxid(l.first!.zxid),
    lastZxid: formatZxid(l.last!.zxid),
    firstTime: Number(l.first!.time),
    lastTime: Number(l.last!.time),
    txns: l.txns,
  };
}

const ZERO_COUNTS: NodeCounts = { nodes: 0, persistent: 0, ephemeral: 0, container: 0, ttl: 0, dataBytes: 0 };

export async function backupPhysical(options: PhysicalBackupOptions): Promise<BackupResult & { unchanged?: boolean; gap?: string }> {
  const started = Date.now();
  const warn = options.warn ?? (() => {});
  const listing = listDataDir(options.dataDir, options.logDir);
  if (listing.snapshots.length === 0) {
    throw new UserError(`${listing.snapDir} holds no snapshot`, { hint: 'a physical backup starts from a snapshot; a running server writes one at startup' });
  }
  const repo = await openRepository(options.repo, { create: true, signal: options.signal, warn: options.warn });

  let parent: BackupManifest | null = null;
  let parentLogIndex = 0; // the log that holds the parent's last txn
  let gap: string | undefined;
  if (options.incremental) {
    // The newest backup whose last txn these logs still hold, byte for byte, with no hole after it.
    const physical = (await repo.list()).filter((m) => m.kind === 'physical' && extraOf(m).lastTxn).reverse();
    const wanted = new Map(physical.map((m) => [extraOf(m).lastTxn!.zxid, m]));
    const wantedZxids = new Set([...wanted.keys()].map((z) => parseZxid(z)));
    const found = new Map<string, { sha: string; next: bigint | null; logIndex: number }>();
    let pending: string | null = null;
    for (const [i, l] of listing.logs.entries()) {
      // A log holds the txns from the zxid in its name up to the next log's: only a log that can
      // hold a wanted txn, or the txn after one, is read.
      const nextStart = listing.logs[i + 1]?.zxid;
      if (pending === null && ![...wantedZxids].some((z) => z >= l.zxid && (nextStart === undefined || z < nextStart))) continue;
      await nextTurn(options.signal);
      scanLog(l, () => {}, (_bytes, records) => {
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
    for (const m of physical) {
      const last = extraOf(m).lastTxn!;
      const f = found.get(last.zxid);
      if (f && f.sha === last.sha256 && (f.next === null || !isZxidGap(parseZxid(last.zxid), f.next))) {
        // Never build on a backup that cannot be restored itself (its chain lacks a backup or archive).
        const problem = (await repo.archiveProblem(m).then((p) => p && `backup ${m.id}: ${p}`)) ?? (await brokenChain(repo, m));
        if (problem) {
          broken ??= problem;
          continue;
        }
        parent = m;
        parentLogIndex = f.logIndex;
        break;
      }
    }
    if (!parent && broken) {
      gap = `${broken}, so nothing can continue it`;
      warn(`${gap}; taking a full backup, which starts a new chain`);
    } else if (!parent) {
      const newest = physical[0];
      const last = newest ? extraOf(newest).lastTxn! : null;
      const other = last ? found.get(last.zxid) : undefined;
      gap = !newest
        ? 'the repository has no physical backup to continue'
        : other && other.sha !== last!.sha256
          ? `these logs hold a different txn ${last!.zxid} than ${newest.id} does: another history (an ensemble restored or rebuilt since), not a continuation`
          : other && other.next !== null
            ? `the logs continue ${last!.zxid} (the end of ${newest.id}) only at ${formatZxid(other.next)}: txns ${missingRange(parseZxid(last!.zxid), other.next)} are missing (as when the server rejoined its ensemble from a leader's snapshot)`
            : `the logs no longer hold txn ${last!.zxid} (the end of ${newest.id}): txns after it were purged before they were copied`;
      warn(`${gap}; taking a full backup, which starts a new chain`);
    }
  }

  const writer = await repo.beginBackup('physical', options.signal);
  try {
    // The parent was chosen before the lock was held: a prune may have removed it since.
    if (parent) {
      try {
        await repo.resolve(parent.id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        gap = `${parent.id}, the backup this one would continue, was removed meanwhile`;
        warn(`${gap}; taking a full backup, which starts a new chain`);
        parent = null;
      }
    }
    const createdAt = new Date(started).toISOString();
    let extra: PhysicalExtra;
    let from: bigint;
    let to: bigint;
    let counts: NodeCounts = parent ? parent.counts : ZERO_COUNTS;
    let gapFound: string | undefined;
    if (parent) {
      // Only the txns after the parent's last one, framed into one new log file.
      const pExtra = extraOf(parent);
      const after = parseZxid(pExtra.lastTxn!.zxid);
      const staged = join(writer.stagingDir, 'incremental.log');
      const fd = openSync(staged, 'w');
      let firstNew: { zxid: bigint; time: bigint } | null = null;
      let lastNew: { zxid: bigint; time: bigint; payload: Buffer } | null = null;
      let txns = 0;
      try {
        writeSync(fd, txnLogHeaderBytes());
        for (const l of listing.logs.slice(parentLogIndex)) {
          await nextTurn(options.signal);
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
              if (z <= after || (lastNew && z <= lastNew.zxid) || (newest && z <= newest.txn.header.zxid)) {
                flush();
                continue;
              }
              // A hole (a log deleted by hand): nothing past it replays, so the backup stops before it.
              const prev = newest ? newest.txn.header.zxid : lastNew ? lastNew.zxid : after;
              if (isZxidGap(prev, z)) {
                gapFound = `txns ${missingRange(prev, z)} are missing from ${listing.logDir} (${l.name} continues at ${formatZxid(z)})`;
                warn(`${gapFound}; the backup covers up to ${formatZxid(prev)} only`);
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
      if (!firstNew || !lastNew) {
        await writer.abort();
        return { ...manifestToResult(parent, Date.now() - started), unchanged: true };
      }
      const f = firstNew as { zxid: bigint; time: bigint };
      const ln = lastNew as { zxid: bigint; time: bigint; payload: Buffer };
      const name = `log.${zxidToFileSuffix(f.zxid)}`;
      renameSync(staged, join(writer.stagingDir, name));
      const meta = logMeta(name, { first: f, last: { ...ln, payloadSha256: '' }, txns });
      await writer.addMember(name, 'log', { zxid: formatZxid(f.zxid), meta });
      extra = {
        chain: { base: pExtra.chain.base, parent: parent.id, depth: pExtra.chain.depth + 1 },
        snapshot: null,
        ...(pExtra.fromTime !== undefined ? { fromTime: pExtra.fromTime } : {}),
        logs: [meta],
        lastTxn: { zxid: formatZxid(ln.zxid), time: Number(ln.time), sha256: sha256(ln.payload) },
        gaps: gapFound ? [gapFound] : [],
      };
      from = parseZxid(parent.zxid.from);
      to = ln.zxid;
    } else {
      // The newest snapshot whose seals check out.
      let chosen: { ref: (typeof listing.snapshots)[number]; digestZxid: bigint | null; size: number } | null = null;
      for (const snap of listing.snapshots) {
        try {
          const raw = readFileSync(snap.path);
          const c: NodeCounts = { ...ZERO_COUNTS };
          const info = parseSnapshot(decompress(raw, snap.compression, snap.path), snap.path, (n) => {
            if (n.path === '/zookeeper' || n.path.startsWith('/zookeeper/')) return;
            c.nodes++;
            c[nodeTypeOf(n.buf.readBigInt64BE(n.statOff + 44))]++;
            c.dataBytes += Math.max(0, n.dataLen);
          });
          chosen = { ref: snap, digestZxid: info.digest ? info.digest.zxid : null, size: raw.length };
          counts = c;
          break;
        } catch (err) {
          warn(`${snap.name} is not usable (${(err as Error).message}); trying an older snapshot`);
        }
      }
      if (!chosen) throw new UserError(`no valid snapshot in ${listing.snapDir}`, { hint: 'zkvault export --data-dir shows what is wrong with each' });
      const s = chosen.ref.zxid;
      writer.addMemberFrom(chosen.ref.name, 'snapshot', { path: chosen.ref.path, length: chosen.size }, {
        zxid: formatZxid(s),
        meta: { digestZxid: chosen.digestZxid === null ? null : formatZxid(chosen.digestZxid) },
      });
      // The newest log starting at or before S, and every later one, one file in memory at a time.
      let firstIdx = 0;
      for (let i = 0; i < listing.logs.length; i++) if (listing.logs[i]!.zxid <= s) firstIdx = i;
      const logs: PhysicalExtra['logs'] = [];
      let last: ScannedLog['last'] = null;
      // The time of the txn where the restorable range starts (the snapshot's digest zxid, or its own).
      const startZxid = chosen.digestZxid !== null && chosen.digestZxid >= s ? chosen.digestZxid : s;
      let startTime: number | null = null;
      const findStart = (_bytes: Buffer, records: Iterable<LogRecord>) => {
        for (const rec of records) if (rec.txn.header.zxid === startZxid) startTime = Number(rec.txn.header.time);
      };
      for (const [i, ref] of listing.logs.slice(firstIdx).entries()) {
        await nextTurn(options.signal);
        const nextStart = listing.logs[firstIdx + i + 1]?.zxid;
        const holdsStart = ref.zxid <= startZxid && (nextStart === undefined || startZxid < nextStart);
        const l = scanLog(ref, warn, holdsStart ? findStart : undefined);
        if (l.txns === 0) continue;
        const firstNewZxid = l.first!.zxid;
        const prevZxid = last?.zxid ?? null;
        // Txns missing between two logs after the snapshot: nothing past the hole replays.
        if (prevZxid !== null && l.last!.zxid > prevZxid && firstNewZxid > s + 1n && firstNewZxid > prevZxid && isZxidGap(prevZxid, firstNewZxid)) {
          gapFound = `txns ${missingRange(prevZxid, firstNewZxid)} are missing from ${listing.logDir} (${ref.name} continues at ${formatZxid(firstNewZxid)})`;
          warn(`${gapFound}; the backup covers up to ${formatZxid(prevZxid)} only`);
          break;
        }
        if (prevZxid === null && firstNewZxid > s + 1n && isZxidGap(s, firstNewZxid)) {
          throw new UserError(`the txns right after ${chosen.ref.name} are missing (the logs continue at ${formatZxid(firstNewZxid)}): no restorable state can be copied`, {
            hint: 'the server writes a new snapshot as it runs; back up again after its next snapshot, or restore the missing log files',
          });
        }
        const meta = logMeta(ref.name, l);
        writer.addMemberFrom(ref.name, 'log', { path: ref.path, length: l.end }, { zxid: formatZxid(ref.zxid), meta });
        logs.push(meta);
        last = l.last;
      }
      const d = chosen.digestZxid;
      from = d !== null && d >= s ? d : s;
      const noLogs = listing.logs.length === 0;
      if (noLogs) {
        warn(`${listing.logDir} holds no transaction logs; a server with dataLogDir set keeps them there: give it as --log-dir`);
      }
      // The snapshot alone is the tree at its digest zxid only when no txn of its fuzzy window is missing.
      if (from > s && (last === null || last.zxid < from)) {
        throw new UserError(
          `${chosen.ref.name} holds txns up to ${formatZxid(from)} (its digest's zxid), but ${noLogs ? `${listing.logDir} holds no transaction logs` : `the logs end at ${formatZxid(last ? last.zxid : s)}`}: no restorable state can be copied`,
          { hint: noLogs ? 'give the server\'s dataLogDir as --log-dir' : 'back up again once the server has logged more txns, or give the right --log-dir' },
        );
      }
      to = last && last.zxid > from ? last.zxid : from;
      if (d === null && to > s) {
        // Without a digest nothing says which txns after S the file already holds; every txn the
        // server applied while writing it was logged first, so the last one copied closes the window.
        from = to;
        startTime = last ? Number(last.time) : null;
        warn(
          `${chosen.ref.name} has no digest (a server before ZooKeeper 3.6, or zookeeper.digest.enabled=false): how far its fuzzy window reaches is unknown, ` +
            `so this backup restores exactly only at its last txn ${formatZxid(to)}; incrementals after it restore any later zxid`,
        );
      }
      extra = {
        chain: { base: writer.id, parent: null, depth: 0 },
        snapshot: { zxid: formatZxid(s), digestZxid: d === null ? null : formatZxid(d) },
        fromTime: startTime,
        logs,
        lastTxn: last ? { zxid: formatZxid(last.zxid), time: Number(last.time), sha256: last.payloadSha256 } : null,
        gaps: gapFound ? [gapFound] : [],
      };
    }
    const manifest = await writer.commit({
      kind: 'physical',
      createdAt,
      source: { dataDir: resolve(options.dataDir), logDir: options.logDir ? resolve(options.logDir) : undefined, host: hostname() },
      zxid: { from: formatZxid(from), to: formatZxid(to) },
      partial: false,
      unreadable: [],
      counts,
      extra: extra as unknown as Record<string, unknown>,
    });
    return { ...manifestToResult(manifest, Date.now() - started), gap: gap ?? gapFound };
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
}

function extraOf(m: BackupManifest): PhysicalExtra {
  return m.extra as unknown as PhysicalExtra;
}
