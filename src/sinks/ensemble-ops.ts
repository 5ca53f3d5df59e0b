// The writes a restore sends to a live ensemble: multis sized by bytes, kept in the order they were
// submitted (ZooKeeper applies one session's requests in order, so a parent's create always lands
// before its children's), several in flight; a failing multi is retried op by op, in submission order,
// to name the node that failed. Container and TTL nodes are created one by one, as they were.
import type { AclEntry, NodeType } from '../core/node-record.js';
import { ConnectionError, UserError, throwIfAborted } from '../errors.js';
import { multiOpBytes, requestBytes, ZK_ERROR, ZkOpError, zkErrorName, type ZkOp, type ZkSession } from '../zk/client.js';

export const MULTI_CONCURRENCY = 8;
/** Errors after which the session can do nothing more. */
const SESSION_GONE = new Set<number>([ZK_ERROR.ConnectionLoss, ZK_ERROR.SessionExpired, ZK_ERROR.OperationTimeout]);

export function isSessionGone(err: unknown): boolean {
  return err instanceof ConnectionError || (err instanceof ZkOpError && SESSION_GONE.has(err.code));
}

function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

/** Runs ops in multis of at most `maxBytes`; a failing multi is retried op by op to name the node. */
export async function applyBatched(
  session: ZkSession,
  ops: ZkOp[],
  maxBytes: number,
  onFail: (op: ZkOp, err: unknown) => void,
  signal?: AbortSignal,
): Promise<number> {
  // Sized by adding each op's bytes once: a level of 100k children is cut in linear time, and the
  // session's pings are not starved while it is.
  const batches: ZkOp[][] = [];
  const empty = requestBytes({ type: 'multi', ops: [] }, session.chroot);
  let cur: ZkOp[] = [];
  let curBytes = empty;
  for (const op of ops) {
    const bytes = multiOpBytes(op, session.chroot);
    if (cur.length > 0 && curBytes + bytes > maxBytes) {
      batches.push(cur);
      cur = [];
      curBytes = empty;
    }
    cur.push(op);
    curBytes += bytes;
  }
  if (cur.length > 0) batches.push(cur);
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      throwIfAborted(signal);
      const batch = batches[next++];
      try {
        if (batch.length === 1 && requestBytes(batch[0], session.chroot) > maxBytes) throw new UserError('too large');
        await session.multi(batch);
        done += batch.length;
      } catch (err) {
        if (isSessionGone(err)) throw err;
        for (const op of batch) {
          throwIfAborted(signal);
          try {
            await single(session, op);
            done++;
          } catch (err) {
            // A lost connection is no node's failure: the run ends, exit 13.
            if (isSessionGone(err)) throw err;
            onFail(op, err);
          }
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(MULTI_CONCURRENCY, batches.length) }, worker));
  return done;
}

export async function single(session: ZkSession, op: ZkOp): Promise<void> {
  switch (op.type) {
    case 'create':
      await session.create(op.path, op.data, op.acl, op.mode ?? 'persistent');
      return;
    case 'setData':
      await session.setData(op.path, op.data, op.version ?? -1);
      return;
    case 'delete':
      await session.delete(op.path, op.version ?? -1);
      return;
    case 'check':
      return;
  }
}

export function describeError(err: unknown): string {
  if (err instanceof ZkOpError) return `${zkErrorName(err.code)} (${err.code})`;
  return (err as Error).message ?? String(err);
}

/**
 * Creates a container or TTL node as it was. A server that refuses TTL nodes (extendedTypesEnabled is
 * off) gets a persistent node instead, reported as not restored as it was.
 */
/** A container or TTL node to create as it was. */
export interface TypedCreate {
  path: string;
  data: Uint8Array | null;
  sourceType: NodeType;
  ttlMs?: bigint;
}

export async function createTyped(
  session: ZkSession,
  c: TypedCreate,
  acl: readonly AclEntry[],
  fail: (op: ZkOp, err: unknown) => void,
  notAsItWas: (error: string) => void,
): Promise<boolean> {
  const plain: ZkOp = { type: 'create', path: c.path, data: c.data, acl, mode: 'persistent' };
  try {
    await session.create(
      c.path,
      c.data,
      acl,
      c.sourceType === 'ttl' ? 'ttl' : 'container',
      c.sourceType === 'ttl' ? { ttlMs: c.ttlMs! } : {},
    );
    return true;
  } catch (err) {
    if (
      !(err instanceof ZkOpError) ||
      c.sourceType !== 'ttl' ||
      (err.code !== ZK_ERROR.Unimplemented && err.code !== ZK_ERROR.BadArguments)
    ) {
      fail(plain, err);
      return false;
    }
  }
  try {
    await single(session, plain);
    notAsItWas(
      `created as a persistent node, not a TTL node: the server refused TTL nodes (start every server with zookeeper.extendedTypesEnabled=true)`,
    );
    return true;
  } catch (err) {
    fail(plain, err);
    return false;
  }
}

