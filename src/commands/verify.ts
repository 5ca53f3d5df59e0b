// `zkvault verify`: integrity of backups; exit 4 when any problem is found.
import type { Command } from 'commander';
import { envOption, type Runner } from '../cli.js';
import { UsageError } from '../errors.js';
import { addRepoOption } from './options.js';

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('verify')
    .description('check backups: checksums always; --deep also parses and replays everything')
    .argument('[ids...]', 'backup ids (or latest); none with --all')
    .addOption(envOption('--all', 'every backup in the repository'))
    .addOption(envOption('--deep', 'also load every tree and check it against its manifest'));
  addRepoOption(cmd);
  cmd.action(async (ids: string[], opts) =>
    run(async ({ printer, signal }) => {
      if (ids.length > 0 && opts.all) throw new UsageError('give backup ids or --all, not both');
      const { verifyBackups } = await import('../services/verify.js');
      const result = await verifyBackups({
        repo: opts.repo,
        refs: opts.all ? [] : ids.length ? ids : ['latest'],
        deep: Boolean(opts.deep),
        signal,
      });
      printer.result(result, () =>
        result.backups
          .map((b) =>
            [
              b.ok ? `ok      ${b.id}` : `FAILED  ${b.id}`,
              ...b.problems.map((p) => `        ${p}`),
              ...(b.warnings ?? []).map((w) => `        note: ${w}`),
            ].join('\n'),
          )
          .concat(result.ok ? [`${result.backups.length} backup(s) verified${opts.deep ? ' (deep)' : ''}`] : [])
          .join('\n'),
      );
      return result.ok ? 0 : 4;
    }, opts),
  );
}
