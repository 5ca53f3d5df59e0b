// `zkvault verify`: integrity of backups; exit 4 when any problem is found.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { ProgressLine } from '../output/progress.js';
import { renderVerify } from '../output/verify.js';
import type { GlobalOptions, Runner } from './context.js';
import { envOption } from './env-options.js';
import { addRepoOption, openRepo } from './options.js';

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('verify')
    .description(
      'check backups (every backup in the repository unless ids are given): checksums and chains always; --deep also parses and replays everything',
    )
    .argument('[ids...]', 'backup ids, unique prefixes of them, or latest (default: every backup, as --all)')
    .addOption(envOption('--all', 'every backup in the repository, and what is there without a manifest (the default)'))
    .addOption(envOption('--deep', 'also load every tree and check it against its manifest'));
  addRepoOption(cmd, { readOnly: true });
  cmd.action(async (ids: string[], opts: GlobalOptions & { all?: boolean; deep?: boolean } & Record<string, unknown>) =>
    run(async ({ printer, signal }) => {
      if (ids.length > 0 && opts.all) throw new UsageError('give backup ids or --all, not both');
      const { verifyBackups } = await import('../services/verify.js');
      const progress = new ProgressLine(printer, opts.deep ? 'verify --deep' : 'verify', 'backups');
      const repo = await openRepo(opts, { signal, warn: (m) => printer.warn(m) });
      const result = await verifyBackups({
        repo,
        refs: opts.all || ids.length === 0 ? [] : ids,
        deep: Boolean(opts.deep),
        signal,
        ...(progress.active ? { onProgress: (done: number, total: number) => progress.update(done, undefined, total, true) } : {}),
      });
      progress.done();
      printer.result(result, () => renderVerify(result, Boolean(opts.deep), repo.format()));
      return result.ok ? 0 : 4;
    }, opts),
  );
}
