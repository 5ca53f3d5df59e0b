// ZooKeeper's tree digest (3.6+, DIGEST_VERSION 2): per node, CRC-32 over the path's bytes, the data,
// and a 60-byte stat blob in digest order; the tree digest is the sum of node hashes mod 2^64.
//
//   blob = czxid(8) mzxid(8) pzxid(8) ctime(8) mtime(8) version(4) cversion(4) aversion(4) owner(8)
//
// Paths under `/zookeeper/` hash to 0 (`/zookeeper` itself counts); the root hashes as "".
import type { NodeStat } from './node-record.js';
import { crc32 } from '../formats/checksum.js';

export const DIGEST_VERSION = 2;

const encoder = new TextEncoder();
const blob = Buffer.alloc(60);

export function statDigestBlob(stat: NodeStat): Buffer {
  blob.writeBigInt64BE(BigInt.asIntN(64, stat.czxid), 0);
  blob.writeBigInt64BE(BigInt.asIntN(64, stat.mzxid), 8);
  blob.writeBigInt64BE(BigInt.asIntN(64, stat.pzxid), 16);
  blob.writeBigInt64BE(BigInt.asIntN(64, stat.ctime), 24);
  blob.writeBigInt64BE(BigInt.asIntN(64, stat.mtime), 32);
  blob.writeInt32BE(stat.version, 40);
  blob.writeInt32BE(stat.cversion, 44);
  blob.writeInt32BE(stat.aversion, 48);
  blob.writeBigInt64BE(BigInt.asIntN(64, stat.ephemeralOwner), 52);
  return blob;
}

/**
 * How the server turned paths into bytes for hashing: Java's `String.getBytes()` uses the JVM default
 * charset, UTF-8 on JDK 18+, but on JDK 17 and older it follows the locale, and under LANG=C every
 * non-ASCII character becomes '?'. Files always store UTF-8; only the digest differs.
 */
export type DigestPathEncoding = 'utf8' | 'ascii';

export function digestPathBytes(key: string, encoding: DigestPathEncoding): Uint8Array {
  const bytes = encoder.encode(key);
  if (encoding === 'utf8' || bytes.length === key.length) return bytes;
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    out[i] = c < 0x80 ? c : 0x3f;
  }
  return out;
}

/** The unsigned 32-bit hash of one node; `key` is the tree key (root = ""). */
export function nodeDigest(
  key: string,
  node: { data: Uint8Array | null; stat: NodeStat },
  encoding: DigestPathEncoding = 'utf8',
): number {
  if (key.startsWith('/zookeeper/')) return 0;
  let c = crc32(digestPathBytes(key, encoding));
  if (node.data !== null) c = crc32(node.data, c);
  return crc32(statDigestBlob(node.stat), c);
}
