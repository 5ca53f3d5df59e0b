// Which logged txns the ensemble committed. A ZooKeeper server logs a proposal before a quorum has
// acknowledged it, so the last txns of an epoch in one server's log may be ones the ensemble dropped:
// a leader that died right after logging them, whose successors went on in a new epoch without them.
// On rejoin the server truncates its log (TRUNC) or loads the new leader's snapshot (SNAP), and after a
// SNAP the dropped txns stay in its old log file. Its files alone cannot say which of an old epoch's
// last txns were committed, so a txn counts as committed only with evidence:
//   - a snapshot at or past it in its epoch (a server snapshots applied, so committed, state), or a
//     node's czxid/mzxid/pzxid in any snapshot (only a committed txn leaves its zxid in the tree);
//   - the history going on from it into a later epoch with no cut: a server's log that runs from
//     E:M straight to E':1 shows that epoch E of the ensemble's history ended exactly at E:M;
// A cut is a later epoch that the log does not reach from its last txn (a leader's snapshot loaded in
// a new epoch, or the new epoch's first txns missing). After a cut, an epoch's txns past the last one
// with evidence are unconfirmed, and after an exact end they are dropped: neither is ever replayed.
//
// HistoryObserver takes one server's history in order, as a backup reads its files or a log follower
// sees records arrive; commitBoundaries merges what any number of observations found.
import { formatZxid, makeZxid, zxidCounter, zxidEpoch } from './zxid.js';

/** The ensemble's history left epoch `epoch` right after `last` (seen: a log running on into a new epoch). */
export interface EpochEnd {
  epoch: bigint;
  last: bigint;
}

/** A server's history was cut after it logged `lastLogged`: it resumed at `resumedAt`, in a later epoch. */
export interface EpochCut {
  epoch: bigint;
  lastLogged: bigint;
  /** The last txn of the epoch with evidence that it was committed; null when none has any. */
  confirmed: bigint | null;
  /** The snapshot (or txn, after missing ones) the history resumed at. */
  resumedAt: bigint;
}

export interface HistoryFacts {
  ends: EpochEnd[];
  cuts: EpochCut[];
}

/** Evidence a snapshot carries besides its name: its digest's zxid, the largest stat zxid per epoch. */
export interface SnapshotEvidence {
  digestZxid?: bigint | null;
  /** Per epoch, the largest czxid, mzxid or pzxid of any node (each a committed txn). */
  statMax?: ReadonlyMap<bigint, bigint>;
}

/**
 * Follows one server's history: its snapshots and logged txns, fed in zxid order (a txn before a
 * snapshot of the same zxid). Duplicates and txns inside a snapshot's fuzzy window are fine.
 */
export class HistoryObserver {
  private point: bigint | null = null;
  /** The last logged txn of each epoch this history logged in. */
  private readonly logged = new Map<bigint, bigint>();
  private readonly confirmedIn = new Map<bigint, bigint>();
  private readonly ends: EpochEnd[] = [];
  private readonly cuts: Array<Omit<EpochCut, 'confirmed'>> = [];

  /** A snapshot file named `zxid` (its name alone is evidence: the server had applied that txn). */
  snapshot(zxid: bigint, evidence: SnapshotEvidence = {}): void {
    this.confirm(zxid);
    const d = evidence.digestZxid;
    if (d !== undefined && d !== null && zxidEpoch(d) === zxidEpoch(zxid) && d > zxid) this.confirm(d);
    for (const z of evidence.statMax?.values() ?? []) this.confirm(z);
    if (this.point !== null && zxidEpoch(zxid) > zxidEpoch(this.point)) this.cut(zxid);
    if (this.point === null || zxid > this.point) this.point = zxid;
  }

  /** One logged txn. */
  txn(zxid: bigint): void {
    const e = zxidEpoch(zxid);
    if (this.point !== null && zxid > this.point && e > zxidEpoch(this.point)) {
      if (zxidCounter(zxid) === 1n && this.logged.has(zxidEpoch(this.point)))
        this.ends.push({ epoch: zxidEpoch(this.point), last: this.point });
      else this.cut(zxid);
    }
    if (this.point === null || zxid > this.point) this.point = zxid;
    if ((this.logged.get(e) ?? -1n) < zxid) this.logged.set(e, zxid);
  }

  /** The txns `first`..`last` of one epoch, all logged (a log file's run with no epoch change inside). */
  txnRun(first: bigint, last: bigint): void {
    this.txn(first);
    if (last !== first) this.txn(last);
  }

  /** Everything seen so far. A cut's confirmed zxid takes the evidence seen after it too. */
  facts(): HistoryFacts {
    return {
      ends: this.ends.map((x) => ({ ...x })),
      cuts: this.cuts.map((c) => ({ ...c, confirmed: this.confirmedIn.get(c.epoch) ?? null })),
    };
  }

  private confirm(zxid: bigint): void {
    const e = zxidEpoch(zxid);
    if ((this.confirmedIn.get(e) ?? -1n) < zxid) this.confirmedIn.set(e, zxid);
  }

