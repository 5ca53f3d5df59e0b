// The one adapter over node-zookeeper-client: a small promise-based, typed ZooKeeper session.
// Client errors become zkvault errors here and nowhere else; the rest of zkvault never imports the client.
//
// What node-zookeeper-client 1.1.3 cannot do, and how this file copes (checked against its lib/ source
// and a ZooKeeper 3.8 server):
// - No TLS, no SASL (Kerberos), no read-only mode, no IPv6 literals in connect strings (it splits host
//   and port on ':'). These are gaps: openSession rejects an IPv6 literal with a UsageError.
// - No sync(), no container or TTL creation (its CreateMode stops at EPHEMERAL_SEQUENTIAL). The wire
//   protocol for these is tiny, so this file sends them itself through the client's own connection
//   manager and jute records (see `send`). The client dispatches a reply by the request's opcode, so a
//   request whose reply it cannot parse travels under a stand-in opcode whose reply shape is a prefix
//   of the real one (sync → delete: no payload; create-container/TTL → create: the path).
// - Its public methods have bugs we route around by sending the same jute requests directly:
//   `Transaction.check/setData/remove` turn version 0 into -1 (`version || -1`); `setData(path, null)`
//   throws; `getACL` throws inside the socket handler (crashing the process) on an ACL whose perms are
//   outside 1..31, which the server accepts; `Exception.create` throws on any error code it does not
//   know (QuotaExceeded -125, Throttled -127, SessionMoved -118, …), again inside the socket handler.
//   The last one is patched once below so unknown codes become ordinary errors.
// - No request timeout and endless reconnects: a request can wait forever for a server that is gone.
//   This file fails every waiting request with a ConnectionError once the connection has been down for
//   longer than the session timeout, and fails openSession after connectTimeoutMs.
// - Size: the client asserts data ≤ 1,048,576 bytes, but the real cap is the server's jute.maxbuffer
//   (default 1,048,575 bytes) applied to the whole request packet (opcode header, path, data, ACL,
//   flags; for a multi, every op). A request over it makes the server drop the connection, which fails
//   every in-flight request of the session with ConnectionLoss. So every request is measured before it
//   is sent and refused with a RequestTooLargeError instead. Creating `/x` with the open ACL, the
//   largest data is 1,048,575 − 49 = 1,048,526 bytes (header 8, path 6, data length 4, ACL 27, flags 4);
//   see `requestBytes`. The server takes a request of exactly jute.maxbuffer bytes.
// - The server never reports container or TTL owners to clients: Stat.ephemeralOwner reads 0 for both
//   (DataNode.getClientEphemeralOwner in ZooKeeper 3.5+). A live walk therefore sees containers and
//   TTL nodes as persistent; only snapshots and transaction logs keep their type.
import { createRequire } from 'node:module';
import net from 'node:net';

import zookeeper from 'node-zookeeper-client';

import type { AclEntry, NodeStat } from '../core/node-record.js';
import { parseConnectString } from '../core/connect-string.js';
import { znodePathProblem } from '../core/znode-path.js';
import { AuthError, CancelledError, ConnectionError, InternalError, UsageError, UserError, ZkvaultError } from '../errors.js';

// ---------------------------------------------------------------------------------------------------
// Public types

export interface ZkSessionOptions {
  /** `host:port[,host:port…][/chroot]`. */
  connectString: string;
  /** `scheme:credentials` pairs added to the session, e.g. `digest:alice:secret`. Never printed. */
  auth?: string[];
  /** Requested session timeout; the server clamps it to [2, 20] × tickTime. Default 30 s. */
  sessionTimeoutMs?: number;
  /** How long openSession waits for a server to accept the session. Default 10 s. */
  connectTimeoutMs?: number;
  /** The server's jute.maxbuffer, if raised from the default 1,048,575 bytes. */
  maxRequestBytes?: number;
  /** Aborting closes the session; pending and later calls reject with CancelledError. */
  signal?: AbortSignal;
}

/** A ZooKeeper Stat, longs as bigint. Container and TTL nodes read with ephemeralOwner 0 (see top). */
export interface ZkStat extends NodeStat {
  dataLength: number;
  numChildren: number;
}

export type ZkCreateMode =
  | 'persistent'
  | 'ephemeral'
  | 'persistent_sequential'
  | 'ephemeral_sequential'
  /** Deleted by the server once its last child is gone. */
  | 'container'
  /** Needs `ttlMs` and a server with extendedTypesEnabled. */
  | 'ttl'
  | 'ttl_sequential';

export interface ZkCreateOptions {
  /** Required for the `ttl` modes: milliseconds after the last change at which an empty node expires. */
  ttlMs?: bigint | number;
}

/** The modes a multi can create: the client's transaction reply parser knows only plain creates. */
export type ZkMultiCreateMode = 'persistent' | 'ephemeral' | 'persistent_sequential' | 'ephemeral_sequential';

