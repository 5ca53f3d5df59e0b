import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adler32, crc32 } from '../../src/formats/checksum.js';

test('adler32 matches RFC 1950 reference values', () => {
  assert.equal(adler32(Buffer.from('Wikipedia')), 0x11e60398);
  assert.equal(adler32(Buffer.alloc(0)), 1);
});

test('crc32 matches the IEEE check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(Buffer.alloc(0)), 0);
});

test('incremental checksums equal one-shot ones, across the adler chunk boundary', () => {
  const buf = Buffer.alloc(20000);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 7919) & 0xff;
  const whole = adler32(buf);
  assert.equal(adler32(buf, adler32(buf, 1, 0, 6000), 6000), whole);
  assert.equal(adler32(buf.subarray(12345), adler32(buf.subarray(0, 12345))), whole);
  assert.equal(crc32(buf.subarray(777), crc32(buf.subarray(0, 777))), crc32(buf));
});
