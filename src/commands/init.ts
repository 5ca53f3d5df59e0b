// `zkvault init [--encrypt]`: create a repository before its first backup (a first backup creates one
// too); with --encrypt, an encrypted one keyed by the given password.
import type { Command } from 'commander';
import type { GlobalOptions, Runner } from './context.js';
import { addEncryptOption, addRepoOption, openRepo } from './options.js';

export function register(program: Command, run: Runner): void {
  const cmd = program.command('init').description('create a repository (encrypted with --encrypt) before its first backup');
  addEncryptOption(addRepoOption(cmd)).action(async (opts: GlobalOptions & Record<string, unknown>) =>
    run(async ({ printer, signal }) => {
      const repo = await openRepo(opts, { create: true, signal, warn: (m) => printer.warn(m) });
      const created = await repo.initialize();
      const encrypted = repo.keys() !== null;
      printer.result({ location: repo.location, created, encrypted }, () =>
        created
          ? `created ${encrypted ? 'an encrypted' : 'a'} repository at ${repo.location}`
          : `${repo.location} is already ${encrypted ? 'an encrypted' : 'a'} zkvault repository; nothing changed`,
      );
    }, opts),
  );
}