  /** The history resumes at `at` in a later epoch without reaching it from the last point. */
  private cut(at: bigint): void {
    const e = zxidEpoch(this.point!);
    const lastLogged = this.logged.get(e);
    if (lastLogged === undefined) return; // nothing of that epoch was logged here: nothing to doubt
    if (!this.cuts.some((c) => c.epoch === e)) this.cuts.push({ epoch: e, lastLogged, resumedAt: at });
  }
}

export type HistoryEvent =
  | { kind: 'txn'; zxid: bigint }
  /** A run of logged txns of one epoch, consecutive (a log file's stretch with no epoch change). */
  | { kind: 'txns'; first: bigint; last: bigint }
  | { kind: 'snapshot'; zxid: bigint; evidence?: SnapshotEvidence };

/** Feeds events gathered out of order (files read one at a time) to a new observer, in history order. */
export function observeHistory(events: Iterable<HistoryEvent>): HistoryObserver {
  const at = (e: HistoryEvent) => (e.kind === 'txns' ? e.first : e.zxid);
  const sorted = [...events].sort((a, b) =>
    at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : (a.kind === 'snapshot' ? 1 : 0) - (b.kind === 'snapshot' ? 1 : 0),
  );
  const o = new HistoryObserver();
  for (const e of sorted) {
    if (e.kind === 'txn') o.txn(e.zxid);
    else if (e.kind === 'txns') o.txnRun(e.first, e.last);
    else o.snapshot(e.zxid, e.evidence);
  }
  return o;
}

/** What is known of one epoch: txns past `after` are not to be replayed. */
export interface CommitBoundary {
  epoch: bigint;
  /** The last txn of the epoch that may be replayed. */
  after: bigint;
  /** True: the ensemble went on without the later txns (dropped); false: they lack evidence (unconfirmed). */
  exact: boolean;
  /** The latest txn of the epoch any server is known to have logged, when past `after`. */
  lastLogged: bigint | null;
  /** Where the history went on (a later epoch's snapshot or txn), when known. */
  resumedAt: bigint | null;
}

export type CommitBoundaries = ReadonlyMap<bigint, CommitBoundary>;

/**
 * Merges observations (of any servers of one ensemble) into one boundary per epoch. An exact end wins
 * (the smallest, should two disagree); otherwise the largest confirmed zxid of any cut or of any
 * extra evidence (`confirmed`: zxids known committed, such as backed-up snapshots' names).
 */
export function commitBoundaries(observations: HistoryFacts[], confirmed: Iterable<bigint> = []): Map<bigint, CommitBoundary> {
  const out = new Map<bigint, CommitBoundary>();
  const lastLogged = new Map<bigint, bigint>();
  const resumedAt = new Map<bigint, bigint>();
  const note = (m: Map<bigint, bigint>, e: bigint, z: bigint, pick: (a: bigint, b: bigint) => boolean) => {
    const cur = m.get(e);
    if (cur === undefined || pick(z, cur)) m.set(e, z);
  };
  for (const o of observations) {
    for (const c of o.cuts) {
      note(lastLogged, c.epoch, c.lastLogged, (a, b) => a > b);
      note(resumedAt, c.epoch, c.resumedAt, (a, b) => a < b);
    }
  }
  const ends = new Map<bigint, bigint>();
  for (const o of observations) for (const x of o.ends) note(ends, x.epoch, x.last, (a, b) => a < b);
  const known = new Map<bigint, bigint>();
  for (const z of confirmed) note(known, zxidEpoch(z), z, (a, b) => a > b);
  for (const o of observations) for (const c of o.cuts) if (c.confirmed !== null) note(known, c.epoch, c.confirmed, (a, b) => a > b);
  for (const [epoch, last] of ends) {
    out.set(epoch, {
      epoch,
      after: last,
      exact: true,
      lastLogged: (lastLogged.get(epoch) ?? last) > last ? lastLogged.get(epoch)! : null,
      resumedAt: resumedAt.get(epoch) ?? null,
    });
  }
  for (const [epoch, logged] of lastLogged) {
    if (out.has(epoch)) continue;
    const after = known.get(epoch) ?? makeZxid(epoch, 0n);
    if (after >= logged) continue; // every txn any server logged in it has evidence
    out.set(epoch, { epoch, after, exact: false, lastLogged: logged, resumedAt: resumedAt.get(epoch) ?? null });
  }
  return out;
}

/** Whether a txn may be replayed: it lies at or before its epoch's boundary, or its epoch has none. */
export function isReplayable(zxid: bigint, boundaries: CommitBoundaries): boolean {
  const b = boundaries.get(zxidEpoch(zxid));
  return b === undefined || zxid <= b.after;
}

/** The last replayable zxid at or before `zxid` (itself when replayable). */
export function lastReplayable(zxid: bigint, boundaries: CommitBoundaries): bigint {
  const b = boundaries.get(zxidEpoch(zxid));
  return b === undefined || zxid <= b.after ? zxid : b.after;
}

