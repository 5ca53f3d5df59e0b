// schedule: a foreground daemon that takes a backup at every tick of a cron expression (croner), then
// prunes; one run at a time (a tick that finds a run in flight is skipped and logged, and the
// repository lock keeps other processes out); failures are logged, counted and retried at the next
// tick; a stop request lets an in-flight run finish within a grace period, then aborts it.
import { resolve as resolvePath } from 'node:path';
import { Cron } from 'croner';
import { CancelledError, EXIT_CODES, UsageError, ZkvaultError } from '../errors.js';
import { chainLinkOf, type ChainLink } from '../core/chain.js';
import { describePolicy, type RetentionPolicy } from '../core/retention.js';
import type { StorageRepository } from '../repository/repository.js';
import type { Repository } from '../repository/types.js';
import type { ZkAccess } from '../zk/client.js';
import { backupLogical, type BackupResult } from './backup.js';
import { validateZnodePath } from '../core/znode-path.js';
import { backupPhysical } from './physical-backup.js';
import { pruneRepository } from './prune.js';

export type ScheduledBackup =
  | {
      kind: 'logical';
      zk: string;
      access?: ZkAccess;
      path?: string;
      exclude?: string[];
      sessions?: number;
      concurrency?: number;
      rate?: number;
    }
  | {
      kind: 'physical';
      dataDir: string;
      logDir?: string;
      /** Every run after the first is incremental (a new chain starts only when one cannot continue). */
      incremental?: boolean;
      /** A full backup when the newest chain of this dataDir already holds N backups; incremental otherwise. */
      fullEvery?: number;
    };

export interface ScheduleOptions {
  /** Cron expression: 5 fields, or 6 with seconds first (croner syntax). */
  cron: string;
  /** IANA zone the expression is read in (default: the host's local time). */
  timezone?: string;
  /**
   * Opens the repository (for each run, with that run's signal): the command knows the location and
   * its settings. `location` is how the log names it (credentials redacted).
   */
  repo: { location: string; open(o: { create?: boolean; signal?: AbortSignal; warn?: (m: string) => void }): Promise<StorageRepository> };
  backup: ScheduledBackup;
  /** Prune after each backup with this policy (none: never prune). */
  retention?: { policy: RetentionPolicy; orphanGraceMs: number };
  /** Stop after this many consecutive failed runs (0 or undefined: never). */
  maxFailures?: number;
  /** Stop after this many runs (0 or undefined: never). */
  maxRuns?: number;
  /** After a stop request, how long an in-flight run may take to finish before it is aborted. */
  stopGraceMs: number;
  /** Aborting it asks the daemon to stop (SIGTERM, SIGINT). */
  signal: AbortSignal;
  /** Every event, as it happens. */
  onEvent: (event: ScheduleEvent) => void;
}

/** How often a run's JSON log says how far its walk got. */
export const PROGRESS_EVERY_MS = 10_000;

export type StopReason = 'signal' | 'max-runs' | 'max-failures';
export type RunStage = 'backup' | 'prune';

export type ScheduleEvent =
  | {
      event: 'start';
      cron: string;
      timezone: string | null;
      kind: ScheduledBackup['kind'];
      /** What is backed up: `zk://connect/path` or the dataDir. */
      source: string;
      repo: string;
      /** The prune policy, e.g. `last 3, daily 7`, or null when there is no pruning. */
      keep: string | null;
      fullEvery: number | null;
      maxFailures: number | null;
      next: string | null;
      pid: number;
    }
  | { event: 'run'; run: number; scheduled: string; mode?: 'full' | 'incremental' }
  /** Every PROGRESS_EVERY_MS of a logical backup's walk: how far it got. */
  | { event: 'progress'; run: number; nodes: number; bytes: number; elapsedMs: number }
  | ({
      event: 'backup';
      run: number;
      /** Physical: the chain link of the new backup (null for logical). */
      chain: ChainLink | null;
      /** Physical incremental with no new txn: no backup was taken; `id` is the newest backup. */
      unchanged?: boolean;
    } & Pick<BackupResult, 'id' | 'kind' | 'nodes' | 'bytes' | 'zxid' | 'partial' | 'durationMs'>)
  | { event: 'prune'; run: number; kept: number; removed: number; removedIds: string[]; orphansRemoved: number; bytesFreed: number }
  | {
      event: 'failure';
      run: number;
      stage: RunStage;
      message: string;
      hint?: string;
      /** The exit code the failure would have as a one-shot command. */
      code: number;
      errorKind: string;
      consecutiveFailures: number;
      maxFailures: number | null;
      next: string | null;
    }
  | { event: 'skip'; scheduled: string; inFlightRun: number }
  | { event: 'warning'; run?: number; message: string }
  | { event: 'stopping'; reason: StopReason; inFlightRun?: number; graceMs: number }
  | { event: 'interrupted'; run: number; stage: RunStage; graceMs: number }
  | ({ event: 'stop'; exitCode: number } & Pick<
      ScheduleSummary,
      'reason' | 'runs' | 'succeeded' | 'failed' | 'skipped' | 'consecutiveFailures'
    >);

