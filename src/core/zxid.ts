// zxids and other jute longs: parsing and printing, always as bigint and 0x… lowercase hex.
import { UsageError } from '../errors.js';

const MASK64 = (1n << 64n) - 1n;

/** `0x…` lowercase hex of the unsigned 64-bit value, as ZooKeeper names its files. */
export function formatZxid(value: bigint): string {
  return '0x' + (value & MASK64).toString(16);
}

/** Hex without the prefix, as in `snapshot.<hex>` and `log.<hex>`. */
export function zxidToFileSuffix(value: bigint): string {
  return (value & MASK64).toString(16);
}

/** Signed 64-bit view of an unsigned value (jute longs are signed on disk). */
export function toSigned64(value: bigint): bigint {
  return BigInt.asIntN(64, value);
}

export function zxidEpoch(zxid: bigint): bigint {
  return (zxid & MASK64) >> 32n;
}

export function zxidCounter(zxid: bigint): bigint {
  return zxid & 0xffffffffn;
}

export function makeZxid(epoch: bigint, counter: bigint): bigint {
  return toSigned64((epoch << 32n) | (counter & 0xffffffffn));
}

/**
 * Parses a zxid given by a user: `0x…` hex, or a decimal integer. Throws a UsageError naming the flag.
 */
export function parseZxid(text: string, what = 'zxid'): bigint {
  const t = text.trim();
  let value: bigint;
  if (/^0x[0-9a-f]{1,16}$/i.test(t)) value = BigInt(t);
  else if (/^[0-9]{1,20}$/.test(t)) value = BigInt(t);
  else
    throw new UsageError(`${what} "${text}" is not a zxid`, {
      hint: 'give it as 0x-prefixed hex (e.g. 0x100000a3f) or a decimal number',
    });
  if (value > MASK64) throw new UsageError(`${what} "${text}" does not fit in 64 bits`);
  return toSigned64(value);
}

/**
 * Whether txns are missing between `prev` and the next txn a history holds, `next`. Within one epoch
 * zxids are consecutive; a new epoch's first txn has counter 1, so a later epoch that starts past 1
 * lacks its first txns (as in the logs of a server that rejoined its ensemble from a leader's snapshot).
 * A whole epoch missing between two others cannot be told from the zxids alone (the digests can).
 */
export function isZxidGap(prev: bigint, next: bigint): boolean {
  if (zxidEpoch(next) === zxidEpoch(prev)) return zxidCounter(next) > zxidCounter(prev) + 1n;
  return zxidEpoch(next) > zxidEpoch(prev) && zxidCounter(next) > 1n;
}

/**
 * The txns a gap found by {@link isZxidGap} lacks, as `first..last`: within an epoch, those between;
 * across epochs, the new epoch's first ones (how many of the old epoch's last ones are missing too
 * cannot be told).
 */
export function missingRange(prev: bigint, next: bigint): string {
  const first = zxidEpoch(next) === zxidEpoch(prev) ? prev + 1n : makeZxid(zxidEpoch(next), 1n);
  return `${formatZxid(first)}..${formatZxid(next - 1n)}`;
}
