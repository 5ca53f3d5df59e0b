// The retry wrapper that every s3:// storage is opened with: what it repeats (transient failures only),
// how (backoff with jitter, resuming reads and listings where they broke), and what it must never
// repeat (a stream, which cannot be rewound). Driven by the in-memory storage with injected failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { AuthError, CancelledError } from '../../src/errors.js';
import { backoffMs, isTransient, withRetry, type RetryEvent } from '../../src/storage/retry.js';
import { StorageTransientError, type GetOptions, type ListedObject, type Storage } from '../../src/storage/storage.js';
import { runStorageConformance } from '../support/storage-conformance.js';
import { MemoryStorage } from '../support/memory-storage.js';

const FAST = { attempts: 5, baseDelayMs: 1, maxDelayMs: 4 };

function transient(what = 'throttled'): StorageTransientError {
  return new StorageTransientError(`memory://test: ${what}: 503 SlowDown`);
}

/** A memory storage whose next failures are scripted per method. */
class FlakyStorage extends MemoryStorage {
  failures: Partial<Record<'put' | 'get' | 'getBuffer' | 'stat' | 'list' | 'remove' | 'putIfAbsent', number>> = {};
  calls: Record<string, number> = {};
  /** get streams break after this many bytes, this many times. */
  breakReadsAfter: { bytes: number; times: number } | undefined;
  /** list breaks after yielding this many objects, this many times. */
  breakListAfter: { objects: number; times: number } | undefined;
  /** putIfAbsent stores the object, then reports a transient failure (the answer was lost), this many times. */
  loseCreateAnswers = 0;

  private fail(method: keyof FlakyStorage['failures']): void {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    const left = this.failures[method] ?? 0;
    if (left > 0) {
      this.failures[method] = left - 1;
      throw transient(method);
    }
  }

  override async put(key: string, body: Readable | Buffer, opts?: { signal?: AbortSignal }) {
    this.fail('put');
    return super.put(key, body, opts);
  }

  override async get(key: string, opts?: GetOptions): Promise<Readable> {
    this.fail('get');
    const stream = await super.get(key, opts);
    const brk = this.breakReadsAfter;
    if (!brk || brk.times <= 0) return stream;
    brk.times--;
    let sent = 0;
    return Readable.from(
      (async function* () {
        for await (const c of stream) {
          const buf = c as Buffer;
          if (sent + buf.length > brk.bytes) {
            yield buf.subarray(0, brk.bytes - sent);
            throw transient('connection reset mid-read');
          }
          sent += buf.length;
          yield buf;
        }
      })(),
      { objectMode: false },
    );
  }

  override async getBuffer(key: string): Promise<Buffer> {
    this.fail('getBuffer');
    return super.getBuffer(key);
  }

  override async stat(key: string) {
    this.fail('stat');
    return super.stat(key);
  }

  override async *list(prefix: string): AsyncIterable<ListedObject> {
    this.fail('list');
    let n = 0;
    for await (const o of super.list(prefix)) {
      const brk = this.breakListAfter;
      if (brk && brk.times > 0 && n === brk.objects) {
        brk.times--;
        throw transient('list page failed');
      }
      n++;
      yield o;
    }
  }

  override async remove(key: string): Promise<void> {
    this.fail('remove');
    return super.remove(key);
  }

