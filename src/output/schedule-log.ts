// The scheduler's log on stderr: one JSON object per line when stderr is not a terminal (for journald,
// docker and Kubernetes log collectors), one readable line per event on a terminal.
import { Chalk } from 'chalk';
import { stderrChalk } from './diff.js';
import type { ScheduleEvent } from '../services/schedule.js';
import { formatBytes, formatDuration } from './format.js';

export type LogFormat = 'json' | 'text';

export interface EventLogOptions {
  /** `auto`: json unless stderr is a terminal. */
  format: LogFormat | 'auto';
  /** Text only: leave out info events (warnings and failures still print). */
  quiet?: boolean;
  stream?: NodeJS.WritableStream;
}

/** A stamped event, as written: `time` and `level` first, then the event's own fields. */
export type LoggedEvent = ScheduleEvent & { time: string; level: 'info' | 'warn' | 'error' };

export function levelOf(e: ScheduleEvent): LoggedEvent['level'] {
  switch (e.event) {
    case 'failure':
      return 'error';
    case 'warning':
    case 'skip':
    case 'interrupted':
      return 'warn';
    case 'backup':
      return e.partial ? 'warn' : 'info';
    case 'stop':
      return e.exitCode === 0 ? 'info' : 'error';
    default:
      return 'info';
  }
}

export function createEventLog(options: EventLogOptions): (e: ScheduleEvent) => void {
  const stream = options.stream ?? process.stderr;
  const format: LogFormat = options.format === 'auto' ? ((stream as NodeJS.WriteStream).isTTY ? 'text' : 'json') : options.format;
  return (e) => {
    const time = new Date().toISOString();
    const level = levelOf(e);
    if (format === 'json') {
      stream.write(JSON.stringify({ time, level, ...e }) + '\n');
      return;
    }
    if (options.quiet && level === 'info') return;
    const text = describeEvent(e);
    const chalk = stream === process.stderr ? stderrChalk() : new Chalk({ level: 0 });
    const painted = level === 'error' ? chalk.red(text) : level === 'warn' ? chalk.yellow(text) : text;
    stream.write(`${chalk.dim(time.replace(/\.\d+Z$/, 'Z'))} ${painted}\n`);
  };
}

/** One line for a person. */
export function describeEvent(e: ScheduleEvent): string {
  switch (e.event) {
    case 'start':
      return (
        `schedule started: ${e.kind} backups of ${e.source} into ${e.repo}, cron "${e.cron}"${e.timezone ? ` (${e.timezone})` : ''}` +
        `${e.fullEvery ? `, a full backup every ${e.fullEvery} runs` : ''}${e.keep ? `, then prune (${e.keep})` : ''}; next run ${e.next ?? 'never'}`
      );
    case 'run':
      return `run ${e.run} started${e.mode ? ` (${e.mode})` : ''}`;
    case 'progress':
      return `run ${e.run}: ${e.nodes} nodes read (${formatBytes(e.bytes)}) in ${formatDuration(e.elapsedMs)}`;
    case 'backup':
      if (e.unchanged) return `run ${e.run}: nothing new since ${e.id} (up to ${e.zxid.to}); no backup taken`;
      return (
        `run ${e.run}: backup ${e.id}${e.partial ? ' (PARTIAL)' : ''} done: ${e.kind}${e.chain ? (e.chain.parent ? ` incremental (depth ${e.chain.depth})` : ' full') : ''}, ` +
        `${e.nodes} nodes, zxid ${e.zxid.from}..${e.zxid.to}, ${formatBytes(e.bytes)}, ${formatDuration(e.durationMs)}`
      );
    case 'prune':
      return `run ${e.run}: prune kept ${e.kept}, removed ${e.removed} backup(s)${e.removedIds.length ? ` (${e.removedIds.join(', ')})` : ''} and ${e.orphansRemoved} leftover(s), freed ${formatBytes(e.bytesFreed)}`;
    case 'failure':
      return (
        `run ${e.run}: ${e.stage} failed (exit ${e.code}): ${e.message}${e.hint ? ` — hint: ${e.hint}` : ''}; ${e.consecutiveFailures} consecutive failure(s)` +
        (e.maxFailures ? ` of ${e.maxFailures} allowed` : '') +
        `; next try ${e.next ?? 'never'}`
      );
    case 'skip':
      return `tick at ${e.scheduled} skipped: run ${e.inFlightRun} is still in flight`;
    case 'warning':
      return `${e.run !== undefined ? `run ${e.run}: ` : ''}warning: ${e.message}`;
    case 'stopping':
      return `stopping (${e.reason})${e.inFlightRun !== undefined ? `: waiting up to ${formatDuration(e.graceMs)} for run ${e.inFlightRun} to finish` : ''}`;
    case 'interrupted':
      return `run ${e.run}: ${e.stage} interrupted after the ${formatDuration(e.graceMs)} grace; nothing half-written was published`;
    case 'stop':
      return `schedule stopped (${e.reason}): ${e.runs} run(s), ${e.succeeded} succeeded, ${e.failed} failed, ${e.skipped} tick(s) skipped; exit ${e.exitCode}`;
  }
}
