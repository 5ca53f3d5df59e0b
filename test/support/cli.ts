// Runs the built CLI as a user would: a separate node process, exit code, stdout, stderr.
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const BIN = resolve(REPO_ROOT, 'bin/zkvault');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): CliResult {
  // Run the script itself, as users do: its #! line carries the node flags zkvault runs with.
  const r = spawnSync(BIN, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Async variant, for long runs and for tests that signal the process. */
export function spawnCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  return spawn(BIN, args, { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, NO_COLOR: '1', ...opts.env } });
}

export type DiffChange = { path: string; change: string; fields: string[] };

/** `zkvault diff ARGS --repo REPO --json`, asserting its exit code; the parsed report. */
export function diffJson(repo: string, args: string[], expectCode: number): { same: boolean; changes: DiffChange[]; [k: string]: unknown } {
  const r = runCli(['diff', ...args, '--repo', repo, '--json']);
  assert.equal(r.code, expectCode, `diff ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}
