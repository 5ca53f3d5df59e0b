// `zkvault inspect ID`: one backup's manifest — human sections, or with --json the manifest itself.
import type { Command } from 'commander';
import { renderManifest } from '../output/inspect.js';
import type { GlobalOptions, Runner } from './context.js';
import { addRepoOption, openRepo } from './options.js';

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('inspect')
    .description('show one backup: manifest, members, zxid range it can restore to, counts by node type')
    .argument('<id>', 'backup id, a unique prefix of one, or latest');
  addRepoOption(cmd, { readOnly: true }).action(async (ref: string, opts: GlobalOptions & Record<string, unknown>) =>
    run(async ({ printer, signal }) => {
      const { inspectBackup } = await import('../services/inspect.js');
      const warn = (m: string) => printer.warn(m);
      const { manifest, restorable } = await inspectBackup({ repo: await openRepo(opts, { signal, warn }), ref, signal, warn });
      // --json is the sidecar manifest itself; `restorable` is added only when the backup holds txns
      // past a cut the repository knows of, so that its recorded range is not what it restores.
      printer.result(restorable.beyondCut ? { ...manifest, restorable } : manifest, () => renderManifest(manifest, restorable));
    }, opts),
  );
}
