// Transaction-log files (`log.<hex first zxid>`): a 16-byte FileHeader, then framed records.
//
//   header  int magic "ZKLG" 0x5A4B4C47, int version 2, long dbid (0)
//   record  long adler32(payload) | int N | N bytes payload | byte 0x42 'B'
//   end     EOF, or a record length of 0 (the zero-filled preallocation)
//
// Three kinds of damage are told apart, each with file and offset: a torn tail (the file ends inside a
// record, or the end-of-record byte is wrong: what a crash leaves, and where ZooKeeper stops reading),
// a checksum mismatch, and a malformed record (impossible length, unknown type, bad body).
import { IntegrityError } from '../errors.js';
import { adler32, reusableVerifiable } from './checksum.js';
import { decodeTxn, TXN_HEADER_SIZE, type Txn } from './txn.js';
import { DEFAULT_MAX_LENGTH } from './jute.js';

export const LOG_MAGIC = 0x5a4b4c47;
export const LOG_HEADER_SIZE = 16;
const EOR = 0x42;

export interface LogRecord {
  /** Offset of the record's checksum field in the file. */
  offset: number;
  /** Offset just past the record's EOR byte. */
  end: number;
  txn: Txn;
  /** The exact payload bytes (a view into the file buffer). */
  payload: Buffer;
}

/** How the readable part of the file ended. */
export type LogTail =
  | { kind: 'eof'; offset: number }
  | { kind: 'padding'; offset: number; nonZeroAfter: boolean }
  | { kind: 'torn'; offset: number; detail: string };

export interface TxnLogHeader {
  magic: number;
  version: number;
  dbid: bigint;
}

export interface ReadTxnLogOptions {
  /** Skip payload checksum verification (never the default). */
  skipChecksums?: boolean;
  /**
   * Decode only each record's TxnHeader (checksums still verified): for copying logs, where the
   * bodies are not needed. The yielded txn then has body `{ kind: 'error', err: 0 }` as a placeholder.
   */
  headerOnly?: boolean;
  maxLength?: number;
  /** Start at this record offset instead of the first record (the header is still checked). */
  start?: number;
}

export function readTxnLogHeader(buf: Buffer, file: string): TxnLogHeader {
  if (buf.length < LOG_HEADER_SIZE) {
    throw new IntegrityError(
      'truncated',
      file,
      buf.length,
      `truncated: a txn log header needs ${LOG_HEADER_SIZE} bytes, the file has ${buf.length}`,
    );
  }
  const magic = buf.readInt32BE(0);
  if (magic !== LOG_MAGIC) {
    throw new IntegrityError(
      'malformed',
      file,
      0,
      `not a ZooKeeper txn log: magic 0x${(magic >>> 0).toString(16)}, expected 0x5a4b4c47 ("ZKLG")`,
    );
  }
  return { magic, version: buf.readInt32BE(4), dbid: buf.readBigInt64BE(8) };
}

/**
 * Iterates the records of a txn log held in `buf`. Yields every complete record; the generator's
 * return value says how the file ended. Throws IntegrityError on a checksum mismatch or a malformed
 * record (those stop ZooKeeper too); a torn tail is reported, not thrown.
 */
