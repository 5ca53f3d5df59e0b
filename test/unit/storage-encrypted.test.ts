// The encrypting Storage: the shared Storage contract holds through it (on the in-memory fake and on a
// local directory), sizes are the plaintext's, ranged gets decrypt only what they need across chunk
// boundaries, and any change to the stored bytes, a truncation, chunks reordered or an object moved under
// another key fails with an IntegrityError rather than returning bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { runStorageConformance } from '../support/storage-conformance.js';
import { MemoryStorage } from '../support/memory-storage.js';
import { makeTempDir, removeTempDir } from '../support/tmp.js';
import { LocalStorage } from '../../src/storage/local.js';
import { EncryptedStorage, HEADER_BYTES, plainSize, storedSize } from '../../src/storage/encrypted.js';
import { IntegrityError } from '../../src/errors.js';

const KEY = randomBytes(32);
const CHUNK = 1024;
// Every key encrypted, so that the whole contract runs through the cipher.
const everything = (inner: MemoryStorage | LocalStorage) => new EncryptedStorage(inner, { key: KEY, prefixes: [''], chunkBytes: CHUNK });

runStorageConformance('encrypted over memory', async () => ({ storage: everything(new MemoryStorage()), cleanup: async () => {} }));
runStorageConformance('encrypted over a local directory', async () => {
  const dir = await makeTempDir('zkvault-enc-local-');
  return { storage: everything(new LocalStorage(dir)), cleanup: () => removeTempDir(dir) };
});

async function read(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts);
}

test('sizes: stored and plain sizes map one to one, and impossible stored sizes are recognised', () => {
  for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7]) {
    assert.equal(plainSize(storedSize(n, CHUNK), CHUNK), n, `${n}`);
  }
  assert.equal(plainSize(HEADER_BYTES + 15, CHUNK), null);
  assert.equal(plainSize(HEADER_BYTES + CHUNK + 16 + 3, CHUNK), null);
});

test('whole and ranged gets of objects around chunk boundaries; stat and list give plaintext sizes', async () => {
  const inner = new MemoryStorage();
  const s = new EncryptedStorage(inner, { key: KEY, prefixes: ['archives/'], chunkBytes: CHUNK });
  for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 300]) {
    const body = randomBytes(n);
    const key = `archives/o${n}`;
    assert.equal((await s.put(key, Readable.from([body.subarray(0, 7), body.subarray(7)]))).size, n);
    assert.equal((await inner.stat(key))!.size, storedSize(n, CHUNK));
    assert.equal((await s.stat(key))!.size, n);
    assert.deepEqual(await read(await s.get(key)), body);
    assert.deepEqual(await s.getBuffer(key), body);
    for (const [a, b] of [
      [0, 0],
      [1, CHUNK],
      [CHUNK - 1, CHUNK + 1],
      [CHUNK, 2 * CHUNK - 1],
      [300, n + 50],
      [n - 1, n - 1],
    ] as const) {
      if (a < 0 || b < a) continue;
      assert.deepEqual(await read(await s.get(key, { start: a, end: b })), body.subarray(a, b + 1), `${n}: ${a}..${b}`);
    }
  }
  const listed = [];
  for await (const o of s.list('archives/')) listed.push([o.key, o.size]);
  assert.deepEqual(
    listed.find(([k]) => k === `archives/o${5 * CHUNK + 300}`),
    [`archives/o${5 * CHUNK + 300}`, 5 * CHUNK + 300],
  );
  // Outside the prefixes: stored as given.
  await s.put('locks/l', Buffer.from('plain'));
  assert.deepEqual(await inner.getBuffer('locks/l'), Buffer.from('plain'));
});

test('every flipped byte, truncation, chunk swap and move to another key fails as an IntegrityError', async () => {
  const inner = new MemoryStorage();
  const s = new EncryptedStorage(inner, { key: KEY, prefixes: ['a/'], chunkBytes: CHUNK });
  const body = randomBytes(4 * CHUNK + 100);
  await s.put('a/x', body);
  const stored = await inner.getBuffer('a/x');
  const fails = async (bytes: Buffer, what: string, key = 'a/x') => {
    await inner.put(key, bytes);
    await assert.rejects(read(await s.get(key)), IntegrityError, `get after ${what}`);
    await assert.rejects(s.getBuffer(key), IntegrityError, `getBuffer after ${what}`);
  };
  for (let at = 0; at < stored.length; at += 97) {
    const b = Buffer.from(stored);
    b[at] ^= 0x10;
    await fails(b, `a flip at ${at}`);
  }
  const whole = CHUNK + 16;
  for (const len of [0, 5, HEADER_BYTES, HEADER_BYTES + whole, HEADER_BYTES + 2 * whole, stored.length - 1]) {
    await fails(stored.subarray(0, len), `a truncation to ${len}`);
  }
  const swapped = Buffer.from(stored);
  stored.copy(swapped, HEADER_BYTES, HEADER_BYTES + whole, HEADER_BYTES + 2 * whole);
  stored.copy(swapped, HEADER_BYTES + whole, HEADER_BYTES, HEADER_BYTES + whole);
  await fails(swapped, 'two chunks swapped');
  await fails(Buffer.concat([stored, stored.subarray(HEADER_BYTES, HEADER_BYTES + whole)]), 'a chunk appended');
  await fails(stored, 'a move to another key', 'a/y');
  // A ranged get checks the chunks it reads as well.
  const b = Buffer.from(stored);
  b[HEADER_BYTES + whole + 5] ^= 1;
  await inner.put('a/x', b);
  await assert.rejects(read(await s.get('a/x', { start: CHUNK + 1, end: CHUNK + 10 })), IntegrityError);
  assert.deepEqual(await read(await s.get('a/x', { start: 0, end: 10 })), body.subarray(0, 11), 'an untouched chunk still reads');
  // Another key: nothing decrypts.
  await inner.put('a/x', stored);
  const other = new EncryptedStorage(inner, { key: randomBytes(32), prefixes: ['a/'], chunkBytes: CHUNK });
  await assert.rejects(other.getBuffer('a/x'), IntegrityError);
});
