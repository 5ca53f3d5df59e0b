// The session layer's public types: what the rest of zkvault sees of a ZooKeeper session.
import type { AclEntry, NodeStat } from '../core/node-record.js';

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
  /** Connect over TLS (a server's secureClientPort). */
  tls?: ZkTlsOptions;
  /** Authenticate with SASL right after connecting (and again on every reconnect). Never printed. */
  sasl?: ZkSaslOptions;
  /**
   * Try this server of the connect string first (an index, taken modulo their number); the others
   * follow in random order. Several sessions given 0, 1, 2… spread over the ensemble.
   */
  firstHost?: number;
}

/** How to reach and authenticate to an ensemble: all a session needs besides the connect string. */
export interface ZkAccess {
  /** `scheme:credentials` pairs added to every session, e.g. `digest:alice:secret`. Never printed. */
  auth?: string[];
  tls?: ZkTlsOptions;
  sasl?: ZkSaslOptions;
}

/** TLS to a server's secureClientPort: PEM contents, not paths. Hostname verification is always on. */
export interface ZkTlsOptions {
  /** CA bundle that signed the servers' certificates (default: Node's trusted roots). */
  ca?: string | Buffer;
  /** Client certificate and key, for servers with ssl.clientAuth=need. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name the servers' certificates must carry (default: the host in the connect string). */
  servername?: string;
}

export type ZkSaslOptions =
  /** DIGEST-MD5, as ZooKeeper's JAAS DigestLoginModule checks it. */
  | { mechanism: 'DIGEST-MD5'; username: string; password: string }
  /** Kerberos (GSSAPI): the default credential cache, or a keytab and principal. */
  | { mechanism: 'GSSAPI'; service: string; principal?: string; keytab?: string };

/** A ZooKeeper Stat, longs as bigint. Container and TTL nodes read with ephemeralOwner 0 (the server hides their owners). */
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
  /**
   * The data of several nodes in one request (ZooKeeper 3.6+ multiRead), in order: each its data and
   * stat, or the error code that node alone met (NoNode, NoAuth). A server without multiRead rejects
   * the request (ZkOpError Unimplemented).
   */
  getDataMany(paths: readonly string[]): Promise<Array<{ data: Uint8Array | null; stat: ZkStat } | { code: number }>>;
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
