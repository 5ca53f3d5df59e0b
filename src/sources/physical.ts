// Point in time: resolve a physical backup's chain (full backup + incrementals), pick the backup that
// covers a zxid or a time, and replay its files to exactly that point.
import { readFileSync } from 'node:fs';
import { NotFoundError, UsageError, throwIfAborted } from '../errors.js';
import { decompress, compressionOfName } from '../formats/compression.js';
import { describeBoundary, isReplayable, pastBoundary } from '../core/committed.js';
import { replayToZxid, type LogSource, type SnapshotSource } from '../core/replay.js';
import type { DataTree } from '../core/tree.js';
import { formatZxid, parseZxid } from '../core/zxid.js';
import type { BackupManifest, BackupReader, Repository } from '../repository/types.js';
import {
  chainOf,
  effectiveRange,
  loadCommitView,
  physicalExtra as extraOf,
  type CommitView,
  type EffectiveRange,
} from '../repository/physical-manifest.js';

export interface PointInTime {
  zxid?: bigint;
  /** Milliseconds since the epoch: the last txn at or before it. */
  time?: number;
}

function hex(r: { from: bigint; to: bigint }): string {
  return `${formatZxid(r.from)}..${formatZxid(r.to)}`;
}

/** A zxid past its epoch's boundary is never restored: a usage error naming the cut (exit 2). */
function refusePastBoundary(zxid: bigint, view: Pick<CommitView, 'boundaries'>): void {
  const p = pastBoundary(zxid, view.boundaries);
  if (p) throw new UsageError(p.message, { hint: p.hint });
}

/** The physical backup whose range covers the point, preferring the shortest replay. */
export async function chooseBackup(repo: Repository, point: PointInTime, view?: CommitView): Promise<BackupManifest> {
  const all = await repo.list();
  const physical = all.filter((m) => m.kind === 'physical');
  if (physical.length === 0)
    throw new NotFoundError('the repository has no physical backups', { hint: 'zkvault backup --data-dir … takes one' });
  const v = view ?? (await loadCommitView(repo, all));
  if (point.zxid !== undefined) refusePastBoundary(point.zxid, v);
  const byId = new Map(physical.map((m) => [m.id, m]));
  const ranges = new Map<string, EffectiveRange>(physical.map((m) => [m.id, effectiveRange(m, v)]));
  // Time: from the txn where the chain's restorable range starts to this backup's last one
  // (manifests older than fromTime: the chain's first logged txn; replay then refuses a base snapshot
  // that holds txns after the time, and any txn past a boundary before the time).
  const timeRange = (m: BackupManifest): [number, number] | null => {
    const x = extraOf(m);
    const base = byId.get(x.chain.base) ?? m;
    const first = x.fromTime ?? extraOf(base).logs[0]?.firstTime;
    const last = x.lastTxn?.time;
    return first !== undefined && last !== undefined ? [first, last] : null;
  };
  const covering = physical.filter((m) => {
    const r = ranges.get(m.id)!;
    if (r.empty) return false;
    if (point.zxid !== undefined) return r.from <= point.zxid && point.zxid <= r.to;
    const t = timeRange(m);
    return point.time !== undefined && t !== null && t[0] <= point.time && point.time <= t[1];
  });
  if (covering.length === 0) {
    const what = point.zxid !== undefined ? `zxid ${formatZxid(point.zxid)}` : `time ${new Date(point.time!).toISOString()}`;
    const listed =
      point.zxid !== undefined
        ? physical
            .map((m) => `${m.id}: ${ranges.get(m.id)!.empty ? 'nothing (every txn it holds is past a cut)' : hex(ranges.get(m.id)!)}`)
            .join('; ')
        : physical
            .map((m) => {
              const r = timeRange(m);
              return `${m.id}: ${r ? `${new Date(r[0]).toISOString()}..${new Date(r[1]).toISOString()}` : 'no txn times'}`;
            })
            .join('; ');
    throw new UsageError(`no physical backup covers ${what}; the repository can restore: ${listed}`, {
      hint: 'choose a point inside one of these ranges',
    });
  }
  // The highest start is the nearest base snapshot; among equals, the one that ends soonest after.
  covering.sort((a, b) => {
    const ra = ranges.get(a.id)!;
    const rb = ranges.get(b.id)!;
    if (ra.from !== rb.from) return ra.from > rb.from ? -1 : 1;
    return ra.to < rb.to ? -1 : ra.to > rb.to ? 1 : 0;
  });
  return covering[0];
}

