// `zkvault restore`: into a live ensemble (--zk), or offline as a dataDir (--data-dir, physical).
import type { Command } from 'commander';
import { envOption, type Runner } from '../cli.js';
import { PartialError, UsageError } from '../errors.js';
import { addRepoOption, addZkOptions } from './options.js';
import type { RestoreResult } from '../services/restore.js';
import { parseZxid } from '../core/zxid.js';

function human(r: RestoreResult): string {
  const lines: string[] = [];
  const head = r.dryRun ? `dry run: restore of ${r.backup.id} (${r.backup.zxid}) would` : `restored ${r.backup.id} (${r.backup.zxid}):`;
  lines.push(
    `${head} ${r.dryRun ? 'create' : 'created'} ${r.created}, ${r.dryRun ? 'update' : 'updated'} ${r.updated}, ${r.dryRun ? 'delete' : 'deleted'} ${r.deleted}, skip ${r.skipped} node(s)`,
  );
  lines.push(`  ${r.sourceRoot} → ${r.targetRoot} (mode ${r.mode})`);
  if (r.plan) {
    for (const p of r.plan.creates.slice(0, 50)) lines.push(`  + ${p}`);
    if (r.plan.creates.length > 50) lines.push(`  + … ${r.plan.creates.length - 50} more`);
    for (const u of r.plan.updates.slice(0, 50)) lines.push(`  ~ ${u.path} (${u.fields.join(', ')})`);
    for (const d of r.plan.deletes.slice(0, 50)) lines.push(`  - ${d}`);
    if (r.plan.cversions.length) lines.push(`  sequential counters checked on ${r.plan.cversions.length} parent(s)`);
  }
  for (const s of r.skippedNodes.filter((s) => s.reason !== 'identical').slice(0, 20)) lines.push(`  skipped ${s.path}: ${s.reason}`);
  if (!r.dryRun) {
    if (r.cversionsRaised) lines.push(`  raised the sequential counter of ${r.cversionsRaised} parent(s) to the backup's`);
    if (r.verify) {
      const v = r.verify;
      lines.push(
        v.mismatches.length === 0
          ? `  verified: ${v.checked} node(s) read back equal the backup${v.unreadable ? ` (${v.unreadable} unreadable with these credentials)` : ''}`
          : `  verification found ${v.mismatches.length} difference(s): ${v.mismatches
              .slice(0, 5)
              .map((m) => `${m.path} (${m.fields.join(', ')})`)
              .join('; ')}`,
      );
    }
    lines.push(`  target zxid now ${r.zxid}`);
  }
  for (const a of r.aclsNotRestored.slice(0, 20)) lines.push(`  ACL NOT RESTORED ${a.path}: ${a.reason}`);
  if (r.aclsNotRestored.length > 20) lines.push(`  … ${r.aclsNotRestored.length - 20} more ACL(s) not restored`);
  for (const f of r.failed.slice(0, 20)) lines.push(`  FAILED ${f.path}: ${f.error}`);
  return lines.join('\n');
}

/** The contract's fields (created, updated, deleted, skipped, zxid) come first; the rest is detail. */
function toJson(r: RestoreResult) {
  const { created, updated, deleted, skipped, zxid, ...detail } = r;
  return { created, updated, deleted, skipped, zxid, ...detail };
}

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('restore')
    .description('restore a backup into a live ensemble (--zk) or as a server dataDir (--data-dir)')
    .argument('[ref]', 'backup id, ID@ZXID or latest')
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
  addRepoOption(cmd);
  cmd.action(async (ref: string | undefined, opts) =>
    run(async ({ printer, signal }) => {
      const toZxid = opts.toZxid !== undefined ? parseZxid(opts.toZxid, '--to-zxid') : undefined;
      const { parseTime } = await import('../services/pitr.js');
      const toTime = opts.toTime !== undefined ? parseTime(opts.toTime) : undefined;
      if (!ref && toZxid === undefined && toTime === undefined)
        throw new UsageError('restore needs a backup id, --to-zxid or --to-time', { hint: 'zkvault list shows the ids' });
      if (opts.dataDir) {
        const myid = opts.myid === undefined ? undefined : Number(opts.myid);
        if (myid !== undefined && (!Number.isInteger(myid) || myid < 1 || myid > 255))
          throw new UsageError(`--myid ${opts.myid} is not a server id from 1 to 255`);
        const { restoreOffline } = await import('../services/restore-offline.js');
        const r = await restoreOffline({
          repo: opts.repo,
          ref,
          toZxid,
          toTime,
          dataDir: opts.dataDir,
          myid,
          bumpEpoch: Boolean(opts.bumpEpoch),
          signal,
          warn: (m) => printer.warn(m),
        });
        printer.result(r, () =>
          [
            `restored ${r.backup.id} at ${r.zxid} into ${r.dataDir}`,
            `  ${r.created} nodes, ${r.sessions} open session(s), snapshot ${r.snapshot}`,
            r.backup.chain.length > 1 ? `  chain: ${r.backup.chain.join(' → ')}` : '',
            `  start every member of the ensemble from a copy of this dataDir (docs/restore.md)`,
          ]
            .filter(Boolean)
            .join('\n'),
        );
        return r.notice ? 3 : undefined;
      }
      if (!opts.zk)
        throw new UsageError('restore needs --zk (a live ensemble) or --data-dir (an offline dataDir)', {
          hint: 'e.g. --zk 127.0.0.1:2181, or ZKVAULT_ZK',
        });
      if (!['create', 'overwrite', 'mirror'].includes(opts.mode)) {
        throw new UsageError(`--mode ${opts.mode} is not one of create, overwrite, mirror`);
      }
      const maxBytes = Number(opts.juteMaxbuffer);
      if (!Number.isInteger(maxBytes) || maxBytes < 4096)
        throw new UsageError(`--jute-maxbuffer ${opts.juteMaxbuffer} is not a byte count`);
      if (!opts.dryRun) {
        printer.warn(
          opts.into
            ? `restoring into a live ensemble fires watches on every node it changes under ${opts.into}`
            : 'restoring into a live ensemble fires watches on every node it changes; applications see partial state until it ends (--into or an offline restore avoid that)',
        );
      }
      const { restoreLogical } = await import('../services/restore.js');
      try {
        const result = await restoreLogical({
          ref,
          toZxid,
          toTime,
          repo: opts.repo,
          zk: opts.zk,
          auth: opts.auth,
          path: opts.path,
          into: opts.into,
          mode: opts.mode,
          dryRun: Boolean(opts.dryRun),
          ephemeralsAsPersistent: Boolean(opts.ephemeralsAsPersistent),
          sequentialCounters: opts.sequentialCounters !== false,
          maxRequestBytes: maxBytes,
          signal,
          warn: (m) => printer.warn(m),
        });
        for (const w of result.warnings) printer.warn(w);
        printer.result(toJson(result), () => human(result));
        if ((result.verify && result.verify.mismatches.length > 0) || result.notice) return 3;
      } catch (err) {
        const result = (err as { result?: RestoreResult }).result;
        if (err instanceof PartialError && result) {
          printer.result(toJson(result), () => human(result));
        }
        throw err;
      }
    }, opts),
  );
}
