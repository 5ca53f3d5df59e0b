// What a txn does to the shape of the tree, read straight from a log record's bytes: which path is
// created (with its owner and data length), deleted or given new data, and which session closes. Paths
// are handed over as byte ranges of the record, never decoded, and nothing else of the body is kept:
// what counting millions of txns needs (core/count-replay.ts). The layout is txn.ts's; lengths are
// bounds-checked as there. Txns that change no node's existence, type or data length (setACL, check,
// createSession, error) are recognised by their type alone.
import { IntegrityError } from '../errors.js';
import { DEFAULT_MAX_LENGTH } from './jute.js';
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

class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
    readonly file: string,
  ) {}

  need(n: number, what: string): void {
    if (this.end - this.pos < n)
      throw new IntegrityError('truncated', this.file, this.pos, `truncated: ${what} needs ${n} bytes, ${this.end - this.pos} left`);
  }

  int(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Skips a length-prefixed field, returning its length (-1 for null). */
  skipField(what: string): number {
    const at = this.pos;
    const n = this.int(`${what} length`);
    if (n < -1 || n > DEFAULT_MAX_LENGTH)
      throw new IntegrityError('malformed', this.file, at, `malformed: unreasonable ${what} length ${n}`);
    if (n > 0) {
      this.need(n, what);
      this.pos += n;
    }
    return n;
  }

  /** A non-null path: its length; its bytes end at `pos`. */
  path(what: string): number {
    const at = this.pos;
    const n = this.skipField(what);
    if (n < 0) throw new IntegrityError('malformed', this.file, at, `malformed: ${what} is null`);
    return n;
  }

  skipAcls(what: string): void {
    const at = this.pos;
    const n = this.int(`${what} count`);
    if (n < -1 || n > DEFAULT_MAX_LENGTH)
      throw new IntegrityError('malformed', this.file, at, `malformed: unreasonable ${what} count ${n}`);
    for (let i = 0; i < n; i++) {
      this.int(`${what} perms`);
      this.skipField(`${what} scheme`);
      this.skipField(`${what} id`);
    }
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
  body(new Cursor(buf, start + TXN_HEADER_SIZE, end, file), type, clientId, false, effects);
}

function body(c: Cursor, type: number, clientId: bigint, inMulti: boolean, effects: TxnEffects): void {
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL: {
      const n = c.path('create path');
      const pathEnd = c.pos;
      const data = c.skipField('create data');
      let kind: CreateKind = type === OpCode.createContainer ? 'container' : type === OpCode.createTTL ? 'ttl' : 'persistent';
      if (type === OpCode.create || type === OpCode.create2) {
        c.skipAcls('create acl');
        c.need(1, 'create ephemeral');
        if (c.buf[c.pos] !== 0) kind = 'ephemeral';
      }
      effects.create(c.buf, pathEnd - n, pathEnd, kind, clientId, Math.max(0, data));
      return;
    }
    case OpCode.delete:
    case OpCode.deleteContainer: {
      const n = c.path('delete path');
      effects.delete(c.buf, c.pos - n, c.pos);
      return;
    }
    case OpCode.setData:
    case OpCode.reconfig: {
      const n = c.path('setData path');
      const pathEnd = c.pos;
      const data = c.skipField('setData data');
      effects.setData(c.buf, pathEnd - n, pathEnd, Math.max(0, data));
      return;
    }
    case OpCode.closeSession: {
      if (inMulti || c.pos === c.end) return effects.closeSession(clientId, c.buf, null);
      const at = c.pos;
      const count = c.int('closeSession paths2Delete count');
      if (count < -1 || count > DEFAULT_MAX_LENGTH)
        throw new IntegrityError('malformed', c.file, at, `malformed: unreasonable closeSession paths2Delete count ${count}`);
      const paths: number[] = [];
      for (let i = 0; i < count; i++) {
        const n = c.skipField('closeSession path');
        if (n >= 0) paths.push(c.pos - n, c.pos);
      }
      return effects.closeSession(clientId, c.buf, paths);
    }
    case OpCode.multi:
      if (inMulti) throw new IntegrityError('malformed', c.file, c.pos, 'malformed: multi nested inside multi');
      return multi(c, clientId, effects);
    case OpCode.setACL:
    case OpCode.check:
    case OpCode.createSession:
    case OpCode.error:
      return;
    default:
      throw new IntegrityError('malformed', c.file, c.pos - 4, `malformed: unsupported txn type ${type}`);
  }
}

function multi(c: Cursor, clientId: bigint, effects: TxnEffects): void {
  const at = c.pos;
  const count = c.int('multi txns count');
  if (count < -1 || count > DEFAULT_MAX_LENGTH)
    throw new IntegrityError('malformed', c.file, at, `malformed: unreasonable multi txns count ${count}`);
  // Where each op's type and bytes are; any failed op makes the whole multi a no-op.
  const ops: number[] = [];
  let failed = false;
  for (let i = 0; i < count; i++) {
    const type = c.int('multi sub-txn type');
    const lenAt = c.pos;
    const n = c.skipField('multi sub-txn data');
    if (n < 0) throw new IntegrityError('malformed', c.file, lenAt, 'malformed: null multi sub-txn');
    if (type === OpCode.error) failed = true;
    ops.push(type, c.pos - n, c.pos);
  }
  if (failed) return;
  for (let i = 0; i < ops.length; i += 3) body(new Cursor(c.buf, ops[i + 1], ops[i + 2], c.file), ops[i], clientId, true, effects);
}
