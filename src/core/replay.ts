// Replay to a chosen zxid Z, as a ZooKeeper server restores its database, but stopping at Z:
//   1. the newest snapshot with file zxid S <= Z whose fuzzy window ends by Z (digest zxid D <= Z);
//   2. the newest log starting at or before S+1, and every later log, applying txns S < zxid <= Z;
//   3. digests compared wherever the files carry them: the snapshot's once replay reaches D, then
//      every txn's own trailer. A snapshot digest that disagrees at D is settled by the next txn's
//      digest (the snapshot may hold part of txn D+1); if it is not, an older snapshot is tried.
// Sources are injected (bytes in), so the same logic serves a live dataDir and a backup archive.
import { IntegrityError, UsageError } from '../errors.js';
import { iterateTxnLog, type LogTail } from '../formats/txn-log.js';
import type { Txn } from '../formats/txn.js';
import { DIGEST_VERSION } from './digest.js';
import { applyTxn } from './apply-txn.js';
import { loadSnapshotTree } from './snapshot-tree.js';
import { DataTree } from './tree.js';
import { formatZxid, isZxidGap, missingRange } from './zxid.js';

export interface SnapshotSource {
  name: string;
  /** zxid from the file name. */
  zxid: bigint;
  /**
   * For a snapshot without a digest: a txn by which its fuzzy window is known to have closed (a
   * backup knows: every txn logged before it copied the logs), when no later snapshot tells.
   */
  closedBy?: bigint;
  /** The uncompressed snapshot stream. */
  read(): Buffer;
}

export interface LogSource {
  name: string;
  /** zxid of the first txn, from the file name. */
  zxid: bigint;
  read(): Buffer;
}

export interface ReplayOptions {
  /** Stop after this zxid; default: the last complete txn the logs hold. */
  targetZxid?: bigint;
  /**
   * Stop before the first txn for which this returns true (e.g. a txn after a chosen time); the
   * result is the state after the txn before it. Applies on top of targetZxid.
   */
  stopBefore?: (txn: Txn) => boolean;
  /**
   * Pass over a snapshot cut short (the server stopped while writing it; ZooKeeper does not count such
   * a file as a snapshot) for an older one, with a warning. Default false: its IntegrityError, as for
   * any other damage (for files from a backup, which were checked when copied).
   */
  passOverTruncatedSnapshots?: boolean;
  /**
   * Asked before each txn is applied: a reason not to apply it (it is past what the ensemble is known
   * to have committed), which ends the replay with a UsageError carrying that reason.
   */
  refuse?: (txn: Txn) => string | null;
  /** Compare recorded digests (default true). A mismatch is an IntegrityError. */
  verifyDigests?: boolean;
  /** Called for each txn as it is applied (after applying). */
  onTxn?: (txn: Txn, log: string, offset: number) => void;
  warn?: (message: string) => void;
}

export interface ReplayResult {
  tree: DataTree;
  /** The zxid the tree is at: the last txn applied (or the snapshot's zxid). */
  zxid: bigint;
  snapshot: { name: string; zxid: bigint; digestZxid: bigint | null } | null;
  logsRead: string[];
  txnsApplied: number;
  digestsChecked: number;
  /** Time (ms since epoch) of the last txn applied, if any. */
  lastTxnTime: bigint | null;
  /** How each log read ended, e.g. a torn tail in the live log. */
  tails: Array<{ log: string; tail: LogTail }>;
  /** True when replay stopped at the target with later txns still in the logs. */
  stoppedEarly: boolean;
}

const DISAGREE = 'the files disagree with each other; verify them, or pass --no-verify-digest to read them anyway';

/**
 * A snapshot whose recorded digest disagrees with its tree, where no later txn's digest settled it.
 * A server writes the digest of the last txn applied when the walk ended, so a txn being applied
 * during the walk can have its node changes in the file without its digest; replaying that txn
 * again mends the tree, and its own digest then confirms it. When that fails too, or no later
 * digest is reached, an older snapshot (if the files hold one) is the safer base.
 */
class SnapshotDigestError extends IntegrityError {
  constructor(
    readonly snapshotZxid: bigint,
    file: string,
    offset: number | undefined,
    detail: string,
    hint: string,
  ) {
    super('checksum', file, offset, detail, { hint });
  }
}

/**
 * A base snapshot that cannot serve the point asked for, though nothing is damaged: it has no digest
 * and the point is before the last txn (whether it holds later txns is unknown), or it already holds
 * txns after the time asked for. An older base may serve; if none does, a usage error (exit 2).
 */
class UnusableBaseError extends SnapshotDigestError {}

