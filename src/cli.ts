// Builds the commander program, lazy-loads each command, and owns the one error → exit-code mapping.
import { Command, CommanderError, Option } from 'commander';
import { CancelledError, EXIT_CODES, UsageError, ZkvaultError } from './errors.js';
import { Printer } from './output/printer.js';
import { VERSION } from './version.js';

/** Options every command accepts. */
export interface GlobalOptions {
  json: boolean;
  quiet: boolean;
}

export interface CommandContext {
  printer: Printer;
  signal: AbortSignal;
}

/**
 * An option whose value may also come from `ZKVAULT_<FLAG>` (the command line wins), as the CLI
 * contract requires of every flag.
 */
export function envOption(flags: string, description: string): Option {
  const opt = new Option(flags, description);
  const long = opt.long?.replace(/^--/, '');
  if (!long) return opt;
  const name = 'ZKVAULT_' + long.toUpperCase().replace(/-/g, '_');
  if (opt.required || opt.optional) return opt.env(name);
  // commander would switch a boolean flag on for any value, "false" and "0" included: these are read
  // by applyBooleanEnv instead.
  booleanEnv.set(opt, name);
  opt.description = `${description} (env: ${name}=1)`;
  return opt;
}

const booleanEnv = new WeakMap<Option, string>();

/** The ZKVAULT_ variable an option made by {@link envOption} reads, boolean or not. */
export function envNameOf(opt: Option): string | undefined {
  return booleanEnv.get(opt) ?? opt.envVar;
}
const TRUE_WORDS = /^(1|true|yes|on)$/i;
const FALSE_WORDS = /^(0|false|no|off|)$/i;

/** Sets the boolean flags not given on the command line from their ZKVAULT_ variables. */
function applyBooleanEnv(cmd: Command): void {
  for (const opt of cmd.options) {
    const name = booleanEnv.get(opt);
    const raw = name === undefined ? undefined : process.env[name];
    if (raw === undefined) continue;
    const key = opt.attributeName();
    if (cmd.getOptionValueSource(key) === 'cli') continue;
    const on = TRUE_WORDS.test(raw.trim()) ? true : FALSE_WORDS.test(raw.trim()) ? false : undefined;
    if (on === undefined) {
      throw new UsageError(`${name}=${JSON.stringify(raw)} is not a yes/no value`, {
        hint: `set ${name} to 1 or 0 (true/false, yes/no, on/off), or unset it`,
      });
    }
    // A --no-… flag switched on means its value is false; switched off, every flag keeps its default.
    if (on) cmd.setOptionValueWithSource(key, !opt.negate, 'env');
  }
}

function addGlobalOptions(cmd: Command): Command {
  return cmd
    .addOption(envOption('--json', 'print the result as one JSON document on stdout'))
    .addOption(envOption('--quiet', 'print only the result and errors'));
}

type CommandModule = { register: (program: Command, run: Runner) => void };
export type Runner = (
  action: (ctx: CommandContext, options: GlobalOptions) => Promise<number | void>,
  options: GlobalOptions,
) => Promise<void>;

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
  // Every command that takes --repo takes the S3 flags too, however it declared --repo.
  const { addS3Options } = await import('./commands/options.js');
  for (const cmd of program.commands) {
    addGlobalOptions(cmd);
    if (cmd.options.some((o) => o.long === '--repo')) addS3Options(cmd);
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
