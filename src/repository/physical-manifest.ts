// A physical backup's manifest: what it keeps in `extra` (chain links, the base snapshot, log ranges,
// the last txn, what its files showed of the ensemble's history), read through one validating reader;
// the chain walk; and the repository's knowledge of which txns were committed (its history records
// and every physical manifest), which every reader of physical backups applies.
import {
  commitBoundaries,
  factsFromJson,
  lastReplayable,
  type CommitBoundaries,
  type CommitBoundary,
  type HistoryFacts,
  type HistoryFactsJson,
} from '../core/committed.js';
import { parseZxid, zxidEpoch } from '../core/zxid.js';
import { IntegrityError, NotFoundError } from '../errors.js';
import type { BackupManifest, Repository } from './types.js';

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
  /** What the server's files showed of the ensemble's committed history (epoch ends and cuts). */
  history?: HistoryFactsJson;
}

/** A physical manifest's extra, checked; an IntegrityError when it lacks what chains need. */
export function physicalExtra(m: BackupManifest): PhysicalExtra {
  const extra = m.extra as unknown as PhysicalExtra | undefined;
  if (!extra || typeof extra.chain !== 'object' || extra.chain === null || !Array.isArray(extra.logs)) {
    throw new IntegrityError(
      'malformed',
      `backup ${m.id}`,
      undefined,
      `the manifest of physical backup ${m.id} lacks its chain and log ranges (extra.chain, extra.logs)`,
    );
  }
  return extra;
}

/** The backups a physical backup needs, base (full) first. */
export async function chainOf(repo: Repository, m: BackupManifest): Promise<BackupManifest[]> {
  const chain = [m];
  for (let cur = m; physicalExtra(cur).chain.parent;) {
    const parentId = physicalExtra(cur).chain.parent!;
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

/** The repository's knowledge of which txns its ensemble committed. */
export interface CommitView {
  facts: HistoryFacts[];
  /** zxids known committed besides the facts: every physical backup's base snapshot. */
  evidence: bigint[];
  boundaries: CommitBoundaries;
  /** The newest epoch any backup or record of the repository reaches. */
  newestEpoch: bigint;
}

/**
 * Reads the repository's history records and physical manifests into one view. A record that cannot
 * be read fails the view (IntegrityError): ignoring it could replay txns it marks as dropped.
 */
export async function loadCommitView(repo: Repository, manifests?: BackupManifest[]): Promise<CommitView> {
  const all = manifests ?? (await repo.list());
  const { records, unreadable } = await repo.historyRecords();
  if (unreadable.length > 0) {
    const u = unreadable[0];
    throw new IntegrityError(
      'malformed',
      u.key,
      undefined,
      `${u.problem}; it may mark txns the ensemble dropped, so no physical backup is read without it`,
      {
        hint: 'zkvault verify --all names every unreadable record; restore it from a copy of the repository, or remove it if it is not a zkvault file',
      },
    );
  }
  const facts: HistoryFacts[] = records.map((r) => factsFromJson(r.facts)!);
  const evidence: bigint[] = [];
  let newestEpoch = 0n;
  for (const m of all) {
    newestEpoch = maxBig(newestEpoch, zxidEpoch(parseZxid(m.zxid.to)));
    if (m.kind !== 'physical') continue;
    const x = m.extra as Partial<PhysicalExtra> | undefined;
    const f = x?.history ? factsFromJson(x.history) : null;
    if (f) facts.push(f);
    if (x?.snapshot?.zxid) evidence.push(parseZxid(x.snapshot.zxid));
  }
  for (const f of facts) for (const c of f.cuts) newestEpoch = maxBig(newestEpoch, zxidEpoch(c.resumedAt));
  return { facts, evidence, boundaries: commitBoundaries(facts, evidence), newestEpoch };
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** A backup's restorable range under the view: its recorded range with txns past a boundary cut off. */
export interface EffectiveRange {
  from: bigint;
  to: bigint;
  /** Set when the recorded end lies past a boundary: what it holds beyond, and why. */
  beyond: { from: bigint; to: bigint; boundary: CommitBoundary } | null;
  /** True when nothing of its range is restorable. */
  empty: boolean;
}

export function effectiveRange(m: BackupManifest, view: Pick<CommitView, 'boundaries'>): EffectiveRange {
  const from = parseZxid(m.zxid.from);
  const recorded = parseZxid(m.zxid.to);
  if (m.kind !== 'physical') return { from, to: recorded, beyond: null, empty: false };
  const last = (m.extra as Partial<PhysicalExtra> | undefined)?.lastTxn?.zxid;
  const stored = last ? maxBig(parseZxid(last), recorded) : recorded;
  const to = lastReplayable(stored, view.boundaries);
  if (to === stored) return { from, to, beyond: null, empty: false };
  const boundary = view.boundaries.get(zxidEpoch(stored))!;
  return { from, to: maxBig(to, from), beyond: { from: boundary.after + 1n, to: stored, boundary }, empty: to < from };
}
