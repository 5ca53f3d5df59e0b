// ZooKeeper's error codes and the errors a session reports: per-node refusals (ZkOpError), requests too
// large to send, and the hint that goes with a connection problem.
import { AuthError, ZkvaultError } from '../errors.js';
import type { ZkOpResult } from './types.js';

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

/** What to try when a server cannot be reached. */
export function connectHint(connectString: string): string {
  const first = connectString.split(/[,/]/)[0] ?? connectString;
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(first);
  const target = m ? `${m[1]} ${m[2]}` : `${first} 2181`;
  return `check that ZooKeeper is running and reachable (e.g. \`echo srvr | nc ${target}\`) and that --zk is right`;
}

/** A certificate or TLS handshake problem: exit 12, naming what the TLS layer said. */
export function tlsError(where: string, e: { detail: string; code?: string }): AuthError {
  const hint =
    e.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? "the server's certificate does not name the host connected to; give the name it carries with --zk-tls-servername"
      : /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED/.test(e.code ?? '')
        ? "the server's certificate is not signed by a CA given with --zk-tls-ca"
        : /BAD_CERTIFICATE|CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|CERTIFICATE_UNKNOWN/.test(e.code ?? '')
          ? 'the server refused our client certificate (or its absence); give one its truststore trusts with --zk-tls-cert and --zk-tls-key'
          : "check --zk-tls-ca, --zk-tls-cert, --zk-tls-key and --zk-tls-servername, and that the port is the server's secureClientPort";
  return new AuthError(`TLS to ZooKeeper at ${where} failed: ${e.detail}${e.code ? ` (${e.code})` : ''}`, { hint });
}
