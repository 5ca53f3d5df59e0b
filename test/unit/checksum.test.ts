import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adler32, crc32, crc32Ascii } from '../../src/formats/checksum.js';

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

test('the slicing-by-8 crc32 equals the byte-at-a-time definition at every length, offset and start value', () => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  const byByte = (b: Uint8Array, v: number, s: number, e: number) => {
    let c = ~v;
    for (let i = s; i < e; i++) c = table[(c ^ b[i]) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
  };
  const buf = Buffer.alloc(4096);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
  for (let n = 0; n < 70; n++) {
    for (const start of [0, 1, 7]) {
      for (const v of [0, 0x12345678, 0xffffffff])
        assert.equal(crc32(buf, v, start, start + n), byByte(buf, v, start, start + n), `n=${n} start=${start}`);
    }
  }
  assert.equal(crc32(buf), byByte(buf, 0, 0, buf.length));
});

test('crc32Ascii hashes an ASCII string as its bytes, and declines anything else', () => {
  for (const s of ['', '/', '/kafka/brokers/ids/1', 'x'.repeat(300)]) assert.equal(crc32Ascii(s), crc32(Buffer.from(s)));
  assert.equal(crc32Ascii('/a', 0x1234), crc32(Buffer.from('/a'), 0x1234));
  assert.equal(crc32Ascii('/caf\u00e9'), null);
});
