// The live ensemble as a restore sink: what is there is read through a session, and a plan is applied
// in ZooKeeper-friendly order: deletes (mirror) children first; creates parents first, level by level,
// in multis sized by bytes (falling back to single ops to name a failing node); data updates;
// sequential counters raised; ACLs last (nodes are created with their own ACL plus the restorer's
// grant), so restrictive ACLs never block the restore and never open up to anyone else meanwhile.
// Finally the restored subtree is read back and compared with what the plan promised.
import type { AclEntry } from '../core/node-record.js';
import {
  digestIdsOf,
  mapPath,
  OPEN_ACL,
  restorableAcl,
  sameAcl,
  sameBytes,
  targetStoredCversion,
  type PlannedCreate,
  type RestorePlan,
  type SourceNode,
  type TargetNode,
} from '../core/restore-plan.js';
import { hasRedactedDigest } from '../core/znode-path.js';
import { formatZxid } from '../core/zxid.js';
import { ConnectionError, UserError, throwIfAborted } from '../errors.js';
import { multiOpBytes, requestBytes, ZK_ERROR, ZkOpError, zkErrorName, type ZkOp, type ZkSession } from '../zk/client.js';
import { walkLiveTree } from '../zk/live-tree.js';
import type { AppliedRestore, RestoreSink, RestoreSource } from './types.js';

const MULTI_CONCURRENCY = 8;
const FILL_NAME = '.zkvault-cversion-fill';
/** Errors after which the session can do nothing more. */
const SESSION_GONE = new Set<number>([ZK_ERROR.ConnectionLoss, ZK_ERROR.SessionExpired, ZK_ERROR.OperationTimeout]);

function isSessionGone(err: unknown): boolean {
  return err instanceof ConnectionError || (err instanceof ZkOpError && SESSION_GONE.has(err.code));
}

function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

async function readTarget(session: ZkSession, root: string, signal?: AbortSignal): Promise<Map<string, TargetNode>> {
  const target = new Map<string, TargetNode>();
  for (let p = root; ;) {
    const stat = await session.exists(p);
    if (stat && p !== root) {
      const { dataLength: _d, numChildren, ...s } = stat;
      target.set(p, { path: p, data: null, acl: [], stat: s, numChildren });
    }
    if (p === '/') break;
    const i = p.lastIndexOf('/');
    p = i <= 0 ? '/' : p.slice(0, i);
  }
  if (await session.exists(root)) {
    await walkLiveTree(session, root, { signal }, (rec, numChildren) => void target.set(rec.path, { ...rec, numChildren }));
  }
  return target;
}

