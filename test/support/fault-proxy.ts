// A small HTTP proxy in front of the test S3 server that injects the failures a real store and network
// produce: a connection dropped before, during or after a request (the answer lost), or an S3 error
// answer (503 SlowDown, 500, 403). It records every request it sees. Optionally it gives s3rver the
// conditional writes it lacks (`If-None-Match: *` on PUT → 412 when the key exists), as S3 has them.
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ProxiedRequest {
  /** 1-based, in arrival order. */
  n: number;
  method: string;
  /** Path-style: `/<bucket>/<key>`, percent-decoded. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export type FaultAction =
  /** Close the client's connection without an answer, before anything is forwarded. */
  | { kind: 'drop' }
  /** Forward the request, and cut both connections once this many body bytes have gone upstream. */
  | { kind: 'drop-mid-body'; afterBytes: number }
  /** Forward the request and let the store act on it, then close the client's connection: the answer is lost. */
  | { kind: 'drop-response' }
  /** Answer with this S3 error (after reading the request body), as the store would. */
  | { kind: 'error'; status: number; code: string; message?: string }
  /** Keep the request waiting, unread, until release() (or until its client gives up). */
  | { kind: 'hold' };

export interface FaultRule {
  match: (req: ProxiedRequest) => boolean;
  action: FaultAction;
  /** How many matching requests it applies to (default 1; Infinity for all). */
  times?: number;
}

export interface FiredFault {
  n: number;
  method: string;
  path: string;
  query: string;
  action: FaultAction['kind'];
}

/** Request predicates for the S3 operations the storage uses. */
export const S3_REQUESTS = {
  uploadPart: (r: ProxiedRequest) => r.method === 'PUT' && r.query.has('partNumber') && r.query.has('uploadId'),
  createMultipart: (r: ProxiedRequest) => r.method === 'POST' && r.query.has('uploads'),
  completeMultipart: (r: ProxiedRequest) => r.method === 'POST' && r.query.has('uploadId'),
  abortMultipart: (r: ProxiedRequest) => r.method === 'DELETE' && r.query.has('uploadId'),
  putObject: (r: ProxiedRequest) => r.method === 'PUT' && !r.query.has('uploadId'),
  getObject: (r: ProxiedRequest) => r.method === 'GET' && !r.query.has('list-type') && r.path.split('/').filter(Boolean).length > 1,
  list: (r: ProxiedRequest) => r.method === 'GET' && r.query.get('list-type') === '2',
  head: (r: ProxiedRequest) => r.method === 'HEAD',
  any: () => true,
};

function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
}

