// A progress line on stderr while a long command runs: what is done, its bytes, the rate, the time
// elapsed and, when the total is known, an estimate of what is left. Drawn only on a terminal and
// without --json/--quiet (see Printer.interactive), at most ten times a second; done() clears it.
import type { Printer } from './printer.js';

const REDRAW_MS = 100;

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export class ProgressLine {
  private readonly started = Date.now();
  private drawnAt = 0;
  private phase: string;

  constructor(
    private readonly printer: Printer,
    private readonly label: string,
    private readonly unit = 'nodes',
  ) {
    this.phase = label;
  }

  /** Whether anything is drawn at all: callers skip the work of reporting otherwise. */
  get active(): boolean {
    return this.printer.interactive;
  }

  /** Names the step now running (e.g. `restore: verify`); the rate restarts with it. */
  step(name: string): void {
    this.phase = `${this.label}: ${name}`;
    this.drawnAt = 0;
  }

  /** Redraws with the counts so far (at most every REDRAW_MS unless `now`: a slow step's few updates). */
  update(done: number, bytes?: number, total?: number, force = false): void {
    if (!this.active) return;
    const now = Date.now();
    if (!force && now - this.drawnAt < REDRAW_MS) return;
    this.drawnAt = now;
    const elapsed = now - this.started;
    const rate = elapsed > 0 ? Math.round((done / elapsed) * 1000) : 0;
    const parts = [
      total && total >= done
        ? `${done.toLocaleString('en-US')} / ~${total.toLocaleString('en-US')} ${this.unit}`
        : `${done.toLocaleString('en-US')} ${this.unit}`,
    ];
    if (bytes !== undefined) parts.push(size(bytes));
    parts.push(`${rate.toLocaleString('en-US')} ${this.unit}/s`, clock(elapsed));
    if (total && total > done && rate > 0) parts.push(`~${clock(((total - done) / rate) * 1000)} left`);
    this.printer.progress(`${this.phase}  ${parts.join(' · ')}`);
  }

  done(): void {
    this.printer.progressDone();
  }
}
