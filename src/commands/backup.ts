// `zkvault backup`: logical (walk a live tree) or, with --data-dir, physical (copy a server's files).
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { humanBackup } from '../output/backup.js';
import type { GlobalOptions, Runner } from './context.js';
import { collect, envOption } from './env-options.js';
import { ProgressLine } from '../output/progress.js';
import { addEncryptOption, addLogicalReadOptions, addRepoOption, addZkOptions, logicalReadOf, openRepo, zkAccessOf } from './options.js';

interface BackupFlags extends GlobalOptions, Record<string, unknown> {
  path: string;
  exclude?: string[];
  dataDir?: string;
  logDir?: string;
  incremental?: boolean;
  zk: string;
  auth?: string[];
  repo: string;
}

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('backup')
    .description("back up a live tree (logical, default) or a server's data files (physical, with --data-dir)")
    .addOption(envOption('--path <path>', 'logical: the subtree to back up').default('/'))
    .addOption(envOption('--exclude <path>', 'logical: leave out this subtree (repeatable)').argParser(collect))
    .addOption(envOption('--data-dir <dir>', "physical: the server's dataDir"))
    .addOption(envOption('--log-dir <dir>', 'physical: the dataLogDir, when apart from dataDir'))
    .addOption(envOption('--incremental', 'physical: store only txns after what the repository holds'));
  addLogicalReadOptions(cmd);
  addZkOptions(cmd);
  addEncryptOption(addRepoOption(cmd));
  cmd.action(async (opts: BackupFlags) =>
    run(async ({ printer, signal }) => {
      if (opts.dataDir) {
        const { backupPhysical } = await import('../services/physical-backup.js');
        const result = await backupPhysical({
          dataDir: opts.dataDir,
          logDir: opts.logDir,
          repo: await openRepo(opts, { create: true, signal, warn: (m) => printer.warn(m) }),
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
      const read = logicalReadOf(opts);
      const { backupLogical } = await import('../services/backup.js');
      const progress = new ProgressLine(printer, 'backup');
      const result = await backupLogical({
        zk: opts.zk,
        access: zkAccessOf(opts),
        path: opts.path,
        exclude: opts.exclude,
        repo: await openRepo(opts, { create: true, signal, warn: (m) => printer.warn(m) }),
        ...read,
        signal,
        ...(progress.active
          ? { onProgress: (p: { nodes: number; bytes: number; total?: number }) => progress.update(p.nodes, p.bytes, p.total) }
          : {}),
        warn: (m) => printer.warn(m),
      });
      progress.done();
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
