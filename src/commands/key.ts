// `zkvault key list|add|remove|passwd`: the passwords (key slots) of an encrypted repository. The current
// password comes as for every command (ZKVAULT_PASSWORD, --password-file, --password-command); a new one
// from ZKVAULT_NEW_PASSWORD, --new-password-file or --new-password-command.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { GlobalOptions, Runner } from './context.js';
import { envOption } from './env-options.js';
import { addRepoOption, openRepo } from './options.js';
import { passwordSourceOf } from './password.js';

type KeyFlags = GlobalOptions & Record<string, unknown>;

function addNewPasswordOptions(cmd: Command): Command {
  return cmd
    .addOption(envOption('--new-password-file <file>', 'read the new password from FILE (its first line)'))
    .addOption(envOption('--new-password-command <cmd>', 'run CMD (sh -c) and use the first line it prints as the new password'));
}

function newPassword(opts: KeyFlags): string {
  const source = passwordSourceOf(opts, 'new');
  if (!source) {
    throw new UsageError('no new password given', {
      hint: 'set ZKVAULT_NEW_PASSWORD, or give --new-password-file or --new-password-command',
    });
  }
  return source.read();
}

export function register(program: Command, run: Runner): void {
  const key = program.command('key').description("manage an encrypted repository's passwords (key slots) without rewriting its archives");

  addRepoOption(key.command('list').description('the key slots: id, when added, and which one the given password opens'), {
    readOnly: true,
  }).action(async (opts: KeyFlags) =>
    run(async ({ printer, signal }) => {
      const { listKeys } = await import('../services/keys.js');
      const keys = listKeys(await openRepo(opts, { signal, warn: (m) => printer.warn(m) }));
      printer.result(keys, () => keys.map((k) => `${k.id}  added ${k.createdAt}${k.current ? '  (this password)' : ''}`).join('\n'));
    }, opts),
  );

  addNewPasswordOptions(addRepoOption(key.command('add').description('add a password: a new key slot for the same repository key'))).action(
    async (opts: KeyFlags) =>
      run(async ({ printer, signal }) => {
        const { addKey } = await import('../services/keys.js');
        const repo = await openRepo(opts, { signal, warn: (m) => printer.warn(m) });
        const id = await addKey(repo, newPassword(opts));
        printer.result({ added: id }, () => `added key ${id} to ${repo.location}`);
      }, opts),
  );

  addRepoOption(
    key
      .command('remove')
      .argument('<id>', 'the key slot to remove (zkvault key list)')
      .description('remove a password (never the last one)'),
  ).action(async (id: string, opts: KeyFlags) =>
    run(async ({ printer, signal }) => {
      const { removeKey } = await import('../services/keys.js');
      const repo = await openRepo(opts, { signal, warn: (m) => printer.warn(m) });
      await removeKey(repo, id);
      printer.result({ removed: id }, () => `removed key ${id} from ${repo.location}`);
    }, opts),
  );

  addNewPasswordOptions(
    addRepoOption(key.command('passwd').description('change the given password: its key slot is replaced by one for the new password')),
  ).action(async (opts: KeyFlags) =>
    run(async ({ printer, signal }) => {
      const { changePassword } = await import('../services/keys.js');
      const repo = await openRepo(opts, { signal, warn: (m) => printer.warn(m) });
      const r = await changePassword(repo, newPassword(opts));
      printer.result(r, () => `changed the password of ${repo.location}: key ${r.removed} replaced by ${r.added}`);
    }, opts),
  );
}