export interface PhysicalTree {
  tree: DataTree;
  zxid: bigint;
  chain: BackupManifest[];
  lastTxnTime: bigint | null;
  digestsChecked: number;
  /**
   * Set when no point was asked for and the backup's recorded end lies past a boundary: the tree is
   * at the boundary instead, and this says why.
   */
  cutShort: string | null;
}

/** Replays a physical backup's chain to the point (default: its last restorable txn). */
export async function physicalTree(
  repo: Repository,
  m: BackupManifest,
  point: PointInTime,
  options: { verifyDigests?: boolean; warn?: (msg: string) => void; signal?: AbortSignal; view?: CommitView } = {},
): Promise<PhysicalTree> {
  const view = options.view ?? (await loadCommitView(repo));
  const chain = await chainOf(repo, m);
  const range = effectiveRange(m, view);
  const from = range.from;
  if (point.zxid !== undefined) refusePastBoundary(point.zxid, view);
  if (range.empty) {
    throw new UsageError(
      `backup ${m.id} restores nothing: ${describeBoundary(range.beyond!.boundary)}, and its range starts at ${m.zxid.from}`,
      {
        hint: 'restore --to-zxid or --to-time picks a backup that covers the point',
      },
    );
  }
  if (point.zxid !== undefined && (point.zxid < from || point.zxid > range.to)) {
    throw new UsageError(`backup ${m.id} can restore ${hex(range)}, not ${formatZxid(point.zxid)}`, {
      hint: 'restore --to-zxid picks the backup that covers a zxid by itself',
    });
  }
  const cutShort =
    point.zxid === undefined && point.time === undefined && range.beyond
      ? `backup ${m.id} holds txns up to ${formatZxid(range.beyond.to)}, but ${describeBoundary(range.beyond.boundary)}; it restores ${formatZxid(range.to)} instead`
      : null;
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
          snapshots.push({
            name: label,
            zxid,
            read: () => decompress(readFileSync(path), compressionOfName(member.name), label),
            ...(closedBy !== undefined ? { closedBy } : {}),
          });
        } else if (member.role === 'log') logs.push({ name: label, zxid, read: () => readFileSync(path) });
      }
    }
    const r = replayToZxid(snapshots, logs, {
      // For a time, replay may run on to the recorded end: a txn past a boundary before the time refuses.
      targetZxid: point.zxid ?? (point.time !== undefined && range.beyond ? range.beyond.to : range.to),
      stopBefore: point.time !== undefined ? (txn) => Number(txn.header.time) > point.time! : undefined,
      refuse: (txn) => (isReplayable(txn.header.zxid, view.boundaries) ? null : refusal(txn.header.zxid, point, view)),
      verifyDigests: options.verifyDigests ?? true,
      warn: options.warn,
    });
    if (r.zxid < from) {
      const when = point.time !== undefined ? `time ${new Date(point.time).toISOString()}` : `zxid ${formatZxid(point.zxid!)}`;
      throw new UsageError(
        `${when} is before the earliest point backup ${m.id} can restore exactly (${m.zxid.from}); it covers ${hex(range)}`,
        {
          hint: 'an older backup may cover it: zkvault list shows every range',
        },
      );
    }
    return { tree: r.tree, zxid: r.zxid, chain, lastTxnTime: r.lastTxnTime, digestsChecked: r.digestsChecked, cutShort };
  } finally {
    for (const reader of readers) await reader.close().catch(() => {});
  }
}

function refusal(zxid: bigint, point: PointInTime, view: CommitView): string {
  const what = point.time !== undefined ? `time ${new Date(point.time).toISOString()}` : 'the point asked for';
  const p = pastBoundary(zxid, view.boundaries, `${what}, which would replay txn ${formatZxid(zxid)},`)!;
  return `${p.message}; ${p.hint}`;
}

/** Parses `--to-time`: ISO 8601 with a zone (Z or ±hh:mm). */
export function parseTime(text: string): number {
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text.trim())) {
    throw new UsageError(`--to-time "${text}" has no time zone`, {
      hint: 'give ISO 8601 with a zone, e.g. 2026-11-24T10:02:00Z or 2026-11-24T11:02:00+01:00',
    });
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`--to-time "${text}" is not an ISO 8601 time`, { hint: 'e.g. 2026-11-24T10:02:00Z' });
  return t;
}
