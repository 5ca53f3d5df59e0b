// Child process for the physical benchmark: the floor for any Node program that copies the same bytes as
// a physical backup. It copies each given file's first N bytes into one output file in 1 MB chunks and
// syncs it, with no checksums, no hashing and no archive framing.
// Usage: node-copy.js OUT FILE:LENGTH...
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';

const [out, ...sources] = process.argv.slice(2);
const buf = Buffer.allocUnsafe(1 << 20);
const to = openSync(out, 'w');
let copied = 0;
for (const s of sources) {
  const sep = s.lastIndexOf(':');
  const length = Number(s.slice(sep + 1));
  const from = openSync(s.slice(0, sep), 'r');
  for (let pos = 0; pos < length;) {
    const n = readSync(from, buf, 0, Math.min(buf.length, length - pos), pos);
    if (n === 0) throw new Error(`${s}: ends at byte ${pos}`);
    writeSync(to, buf, 0, n);
    pos += n;
  }
  closeSync(from);
  copied += length;
}
fsyncSync(to);
closeSync(to);
process.stdout.write(`copied=${copied}\n`);