export function groupByDepth(paths: string[], deepestFirst: boolean): string[][] {
  const levels = new Map<number, string[]>();
  for (const p of paths) {
    const d = depth(p);
    if (!levels.has(d)) levels.set(d, []);
    levels.get(d)!.push(p);
  }
  const keys = [...levels.keys()].sort((a, b) => (deepestFirst ? b - a : a - b));
  return keys.map((k) => levels.get(k)!);
}

/**
 * The most a multi of writes gathers (a single larger node still goes, alone, up to the request
 * limit). The leader keeps its last 500 committed proposals in memory (zookeeper.commitLogCount) and
 * the followers' queues hold what is in flight: multis of a full jute.maxbuffer ran a 1.5 GB leader
 * out of heap restoring 100,000 nodes of 4 KB, where multis of this size do not slow a restore down.
 */
export const WRITE_BATCH_BYTES = 256 * 1024;

/**
 * Writes submitted in order and applied in that order: ops gather into multis of at most
 * WRITE_BATCH_BYTES (and never past `maxBytes`, the request limit),
 * up to MULTI_CONCURRENCY units in flight on the one session. A failing multi changed nothing; its ops
 * are retried one by one, after every earlier failure's retries, so a node's retry never runs before
 * its parent's. A lost session ends the run (thrown by add/finish); other failures go to `onFail`.
 */
export class OrderedWrites {
  private batch: ZkOp[] = [];
  private batchBytes: number;
  private readonly emptyMulti: number;
  private readonly inflight = new Set<Promise<void>>();
  private retries: Promise<void> = Promise.resolve();
  private fatal: Error | null = null;
  /** Ops applied (in a multi or alone). */
  done = 0;

  constructor(
    private readonly session: ZkSession,
    private readonly maxBytes: number,
    private readonly onFail: (op: ZkOp, err: unknown) => void,
    private readonly signal?: AbortSignal,
  ) {
    this.emptyMulti = requestBytes({ type: 'multi', ops: [] }, session.chroot);
    this.batchBytes = this.emptyMulti;
  }

  /** Queues an op for the next multi. */
  async add(op: ZkOp): Promise<void> {
    const bytes = multiOpBytes(op, this.session.chroot);
    if (this.batch.length > 0 && this.batchBytes + bytes > Math.min(this.maxBytes, WRITE_BATCH_BYTES)) await this.flush();
    this.batch.push(op);
    this.batchBytes += bytes;
  }

  /** Runs `work` in order after what was added before it (a typed create, which no multi can do). */
  async alone(work: () => Promise<boolean>): Promise<void> {
    await this.flush();
    await this.submit(async () => {
      if (await work()) this.done++;
    });
  }

  /** Sends the gathered multi. */
  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const ops = this.batch;
    this.batch = [];
    this.batchBytes = this.emptyMulti;
    await this.submit(async () => {
      try {
        if (ops.length === 1 && requestBytes(ops[0], this.session.chroot) > this.maxBytes) throw new UserError('too large');
        await this.session.multi(ops);
        this.done += ops.length;
      } catch (err) {
        if (isSessionGone(err)) throw err;
        const retry = this.retries.then(async () => {
          for (const op of ops) {
            throwIfAborted(this.signal);
            try {
              await single(this.session, op);
              this.done++;
            } catch (e) {
              // A lost connection is no node's failure: the run ends, exit 13.
              if (isSessionGone(e)) throw e;
              this.onFail(op, e);
            }
          }
        });
        this.retries = retry.catch(() => {});
        await retry;
      }
    });
  }

  /** Throws what ended the run, if anything did. */
  private check(): void {
    const fatal = this.fatal;
    if (fatal) throw fatal;
  }

  private async submit(unit: () => Promise<void>): Promise<void> {
    this.check();
    throwIfAborted(this.signal);
    while (this.inflight.size >= MULTI_CONCURRENCY) await Promise.race(this.inflight);
    this.check();
    const p: Promise<void> = unit()
      .catch((err: unknown) => {
        this.fatal ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Sends what is gathered and waits for everything in flight. */
  async finish(): Promise<void> {
    await this.flush();
    while (this.inflight.size > 0) await Promise.race(this.inflight);
    await this.retries;
    this.check();
  }
}
