// Physical backup: copy a server's newest valid snapshot, the log before it and every later log, each
// verified while read and cut at its last complete record (never the zero preallocation or a torn
// tail). --incremental stores only the txns after the newest backup whose last txn these logs still
// hold, byte for byte; when they no longer reach it (autopurge ran first), the gap is reported and a
// new full backup starts the chain again.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError, throwIfAborted } from '../errors.js';
import { decompress } from '../formats/compression.js';
import { listDataDir, type LogFileRef } from '../formats/data-dir.js';
import { parseSnapshot } from '../formats/snapshot.js';
import { frameLogRecord, iterateTxnLog, txnLogHeaderBytes, type LogRecord } from '../formats/txn-log.js';
import { formatZxid, parseZxid, zxidCounter, zxidEpoch, zxidToFileSuffix } from '../core/zxid.js';
import { openRepository } from '../repository/repository.js';
import type { BackupManifest, NodeCounts } from '../repository/types.js';
import { manifestToResult, type BackupResult } from './backup.js';
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
  /** The last txn stored, with a hash of its payload: an incremental must find exactly it. */
  lastTxn: { zxid: string; time: number; sha256: string } | null;
  /** Holes found in the server's logs when this backup was taken (it covers up to the first one). */
  gaps?: string[];
}

interface ScannedLog {
  ref: LogFileRef;
  records: Array<{ zxid: bigint; time: bigint; offset: number; end: number; payload: Buffer }>;
  /** Bytes up to the end of the last complete record. */
  end: number;
  buf: Buffer;
}

/** Within one epoch zxids are consecutive; a jump means txns are missing. */
function isGap(prev: bigint, next: bigint): boolean {
  return zxidEpoch(prev) === zxidEpoch(next) && zxidCounter(next) > zxidCounter(prev) + 1n;
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function scanLog(ref: LogFileRef, warn: (m: string) => void): ScannedLog {
  const buf = readFileSync(ref.path);
  const records: ScannedLog['records'] = [];
  const it = iterateTxnLog(buf, ref.path);
  let end = 16;
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) {
      if (r.value.kind === 'torn') warn(`${ref.name}: ${r.value.detail} at byte ${r.value.offset}; copied up to the last complete record`);
      break;
    }
    const rec: LogRecord = r.value;
    records.push({ zxid: rec.txn.header.zxid, time: rec.txn.header.time, offset: rec.offset, end: rec.end, payload: rec.payload });
    end = rec.end;
  }
  return { ref, records, end, buf };
}