  override async putIfAbsent(key: string, body: Buffer): Promise<boolean> {
    this.fail('putIfAbsent');
    const created = await super.putIfAbsent(key, body);
    if (this.loseCreateAnswers > 0) {
      this.loseCreateAnswers--;
      throw transient('answer lost');
    }
    return created;
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

runStorageConformance('memory behind the retry wrapper', async () => ({
  storage: withRetry(new MemoryStorage(), FAST),
  cleanup: async () => {},
}));

test('transient failures of whole operations are retried, and each retry is reported', async () => {
  const inner = new FlakyStorage();
  const events: RetryEvent[] = [];
  const s = withRetry(inner, { ...FAST, onRetry: (e) => events.push(e) });
  inner.failures = { put: 2, getBuffer: 1, stat: 3, remove: 1 };
  assert.deepEqual(await s.put('a', Buffer.from('abc')), { size: 3 });
  assert.equal((await s.getBuffer('a')).toString(), 'abc');
  assert.equal((await s.stat('a'))?.size, 3);
  await s.remove('a');
  assert.equal(await s.stat('a'), null);
  assert.equal(events.length, 7);
  assert.deepEqual(
    events.map((e) => [e.what.split(' ')[0], e.attempt, e.attempts]),
    [
      ['write', 1, 5],
      ['write', 2, 5],
      ['read', 1, 5],
      ['stat', 1, 5],
      ['stat', 2, 5],
      ['stat', 3, 5],
      ['remove', 1, 5],
    ],
  );
  assert.match(events[0].what, /^write a on memory:\/\/test$/);
});

test('after the last attempt the transient error is thrown as it is (a ConnectionError, exit 13)', async () => {
  const inner = new FlakyStorage();
  const s = withRetry(inner, FAST);
  inner.failures = { stat: 10 };
  await assert.rejects(s.stat('x'), (err: unknown) => {
    assert.ok(err instanceof StorageTransientError);
    assert.equal(err.exitCode, 13);
    return true;
  });
  assert.equal(inner.calls.stat, 5);
});

test('errors that are not transient are never retried', async () => {
  let calls = 0;
  const inner = new MemoryStorage();
  inner.stat = async () => {
    calls++;
    throw new AuthError('s3://b: 403 AccessDenied');
  };
  await assert.rejects(withRetry(inner, FAST).stat('x'), AuthError);
  assert.equal(calls, 1);
  assert.equal(isTransient(new AuthError('x')), false);
  assert.equal(isTransient(transient()), true);
});

test('a put of a stream is attempted once: a stream cannot be rewound', async () => {
  const inner = new FlakyStorage();
  const s = withRetry(inner, FAST);
  inner.failures = { put: 1 };
  await assert.rejects(s.put('k', Readable.from([Buffer.from('once')])), StorageTransientError);
  assert.equal(inner.calls.put, 1);
  assert.equal(await s.stat('k'), null);
  // A Buffer can be sent again.
  inner.failures = { put: 1 };
  await s.put('k', Buffer.from('twice'));
  assert.equal(inner.calls.put, 3);
});

test('a read that breaks midway is resumed from the first byte not delivered, ranges included', async () => {
  const inner = new FlakyStorage();
  const s = withRetry(inner, FAST);
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  await inner.put('obj', data);
  inner.breakReadsAfter = { bytes: 100_000, times: 2 };
  assert.ok((await collect(await s.get('obj'))).equals(data));
  assert.equal(inner.calls.get, 3, 'opened once and resumed twice');
  inner.breakReadsAfter = { bytes: 50_000, times: 1 };
  assert.ok((await collect(await s.get('obj', { start: 1000, end: 199_999 }))).equals(data.subarray(1000, 200_000)));
  // Breaking more often than the attempts without progress in between: the error surfaces.
  inner.breakReadsAfter = { bytes: 0, times: 99 };
  await assert.rejects(collect(await s.get('obj')), StorageTransientError);
});

test('a listing that breaks midway is listed again without repeating what was yielded', async () => {
  const inner = new FlakyStorage();
  const s = withRetry(inner, FAST);
  for (const k of ['a', 'b', 'c', 'd', 'e']) await inner.put(k, Buffer.from(k));
  inner.breakListAfter = { objects: 2, times: 1 };
  inner.failures = { list: 1 };
  const keys: string[] = [];
  for await (const o of s.list('')) keys.push(o.key);
  assert.deepEqual(keys, ['a', 'b', 'c', 'd', 'e']);
});

test('putIfAbsent whose answer was lost: the retry finds our own bytes and reports the key as created', async () => {
  const inner = new FlakyStorage();
  const s = withRetry(inner, FAST);
  inner.loseCreateAnswers = 1;
  assert.equal(await s.putIfAbsent('locks/backup.json', Buffer.from('{"pid":1}')), true);
  // Someone else's lock is still someone else's.
  await inner.put('locks/other.json', Buffer.from('{"pid":2}'));
  inner.failures = { putIfAbsent: 1 };
  assert.equal(await s.putIfAbsent('locks/other.json', Buffer.from('{"pid":1}')), false);
});

test('an abort during the backoff stops at once with CancelledError', async () => {
  const inner = new FlakyStorage();
  const controller = new AbortController();
  const s = withRetry(inner, { attempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000, signal: controller.signal });
  inner.failures = { stat: 1 };
  const pending = s.stat('x');
  setImmediate(() => controller.abort());
  await assert.rejects(pending, CancelledError);
});

test('backoff doubles from the base, is capped, and is jittered within the upper half', () => {
  const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(
    backoffMs(1, policy, () => 0),
    50,
  );
  assert.equal(
    backoffMs(1, policy, () => 0.999999),
    100,
  );
  assert.equal(
    backoffMs(3, policy, () => 0),
    200,
  );
  assert.equal(
    backoffMs(3, policy, () => 0.999999),
    400,
  );
  assert.equal(
    backoffMs(10, policy, () => 0.999999),
    1000,
  );
  assert.equal(
    backoffMs(10, policy, () => 0),
    500,
  );
});

test('the wrapper describes the storage it wraps', () => {
  const s: Storage = withRetry(new MemoryStorage('named'), FAST);
  assert.equal(s.describe(), 'memory://named');
});

test('a stream that breaks before anyone reads it is resumed when read, not an uncaught error', async () => {
  const inner = new MemoryStorage();
  await inner.put('obj', Buffer.from('0123456789'));
  let opened = 0;
  const get = inner.get.bind(inner);
  inner.get = async (key, opts) => {
    if (opened++ > 0) return get(key, opts);
    const broken = new PassThrough();
    setImmediate(() => broken.destroy(transient('reset before the first read')));
    return broken;
  };
  const stream = await withRetry(inner, FAST).get('obj');
  await new Promise((r) => setTimeout(r, 20)); // the break happens while nobody reads
  assert.equal((await collect(stream)).toString(), '0123456789');
  assert.equal(opened, 2);
});

test('after an interrupt, operations still run once (cleanup must reach the store) but are not retried', async () => {
  const inner = new FlakyStorage();
  const controller = new AbortController();
  const s = withRetry(inner, { ...FAST, signal: controller.signal });
  await s.put('locks/backup.json', Buffer.from('{}'));
  controller.abort();
  await s.remove('locks/backup.json');
  assert.equal(await inner.stat('locks/backup.json'), null, 'the lock was released after the interrupt');
  inner.failures = { stat: 1 };
  await assert.rejects(s.stat('x'), StorageTransientError);
  assert.equal(inner.calls.stat, 2, 'one attempt, no retry');
});
