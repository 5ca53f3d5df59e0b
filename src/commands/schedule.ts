// `zkvault schedule`: a foreground daemon — a backup at every tick of --cron (logical, or physical with
// --data-dir), then prune when --keep-* rules are given; logs one event per line on stderr.
import type { Command } from 'commander';
import { parseFixedDuration } from '../core/duration.js';
import { CancelledError, UsageError } from '../errors.js';
import { createEventLog } from '../output/schedule-log.js';
import { redactLocation } from '../storage/redact.js';
import type { ScheduledBackup, ScheduleSummary } from '../services/schedule.js';
import type { GlobalOptions, Runner } from './context.js';
import { collect, envOption, optionText } from './env-options.js';
import {
  addKeepOptions,
  addLogicalReadOptions,
  addEncryptOption,
  addRepoOption,
  addZkOptions,
  keepFlagsFrom,
  logicalReadOf,
  openRepo,
  zkAccessOf,
} from './options.js';

interface ScheduleFlags extends GlobalOptions, Record<string, unknown> {
  cron?: string;
  timezone?: string;
  path: string;
  exclude?: string[];
  dataDir?: string;
  logDir?: string;
  incremental?: boolean;
  fullEvery?: string;
  maxFailures?: string;
  maxRuns?: string;
  stopGrace: string;
  logFormat: string;
  zk: string;
  auth?: string[];
  repo: string;
}

function positiveInt(value: unknown, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const text = optionText(value).trim();
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} ${optionText(value)} is not a whole number of ${min} or more`);
  }
  return Number(text);
}

function humanSummary(s: ScheduleSummary): string {
  return `schedule stopped (${s.reason}): ${s.runs} run(s), ${s.succeeded} succeeded, ${s.failed} failed, ${s.skipped} tick(s) skipped; ${s.backups.length} backup(s) taken`;
}

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('schedule')
    .description('foreground daemon: a backup at every tick of --cron, then prune with the --keep-* rules')
    .addOption(envOption('--cron <expr>', 'when to back up: 5 fields, or 6 with seconds first (e.g. "0 */6 * * *", "*/30 * * * * *")'))
    .addOption(envOption('--timezone <zone>', "IANA time zone --cron is read in (default: the host's local time)"))
    .addOption(envOption('--path <path>', 'logical: the subtree to back up').default('/'))
    .addOption(envOption('--exclude <path>', 'logical: leave out this subtree (repeatable)').argParser(collect))
    .addOption(envOption('--data-dir <dir>', "physical: the server's dataDir"))
    .addOption(envOption('--log-dir <dir>', 'physical: the dataLogDir, when apart from dataDir'))
    .addOption(envOption('--incremental', 'physical: every run after the first is incremental'))
    .addOption(envOption('--full-every <n>', 'physical: a full backup every N runs, incrementals in between'))
    .addOption(envOption('--max-failures <n>', "exit after N consecutive failed runs, with the last failure's exit code (default: never)"))
    .addOption(envOption('--max-runs <n>', 'exit after N runs (default: never)'))
    .addOption(
      envOption('--stop-grace <duration>', 'on SIGTERM/SIGINT, let a run in flight finish for this long before aborting it').default('10s'),
    )
    .addOption(envOption('--log-format <format>', 'auto (JSON lines unless stderr is a terminal), json or text').default('auto'));
  addLogicalReadOptions(cmd);
  addZkOptions(cmd);
  addKeepOptions(cmd);
  addEncryptOption(addRepoOption(cmd));
  cmd.action(async (opts: ScheduleFlags) =>
    run(async ({ printer, signal }) => {
      if (!opts.cron)
        throw new UsageError('schedule needs --cron', { hint: 'e.g. zkvault schedule --cron "0 * * * *" --keep-hourly 24 --keep-daily 7' });
      const logFormat = String(opts.logFormat);
      if (logFormat !== 'auto' && logFormat !== 'json' && logFormat !== 'text')
        throw new UsageError(`--log-format ${logFormat}: give auto, json or text`);
      let backup: ScheduledBackup;
      if (opts.dataDir) {
        const fullEvery = positiveInt(opts.fullEvery, '--full-every', 1);
        backup = { kind: 'physical', dataDir: opts.dataDir, logDir: opts.logDir, incremental: Boolean(opts.incremental), fullEvery };
      } else {
        if (opts.incremental || opts.fullEvery !== undefined)
          throw new UsageError('--incremental and --full-every apply to physical backups (--data-dir)');
        if (opts.logDir) throw new UsageError('--log-dir applies to physical backups (--data-dir)');
        backup = { kind: 'logical', zk: opts.zk, access: zkAccessOf(opts), path: opts.path, exclude: opts.exclude, ...logicalReadOf(opts) };
      }
      const keep = keepFlagsFrom(opts);
      const { runSchedule } = await import('../services/schedule.js');
      const summary = await runSchedule({
        cron: String(opts.cron),
        timezone: opts.timezone,
        repo: { location: redactLocation(opts.repo), open: (o) => openRepo(opts, o) },
        backup,
        retention: keep ?? undefined,
        maxFailures: positiveInt(opts.maxFailures, '--max-failures', 1),
        maxRuns: positiveInt(opts.maxRuns, '--max-runs', 1),
        stopGraceMs: parseFixedDuration(opts.stopGrace, '--stop-grace'),
        signal,
        onEvent: createEventLog({ format: logFormat, quiet: printer.quiet }),
      });
      printer.result(
        {
          reason: summary.reason,
          runs: summary.runs,
          succeeded: summary.succeeded,
          failed: summary.failed,
          skipped: summary.skipped,
          consecutiveFailures: summary.consecutiveFailures,
          interrupted: summary.interrupted,
          backups: summary.backups,
          lastFailure: summary.lastFailure ? { message: summary.lastFailure.message, code: summary.lastFailure.code } : null,
        },
        () => (printer.quiet ? '' : humanSummary(summary)),
      );
      if (summary.interrupted) throw new CancelledError('schedule stopped: the run in flight was interrupted');
      // Stopped by its own limits after a failure: the failure itself is the exit status.
      if (summary.reason !== 'signal' && summary.lastFailure) throw summary.lastFailure.error;
      return 0;
    }, opts),
  );
}
