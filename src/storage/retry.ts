// Retrying storage: a wrapper around any Storage that repeats operations which failed transiently
// (throttling, 5xx, dropped connections) with exponential backoff and jitter. Backends only classify
// failures (StorageTransientError); the policy lives here, once (as restic's backend/retry).
import { setTimeout as delay } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { CancelledError } from '../errors.js';
import {
  normalizeRange,
  StorageNotFoundError,
  StorageTransientError,
  type GetOptions,
  type ListedObject,
  type ObjectStat,
  type PutOptions,
  type Storage,
} from './storage.js';

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  attempts: number;
  /** Backoff before the second attempt; doubled for each further one. */
  baseDelayMs: number;
  /** Cap on one backoff (default 10 s). */
  maxDelayMs?: number;
}

export interface RetryEvent {
  /** What was being done, e.g. `read manifests/x.json`. */
  what: string;
  /** The attempt that failed (1-based) and how many there are in all. */
  attempt: number;
  attempts: number;
  delayMs: number;
  error: Error;
}

export interface RetryOptions extends RetryPolicy {
  /**
   * Stops retrying: a wait between attempts ends at once with CancelledError, and a failure after the
   * abort is final. It never stops a first attempt: cleanup after an interrupt (removing what will not
   * be published, releasing a lock) must still reach the store.
   */
  signal?: AbortSignal;
  /** Told about each retry before its backoff (for a warning on stderr). */
  onRetry?: (event: RetryEvent) => void;
  /** Injectable for tests: a number in [0, 1). */
  random?: () => number;
}

/** Five attempts over about 4 s of backoff (0.25 + 0.5 + 1 + 2 s, each jittered down to half). */
export const DEFAULT_RETRY_POLICY: Readonly<Required<RetryPolicy>> = { attempts: 5, baseDelayMs: 250, maxDelayMs: 10_000 };

/** True for failures worth another attempt. Everything else (auth, not found, usage, a failing body) is final. */
export function isTransient(err: unknown): err is StorageTransientError {
  return err instanceof StorageTransientError;
}

/**
 * The backoff after failed attempt `attempt` (1-based): exponential, capped, with "equal jitter" — a
 * random point in the upper half — so that clients throttled together spread out without any of
 * them retrying at once.
 */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}

async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) throw new CancelledError();
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (signal?.aborted) throw new CancelledError(undefined, { cause: err });
    throw err;
  }
}

/**
 * Runs `op` until it succeeds, fails with a non-transient error, or has failed `attempts` times; then
 * the last error is thrown as it is. `op` receives the attempt number (1-based).
 */
export async function retrying<T>(what: string, op: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(opts.attempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt);
    } catch (err) {
      if (!isTransient(err) || attempt >= attempts || opts.signal?.aborted) throw err;
      const delayMs = backoffMs(attempt, opts, opts.random);
      opts.onRetry?.({ what, attempt, attempts, delayMs, error: err });
      await sleep(delayMs, opts.signal);
    }
  }
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a) return b;
  if (!b) return a;
  return AbortSignal.any([a, b]);
}

/**
 * Wraps `storage` so that each operation is retried on transient failures:
 * - stat, getBuffer, remove, put of a Buffer: the whole call again;
 * - get: opening again, and a stream that breaks midway is resumed with a ranged get from the first
 *   byte not yet delivered (the objects a repository reads are written once; every reader checks
 *   sha256 on top, so a changed object would be caught as damage, never trusted);
 * - list: listed again from the start, skipping the keys already yielded (keys come in order);
 * - putIfAbsent: again; an attempt after a failed one that finds the key taken checks whether the
 *   object holds exactly our body — the earlier attempt may have created it and lost the answer;
 * - put of a stream: once (a stream cannot be rewound; see Storage.put); the backend retries the
 *   pieces it sends with the same policy.
 * The attempt counter of get and list restarts whenever the stream makes progress.
 */
export function withRetry(storage: Storage, opts: RetryOptions): Storage {
  return new RetryingStorage(storage, opts);
}

class RetryingStorage implements Storage {
  constructor(
    readonly inner: Storage,
    private readonly opts: RetryOptions,
  ) {}

  describe(): string {
    return this.inner.describe();
  }

  private run<T>(what: string, op: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return retrying(`${what} on ${this.inner.describe()}`, op, { ...this.opts, signal: anySignal(this.opts.signal, signal) });
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    if (!Buffer.isBuffer(body)) return this.inner.put(key, body, opts);
    return this.run(`write ${key}`, () => this.inner.put(key, body, opts), opts.signal);
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const { start, end } = normalizeRange(opts);
    // Until the generator below reads them, inner streams have no reader: an error they hit meanwhile
    // is kept on the stream (and thrown by the read), not raised as an uncaught 'error' event.
    const quiet = (s: Readable) => s.on('error', () => {});
    const first = quiet(await this.run(`read ${key}`, () => this.inner.get(key, opts)));
    const open = async (from: number) =>
      quiet(
        await this.run(`read ${key}`, () => this.inner.get(key, end === Number.POSITIVE_INFINITY ? { start: from } : { start: from, end })),
      );
    const { attempts } = this.opts;
    const policy = this.opts;
    const signal = this.opts.signal;
    const describe = this.inner.describe();
    async function* resuming(): AsyncGenerator<Buffer> {
      let stream = first;
      let offset = start;
      let failures = 0;
      try {
        for (;;) {
          try {
            for await (const chunk of stream) {
              const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
              offset += buf.length;
              failures = 0;
              yield buf;
            }
            return;
          } catch (err) {
            stream.destroy();
            failures++;
            if (!isTransient(err) || failures >= attempts || signal?.aborted) throw err;
            const delayMs = backoffMs(failures, policy, policy.random);
            policy.onRetry?.({ what: `read ${key} from byte ${offset} on ${describe}`, attempt: failures, attempts, delayMs, error: err });
            await sleep(delayMs, signal);
            if (offset > end) return;
            stream = await open(offset);
          }
        }
      } finally {
        stream.destroy();
      }
    }
    return Readable.from(resuming(), { objectMode: false });
  }

  getBuffer(key: string): Promise<Buffer> {
    return this.run(`read ${key}`, () => this.inner.getBuffer(key));
  }

  stat(key: string): Promise<ObjectStat | null> {
    return this.run(`stat ${key}`, () => this.inner.stat(key));
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    let last: string | undefined;
    let failures = 0;
    for (;;) {
      try {
        for await (const o of this.inner.list(prefix)) {
          if (last !== undefined && o.key <= last) continue;
          last = o.key;
          failures = 0;
          yield o;
        }
        return;
      } catch (err) {
        failures++;
        if (!isTransient(err) || failures >= this.opts.attempts || this.opts.signal?.aborted) throw err;
        const delayMs = backoffMs(failures, this.opts, this.opts.random);
        this.opts.onRetry?.({
          what: `list ${prefix || '(all)'} on ${this.inner.describe()}`,
          attempt: failures,
          attempts: this.opts.attempts,
          delayMs,
          error: err,
        });
        await sleep(delayMs, this.opts.signal);
      }
    }
  }

  remove(key: string): Promise<void> {
    return this.run(`remove ${key}`, () => this.inner.remove(key));
  }

  putIfAbsent(key: string, body: Buffer): Promise<boolean> {
    return this.run(`create ${key}`, async (attempt) => {
      const created = await this.inner.putIfAbsent(key, body);
      if (created || attempt === 1) return created;
      try {
        return (await this.inner.getBuffer(key)).equals(body);
      } catch (err) {
        if (err instanceof StorageNotFoundError) return false;
        throw err;
      }
    });
  }
}
