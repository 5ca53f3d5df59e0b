// getData calls made in the same turn of the event loop, sent as one multiRead (ZooKeeper 3.6+): one
// request for many nodes instead of one each, which is what a server spends most on. Each caller still
// gets its own answer (null for NoNode, a ZkOpError for NoAuth and the like). A server without
// multiRead gets single getData requests from the first refusal on.
import { ConnectionError } from '../errors.js';
import { ZK_ERROR, ZkOpError } from './errors.js';
import type { ZkSession, ZkStat } from './types.js';

type DataReply = { data: Uint8Array | null; stat: ZkStat } | null;

interface Pending {
  path: string;
  resolve: (r: DataReply) => void;
  reject: (e: unknown) => void;
}

export class ReadBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  private multiRead = true;
  /** A multiRead has been answered: later failures are the connection's, not a refusal. */
  private worked = false;

  /**
   * `maxBatch` bounds the nodes per request, and so the reply's size: at most maxBatch × the largest
   * znode (1 MB by default), well inside what a connection accepts.
   */
  constructor(
    readonly session: ZkSession,
    private readonly maxBatch = 32,
  ) {}

  getData(path: string): Promise<DataReply> {
    if (!this.multiRead) return this.session.getData(path);
    return new Promise<DataReply>((resolve, reject) => {
      this.pending.push({ path, resolve, reject });
      if (this.pending.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    if (batch.length === 1 || !this.multiRead) {
      for (const p of batch) this.session.getData(p.path).then(p.resolve, p.reject);
      return;
    }
    this.session.getDataMany(batch.map((p) => p.path)).then(
      (results) => {
        this.worked = true;
        batch.forEach((p, i) => {
          const r = results[i];
          if (r === undefined) p.reject(new ZkOpError(ZK_ERROR.SystemError, 'getData', p.path));
          else if (!('code' in r)) p.resolve(r);
          else if (r.code === ZK_ERROR.NoNode) p.resolve(null);
          else p.reject(new ZkOpError(r.code, 'getData', p.path));
        });
      },
      (err: unknown) => {
        // A server before 3.6 refuses multiRead (or drops the connection on it): read one by one.
        const refused =
          !this.worked && ((err instanceof ZkOpError && err.code !== ZK_ERROR.SessionExpired) || err instanceof ConnectionError);
        if (!refused) {
          for (const p of batch) p.reject(err);
          return;
        }
        this.multiRead = false;
        for (const p of batch) this.session.getData(p.path).then(p.resolve, p.reject);
      },
    );
  }
}
