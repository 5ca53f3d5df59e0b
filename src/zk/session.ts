// A ZooKeeper session over the wire protocol (zk/protocol, zk/connection): opened on any server of the
// connect string, authenticated (SASL, then `--auth` packets) on every connection, resumed on another
// server when a connection is lost, for as long as the session can still be alive. A request in flight
// when its connection is lost fails (ConnectionError, as ZooKeeper's ConnectionLoss): whether a write
// landed is unknown, so nothing is re-sent on the caller's behalf.
import { parseConnectString } from '../core/connect-string.js';
import type { AclEntry } from '../core/node-record.js';
import { znodePathProblem } from '../core/znode-path.js';
import { AuthError, CancelledError, ConnectionError, UsageError, type ZkvaultError } from '../errors.js';
import { Connection, ConnectionEnd, type Reply } from './connection.js';
import { connectHint, DEFAULT_MAX_REQUEST_BYTES, RequestTooLargeError, tlsError, ZK_ERROR, zkErrorName, ZkOpError } from './errors.js';
import {
  body,
  CREATE_FLAGS,
  HEADER_BYTES,
  OP,
  readMultiGetData,
  readMultiResults,
  readStat,
  replyReader,
  requestBytes,
  XID,
  type RequestBody,
} from './protocol.js';
import { parseAuth, type ParsedAuth } from './auth.js';
import { saslMechanism } from './sasl.js';
import type { ZkCreateMode, ZkCreateOptions, ZkOp, ZkOpResult, ZkSession, ZkSessionOptions, ZkStat } from './types.js';

function checkPath(path: string): void {
  const problem = znodePathProblem(path);
  if (problem !== undefined) throw new UsageError(`invalid znode path: ${problem}`);
}

const SPIN_MS = 200;

/**
 * Opens a session and waits until a server has accepted it (and its SASL and `auth` too). Rejects with
 * ConnectionError (no server answered within connectTimeoutMs), AuthError (credentials or a
 * certificate refused), UsageError (a malformed connect string or auth entry) or CancelledError.
 */
export async function openSession(opts: ZkSessionOptions): Promise<ZkSession> {
  const { hosts, chroot } = parseConnectString(opts.connectString);
  const auth = parseAuth(opts.auth ?? []);
  if (opts.signal?.aborted) throw new CancelledError();
  const session = new WireSession(opts, hosts, chroot, auth);
  await session.start(opts.connectTimeoutMs ?? 10_000);
  return session;
}

class WireSession implements ZkSession {
  readonly chroot: string;
  sessionId = 0n;
  private passwd: Buffer = Buffer.alloc(16);
  private timeoutMs: number;
  private readonly connectString: string;
  private readonly hosts: Array<{ host: string; port: number }>;
  private next = 0;
  private conn: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private lostAt: number | undefined;
  private xid = 1;
  private zxid = 0n;
  private broken: ZkvaultError | undefined;
  private closing: Promise<void> | undefined;
  private readonly pending = new Set<(e: ZkvaultError) => void>();
  private readonly maxRequestBytes: number;
  private readonly onAbort = () => void this.fail(new CancelledError());

  constructor(
    private readonly opts: ZkSessionOptions,
    hosts: string[],
    chroot: string,
    private readonly auth: ParsedAuth[],
  ) {
    this.chroot = chroot;
    this.connectString = opts.connectString.trim();
    this.timeoutMs = opts.sessionTimeoutMs ?? 30_000;
    this.maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    // Spread sessions over the ensemble, as ZooKeeper's own client does (or as the caller places them).
    const all = hosts.map((h) => {
      const i = h.lastIndexOf(':');
      return { host: h.slice(0, i), port: Number(h.slice(i + 1)) };
    });
    const first = opts.firstHost === undefined ? [] : all.splice(opts.firstHost % all.length, 1);
    this.hosts = [...first, ...all.sort(() => Math.random() - 0.5)];
  }

  get server(): string | undefined {
    return this.conn?.isOpen ? this.conn.server : undefined;
  }

  get lastZxidSeen(): bigint {
    return this.zxid;
  }

  async start(connectTimeoutMs: number): Promise<void> {
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    try {
      this.conn = await this.connect(Date.now() + connectTimeoutMs, connectTimeoutMs);
    } catch (err) {
      await this.fail(err as ZkvaultError);
      throw this.broken ?? err;
    }
  }

