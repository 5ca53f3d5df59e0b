// The one conformance suite every Storage backend must pass (local disk, the memory fake, S3): the same
// cases, the same assertions, so that code above the Storage interface can rely on its contract.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { CancelledError, NotFoundError, UsageError } from '../../src/errors.js';
import { StorageNotFoundError, type ListedObject, type Storage } from '../../src/storage/storage.js';

export interface StorageFixture {
  storage: Storage;
  cleanup(): Promise<void>;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

async function listAll(storage: Storage, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const o of storage.list(prefix)) out.push(o);
  return out;
}

async function keysOf(storage: Storage, prefix: string): Promise<string[]> {
  return (await listAll(storage, prefix)).map((o) => o.key);
}

/** Deterministic pseudo-random chunk `i` of a large object (xorshift32, so no object is held whole). */
function chunkAt(i: number, size: number): Buffer {
  const buf = Buffer.alloc(Math.ceil(size / 4) * 4);
  let x = (i * 2654435761 + 1) >>> 0 || 1;
  for (let off = 0; off < buf.length; off += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, off);
  }
  return buf.subarray(0, size);
}

function* largeChunks(total: number, chunk: number): Generator<Buffer> {
  for (let i = 0; i * chunk < total; i++) yield chunkAt(i, Math.min(chunk, total - i * chunk));
}

/** Bytes `start..end` (inclusive) of the large object, regenerated. */
function largeSlice(start: number, end: number, chunk: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = Math.floor(start / chunk); i * chunk <= end; i++) {
    const c = chunkAt(i, chunk);
    const from = Math.max(0, start - i * chunk);
    const to = Math.min(chunk, end - i * chunk + 1);
    parts.push(c.subarray(from, to));
  }
  return Buffer.concat(parts);
}

/** A body that delivers `good` bytes and then fails, as a dropped connection or a failing producer. */
function failingBody(good: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= good) {
        this.destroy(new Error('producer failed midway'));
        return;
      }
      const n = Math.min(16 * 1024, good - sent);
      sent += n;
      this.push(Buffer.alloc(n, 0x5a));
    },
  });
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Registers the conformance cases for one backend. `makeStorage` returns a fresh, empty storage for
 * each case and a cleanup that removes it.
 */
