// One connection to one ZooKeeper server (plain TCP, or TLS to a secureClientPort): the handshake that
// opens or resumes a session, framed requests and their replies matched by xid (a server answers a
// connection's requests in order), pings while idle, and a read timeout that ends a silent link.
import net from 'node:net';
import tls from 'node:tls';
import { JuteWriter } from '../formats/jute.js';
import {
  decodeConnect,
  decodeReplyHeader,
  encodeConnect,
  encodeRequest,
  OP,
  XID,
  type ConnectResponse,
  type ReplyHeader,
  type RequestBody,
} from './protocol.js';
import type { ZkTlsOptions } from './types.js';

/**
 * Why a connection ended, as the session needs to tell them apart: `closed` (we closed it), `lost`
 * (refused, reset, timed out, closed by the server), `tls` (a certificate or handshake problem: trying
 * again cannot mend it). Requests waiting on the connection reject with it.
 */
export class ConnectionEnd extends Error {
  constructor(
    readonly kind: 'closed' | 'lost' | 'tls',
    readonly detail: string,
    readonly code?: string,
  ) {
    super(detail);
    this.name = 'ConnectionEnd';
  }
}

export interface Reply {
  header: ReplyHeader;
  /** The whole frame (header first). */
  frame: Buffer;
}

interface Waiter {
  xid: number;
  resolve: (r: Reply) => void;
  reject: (e: ConnectionEnd) => void;
}

const MAX_FRAME = 64 * 1024 * 1024;

