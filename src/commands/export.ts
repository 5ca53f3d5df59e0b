// `zkvault export`: a tree as NDJSON on stdout, one node per line, sorted by path.
import type { Command } from 'commander';
import { ProgressLine } from '../output/progress.js';
import { toExportLine } from '../core/node-record.js';
import { formatZxid, parseZxid } from '../core/zxid.js';
import { UsageError } from '../errors.js';
import type { GlobalOptions, Runner } from './context.js';
import { envOption } from './env-options.js';
import { addRepoOption, openRepo } from './options.js';

interface ExportFlags extends GlobalOptions, Record<string, unknown> {
  dataDir?: string;
  logDir?: string;
  toZxid?: string;
  path?: string;
  verifyDigest?: boolean;
  repo: string;
}

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('export')
    .description('print a tree as NDJSON on stdout, one node per line, sorted by path')
    .argument('[id]', 'backup id (or a unique prefix of one), ID@ZXID, or latest')
    .addOption(envOption('--data-dir <dir>', "read a server's snapshot and log files from this dataDir"))
    .addOption(envOption('--log-dir <dir>', 'the dataLogDir, when logs live apart from snapshots'))
    .addOption(envOption('--to-zxid <zxid>', 'replay to this zxid (0x… hex or decimal); default: the last complete txn'))
    .addOption(envOption('--path <path>', 'only this znode and its descendants'))
    .addOption(envOption('--no-verify-digest', 'do not compare recorded tree digests (checksums are still verified)'));
  addRepoOption(cmd, { readOnly: true }).action(async (id: string | undefined, opts: ExportFlags) =>
    run(async ({ printer, signal }) => {
      if (!opts.dataDir && !id) {
        throw new UsageError('export needs a backup id or --data-dir', {
          hint: 'zkvault export latest, or zkvault export --data-dir /var/lib/zookeeper [--to-zxid 0x…]',
        });
      }
      if (opts.dataDir && id) throw new UsageError('give a backup id or --data-dir, not both');
      const service = await import('../services/export.js');
      // Lines go out in writes of about 64 KiB: a write per node costs more than the rest of an export.
      const write = async (records: Iterable<Parameters<typeof toExportLine>[0]>) => {
        let lines: string[] = [];
        let size = 0;
        const flush = async () => {
          const pending = lines.length > 0 ? printer.write(lines.join('')) : undefined;
          lines = [];
          size = 0;
          if (pending) await pending;
        };
        for (const rec of records) {
          const line = JSON.stringify(toExportLine(rec)) + '\n';
          lines.push(line);
          size += line.length;
          if (size >= 64 * 1024) await flush();
        }
        await flush();
      };
      if (opts.dataDir) {
        const progress = new ProgressLine(printer, 'export: replaying', 'txns');
        let txns = 0;
        const r = service.exportDataDir({
          dataDir: opts.dataDir,
          logDir: opts.logDir,
          toZxid: opts.toZxid !== undefined ? parseZxid(opts.toZxid, '--to-zxid') : undefined,
          path: opts.path,
          verifyDigests: opts.verifyDigest !== false,
          signal,
          warn: (m) => printer.warn(m),
          ...(progress.active ? { onTxn: () => progress.update(++txns) } : {}),
        });
        progress.done();
        await write(r.records);
        printer.info(
          `exported ${r.count} nodes at ${formatZxid(r.zxid)} ` +
            `(${r.snapshot ?? 'no snapshot'} + ${r.txnsApplied} txns from ${r.logsRead} logs, ${r.digestsChecked} digests checked)`,
        );
        return;
      }
      const r = await service.exportBackup({
        ref: id!,
        repo: await openRepo(opts, { signal, warn: (m) => printer.warn(m) }),
        path: opts.path,
        signal,
        warn: (m) => printer.warn(m),
      });
      try {
        await write(r.records);
      } finally {
        await r.close();
      }
      printer.info(`exported ${r.count} nodes of backup ${r.id} at ${formatZxid(r.zxid)}`);
    }, opts),
  );
}
