import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JuteReader, JuteWriter } from '../../src/formats/jute.js';
import { IntegrityError } from '../../src/errors.js';

test('jute primitives round-trip, nulls included', () => {
  const w = new JuteWriter(8);
  w.int(-5).long(-0x8000000000000000n).long(0x7fffffffffffffffn).bool(true).byte(0x42);
  w.ustring('ünï/日本')
    .ustring(null)
    .buffer(Buffer.from([0, 255]))
    .buffer(null)
    .buffer(new Uint8Array(0));
  w.aclList([{ perms: 31, scheme: 'digest', id: 'u:h' }])
    .aclList(null)
    .stringList(['/a', '/b']);
  const r = new JuteReader(w.take(), 'mem');
  assert.equal(r.int(), -5);
  assert.equal(r.long(), -0x8000000000000000n);
  assert.equal(r.long(), 0x7fffffffffffffffn);
  assert.equal(r.bool(), true);
  assert.equal(r.byte(), 0x42);
  assert.equal(r.ustring(), 'ünï/日本');
  assert.equal(r.ustring(), null);
  assert.deepEqual([...r.buffer()!], [0, 255]);
  assert.equal(r.buffer(), null);
  assert.equal(r.buffer()!.length, 0);
  assert.deepEqual(r.aclList(), [{ perms: 31, scheme: 'digest', id: 'u:h' }]);
  assert.equal(r.aclList(), null);
  assert.deepEqual(r.stringList('paths'), ['/a', '/b']);
  assert.equal(r.remaining, 0);
});

test('reading past the end is a truncation naming file and offset', () => {
  const r = new JuteReader(Buffer.from([0, 0, 0, 9, 1, 2]), 'log.7', { baseOffset: 100 });
  assert.throws(
    () => r.buffer('payload'),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'truncated' && e.file === 'log.7' && e.offset === 104 && e.exitCode === 4,
  );
});

test('an impossible length is malformed, not truncated', () => {
  const r = new JuteReader(Buffer.from([0xff, 0xff, 0xff, 0xf0]), 'snap');
  assert.throws(
    () => r.buffer('data'),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'malformed' && e.offset === 0,
  );
});