export function* iterateTxnLog(buf: Buffer, file: string, options: ReadTxnLogOptions = {}): Generator<LogRecord, LogTail> {
  readTxnLogHeader(buf, file);
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  let pos = options.start ?? LOG_HEADER_SIZE;
  const n = buf.length;
  for (;;) {
    if (pos === n) return { kind: 'eof', offset: pos };
    if (n - pos < 12) return { kind: 'torn', offset: pos, detail: `file ends ${n - pos} bytes into a record header` };
    const checksum = buf.readBigInt64BE(pos);
    const len = buf.readInt32BE(pos + 8);
    if (len === 0) {
      return { kind: 'padding', offset: pos, nonZeroAfter: !isAllZero(buf, pos) };
    }
    if (len < 0 || len > maxLength) {
      throw new IntegrityError('malformed', file, pos + 8, `malformed record: unreasonable payload length ${len}`);
    }
    const payloadStart = pos + 12;
    if (n - payloadStart < len + 1) {
      return { kind: 'torn', offset: pos, detail: `file ends inside a record of ${len} payload bytes` };
    }
    const eor = buf[payloadStart + len];
    if (eor !== EOR) {
      return {
        kind: 'torn',
        offset: pos,
        detail: `end-of-record byte is 0x${eor.toString(16)}, expected 0x42 (partial last transaction)`,
      };
    }
    if (!options.skipChecksums) {
      const actual = adler32(buf, 1, payloadStart, payloadStart + len);
      if (BigInt(actual) !== checksum) {
        throw new IntegrityError(
          'checksum',
          file,
          pos,
          `checksum mismatch: record says adler32 0x${BigInt.asUintN(64, checksum).toString(16)}, payload has 0x${actual.toString(16)}`,
        );
      }
    }
    const payload = buf.subarray(payloadStart, payloadStart + len);
    const txn = options.headerOnly ? decodeTxnHeaderOnly(payload, file, payloadStart) : decodeTxn(payload, file, payloadStart);
    const end = payloadStart + len + 1;
    yield { offset: pos, end, txn, payload };
    pos = end;
  }
}

/** What {@link verifyTxnLog} found: the complete records, and how the file ended. */
export interface VerifiedTxnLog {
  txns: number;
  /** The first and last complete records (headers decoded, bodies not), or null when there are none. */
  first: LogRecord | null;
  last: LogRecord | null;
  /** Offset just past the last complete record (the header's end when there is none). */
  end: number;
  tail: LogTail;
}

/** Checks every record of a txn log held in `buf` (checksums, framing) without decoding bodies: what a copy needs. */
export function verifyTxnLog(buf: Buffer, file: string, options: { maxLength?: number } = {}): VerifiedTxnLog {
  readTxnLogHeader(buf, file);
  return continueVerify(buf, file, options.maxLength ?? DEFAULT_MAX_LENGTH, LOG_HEADER_SIZE, { txns: 0, first: null, last: null });
}

/** The plain iterator from `pos` on, adding to what was verified before it; it classifies (and throws) as it always does. */
function continueVerify(
  buf: Buffer,
  file: string,
  maxLength: number,
  pos: number,
  found: Pick<VerifiedTxnLog, 'txns' | 'first' | 'last'>,
): VerifiedTxnLog {
  let { txns, first, last } = found;
  const it = iterateTxnLog(buf, file, { headerOnly: true, maxLength, start: pos });
  for (;;) {
    const r = it.next();
    if (r.done) return { txns, first, last, end: last ? last.end : LOG_HEADER_SIZE, tail: r.value };
    txns++;
    first ??= r.value;
    last = r.value;
  }
}

/** How much of a log file {@link verifyTxnLogFile} reads at a time. */
const READ_SLICE = 8 << 20;

/**
 * {@link verifyTxnLog} for a file read on demand: `read(into, position)` fills `into` from the file's
 * byte `position` on and returns how many bytes it read (0 at the end). The records are verified in
 * place by WebAssembly up to the first one that is not whole and sound; from there (padding, a torn
 * tail or damage) the plain iterator takes over, so the outcome and every error are those of
 * {@link iterateTxnLog}. Reading stops at the zero preallocation, so the unused tail of a live log
 * (tens of MB of zeros) is not read; the padding is then reported with `nonZeroAfter: false`,
 * unchecked. One buffer serves every call in the process: the records returned are copies.
 * `onVerified`, when given, is called once with the file's bytes up to the end of its last complete
 * record, every record in them verified; the view is only valid during the call.
 */
