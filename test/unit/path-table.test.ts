// PathTable (core/path-table.ts) against a plain Map over the same keys: random sets, gets and deletes
// of byte keys that share prefixes, hold non-ASCII bytes or are empty, through many resizes, tombstone
// reuse and arena compaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathTable } from '../../src/core/path-table.js';

function prng(seed: number): () => number {
  let x = seed;
  return () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

function agreesWithMap(table: PathTable, ops: number, minPeak: number): void {
  const rand = prng(11);
  const reference = new Map<string, number>();
  // Keys from a small alphabet (so they collide in prefix and repeat), some with bytes over 0x7f, one empty.
  const alphabet = [0x2f, 0x61, 0x62, 0xc3, 0xbc, 0x00, 0xff];
  const keyOf = () => {
    const n = Math.floor(rand() * 12);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = alphabet[Math.floor(rand() * alphabet.length)];
    return b;
  };
  // Each key is handed over inside a larger buffer, at an offset, as a record's path is.
  const framed = (key: Buffer) => {
    const pad = Math.floor(rand() * 5);
    const buf = Buffer.concat([Buffer.alloc(pad, 0x2f), key, Buffer.alloc(3, 0x61)]);
    return [buf, pad, pad + key.length] as const;
  };
  let peak = 0;
  for (let i = 0; i < ops; i++) {
    const key = keyOf();
    const k = key.toString('latin1');
    const [buf, start, end] = framed(key);
    const r = rand();
    if (r < 0.45) {
      const v = Math.floor(rand() * 2 ** 31);
      table.set(buf, start, end, v);
      reference.set(k, v);
    } else if (r < (i < ops / 2 ? 0.55 : 0.85)) {
      assert.equal(table.delete(buf, start, end), reference.delete(k), `delete ${k}`);
    } else {
      assert.equal(table.get(buf, start, end), reference.get(k) ?? -1, `get ${k}`);
      assert.equal(table.has(buf, start, end), reference.has(k), `has ${k}`);
    }
    assert.equal(table.size, reference.size);
    peak = Math.max(peak, reference.size);
  }
  assert.ok(peak > minPeak, `the table grew through resizes (peak ${peak})`);
  const seen = new Map<string, number>();
  table.forEach((bytes, value) => seen.set(bytes.toString('latin1'), value));
  assert.deepEqual(new Map([...seen].sort()), new Map([...reference].sort()));
}

test('PathTable agrees with a Map over random sets, gets and deletes of byte keys', () => {
  agreesWithMap(new PathTable(), 60_000, 1000);
});

test('PathTable tells keys apart by their bytes when every hash collides', () => {
  // A hash of the length alone: keys of one length always collide.
  agreesWithMap(new PathTable((_b, s, e) => e - s), 8_000, 600);
});

test('PathTable keeps every path through a churn of deletes (tombstones reused, the arena compacted)', () => {
  const table = new PathTable();
  const keep: string[] = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(`/churn/r${round}/n${i}`);
      table.set(b, 0, b.length, i);
    }
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(`/churn/r${round}/n${i}`);
      if (i % 50 === 0) keep.push(b.toString());
      else assert.ok(table.delete(b, 0, b.length));
    }
  }
  assert.equal(table.size, keep.length);
  for (const k of keep) {
    const b = Buffer.from(k);
    assert.equal(table.get(b, 0, b.length), Number(k.slice(k.lastIndexOf('n') + 1)), k);
  }
  const gone = Buffer.from('/churn/r3/n7');
  assert.equal(table.get(gone, 0, gone.length), -1);
});