export type ZkOp =
  | { type: 'create'; path: string; data: Uint8Array | null; acl: readonly AclEntry[]; mode?: ZkMultiCreateMode }
  | { type: 'setData'; path: string; data: Uint8Array | null; version?: number }
  | { type: 'delete'; path: string; version?: number }
  /** Passes when the node exists and, unless version is -1, has that data version. */
  | { type: 'check'; path: string; version: number };

export type ZkOpResult =
  | { type: 'create'; path: string }
  | { type: 'setData'; stat: ZkStat }
  | { type: 'delete' }
  | { type: 'check' }
  /** In a failed multi every op reports an error: 0 before the culprit, -2 after it. */
  | { type: 'error'; code: number };

export interface ZkSession {
  /** The server-assigned session id (as ephemeral nodes' ephemeralOwner shows it). */
  readonly sessionId: bigint;
  /** The chroot of the connect string ('' for none); paths given to this session are relative to it. */
  readonly chroot: string;
  /** The server this session is connected to now, as `address:port`, or undefined while disconnected. */
  readonly server: string | undefined;
  /** The zxid in the last reply header: after a read, the server's last applied zxid. */
  readonly lastZxidSeen: bigint;

  /** null when the node does not exist. `data` is null for a node created with no data. */
  getData(path: string): Promise<{ data: Uint8Array | null; stat: ZkStat } | null>;
  getChildren(path: string): Promise<{ children: string[]; stat: ZkStat } | null>;
  getAcl(path: string): Promise<{ acl: AclEntry[]; stat: ZkStat } | null>;
  exists(path: string): Promise<ZkStat | null>;
  /** Resolves to the created path (with the sequence suffix for sequential modes). */
  create(path: string, data: Uint8Array | null, acl: readonly AclEntry[], mode?: ZkCreateMode, options?: ZkCreateOptions): Promise<string>;
  setData(path: string, data: Uint8Array | null, version?: number): Promise<ZkStat>;
  setAcl(path: string, acl: AclEntry[], version?: number): Promise<ZkStat>;
  delete(path: string, version?: number): Promise<void>;
  /** All or nothing. On failure rejects with a ZkOpError whose `index` names the failing op. */
  multi(ops: ZkOp[]): Promise<ZkOpResult[]>;
  /** Makes the connected server catch up with the leader up to now. */
  sync(path: string): Promise<void>;
  /** Ends the session (its ephemeral nodes are gone once this resolves). Idempotent. */
  close(): Promise<void>;
}

/** ZooKeeper's error codes (KeeperException.Code), for messages and for callers' comparisons. */
export const ZK_ERROR = {
  SystemError: -1,
  RuntimeInconsistency: -2,
  DataInconsistency: -3,
  ConnectionLoss: -4,
  MarshallingError: -5,
  Unimplemented: -6,
  OperationTimeout: -7,
  BadArguments: -8,
  UnknownSession: -12,
  NewConfigNoQuorum: -13,
  ReconfigInProgress: -14,
  ApiError: -100,
  NoNode: -101,
  NoAuth: -102,
  BadVersion: -103,
  NoChildrenForEphemerals: -108,
  NodeExists: -110,
  NotEmpty: -111,
  SessionExpired: -112,
  InvalidCallback: -113,
  InvalidAcl: -114,
  AuthFailed: -115,
  SessionMoved: -118,
  NotReadOnly: -119,
  EphemeralOnLocalSession: -120,
  NoWatcher: -121,
  RequestTimeout: -122,
  ReconfigDisabled: -123,
  SessionClosedRequireSaslAuth: -124,
  QuotaExceeded: -125,
  Throttled: -127,
} as const;

const ERROR_NAMES = new Map<number, string>(Object.entries(ZK_ERROR).map(([name, code]) => [code, name]));

export function zkErrorName(code: number): string {
  return ERROR_NAMES.get(code) ?? `error ${code}`;
}

function hintFor(code: number): string | undefined {
  switch (code) {
    case ZK_ERROR.NoAuth:
      return 'the session lacks a permission on this node; pass credentials that have it with --auth SCHEME:CREDENTIALS';
    case ZK_ERROR.Unimplemented:
      return 'the server does not support this operation (TTL nodes need extendedTypesEnabled=true on every server)';
    case ZK_ERROR.QuotaExceeded:
      return 'the node is over its quota (see `listquota` in zkCli)';
    case ZK_ERROR.Throttled:
      return 'the server is shedding load; try again later or with less concurrency';
    default:
      return undefined;
  }
}

/**
 * A ZooKeeper operation refused for one node (NoNode on a write, NoAuth, NodeExists, BadVersion, …).
 * Callers decide whether that is partial success or failure. NoAuth carries the `auth` kind (exit 12).
 */
export class ZkOpError extends ZkvaultError {
  /** ZooKeeper error code, e.g. -101 NoNode, -102 NoAuth, -110 NodeExists (see ZK_ERROR). */
  readonly code: number;
  /** The node the failing operation named ('' when the server refused a multi as a whole). */
  readonly path: string;
  /** The operation: 'getData', 'create', 'multi', … */
  readonly op: string;
  /** For a failed multi: the index of the op that failed, else undefined. */
  readonly index: number | undefined;
  /** For a failed multi: one result per op (all of type 'error'). */
  readonly results: ZkOpResult[];