export function verifyTxnLogFile(
  read: (into: Uint8Array, position: number) => number,
  size: number,
  file: string,
  options: { maxLength?: number; onVerified?: (bytes: Buffer) => void } = {},
): VerifiedTxnLog {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  const vb = reusableVerifiable(size);
  const buf = vb ? vb.bytes : Buffer.alloc(size);
  let filled = 0;
  const fill = (upTo: number): void => {
    for (let n; filled < upTo && (n = read(buf.subarray(filled, upTo), filled)) > 0;) filled += n;
  };
  if (!vb) {
    fill(size);
    const v = verifyTxnLog(buf.subarray(0, filled), file, options);
    options.onVerified?.(buf.subarray(0, v.end));
    return detach(v);
  }
  fill(Math.min(size, READ_SLICE));
  readTxnLogHeader(buf.subarray(0, filled), file);
  let txns = 0;
  let first: LogRecord | null = null;
  let last: LogRecord | null = null;
  let pos = LOG_HEADER_SIZE;
  for (;;) {
    const r = vb.scanLogRecords(pos, filled, TXN_HEADER_SIZE, maxLength);
    if (r.count > 0) {
      first ??= recordAt(buf, file, pos);
      last = recordAt(buf, file, r.last);
      txns += r.count;
    }
    pos = r.stop;
    if (filled === size) break;
    // Stopped at a record that is all here, or that cannot be whole: nothing more to read for it.
    let need = pos + 12;
    if (filled >= need) {
      const len = buf.readInt32BE(pos + 8);
      if (len <= 0 || len > maxLength || pos + 13 + len <= filled) break;
      need = pos + 13 + len;
    }
    const before = filled;
    fill(Math.min(size, Math.max(filled + READ_SLICE, need)));
    if (filled === before) break; // the file ended early (it shrank): the tail reads as torn
  }
  const v = continueVerify(buf.subarray(0, filled), file, maxLength, pos, { txns, first, last });
  options.onVerified?.(buf.subarray(0, v.end));
  return detach(v.tail.kind === 'padding' ? { ...v, tail: { ...v.tail, nonZeroAfter: false } } : v);
}

/** The result with its records' payloads copied out of the (reused) file buffer. */
function detach(v: VerifiedTxnLog): VerifiedTxnLog {
  const copy = (r: LogRecord | null): LogRecord | null => (r ? { ...r, payload: Buffer.from(r.payload) } : null);
  return { ...v, first: copy(v.first), last: copy(v.last) };
}

/** The record at `offset`, already verified: header decoded, body not. */
function recordAt(buf: Buffer, file: string, offset: number): LogRecord {
  const len = buf.readInt32BE(offset + 8);
  const payload = buf.subarray(offset + 12, offset + 12 + len);
  return { offset, end: offset + 13 + len, txn: decodeTxnHeaderOnly(payload, file, offset + 12), payload };
}

function isAllZero(buf: Buffer, from: number): boolean {
  const CHUNK = 64 * 1024;
  const zeros = Buffer.alloc(Math.min(CHUNK, Math.max(0, buf.length - from)));
  for (let i = from; i < buf.length; i += CHUNK) {
    const end = Math.min(buf.length, i + CHUNK);
    if (buf.compare(zeros, 0, end - i, i, end) !== 0) return false;
  }
  return true;
}

/** Frames one payload as a log record (checksum, length, payload, EOR). */
export function frameLogRecord(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 13);
  out.writeBigInt64BE(BigInt(adler32(payload)), 0);
  out.writeInt32BE(payload.length, 8);
  out.set(payload, 12);
  out[12 + payload.length] = EOR;
  return out;
}

export function txnLogHeaderBytes(dbid = 0n): Buffer {
  const out = Buffer.alloc(LOG_HEADER_SIZE);
  out.writeInt32BE(LOG_MAGIC, 0);
  out.writeInt32BE(2, 4);
  out.writeBigInt64BE(dbid, 8);
  return out;
}

function decodeTxnHeaderOnly(payload: Buffer, file: string, baseOffset: number): Txn {
  if (payload.length < TXN_HEADER_SIZE) {
    throw new IntegrityError(
      'malformed',
      file,
      baseOffset,
      `malformed record: payload of ${payload.length} bytes has no room for a txn header`,
    );
  }
  return {
    header: {
      clientId: payload.readBigInt64BE(0),
      cxid: payload.readInt32BE(8),
      zxid: payload.readBigInt64BE(12),
      time: payload.readBigInt64BE(20),
      type: payload.readInt32BE(28),
    },
    body: { kind: 'error', err: 0 },
    digest: null,
  };
}