export function replayToZxid(snapshots: SnapshotSource[], logs: LogSource[], options: ReplayOptions = {}): ReplayResult {
  const sortedLogs = [...logs].sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0));
  let sortedSnaps = [...snapshots].sort((a, b) => (a.zxid < b.zxid ? 1 : a.zxid > b.zxid ? -1 : 0));
  let first: SnapshotDigestError | null = null;
  // Nothing is damaged when the only trouble is a snapshot of unknown fuzziness: a usage error (exit 2).
  const fail = (e: SnapshotDigestError) => (e instanceof UnusableBaseError ? new UsageError(e.message, { hint: e.hint }) : e);
  for (;;) {
    try {
      return replayFrom(sortedSnaps, sortedLogs, options, snapshots);
    } catch (err) {
      if (first && !(err instanceof SnapshotDigestError)) throw fail(first); // the older base cannot serve either
      if (!(err instanceof SnapshotDigestError)) throw err;
      first ??= err;
      const failed = err.snapshotZxid;
      sortedSnaps = sortedSnaps.filter((s) => s.zxid < failed);
      const fromScratch = sortedLogs.length > 0 && sortedLogs[0].zxid <= 1n;
      if (sortedSnaps.length === 0 && !fromScratch) throw fail(first);
      options.warn?.(`${err.message}; trying an older ${sortedSnaps.length > 0 ? 'snapshot' : 'base (the logs from zxid 0x1)'}`);
    }
  }
}