  constructor(
    code: number,
    op: string,
    path: string,
    details: { index?: number; results?: ZkOpResult[]; hint?: string; cause?: unknown } = {},
  ) {
    const where = details.index === undefined ? path : `${path} (op ${details.index} of the multi)`;
    super(code === ZK_ERROR.NoAuth ? 'auth' : 'user', `${where}: ${op} failed: ${zkErrorName(code)} (${code})`, {
      hint: details.hint ?? hintFor(code),
      cause: details.cause,
    });
    this.name = 'ZkOpError';
    this.code = code;
    this.op = op;
    this.path = path;
    this.index = details.index;
    this.results = details.results ?? [];
  }
}

/** A request larger than the server's jute.maxbuffer; it was not sent. */
export class RequestTooLargeError extends ZkvaultError {
  readonly path: string;
  readonly bytes: number;
  readonly limit: number;

  constructor(op: string, path: string, bytes: number, limit: number) {
    super('user', `${path}: ${op} request is ${bytes} bytes, over the server's jute.maxbuffer of ${limit} bytes`, {
      hint: 'ZooKeeper refuses packets over jute.maxbuffer; split the multi, or raise jute.maxbuffer on ' + 'every server and client alike',
    });
    this.name = 'RequestTooLargeError';
    this.path = path;
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** ZooKeeper's default jute.maxbuffer: the largest request packet a server accepts. */
export const DEFAULT_MAX_REQUEST_BYTES = 0xfffff;

function checkPath(path: string): void {
  const problem = znodePathProblem(path);
  if (problem !== undefined) throw new UsageError(`invalid znode path: ${problem}`);
}

// ---------------------------------------------------------------------------------------------------
// The client's internals we rely on (node-zookeeper-client 1.1.3, pinned).

interface JuteRecord {
  byteLength(): number;
  serialize(buffer: Buffer, offset: number): number;
  setChrootPath(path: string | undefined): void;
}
interface JuteStat {
  czxid: Buffer;
  mzxid: Buffer;
  ctime: Buffer;
  mtime: Buffer;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: Buffer;
  dataLength: number;
  numChildren: number;
  pzxid: Buffer;
}
interface JuteAcl {
  perms: number;
  id: { scheme: string; id: string };
}
interface JuteHeader {
  xid: number;
  type: number;
  byteLength(): number;
  serialize(buffer: Buffer, offset: number): number;
}
interface JuteResponse {
  header: { err: number; zxid: Buffer };
  payload: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- shape depends on the opcode
}
type RecordCtor = new (...args: unknown[]) => JuteRecord & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface JuteModule {
  OP_CODES: Record<string, number>;
  Request: new (header: JuteHeader | null, payload: JuteRecord | null) => unknown;
  TransactionRequest: new (ops: unknown[]) => JuteRecord;
  protocol: Record<string, RecordCtor>;
  data: Record<string, RecordCtor>;
}
interface ConnectionManager {
  state: number;
  connectTimeoutHandler: NodeJS.Timeout | null;
  socket?: net.Socket;
  zxid: Buffer;
  queue(request: unknown, callback: (error: ClientException | null, response: JuteResponse) => void): void;
  setState(state: number): void;
  on(event: 'state', listener: (state: number) => void): void;
  removeListener(event: 'state', listener: (state: number) => void): void;
}
interface ClientException extends Error {
  code: number;
}
interface RawClient {
  connectionManager: ConnectionManager;
  connect(): void;
  close(): void;
  getSessionId(): Buffer;
  getSessionTimeout(): number;
  addAuthInfo(scheme: string, auth: Buffer): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  removeListener(event: string, listener: (...args: unknown[]) => void): void;
}

const require = createRequire(import.meta.url);
const jute = require('node-zookeeper-client/lib/jute') as JuteModule;
const OP = jute.OP_CODES;
const CM_STATES = { CONNECTED: 2, CLOSING: -1, CLOSED: -2 } as const;

// Unknown error codes must not throw inside the client's socket handler (see the top of this file).
{
  const exceptionModule = require('node-zookeeper-client/lib/Exception.js') as {
    create: (code: number, path?: string) => ClientException;
  } & Record<string, unknown>;
  const known = new Set(Object.values(exceptionModule).filter((v): v is number => typeof v === 'number'));
  const original = exceptionModule.create;
  if (!(original as { zkvaultTolerant?: boolean }).zkvaultTolerant) {
    const tolerant = (code: number, path?: string): ClientException => {
      if (known.has(code)) return original(code, path);
      const error = new Error(`Exception: ${zkErrorName(code)}[${code}]`) as ClientException & { getCode(): number };
      error.code = code;
      error.getCode = () => code;
      return error;
    };
    (tolerant as { zkvaultTolerant?: boolean }).zkvaultTolerant = true;
    exceptionModule.create = tolerant;
  }
}

// Throughput: the client parses one reply per socket chunk and re-concatenates the rest of the chunk
// for the next (quadratic copying when many replies arrive together), and writes every request with
// its own syscall. Replies are split into whole frames before the client sees them, and writes made
// in one tick are corked into one. Behaviour is otherwise unchanged.
{
  type CmProto = {
    onSocketData: (this: CmThis, buffer: Buffer) => void;
    onSocketConnected: (this: CmThis) => void;
    onPacketQueueReadable: (this: CmThis) => void;
    zkvaultFramed?: boolean;
  };
  type CmThis = { socket?: net.Socket; pendingBuffer: Buffer | null; zkvaultRest?: Buffer | null };
  const proto = (require('node-zookeeper-client/lib/ConnectionManager.js') as { prototype: CmProto }).prototype;
  if (!proto.zkvaultFramed) {
    const onSocketData = proto.onSocketData;
    proto.onSocketData = function (this: CmThis, chunk: Buffer) {
      let buf = this.zkvaultRest && this.zkvaultRest.length > 0 ? Buffer.concat([this.zkvaultRest, chunk]) : chunk;
      let pos = 0;
      while (buf.length - pos >= 4) {
        const size = buf.readInt32BE(pos);
        if (size < 0 || buf.length - pos - 4 < size) break;
        this.pendingBuffer = null;
        onSocketData.call(this, buf.subarray(pos, pos + 4 + size));
        pos += 4 + size;
      }
      buf = buf.subarray(pos);
      this.zkvaultRest = buf.length > 0 ? Buffer.from(buf) : null;
    };
    const onConnected = proto.onSocketConnected;
    proto.onSocketConnected = function (this: CmThis) {
      this.zkvaultRest = null; // a new connection: nothing left over from the old one
      return onConnected.call(this);
    };
    const onReadable = proto.onPacketQueueReadable;
    proto.onPacketQueueReadable = function (this: CmThis) {
      const socket = this.socket;
      if (!socket || socket.destroyed || socket.writableCorked > 0) return onReadable.call(this);
      socket.cork();
      try {
        onReadable.call(this);
      } finally {
        process.nextTick(() => socket.uncork());
      }
    };
    proto.zkvaultFramed = true;
  }
}

const CREATE_FLAGS: Record<ZkCreateMode, number> = {
  persistent: 0,
  ephemeral: 1,
  persistent_sequential: 2,
  ephemeral_sequential: 3,
  container: 4,
  ttl: 5,
  ttl_sequential: 6,
};
const OPCODE_CREATE_CONTAINER = 19;
const OPCODE_CREATE_TTL = 21;
/** The request header: xid and opcode, two ints. */
const HEADER_BYTES = 8;

function header(type: number, wireType = type): JuteHeader {
  return {
    xid: 0,
    type, // what the client dispatches the reply on
    byteLength: () => HEADER_BYTES,
    serialize(buffer: Buffer, offset: number): number {
      buffer.writeInt32BE(this.xid, offset);
      buffer.writeInt32BE(wireType, offset + 4);
      return HEADER_BYTES;
    },
  };
}

function record(kind: 'protocol' | 'data', name: string, fields: Record<string, unknown>): JuteRecord {
  const Ctor = jute[kind][name];
  if (Ctor === undefined) throw new Error(`node-zookeeper-client has no jute ${kind}.${name}`);
  return Object.assign(new Ctor(), fields);
}

function asBuffer(data: Uint8Array | null): Buffer | undefined {
  if (data === null) return undefined;
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function aclRecords(acl: readonly AclEntry[]): JuteRecord[] {
  return acl.map((a) => {
    const id = new jute.data.Id();
    Object.assign(id, { scheme: a.scheme, id: a.id });
    const entry = new jute.data.ACL();
    Object.assign(entry, { perms: a.perms, id });
    return entry;
  });
}

function toStat(s: JuteStat): ZkStat {
  return {
    czxid: s.czxid.readBigInt64BE(0),
    mzxid: s.mzxid.readBigInt64BE(0),
    pzxid: s.pzxid.readBigInt64BE(0),
    ctime: s.ctime.readBigInt64BE(0),
    mtime: s.mtime.readBigInt64BE(0),
    version: s.version,
    cversion: s.cversion,
    aversion: s.aversion,
    ephemeralOwner: s.ephemeralOwner.readBigInt64BE(0),
    dataLength: s.dataLength,
    numChildren: s.numChildren,
  };
}

/**
 * Bytes a request packet takes on the wire, excluding its 4-byte length prefix: what the server
 * compares with jute.maxbuffer. `chroot` is prepended to every path, as the client does.
 */
export function requestBytes(op: ZkOp | { type: 'multi'; ops: ZkOp[] }, chroot = ''): number {
  const str = (s: string) => 4 + Buffer.byteLength(s);
  const path = (p: string) => str(chroot === '' ? p : p === '/' ? chroot : chroot + p);
  const buf = (d: Uint8Array | null) => 4 + (d === null ? 0 : d.byteLength);
  const acl = (a: readonly AclEntry[]) => 4 + a.reduce((n, e) => n + 4 + str(e.scheme) + str(e.id), 0);
  const body = (o: ZkOp): number => {
    switch (o.type) {
      case 'create':
        return path(o.path) + buf(o.data) + acl(o.acl) + 4;
      case 'setData':
        return path(o.path) + buf(o.data) + 4;
      case 'delete':
      case 'check':
        return path(o.path) + 4;
    }
  };
  const MULTI_HEADER = 9; // type int, done boolean, err int
  if (op.type === 'multi') return HEADER_BYTES + op.ops.reduce((n, o) => n + MULTI_HEADER + body(o), 0) + MULTI_HEADER;
  return HEADER_BYTES + body(op);
}

/**
 * What one op adds to a multi's request ({@link requestBytes} of a multi is that of the empty multi
 * plus this for each op): batches are sized by adding these up.
 */
export function multiOpBytes(op: ZkOp, chroot = ''): number {
  return requestBytes({ type: 'multi', ops: [op] }, chroot) - requestBytes({ type: 'multi', ops: [] }, chroot);
}

// ---------------------------------------------------------------------------------------------------
// Sessions

interface ParsedAuth {
  scheme: string;
  credentials: Buffer;
}

function parseAuth(auth: string[]): ParsedAuth[] {
  return auth.map((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1)
      // The entry itself may be a secret: name it by position only.
      throw new UsageError(`--auth #${i + 1} is not SCHEME:CREDENTIALS`, { hint: 'e.g. --auth digest:alice:secret' });
    return { scheme: entry.slice(0, colon), credentials: Buffer.from(entry.slice(colon + 1), 'utf8') };
  });
}

function connectHint(connectString: string): string {
  const first = connectString.split(/[,/]/)[0] ?? connectString;
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(first);
  const target = m ? `${m[1]} ${m[2]}` : `${first} 2181`;
  return `check that ZooKeeper is running and reachable (e.g. \`echo srvr | nc ${target}\`) and that --zk is right`;
}

/**
 * Opens a session and waits until a server has accepted it (and any `auth` has been accepted too).
 * Rejects with ConnectionError (no server answered within connectTimeoutMs), AuthError (a scheme was
 * refused), UsageError (a malformed connect string or auth entry) or CancelledError.
 */
export async function openSession(opts: ZkSessionOptions): Promise<ZkSession> {
  const { chroot } = parseConnectString(opts.connectString);
  const auth = parseAuth(opts.auth ?? []);
  if (opts.signal?.aborted) throw new CancelledError();
  const client = zookeeper.createClient(opts.connectString.trim(), {
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    spinDelay: 200,
    retries: 0,
  }) as unknown as RawClient;
  for (const a of auth) client.addAuthInfo(a.scheme, a.credentials);
  const session = new ClientSession(client, opts, chroot);
  await session.start(opts.connectTimeoutMs ?? 10_000, auth.length > 0);
  return session;
}

type Broken = ZkvaultError;

class ClientSession implements ZkSession {
  readonly chroot: string;
  private readonly client: RawClient;
  private readonly cm: ConnectionManager;
  private readonly connectString: string;
  private readonly maxRequestBytes: number;
  private readonly signal: AbortSignal | undefined;
  private readonly pending = new Set<(error: Error) => void>();
  private broken: Broken | undefined;
  private closing: Promise<void> | undefined;
  private everConnected = false;
  private downTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.fail(new CancelledError());
  private readonly onClientState = (state: unknown) => this.clientState(String(state));

  constructor(client: RawClient, opts: ZkSessionOptions, chroot: string) {
    this.client = client;
    this.cm = client.connectionManager;
    this.connectString = opts.connectString.trim();
    this.chroot = chroot;
    this.maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.signal = opts.signal;
  }

  get sessionId(): bigint {
    return this.client.getSessionId().readBigInt64BE(0);
  }

  get server(): string | undefined {
    const s = this.cm.socket;
    if (this.cm.state !== CM_STATES.CONNECTED || s === undefined || s.remoteAddress === undefined) return undefined;
    return s.remoteFamily === 'IPv6' ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
  }

  get lastZxidSeen(): bigint {
    return this.cm.zxid.readBigInt64BE(0);
  }

  async start(connectTimeoutMs: number, probeAuth: boolean): Promise<void> {
    this.client.on('state', this.onClientState);
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new ConnectionError(`cannot connect to ZooKeeper at ${this.connectString}: no server answered within ${connectTimeoutMs} ms`, {
            hint: connectHint(this.connectString),
          }),
        );
      }, connectTimeoutMs);
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.pending.delete(done);
        if (error) reject(error);
        else resolve();
      };
      this.pending.add(done);
      this.client.on('connected', () => done());
    });
    this.client.connect();
    try {
      await connected;
      // Auth packets go out right after the connect request; a request queued behind them fails with
      // AuthFailed if the server refused one.
      if (probeAuth) await this.exists('/');
    } catch (error) {
      await this.fail(error instanceof ZkvaultError ? error : this.mapError(error, 'connect', '/'));
      throw this.broken ?? error;
    }
  }

  private clientState(name: string): void {
    if (this.closing !== undefined) return;
    if (name.startsWith('SYNC_CONNECTED')) {
      this.everConnected = true;
      if (this.downTimer) clearTimeout(this.downTimer);
      this.downTimer = undefined;
    } else if (name.startsWith('DISCONNECTED') && this.everConnected && this.downTimer === undefined) {
      // The client reconnects by itself; give up once the session must have expired anyway.
      const limit = this.client.getSessionTimeout();
      this.downTimer = setTimeout(() => {
        void this.fail(
          new ConnectionError(`lost the connection to ZooKeeper at ${this.connectString} for over ${limit} ms`, {
            hint: connectHint(this.connectString),
          }),
        );
      }, limit);
    } else if (name.startsWith('EXPIRED')) {
      void this.fail(
        new ConnectionError(`the ZooKeeper session with ${this.connectString} expired`, {
          hint: 'the connection was down longer than the session timeout; run the command again',
        }),
      );
    } else if (name.startsWith('AUTH_FAILED')) {
      void this.fail(this.authFailed());
    }
  }

  private authFailed(cause?: unknown): AuthError {
    return new AuthError(`ZooKeeper at ${this.connectString} refused the credentials given with --auth`, {
      hint: 'check the scheme of each --auth (e.g. digest:USER:PASSWORD); the server knows only the schemes its authProviders name',
      cause,
    });
  }

  /** Marks the session unusable, rejects everything waiting, and closes the connection. */
  private fail(error: Broken): Promise<void> {
    if (this.broken === undefined) this.broken = error;
    for (const reject of [...this.pending]) reject(this.broken);
    this.pending.clear();
    return this.close();
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.downTimer) clearTimeout(this.downTimer);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.client.removeListener('state', this.onClientState);
    const cm = this.cm;
    this.closing = new Promise<void>((resolve) => {
      if (cm.state === CM_STATES.CLOSED) return resolve();
      const onState = (state: number) => {
        if (state !== CM_STATES.CLOSED) return;
        clearTimeout(fallback);
        cm.removeListener('state', onState);
        resolve();
      };
      cm.on('state', onState);
      // A server that does not answer the close request must not hold us up for long.
      const fallback = setTimeout(() => cm.socket?.destroy(), 5_000);
      if (cm.state === CM_STATES.CONNECTED) {
        // The server deletes the session's ephemerals, replies, then closes the socket.
        this.client.close();
      } else {
        // Not connected: stop the reconnect loop (in CLOSING the next socket close is final). A
        // reconnect the client has already scheduled may still open one more socket; it is dropped
        // as soon as the server answers it.
        cm.setState(CM_STATES.CLOSING);
        if (cm.connectTimeoutHandler) clearTimeout(cm.connectTimeoutHandler);
        if (cm.socket && !cm.socket.destroyed) cm.socket.destroy();
        else onState(CM_STATES.CLOSED);
      }
    });
    if (this.broken === undefined) this.broken = new ConnectionError(`the ZooKeeper session with ${this.connectString} is closed`);
    for (const reject of [...this.pending]) reject(this.broken);
    this.pending.clear();
    return this.closing;
  }

  private mapError(error: unknown, op: string, path: string, details: { index?: number; results?: ZkOpResult[] } = {}): ZkvaultError {
    if (error instanceof ZkvaultError) return error;
    const code = typeof (error as ClientException)?.code === 'number' ? (error as ClientException).code : undefined;
    if (code === undefined) return new InternalError(`${op} ${path}: unexpected failure in the ZooKeeper client`, { cause: error });
    switch (code) {
      case ZK_ERROR.ConnectionLoss:
      case ZK_ERROR.OperationTimeout:
      case ZK_ERROR.RequestTimeout:
        return new ConnectionError(`lost the connection to ZooKeeper at ${this.connectString} during ${op} ${path}`, {
          hint: connectHint(this.connectString),
          cause: error,
        });
      case ZK_ERROR.SessionExpired:
      case ZK_ERROR.SessionMoved:
        return new ConnectionError(`the ZooKeeper session with ${this.connectString} ended during ${op} ${path}: ${zkErrorName(code)}`, {
          hint: 'run the command again',
          cause: error,
        });
      case ZK_ERROR.AuthFailed:
        return this.authFailed(error);
      default:
        return new ZkOpError(code, op, path, { ...details, cause: error });
    }
  }

  /** Sends one request through the client's connection; rejects with a mapped error. */
  private send(op: string, path: string, hdr: JuteHeader, payload: JuteRecord | null): Promise<JuteResponse> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.signal?.aborted) return Promise.reject(new CancelledError());
    if (payload) {
      payload.setChrootPath(this.chroot === '' ? undefined : this.chroot);
      const bytes = hdr.byteLength() + payload.byteLength();
      if (bytes > this.maxRequestBytes) return Promise.reject(new RequestTooLargeError(op, path, bytes, this.maxRequestBytes));
    }
    return new Promise<JuteResponse>((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | null, response?: JuteResponse) => {
        if (settled) return;
        settled = true;
        this.pending.delete(abandon);
        if (error) reject(error);
        else resolve(response!);
      };
      const abandon = (error: Error) => settle(error);
      this.pending.add(abandon);
      this.cm.queue(new jute.Request(hdr, payload), (error, response) => {
        if (error) settle(this.mapError(error, op, path));
        else settle(null, response);
      });
    });
  }

  /** Like send, but NoNode resolves to null. */
  private async read(op: string, path: string, type: number, payload: JuteRecord): Promise<JuteResponse | null> {
    checkPath(path);
    try {
      return await this.send(op, path, header(type), payload);
    } catch (error) {
      if (error instanceof ZkOpError && error.code === ZK_ERROR.NoNode) return null;
      throw error;
    }
  }

  async getData(path: string): Promise<{ data: Uint8Array | null; stat: ZkStat } | null> {
    const r = await this.read('getData', path, OP.GET_DATA, record('protocol', 'GetDataRequest', { path, watch: false }));
    if (r === null) return null;
    const data = r.payload.data as Buffer | undefined;
    return { data: data ?? null, stat: toStat(r.payload.stat) };
  }

  async getChildren(path: string): Promise<{ children: string[]; stat: ZkStat } | null> {
    const r = await this.read('getChildren', path, OP.GET_CHILDREN2, record('protocol', 'GetChildren2Request', { path, watch: false }));
    if (r === null) return null;
    return { children: (r.payload.children as string[] | undefined) ?? [], stat: toStat(r.payload.stat) };
  }

  async getAcl(path: string): Promise<{ acl: AclEntry[]; stat: ZkStat } | null> {
    const r = await this.read('getAcl', path, OP.GET_ACL, record('protocol', 'GetACLRequest', { path }));
    if (r === null) return null;
    const acl = ((r.payload.acl as JuteAcl[] | undefined) ?? []).map((a) => ({ perms: a.perms, scheme: a.id.scheme, id: a.id.id }));
    return { acl, stat: toStat(r.payload.stat) };
  }

  async exists(path: string): Promise<ZkStat | null> {
    const r = await this.read('exists', path, OP.EXISTS, record('protocol', 'ExistsRequest', { path, watch: false }));
    return r === null ? null : toStat(r.payload.stat);
  }

  async create(
    path: string,
    data: Uint8Array | null,
    acl: readonly AclEntry[],
    mode: ZkCreateMode = 'persistent',
    options: ZkCreateOptions = {},
  ): Promise<string> {
    checkPath(path);
    const flags = CREATE_FLAGS[mode];
    if (flags === undefined) throw new UsageError(`${path}: unknown create mode "${String(mode)}"`);
    const fields = { path, data: asBuffer(data), acl: aclRecords(acl), flags };
    let hdr: JuteHeader;
    let payload: JuteRecord;
    if (mode === 'ttl' || mode === 'ttl_sequential') {
      if (options.ttlMs === undefined || BigInt(options.ttlMs) <= 0n) throw new UsageError(`${path}: a TTL node needs a positive ttlMs`);
      payload = withTtl(record('protocol', 'CreateRequest', fields), BigInt(options.ttlMs));
      hdr = header(OP.CREATE, OPCODE_CREATE_TTL);
    } else {
      payload = record('protocol', 'CreateRequest', fields);
      hdr = header(OP.CREATE, mode === 'container' ? OPCODE_CREATE_CONTAINER : OP.CREATE);
    }
    const r = await this.send('create', path, hdr, payload);
    return r.payload.path as string;
  }

  async setData(path: string, data: Uint8Array | null, version = -1): Promise<ZkStat> {
    checkPath(path);
    const r = await this.send(
      'setData',
      path,
      header(OP.SET_DATA),
      record('protocol', 'SetDataRequest', { path, data: asBuffer(data), version }),
    );
    return toStat(r.payload.stat);
  }

  async setAcl(path: string, acl: AclEntry[], version = -1): Promise<ZkStat> {
    checkPath(path);
    const r = await this.send(
      'setAcl',
      path,
      header(OP.SET_ACL),
      record('protocol', 'SetACLRequest', { path, acl: aclRecords(acl), version }),
    );
    return toStat(r.payload.stat);
  }

  async delete(path: string, version = -1): Promise<void> {
    checkPath(path);
    await this.send('delete', path, header(OP.DELETE), record('protocol', 'DeleteRequest', { path, version }));
  }

  async sync(path: string): Promise<void> {
    checkPath(path);
    // SyncRequest is a lone path, the same layout as CreateResponse; its reply (the path) is ignored.
    await this.send('sync', path, header(OP.DELETE, OP.SYNC), record('protocol', 'CreateResponse', { path }));
  }

  async multi(ops: ZkOp[]): Promise<ZkOpResult[]> {
    if (ops.length === 0) return []; // an empty multi would still cost a transaction
    const txOps = ops.map((o) => {
      checkPath(o.path);
      switch (o.type) {
        case 'create': {
          const flags = CREATE_FLAGS[o.mode ?? 'persistent'];
          if (flags === undefined || flags > 3) throw new UsageError(`${o.path}: a multi can only create plain nodes, not ${o.mode}`);
          const acls = aclRecords(o.acl).map((r) => ({ toRecord: () => r }));
          return { type: OP.CREATE, path: o.path, data: asBuffer(o.data), acls, mode: flags };
        }
        case 'setData':
          return { type: OP.SET_DATA, path: o.path, data: asBuffer(o.data), version: o.version ?? -1 };
        case 'delete':
          return { type: OP.DELETE, path: o.path, version: o.version ?? -1 };
        case 'check':
          return { type: OP.CHECK, path: o.path, version: o.version };
        default:
          throw new UsageError(`unknown multi op ${JSON.stringify((o as { type: unknown }).type)}`);
      }
    });
    const where = ops[0].path;
    let response: JuteResponse;
    try {
      response = await this.send('multi', where, header(OP.MULTI), new jute.TransactionRequest(txOps));
    } catch (error) {
      if (error instanceof ZkOpError) throw new ZkOpError(error.code, 'multi', '', { cause: error.cause });
      throw error;
    }
    const raw = response.payload.results as Array<{ type: number; path?: string; stat?: JuteStat; err?: number }>;
    const results: ZkOpResult[] = raw.map((r) => {
      if (r.type === OP.CREATE) return { type: 'create', path: r.path! };
      if (r.type === OP.SET_DATA) return { type: 'setData', stat: toStat(r.stat!) };
      if (r.type === OP.DELETE) return { type: 'delete' };
      if (r.type === OP.CHECK) return { type: 'check' };
      return { type: 'error', code: r.err ?? ZK_ERROR.SystemError };
    });
    const failed = results.findIndex((r) => r.type === 'error' && r.code !== 0);
    if (failed !== -1) {
      const code = (results[failed] as { code: number }).code;
      throw this.mapError({ code }, 'multi', ops[failed].path, { index: failed, results });
    }
    return results;
  }
}

