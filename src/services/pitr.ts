// Point in time: resolve a physical backup's chain (full backup + incrementals), pick the backup that
// covers a zxid or a time, and replay its files to exactly that point.
import { readFileSync } from 'node:fs';
import { IntegrityError, NotFoundError, UsageError, throwIfAborted } from '../errors.js';
import { decompress, compressionOfName } from '../formats/compression.js';
import { replayToZxid, type LogSource, type SnapshotSource } from '../core/replay.js';
import type { DataTree } from '../core/tree.js';
import { formatZxid, parseZxid } from '../core/zxid.js';
import type { BackupManifest, BackupReader, Repository } from '../repository/types.js';
import type { PhysicalExtra } from './physical-backup.js';

export interface PointInTime {
  zxid?: bigint;
  /** Milliseconds since the epoch: the last txn at or before it. */
  time?: number;
}

function extraOf(m: BackupManifest): PhysicalExtra {
  const extra = m.extra as unknown as PhysicalExtra | undefined;
  if (!extra || typeof extra.chain !== 'object' || extra.chain === null || !Array.isArray(extra.logs)) {
    throw new IntegrityError('malformed', `backup ${m.id}`, undefined, `the manifest of physical backup ${m.id} lacks its chain and log ranges (extra.chain, extra.logs)`);
  }
  return extra;
}

/** The backups a physical backup needs, base (full) first. */
export async function chainOf(repo: Repository, m: BackupManifest): Promise<BackupManifest[]> {
  const chain = [m];
  for (let cur = m; extraOf(cur).chain.parent; ) {
    const parentId = extraOf(cur).chain.parent!;
    let parent: BackupManifest;
    try {
      parent = await repo.resolve(parentId);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new NotFoundError(`backup ${m.id} continues ${parentId}, which is missing from the repository: its chain is broken`, {
          hint: 'restore from a backup whose chain is complete (zkvault verify --all --deep shows which)',
        });
      }
      throw err;
    }
    chain.unshift(parent);
    cur = parent;
  }
  return chain;
}

/**
 * Why a physical backup cannot be restored for want of what it builds on (a backup of its chain, or
 * one's archive, missing), checked without reading any archive; null when the chain is whole.
 */
export async function brokenChain(repo: Repository, m: BackupManifest): Promise<string | null> {
  let chain: BackupManifest[];
  try {
    chain = await chainOf(repo, m);
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof IntegrityError) return err.message;
    throw err;
  }
  for (const b of chain) {
    if (b.id === m.id) continue;
    const problem = await repo.archiveProblem(b);
    if (problem) return `backup ${m.id} builds on ${b.id}, and ${problem}: its chain is broken`;
  }
  return null;
}

function describeRanges(ms: BackupManifest[]): string {
  return ms.map((m) => `${m.id}: ${m.zxid.from}..${m.zxid.to}`).join('; ');
}

/** The physical backup whose range covers the point, preferring the shortest replay. */
export async function chooseBackup(repo: Repository, point: PointInTime): Promise<BackupManifest> {
  const physical = (await repo.list()).filter((m) => m.kind === 'physical');
  if (physical.length === 0) throw new NotFoundError('the repository has no physical backups', { hint: 'zkvault backup --data-dir … takes one' });
  const byId = new Map(physical.map((m) => [m.id, m]));
  // Time: from the txn where the chain's restorable range starts to this backup's last one
  // (manifests older than fromTime: the chain's first logged txn; replay then refuses a base snapshot
  // that holds txns after the time).
  const timeRange = (m: BackupManifest): [number, number] | null => {
    const x = extraOf(m);
    const base = byId.get(x.chain.base) ?? m;
    const first = x.fromTime ?? extraOf(base).logs[0]?.firstTime;
    const last = x.lastTxn?.time;
    return first !== undefined && last !== undefined ? [first, last] : null;
  };
  const covering = physical.filter((m) => {
    if (point.zxid !== undefined) return parseZxid(m.zxid.from) <= point.zxid && point.zxid <= parseZxid(m.zxid.to);
    const r = timeRange(m);
    return point.time !== undefined && r !== null && r[0] <= point.time && point.time <= r[1];
  });
  if (covering.length === 0) {
    const what = point.zxid !== undefined ? `zxid ${formatZxid(point.zxid)}` : `time ${new Date(point.time!).toISOString()}`;
    const ranges =
      point.zxid !== undefined
        ? describeRanges(physical)
        : physical
            .map((m) => {
              const r = timeRange(m);
              return `${m.id}: ${r ? `${new Date(r[0]).toISOString()}..${new Date(r[1]).toISOString()}` : 'no txn times'}`;
            })
            .join('; ');
    throw new UsageError(`no physical backup covers ${what}; the repository can restore: ${ranges}`, {
      hint: 'choose a point inside one of these ranges',
    });
  }
  // The highest start is the nearest base snapshot; among equals, the one that ends soonest after.
  covering.sort((a, b) => {
    const fa = parseZxid(a.zxid.from);
    const fb = parseZxid(b.zxid.from);
    if (fa !== fb) return fa > fb ? -1 : 1;
    const ta = parseZxid(a.zxid.to);
    const tb = parseZxid(b.zxid.to);
    return ta < tb ? -1 : ta > tb ? 1 : 0;
  });
  return covering[0]!;
}

