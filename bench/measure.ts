// Measures a whole process: wall time and peak RSS (VmHWM from /proc, sampled until it exits).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcessMeasure {
  wallMs: number;
  peakRssBytes: number;
  code: number;
  stdout: string;
  stderr: string;
}

function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function measureProcess(
  cmd: string,
  args: string[],
  opts: { discardStdout?: boolean; env?: Record<string, string> } = {},
): Promise<ProcessMeasure> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, {
      stdio: ['ignore', opts.discardStdout ? 'ignore' : 'pipe', 'pipe'],
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    let peak = 0;
    const timer = setInterval(() => {
      if (child.pid) peak = Math.max(peak, vmHwm(child.pid));
    }, 20);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('exit', () => {
      if (child.pid) peak = Math.max(peak, vmHwm(child.pid));
    });
    child.on('close', (code) => {
      clearInterval(timer);
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
      const stdout = Buffer.concat(out).toString();
      // A node child reports its own maxRSS exactly; prefer it over sampling.
      const reported = /peakRssBytes=(\d+)/.exec(stdout);
      resolve({
        wallMs,
        peakRssBytes: reported ? Math.max(Number(reported[1]), peak) : peak,
        code: code ?? -1,
        stdout,
        stderr: Buffer.concat(err).toString(),
      });
    });
  });
}

export const MB = 1024 * 1024;
export function fmtMB(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}