function replayFrom(
  sortedSnaps: SnapshotSource[],
  sortedLogs: LogSource[],
  options: ReplayOptions,
  allSnaps: SnapshotSource[],
): ReplayResult {
  const target = options.targetZxid;
  const warn = options.warn ?? (() => {});
  const verify = options.verifyDigests ?? true;

  // 1. Base snapshot.
  let tree: DataTree | null = null;
  let base: ReplayResult['snapshot'] = null;
  let pendingDigest: { zxid: bigint; value: bigint } | null = null;
  let unusable: IntegrityError | null = null;
  const bounded = target !== undefined || options.stopBefore !== undefined;
  // A snapshot without a digest does not say how far its fuzzy window reaches. The next snapshot
  // bounds it (a server writes one at a time); the newest is bounded only by the last txn logged.
  const nextSnapshotAfter = (z: bigint): bigint | null =>
    allSnaps.reduce<bigint | null>((best, s) => (s.zxid > z && (best === null || s.zxid < best) ? s.zxid : best), null);
  let unboundedFuzzy = false;
  for (const snap of sortedSnaps) {
    if (target !== undefined && snap.zxid > target) continue;
    const nextSnapshot = snap.closedBy ?? nextSnapshotAfter(snap.zxid);
    let loaded: ReturnType<typeof loadSnapshotTree>;
    try {
      loaded = loadSnapshotTree(snap.read(), snap.name, snap.zxid);
    } catch (err) {
      if (!(err instanceof IntegrityError) || err.problem !== 'truncated' || !options.passOverTruncatedSnapshots) throw err;
      warn(`${snap.name} is cut short, as when the server stops while writing it (${err.message}); trying an older snapshot`);
      unusable ??= err;
      continue;
    }
    const { tree: t, info } = loaded;
    const d = info.digest;
    const fuzzyEnd = d && d.zxid >= snap.zxid ? d.zxid : snap.zxid;
    if (target !== undefined && fuzzyEnd > target) {
      warn(`${snap.name} may already hold txns up to ${formatZxid(fuzzyEnd)}, past ${formatZxid(target)}; trying an older snapshot`);
      continue;
    }
    if (!d && bounded && nextSnapshot !== null && (target === undefined || nextSnapshot > target)) {
      warn(
        `${snap.name} has no digest: it may hold txns up to ${formatZxid(nextSnapshot)}${snap.closedBy === undefined ? ' (where the next snapshot starts)' : ''}${target === undefined ? '' : `, past ${formatZxid(target)}`}; trying an older snapshot`,
      );
      continue;
    }
    unboundedFuzzy = !d && bounded && nextSnapshot === null;
    tree = t;
    base = { name: snap.name, zxid: snap.zxid, digestZxid: d ? d.zxid : null };
    if (d && d.zxid > 0n && d.zxid >= snap.zxid && d.version === DIGEST_VERSION) pendingDigest = { zxid: d.zxid, value: d.value };
    break;
  }
  let from: bigint;
  if (tree) from = base!.zxid;
  else if (sortedLogs.length > 0 && sortedLogs[0].zxid <= 1n) {
    tree = DataTree.empty(); // the history starts at zxid 1: replay everything onto a fresh tree
    from = 0n;
  } else {
    if (unusable) throw unusable; // the only snapshots that could serve do not parse
    throw new UsageError(describeNoBase(sortedSnaps, sortedLogs, target), {
      hint: 'choose a zxid at or after the oldest snapshot that is complete by then',
    });
  }

  const digestMatches = (expected: bigint): boolean => {
    if (tree.digest() === expected) return true;
    // A JDK <= 17 server under a non-UTF-8 locale hashes non-ASCII path characters as '?'.
    if (tree.digestPathEncoding === 'utf8' && tree.hasNonAsciiPath() && tree.fullDigest('ascii') === expected) {
      tree.setDigestPathEncoding('ascii');
      warn(`the server hashed non-ASCII paths in its JVM's default charset, not UTF-8 (digests match that way)`);
      return true;
    }
    return false;
  };
  const versus = (expected: bigint) => `the file records ${formatZxid(expected)}, the replayed tree has ${formatZxid(tree.digest())}`;
  // The snapshot's own digest, once the tree is at its zxid: a mismatch waits for the next txn's digest.
  let unsettled = null as { zxid: bigint; detail: string } | null;
  let checked = 0;
  const snapshotDigestReached = () => {
    const { zxid, value } = pendingDigest!;
    pendingDigest = null;
    if (!verify) return;
    if (digestMatches(value)) checked++;
    else unsettled = { zxid, detail: `tree digest mismatch at ${formatZxid(zxid)}, recorded in ${base!.name}: ${versus(value)}` };
  };
  if (pendingDigest && pendingDigest.zxid === from) snapshotDigestReached();

  // 2. Logs: the newest starting at or before from+1, and all later ones.
  let firstIdx = 0;
  for (let i = 0; i < sortedLogs.length; i++) if (sortedLogs[i].zxid <= from + 1n) firstIdx = i;
  const chosen = sortedLogs.slice(firstIdx);
  let last = from;
  let lastTime: bigint | null = null;
  let applied = 0;
  let reachedTarget = false;
  const logsRead: string[] = [];
  const tails: ReplayResult['tails'] = [];
  outer: for (const log of chosen) {
    if (log.zxid > last + 1n && isZxidGap(last, log.zxid) && (target === undefined || log.zxid <= target)) {
      throw gapError(last, log.zxid, log.name, undefined, base, target);
    }
    logsRead.push(log.name);
    const it = iterateTxnLog(log.read(), log.name);
    for (;;) {
      const step = it.next();
      if (step.done) {
        tails.push({ log: log.name, tail: step.value });
        if (step.value.kind === 'torn') warn(`${log.name}: ${step.value.detail} at byte ${step.value.offset}; reading stops there`);
        else if (step.value.kind === 'padding' && step.value.nonZeroAfter) {
          warn(`${log.name}: non-zero bytes follow the end of data at byte ${step.value.offset}; ZooKeeper ignores them too`);
        }
        break;
      }
      const rec = step.value;
      const zxid = rec.txn.header.zxid;
      if (zxid <= last) {
        // Already in the base snapshot: a txn there from after the time asked for makes it too new.
        if (base && options.stopBefore?.(rec.txn)) throw baseTooNew(base.name, base.zxid, rec.txn.header, log.name, rec.offset);
        continue;
      }
      const pastTarget = target !== undefined && zxid > target;
      if (pastTarget || options.stopBefore?.(rec.txn)) {
        // Stopping for the time inside the base's fuzzy window: the snapshot may hold this txn already.
        if (!pastTarget && pendingDigest) throw baseTooNew(base!.name, base!.zxid, rec.txn.header, log.name, rec.offset);
        reachedTarget = true;
        break outer;
      }
      const refused = options.refuse?.(rec.txn);
      if (refused) throw new UsageError(refused);
      if (last !== 0n && isZxidGap(last, zxid)) throw gapError(last, zxid, log.name, rec.offset, base, target);
      applyTxn(tree, rec.txn);
      applied++;
      last = zxid;
      lastTime = rec.txn.header.time;
      options.onTxn?.(rec.txn, log.name, rec.offset);
      if (pendingDigest) {
        if (zxid === pendingDigest.zxid) snapshotDigestReached();
        else if (zxid > pendingDigest.zxid) {
          warn(`txn ${formatZxid(pendingDigest.zxid)} named by ${base!.name}'s digest is not in the logs`);
          pendingDigest = null;
        }
      } else if (verify && rec.txn.digest && rec.txn.digest.version === DIGEST_VERSION) {
        const expected = rec.txn.digest.value;
        if (digestMatches(expected)) {
          if (unsettled) {
            warn(
              `${base!.name}: ${unsettled.detail}, but the tree after txn ${formatZxid(zxid)} matches that txn's digest (the server was applying it while it wrote the snapshot)`,
            );
            unsettled = null;
          }
          checked++;
        } else if (unsettled) {
          throw new SnapshotDigestError(
            base!.zxid,
            log.name,
            rec.offset,
            `${unsettled.detail}; after txn ${formatZxid(zxid)}, too, ${versus(expected)}`,
            DISAGREE,
          );
        } else {
          throw new IntegrityError(
            'checksum',
            log.name,
            rec.offset,
            `tree digest mismatch after txn ${formatZxid(zxid)}: ${versus(expected)}`,
            { hint: DISAGREE },
          );
        }
      }
      // Past a snapshot of unknown fuzziness, look on: a later txn means the target is not the last.
      if (target !== undefined && zxid === target && !unboundedFuzzy) {
        reachedTarget = true;
        break outer;
      }
    }
  }
  if (target !== undefined && !reachedTarget && last < target) {
    throw new UsageError(
      `zxid ${formatZxid(target)} is past the last complete txn these files hold (${formatZxid(last)}); they cover ${formatZxid(coverageStart(sortedSnaps, sortedLogs))} to ${formatZxid(last)}`,
      { hint: `choose a zxid up to ${formatZxid(last)}, or omit it to export the newest state` },
    );
  }
  if (unboundedFuzzy && reachedTarget) {
    throw new UnusableBaseError(
      base!.zxid,
      base!.name,
      undefined,
      `no digest, so how far its fuzzy window reaches is unknown: it may already hold txns after ${formatZxid(last)}, and serves only the last txn the logs hold`,
      'choose the newest state, or a point past the next snapshot; servers from ZooKeeper 3.6 on (zookeeper.digest.enabled, the default) write the digest that bounds the window',
    );
  }
  if (unsettled) {
    const detail = `${unsettled.detail}, and no later txn's digest ${target === undefined ? 'follows' : `up to ${formatZxid(target)}`} settles it`;
    throw new SnapshotDigestError(
      base!.zxid,
      base!.name,
      undefined,
      detail,
      `choose zxid ${formatZxid(unsettled.zxid + 1n)} or later, where a txn's digest can settle it, or pass --no-verify-digest to read the files anyway`,
    );
  }
  if (pendingDigest && target === undefined) {
    warn(
      `the logs end at ${formatZxid(last)}, before ${base!.name}'s digest zxid ${formatZxid(pendingDigest.zxid)}; the snapshot may hold later changes`,
    );
  }
  if (tree.pendingAcl.size > 0) {
    const [key, index] = tree.pendingAcl.entries().next().value as [string, number];
    throw new IntegrityError(
      'malformed',
      base?.name ?? 'snapshot',
      undefined,
      `${tree.pendingAcl.size} node(s) use an ACL index the snapshot's ACL map lacks and no replayed txn defines (first: ${key || '/'}, index ${index})`,
    );
  }
  tree.lastProcessedZxid = last;
  return {
    tree,
    zxid: last,
    snapshot: base,
    logsRead,
    txnsApplied: applied,
    digestsChecked: checked,
    lastTxnTime: lastTime,
    tails,
    stoppedEarly: reachedTarget,
  };
}

