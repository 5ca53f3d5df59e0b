// The only place that writes to the terminal: results to stdout, everything else to stderr.
import { stderrChalk } from './diff.js';

// Everything coloured here goes to stderr: its colour follows stderr's terminal, not stdout's.
const chalk = stderrChalk();

export interface PrinterOptions {
  json: boolean;
  quiet: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export class Printer {
  readonly json: boolean;
  readonly quiet: boolean;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;
  /** A progress line is on the screen: cleared before anything else is written to stderr. */
  private progressShown = false;

  constructor(options: PrinterOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.out = options.stdout ?? process.stdout;
    this.err = options.stderr ?? process.stderr;
  }

  /** True when progress bars may be drawn: stderr is a terminal and no --json/--quiet. */
  get interactive(): boolean {
    return !this.json && !this.quiet && Boolean((this.err as NodeJS.WriteStream).isTTY);
  }

  /** Writes the command's result: one JSON document with --json, else the human rendering. */
  result(value: unknown, human: () => string): void {
    if (this.json) this.out.write(JSON.stringify(value, null, 2) + '\n');
    else {
      const text = human();
      if (text.length > 0) this.out.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** Raw stdout write, for streamed results such as NDJSON export. Resolves when drained. */
  write(chunk: string): Promise<void> | void {
    if (!this.out.write(chunk)) {
      return new Promise((resolve) => this.out.once('drain', () => resolve()));
    }
  }

  /** A one-line progress indicator, redrawn in place; only on a terminal. */
  progress(message: string): void {
    if (!this.interactive) return;
    const width = (this.err as NodeJS.WriteStream).columns ?? 120;
    this.err.write(`\r\x1b[2K${chalk.dim(message.length < width ? message : message.slice(0, width - 1))}`);
    this.progressShown = true;
  }

  progressDone(): void {
    this.clearProgress();
  }

  private clearProgress(): void {
    if (!this.progressShown) return;
    this.err.write('\r\x1b[2K');
    this.progressShown = false;
  }

  info(message: string): void {
    if (this.quiet || this.json) return;
    this.clearProgress();
    this.err.write(message + '\n');
  }

  warn(message: string): void {
    this.clearProgress();
    this.err.write(chalk.yellow('warning: ') + message + '\n');
  }

  error(message: string, hint?: string): void {
    this.clearProgress();
    this.err.write(chalk.red('error: ') + message + '\n');
    if (hint) this.err.write(chalk.dim('hint: ') + hint + '\n');
  }
}