  /** Tries the servers in turn until one accepts the session (or resumes it), or the deadline passes. */
  private async connect(deadline: number, connectTimeoutMs: number): Promise<Connection> {
    let lastProblem = 'no server answered';
    let closedUnanswered = false;
    for (;;) {
      for (let tried = 0; tried < this.hosts.length; tried++) {
        if (this.broken) throw this.broken;
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        const { host, port } = this.hosts[this.next];
        this.next = (this.next + 1) % this.hosts.length;
        let opened: Awaited<ReturnType<typeof Connection.open>>;
        try {
          opened = await Connection.open(host, port, {
            tls: this.opts.tls,
            timeoutMs: this.timeoutMs,
            connectTimeoutMs: Math.min(remaining, connectTimeoutMs),
            sessionId: this.sessionId,
            passwd: this.passwd,
            lastZxidSeen: this.zxid,
          });
        } catch (end) {
          const e = end as ConnectionEnd;
          if (e.kind === 'tls') throw tlsError(`${host}:${port}`, e);
          if (e.kind === 'lost' && e.detail === 'session expired') throw this.expired();
          lastProblem = `${host}:${port}: ${e.kind === 'lost' ? e.detail : 'closed'}`;
          if (e.detail === 'the server closed the connection') closedUnanswered = true;
          continue;
        }
        const { connection, session } = opened;
        if (this.sessionId !== 0n && session.sessionId !== this.sessionId) {
          connection.close();
          throw this.expired();
        }
        this.sessionId = session.sessionId;
        this.passwd = session.passwd;
        this.timeoutMs = session.timeoutMs;
        try {
          await this.authenticate(connection, host);
        } catch (err) {
          connection.close();
          throw err;
        }
        this.lostAt = undefined;
        connection.onEnd((e) => {
          if (e.kind !== 'closed' && this.conn === connection) this.lostAt = Date.now();
        });
        return connection;
      }
      if (Date.now() + SPIN_MS >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, SPIN_MS));
    }
    const first = this.sessionId === 0n;
    throw new ConnectionError(
      first
        ? `cannot connect to ZooKeeper at ${this.connectString}: no server answered within ${connectTimeoutMs} ms (${lastProblem})`
        : `lost the connection to ZooKeeper at ${this.connectString} for over ${this.timeoutMs} ms`,
      {
        hint:
          closedUnanswered && !this.opts.tls
            ? `a server closed the connection without answering: if that port is a secureClientPort, connect with --zk-tls (and --zk-tls-ca); else ${connectHint(this.connectString)}`
            : connectHint(this.connectString),
      },
    );
  }

  /** SASL first (when asked for), then every `auth` packet; each must be accepted. */
  private async authenticate(c: Connection, host: string): Promise<void> {
    if (this.opts.sasl) {
      const mech = saslMechanism(this.opts.sasl, host);
      let token: Buffer | null = await mech.initial();
      while (token !== null) {
        const reply = await c.request(this.nextXid(), OP.sasl, body.token(token)).catch((e: ConnectionEnd) => {
          throw new AuthError(
            `SASL ${mech.name} with ZooKeeper at ${this.connectString}: the connection ended during authentication (${e.detail})`,
            {
              hint: 'check the credentials and that the server offers SASL (authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider)',
            },
          );
        });
        if (reply.header.err !== 0) {
          throw new AuthError(
            `SASL ${mech.name} with ZooKeeper at ${this.connectString} failed: the server answered ${zkErrorName(reply.header.err)} (${reply.header.err})`,
            {
              hint:
                this.opts.sasl.mechanism === 'DIGEST-MD5'
                  ? 'check the user and password (--zk-sasl digest:USER:PASSWORD), and that the server has them in its JAAS Server section'
                  : 'check the principal, the keytab or credential cache, and --zk-sasl-service (the server principal is SERVICE/HOST@REALM)',
            },
          );
        }
        const r = replyReader(reply.frame, this.connectString);
        token = await mech.step(r.remaining >= 4 ? r.buffer('token') : null);
      }
    }
    for (const a of this.auth) {
      const reply = await c
        .request(XID.auth, OP.auth, body.auth(a.scheme, a.credentials))
        .catch(() => ({ header: { err: ZK_ERROR.AuthFailed } }));
      if (reply.header.err !== 0) throw this.authFailed();
    }
  }

  private nextXid(): number {
    const xid = this.xid;
    this.xid = xid >= 0x7fffffff ? 1 : xid + 1;
    return xid;
  }

  private expired(): ConnectionError {
    return new ConnectionError(`the ZooKeeper session with ${this.connectString} expired`, {
      hint: 'the connection was down longer than the session timeout; run the command again',
    });
  }

  private authFailed(cause?: unknown): AuthError {
    return new AuthError(`ZooKeeper at ${this.connectString} refused the credentials given with --auth`, {
      hint: 'check the scheme of each --auth (e.g. digest:USER:PASSWORD); the server knows only the schemes its authProviders name',
      cause,
    });
  }

  /** A usable connection: the current one, or a new one (the session resumed) within its timeout. */
  private ready(): Promise<Connection> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    this.connecting ??= (async () => {
      const since = this.lostAt ?? Date.now();
      const c = await this.connect(since + this.timeoutMs, this.timeoutMs);
      this.conn = c;
      return c;
    })()
      .catch((err: ZkvaultError) => {
        void this.fail(err);
        throw this.broken ?? err;
      })
      .finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** Marks the session unusable, rejects everything waiting, and closes it. */
  private fail(error: ZkvaultError): Promise<void> {
    if (this.broken === undefined) this.broken = error;
    for (const reject of [...this.pending]) reject(this.broken);
    this.pending.clear();
    return this.close();
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.broken ??= new ConnectionError(`the ZooKeeper session with ${this.connectString} is closed`);
    for (const reject of [...this.pending]) reject(this.broken);
    this.pending.clear();
    const c = this.conn;
    this.closing = (async () => {
      if (!c?.isOpen) return;
      // The server deletes the session's ephemerals, replies, then closes; a silent one is cut off.
      const fallback = setTimeout(() => c.close(), 5_000);
      await c.closeSession(this.nextXid());
      clearTimeout(fallback);
    })();
    return this.closing;
  }

  /** Sends one request; a non-zero error code becomes the matching zkvault error. */
  private async call(op: string, path: string, type: number, write?: RequestBody, size?: number): Promise<Reply> {
    if (this.opts.signal?.aborted) throw new CancelledError();
    if (this.broken) throw this.broken;
    if (size !== undefined && size > this.maxRequestBytes) throw new RequestTooLargeError(op, path, size, this.maxRequestBytes);
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      const abandon = (e: ZkvaultError) => {
        if (settled) return;
        settled = true;
        reject(e);
      };
      this.pending.add(abandon);
      const done = (fn: () => void) => {
        this.pending.delete(abandon);
        if (settled) return;
        settled = true;
        fn();
      };
      this.ready()
        .then((c) => c.request(this.nextXid(), type, write))
        .then(
          (reply) => {
            if (reply.header.zxid > this.zxid) this.zxid = reply.header.zxid;
            const err = reply.header.err;
            if (err === 0) return done(() => resolve(reply));
            const mapped = this.mapCode(err, op, path);
            if (err === ZK_ERROR.AuthFailed || err === ZK_ERROR.SessionClosedRequireSaslAuth || err === ZK_ERROR.SessionExpired)
              void this.fail(mapped);
            done(() => reject(mapped));
          },
          (e: Error) => done(() => reject(e instanceof ConnectionEnd ? this.lost(e, op, path) : e)),
        );
    });
  }

  private lost(e: ConnectionEnd, op: string, path: string): ZkvaultError {
    if (this.broken) return this.broken;
    if (e.kind === 'tls') return tlsError(this.connectString, e);
    return new ConnectionError(`lost the connection to ZooKeeper at ${this.connectString} during ${op} ${path} (${e.detail})`, {
      hint: connectHint(this.connectString),
    });
  }

  private mapCode(code: number, op: string, path: string): ZkvaultError {
    switch (code) {
      case ZK_ERROR.ConnectionLoss:
      case ZK_ERROR.OperationTimeout:
      case ZK_ERROR.RequestTimeout:
        return new ConnectionError(`lost the connection to ZooKeeper at ${this.connectString} during ${op} ${path}`, {
          hint: connectHint(this.connectString),
        });
      case ZK_ERROR.SessionExpired:
      case ZK_ERROR.SessionMoved:
        return new ConnectionError(`the ZooKeeper session with ${this.connectString} ended during ${op} ${path}: ${zkErrorName(code)}`, {
          hint: 'run the command again',
        });
      case ZK_ERROR.AuthFailed:
        return this.authFailed();
      case ZK_ERROR.SessionClosedRequireSaslAuth:
        return new AuthError(
          `ZooKeeper at ${this.connectString} requires SASL authentication and closed the session (${zkErrorName(code)})`,
          {
            hint: 'authenticate with --zk-sasl digest:USER:PASSWORD or --zk-sasl kerberos (or the ZKVAULT_ZK_SASL variable)',
          },
        );
      default:
        return new ZkOpError(code, op, path);
    }
  }

  // ---- paths under the chroot

  private under(path: string): string {
    if (this.chroot === '') return path;
    return path === '/' ? this.chroot : this.chroot + path;
  }

  private strip(path: string): string {
    if (this.chroot === '') return path;
    if (path === this.chroot) return '/';
    return path.startsWith(this.chroot + '/') ? path.slice(this.chroot.length) : path;
  }

  // ---- the operations

  /** A read: NoNode resolves to null. */
  private async read(op: string, path: string, type: number, write: RequestBody): Promise<Reply | null> {
    checkPath(path);
    try {
      return await this.call(op, path, type, write);
    } catch (err) {
      if (err instanceof ZkOpError && err.code === ZK_ERROR.NoNode) return null;
      throw err;
    }
  }

  async getData(path: string): Promise<{ data: Uint8Array | null; stat: ZkStat } | null> {
    const r = await this.read('getData', path, OP.getData, body.pathWatch(this.under(path)));
    if (r === null) return null;
    const rd = replyReader(r.frame, this.connectString);
    const data = rd.buffer('data');
    return { data: data === null ? null : Buffer.from(data), stat: readStat(rd) };
  }

  async getDataMany(paths: readonly string[]): Promise<Array<{ data: Uint8Array | null; stat: ZkStat } | { code: number }>> {
    if (paths.length === 0) return [];
    for (const p of paths) checkPath(p);
    const r = await this.call(
      'multiRead',
      paths[0],
      OP.multiRead,
      body.multiGetData(paths, (p) => this.under(p)),
    );
    return readMultiGetData(replyReader(r.frame, this.connectString));
  }

  async getChildren(path: string): Promise<{ children: string[]; stat: ZkStat } | null> {
    const r = await this.read('getChildren', path, OP.getChildren2, body.pathWatch(this.under(path)));
    if (r === null) return null;
    const rd = replyReader(r.frame, this.connectString);
    const children = rd.stringList('children') ?? [];
    return { children, stat: readStat(rd) };
  }

  async getAcl(path: string): Promise<{ acl: AclEntry[]; stat: ZkStat } | null> {
    const r = await this.read('getAcl', path, OP.getACL, body.path(this.under(path)));
    if (r === null) return null;
    const rd = replyReader(r.frame, this.connectString);
    const acl = rd.aclList('acl') ?? [];
    return { acl, stat: readStat(rd) };
  }

  async exists(path: string): Promise<ZkStat | null> {
    const r = await this.read('exists', path, OP.exists, body.pathWatch(this.under(path)));
    return r === null ? null : readStat(replyReader(r.frame, this.connectString));
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
    let type: number = OP.create;
    let ttl: bigint | undefined;
    if (mode === 'ttl' || mode === 'ttl_sequential') {
      if (options.ttlMs === undefined || BigInt(options.ttlMs) <= 0n) throw new UsageError(`${path}: a TTL node needs a positive ttlMs`);
      type = OP.createTTL;
      ttl = BigInt(options.ttlMs);
    } else if (mode === 'container') type = OP.createContainer;
    const size = requestBytes({ type: 'create', path, data, acl }, this.chroot) + (ttl !== undefined ? 8 : 0);
    const r = await this.call('create', path, type, body.create(this.under(path), data, acl, flags, ttl), size);
    return this.strip(replyReader(r.frame, this.connectString).string('path'));
  }

  async setData(path: string, data: Uint8Array | null, version = -1): Promise<ZkStat> {
    checkPath(path);
    const size = requestBytes({ type: 'setData', path, data }, this.chroot);
    const r = await this.call('setData', path, OP.setData, body.setData(this.under(path), data, version), size);
    return readStat(replyReader(r.frame, this.connectString));
  }

  async setAcl(path: string, acl: AclEntry[], version = -1): Promise<ZkStat> {
    checkPath(path);
    const r = await this.call('setAcl', path, OP.setACL, body.setACL(this.under(path), acl, version));
    return readStat(replyReader(r.frame, this.connectString));
  }

  async delete(path: string, version = -1): Promise<void> {
    checkPath(path);
    await this.call('delete', path, OP.delete, body.pathVersion(this.under(path), version), HEADER_BYTES);
  }

  async sync(path: string): Promise<void> {
    checkPath(path);
    await this.call('sync', path, OP.sync, body.path(this.under(path)));
  }

  async multi(ops: ZkOp[]): Promise<ZkOpResult[]> {
    if (ops.length === 0) return []; // an empty multi would still cost a transaction
    for (const o of ops) {
      checkPath(o.path);
      if (o.type === 'create' && CREATE_FLAGS[o.mode ?? 'persistent'] > 3)
        throw new UsageError(`${o.path}: a multi can only create plain nodes, not ${o.mode}`);
    }
    let reply: Reply;
    try {
      reply = await this.call(
        'multi',
        ops[0].path,
        OP.multi,
        body.multi(ops, (p) => this.under(p)),
        requestBytes({ type: 'multi', ops }, this.chroot),
      );
    } catch (error) {
      if (error instanceof ZkOpError) throw new ZkOpError(error.code, 'multi', '', { cause: error.cause });
      throw error;
    }
    const results = readMultiResults(replyReader(reply.frame, this.connectString), (p) => this.strip(p));
    const failed = results.findIndex((r) => r.type === 'error' && r.code !== 0);
    if (failed !== -1) {
      const code = (results[failed] as { code: number }).code;
      const mapped = this.mapCode(code, 'multi', ops[failed].path);
      if (mapped instanceof ZkOpError) throw new ZkOpError(code, 'multi', ops[failed].path, { index: failed, results });
      throw mapped;
    }
    return results;
  }
}
