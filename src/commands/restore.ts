// `zkvault restore`: into a live ensemble (--zk), or offline as a dataDir (--data-dir, physical).
import type { Command } from 'commander';
import { ProgressLine } from '../output/progress.js';
import { parseZxid } from '../core/zxid.js';
import { EXIT_CODES, UsageError } from '../errors.js';
import { offlineRestoreJson, renderOfflineRestore, renderRestore, restoreJson } from '../output/restore.js';
import type { GlobalOptions, Runner } from './context.js';
import { envOption } from './env-options.js';
import { addRepoOption, addZkOptions, openRepo, zkAccessOf } from './options.js';

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('restore')
    .description('restore a backup into a live ensemble (--zk) or as a server dataDir (--data-dir)')
    .argument('[ref]', 'backup id (or a unique prefix of one), ID@ZXID, or latest')
    .addOption(envOption('--path <path>', 'restore only this subtree of the backup'))
    .addOption(envOption('--into <path>', 'put the restored subtree here instead of its own path'))
    .addOption(
      envOption(
        '--mode <mode>',
        'create: refuse if any node exists; overwrite: update differing nodes; mirror: overwrite and delete extras',
      ).default('create'),
    )
    .addOption(envOption('--dry-run', 'print the plan and change nothing'))
    .addOption(envOption('--ephemerals-as-persistent', 'restore ephemeral nodes as persistent ones (skipped by default)'))
    .addOption(envOption('--no-sequential-counters', "do not raise parents' sequential counters to the backup's"))
    .addOption(envOption('--jute-maxbuffer <bytes>', "the target servers' jute.maxbuffer, if raised").default('1048575'))
    .addOption(envOption('--data-dir <dir>', 'offline: write a new dataDir a real server starts from, at exactly that zxid'))
    .addOption(envOption('--myid <n>', 'offline: write this myid (a quorum member)'))
    .addOption(
      envOption(
        '--bump-epoch',
        'offline: name the snapshot in a new epoch above every zxid the repository has seen, so clients that saw ' +
          'newer zxids before a rollback are not refused ("has seen zxid"). Trade-off: every member must be restored ' +
          'from the same result, and the ensemble continues in that epoch',
      ),
    )
    .addOption(envOption('--to-zxid <zxid>', 'restore the state after this txn, choosing the physical backup that covers it'))
    .addOption(envOption('--to-time <time>', 'restore the state after the last txn at or before this ISO 8601 time (with zone)'));
  addZkOptions(cmd, true);
  addRepoOption(cmd, { readOnly: true });
  cmd.action(async (ref: string | undefined, opts: RestoreFlags) =>
    run(async ({ printer, signal }) => {
      const toZxid = opts.toZxid !== undefined ? parseZxid(opts.toZxid, '--to-zxid') : undefined;
      const { parseTime } = await import('../sources/physical.js');
      const toTime = opts.toTime !== undefined ? parseTime(opts.toTime) : undefined;
      const { restore } = await import('../services/restore.js');
      if (!ref && toZxid === undefined && toTime === undefined)
        throw new UsageError('restore needs a backup id, --to-zxid or --to-time', { hint: 'zkvault list shows the ids' });
      const warn = (m: string) => printer.warn(m);
      if (opts.dataDir) {
        const myid = opts.myid === undefined ? undefined : Number(opts.myid);
        if (myid !== undefined && (!Number.isInteger(myid) || myid < 1 || myid > 255))
          throw new UsageError(`--myid ${opts.myid} is not a server id from 1 to 255`);
        const repo = await openRepo(opts, { signal, warn });
        const r = await restore({
          repo,
          ref,
          toZxid,
          toTime,
          target: { kind: 'dataDir', dir: opts.dataDir, myid, bumpEpoch: Boolean(opts.bumpEpoch) },
          ...(opts.path !== undefined ? { path: opts.path } : {}),
          ...(opts.into !== undefined ? { into: opts.into } : {}),
          // Everything is read and checked as for the real run; nothing is written.
          dryRun: Boolean(opts.dryRun),
          signal,
          warn,
        });
        printer.result(offlineRestoreJson(r, opts.dataDir), () => renderOfflineRestore(r, opts.dataDir!));
        return r.notice ? 3 : undefined;
      }
      if (!opts.zk)
        throw new UsageError('restore needs --zk (a live ensemble) or --data-dir (an offline dataDir)', {
          hint: 'e.g. --zk 127.0.0.1:2181, or ZKVAULT_ZK',
        });
      const mode = opts.mode;
      if (mode !== 'create' && mode !== 'overwrite' && mode !== 'mirror') {
        throw new UsageError(`--mode ${mode} is not one of create, overwrite, mirror`);
      }
      const maxBytes = Number(opts.juteMaxbuffer);
      if (!Number.isInteger(maxBytes) || maxBytes < 4096)
        throw new UsageError(`--jute-maxbuffer ${opts.juteMaxbuffer} is not a byte count`);
      const repo = await openRepo(opts, { signal, warn });
      const progress = new ProgressLine(printer, 'restore');
      let step = '';
      const result = await restore({
        repo,
        ref,
        toZxid,
        toTime,
        target: { kind: 'ensemble', zk: opts.zk, access: zkAccessOf(opts), maxRequestBytes: maxBytes },
        path: opts.path,
        into: opts.into,
        mode,
        dryRun: Boolean(opts.dryRun),
        ephemeralsAsPersistent: Boolean(opts.ephemeralsAsPersistent),
        sequentialCounters: opts.sequentialCounters !== false,
        signal,
        warn,
        ...(progress.active
          ? {
              onProgress: (s: string, done: number, total?: number) => {
                if (s !== step) progress.step((step = s));
                progress.update(done, undefined, total);
              },
            }
          : {}),
      });
      progress.done();
      for (const w of result.warnings) printer.warn(w);
      printer.result(restoreJson(result), () => renderRestore(result));
      if (result.partial) {
        printer.error(result.partial.message, result.partial.hint);
        return EXIT_CODES.partial;
      }
      if ((result.verify && result.verify.differing > 0) || result.notice) return EXIT_CODES.partial;
    }, opts),
  );
}

interface RestoreFlags extends GlobalOptions, Record<string, unknown> {
  path?: string;
  into?: string;
  mode: string;
  dryRun?: boolean;
  ephemeralsAsPersistent?: boolean;
  sequentialCounters?: boolean;
  juteMaxbuffer: string;
  dataDir?: string;
  myid?: string;
  bumpEpoch?: boolean;
  toZxid?: string;
  toTime?: string;
  zk?: string;
  auth?: string[];
  repo: string;
}