function logMeta(name: string, recs: ScannedLog['records']) {
  return {
    name,
    firstZxid: formatZxid(recs[0]!.zxid),
    lastZxid: formatZxid(recs[recs.length - 1]!.zxid),
    firstTime: Number(recs[0]!.time),
    lastTime: Number(recs[recs.length - 1]!.time),
    txns: recs.length,
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
  const repo = await openRepository(options.repo, { create: true, signal: options.signal });

  let parent: BackupManifest | null = null;
  let gap: string | undefined;
  const scanned = listing.logs.map((l) => scanLog(l, warn)).filter((l) => l.records.length > 0);
  if (options.incremental) {
    const physical = (await repo.list()).filter((m) => m.kind === 'physical').reverse();
    for (const m of physical) {
      const last = (m.extra as unknown as PhysicalExtra | undefined)?.lastTxn;
      if (!last) continue;
      const z = parseZxid(last.zxid);
      const all = scanned.flatMap((l) => l.records);
      const at = all.findIndex((r) => r.zxid === z);
      if (at >= 0 && sha256(all[at]!.payload) === last.sha256) {
        const next = all.find((r) => r.zxid > z);
        if (next && isGap(z, next.zxid)) continue; // the logs skip txns right after it: no continuation
        parent = m;
        break;
      }
    }
    if (!parent) {
      const newest = physical[0];
      gap = newest
        ? `the logs no longer hold txn ${(newest.extra as unknown as PhysicalExtra).lastTxn?.zxid ?? '?'} (the end of ${newest.id}): txns after it were purged before they were copied`
        : 'the repository has no physical backup to continue';
      warn(`${gap}; taking a full backup, which starts a new chain`);
    }
  }

  const writer = await repo.beginBackup('physical', options.signal);
  try {
    const createdAt = new Date(started).toISOString();
    let extra: PhysicalExtra;
    let counts: NodeCounts = parent ? parent.counts : ZERO_COUNTS;
    let gapFound: string | undefined;
    let from: bigint;
    let to: bigint;
    if (parent) {
      const pExtra = parent.extra as unknown as PhysicalExtra;
      const after = parseZxid(pExtra.lastTxn!.zxid);
      const recs = scanned.flatMap((l) => l.records.map((r) => ({ ...r }))).filter((r) => r.zxid > after);
      recs.sort((a, b) => (a.zxid < b.zxid ? -1 : 1));
      if (recs.length === 0) {
        await writer.abort();
        const res = manifestToResult(parent, Date.now() - started);
        return { ...res, unchanged: true };
      }
      const name = `log.${zxidToFileSuffix(recs[0]!.zxid)}`;
      writeFileSync(join(writer.stagingDir, name), Buffer.concat([txnLogHeaderBytes(), ...recs.map((r) => frameLogRecord(r.payload))]));
      throwIfAborted(options.signal);
      await writer.addMember(name, 'log', { zxid: formatZxid(recs[0]!.zxid), meta: logMeta(name, recs) });
      const last = recs[recs.length - 1]!;
      extra = {
        chain: { base: pExtra.chain.base, parent: parent.id, depth: pExtra.chain.depth + 1 },
        snapshot: null,
        logs: [logMeta(name, recs)],
        lastTxn: { zxid: formatZxid(last.zxid), time: Number(last.time), sha256: sha256(last.payload) },
      };
      from = parseZxid(parent.zxid.from);
      to = last.zxid;
    } else {
      // The newest snapshot whose seals check out.
      let chosen: { ref: (typeof listing.snapshots)[number]; digestZxid: bigint | null } | null = null;
      for (const snap of listing.snapshots) {
        try {
          const c: NodeCounts = { ...ZERO_COUNTS };
          const info = parseSnapshot(decompress(readFileSync(snap.path), snap.compression, snap.path), snap.path, (n) => {
            if (n.path === '/zookeeper' || n.path.startsWith('/zookeeper/')) return;
            c.nodes++;
            c[nodeTypeOf(n.buf.readBigInt64BE(n.statOff + 44))]++;
            c.dataBytes += Math.max(0, n.dataLen);
          });
          chosen = { ref: snap, digestZxid: info.digest ? info.digest.zxid : null };
          counts = c;
          break;
        } catch (err) {
          warn(`${snap.name} is not usable (${(err as Error).message}); trying an older snapshot`);
        }
      }
      if (!chosen) throw new UserError(`no valid snapshot in ${listing.snapDir}`, { hint: 'zkvault export --data-dir shows what is wrong with each' });
      const s = chosen.ref.zxid;
      writeFileSync(join(writer.stagingDir, chosen.ref.name), readFileSync(chosen.ref.path));
      await writer.addMember(chosen.ref.name, 'snapshot', { zxid: formatZxid(s), meta: { digestZxid: chosen.digestZxid === null ? null : formatZxid(chosen.digestZxid) } });
      // The newest log starting at or before S, and every later one.
      let first = 0;
      for (let i = 0; i < scanned.length; i++) if (scanned[i]!.ref.zxid <= s) first = i;
      const logs: PhysicalExtra['logs'] = [];
      let lastRec: ScannedLog['records'][number] | null = null;
      for (const l of scanned.slice(first)) {
        throwIfAborted(options.signal);
        // Txns missing between two logs (purged, lost) after the snapshot: nothing past the hole replays.
        const firstNew = lastRec ? l.records.find((r) => r.zxid > lastRec!.zxid) : undefined;
        if (lastRec && firstNew && firstNew.zxid > s + 1n && isGap(lastRec.zxid, firstNew.zxid)) {
          gapFound = `txns ${formatZxid(lastRec.zxid + 1n)}..${formatZxid(firstNew.zxid - 1n)} are missing from ${listing.logDir} (${l.ref.name} continues at ${formatZxid(firstNew.zxid)})`;
          warn(`${gapFound}; the backup covers up to ${formatZxid(lastRec.zxid)} only`);
          break;
        }
        writeFileSync(join(writer.stagingDir, l.ref.name), l.buf.subarray(0, l.end));
        const meta = logMeta(l.ref.name, l.records);
        await writer.addMember(l.ref.name, 'log', { zxid: formatZxid(l.ref.zxid), meta });
        logs.push(meta);
        lastRec = l.records[l.records.length - 1]!;
      }
      const firstAfter = logs.length > 0 ? scanned.slice(first).flatMap((l) => l.records).find((r) => r.zxid > s) : undefined;
      if (firstAfter && isGap(s, firstAfter.zxid)) {
        throw new UserError(
          `the txns right after ${chosen.ref.name} are missing (the logs continue at ${formatZxid(firstAfter.zxid)}): no restorable state can be copied`,
          { hint: 'the server writes a new snapshot as it runs; back up again after its next snapshot, or restore the missing log files' },
        );
      }
      const d = chosen.digestZxid;
      from = d !== null && d >= s ? d : s;
      to = lastRec ? (lastRec.zxid > from ? lastRec.zxid : from) : from;
      extra = {
        chain: { base: writer.id, parent: null, depth: 0 },
        snapshot: { zxid: formatZxid(s), digestZxid: d === null ? null : formatZxid(d) },
        logs,
        lastTxn: lastRec ? { zxid: formatZxid(lastRec.zxid), time: Number(lastRec.time), sha256: sha256(lastRec.payload) } : null,
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