/** A CreateTTLRequest: a CreateRequest followed by the TTL as a long. */
function withTtl(create: JuteRecord, ttlMs: bigint): JuteRecord {
  return {
    setChrootPath: (p) => create.setChrootPath(p),
    byteLength: () => create.byteLength() + 8,
    serialize(buffer, offset) {
      const n = create.serialize(buffer, offset);
      buffer.writeBigInt64BE(ttlMs, offset + n);
      return n + 8;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Four-letter words

/**
 * Sends a four-letter word to one server (`host:port`) over plain TCP and returns its whole answer.
 * Servers answer only the words in their 4lw.commands.whitelist (by default just `srvr`).
 */
export function fourLetterWord(
  hostPort: string,
  word: 'srvr' | 'stat' | 'mntr' | 'ruok' | 'conf' | 'cons' | 'dump' | 'envi',
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<string> {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(hostPort) ?? /^([^:/,]+):(\d{1,5})$/.exec(hostPort);
  if (!m) throw new UsageError(`"${hostPort}" is not HOST:PORT`);
  const hostText = hostPort;
  const host = m[1];
  const port = Number(m[2]);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise<string>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new CancelledError());
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) return reject(error);
      const text = Buffer.concat(chunks).toString('utf8');
      if (/is not executed because it is not in the whitelist/.test(text))
        return reject(
          new UserError(`ZooKeeper at ${hostText} refuses the four-letter word "${word}"`, {
            hint: `add ${word} to 4lw.commands.whitelist in the server's zoo.cfg`,
          }),
        );
      resolve(text);
    };
    const onAbort = () => finish(new CancelledError());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () =>
        finish(
          new ConnectionError(`ZooKeeper at ${hostText} did not answer "${word}" within ${timeoutMs} ms`, { hint: connectHint(hostText) }),
        ),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (error) =>
      finish(new ConnectionError(`cannot reach ZooKeeper at ${hostText}: ${error.message}`, { hint: connectHint(hostText), cause: error })),
    );
  });
}

/** The `Zxid: 0x…` line of a `srvr` or `stat` answer: the last zxid the server applied. */
export function parseSrvrZxid(text: string): bigint {
  const m = /^Zxid:\s*(0x[0-9a-fA-F]+)\s*$/m.exec(text);
  if (!m) throw new UserError('the ZooKeeper server did not report its zxid (no "Zxid:" line in its srvr answer)');
  return BigInt.asIntN(64, BigInt(m[1]));
}

/** The last zxid one server (`host:port`) has applied, from its `srvr` answer. */
export async function serverZxid(hostPort: string, opts: { signal?: AbortSignal } = {}): Promise<bigint> {
  return parseSrvrZxid(await fourLetterWord(hostPort, 'srvr', opts));
}