export interface ScheduleSummary {
  reason: StopReason;
  runs: number;
  succeeded: number;
  failed: number;
  skipped: number;
  consecutiveFailures: number;
  /** Ids of the backups this daemon took, oldest first. */
  backups: string[];
  /** A run was aborted after the grace period (exit 130). */
  interrupted: boolean;
  /** The error of the last run, when it failed (max-failures and max-runs stops rethrow it). */
  lastFailure: { message: string; code: number; error: unknown } | null;
}

/** The exit code a failure has as a one-shot command (for logs; cli.ts maps the error itself). */
function codeOf(err: unknown): { code: number; kind: string } {
  if (err instanceof ZkvaultError) return { code: err.exitCode, kind: err.kind };
  return { code: EXIT_CODES.user, kind: 'user' };
}

/** Validates a cron expression and time zone; returns the job's next run time. */
export function checkCron(cron: string, timezone?: string): Date {
  let job: Cron;
  try {
    job = new Cron(cron, { paused: true, timezone });
  } catch (err) {
    throw new UsageError(`--cron "${cron}"${timezone ? ` (--timezone ${timezone})` : ''}: ${(err as Error).message}`, {
      hint: 'five fields (minute hour day month weekday), or six with seconds first, e.g. "0 */6 * * *" or "*/30 * * * * *"',
    });
  }
  const next = job.nextRun();
  job.stop();
  if (!next) throw new UsageError(`--cron "${cron}" never fires`, { hint: 'check the day and month fields' });
  return next;
}

function describeSource(b: ScheduledBackup): string {
  return b.kind === 'logical' ? `zk://${b.zk}${b.path && b.path !== '/' ? b.path : ''}` : resolvePath(b.dataDir);
}

