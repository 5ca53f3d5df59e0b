// The fast verification path (WebAssembly Adler-32 and record scanning) against the plain one: same
// checksums, and for every way a log can end or be damaged, the same records, tail and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adler32, adler32Js, reusableVerifiable } from '../../src/formats/checksum.js';
import {
  frameLogRecord,
  iterateTxnLog,
  LOG_HEADER_SIZE,
  txnLogHeaderBytes,
  verifyTxnLog,
  verifyTxnLogFile,
} from '../../src/formats/txn-log.js';
import { encodeTxn, OpCode, type Txn } from '../../src/formats/txn.js';
import { IntegrityError } from '../../src/errors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the WebAssembly Adler-32 equals the plain loop: lengths around every block and chunk edge, any start value', () => {
  const rnd = randomBytes((3 << 20) + 100);
  const ff = Buffer.alloc((3 << 20) + 100, 0xff); // the largest sums: where a lane or chunk would overflow
  const lengths = [
    0,
    1,
    15,
    16,
    17,
    511,
    512,
    513,
    5552,
    16383,
    16384,
    16385,
    16384 * 3 + 5,
    (1 << 20) - 1,
    1 << 20,
    (1 << 20) + 17,
    3 << 20,
  ];
  for (const buf of [rnd, ff]) {
    for (const n of lengths) {
      for (const start of [0, 3]) {
        for (const init of [1, 0xfff0fff0, 0x12345678]) {
          assert.equal(
            adler32(buf, init, start, start + n),
            adler32Js(buf, init, start, start + n),
            `n=${n} start=${start} init=${init.toString(16)}`,
          );
        }
      }
    }
  }
  assert.equal(adler32(Buffer.from('Wikipedia'.repeat(100))), adler32Js(Buffer.from('Wikipedia'.repeat(100))));
});

const hdr = (zxid: bigint) => ({ clientId: 0x100n, cxid: 1, zxid, time: 1700000000000n + zxid, type: OpCode.create });
function create(zxid: bigint, size: number): Txn {
  const data = Buffer.alloc(size, Number(zxid % 251n));
  return {
    header: hdr(zxid),
    body: { kind: 'create', path: `/n${zxid}`, data, acl: [], ephemeral: false, parentCVersion: 1 },
    digest: { version: 2, value: zxid },
  };
}
function logOf(sizes: number[], padding = 0): Buffer {
  return Buffer.concat([
    txnLogHeaderBytes(),
    ...sizes.map((s, i) => frameLogRecord(encodeTxn(create(BigInt(i + 1), s)))),
    Buffer.alloc(padding),
  ]);
}
const recordOffset = (sizes: number[], i: number) => logOf(sizes.slice(0, i)).length;

/** What the plain iterator says of a log: count, first/last zxid, end of the last record, tail; or its error. */
function reference(buf: Buffer) {
  try {
    const it = iterateTxnLog(buf, 'log.1', { headerOnly: true });
    let n = 0;
    let first: bigint | null = null;
    let last: bigint | null = null;
    let end = LOG_HEADER_SIZE;
    for (let r = it.next(); ; r = it.next()) {
      if (r.done) return { n, first, last, end, tail: { kind: r.value.kind, offset: r.value.offset } };
      n++;
      first ??= r.value.txn.header.zxid;
      last = r.value.txn.header.zxid;
      end = r.value.end;
    }
  } catch (err) {
    return { error: `${(err as IntegrityError).problem}@${(err as IntegrityError).offset}` };
  }
}

function fast(run: () => ReturnType<typeof verifyTxnLog>) {
  try {
    const v = run();
    return {
      n: v.txns,
      first: v.first?.txn.header.zxid ?? null,
      last: v.last?.txn.header.zxid ?? null,
      end: v.end,
      tail: { kind: v.tail.kind, offset: v.tail.offset },
    };
  } catch (err) {
    assert.ok(err instanceof IntegrityError, `an IntegrityError, not ${String(err)}`);
    return { error: `${err.problem}@${err.offset}` };
  }
}

/** Reads `buf` as a file would be, at most `most` bytes per call (short reads included). */
const reader =
  (buf: Buffer, most = 1 << 20) =>
  (into: Uint8Array, pos: number) =>
    buf.copy(into, 0, pos, Math.min(buf.length, pos + into.length, pos + most));

function assertAgree(buf: Buffer, label: string) {
  const want = reference(buf);
  assert.deepEqual(
    fast(() => verifyTxnLog(buf, 'log.1')),
    want,
    `${label}: plain buffer`,
  );
  assert.deepEqual(
    fast(() => verifyTxnLogFile(reader(buf, Infinity), buf.length, 'log.1')),
    want,
    `${label}: read whole`,
  );
  assert.deepEqual(
    fast(() => verifyTxnLogFile(reader(buf), buf.length, 'log.1')),
    want,
    `${label}: read on demand`,
  );
  return want;
}