/** One sentence on a boundary, for messages: what was dropped or is unconfirmed, and why. */
export function describeBoundary(b: CommitBoundary): string {
  const next = b.resumedAt !== null ? `; the ensemble went on in epoch ${zxidEpoch(b.resumedAt)} (from ${formatZxid(b.resumedAt)})` : '';
  const first = formatZxid(b.after + 1n);
  const range = b.lastLogged !== null ? `${first}..${formatZxid(b.lastLogged)}` : `${first} and later`;
  const confirmed = zxidCounter(b.after) === 0n ? 'no txn of that epoch is confirmed' : `the last confirmed txn is ${formatZxid(b.after)}`;
  return b.exact
    ? `epoch ${b.epoch} of the ensemble's history ended at ${formatZxid(b.after)}: txns ${range} were logged but dropped (never committed)${next}`
    : `epoch ${b.epoch} was cut (a server rejoined from a newer leader's snapshot): txns ${range} are unconfirmed (they may have been dropped), ${confirmed}${next}`;
}

/**
 * Why `zxid` may not be restored (it is past its epoch's boundary), as a message and a hint naming the
 * last confirmed txn; null when it may. `what` names the point in the message (default: the zxid).
 */
export function pastBoundary(
  zxid: bigint,
  boundaries: CommitBoundaries,
  what = `zxid ${formatZxid(zxid)}`,
): { message: string; hint: string } | null {
  const b = boundaries.get(zxidEpoch(zxid));
  if (b === undefined || zxid <= b.after) return null;
  return {
    message: `${what} is not restorable: ${describeBoundary(b)}`,
    hint: `choose ${formatZxid(b.after)} (the last confirmed txn of epoch ${b.epoch}) or earlier${b.resumedAt !== null ? `, or a zxid of the history that went on (${formatZxid(b.resumedAt)} onwards)` : ''}`,
  };
}

/** Serializable form of facts (zxids as 0x… hex), for manifests and repository records. */
export interface HistoryFactsJson {
  ends: Array<{ epoch: string; last: string }>;
  cuts: Array<{ epoch: string; lastLogged: string; confirmed: string | null; resumedAt: string }>;
}

export function factsToJson(f: HistoryFacts): HistoryFactsJson {
  return {
    ends: f.ends.map((x) => ({ epoch: formatZxid(x.epoch), last: formatZxid(x.last) })),
    cuts: f.cuts.map((c) => ({
      epoch: formatZxid(c.epoch),
      lastLogged: formatZxid(c.lastLogged),
      confirmed: c.confirmed === null ? null : formatZxid(c.confirmed),
      resumedAt: formatZxid(c.resumedAt),
    })),
  };
}

const HEX = /^0x[0-9a-f]{1,16}$/;

/** Parses the serializable form; null when it is not well formed. */
export function factsFromJson(v: unknown): HistoryFacts | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.ends) || !Array.isArray(o.cuts)) return null;
  const z = (s: unknown): bigint | undefined => (typeof s === 'string' && HEX.test(s) ? BigInt.asIntN(64, BigInt(s)) : undefined);
  const ends: EpochEnd[] = [];
  for (const e of o.ends as unknown[]) {
    const r = e as Record<string, unknown>;
    const epoch = z(r?.epoch);
    const last = z(r?.last);
    if (epoch === undefined || last === undefined || zxidEpoch(last) !== epoch) return null;
    ends.push({ epoch, last });
  }
  const cuts: EpochCut[] = [];
  for (const c of o.cuts as unknown[]) {
    const r = c as Record<string, unknown>;
    const epoch = z(r?.epoch);
    const lastLogged = z(r?.lastLogged);
    const resumedAt = z(r?.resumedAt);
    const confirmed = r?.confirmed === null ? null : z(r?.confirmed);
    if (epoch === undefined || lastLogged === undefined || resumedAt === undefined || confirmed === undefined) return null;
    if (zxidEpoch(lastLogged) !== epoch || (confirmed !== null && zxidEpoch(confirmed) !== epoch)) return null;
    cuts.push({ epoch, lastLogged, confirmed, resumedAt });
  }
  return { ends, cuts };
}

/** Whether `f` holds anything `known` (already recorded observations) lacks. */
export function addsToKnown(f: HistoryFacts, known: HistoryFacts[]): boolean {
  const endKey = (x: EpochEnd) => `${x.epoch}:${x.last}`;
  const cutKey = (c: EpochCut) => `${c.epoch}:${c.lastLogged}:${c.confirmed}:${c.resumedAt}`;
  const ends = new Set(known.flatMap((k) => k.ends.map(endKey)));
  const cuts = new Set(known.flatMap((k) => k.cuts.map(cutKey)));
  return f.ends.some((x) => !ends.has(endKey(x))) || f.cuts.some((c) => !cuts.has(cutKey(c)));
}
