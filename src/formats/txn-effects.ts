// What a txn does to the shape of the tree, read straight from a log record's bytes: which path is
// created (with its owner and data length), deleted or given new data, and which session closes. Paths
// are handed over as byte ranges of the record, never decoded, and nothing else of the body is kept:
// what counting millions of txns needs (core/count-replay.ts). The layout is txn.ts's, read with the
// same JuteReader, so lengths are bounds-checked as there. Txns that change no node's existence, type
// or data length (setACL, check, createSession, error) are recognised by their type alone.
import { IntegrityError } from '../errors.js';
import { JuteReader } from './jute.js';
import { OpCode, TXN_HEADER_SIZE } from './txn.js';

/** What a create makes: the type ZooKeeper gives the node by its txn's kind and ephemeral flag. */
export type CreateKind = 'persistent' | 'ephemeral' | 'container' | 'ttl';

export interface TxnEffects {
  /**
   * A create of the path `buf[start, end)`, as its record says (the node may exist already), by the
   * txn's session.
   */
  create(buf: Buffer, start: number, end: number, kind: CreateKind, clientId: bigint, dataLength: number): void;
  delete(buf: Buffer, start: number, end: number): void;
  setData(buf: Buffer, start: number, end: number, dataLength: number): void;
  /**
   * A closed session. `paths` are [start, end) pairs into `buf` of the nodes its record lists (3.6+),
   * or null when it lists none; the session's own ephemerals go too.
   */
  closeSession(clientId: bigint, buf: Buffer, paths: number[] | null): void;
}

/** A non-null path passed over: its length; its bytes end where the reader now stands. */
function path(r: JuteReader, what: string): number {
  const at = r.offset;
  const n = r.skip(what);
  if (n < 0) throw new IntegrityError('malformed', r.file, at, `malformed: ${what} is null`);
  return n;
}

function skipAcls(r: JuteReader, what: string): void {
  const n = r.vectorLength(what);
  for (let i = 0; i < n; i++) {
    r.int(`${what} perms`);
    r.skip(`${what} scheme`);
    r.skip(`${what} id`);
  }
}

/**
 * Hands `effects` what the txn in `buf[start, end)` (a record's payload, header included) does to the
 * tree's shape. A multi with a failed op does nothing, as on the server.
 */
export function visitTxnEffects(buf: Buffer, start: number, end: number, file: string, effects: TxnEffects): void {
  if (end - start < TXN_HEADER_SIZE)
    throw new IntegrityError('malformed', file, start, `malformed record: payload of ${end - start} bytes has no room for a txn header`);
  const clientId = buf.readBigInt64BE(start);
  const type = buf.readInt32BE(start + 28);
  body(new JuteReader(buf, file, { start: start + TXN_HEADER_SIZE, end }), type, clientId, false, effects);
}

function body(c: JuteReader, type: number, clientId: bigint, inMulti: boolean, effects: TxnEffects): void {
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL: {
      const n = path(c, 'create path');
      const pathEnd = c.pos;
      const data = c.skip('create data');
      let kind: CreateKind = type === OpCode.createContainer ? 'container' : type === OpCode.createTTL ? 'ttl' : 'persistent';
      if (type === OpCode.create || type === OpCode.create2) {
        skipAcls(c, 'create acl');
        c.need(1, 'create ephemeral');
        if (c.buf[c.pos] !== 0) kind = 'ephemeral';
      }
      effects.create(c.buf, pathEnd - n, pathEnd, kind, clientId, Math.max(0, data));
      return;
    }
    case OpCode.delete:
    case OpCode.deleteContainer: {
      const n = path(c, 'delete path');
      effects.delete(c.buf, c.pos - n, c.pos);
      return;
    }
    case OpCode.setData:
    case OpCode.reconfig: {
      const n = path(c, 'setData path');
      const pathEnd = c.pos;
      const data = c.skip('setData data');
      effects.setData(c.buf, pathEnd - n, pathEnd, Math.max(0, data));
      return;
    }
    case OpCode.closeSession: {
      if (inMulti || c.remaining === 0) return effects.closeSession(clientId, c.buf, null);
      const count = c.vectorLength('closeSession paths2Delete');
      const paths: number[] = [];
      for (let i = 0; i < count; i++) {
        const n = c.skip('closeSession path');
        if (n >= 0) paths.push(c.pos - n, c.pos);
      }
      return effects.closeSession(clientId, c.buf, paths);
    }
    case OpCode.multi:
      if (inMulti) throw new IntegrityError('malformed', c.file, c.offset, 'malformed: multi nested inside multi');
      return multi(c, clientId, effects);
    case OpCode.setACL:
    case OpCode.check:
    case OpCode.createSession:
    case OpCode.error:
      return;
    default:
      throw new IntegrityError('malformed', c.file, c.offset - 4, `malformed: unsupported txn type ${type}`);
  }
}

function multi(c: JuteReader, clientId: bigint, effects: TxnEffects): void {
  const count = c.vectorLength('multi txns');
  // Where each op's type and bytes are; any failed op makes the whole multi a no-op.
  const ops: number[] = [];
  let failed = false;
  for (let i = 0; i < count; i++) {
    const type = c.int('multi sub-txn type');
    const lenAt = c.offset;
    const n = c.skip('multi sub-txn data');
    if (n < 0) throw new IntegrityError('malformed', c.file, lenAt, 'malformed: null multi sub-txn');
    if (type === OpCode.error) failed = true;
    ops.push(type, c.pos - n, c.pos);
  }
  if (failed) return;
  for (let i = 0; i < ops.length; i += 3)
    body(new JuteReader(c.buf, c.file, { start: ops[i + 1], end: ops[i + 2] }), ops[i], clientId, true, effects);
}