test('the one reused WebAssembly buffer grows for a larger log and serves smaller ones after it', () => {
  assert.ok(reusableVerifiable(16), 'WebAssembly SIMD is available on this machine');
  const small = logOf([40, 50]);
  const large = logOf(Array.from({ length: 5000 }, (_, i) => 500 + (i % 700))); // ≈ 4.5 MB
  assert.equal(assertAgree(small, 'small').n, 2);
  assert.equal(assertAgree(large, 'larger: the memory grows').n, 5000);
  assert.equal(assertAgree(small, 'small again, over stale bytes').n, 2);
});

test('clean logs, with and without the zero preallocation, read on demand across 8 MB slices', () => {
  const sizes = Array.from({ length: 9000 }, (_, i) => 900 + (i % 300)); // ≈ 10 MB: records straddle the first slice's end
  assert.equal(assertAgree(logOf(sizes), 'eof').n, 9000);
  assert.equal(assertAgree(logOf(sizes, 1 << 20), 'padding').tail?.kind, 'padding');
  assert.equal(assertAgree(logOf([]), 'empty').n, 0);
  // One record larger than a read slice.
  assert.equal(assertAgree(logOf([100, 9 << 20, 100], 4096), 'big record').n, 3);
  // The records come back whole, detached from the reused buffer.
  const v = verifyTxnLogFile(reader(logOf([10, 20, 30])), logOf([10, 20, 30]).length, 'log.1');
  reusableVerifiable(1 << 20)!.bytes.fill(0xee);
  assert.equal(v.last?.payload.length, encodeTxn(create(3n, 30)).length);
  assert.deepEqual(v.last?.payload, encodeTxn(create(3n, 30)));
});

test('torn tails, bad end bytes, checksum damage and malformed records end or fail exactly as the plain reader does', () => {
  const sizes = [50, 60, 70, 80, 90];
  const full = logOf(sizes, 4096);
  const data = logOf(sizes);
  const third = recordOffset(sizes, 2);

  const torn = assertAgree(data.subarray(0, data.length - 5), 'torn');
  assert.deepEqual(torn.tail, { kind: 'torn', offset: recordOffset(sizes, 4) });

  const badEor = Buffer.from(full);
  badEor[recordOffset(sizes, 3) - 1] = 0x41;
  assert.deepEqual(assertAgree(badEor, 'bad EOR').tail, { kind: 'torn', offset: third });

  const flipped = Buffer.from(full);
  flipped[third + 40] ^= 0x01;
  assert.deepEqual(assertAgree(flipped, 'checksum'), { error: `checksum@${third}` });

  const highBits = Buffer.from(full); // a checksum long whose upper half is not zero
  highBits[third] = 1;
  assert.deepEqual(assertAgree(highBits, 'checksum high word'), { error: `checksum@${third}` });

  const negative = Buffer.from(full);
  negative.writeInt32BE(-1, third + 8);
  assert.deepEqual(assertAgree(negative, 'negative length'), { error: `malformed@${third + 8}` });

  const tiny = Buffer.concat([txnLogHeaderBytes(), frameLogRecord(Buffer.alloc(10, 1))]); // too short for a txn header
  assert.deepEqual(assertAgree(tiny, 'short payload'), { error: `malformed@${LOG_HEADER_SIZE + 12}` });

  // A file that ends before the size it had when opened (it shrank): read what is there, never loop.
  const cutAt = recordOffset(sizes, 3) + 20;
  const shrunk = verifyTxnLogFile(reader(data.subarray(0, cutAt)), data.length, 'log.1');
  assert.deepEqual([shrunk.txns, shrunk.tail.kind, shrunk.tail.offset], [3, 'torn', recordOffset(sizes, 3)]);
  const bigSizes = Array.from({ length: 9000 }, () => 1000);
  const bigLog = logOf(bigSizes);
  const shrunkBig = verifyTxnLogFile(reader(bigLog.subarray(0, 9 << 20)), bigLog.length, 'log.1');
  assert.equal(shrunkBig.tail.kind, 'torn');
  assert.equal(shrunkBig.end, shrunkBig.tail.offset);

  const headerCut = assertAgree(Buffer.concat([data, Buffer.from([0, 0, 0])]), 'cut header');
  assert.deepEqual(headerCut.tail, { kind: 'torn', offset: data.length });
});

test('the committed WebAssembly module is the one checksum.wat compiles to', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
