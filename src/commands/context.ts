// What cli.ts hands every command: the printer, the run's abort signal, and the runner that turns the
// command's outcome (a code, or an error) into the exit status.
import type { Printer } from '../output/printer.js';

/** Options every command accepts. */
export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
}

export interface CommandContext {
  printer: Printer;
  signal: AbortSignal;
}

/** Runs a command's action: its returned number (default 0) is the exit status; an error is mapped to one. */
export type Runner = (
  action: (ctx: CommandContext, options: GlobalOptions) => Promise<number | void>,
  options: GlobalOptions,
) => Promise<void>;

/** What each command module exports for cli.ts. */
export interface CommandModule {
  register: (program: import('commander').Command, run: Runner) => void;
}
