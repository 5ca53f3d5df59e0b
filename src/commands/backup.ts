// `zkvault backup`: logical (walk a live tree) or, with --data-dir, physical (copy a server's files).
import type { Command } from 'commander';
import { envOption, type Runner } from '../cli.js';
import { UsageError } from '../errors.js';
import { addRepoOption, addZkOptions } from './options.js';
import { formatBytes, formatDuration } from '../output/format.js';
import type { BackupResult } from '../services/backup.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function humanBackup(r: BackupResult): string {
  const lines = [
    `backup ${r.id}${r.partial ? ' (PARTIAL)' : ''}`,
    `  kind       ${r.kind}`,
    `  nodes      ${r.nodes} (${r.counts.persistent} persistent, ${r.counts.ephemeral} ephemeral, ${r.counts.container} container, ${r.counts.ttl} ttl; ${formatBytes(r.counts.dataBytes)} of data)` +
      (r.kind === 'logical'
        ? '\n             (read through the client API, where container and TTL nodes show as persistent)'
        : `\n             (in the base snapshot, ${r.zxid.from}; the tree at a later zxid may hold more or fewer)`),
    `  archive    ${formatBytes(r.bytes)}`,
    `  zxid       ${r.zxid.from} .. ${r.zxid.to}` +
      (r.consistent === undefined
        ? ''
        : r.consistent
          ? '  (consistent: nothing changed during the walk)'
          : `  (fuzzy: ${r.changedDuringWalk} node(s) changed during the walk)`),
    `  took       ${formatDuration(r.durationMs)}`,
  ];
  if (r.unreadable.length > 0) {
    lines.push(`  unreadable ${r.unreadable.length} node(s):`);
    for (const u of r.unreadable.slice(0, 20)) lines.push(`    ${u.path}: ${u.reason}`);
    if (r.unreadable.length > 20) lines.push(`    … and ${r.unreadable.length - 20} more (zkvault inspect ${r.id})`);
  }
  return lines.join('\n');
}

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('backup')
    .description("back up a live tree (logical, default) or a server's data files (physical, with --data-dir)")
    .addOption(envOption('--path <path>', 'logical: the subtree to back up').default('/'))
    .addOption(envOption('--exclude <path>', 'logical: leave out this subtree (repeatable)').argParser(collect))
    .addOption(envOption('--concurrency <n>', 'logical: nodes read at once').default('64'))
    .addOption(envOption('--data-dir <dir>', "physical: the server's dataDir"))
    .addOption(envOption('--log-dir <dir>', 'physical: the dataLogDir, when apart from dataDir'))
    .addOption(envOption('--incremental', 'physical: store only txns after what the repository holds'));
  addZkOptions(cmd);
  addRepoOption(cmd);
  cmd.action(async (opts) =>
    run(async ({ printer, signal }) => {
      if (opts.dataDir) {
        const { backupPhysical } = await import('../services/physical-backup.js');
        const result = await backupPhysical({
          dataDir: opts.dataDir,
          logDir: opts.logDir,
          repo: opts.repo,
          incremental: Boolean(opts.incremental),
          signal,
          warn: (m) => printer.warn(m),
        });
        printer.result(
          {
            id: result.id,
            kind: result.kind,
            nodes: result.nodes,
            bytes: result.bytes,
            zxid: result.zxid,
            partial: result.partial,
            unchanged: result.unchanged ?? false,
            gap: result.gap,
            durationMs: result.durationMs,
          },
          () => (result.unchanged ? `nothing new since ${result.id} (up to ${result.zxid.to}); no backup taken` : humanBackup(result)),
        );
        return;
      }
      if (opts.incremental) throw new UsageError('--incremental applies to physical backups (--data-dir)');
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
        throw new UsageError(`--concurrency ${opts.concurrency} is not a whole number from 1 to 10000`);
      }
      const { backupLogical } = await import('../services/backup.js');
      const result = await backupLogical({
        zk: opts.zk,
        auth: opts.auth,
        path: opts.path,
        exclude: opts.exclude,
        repo: opts.repo,
        concurrency,
        signal,
        onProgress: (n) => printer.progress(`walked ${n} nodes…`),
        warn: (m) => printer.warn(m),
      });
      printer.progressDone();
      printer.result(
        {
          id: result.id,
          kind: result.kind,
          nodes: result.nodes,
          bytes: result.bytes,
          zxid: result.zxid,
          partial: result.partial,
          consistent: result.consistent,
          changedDuringWalk: result.changedDuringWalk,
          unreadable: result.unreadable,
          counts: result.counts,
          durationMs: result.durationMs,
        },
        () => humanBackup(result),
      );
      if (result.partial) {
        printer.warn(`${result.unreadable.length} node(s) could not be read: the backup is stored but marked partial`);
        return 3;
      }
    }, opts),
  );
}
