// Where a repository's password comes from: --password-file, --password-command or ZKVAULT_PASSWORD
// (never a plain flag: argv is visible to every user of the host), and the same three for a new one.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { envOption } from './env-options.js';

export interface PasswordSource {
  /** Where it comes from, for messages (never the password). */
  describe: string;
  read(): string;
}

/** Adds --password-file and --password-command (ZKVAULT_PASSWORD is read as it is). */
export function addPasswordOptions(cmd: Command): Command {
  return cmd
    .addOption(envOption('--password-file <file>', "read the encrypted repository's password from FILE (its first line)"))
    .addOption(envOption('--password-command <cmd>', "run CMD (with sh -c) and use the first line it prints as the repository's password"));
}

function firstLine(text: string, from: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (line.length === 0) throw new UsageError(`${from} gives an empty password`, { hint: 'put the password on its first line' });
  return line;
}

function fromFile(file: string, flag: string): PasswordSource {
  return {
    describe: `${flag} ${file}`,
    read() {
      try {
        return firstLine(readFileSync(file, 'utf8'), `${flag} ${file}`);
      } catch (err) {
        if (err instanceof UsageError) throw err;
        throw new UsageError(`${flag} ${file} cannot be read: ${(err as Error).message}`, { hint: `give ${flag} a readable file` });
      }
    },
  };
}

function fromCommand(command: string, flag: string): PasswordSource {
  return {
    describe: `${flag}`,
    read() {
      const r = spawnSync('sh', ['-c', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.error || r.status !== 0) {
        const why = r.error ? r.error.message : `exit status ${r.status}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`;
        throw new UsageError(`${flag} failed (${why})`, { hint: `check the command ${flag} runs` });
      }
      return firstLine(r.stdout, flag);
    },
  };
}

function fromEnv(name: string): PasswordSource | undefined {
  const value = process.env[name];
  // Set but empty counts as unset, as for every ZKVAULT_ variable.
  if (value === undefined || value === '') return undefined;
  return { describe: name, read: () => firstLine(value, name) };
}

/** The password source the options give, or undefined when none does. Two at once is a usage error. */
export function passwordSourceOf(opts: Record<string, unknown>, which: 'current' | 'new' = 'current'): PasswordSource | undefined {
  const prefix = which === 'new' ? 'new-' : '';
  const fileKey = which === 'new' ? 'newPasswordFile' : 'passwordFile';
  const commandKey = which === 'new' ? 'newPasswordCommand' : 'passwordCommand';
  const file = typeof opts[fileKey] === 'string' ? opts[fileKey] : undefined;
  const command = typeof opts[commandKey] === 'string' ? opts[commandKey] : undefined;
  if (file !== undefined && command !== undefined) {
    throw new UsageError(`give one of --${prefix}password-file and --${prefix}password-command, not both`);
  }
  if (file !== undefined) return fromFile(file, `--${prefix}password-file`);
  if (command !== undefined) return fromCommand(command, `--${prefix}password-command`);
  return fromEnv(which === 'new' ? 'ZKVAULT_NEW_PASSWORD' : 'ZKVAULT_PASSWORD');
}