export function runStorageConformance(name: string, makeStorage: () => Promise<StorageFixture>): void {
  const withStorage = (title: string, body: (storage: Storage) => Promise<void>): void =>
    void test(title, async () => {
      const fixture = await makeStorage();
      try {
        await body(fixture.storage);
      } finally {
        await fixture.cleanup();
      }
    });

  describe(`storage conformance: ${name}`, () => {
    withStorage('put a buffer, then get, getBuffer and stat see exactly it', async (s) => {
      const data = Buffer.from('hello, zkvault\n');
      const before = Date.now();
      assert.deepEqual(await s.put('a/b/c.txt', data), { size: data.length });
      assert.deepEqual(await s.getBuffer('a/b/c.txt'), data);
      assert.deepEqual(await collect(await s.get('a/b/c.txt')), data);
      const st = await s.stat('a/b/c.txt');
      assert.ok(st);
      assert.equal(st.size, data.length);
      assert.ok(st.modified instanceof Date);
      // Clock granularity and remote clocks: within a generous window of now.
      assert.ok(Math.abs(st.modified.getTime() - before) < 5 * 60_000, `modified ${st.modified.toISOString()}`);
    });

    withStorage('put a stream of many chunks; the size is the bytes stored', async (s) => {
      const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000 + i, i));
      const whole = Buffer.concat(parts);
      assert.deepEqual(await s.put('stream.bin', Readable.from(parts)), { size: whole.length });
      assert.deepEqual(await s.getBuffer('stream.bin'), whole);
    });

    withStorage('put replaces an existing object', async (s) => {
      await s.put('k', Buffer.from('first version, longer'));
      await s.put('k', Buffer.from('second'));
      assert.equal((await s.getBuffer('k')).toString(), 'second');
      assert.equal((await s.stat('k'))?.size, 6);
      assert.deepEqual(await keysOf(s, ''), ['k']);
    });

    withStorage('an empty object exists, with size 0', async (s) => {
      await s.put('empty', Buffer.alloc(0));
      assert.deepEqual(await s.stat('empty').then((st) => st?.size), 0);
      assert.equal((await s.getBuffer('empty')).length, 0);
      assert.equal((await collect(await s.get('empty'))).length, 0);
      assert.equal((await collect(await s.get('empty', { start: 0, end: 10 }))).length, 0);
      assert.deepEqual(await keysOf(s, ''), ['empty']);
    });

    withStorage('ranged get: inclusive end, open ends, clamping past the end', async (s) => {
      const data = Buffer.from('0123456789abcdefghij');
      await s.put('r', data);
      const range = async (start?: number, end?: number) => (await collect(await s.get('r', { start, end }))).toString();
      assert.equal(await range(0, 0), '0');
      assert.equal(await range(3, 7), '34567');
      assert.equal(await range(5), '56789abcdefghij');
      assert.equal(await range(undefined, 4), '01234');
      assert.equal(await range(15, 100), 'fghij');
      assert.equal(await range(19, 19), 'j');
      assert.equal(await range(20, 30), '');
      assert.equal(await range(25), '');
      await assert.rejects(s.get('r', { start: -1 }), UsageError);
      await assert.rejects(s.get('r', { start: 5, end: 4 }), UsageError);
      await assert.rejects(s.get('r', { start: 1.5 }), UsageError);
    });

    withStorage('a missing key: get and getBuffer throw StorageNotFoundError (exit 10), stat is null, remove succeeds', async (s) => {
      await s.put('present', Buffer.from('x'));
      for (const attempt of [
        () => s.get('absent/thing'),
        () => s.getBuffer('absent/thing'),
        () => s.get('absent/thing', { start: 1, end: 2 }),
      ]) {
        await assert.rejects(attempt(), (err: unknown) => {
          assert.ok(err instanceof StorageNotFoundError, String(err));
          assert.ok(err instanceof NotFoundError);
          assert.equal(err.exitCode, 10);
          assert.equal(err.key, 'absent/thing');
          assert.match(err.message, /absent\/thing/);
          return true;
        });
      }
      assert.equal(await s.stat('absent/thing'), null);
      // A "directory" (a prefix of other keys) is not an object.
      await s.put('dir/child', Buffer.from('x'));
      assert.equal(await s.stat('dir'), null);
      await assert.rejects(s.get('dir'), StorageNotFoundError);
      await s.remove('absent/thing');
      await s.remove('absent/thing');
    });

    withStorage('list: every key under the prefix, in lexicographic order, with sizes', async (s) => {
      const keys = ['b', 'a/x', 'a-b', 'a.b', 'a0', 'a/y/z', 'a/y-1', 'A', 'ab/x', 'z/z/z/z'];
      for (const [i, k] of keys.entries()) await s.put(k, Buffer.alloc(i + 1, 1));
      const all = await listAll(s, '');
      assert.deepEqual(
        all.map((o) => o.key),
        [...keys].sort(),
      );
      for (const o of all) {
        assert.equal(o.size, keys.indexOf(o.key) + 1, o.key);
        assert.ok(o.modified instanceof Date);
      }
      assert.deepEqual(await keysOf(s, 'a/'), ['a/x', 'a/y-1', 'a/y/z']);
      assert.deepEqual(await keysOf(s, 'a/y'), ['a/y-1', 'a/y/z']);
      assert.deepEqual(await keysOf(s, 'a/y/'), ['a/y/z']);
      assert.deepEqual(await keysOf(s, 'a'), ['a-b', 'a.b', 'a/x', 'a/y-1', 'a/y/z', 'a0', 'ab/x']);
      assert.deepEqual(await keysOf(s, 'ab/'), ['ab/x']);
      assert.deepEqual(await keysOf(s, 'b'), ['b']);
      assert.deepEqual(await keysOf(s, 'nothing/'), []);
      assert.deepEqual(await keysOf(s, 'a/x'), ['a/x']);
    });

    withStorage('list: prefix isolation, "a/" never yields "ab/…"', async (s) => {
      await s.put('manifests/1.json', Buffer.from('1'));
      await s.put('manifests-old/2.json', Buffer.from('2'));
      await s.put('manifestsx', Buffer.from('3'));
      assert.deepEqual(await keysOf(s, 'manifests/'), ['manifests/1.json']);
    });

    withStorage('list on an empty storage yields nothing', async (s) => {
      assert.deepEqual(await keysOf(s, ''), []);
      assert.deepEqual(await keysOf(s, 'x/'), []);
    });

    withStorage('remove deletes the object and is idempotent', async (s) => {
      await s.put('d/one', Buffer.from('1'));
      await s.put('d/two', Buffer.from('2'));
      await s.remove('d/one');
      assert.equal(await s.stat('d/one'), null);
      await assert.rejects(s.getBuffer('d/one'), StorageNotFoundError);
      assert.deepEqual(await keysOf(s, ''), ['d/two']);
      await s.remove('d/one');
      await s.remove('d/two');
      assert.deepEqual(await keysOf(s, ''), []);
    });

    withStorage('atomic visibility: nothing is visible while a put is in flight, then all of it', async (s) => {
      const body = new PassThrough();
      const pending = s.put('inflight/obj', body);
      body.write(Buffer.alloc(100_000, 1));
      await ticks(20);
      assert.equal(await s.stat('inflight/obj'), null);
      assert.deepEqual(await keysOf(s, ''), [], 'no temp or partial key is listed');
      await assert.rejects(s.get('inflight/obj'), StorageNotFoundError);
      body.end(Buffer.alloc(50_000, 2));
      assert.deepEqual(await pending, { size: 150_000 });
      assert.equal((await s.stat('inflight/obj'))?.size, 150_000);
      assert.deepEqual(await keysOf(s, ''), ['inflight/obj']);
    });

    withStorage('atomic visibility: a body that errors midway leaves no object and no visible temp key', async (s) => {
      await assert.rejects(s.put('broken/obj', failingBody(300_000)), /producer failed midway/);
      assert.equal(await s.stat('broken/obj'), null);
      await assert.rejects(s.get('broken/obj'), StorageNotFoundError);
      assert.deepEqual(await keysOf(s, ''), []);
    });

    withStorage('atomic visibility: a failed put over an existing object leaves the old one whole', async (s) => {
      await s.put('keep', Buffer.from('the old content'));
      await assert.rejects(s.put('keep', failingBody(200_000)), /producer failed midway/);
      assert.equal((await s.getBuffer('keep')).toString(), 'the old content');
      assert.deepEqual(await keysOf(s, ''), ['keep']);
    });

    withStorage('an aborted put rejects with CancelledError and stores nothing', async (s) => {
      const controller = new AbortController();
      const body = new PassThrough();
      const pending = s.put('aborted/obj', body, { signal: controller.signal });
      body.write(Buffer.alloc(64 * 1024, 7));
      await ticks(10);
      controller.abort();
      await assert.rejects(pending, CancelledError);
      assert.ok(body.destroyed, 'the body is destroyed');
      assert.equal(await s.stat('aborted/obj'), null);
      assert.deepEqual(await keysOf(s, ''), []);
      const already = new AbortController();
      already.abort();
      await assert.rejects(s.put('aborted/obj', Buffer.from('x'), { signal: already.signal }), CancelledError);
      assert.equal(await s.stat('aborted/obj'), null);
    });

    withStorage('putIfAbsent creates once, then refuses without writing', async (s) => {
      assert.equal(await s.putIfAbsent('locks/l.json', Buffer.from('first')), true);
      assert.equal(await s.putIfAbsent('locks/l.json', Buffer.from('second')), false);
      assert.equal((await s.getBuffer('locks/l.json')).toString(), 'first');
      await s.remove('locks/l.json');
      assert.equal(await s.putIfAbsent('locks/l.json', Buffer.from('third')), true);
      assert.equal((await s.getBuffer('locks/l.json')).toString(), 'third');
      await s.put('plain', Buffer.from('p'));
      assert.equal(await s.putIfAbsent('plain', Buffer.from('q')), false);
      assert.deepEqual(await keysOf(s, ''), ['locks/l.json', 'plain']);
    });

    withStorage('putIfAbsent: of many concurrent callers exactly one wins, and its body is stored', async (s) => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => s.putIfAbsent('race', Buffer.from(`writer ${i}`))));
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      assert.equal(winners.length, 1, `winners: ${winners.join(',')}`);
      assert.equal((await s.getBuffer('race')).toString(), `writer ${winners[0]}`);
      assert.deepEqual(await keysOf(s, ''), ['race']);
    });

    withStorage('a 20 MB object streams in and out intact; ranges across chunk boundaries', async (s) => {
      const total = 20 * 1024 * 1024 + 123;
      const chunk = 256 * 1024;
      const expected = createHash('sha256');
      for (const c of largeChunks(total, chunk)) expected.update(c);
      assert.deepEqual(await s.put('big/object.bin', Readable.from(largeChunks(total, chunk))), { size: total });
      assert.equal((await s.stat('big/object.bin'))?.size, total);
      const actual = createHash('sha256');
      let seen = 0;
      for await (const c of await s.get('big/object.bin')) {
        actual.update(c as Buffer);
        seen += (c as Buffer).length;
      }
      assert.equal(seen, total);
      assert.equal(actual.digest('hex'), expected.digest('hex'));
      for (const [start, end] of [
        [chunk - 10, chunk + 10],
        [7 * 1024 * 1024 + 1, 9 * 1024 * 1024 + 5],
        [total - 100, total - 1],
      ] as const) {
        const got = await collect(await s.get('big/object.bin', { start, end }));
        assert.equal(got.length, end - start + 1);
        assert.ok(got.equals(largeSlice(start, end, chunk)), `range ${start}-${end}`);
      }
    });

    withStorage('keys outside the grammar are refused with UsageError', async (s) => {
      for (const bad of ['', '/abs', 'trailing/', 'a//b', '.hidden', 'a/.tmp', 'a/../b', 'a b', 'tab\tkey', 'back\\slash', 'ünï']) {
        await assert.rejects(s.put(bad, Buffer.from('x')), UsageError, `put ${JSON.stringify(bad)}`);
        await assert.rejects(s.stat(bad), UsageError, `stat ${JSON.stringify(bad)}`);
      }
      await assert.rejects(keysOf(s, '/x'), UsageError);
      assert.deepEqual(await keysOf(s, ''), []);
    });

    withStorage('describe names the storage without secrets', async (s) => {
      const d = s.describe();
      assert.ok(d.length > 0);
      assert.doesNotMatch(d, /secret|password|X-Amz-Signature/i);
    });
  });
}
