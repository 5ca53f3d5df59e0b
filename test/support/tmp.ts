// Temporary directories for tests, and the one place that cleans up when a test process ends.
// Directories live under os.tmpdir() and are removed on exit, SIGINT or SIGTERM unless ZKVAULT_KEEP_TMP=1.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ownedDirs = new Set<string>();
const exitHooks: Array<() => void> = [];
let handlersInstalled = false;
let cleanedUp = false;

/** True when ZKVAULT_KEEP_TMP=1: temp dirs are kept (and listed on exit) so a failure can be inspected. */
export function keepTmp(): boolean {
  return process.env.ZKVAULT_KEEP_TMP === '1';
}

/** Creates a fresh directory under os.tmpdir(), removed when the process exits. */
export async function makeTempDir(prefix = 'zkvault-test-'): Promise<string> {
  installHandlers();
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  ownedDirs.add(dir);
  return dir;
}

/** Synchronous twin of {@link makeTempDir}, for setup code that cannot await. */
export function makeTempDirSync(prefix = 'zkvault-test-'): string {
  installHandlers();
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  ownedDirs.add(dir);
  return dir;
}

/** Removes a directory made by {@link makeTempDir} now rather than at exit (kept with ZKVAULT_KEEP_TMP=1). */
export async function removeTempDir(dir: string): Promise<void> {
  if (!ownedDirs.has(dir) || keepTmp()) return;
  ownedDirs.delete(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/**
 * Registers a synchronous hook that runs when the process ends (normal exit, SIGINT, SIGTERM),
 * before temp dirs are removed. The ZooKeeper harness uses it to kill its JVMs first, so no JVM
 * outlives the test process and none is still writing into a directory being removed.
 */
export function onProcessExit(hook: () => void): void {
  installHandlers();
  exitHooks.push(hook);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      cleanupSync();
      process.removeListener(signal, onSignal);
      // Keep the default meaning of the signal (terminate) unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function cleanupSync(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const hook of exitHooks) {
    try {
      hook();
    } catch (err) {
      process.stderr.write(`test cleanup hook failed: ${String(err)}\n`);
    }
  }
  if (keepTmp()) {
    for (const dir of ownedDirs) process.stderr.write(`ZKVAULT_KEEP_TMP=1: kept ${dir}\n`);
    return;
  }
  for (const dir of ownedDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch (err) {
      process.stderr.write(`could not remove temp dir ${dir}: ${String(err)}\n`);
    }
  }
  ownedDirs.clear();
}

/**
 * Blocks until a process is gone (no /proc entry, or a zombie), at most `maxMs`. Used in exit
 * hooks, where nothing can be awaited, so a killed JVM is dead before its directories are removed.
 */
export function waitForProcessGoneSync(pid: number, maxMs: number): boolean {
  const deadline = Date.now() + maxMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let state: string | undefined;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return true;
    }
    if (state === 'Z' || state === 'X') return true;
    if (Date.now() >= deadline) return false;
    Atomics.wait(pause, 0, 0, 20);
  }
}
