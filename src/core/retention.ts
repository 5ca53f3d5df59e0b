// Retention: which backups a keep-policy keeps, which it removes, and why — a pure decision over
// manifests (no I/O), applied separately by services/prune.ts. Restic-forget style rules in UTC, with
// two rules of our own: partial and broken backups are not restore points, and a kept physical backup
// keeps every backup of its chain.
import { chainLinkOf, type ChainLink } from './chain.js';
import { normalizeConnectString } from './connect-string.js';
import { formatAge, subtractDuration, type RetentionDuration } from './duration.js';

/** The counting rules, in the order they are applied and reported. */
export const COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type CountRule = (typeof COUNT_RULES)[number];

export interface RetentionPolicy extends Record<CountRule, number> {
  /** Keep every restore point this close to the newest backup of its series. */
  within: RetentionDuration | null;
  /**
   * `series`: rules count within each series (same kind and source), so backups of one ensemble
   * never push out those of another. `none`: one history for the whole repository.
   */
  groupBy: 'series' | 'none';
}

type BackupKind = 'logical' | 'physical';

/** What the policy needs of a backup: the fields of its manifest it reads (a manifest is one). */
export interface RetentionCandidate {
  id: string;
  kind: BackupKind;
  /** ISO 8601. */
  createdAt: string;
  partial: boolean;
  source: { zk?: string; path?: string; dataDir?: string };
  /** A physical backup's chain link is read from `extra.chain`. */
  extra?: Record<string, unknown>;
  archive?: { size: number };
}

export interface RetentionDecision {
  id: string;
  kind: BackupKind;
  createdAt: string;
  /** The history this backup is counted in (see RetentionPolicy.groupBy). */
  series: string;
  partial: boolean;
  /** Physical backups: the chain this one belongs to. */
  chain: ChainLink | null;
  /** Archive size, bytes (0 when unknown). */
  bytes: number;
  keep: boolean;
  /** Why it is kept (every rule that holds), or why it goes. Never empty. */
  reasons: string[];
}

export interface RetentionPlan {
  /** Oldest first, as `list` prints them. */
  keep: RetentionDecision[];
  /** Oldest first. The service removes them newest first, so no chain is ever left without a parent. */
  remove: RetentionDecision[];
  warnings: string[];
}