export interface PhysicalTree {
  tree: DataTree;
  zxid: bigint;
  chain: BackupManifest[];
  lastTxnTime: bigint | null;
  digestsChecked: number;
}

/** Replays a physical backup's chain to the point (default: its last txn). */
export async function physicalTree(
  repo: Repository,
  m: BackupManifest,
  point: PointInTime,
  options: { verifyDigests?: boolean; warn?: (msg: string) => void; signal?: AbortSignal } = {},
): Promise<PhysicalTree> {
  const chain = await chainOf(repo, m);
  const from = parseZxid(m.zxid.from);
  const to = parseZxid(m.zxid.to);
  if (point.zxid !== undefined && (point.zxid < from || point.zxid > to)) {
    throw new UsageError(`backup ${m.id} can restore ${m.zxid.from}..${m.zxid.to}, not ${formatZxid(point.zxid)}`, {
      hint: 'restore --to-zxid picks the backup that covers a zxid by itself',
    });
  }
  const readers: BackupReader[] = [];
  try {
    const snapshots: SnapshotSource[] = [];
    const logs: LogSource[] = [];
    for (const b of chain) {
      throwIfAborted(options.signal);
      const reader = await repo.open(b.id);
      readers.push(reader);
      for (const member of b.members) {
        const path = await reader.extractMember(member.name);
        const zxid = parseZxid(member.zxid ?? '0x0');
        const label = `backup ${b.id}: ${member.name}`;
        if (member.role === 'snapshot') {
          // Backups that record fromTime start their range where a snapshot without a digest is known
          // closed (the last txn they copied); for older ones replay serves only what it can prove.
          const closedBy = extraOf(b).fromTime !== undefined ? parseZxid(b.zxid.from) : undefined;
          snapshots.push({ name: label, zxid, read: () => decompress(readFileSync(path), compressionOfName(member.name), label), ...(closedBy !== undefined ? { closedBy } : {}) });
        }
        else if (member.role === 'log') logs.push({ name: label, zxid, read: () => readFileSync(path) });
      }
    }
    const r = replayToZxid(snapshots, logs, {
      targetZxid: point.zxid ?? to,
      stopBefore: point.time !== undefined ? (txn) => Number(txn.header.time) > point.time! : undefined,
      verifyDigests: options.verifyDigests ?? true,
      warn: options.warn,
    });
    if (r.zxid < from) {
      const when = point.time !== undefined ? `time ${new Date(point.time).toISOString()}` : `zxid ${formatZxid(point.zxid!)}`;
      throw new UsageError(`${when} is before the earliest point backup ${m.id} can restore exactly (${m.zxid.from}); it covers ${m.zxid.from}..${m.zxid.to}`, {
        hint: 'an older backup may cover it: zkvault list shows every range',
      });
    }
    return { tree: r.tree, zxid: r.zxid, chain, lastTxnTime: r.lastTxnTime, digestsChecked: r.digestsChecked };
  } finally {
    for (const reader of readers) await reader.close().catch(() => {});
  }
}

/** Parses `--to-time`: ISO 8601 with a zone (Z or ±hh:mm). */
export function parseTime(text: string): number {
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text.trim())) {
    throw new UsageError(`--to-time "${text}" has no time zone`, { hint: 'give ISO 8601 with a zone, e.g. 2026-11-24T10:02:00Z or 2026-11-24T11:02:00+01:00' });
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`--to-time "${text}" is not an ISO 8601 time`, { hint: 'e.g. 2026-11-24T10:02:00Z' });
  return t;
}