export async function runSchedule(o: ScheduleOptions): Promise<ScheduleSummary> {
  checkCron(o.cron, o.timezone);
  // A mistake in the flags fails now (exit 2), not at every tick.
  if (o.backup.kind === 'logical') {
    validateZnodePath(o.backup.path ?? '/');
    for (const e of o.backup.exclude ?? []) validateZnodePath(e, '--exclude');
  }
  const emit = o.onEvent;
  const maxFailures = o.maxFailures && o.maxFailures > 0 ? o.maxFailures : null;
  const maxRuns = o.maxRuns && o.maxRuns > 0 ? o.maxRuns : null;
  const summary: ScheduleSummary = {
    reason: 'signal',
    runs: 0,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    consecutiveFailures: 0,
    backups: [],
    interrupted: false,
    lastFailure: null,
  };

  let stopReason: StopReason | null = null;
  let wakeStop: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => (wakeStop = resolve));
  const requestStop = (reason: StopReason) => {
    if (stopReason) return;
    stopReason = reason;
    wakeStop();
  };

  interface InFlightRun {
    run: number;
    controller: AbortController;
    done: Promise<void>;
  }
  let inFlight: InFlightRun | null = null;
  const currentRun = (): InFlightRun | null => inFlight;
  let job: Cron | undefined;
  const nextRun = () => job?.nextRun()?.toISOString() ?? null;

  const runOnce = async (run: number, scheduled: Date, controller: AbortController): Promise<void> => {
    const signal = controller.signal;
    const warn = (message: string) => emit({ event: 'warning', run, message });
    let stage: RunStage = 'backup';
    try {
      let result: BackupResult & { unchanged?: boolean };
      let chain: ChainLink | null = null;
      const b = o.backup;
      if (b.kind === 'logical') {
        emit({ event: 'run', run, scheduled: scheduled.toISOString() });
        const began = Date.now();
        let reported = began;
        result = await backupLogical({
          zk: b.zk,
          access: b.access,
          path: b.path,
          exclude: b.exclude,
          sessions: b.sessions,
          concurrency: b.concurrency,
          rate: b.rate,
          repo: await o.repo.open({ create: true, signal, warn }),
          signal,
          onProgress: (p) => {
            const now = Date.now();
            if (now - reported < PROGRESS_EVERY_MS) return;
            reported = now;
            emit({ event: 'progress', run, nodes: p.nodes, bytes: p.bytes, elapsedMs: now - began });
          },
          warn,
        });
      } else {
        const repo = await o.repo.open({ create: true, signal, warn });
        const mode = await physicalMode(repo, b);
        emit({ event: 'run', run, scheduled: scheduled.toISOString(), mode });
        result = await backupPhysical({
          dataDir: b.dataDir,
          logDir: b.logDir,
          repo,
          incremental: mode === 'incremental',
          signal,
          warn,
        });
        chain = chainLinkOf('physical', (await repo.resolve(result.id)).extra);
      }
      emit({
        event: 'backup',
        run,
        id: result.id,
        kind: result.kind,
        nodes: result.nodes,
        bytes: result.bytes,
        zxid: result.zxid,
        partial: result.partial,
        durationMs: result.durationMs,
        chain,
        ...(result.unchanged ? { unchanged: true } : {}),
      });
      if (!result.unchanged) summary.backups.push(result.id);
      if (o.retention && !result.unchanged) {
        stage = 'prune';
        const p = await pruneRepository(await o.repo.open({ signal, warn }), {
          policy: o.retention.policy,
          orphanGraceMs: o.retention.orphanGraceMs,
          signal,
          warn,
        });
        for (const w of p.warnings) warn(w);
        emit({
          event: 'prune',
          run,
          kept: p.keep.length,
          removed: p.removed,
          removedIds: p.remove.map((d) => d.id),
          orphansRemoved: p.orphansRemoved,
          bytesFreed: p.bytesFreed,
        });
      }
      summary.succeeded++;
      summary.consecutiveFailures = 0;
      summary.lastFailure = null;
    } catch (err) {
      // Aborted after the grace: whatever the run failed with, the abort is why.
      if (signal.aborted) {
        summary.interrupted = true;
        emit({ event: 'interrupted', run, stage, graceMs: o.stopGraceMs });
        return;
      }
      const { code, kind } = codeOf(err);
      summary.failed++;
      summary.consecutiveFailures++;
      const message = err instanceof Error ? err.message : String(err);
      summary.lastFailure = { message, code, error: err };
      emit({
        event: 'failure',
        run,
        stage,
        message,
        ...(err instanceof ZkvaultError && err.hint ? { hint: err.hint } : {}),
        code,
        errorKind: kind,
        consecutiveFailures: summary.consecutiveFailures,
        maxFailures,
        next: maxFailures && summary.consecutiveFailures >= maxFailures ? null : nextRun(),
      });
    }
  };

  const onTick = (scheduled: Date) => {
    if (stopReason) return;
    if (inFlight) {
      summary.skipped++;
      emit({ event: 'skip', scheduled: scheduled.toISOString(), inFlightRun: inFlight.run });
      return;
    }
    const run = ++summary.runs;
    const controller = new AbortController();
    const slot: InFlightRun = { run, controller, done: Promise.resolve() };
    inFlight = slot;
    slot.done = runOnce(run, scheduled, controller).finally(() => {
      inFlight = null;
      if (maxFailures && summary.consecutiveFailures >= maxFailures) requestStop('max-failures');
      else if (maxRuns && summary.runs >= maxRuns) requestStop('max-runs');
    });
  };

  const onAbort = () => requestStop('signal');
  if (o.signal.aborted) requestStop('signal');
  else o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (!stopReason) {
      job = new Cron(o.cron, { timezone: o.timezone }, (self: Cron) => onTick(self.currentRun() ?? new Date()));
    }
    emit({
      event: 'start',
      cron: o.cron,
      timezone: o.timezone ?? null,
      kind: o.backup.kind,
      source: describeSource(o.backup),
      repo: o.repo.location,
      keep: o.retention ? describePolicy(o.retention.policy) : null,
      fullEvery: o.backup.kind === 'physical' && o.backup.fullEvery ? o.backup.fullEvery : null,
      maxFailures,
      next: nextRun(),
      pid: process.pid,
    });
    await stopRequested;
    job?.stop();
    const reason = stopReason ?? 'signal';
    summary.reason = reason;
    const current = currentRun();
    emit({ event: 'stopping', reason, ...(current ? { inFlightRun: current.run } : {}), graceMs: o.stopGraceMs });
    if (current) {
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'grace'>((resolve) => (timer = setTimeout(() => resolve('grace'), o.stopGraceMs)));
      const first = await Promise.race([current.done.then(() => 'done' as const), graceOver]);
      clearTimeout(timer);
      if (first === 'grace') {
        current.controller.abort(new CancelledError(`stopping: run ${current.run} did not finish within the grace period`));
        await current.done;
      }
    }
  } finally {
    job?.stop();
    o.signal.removeEventListener('abort', onAbort);
  }
  let exitCode = 0;
  if (summary.interrupted) exitCode = EXIT_CODES.cancelled;
  else if (summary.reason !== 'signal' && summary.lastFailure) exitCode = summary.lastFailure.code;
  emit({
    event: 'stop',
    reason: summary.reason,
    runs: summary.runs,
    succeeded: summary.succeeded,
    failed: summary.failed,
    skipped: summary.skipped,
    consecutiveFailures: summary.consecutiveFailures,
    exitCode,
  });
  return summary;
}

/** Full or incremental, for a physical run: with fullEvery, from the newest chain of this dataDir. */
async function physicalMode(repo: Repository, b: Extract<ScheduledBackup, { kind: 'physical' }>): Promise<'full' | 'incremental'> {
  if (!b.fullEvery) return b.incremental ? 'incremental' : 'full';
  if (b.fullEvery <= 1) return 'full';
  const dataDir = resolvePath(b.dataDir);
  const mine = (await repo.list()).filter((m) => m.kind === 'physical' && m.source.dataDir === dataDir);
  const newest = mine[mine.length - 1];
  const link = newest ? chainLinkOf(newest.kind, newest.extra) : null;
  if (!link) return 'full';
  return link.depth + 1 < b.fullEvery ? 'incremental' : 'full';
}
