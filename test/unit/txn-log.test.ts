import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iterateTxnLog, frameLogRecord, txnLogHeaderBytes, LOG_HEADER_SIZE } from '../../src/formats/txn-log.js';
import { encodeTxn, decodeTxn, OpCode, type Txn } from '../../src/formats/txn.js';
import { IntegrityError } from '../../src/errors.js';

const hdr = (zxid: bigint, type: number) => ({ clientId: 0x100n, cxid: 1, zxid, time: 1700000000000n + zxid, type });

const sample: Txn[] = [
  { header: hdr(1n, OpCode.createSession), body: { kind: 'createSession', timeOut: 30000 }, digest: { version: 2, value: 99n } },
  {
    header: hdr(2n, OpCode.create),
    body: {
      kind: 'create',
      path: '/a',
      data: Buffer.from('x'),
      acl: [{ perms: 31, scheme: 'world', id: 'anyone' }],
      ephemeral: false,
      parentCVersion: 1,
    },
    digest: { version: 2, value: -5n },
  },
  {
    header: hdr(3n, OpCode.createTTL),
    body: { kind: 'createTTL', path: '/t', data: null, acl: [], parentCVersion: 2, ttl: 60000n },
    digest: null,
  },
  {
    header: hdr(4n, OpCode.multi),
    body: {
      kind: 'multi',
      txns: [
        { type: OpCode.create, body: { kind: 'create', path: '/m', data: Buffer.alloc(0), acl: [], ephemeral: false, parentCVersion: 3 } },
        { type: OpCode.error, body: { kind: 'error', err: -110 } },
      ],
    },
    digest: { version: 2, value: 7n },
  },
  { header: hdr(5n, OpCode.closeSession), body: { kind: 'closeSession', paths2Delete: ['/e1'] }, digest: { version: 2, value: 8n } },
  { header: hdr(6n, OpCode.closeSession), body: { kind: 'closeSession', paths2Delete: null }, digest: null },
  { header: hdr(7n, OpCode.error), body: { kind: 'error', err: -101 }, digest: null },
];

function logOf(txns: Txn[], padding = 0): Buffer {
  return Buffer.concat([txnLogHeaderBytes(), ...txns.map((t) => frameLogRecord(encodeTxn(t))), Buffer.alloc(padding)]);
}

test('every txn type encodes and decodes back, digest trailers included', () => {
  for (const t of sample) assert.deepEqual(decodeTxn(encodeTxn(t), 'x', 0), t);
});

test('a create without parentCVersion is read as CreateTxnV0', () => {
  const w = encodeTxn(sample[1]).subarray(0, -16); // drop parentCVersion and the digest
  const t = decodeTxn(Buffer.from(w), 'x', 0);
  assert.equal(t.body.kind === 'create' && t.body.parentCVersion, -1);
  assert.equal(t.digest, null);
});

test('the log reader yields every record and stops cleanly at the zero preallocation', () => {
  const buf = logOf(sample, 4096);
  const it = iterateTxnLog(buf, 'log.1');
  const got: bigint[] = [];
  let r = it.next();
  while (!r.done) {
    got.push(r.value.txn.header.zxid);
    r = it.next();
  }
  assert.deepEqual(got, [1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  assert.equal(r.value.kind, 'padding');
  assert.equal(r.value.kind === 'padding' && r.value.nonZeroAfter, false);
  assert.equal(r.value.offset, buf.length - 4096);
});

function drain(buf: Buffer) {
  const it = iterateTxnLog(buf, 'log.1');
  let n = 0;
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return { n, tail: r.value };
    n++;
  }
}

test('a torn tail is reported with its offset, not thrown', () => {
  const full = logOf(sample);
  const lastStart = logOf(sample.slice(0, 6)).length;
  const cut = drain(full.subarray(0, full.length - 3));
  assert.equal(cut.n, 6);
  assert.deepEqual(cut.tail.kind, 'torn');
  assert.equal(cut.tail.offset, lastStart);
  const badEor = Buffer.from(full);
  badEor[badEor.length - 1] = 0;
  assert.equal(drain(badEor).tail.kind, 'torn');
});

test('a flipped payload byte is a checksum error naming the record offset', () => {
  const buf = logOf(sample);
  const second = LOG_HEADER_SIZE + frameLogRecord(encodeTxn(sample[0])).length;
  buf[second + 20] ^= 0x10;
  assert.throws(
    () => drain(buf),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'checksum' && e.offset === second,
  );
});

test('an impossible length and an unknown type are malformed; a wrong magic is refused', () => {
  const buf = logOf(sample);
  buf.writeInt32BE(-1, LOG_HEADER_SIZE + 8);
  assert.throws(
    () => drain(buf),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'malformed' && e.offset === LOG_HEADER_SIZE + 8,
  );
  const unknown = logOf([{ ...sample[6], header: { ...sample[6].header, type: 99 } }]);
  assert.throws(
    () => drain(unknown),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'malformed' && /unsupported txn type 99/.test(e.message),
  );
  const magic = logOf(sample);
  magic.write('ZKSN', 0);
  assert.throws(
    () => drain(magic),
    (e: unknown) => e instanceof IntegrityError && /not a ZooKeeper txn log/.test(e.message),
  );
});

test('non-zero bytes after the end of data are noticed', () => {
  const buf = logOf(sample, 100);
  buf[buf.length - 10] = 1;
  const { tail } = drain(buf);
  assert.equal(tail.kind === 'padding' && tail.nonZeroAfter, true);
});
