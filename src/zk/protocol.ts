// ZooKeeper's client wire protocol (zookeeper.jute), on the project's jute codec:
//
//   frame       = int length | payload
//   request     = RequestHeader{int xid, int type} | body
//   reply       = ReplyHeader{int xid, long zxid, int err} | body (when err = 0)
//   connect     = ConnectRequest{int protocolVersion, long lastZxidSeen, int timeOut, long sessionId,
//                 buffer passwd, bool readOnly}  →  ConnectResponse{int protocolVersion, int timeOut,
//                 long sessionId, buffer passwd, [bool readOnly]}   (no headers)
//   Stat        = long czxid, mzxid, ctime, mtime | int version, cversion, aversion | long ephemeralOwner |
//                 int dataLength, numChildren | long pzxid           (68 bytes)
//
// Special xids: -2 ping, -4 auth packets, -1 watch notifications (never asked for here).
import type { AclEntry } from '../core/node-record.js';
import { JuteReader, JuteWriter } from '../formats/jute.js';
import { ZK_ERROR } from './errors.js';
import type { ZkOp, ZkOpResult, ZkStat } from './types.js';

export const OP = {
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  sync: 9,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  createContainer: 19,
  createTTL: 21,
  multiRead: 22,
  auth: 100,
  sasl: 102,
  closeSession: -11,
  error: -1,
} as const;

export const XID = { notification: -1, ping: -2, auth: -4 } as const;

/** The request header: xid and opcode, two ints. */
export const HEADER_BYTES = 8;
/** A reply header: xid, zxid, err. */
export const REPLY_HEADER_BYTES = 16;

export const CREATE_FLAGS = {
  persistent: 0,
  ephemeral: 1,
  persistent_sequential: 2,
  ephemeral_sequential: 3,
  container: 4,
  ttl: 5,
  ttl_sequential: 6,
} as const;

/** A request body, written after its header. `paths` are already under the chroot. */
export type RequestBody = (w: JuteWriter) => void;

export const body = {
  path:
    (path: string): RequestBody =>
    (w) =>
      void w.ustring(path),
  pathWatch:
    (path: string): RequestBody =>
    (w) =>
      void w.ustring(path).bool(false),
  create:
    (path: string, data: Uint8Array | null, acl: readonly AclEntry[], flags: number, ttlMs?: bigint): RequestBody =>
    (w) => {
      w.ustring(path).buffer(data).aclList(acl).int(flags);
      if (ttlMs !== undefined) w.long(ttlMs);
    },
  setData:
    (path: string, data: Uint8Array | null, version: number): RequestBody =>
    (w) =>
      void w.ustring(path).buffer(data).int(version),
  setACL:
    (path: string, acl: readonly AclEntry[], version: number): RequestBody =>
    (w) =>
      void w.ustring(path).aclList(acl).int(version),
  pathVersion:
    (path: string, version: number): RequestBody =>
    (w) =>
      void w.ustring(path).int(version),
  auth:
    (scheme: string, credentials: Uint8Array): RequestBody =>
    (w) =>
      void w.int(0).ustring(scheme).buffer(credentials),
  token:
    (token: Uint8Array | null): RequestBody =>
    (w) =>
      void w.buffer(token),
  /** A multiRead (ZooKeeper 3.6+) of getData ops, no watches. */
  multiGetData:
    (paths: readonly string[], under: (path: string) => string): RequestBody =>
    (w) => {
      for (const p of paths) w.int(OP.getData).bool(false).int(-1).ustring(under(p)).bool(false);
      w.int(-1).bool(true).int(-1);
    },
  multi:
    (ops: ZkOp[], under: (path: string) => string): RequestBody =>
    (w) => {
      for (const o of ops) {
        switch (o.type) {
          case 'create':
            w.int(OP.create).bool(false).int(-1);
            w.ustring(under(o.path))
              .buffer(o.data)
              .aclList(o.acl)
              .int(CREATE_FLAGS[o.mode ?? 'persistent']);
            break;
          case 'setData':
            w.int(OP.setData).bool(false).int(-1);
            w.ustring(under(o.path))
              .buffer(o.data)
              .int(o.version ?? -1);
            break;
          case 'delete':
            w.int(OP.delete).bool(false).int(-1);
            w.ustring(under(o.path)).int(o.version ?? -1);
            break;
          case 'check':
            w.int(OP.check).bool(false).int(-1);
            w.ustring(under(o.path)).int(o.version);
            break;
        }
      }
      w.int(-1).bool(true).int(-1);
    },
};

