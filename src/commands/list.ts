// `zkvault list`: the complete backups, oldest first — a table, or with --json an array of objects.
import type { Command } from 'commander';
import { renderList } from '../output/list.js';
import type { GlobalOptions, Runner } from './context.js';
import { addRepoOption, openRepo } from './options.js';

export function register(program: Command, run: Runner): void {
  const cmd = program.command('list').description('list the complete backups, oldest first: id, kind, time, zxid range, nodes, size');
  addRepoOption(cmd, { readOnly: true }).action(async (opts: GlobalOptions & Record<string, unknown>) =>
    run(async ({ printer, signal }) => {
      const { listBackups } = await import('../services/list.js');
      const warn = (m: string) => printer.warn(m);
      const result = await listBackups({ repo: await openRepo(opts, { signal, warn }), signal, warn });
      if (result.backups.length === 0) printer.info(`no backups in ${result.location} yet`);
      printer.result(result.backups, () => (result.backups.length === 0 ? '' : renderList(result.backups)));
    }, opts),
  );
}
