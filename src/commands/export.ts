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
    .argument('[id]', 'backup id, ID@ZXID or latest (repository exports come with backups)')
    .addOption(envOption('--data-dir <dir>', "read a server's snapshot and log files from this dataDir"))
    .addOption(envOption('--log-dir <dir>', 'the dataLogDir, when logs live apart from snapshots'))
    .addOption(envOption('--to-zxid <zxid>', 'replay to this zxid (0x… hex or decimal); default: the last complete txn'))
    .addOption(envOption('--path <path>', 'only this znode and its descendants').default('/'))
    .addOption(envOption('--no-verify-digest', 'do not compare recorded tree digests (checksums are still verified)'))
    .action(async (id: string | undefined, opts) =>
      run(async ({ printer, signal }) => {
        if (!opts.dataDir) {
          throw new UsageError(id ? 'exporting a backup by id is not available yet' : 'export needs --data-dir (or a backup id)', {
            hint: 'zkvault export --data-dir /var/lib/zookeeper [--to-zxid 0x…]',
          });
        }
        const { exportDataDir } = await import('../services/export.js');
        const result = exportDataDir({
          dataDir: opts.dataDir,
          logDir: opts.logDir,
          toZxid: opts.toZxid !== undefined ? parseZxid(opts.toZxid, '--to-zxid') : undefined,
          path: opts.path,
          verifyDigests: opts.verifyDigest !== false,
          signal,
          warn: (m) => printer.warn(m),
        });
        for (const rec of result.records) {
          const pending = printer.write(JSON.stringify(toExportLine(rec)) + '\n');
          if (pending) await pending;
        }
        printer.info(
          `exported ${result.records.length} nodes at ${formatZxid(result.zxid)} ` +
            `(${result.snapshot ?? 'no snapshot'} + ${result.txnsApplied} txns from ${result.logsRead} logs, ${result.digestsChecked} digests checked)`,
        );
      }, opts),
    );
}