/** Frames one request: length, header, body. */
export function encodeRequest(w: JuteWriter, xid: number, type: number, write?: RequestBody): Buffer {
  w.reset();
  w.int(0).int(xid).int(type);
  write?.(w);
  const out = w.take();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

export function encodeConnect(
  w: JuteWriter,
  c: { lastZxidSeen: bigint; timeoutMs: number; sessionId: bigint; passwd: Uint8Array },
): Buffer {
  w.reset();
  w.int(0).int(0).long(c.lastZxidSeen).int(c.timeoutMs).long(c.sessionId).buffer(c.passwd).bool(false);
  const out = w.take();
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

export interface ConnectResponse {
  timeoutMs: number;
  sessionId: bigint;
  passwd: Buffer;
}

export function decodeConnect(frame: Buffer, from: string): ConnectResponse {
  const r = new JuteReader(frame, `the connect reply of ${from}`);
  r.int('protocolVersion');
  const timeoutMs = r.int('timeOut');
  const sessionId = r.long('sessionId');
  const passwd = r.buffer('passwd') ?? Buffer.alloc(0);
  return { timeoutMs, sessionId, passwd: Buffer.from(passwd) };
}

export interface ReplyHeader {
  xid: number;
  zxid: bigint;
  err: number;
}

export function decodeReplyHeader(frame: Buffer): ReplyHeader {
  return { xid: frame.readInt32BE(0), zxid: frame.readBigInt64BE(4), err: frame.readInt32BE(12) };
}

/** A reader over a reply's body (after its header). */
export function replyReader(frame: Buffer, from: string): JuteReader {
  return new JuteReader(frame, `a reply from ${from}`, { start: REPLY_HEADER_BYTES });
}

export function readStat(r: JuteReader): ZkStat {
  const czxid = r.long('czxid');
  const mzxid = r.long('mzxid');
  const ctime = r.long('ctime');
  const mtime = r.long('mtime');
  const version = r.int('version');
  const cversion = r.int('cversion');
  const aversion = r.int('aversion');
  const ephemeralOwner = r.long('ephemeralOwner');
  const dataLength = r.int('dataLength');
  const numChildren = r.int('numChildren');
  const pzxid = r.long('pzxid');
  return { czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren };
}

/** A multiRead's getData results, in op order: the data and stat, or the error code (NoNode, NoAuth). */
export function readMultiGetData(r: JuteReader): Array<{ data: Uint8Array | null; stat: ZkStat } | { code: number }> {
  const out: Array<{ data: Uint8Array | null; stat: ZkStat } | { code: number }> = [];
  for (;;) {
    const type = r.int('multiRead type');
    const done = r.bool('multiRead done');
    const err = r.int('multiRead err');
    if (done) break;
    if (type === OP.getData) {
      const data = r.buffer('data');
      out.push({ data: data === null ? null : Buffer.from(data), stat: readStat(r) });
    } else if (type === OP.error) out.push({ code: r.int('err') });
    else out.push({ code: err === 0 ? ZK_ERROR.SystemError : err });
  }
  return out;
}

/** A multi's results, in op order; `strip` takes the chroot off created paths. */
export function readMultiResults(r: JuteReader, strip: (path: string) => string): ZkOpResult[] {
  const out: ZkOpResult[] = [];
  for (;;) {
    const type = r.int('multi type');
    const done = r.bool('multi done');
    const err = r.int('multi err');
    if (done) break;
    switch (type) {
      case OP.create:
        out.push({ type: 'create', path: strip(r.string('path')) });
        break;
      case OP.create2:
        out.push({ type: 'create', path: strip(r.string('path')) });
        readStat(r);
        break;
      case OP.setData:
        out.push({ type: 'setData', stat: readStat(r) });
        break;
      case OP.delete:
        out.push({ type: 'delete' });
        break;
      case OP.check:
        out.push({ type: 'check' });
        break;
      case OP.error:
        out.push({ type: 'error', code: r.int('err') });
        break;
      default:
        out.push({ type: 'error', code: err === 0 ? ZK_ERROR.SystemError : err });
    }
  }
  return out;
}

const str = (s: string) => 4 + Buffer.byteLength(s);
const buf = (d: Uint8Array | null) => 4 + (d === null ? 0 : d.byteLength);
const aclBytes = (a: readonly AclEntry[]) => 4 + a.reduce((n, e) => n + 4 + str(e.scheme) + str(e.id), 0);

/**
 * Bytes a request packet takes on the wire, excluding its 4-byte length prefix: what the server
 * compares with jute.maxbuffer. `chroot` is prepended to every path, as the session does.
 */
export function requestBytes(op: ZkOp | { type: 'multi'; ops: ZkOp[] }, chroot = ''): number {
  const path = (p: string) => str(chroot === '' ? p : p === '/' ? chroot : chroot + p);
  const opBody = (o: ZkOp): number => {
    switch (o.type) {
      case 'create':
        return path(o.path) + buf(o.data) + aclBytes(o.acl) + 4;
      case 'setData':
        return path(o.path) + buf(o.data) + 4;
      case 'delete':
      case 'check':
        return path(o.path) + 4;
    }
  };
  const MULTI_HEADER = 9; // type int, done boolean, err int
  if (op.type === 'multi') return HEADER_BYTES + op.ops.reduce((n, o) => n + MULTI_HEADER + opBody(o), 0) + MULTI_HEADER;
  return HEADER_BYTES + opBody(op);
}

/**
 * What one op adds to a multi's request ({@link requestBytes} of a multi is that of the empty multi
 * plus this for each op): batches are sized by adding these up.
 */
export function multiOpBytes(op: ZkOp, chroot = ''): number {
  return requestBytes({ type: 'multi', ops: [op] }, chroot) - requestBytes({ type: 'multi', ops: [] }, chroot);
}
