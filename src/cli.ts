// Builds the commander program, lazy-loads each command, and owns the one error → exit-code mapping.
import { Command, CommanderError } from 'commander';
import type { CommandModule, Runner } from './commands/context.js';
import { addGlobalOptions, applyBooleanEnv } from './commands/env-options.js';
import { CancelledError, EXIT_CODES, ZkvaultError } from './errors.js';
import { Printer } from './output/printer.js';
import { VERSION } from './version.js';

const COMMANDS: Array<() => Promise<CommandModule>> = [
  () => import('./commands/backup.js'),
  () => import('./commands/restore.js'),
  () => import('./commands/verify.js'),
  () => import('./commands/export.js'),
  () => import('./commands/list.js'),
  () => import('./commands/inspect.js'),
  () => import('./commands/diff.js'),
  () => import('./commands/prune.js'),
  () => import('./commands/schedule.js'),
  () => import('./commands/init.js'),
  () => import('./commands/key.js'),
];

export async function buildProgram(run: Runner): Promise<Command> {
  const program = new Command('zkvault')
    .description('Back up and restore Apache ZooKeeper')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => write(s),
  });
  for (const load of COMMANDS) {
    const mod = await load();
    mod.register(program, run);
  }
  // Every command that runs an action (`key` runs none: its subcommands do) takes --json and --quiet.
  const leaves = program.commands.flatMap((cmd) => [cmd, ...cmd.commands]);
  for (const cmd of leaves) {
    if (cmd.commands.length === 0) addGlobalOptions(cmd);
    cmd.exitOverride();
  }
  program.hook('preAction', (_program, actionCommand) => applyBooleanEnv(actionCommand));
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_CODES.cancelled);
    // Only for a person watching: scripts and log collectors read stderr as data (JSON lines).
    if (process.stderr.isTTY) process.stderr.write(`\nzkvault: ${sig} received, stopping…\n`);
    controller.abort(new CancelledError(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const run: Runner = async (action, options) => {
    const printer = new Printer({ json: Boolean(options.json), quiet: Boolean(options.quiet) });
    try {
      const code = await action({ printer, signal: controller.signal }, options);
      process.exitCode = code ?? 0;
    } catch (err) {
      process.exitCode = reportError(printer, err, controller.signal);
    }
  };

  try {
    const program = await buildProgram(run);
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every other commander complaint is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_CODES.usage;
    } else {
      process.exitCode = reportError(new Printer({ json: false, quiet: false }), err, controller.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Prints an error the way a person can act on, and returns its exit code. */
export function reportError(printer: Printer, err: unknown, signal?: AbortSignal): number {
  if (signal?.aborted && !(err instanceof ZkvaultError && err.kind !== 'cancelled')) {
    printer.error('interrupted; nothing half-written was published');
    return EXIT_CODES.cancelled;
  }
  if (err instanceof ZkvaultError) {
    printer.error(err.message, err.hint);
    if (process.env.ZKVAULT_DEBUG && err.cause) console.error(err.cause);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.code.startsWith('E')) {
    printer.error(`${e.message}`, 'check the path and permissions');
    return EXIT_CODES.user;
  }
  printer.error(`internal error: ${(e && e.stack) || String(err)}`, 'please report this with the command you ran');
  return EXIT_CODES.internal;
}