function baseTooNew(name: string, zxid: bigint, txn: { zxid: bigint; time: bigint }, file: string, offset: number): UnusableBaseError {
  return new UnusableBaseError(
    zxid,
    file,
    offset,
    `${name} already holds txn ${formatZxid(txn.zxid)} of ${new Date(Number(txn.time)).toISOString()}, after the point asked for`,
    'choose a later time, or files with an older snapshot',
  );
}

function coverageStart(snaps: SnapshotSource[], logs: LogSource[]): bigint {
  const oldestSnap = snaps.length ? snaps[snaps.length - 1].zxid : null;
  if (logs.length && logs[0].zxid <= 1n) return 0n;
  return oldestSnap ?? (logs.length ? logs[0].zxid : 0n);
}

function describeNoBase(snaps: SnapshotSource[], logs: LogSource[], target: bigint | undefined): string {
  if (snaps.length === 0 && logs.length === 0) return 'no snapshot or log files found';
  if (snaps.length === 0)
    return `no snapshot found, and the oldest log starts at ${formatZxid(logs[0].zxid)}, not at the beginning of history`;
  const oldest = snaps[snaps.length - 1].zxid;
  return `zxid ${formatZxid(target ?? 0n)} is before the oldest usable snapshot (${formatZxid(oldest)}); the files cover ${formatZxid(oldest)} onwards`;
}

function gapError(
  last: bigint,
  next: bigint,
  file: string,
  offset: number | undefined,
  base: ReplayResult['snapshot'],
  target: bigint | undefined,
): UsageError {
  const start = base ? base.zxid : 0n;
  return new UsageError(
    `txns ${missingRange(last, next).replace('..', ' to ')} are missing (${file}${offset === undefined ? '' : ` at byte ${offset}`} continues at ${formatZxid(next)}); ` +
      `these files can restore ${formatZxid(start)} to ${formatZxid(last)}${target === undefined ? '' : `, not ${formatZxid(target)}`}`,
    { hint: `choose a zxid up to ${formatZxid(last)}, or supply the missing log files` },
  );
}
