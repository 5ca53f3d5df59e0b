// formats/txn-effects.ts reads only what a txn does to the tree's shape, from the record's bytes in
// place: checked here against txns encoded by formats/txn.ts, and against bodies that are cut short or
// of an unknown type (an IntegrityError naming the file and the byte, as the full decoder gives).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntegrityError } from '../../src/errors.js';
import { encodeTxn, OpCode, type Txn, type TxnBody } from '../../src/formats/txn.js';
import { visitTxnEffects, type TxnEffects } from '../../src/formats/txn-effects.js';

function txn(type: number, body: TxnBody, digest: Txn['digest'] = { version: 2, value: 9n }): Txn {
  return { header: { clientId: 0x77n, cxid: 1, zxid: 0x100000005n, time: 1n, type }, body, digest };
}

function pairs(xs: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < xs.length; i += 2) out.push([xs[i], xs[i + 1]]);
  return out;
}

/** What the visitor was told, with paths decoded for comparison. */
function effectsOf(payload: Buffer, offset = 0): string[] {
  const seen: string[] = [];
  const framed = Buffer.concat([Buffer.alloc(offset, 0xee), payload, Buffer.alloc(5, 0xee)]);
  const path = (b: Buffer, s: number, e: number) => b.toString('utf8', s, e);
  const effects: TxnEffects = {
    create: (b, s, e, kind, clientId, len) => seen.push(`create ${path(b, s, e)} ${kind} ${clientId} ${len}`),
    delete: (b, s, e) => seen.push(`delete ${path(b, s, e)}`),
    setData: (b, s, e, len) => seen.push(`setData ${path(b, s, e)} ${len}`),
    closeSession: (clientId, b, paths) =>
      seen.push(
        `close ${clientId} ${
          paths === null
            ? 'null'
            : pairs(paths)
                .map(([st, en]) => path(b, st, en))
                .join(',')
        }`,
      ),
  };
  visitTxnEffects(framed, offset, offset + payload.length, 'log.1', effects);
  return seen;
}

const acl = [{ perms: 31, scheme: 'digest', id: 'u:x' }];

test('each txn kind is read for its effect on the tree', () => {
  const create = (ephemeral: boolean) =>
    encodeTxn(txn(OpCode.create2, { kind: 'create', path: '/a/ü', data: Buffer.alloc(7), acl, ephemeral, parentCVersion: 3 }));
  assert.deepEqual(effectsOf(create(false), 13), ['create /a/ü persistent 119 7']);
  assert.deepEqual(effectsOf(create(true)), ['create /a/ü ephemeral 119 7']);
  assert.deepEqual(
    effectsOf(encodeTxn(txn(OpCode.createContainer, { kind: 'createContainer', path: '/c', data: null, acl: null, parentCVersion: 1 }))),
    ['create /c container 119 0'],
  );
  assert.deepEqual(
    effectsOf(
      encodeTxn(txn(OpCode.createTTL, { kind: 'createTTL', path: '/t', data: Buffer.alloc(2), acl, parentCVersion: 1, ttl: 500n })),
    ),
    ['create /t ttl 119 2'],
  );
  assert.deepEqual(effectsOf(encodeTxn(txn(OpCode.delete, { kind: 'delete', path: '/d' }))), ['delete /d']);
  assert.deepEqual(effectsOf(encodeTxn(txn(OpCode.setData, { kind: 'setData', path: '/s', data: Buffer.alloc(40), version: 2 }))), [
    'setData /s 40',
  ]);
  assert.deepEqual(effectsOf(encodeTxn(txn(OpCode.closeSession, { kind: 'closeSession', paths2Delete: ['/e1', '/e2'] }))), [
    'close 119 /e1,/e2',
  ]);
  // A 3.4/3.5 log: no body, and no digest after it.
  assert.deepEqual(effectsOf(encodeTxn(txn(OpCode.closeSession, { kind: 'closeSession', paths2Delete: null }, null))), ['close 119 null']);
  assert.deepEqual(effectsOf(encodeTxn(txn(OpCode.setACL, { kind: 'setACL', path: '/s', acl, version: 1 }))), []);
  const ops = [
    { type: OpCode.create, body: { kind: 'create', path: '/m', data: null, acl, ephemeral: false, parentCVersion: 1 } as TxnBody },
    { type: OpCode.setData, body: { kind: 'setData', path: '/m', data: Buffer.alloc(3), version: 1 } as TxnBody },
  ];
  assert.deepEqual(effectsOf(encodeTxn(txn(OpCode.multi, { kind: 'multi', txns: ops }))), ['create /m persistent 119 0', 'setData /m 3']);
  const failed = [...ops, { type: OpCode.error, body: { kind: 'error', err: -101 } as TxnBody }];
  assert.deepEqual(effectsOf(encodeTxn(txn(OpCode.multi, { kind: 'multi', txns: failed }))), [], 'a multi with a failed op does nothing');
});

test('a body cut short, or of an unknown type, is an IntegrityError at its byte', () => {
  const whole = encodeTxn(
    txn(OpCode.create, { kind: 'create', path: '/a', data: Buffer.alloc(50), acl, ephemeral: false, parentCVersion: 3 }),
  );
  const cut = whole.subarray(0, 60);
  assert.throws(
    () => effectsOf(cut, 100),
    (err: unknown) => err instanceof IntegrityError && err.problem === 'truncated' && err.file === 'log.1' && err.offset! >= 100,
  );
  const unknown = Buffer.from(whole);
  unknown.writeInt32BE(99, 28);
  assert.throws(
    () => effectsOf(unknown),
    (err: unknown) => err instanceof IntegrityError && err.problem === 'malformed' && /unsupported txn type 99/.test(err.message),
  );
});