export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  readonly fired: FiredFault[] = [];
  private readonly rules: FaultRule[] = [];
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly keyLocks = new Map<string, Promise<void>>();
  private readonly held: Array<() => void> = [];
  private port = 0;

  private constructor(
    private readonly upstream: { host: string; port: number },
    private readonly conditionalWrites: boolean,
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts a proxy on a free loopback port in front of `upstreamEndpoint` (`http://host:port`). */
  static async start(upstreamEndpoint: string, opts: { conditionalWrites?: boolean } = {}): Promise<FaultProxy> {
    const url = new URL(upstreamEndpoint);
    const proxy = new FaultProxy({ host: url.hostname, port: Number(url.port) }, opts.conditionalWrites ?? false);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Adds a fault; rules are tried in the order added, the first live match applies. */
  inject(rule: FaultRule): this {
    this.rules.push({ ...rule, times: rule.times ?? 1 });
    return this;
  }

  /** Lets every held request go on to the store. */
  release(): void {
    for (const go of this.held.splice(0)) go();
  }

  /** Removes every fault not yet used up, and forgets what was recorded. */
  reset(): void {
    this.rules.length = 0;
    this.requests.length = 0;
    this.fired.length = 0;
  }

  async stop(): Promise<void> {
    this.held.length = 0;
    this.agent.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const info: ProxiedRequest = {
      n: this.requests.length + 1,
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
    };
    this.requests.push(info);
    const rule = this.rules.find((r) => (r.times ?? 0) > 0 && r.match(info));
    if (rule) {
      rule.times = (rule.times ?? 1) - 1;
      this.fired.push({ n: info.n, method: info.method, path: info.path, query: url.search, action: rule.action.kind });
    }
    const action = rule?.action;
    if (action?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (action?.kind === 'hold') {
      req.pause();
      await new Promise<void>((resolve) => {
        this.held.push(resolve);
        req.socket.once('close', resolve);
      });
      if (req.socket.destroyed) return;
      await this.forward(req, res, undefined);
      return;
    }
    if (action?.kind === 'error') {
      req.resume();
      req.on('end', () => {
        const body = req.method === 'HEAD' ? '' : s3ErrorXml(action.code, action.message ?? action.code);
        res.writeHead(action.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    if (this.conditionalWrites && info.method === 'PUT' && !info.query.has('uploadId') && req.headers['if-none-match'] === '*') {
      await this.conditionalPut(info, req, res, action);
      return;
    }
    await this.forward(req, res, action);
  }

  /** If-None-Match: * as S3 implements it: atomically, 412 PreconditionFailed when the key exists. */
  private async conditionalPut(
    info: ProxiedRequest,
    req: IncomingMessage,
    res: ServerResponse,
    action: FaultAction | undefined,
  ): Promise<void> {
    const key = info.path;
    const prev = this.keyLocks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = prev.then(() => mine);
    this.keyLocks.set(key, tail);
    try {
      await prev;
      const exists = await new Promise<boolean>((resolve, reject) => {
        // s3rver lets unsigned requests through; the proxy only asks whether the key is there.
        const head = http.request(
          { host: this.upstream.host, port: this.upstream.port, method: 'HEAD', path: encodeURI(key), agent: this.agent },
          (r) => {
            r.resume();
            resolve(r.statusCode === 200);
          },
        );
        head.on('error', reject);
        head.end();
      });
      if (exists) {
        req.resume();
        await new Promise<void>((resolve) => req.on('end', resolve));
        const body = s3ErrorXml('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
        res.writeHead(412, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      await this.forward(req, res, action);
    } finally {
      release();
      if (this.keyLocks.get(key) === tail) this.keyLocks.delete(key);
    }
  }

  /** Passes the request upstream and the answer back, applying a drop-mid-body or drop-response fault. */
  private forward(req: IncomingMessage, res: ServerResponse, action: FaultAction | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const headers = { ...req.headers };
      // The proxy's own server already answered 100-continue to the client.
      delete headers.expect;
      const up = http.request(
        { host: this.upstream.host, port: this.upstream.port, method: req.method, path: req.url, headers, agent: this.agent },
        (upRes) => {
          if (action?.kind === 'drop-response') {
            // The store has acted on the request; the client never hears of it.
            upRes.resume();
            upRes.on('end', () => {
              req.socket.destroy();
              resolve();
            });
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          // Headers go out now, not with the first body byte: an answer whose body never comes (s3rver
          // announces one byte for a range over an empty object) must still reach the client.
          res.flushHeaders();
          upRes.pipe(res);
          upRes.on('end', () => resolve());
          upRes.on('error', () => {
            req.socket.destroy();
            resolve();
          });
        },
      );
      up.on('error', () => {
        req.socket.destroy();
        resolve();
      });
      // A client that goes away mid-request (a cancelled part) takes the upstream connection with it,
      // as a real network would: the store sees an incomplete request, not one that waits forever.
      req.on('close', () => {
        if (!req.complete) up.destroy();
      });
      if (action?.kind === 'drop-mid-body') {
        let sent = 0;
        req.on('data', (chunk: Buffer) => {
          if (sent >= action.afterBytes) return;
          sent += chunk.length;
          up.write(chunk);
          if (sent >= action.afterBytes) {
            up.destroy();
            req.socket.destroy();
            resolve();
          }
        });
        req.on('end', () => up.end());
        return;
      }
      req.pipe(up);
    });
  }
}
