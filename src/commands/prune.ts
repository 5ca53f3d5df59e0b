// `zkvault prune`: apply a retention policy (--keep-* rules) — print the plan with its reasons, and
// unless --dry-run remove what it removes, with leftovers no backup owns.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { renderPrune } from '../output/prune.js';
import type { GlobalOptions, Runner } from './context.js';
import { envOption } from './env-options.js';
import { addKeepOptions, addRepoOption, keepFlagsFrom, openRepo } from './options.js';

const NO_RULE_ERROR = () =>
  new UsageError('prune needs at least one --keep-* rule; with none it would remove every backup', {
    hint: 'e.g. zkvault prune --keep-last 3 --keep-daily 7 --dry-run (--keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within)',
  });

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('prune')
    .description('apply a retention policy: keep what the --keep-* rules and every kept chain need, remove the rest and leftovers')
    .addOption(envOption('--dry-run', 'print the plan and change nothing'));
  addKeepOptions(cmd);
  addRepoOption(cmd);
  cmd.action(async (opts: GlobalOptions & Record<string, unknown>) =>
    run(async ({ printer, signal }) => {
      const keep = keepFlagsFrom(opts);
      if (!keep) throw NO_RULE_ERROR();
      const { pruneRepository } = await import('../services/prune.js');
      const repo = await openRepo(opts, { signal, warn: (m) => printer.warn(m) });
      const result = await pruneRepository(repo, {
        policy: keep.policy,
        orphanGraceMs: keep.orphanGraceMs,
        dryRun: Boolean(opts.dryRun),
        signal,
        warn: (m) => printer.warn(m),
      });
      for (const w of result.warnings) printer.warn(w);
      printer.result(result, () => renderPrune(result));
    }, opts),
  );
}
