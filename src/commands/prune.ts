// `zkvault prune`: apply a retention policy (--keep-* rules) — print the plan with its reasons, and
// unless --dry-run remove what it removes, with leftovers no backup owns.
import type { Command } from 'commander';
import { envOption, type Runner } from '../cli.js';
import { UsageError } from '../errors.js';
import { parseFixedDuration, parseRetentionDuration } from '../core/duration.js';
import { COUNT_RULES, policyKeepsSomething, type RetentionPolicy } from '../core/retention.js';
import { formatBytes } from '../output/format.js';
import { addRepoOption } from './options.js';
import { formatTime, renderTable } from './list.js';
import type { PruneEntry, PruneResult } from '../services/prune.js';

const RULE_HELP: Record<(typeof COUNT_RULES)[number], string> = {
  last: 'keep the N newest backups',
  hourly: 'keep the newest backup of each of the N newest hours that have one (UTC)',
  daily: 'keep the newest backup of each of the N newest days that have one (UTC)',
  weekly: 'keep the newest backup of each of the N newest ISO weeks that have one (UTC)',
  monthly: 'keep the newest backup of each of the N newest months that have one (UTC)',
  yearly: 'keep the newest backup of each of the N newest years that have one (UTC)',
};

/** The --keep-* flags and --group-by (prune and schedule share them). */
export function addKeepOptions(cmd: Command): Command {
  for (const rule of COUNT_RULES) cmd.addOption(envOption(`--keep-${rule} <n>`, RULE_HELP[rule]));
  return cmd
    .addOption(envOption('--keep-within <duration>', 'keep every backup within this long of the newest one, e.g. 7d, 36h, 6mo, 1y'))
    .addOption(
      envOption('--group-by <how>', 'series: count each kind+source apart; none: one history for the whole repository').default('series'),
    )
    .addOption(
      envOption('--orphan-grace <duration>', 'remove archives without a manifest (and unfinished uploads) once this old').default('1h'),
    );
}

function parseCount(value: unknown, flag: string): number {
  if (value === undefined) return 0;
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} ${String(value)} is not a whole number of 0 or more`);
  }
  return Number(text);
}

export interface KeepFlags {
  policy: RetentionPolicy;
  orphanGraceMs: number;
}

/**
 * The retention policy the --keep-* flags give, or null when no --keep-* flag was given at all.
 * A policy that keeps nothing (every count 0) is a UsageError: it would remove every backup.
 */
export function keepFlagsFrom(opts: Record<string, unknown>): KeepFlags | null {
  const given = COUNT_RULES.some((r) => opts[`keep${r[0].toUpperCase()}${r.slice(1)}`] !== undefined) || opts.keepWithin !== undefined;
  if (!given) return null;
  const counts = Object.fromEntries(
    COUNT_RULES.map((r) => [r, parseCount(opts[`keep${r[0].toUpperCase()}${r.slice(1)}`], `--keep-${r}`)]),
  ) as Record<(typeof COUNT_RULES)[number], number>;
  const groupBy = String(opts.groupBy ?? 'series');
  if (groupBy !== 'series' && groupBy !== 'none') throw new UsageError(`--group-by ${groupBy}: give series or none`);
  const policy: RetentionPolicy = {
    ...counts,
    within: opts.keepWithin === undefined ? null : parseRetentionDuration(String(opts.keepWithin)),
    groupBy,
  };
  if (!policyKeepsSomething(policy)) {
    throw new UsageError('every --keep-* rule is 0: this policy would remove every backup', {
      hint: 'give at least one rule above 0, e.g. --keep-last 1',
    });
  }
  return { policy, orphanGraceMs: parseFixedDuration(String(opts.orphanGrace ?? '1h'), '--orphan-grace') };
}

export const NO_RULE_ERROR = () =>
  new UsageError('prune needs at least one --keep-* rule; with none it would remove every backup', {
    hint: 'e.g. zkvault prune --keep-last 3 --keep-daily 7 --dry-run (--keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within)',
  });

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('prune')
    .description('apply a retention policy: keep what the --keep-* rules and every kept chain need, remove the rest and leftovers')
    .addOption(envOption('--dry-run', 'print the plan and change nothing'));
  addKeepOptions(cmd);
  addRepoOption(cmd);
  cmd.action(async (opts) =>
    run(async ({ printer, signal }) => {
      const keep = keepFlagsFrom(opts);
      if (!keep) throw NO_RULE_ERROR();
      const { pruneRepository } = await import('../services/prune.js');
      const result = await pruneRepository({
        repo: opts.repo,
        policy: keep.policy,
        orphanGraceMs: keep.orphanGraceMs,
        dryRun: Boolean(opts.dryRun),
        signal,
        warn: (m) => printer.warn(m),
      });
      for (const w of result.warnings) printer.warn(w);
      printer.result(result, () => renderPrune(result));
    }, opts),
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The plan as a table per series, then leftovers, then one summary line. */
export function renderPrune(r: PruneResult): string {
  const rows: Array<{ e: PruneEntry; action: string }> = [
    ...r.keep.map((e) => ({ e, action: 'keep' })),
    ...r.remove.map((e) => ({ e, action: r.dryRun ? 'would remove' : 'removed' })),
  ].sort((a, b) => (a.e.createdAt < b.e.createdAt ? -1 : a.e.createdAt > b.e.createdAt ? 1 : a.e.id < b.e.id ? -1 : 1));
  const series = [...new Set(rows.map((x) => x.e.series))].sort();
  const out: string[] = [];
  for (const s of series) {
    out.push(`${s}:`);
    const mine = rows.filter((x) => x.e.series === s);
    out.push(
      renderTable(
        ['', 'ID', 'CREATED (UTC)', 'SIZE', 'WHY'],
        mine.map((x) => [
          x.action,
          x.e.id + (x.e.partial ? ' (partial)' : ''),
          formatTime(x.e.createdAt),
          formatBytes(x.e.bytes),
          x.e.reasons.join('; '),
        ]),
        [3],
      )
        .split('\n')
        .map((l) => '  ' + l)
        .join('\n'),
    );
  }
  if (r.orphans.length > 0) {
    out.push('leftovers (no backup owns them):');
    out.push(
      renderTable(
        ['', 'KEY', 'SIZE', 'WHY'],
        r.orphans.map((o) => [o.remove ? (r.dryRun ? 'would remove' : 'removed') : 'keep', o.key, formatBytes(o.size), o.reason]),
        [2],
      )
        .split('\n')
        .map((l) => '  ' + l)
        .join('\n'),
    );
  }
  const leftovers = r.orphans.filter((o) => o.remove).length;
  if (r.dryRun) {
    out.push(
      `dry run: would remove ${plural(r.remove.length, 'backup')} and ${plural(leftovers, 'leftover')} (${formatBytes(r.bytesFreed)}), keeping ${plural(r.keep.length, 'backup')}; nothing was changed`,
    );
  } else {
    out.push(
      `removed ${plural(r.removed, 'backup')} and ${plural(r.orphansRemoved, 'leftover')} (${formatBytes(r.bytesFreed)}), kept ${plural(r.keep.length, 'backup')}`,
    );
  }
  return out.join('\n');
}
