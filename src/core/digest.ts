// ZooKeeper's tree digest (3.6+, DIGEST_VERSION 2): per node, CRC-32 over the path's bytes, the data,
// and a 60-byte stat blob in digest order; the tree digest is the sum of node hashes mod 2^64.
//
//   blob = czxid(8) mzxid(8) pzxid(8) ctime(8) mtime(8) version(4) cversion(4) aversion(4) owner(8)
//
// Paths under `/zookeeper/` hash to 0 (`/zookeeper` itself counts); the root hashes as "".
import { crc32, crc32Ascii } from '../formats/checksum.js';

export const DIGEST_VERSION = 2;

const encoder = new TextEncoder();
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

/** What the hash of a node reads: its data (CRC-32 continued from a seed) and its persisted stat. */
export interface DigestableNode {
  crcData(seed: number): number;
  readonly stat: { readonly buf: Uint8Array; readonly off: number };
}

/** The unsigned 32-bit hash of one node; `key` is the tree key (root = ""). */
export function nodeDigest(key: string, node: DigestableNode, encoding: DigestPathEncoding = 'utf8'): number {
  if (key.startsWith('/zookeeper/')) return 0;
  const { buf, off } = node.stat;
  return statHash(node.crcData(pathCrc(key, encoding)), buf, off);
}

/** The same hash from parts: data bytes and a StatPersisted-ordered 60-byte stat at `statBuf[off]`. */
export function recordDigest(key: string, data: Uint8Array | null, statBuf: Uint8Array, off: number): number {
  if (key.startsWith('/zookeeper/')) return 0;
  let c = pathCrc(key, 'utf8');
  if (data) c = crc32(data, c);
  return statHash(c, statBuf, off);
}

/** CRC-32 of the path's bytes as the server hashed them; ASCII paths (the same in both encodings) need no encoding. */
function pathCrc(key: string, encoding: DigestPathEncoding): number {
  return crc32Ascii(key) ?? crc32(digestPathBytes(key, encoding));
}

// Digest order is czxid mzxid pzxid ctime mtime version cversion aversion owner: in StatPersisted
// terms bytes [0,16), [52,60), [16,52).
function statHash(c: number, buf: Uint8Array, off: number): number {
  c = crc32(buf, c, off, off + 16);
  c = crc32(buf, c, off + 52, off + 60);
  return crc32(buf, c, off + 16, off + 52);
}

const MOD64 = 1n << 64n;

/** A tree digest (unsigned 64-bit sum) with one node's hash added. */
export function add64(a: bigint, b: number): bigint {
  const s = a + BigInt(b);
  return s >= MOD64 ? s - MOD64 : s;
}

/** A tree digest with one node's hash taken out. */
export function sub64(a: bigint, b: number): bigint {
  const s = a - BigInt(b);
  return s < 0n ? s + MOD64 : s;
}