export class Connection {
  /** `address:port` of the server, once connected. */
  server: string | undefined;
  /** The zxid in the last reply header. */
  lastZxid = 0n;
  private readonly socket: net.Socket;
  private readonly writer = new JuteWriter(4096);
  private readonly waiting: Waiter[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  private handshake: ((frame: Buffer) => void) | undefined;
  private ended: ConnectionEnd | undefined;
  private readonly endListeners: Array<(e: ConnectionEnd) => void> = [];
  private pingTimer: NodeJS.Timeout | undefined;
  private readTimer: NodeJS.Timeout | undefined;
  private lastSend = Date.now();
  private timeoutMs = 30_000;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.end(new ConnectionEnd(isTlsProblem(err) ? 'tls' : 'lost', err.message, err.code)),
    );
    socket.on('close', () => this.end(new ConnectionEnd('lost', 'the server closed the connection')));
  }

  /**
   * Connects and opens (or resumes, given its id and password) a session. Rejects with the reason the
   * connection could not be made or the session was refused (`sessionId` 0 in the reply: expired).
   */
  static open(
    host: string,
    port: number,
    o: { tls?: ZkTlsOptions; timeoutMs: number; connectTimeoutMs: number; sessionId: bigint; passwd: Uint8Array; lastZxidSeen: bigint },
  ): Promise<{ connection: Connection; session: ConnectResponse }> {
    return new Promise((resolve, reject) => {
      const socket = o.tls
        ? tls.connect({
            host,
            port,
            ca: o.tls.ca,
            cert: o.tls.cert,
            key: o.tls.key,
            // The certificate must name the server: the given name, else the host (an IP is checked
            // against the certificate's IP addresses).
            servername: o.tls.servername ?? (net.isIP(host) ? undefined : host),
            ...(o.tls.servername
              ? { checkServerIdentity: (_h: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(o.tls!.servername!, cert) }
              : {}),
            rejectUnauthorized: true,
          })
        : net.connect({ host, port });
      const c = new Connection(socket);
      const timer = setTimeout(() => c.end(new ConnectionEnd('lost', `no answer within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
      c.onEnd((e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once(o.tls ? 'secureConnect' : 'connect', () => {
        c.server = `${socket.remoteAddress}:${socket.remotePort}`;
        c.handshake = (frame) => {
          clearTimeout(timer);
          c.handshake = undefined;
          let session: ConnectResponse;
          try {
            session = decodeConnect(frame, `${host}:${port}`);
          } catch (err) {
            c.end(new ConnectionEnd('lost', (err as Error).message));
            return;
          }
          if (session.sessionId === 0n || session.timeoutMs <= 0) {
            c.end(new ConnectionEnd('lost', 'session expired'));
            return;
          }
          c.timeoutMs = session.timeoutMs;
          c.endListeners.length = 0;
          c.startTimers();
          resolve({ connection: c, session });
        };
        socket.write(
          encodeConnect(c.writer, { lastZxidSeen: o.lastZxidSeen, timeoutMs: o.timeoutMs, sessionId: o.sessionId, passwd: o.passwd }),
        );
      });
    });
  }

  get isOpen(): boolean {
    return this.ended === undefined;
  }

  /** Called once when the connection ends, however it ends. */
  onEnd(listener: (e: ConnectionEnd) => void): void {
    if (this.ended) listener(this.ended);
    else this.endListeners.push(listener);
  }

  /**
   * Sends one request and resolves with its reply (whatever its error code). Rejects with the
   * connection's end if it ends first.
   */
  request(xid: number, type: number, write?: RequestBody): Promise<Reply> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.push({ xid, resolve, reject });
      this.lastSend = Date.now();
      // Requests made in one turn of the event loop go out in one write (pipelined walks send dozens).
      if (this.socket.writableCorked === 0) {
        this.socket.cork();
        process.nextTick(() => this.socket.uncork());
      }
      this.socket.write(encodeRequest(this.writer, xid, type, write));
    });
  }

  /** Ends the session on the server (its ephemerals go), then the connection. */
  async closeSession(xid: number): Promise<void> {
    if (this.ended) return;
    await this.request(xid, OP.closeSession).catch(() => {});
    this.close();
  }

  close(): void {
    this.end(new ConnectionEnd('closed', 'closed'));
  }

  private startTimers(): void {
    // A ping after a third of the session timeout without a request keeps the session alive; no frame
    // from the server for two thirds of it means the link is dead (as ZooKeeper's own client judges).
    const interval = Math.max(100, Math.floor(this.timeoutMs / 3));
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastSend >= interval) void this.request(XID.ping, OP.ping).catch(() => {});
    }, interval);
    this.pingTimer.unref();
    this.armReadTimer();
  }

  private armReadTimer(): void {
    if (this.readTimer) clearTimeout(this.readTimer);
    if (this.timeoutMs <= 0 || this.ended) return;
    this.readTimer = setTimeout(
      () => this.end(new ConnectionEnd('lost', `no reply for ${Math.floor((this.timeoutMs * 2) / 3)} ms`)),
      Math.floor((this.timeoutMs * 2) / 3),
    );
    this.readTimer.unref();
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.handshake === undefined) this.armReadTimer();
    while (this.buffered >= 4) {
      const head = this.chunks[0].length >= 4 ? this.chunks[0] : this.flatten();
      const size = head.readInt32BE(0);
      if (size < 0 || size > MAX_FRAME) {
        this.end(new ConnectionEnd('lost', `the server sent a frame of ${size} bytes`));
        return;
      }
      if (this.buffered < 4 + size) return;
      const all = this.flatten();
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.onFrame(frame);
      if (this.ended) return;
    }
  }

  private flatten(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0];
  }

  private onFrame(frame: Buffer): void {
    if (this.handshake) return this.handshake(frame);
    if (frame.length < 16) return this.end(new ConnectionEnd('lost', `a reply of ${frame.length} bytes`));
    const header = decodeReplyHeader(frame);
    if (header.xid === XID.notification) return; // no watches are ever set
    if (header.zxid > 0n) this.lastZxid = header.zxid;
    if (header.xid === XID.ping && this.waiting[0]?.xid !== XID.ping) {
      const i = this.waiting.findIndex((w) => w.xid === XID.ping);
      if (i >= 0) this.waiting.splice(i, 1)[0].resolve({ header, frame });
      return;
    }
    const w = this.waiting.shift();
    if (!w) return this.end(new ConnectionEnd('lost', `an unexpected reply (xid ${header.xid})`));
    if (w.xid !== header.xid) {
      this.end(new ConnectionEnd('lost', `a reply out of order (xid ${header.xid}, expected ${w.xid})`));
      w.reject(this.ended!);
      return;
    }
    // A view of the chunk it came in (never reused by the socket): readers copy what they keep.
    w.resolve({ header, frame });
  }

  private end(e: ConnectionEnd): void {
    if (this.ended) return;
    this.ended = e;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.readTimer) clearTimeout(this.readTimer);
    this.socket.destroy();
    for (const w of this.waiting.splice(0)) w.reject(e);
    for (const l of this.endListeners.splice(0)) l(e);
  }
}

/** A TLS failure of the certificates or the handshake: trying again cannot mend it. */
function isTlsProblem(err: NodeJS.ErrnoException): boolean {
  const code = err.code ?? '';
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|DEPTH_ZERO|HOSTNAME|ALTNAME|EPROTO/.test(code) ||
    /certificate|handshake|alert/i.test(err.message)
  );
}
