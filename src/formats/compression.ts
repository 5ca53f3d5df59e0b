// Snapshot compression as ZooKeeper 3.6+ writes it, chosen by the last dot-part of the file name:
// `.gz` (RFC 1952 gzip) or `.snappy` (xerial snappy-java stream framing, not Snappy's official framing):
//
//   bytes 0-7  magic 82 'S' 'N' 'A' 'P' 'P' 'Y' 00
//   int version (1), int compatibleVersion (1)
//   repeated: int compressedLength (BE), one raw Snappy block of that many bytes
import { gunzipSync, gzipSync } from 'node:zlib';
import snappy from 'snappyjs';
import { IntegrityError } from '../errors.js';

export type Compression = 'none' | 'gz' | 'snappy';

const SNAPPY_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const SNAPPY_HEADER = 16;
const SNAPPY_BLOCK = 32 * 1024;

/** The compression ZooKeeper would assume for this file name (last dot-part, case-insensitive). */
export function compressionOfName(name: string): Compression {
  const last = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  return last === 'gz' ? 'gz' : last === 'snappy' ? 'snappy' : 'none';
}

export function decompress(buf: Buffer, mode: Compression, file: string): Buffer {
  if (mode === 'none') return buf;
  if (mode === 'gz') {
    if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) {
      throw new IntegrityError('malformed', file, 0, 'not a gzip stream (the name ends in .gz)');
    }
    try {
      return gunzipSync(buf);
    } catch (err) {
      const truncated = (err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR';
      throw new IntegrityError(
        truncated ? 'truncated' : 'malformed',
        file,
        undefined,
        `gzip stream is damaged: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return snappyUnframe(buf, file);
}

export function compress(buf: Buffer, mode: Compression): Buffer {
  if (mode === 'none') return buf;
  if (mode === 'gz') return gzipSync(buf);
  return snappyFrame(buf);
}

function snappyUnframe(buf: Buffer, file: string): Buffer {
  if (buf.length < SNAPPY_HEADER || !buf.subarray(0, 8).equals(SNAPPY_MAGIC)) {
    throw new IntegrityError('malformed', file, 0, 'not a snappy-java stream (the name ends in .snappy)');
  }
  const parts: Buffer[] = [];
  let pos = SNAPPY_HEADER;
  while (pos < buf.length) {
    if (buf.length - pos < 4) throw new IntegrityError('truncated', file, pos, 'truncated snappy chunk header');
    const len = buf.readInt32BE(pos);
    if (len < 0) throw new IntegrityError('malformed', file, pos, `malformed snappy chunk length ${len}`);
    if (buf.length - pos - 4 < len) throw new IntegrityError('truncated', file, pos, `truncated snappy chunk of ${len} bytes`);
    try {
      parts.push(Buffer.from(snappy.uncompress(buf.subarray(pos + 4, pos + 4 + len))));
    } catch (err) {
      throw new IntegrityError('malformed', file, pos, `snappy chunk does not decompress: ${(err as Error).message}`, { cause: err });
    }
    pos += 4 + len;
  }
  return Buffer.concat(parts);
}

function snappyFrame(buf: Buffer): Buffer {
  const header = Buffer.alloc(SNAPPY_HEADER);
  SNAPPY_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  const parts: Buffer[] = [header];
  for (let i = 0; i < buf.length; i += SNAPPY_BLOCK) {
    const block = Buffer.from(snappy.compress(buf.subarray(i, Math.min(buf.length, i + SNAPPY_BLOCK))));
    const len = Buffer.alloc(4);
    len.writeInt32BE(block.length, 0);
    parts.push(len, block);
  }
  return Buffer.concat(parts);
}