export interface RetentionInput {
  backups: RetentionCandidate[];
  policy: RetentionPolicy;
  /**
   * Ids whose archive is present. A backup whose archive is missing cannot be restored: it is not
   * a restore point, and neither is anything whose chain runs through it. Omitted: all present.
   */
  archivesPresent?: ReadonlySet<string>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The rules a policy turns on, e.g. `last 3, daily 7, within 30d` (for messages). */
export function describePolicy(policy: RetentionPolicy): string {
  const parts: string[] = COUNT_RULES.filter((r) => policy[r] > 0).map((r) => `${r} ${policy[r]}`);
  if (policy.within) parts.push(`within ${policy.within.text}`);
  return parts.length > 0 ? parts.join(', ') : 'no rule';
}

/** True when the policy keeps anything at all: a policy that keeps nothing is refused, never applied. */
export function policyKeepsSomething(policy: RetentionPolicy): boolean {
  return COUNT_RULES.some((r) => policy[r] > 0) || policy.within !== null;
}

/** ISO 8601 week of a UTC time: `2026-W47` (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(t: number): string {
  const date = new Date(t);
  const day = (date.getUTCDay() + 6) % 7; // Monday = 0
  const thursday = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY_MS));
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** The bucket a backup falls in for a rule (UTC); `last` gives every backup its own. */
export function bucketOf(rule: CountRule, t: number, id: string): string {
  const iso = new Date(t).toISOString();
  switch (rule) {
    case 'last':
      return id;
    case 'hourly':
      return iso.slice(0, 13);
    case 'daily':
      return iso.slice(0, 10);
    case 'weekly':
      return isoWeek(t);
    case 'monthly':
      return iso.slice(0, 7);
    case 'yearly':
      return iso.slice(0, 4);
  }
}

/** The series a backup is counted in: same kind and same source (one spelling per ensemble). */
export function seriesOf(b: Pick<RetentionCandidate, 'kind' | 'source'>): string {
  if (b.kind === 'physical') return `physical ${b.source.dataDir ?? '?'}`;
  return `logical ${b.source.zk === undefined ? '?' : normalizedOrAsIs(b.source.zk)} ${b.source.path ?? '/'}`;
}

function normalizedOrAsIs(zk: string): string {
  try {
    return normalizeConnectString(zk);
  } catch {
    return zk; // a manifest written with a connect string this zkvault would refuse: count it as it is
  }
}

/** When a backup was taken (manifests always carry a valid createdAt: the reader checks it). */
function timeOf(b: RetentionCandidate): number {
  const t = Date.parse(b.createdAt);
  return Number.isNaN(t) ? 0 : t;
}

/** `X`, `X, Y`, `X, Y, Z and 4 more`. */
function listIds(ids: string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`;
}

interface Entry {
  b: RetentionCandidate;
  t: number;
  series: string;
  chain: ChainLink | null;
  /** Why it cannot be restored (archive or chain member missing), or undefined. */
  broken?: string;
}

/**
 * Decides, for every backup, keep or remove with its reasons:
 * 1. In each series (or the whole repository with groupBy `none`), newest first, the count rules
 *    keep the newest restore point of each of the N newest hours/days/ISO weeks/months/years that
 *    have one (`last N`: the N newest); `within D` keeps every restore point created within D before
 *    the series' newest backup (not before now: backups that stopped coming never age out).
 * 2. Restore points are the complete backups. Partial ones (nodes that could not be read) only fill
 *    what a rule has left once it runs out of complete ones — so a series that is always partial
 *    still keeps a history — and the newest backup of a series is kept while it is partial (it holds
 *    the freshest data there is) until a complete one follows it.
 * 3. Broken backups (archive missing, or a chain through a missing one) are not restore points and
 *    are never removed by a policy: they are kept and reported, for a person to look at.
 * 4. A kept physical backup keeps its whole chain, base and every parent, whatever the rules say:
 *    removing any of them would break a restore point the policy keeps.
 */
export function planRetention(input: RetentionInput): RetentionPlan {
  const { policy } = input;
  const warnings: string[] = [];
  const entries: Entry[] = input.backups.map((b) => ({
    b,
    t: timeOf(b),
    series: policy.groupBy === 'none' ? 'all' : seriesOf(b),
    chain: chainLinkOf(b.kind, b.extra),
  }));
  const byId = new Map(entries.map((e) => [e.b.id, e]));

  // Broken: archive missing, or the chain reaches a missing or broken backup.
  const brokenOf = (e: Entry, seen = new Set<string>()): string | undefined => {
    if (e.broken !== undefined) return e.broken || undefined;
    let why: string | undefined;
    if (input.archivesPresent && !input.archivesPresent.has(e.b.id)) why = 'its archive is missing';
    else if (e.chain?.parent) {
      const parent = byId.get(e.chain.parent);
      if (!parent) why = `it continues ${e.chain.parent}, which is missing from the repository`;
      else if (seen.has(parent.b.id)) why = `its chain loops back to ${parent.b.id}`;
      else {
        seen.add(e.b.id);
        const up = brokenOf(parent, seen);
        if (up) why = `its chain runs through ${parent.b.id}, which cannot be restored`;
      }
    }
    e.broken = why ?? '';
    return why;
  };

  const reasons = new Map<string, string[]>();
  const addReason = (id: string, r: string) => {
    const list = reasons.get(id);
    if (list) list.push(r);
    else reasons.set(id, [r]);
  };

  const groups = new Map<string, Entry[]>();
  for (const e of entries) {
    const g = groups.get(e.series);
    if (g) g.push(e);
    else groups.set(e.series, [e]);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => b.t - a.t || (a.b.id < b.b.id ? 1 : a.b.id > b.b.id ? -1 : 0));
    const usable = group.filter((e) => !brokenOf(e));
    const complete = usable.filter((e) => !e.b.partial);
    const partial = usable.filter((e) => e.b.partial);

    for (const rule of COUNT_RULES) {
      const n = policy[rule];
      if (!(n > 0)) continue;
      const used = new Set<string>();
      let kept = 0;
      const pass = (list: Entry[], fallback: boolean) => {
        for (const e of list) {
          if (kept >= n) return;
          const bucket = bucketOf(rule, e.t, e.b.id);
          if (used.has(bucket)) continue;
          used.add(bucket);
          kept++;
          const label = rule === 'last' ? `last ${kept} of ${n}` : `${rule} ${bucket}`;
          addReason(e.b.id, fallback ? `${label} (partial: the rule ran out of complete backups)` : label);
        }
      };
      pass(complete, false);
      pass(partial, true);
    }

    if (policy.within && group.length > 0) {
      const cutoff = subtractDuration(group[0].t, policy.within);
      const label = `within ${policy.within.text} of the newest backup`;
      const inWindow = (e: Entry) => e.t >= cutoff;
      const c = complete.filter(inWindow);
      if (c.length > 0) for (const e of c) addReason(e.b.id, label);
      else for (const e of partial.filter(inWindow)) addReason(e.b.id, `${label} (partial: no complete backup in the window)`);
    }

    const newest = usable[0];
    if (newest?.b.partial) addReason(newest.b.id, 'newest backup of its series, partial: kept until a complete backup follows it');
  }

  // Chains: every ancestor of a kept physical backup stays, with the kept backups that need it.
  const dependants = new Map<string, string[]>();
  for (const [id] of [...reasons].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const e = byId.get(id)!;
    const seen = new Set<string>([id]);
    for (let parentId = e.chain?.parent ?? null; parentId;) {
      const p = byId.get(parentId);
      if (!p || seen.has(parentId)) break; // cannot happen for a usable backup: brokenOf ruled it out
      seen.add(parentId);
      const list = dependants.get(parentId);
      if (list) list.push(id);
      else dependants.set(parentId, [id]);
      parentId = p.chain?.parent ?? null;
    }
  }
  for (const [id, deps] of dependants) {
    const e = byId.get(id)!;
    const role = e.chain?.parent === null ? 'base' : 'in the chain';
    addReason(id, `${role} of kept incremental${deps.length > 1 ? 's' : ''} ${listIds(deps)}`);
  }

  const keep: RetentionDecision[] = [];
  const remove: RetentionDecision[] = [];
  const ordered = [...entries].sort((a, b) => a.t - b.t || (a.b.id < b.b.id ? -1 : a.b.id > b.b.id ? 1 : 0));
  const rules = describePolicy(policy);
  for (const e of ordered) {
    const base = {
      id: e.b.id,
      kind: e.b.kind,
      createdAt: e.b.createdAt,
      series: e.series,
      partial: e.b.partial,
      chain: e.chain,
      bytes: e.b.archive?.size ?? 0,
    };
    const broken = brokenOf(e);
    if (broken) {
      const why = `broken, not a restore point: ${broken}; left for you to inspect (zkvault verify ${e.b.id})`;
      warnings.push(
        `backup ${e.b.id} cannot be restored: ${broken}; prune leaves it alone (zkvault verify ${e.b.id} --deep shows what is wrong)`,
      );
      keep.push({ ...base, keep: true, reasons: [why, ...(reasons.get(e.b.id) ?? [])] });
      continue;
    }
    const r = reasons.get(e.b.id);
    if (r) keep.push({ ...base, keep: true, reasons: r });
    else
      remove.push({
        ...base,
        keep: false,
        reasons: [e.b.partial ? `partial, not a restore point, and no rule (${rules}) needs it` : `no rule (${rules}) keeps it`],
      });
  }
  return { keep, remove, warnings };
}

// ---------------------------------------------------------------------------------------------
// Leftovers: objects no backup owns.

export interface StoredObject {
  key: string;
  size: number;
  modified: Date;
}

export interface LeftoverInput {
  /** Ids with a manifests/<id>.json, readable or not: their archives are never leftovers. */
  sidecarIds: ReadonlySet<string>;
  /** archives/<id>.tar objects. */
  archives: Array<StoredObject & { id: string }>;
  /** A backend's temporary files of puts that never finished (a killed process). */
  temporary: StoredObject[];
  now: Date;
  /** Younger than this, a leftover is left alone: it may belong to a run still in flight. */
  graceMs: number;
}

export interface LeftoverDecision {
  key: string;
  /** `archive`: an archive with no manifest; `temporary`: a backend's unfinished put. */
  kind: 'archive' | 'temporary';
  size: number;
  modified: string;
  remove: boolean;
  reason: string;
}

/** Archives with no sidecar and unfinished puts: removed once older than the grace period. */
export function planLeftovers(input: LeftoverInput): LeftoverDecision[] {
  const out: LeftoverDecision[] = [];
  const grace = formatAge(input.graceMs);
  const decide = (o: StoredObject, kind: LeftoverDecision['kind'], what: string) => {
    const age = input.now.getTime() - o.modified.getTime();
    const old = age >= input.graceMs;
    out.push({
      key: o.key,
      kind,
      size: o.size,
      modified: o.modified.toISOString(),
      remove: old,
      reason: old
        ? `${what}, ${formatAge(age)} old`
        : `${what}, but only ${formatAge(Math.max(0, age))} old (grace ${grace}): it may belong to a run still in flight`,
    });
  };
  for (const a of input.archives) {
    if (!input.sidecarIds.has(a.id)) decide(a, 'archive', 'no manifest: left by an interrupted or failed run, never listed');
  }
  for (const t of input.temporary) decide(t, 'temporary', 'an unfinished upload of a killed run');
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * A fixed duration in milliseconds (`30s`, `10min`, `1h`, `2d`): for grace periods, where calendar
 * units make no sense (`mo` and `y` are refused).
 */
