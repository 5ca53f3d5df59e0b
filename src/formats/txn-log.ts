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
import { adler32 } from './checksum.js';
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
}

export function readTxnLogHeader(buf: Buffer, file: string): TxnLogHeader {
  if (buf.length < LOG_HEADER_SIZE) {
    throw new IntegrityError('truncated', file, buf.length, `truncated: a txn log header needs ${LOG_HEADER_SIZE} bytes, the file has ${buf.length}`);
  }
  const magic = buf.readInt32BE(0);
  if (magic !== LOG_MAGIC) {
    throw new IntegrityError('malformed', file, 0, `not a ZooKeeper txn log: magic 0x${(magic >>> 0).toString(16)}, expected 0x5a4b4c47 ("ZKLG")`);
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
  let pos = LOG_HEADER_SIZE;
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
      return { kind: 'torn', offset: pos, detail: `end-of-record byte is 0x${eor!.toString(16)}, expected 0x42 (partial last transaction)` };
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
    throw new IntegrityError('malformed', file, baseOffset, `malformed record: payload of ${payload.length} bytes has no room for a txn header`);
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