/** Runs ops in multis of at most `maxBytes`; a failing multi is retried op by op to name the node. */
async function applyBatched(
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

async function single(session: ZkSession, op: ZkOp): Promise<void> {
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

function describeError(err: unknown): string {
  if (err instanceof ZkOpError) return `${zkErrorName(err.code)} (${err.code})`;
  return (err as Error).message ?? String(err);
}

export interface EnsembleSinkOptions {
  /** The restorer's `scheme:credentials` (its own grant on restrictive nodes while they are filled). */
  auth?: readonly string[];
  /** The target servers' jute.maxbuffer, when raised (bytes). */
  maxRequestBytes?: number;
}

/** A restore into a live ensemble through one session (which the sink closes). */
export class EnsembleSink implements RestoreSink {
  readonly target: string;
  private readonly auth: readonly string[];
  private readonly maxBytes: number;
  private readonly digestIds: Map<string, string>;

  constructor(
    private readonly session: ZkSession,
    target: string,
    o: EnsembleSinkOptions = {},
  ) {
    this.target = target;
    this.auth = o.auth ?? [];
    this.maxBytes = (o.maxRequestBytes ?? 0xfffff) - 1024;
    this.digestIds = digestIdsOf(this.auth);
  }

  readTarget(root: string, signal?: AbortSignal): Promise<Map<string, TargetNode>> {
    return readTarget(this.session, root, signal);
  }

  async close(): Promise<void> {
    await this.session.close().catch(() => {});
  }

  async apply(plan: RestorePlan, source: RestoreSource, signal?: AbortSignal): Promise<AppliedRestore> {
    const session = this.session;
    const failed: AppliedRestore['failed'] = [];
    const failedPaths = new Set<string>();
    const fail = (op: ZkOp, err: unknown) => {
      failed.push({ path: op.path, error: describeError(err) });
      failedPaths.add(op.path);
    };
    const underFailed = (path: string) => {
      for (let p = path; p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) if (failedPaths.has(p)) return true;
      return false;
    };

    // A node whose ACL is not world-open is created with its own ACL plus every permission for the
    // restorer's credentials (ZooKeeper's `auth` scheme), so nobody else has more than the backup gives
    // them while the restore runs; without credentials, world-open is the only way to fill it. The
    // real ACL is set at the end either way.
    const restorerAll: AclEntry[] = this.auth.length > 0 ? [{ perms: 31, scheme: 'auth', id: '' }] : [];
    const ownIds = new Set(this.digestIds.values());
    const createAcl = (c: PlannedCreate): readonly AclEntry[] => {
      if (restorerAll.length === 0 || sameAcl(c.acl, OPEN_ACL)) return OPEN_ACL;
      // Already every permission for the restorer: the node's own ACL serves as it is.
      if (c.acl.some((a) => a.scheme === 'digest' && a.perms === 31 && ownIds.has(a.id))) return c.acl;
      return [...c.acl, ...restorerAll];
    };
    let deleted = 0;
    let created = 0;
    let raised = 0;
    let interrupted: unknown;
    try {
      // 1. Mirror deletes, deepest first; a level at a time so children go before their parents.
      for (const level of groupByDepth(plan.deletes, true)) {
        deleted += await applyBatched(
          session,
          level.map((path) => ({ type: 'delete', path })),
          this.maxBytes,
          fail,
          signal,
        );
      }
      // 2. Creates, parents first, each level in parallel multis (see createAcl).
      //    Containers and TTL nodes are created one by one, as they were (a multi cannot create them).
      const byPath = new Map(plan.creates.map((c) => [c.path, c]));
      for (const level of groupByDepth(
        plan.creates.map((c) => c.path),
        false,
      )) {
        const ops: ZkOp[] = [];
        const typed: PlannedCreate[] = [];
        for (const path of level) {
          if (underFailed(path)) {
            failed.push({ path, error: 'not created: an ancestor failed' });
            failedPaths.add(path);
            continue;
          }
          const c = byPath.get(path)!;
          if (c.sourceType === 'container' || c.sourceType === 'ttl') typed.push(c);
          else ops.push({ type: 'create', path, data: c.data, acl: createAcl(c), mode: 'persistent' });
        }
        created += await applyBatched(session, ops, this.maxBytes, fail, signal);
        for (const c of typed) {
          throwIfAborted(signal);
          if (await createTyped(session, c, createAcl(c), fail, (error) => failed.push({ path: c.path, error }))) created++;
        }
      }
      // 3. Data updates.
      const dataOps: ZkOp[] = plan.updates
        .filter((u) => u.fields.includes('data'))
        .map((u) => ({ type: 'setData', path: u.path, data: u.data ?? null }));
      await applyBatched(session, dataOps, this.maxBytes, fail, signal);
      // 4. Sequential counters: create/delete churn until each parent's stored cversion is the backup's.
      for (const c of plan.cversions) {
        throwIfAborted(signal);
        if (failedPaths.has(c.path)) continue;
        const stat = await session.exists(c.path);
        if (!stat) continue;
        const need = c.storedCversion - targetStoredCversion({ path: c.path, data: null, acl: [], stat, numChildren: stat.numChildren });
        if (need <= 0) continue;
        const fill = c.path === '/' ? `/${FILL_NAME}` : `${c.path}/${FILL_NAME}`;
        const ops: ZkOp[] = [];
        for (let i = 0; i < need; i++)
          ops.push({ type: 'create', path: fill, data: null, acl: OPEN_ACL, mode: 'persistent' }, { type: 'delete', path: fill });
        const before = failed.length;
        await applyBatched(session, ops, this.maxBytes, fail, signal);
        if (failed.length === before) raised++;
      }
    } catch (err) {
      interrupted = err;
    }
    // 5. ACLs, several at a time (setACL needs ADMIN on the node itself, not on its parent); also when
    //    the run was interrupted, so that nothing it created keeps a more open ACL than the backup has
    //    (unless the session itself is gone).
    let nextAcl = 0;
    let sessionGone = false;
    const aclWorker = async () => {
      while (nextAcl < plan.acls.length && !sessionGone) {
        const a = plan.acls[nextAcl++];
        if (underFailed(a.path)) continue;
        try {
          await session.setAcl(a.path, a.acl, -1);
        } catch (err) {
          if (interrupted && err instanceof ZkOpError && err.code === ZK_ERROR.NoNode) continue; // not created yet
          failed.push({ path: a.path, error: `setting the ACL: ${describeError(err)}` });
          failedPaths.add(a.path);
          if (!(err instanceof ZkOpError) || isSessionGone(err)) sessionGone = true;
        }
      }
    };
    await Promise.all(Array.from({ length: MULTI_CONCURRENCY }, aclWorker));
    if (interrupted && isSessionGone(interrupted) && !(interrupted instanceof ConnectionError)) {
      throw new ConnectionError(
        `the connection to ZooKeeper was lost during the restore (${(interrupted as Error).message}); changes up to then were applied`,
        {
          hint: `run it again with --mode ${plan.mode === 'create' ? 'overwrite' : plan.mode} once the ensemble is reachable`,
          cause: interrupted,
        },
      );
    }
    if (interrupted) throw interrupted instanceof Error ? interrupted : new Error('the restore was interrupted');
    const updatedPaths = new Set(plan.updates.map((u) => u.path));
    const updated = [...updatedPaths].filter((p) => !failedPaths.has(p)).length;

    // 6. Read back and compare.
    const verify = await verifyRestored(session, plan, source.nodes, this.digestIds, signal);
    const zxid = await session.exists('/').then(() => session.lastZxidSeen);
    return { created, updated, deleted, cversionsRaised: raised, failed, verify, zxid: formatZxid(zxid) };
  }
}

/**
 * Creates a container or TTL node as it was. A server that refuses TTL nodes (extendedTypesEnabled is
 * off) gets a persistent node instead, reported as not restored as it was.
 */
async function createTyped(
  session: ZkSession,
  c: PlannedCreate,
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

function groupByDepth(paths: string[], deepestFirst: boolean): string[][] {
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
 * Reads the restored subtree back and compares it with what the plan promised, node by node as the
 * walk delivers them (the target's data is never held whole).
 */
async function verifyRestored(
  session: ZkSession,
  plan: RestorePlan,
  source: SourceNode[],
  digestIds: ReadonlyMap<string, string>,
  signal?: AbortSignal,
): Promise<AppliedRestore['verify']> {
  const skipped = new Set(plan.skipped.filter((s) => s.reason !== 'identical').map((s) => s.path));
  const expected = new Map<string, SourceNode>();
  for (const node of source) {
    const path = mapPath(node.path, plan.sourceRoot, plan.targetRoot);
    if (skipped.has(path) || (path === '/' && plan.mode === 'create')) continue;
    expected.set(path, node);
  }
  const mismatches: Array<{ path: string; fields: string[] }> = [];
  const seen = new Set<string>();
  const unreadable: string[] = [];
  if (await session.exists(plan.targetRoot)) {
    await walkLiveTree(session, plan.targetRoot, { signal, onUnreadable: (p) => void unreadable.push(p) }, (got) => {
      const node = expected.get(got.path);
      if (!node) {
        if (plan.mode === 'mirror' && !skipped.has(got.path) && got.path !== plan.targetRoot)
          mismatches.push({ path: got.path, fields: ['extra'] });
        return;
      }
      seen.add(got.path);
      const fields: string[] = [];
      if (!sameBytes(got.data, node.data)) fields.push('data');
      // An ACL that could not be restored as it was is reported already. A digest ACL reads back
      // redacted ('user:x') when the restorer lacks ADMIN on the node.
      const { acl, missing } = restorableAcl(node.acl, digestIds);
      if (missing.length === 0 && !sameAcl(got.acl, acl) && !hasRedactedDigest(got.acl)) fields.push('acl');
      if (fields.length > 0) mismatches.push({ path: got.path, fields });
    });
  }
  // Nodes the restorer may not read (their restored ACL denies it) are not verified, not missing.
  const hidden = (path: string) => unreadable.some((u) => path === u || path.startsWith(u === '/' ? '/' : u + '/'));
  let notVerified = 0;
  for (const path of expected.keys()) {
    if (seen.has(path)) continue;
    if (hidden(path)) notVerified++;
    else mismatches.push({ path, fields: ['missing'] });
  }
  return { checked: expected.size - notVerified, mismatches, unreadable: notVerified };
}
