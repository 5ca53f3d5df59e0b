// prune: apply a retention policy to a repository — plan with core/retention.ts, then (unless a dry
// run) remove what the plan removes, newest first and sidecar before archive, under the repository
// lock, and remove leftovers that no backup owns.
import { throwIfAborted } from '../errors.js';
import {
  COUNT_RULES,
  planLeftovers,
  planRetention,
  type CountRule,
  type LeftoverDecision,
  type RetentionDecision,
  type RetentionPolicy,
} from '../core/retention.js';
import { newBackupId } from '../repository/ids.js';
import type { Repository, RepositoryMaintenance } from '../repository/types.js';

/** Default grace for leftovers: anything younger may belong to a run in flight on another host. */
export const DEFAULT_ORPHAN_GRACE_MS = 60 * 60 * 1000;

export interface PruneOptions {
  policy: RetentionPolicy;
  /** Plan only: nothing is locked or removed. */
  dryRun?: boolean;
  /** Leftovers younger than this are left alone (default 1 h). */
  orphanGraceMs?: number;
  signal?: AbortSignal;
  warn?: (message: string) => void;
  /** Injectable for tests. */
  now?: () => Date;
}

/** One backup in the plan, as `prune --json` prints it: the decision without its keep flag. */
export type PruneEntry = Omit<RetentionDecision, 'keep'>;

export interface PruneResult {
  /** The repository location, redacted. */
  location: string;
  dryRun: boolean;
  policy: Record<CountRule, number> & { within: string | null; groupBy: RetentionPolicy['groupBy'] };
  /** Oldest first. */
  keep: PruneEntry[];
  /** Oldest first; removed (newest first) unless dryRun. */
  remove: PruneEntry[];
  /** Objects no backup owns: removed when `remove` is true (unless dryRun). */
  orphans: LeftoverDecision[];
  /** Backups removed (0 in a dry run). */
  removed: number;
  /** Leftovers removed (0 in a dry run). */
  orphansRemoved: number;
  /** Bytes of the archives and leftovers removed (or that would be, in a dry run). */
  bytesFreed: number;
  warnings: string[];
}

function entry(d: ReturnType<typeof planRetention>['keep'][number]): PruneEntry {
  return {
    id: d.id,
    kind: d.kind,
    createdAt: d.createdAt,
    series: d.series,
    partial: d.partial,
    chain: d.chain,
    bytes: d.bytes,
    reasons: d.reasons,
  };
}

export function policyForOutput(policy: RetentionPolicy): PruneResult['policy'] {
  const counts = Object.fromEntries(COUNT_RULES.map((r) => [r, policy[r]])) as Record<CountRule, number>;
  return { ...counts, within: policy.within?.text ?? null, groupBy: policy.groupBy };
}

/** Plans retention and, unless a dry run, removes what the policy does not keep and old leftovers. */
export async function pruneRepository(repo: Repository & RepositoryMaintenance, options: PruneOptions): Promise<PruneResult> {
  const now = options.now ?? (() => new Date());
  const dryRun = Boolean(options.dryRun);
  throwIfAborted(options.signal);
  // The backup lock: no backup commits (so no archive is briefly without its sidecar, and no new
  // incremental picks a parent) while the plan is made and applied.
  const lock = dryRun ? undefined : await repo.lockForMaintenance(`prune-${newBackupId(now())}`);
  try {
    const backups = await repo.list();
    const inv = await repo.objectInventory();
    throwIfAborted(options.signal);
    const plan = planRetention({ backups, policy: options.policy, archivesPresent: new Set(inv.archives.map((a) => a.id)) });
    const orphans = planLeftovers({
      sidecarIds: inv.sidecarIds,
      archives: inv.archives,
      temporary: inv.temporary,
      now: now(),
      graceMs: options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS,
    });
    const warnings = [...plan.warnings];
    for (const key of inv.unknown) warnings.push(`${key} is not named like anything zkvault writes; prune leaves it alone`);
    const unreadable = [...inv.sidecarIds].filter((id) => !backups.some((b) => b.id === id));
    for (const id of unreadable)
      warnings.push(`manifests/${id}.json cannot be read (see the warnings above); prune leaves backup ${id} and its archive alone`);

    const result: PruneResult = {
      location: repo.location,
      dryRun,
      policy: policyForOutput(options.policy),
      keep: plan.keep.map(entry),
      remove: plan.remove.map(entry),
      orphans,
      removed: 0,
      orphansRemoved: 0,
      bytesFreed: 0,
      warnings,
    };
    if (dryRun) {
      result.bytesFreed = plan.remove.reduce((n, d) => n + d.bytes, 0) + orphans.filter((o) => o.remove).reduce((n, o) => n + o.size, 0);
      return result;
    }
    // Newest first: an incremental goes before the backups it continues, so an interrupted prune
    // never leaves a listed backup whose chain is broken.
    for (const d of [...plan.remove].reverse()) {
      throwIfAborted(options.signal);
      await repo.removeBackup(d.id);
      result.removed++;
      result.bytesFreed += d.bytes;
    }
    for (const o of orphans) {
      if (!o.remove) continue;
      throwIfAborted(options.signal);
      if (await repo.removeLeftover(o)) {
        result.orphansRemoved++;
        result.bytesFreed += o.size;
      } else {
        o.remove = false;
        o.reason = 'its manifest appeared meanwhile: a committed backup, kept';
      }
    }
    return result;
  } finally {
    await lock?.release().catch((err: Error) => options.warn?.(`could not release the repository lock: ${err.message}`));
  }
}
