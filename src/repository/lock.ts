// Run locks in the repository (`locks/<name>.json`): taken with putIfAbsent, refreshed while the run
// lives, broken when stale (no refresh for the stale timeout, or its process is gone on this host).
import { formatAge } from '../core/duration.js';
import { LockedError } from '../errors.js';
import { getBufferIfExists, joinLocation, type Storage } from '../storage/storage.js';

export interface LockInfo {
  tool: 'zkvault';
  host: string;
  pid: number;
  /** The backup id the run is writing. */
  id: string;
  startedAt: string;
  /** Last sign of life; staleness counts from here. */
  refreshedAt: string;
}

export interface LockEnvironment {
  storage: Storage;
  /** Redacted repository location, for messages. */
  location: string;
  staleMs: number;
  now: () => Date;
  host: string;
  pid: number;
  isProcessAlive: (pid: number) => boolean;
  warn: (message: string) => void;
}

export const DEFAULT_STALE_LOCK_MS = 6 * 60 * 60 * 1000;
/** Refresh at most this often, so a lock on S3 costs a few requests an hour. */
const MAX_REFRESH_MS = 5 * 60 * 1000;

interface ExistingLock {
  raw: Buffer;
  info: LockInfo | undefined;
  modified: Date;
}

/** True unless the process is known to be gone (ESRCH); EPERM means it exists under another user. */
export function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true; // 0 and negatives name process groups: no verdict
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** `3d4h`, `2h05m`, `12m30s`, `45s`. */

function parseLockInfo(raw: Buffer): LockInfo | undefined {
  try {
    const v = JSON.parse(raw.toString('utf8')) as Partial<LockInfo>;
    if (typeof v.host === 'string' && typeof v.pid === 'number' && typeof v.id === 'string' && typeof v.startedAt === 'string') {
      return {
        tool: 'zkvault',
        host: v.host,
        pid: v.pid,
        id: v.id,
        startedAt: v.startedAt,
        refreshedAt: typeof v.refreshedAt === 'string' ? v.refreshedAt : v.startedAt,
      };
    }
  } catch {
    // an unreadable lock is judged by its age alone
  }
  return undefined;
}

async function readLock(storage: Storage, key: string): Promise<ExistingLock | null> {
  const st = await storage.stat(key);
  if (!st) return null;
  const raw = await getBufferIfExists(storage, key);
  if (!raw) return null;
  return { raw, info: parseLockInfo(raw), modified: st.modified };
}

/** Why an existing lock may be broken, or undefined when it must be respected. */
function staleReason(lock: ExistingLock, env: LockEnvironment): string | undefined {
  const now = env.now().getTime();
  if (!lock.info) {
    const age = now - lock.modified.getTime();
    return age > env.staleMs ? `it is unreadable and ${formatAge(age)} old` : undefined;
  }
  const { host, pid } = lock.info;
  if (host === env.host && pid !== env.pid && !env.isProcessAlive(pid)) return `its process ${pid} on ${host} is gone`;
  const refreshed = Date.parse(lock.info.refreshedAt);
  const age = now - (Number.isNaN(refreshed) ? lock.modified.getTime() : refreshed);
  if (age > env.staleMs) return `it shows no sign of life for ${formatAge(age)} (stale after ${formatAge(env.staleMs)})`;
  return undefined;
}

function lockedError(lock: ExistingLock, key: string, env: LockEnvironment): LockedError {
  const where = joinLocation(env.storage.describe(), key);
  const hint = `if that run is gone, remove the lock file ${where} (locks older than ${formatAge(env.staleMs)}, or of a process gone on the same host, are broken automatically)`;
  if (!lock.info) {
    return new LockedError(
      `repository ${env.location} is locked (unreadable lock, written ${formatAge(env.now().getTime() - lock.modified.getTime())} ago)`,
      { hint },
    );
  }
  const { host, pid, id, startedAt } = lock.info;
  const age = formatAge(env.now().getTime() - Date.parse(startedAt));
  return new LockedError(`repository ${env.location} is locked by backup ${id} on ${host} (pid ${pid}), started ${age} ago`, { hint });
}

/** A held lock. Refreshes itself until released. */
export class RepositoryLock {
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private released = false;

  private constructor(
    private readonly env: LockEnvironment,
    readonly key: string,
    private info: LockInfo,
  ) {}

  /**
   * Takes the lock `key` for backup `id`, breaking a stale one with a warning. Throws LockedError when
   * another live run holds it.
   */
  static async acquire(env: LockEnvironment, key: string, id: string): Promise<RepositoryLock> {
    const started = env.now().toISOString();
    const info: LockInfo = { tool: 'zkvault', host: env.host, pid: env.pid, id, startedAt: started, refreshedAt: started };
    const body = Buffer.from(JSON.stringify(info, null, 2) + '\n');
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await env.storage.putIfAbsent(key, body)) {
        const lock = new RepositoryLock(env, key, info);
        lock.startRefreshing();
        return lock;
      }
      const existing = await readLock(env.storage, key);
      if (!existing) continue; // released in between: try again
      const reason = staleReason(existing, env);
      if (!reason) throw lockedError(existing, key, env);
      const who = existing.info ? `backup ${existing.info.id} on ${existing.info.host} (pid ${existing.info.pid})` : 'an unknown run';
      env.warn(`breaking the stale lock of ${who} in ${env.location}: ${reason}`);
      // Remove only what was judged stale: a run that took the lock meanwhile keeps it.
      const again = await readLock(env.storage, key);
      if (again && again.raw.equals(existing.raw)) await env.storage.remove(key);
    }
    const last = await readLock(env.storage, key);
    if (last) throw lockedError(last, key, env);
    throw new LockedError(`repository ${env.location}: could not take the lock ${key}; another run keeps taking it`);
  }

  private startRefreshing(): void {
    const every = Math.max(1000, Math.min(MAX_REFRESH_MS, Math.floor(this.env.staleMs / 3)));
    this.timer = setInterval(() => {
      if (this.refreshing) return;
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = undefined;
      });
    }, every);
    this.timer.unref();
  }

  /** Rewrites the lock with a new refreshedAt, if it is still ours. */
  async refresh(): Promise<void> {
    if (this.released) return;
    try {
      const current = await readLock(this.env.storage, this.key);
      if (!current?.info || current.info.id !== this.info.id || current.info.pid !== this.info.pid) {
        this.env.warn(`the lock ${this.key} of backup ${this.info.id} in ${this.env.location} was removed or taken over by another run`);
        this.stopRefreshing();
        return;
      }
      this.info = { ...this.info, refreshedAt: this.env.now().toISOString() };
      if (this.released) return;
      await this.env.storage.put(this.key, Buffer.from(JSON.stringify(this.info, null, 2) + '\n'));
    } catch (err) {
      this.env.warn(`could not refresh the lock ${this.key} in ${this.env.location}: ${(err as Error).message}`);
    }
  }

  private stopRefreshing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Removes the lock if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopRefreshing();
    await this.refreshing;
    const current = await readLock(this.env.storage, this.key);
    if (current?.info && current.info.id === this.info.id && current.info.pid === this.info.pid) {
      await this.env.storage.remove(this.key);
    }
  }
}
