// `zkvault export`: a tree as NDJSON on stdout, one node per line, sorted by path.
import type { Command } from 'commander';
import { envOption, type Runner } from '../cli.js';
import { UsageError } from '../errors.js';
import { formatZxid, parseZxid } from '../core/zxid.js';
import { toExportLine } from '../core/node-record.js';

export function register(program: Command, run: Runner): void {
  program
    .command('export')
    .description('print a tree as NDJSON on stdout, one node per line, sorted by path')
    .argument('[id]', 'backup id, ID@ZXID or latest')
    .addOption(envOption('--data-dir <dir>', "read a server's snapshot and log files from this dataDir"))
    .addOption(envOption('--log-dir <dir>', 'the dataLogDir, when logs live apart from snapshots'))
    .addOption(envOption('--to-zxid <zxid>', 'replay to this zxid (0x… hex or decimal); default: the last complete txn'))
    .addOption(envOption('--path <path>', 'only this znode and its descendants'))
    .addOption(envOption('--no-verify-digest', 'do not compare recorded tree digests (checksums are still verified)'))
    .addOption(envOption('--repo <location>', 'repository holding the backup').default('./zkvault-repo'))
    .action(async (id: string | undefined, opts) =>
      run(async ({ printer, signal }) => {
        if (!opts.dataDir && !id) {
          throw new UsageError('export needs a backup id or --data-dir', {
            hint: 'zkvault export latest, or zkvault export --data-dir /var/lib/zookeeper [--to-zxid 0x…]',
          });
        }
        if (opts.dataDir && id) throw new UsageError('give a backup id or --data-dir, not both');
        const service = await import('../services/export.js');
        const result = opts.dataDir
          ? service.exportDataDir({
              dataDir: opts.dataDir,
              logDir: opts.logDir,
              toZxid: opts.toZxid !== undefined ? parseZxid(opts.toZxid, '--to-zxid') : undefined,
              path: opts.path,
              verifyDigests: opts.verifyDigest !== false,
              signal,
              warn: (m) => printer.warn(m),
            })
          : await service.exportBackup({ ref: id!, repo: opts.repo, path: opts.path, signal, warn: (m) => printer.warn(m) });
        for (const rec of result.records) {
          const pending = printer.write(JSON.stringify(toExportLine(rec)) + '\n');
          if (pending) await pending;
        }
        printer.info(
          'id' in result
            ? `exported ${result.records.length} nodes of backup ${result.id} at ${formatZxid(result.zxid)}`
            : `exported ${result.records.length} nodes at ${formatZxid(result.zxid)} ` +
                `(${result.snapshot ?? 'no snapshot'} + ${result.txnsApplied} txns from ${result.logsRead} logs, ${result.digestsChecked} digests checked)`,
        );
      }, opts),
    );
}
