// The live ensemble as a restore sink. The plan asks the target about each backed-up node whose parent
// exists there (core/restore-stream); carrying it out reads the source again for each step, in the
// order ZooKeeper needs: mirror's deletes, children first; the missing ancestors of the restore root;
// creates and data updates in the source's order (a parent before its children), in multis kept in
// order on the one session; sequential counters raised; ACLs last (nodes are created with their own
// ACL plus the restorer's grant), so restrictive ACLs never block the restore and never open up to
// anyone else meanwhile. Finally every restored node is read back and compared with the backup's.
// Nothing of the tree is held beyond the nodes in flight.
import { nodeTypeOf, sameAcl, sameData, type AclEntry } from '../core/node-record.js';
import { PathSet } from '../core/path-set.js';
import {
  ACTION,
  digestIdsOf,
  mapPath,
  mirrorKeeps,
  OPEN_ACL,
  restorableAcl,
  targetStoredCversion,
  ttlOf,
  type SourceNode,
  type TargetNode,
} from '../core/restore-plan.js';
import { planStream, PLAN_SAMPLE, type StreamPlan, type StreamPlanOptions, type TargetLookup } from '../core/restore-stream.js';
import { hasRedactedDigest, isSystemPath } from '../core/znode-path.js';
import { formatZxid } from '../core/zxid.js';
import { ConnectionError, throwIfAborted } from '../errors.js';
import { ZK_ERROR, ZkOpError, type ZkOp, type ZkSession, type ZkStat } from '../zk/client.js';
import { walkLiveTree } from '../zk/live-tree.js';
import { ReadBatcher } from '../zk/read-batcher.js';
import { applyBatched, createTyped, describeError, groupByDepth, isSessionGone, OrderedWrites } from './ensemble-ops.js';
import type { AppliedRestore, RestoreSink, RestoreSource } from './types.js';

const FILL_NAME = '.zkvault-cversion-fill';
/** ACL sets in flight. */
const WINDOW = 256;
/** Nodes read back per request (a multiRead), and about how many data bytes. */
const VERIFY_BATCH = 256;
const VERIFY_BATCH_BYTES = 512 * 1024;

/** A session that expired or was closed: nothing more goes through it. */
function isSessionGoneForGood(err: unknown): boolean {
  return err instanceof ZkOpError && err.code === ZK_ERROR.SessionExpired;
}

export interface EnsembleSinkOptions {
  /** The restorer's `scheme:credentials` (its own grant on restrictive nodes while they are filled). */
  auth?: readonly string[];
  /** The target servers' jute.maxbuffer, when raised (bytes). */
  maxRequestBytes?: number;
  /** Called as each step goes: its name, the nodes it has done, and how many it has to do. */
  onProgress?: (step: 'write' | 'acl' | 'verify', done: number, total: number) => void;
}

function targetNode(path: string, data: Uint8Array | null, acl: AclEntry[], stat: ZkStat): TargetNode {
  const { dataLength: _d, numChildren, ...s } = stat;
  return { path, data, acl, stat: s, numChildren };
}

function noAuthAs<T>(value: T): (err: unknown) => T {
  return (err) => {
    if (err instanceof ZkOpError && err.code === ZK_ERROR.NoAuth) return value;
    throw err;
  };
}

/** Failures: the first ones listed, all counted, and their paths remembered (hashed) for their subtrees. */
class Failures {
  readonly list: Array<{ path: string; error: string }> = [];
  count = 0;
  creates = 0;
  private readonly paths = new PathSet();

  add(path: string, error: string, create = false): void {
    this.count++;
    if (create) this.creates++;
    if (this.list.length < PLAN_SAMPLE) this.list.push({ path, error });
    this.paths.add(path);
  }

  has(path: string): boolean {
    return this.count > 0 && this.paths.has(path);
  }

  /** `path` or one of its ancestors failed. */
  under(path: string): boolean {
    if (this.count === 0) return false;
    for (let p = path; p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) if (this.paths.has(p)) return true;
    return false;
  }
}

/** Runs `work` for each item with at most `window` in flight; stops taking new items once `stop()` says so. */
async function windowed<T>(items: Iterable<T>, work: (item: T) => Promise<void>, stop: () => boolean, window = WINDOW): Promise<void> {
  const inflight = new Set<Promise<void>>();
  for (const item of items) {
    if (stop()) break;
    while (inflight.size >= window) await Promise.race(inflight);
    const p: Promise<void> = work(item).finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
}

/** The source's nodes with their ordinal and target path, those whose actions match `mask`. */
function* flagged(
  plan: StreamPlan,
  source: RestoreSource,
  mask: number,
  upTo = Infinity,
): Generator<{ node: SourceNode; path: string; actions: number }> {
  let i = -1;
  for (const node of source.nodes()) {
    i++;
    if (i > upTo) return;
    const actions = plan.actions.get(i);
    if (actions & mask) yield { node, path: mapPath(node.path, plan.sourceRoot, plan.targetRoot), actions };
  }
}

/** A restore into a live ensemble through one session (which the sink closes). */
export class EnsembleSink implements RestoreSink {
  readonly target: string;
  private readonly auth: readonly string[];
  private readonly maxBytes: number;
  private readonly digestIds: Map<string, string>;
  private readonly progress: NonNullable<EnsembleSinkOptions['onProgress']>;

  constructor(
    private readonly session: ZkSession,
    target: string,
    o: EnsembleSinkOptions = {},
  ) {
    this.target = target;
    this.auth = o.auth ?? [];
    this.maxBytes = (o.maxRequestBytes ?? 0xfffff) - 1024;
    this.digestIds = digestIdsOf(this.auth);
    this.progress = o.onProgress ?? (() => {});
  }

  async close(): Promise<void> {
    await this.session.close().catch(() => {});
  }

  /** What the plan may ask of the ensemble: one node (with data and ACL, or stat only), or a walk. */
  private lookup(): TargetLookup {
    const session = this.session;
    const reader = new ReadBatcher(session);
    return {
      async get(path, content) {
        if (!content) {
          const stat = await session.exists(path);
          return stat ? targetNode(path, null, [], stat) : undefined;
        }
        const [d, a] = await Promise.all([
          reader.getData(path).catch(noAuthAs('noauth' as const)),
          session.getAcl(path).catch(noAuthAs('noauth' as const)),
        ]);
        if (d === null || a === null) return undefined;
        if (d === 'noauth' || a === 'noauth') {
          const stat = await session.exists(path);
          return stat ? { ...targetNode(path, null, [], stat), unreadable: true } : undefined;
        }
        return targetNode(path, d.data, a.acl, d.stat);
      },
      async walk(root, onNode, signal) {
        if (!(await session.exists(root))) return;
        await walkLiveTree(session, root, { signal }, (rec) => onNode(rec.path));
      },
    };
  }

  plan(source: RestoreSource, options: StreamPlanOptions, signal?: AbortSignal): Promise<StreamPlan> {
    return planStream(source.nodes(), this.lookup(), { ...options, digestIds: options.digestIds ?? this.digestIds }, signal);
  }

  async apply(plan: StreamPlan, source: RestoreSource, signal?: AbortSignal): Promise<AppliedRestore> {
    const session = this.session;
    const failures = new Failures();
    const failOp = (op: ZkOp, err: unknown) => {
      const create = op.type === 'create';
      // A child whose parent failed fails NoNode: say why.
      if (create && err instanceof ZkOpError && err.code === ZK_ERROR.NoNode && failures.under(op.path.slice(0, op.path.lastIndexOf('/'))))
        failures.add(op.path, 'not created: an ancestor failed', true);
      else failures.add(op.path, describeError(err), create);
    };

    // A node whose ACL is not world-open is created with its own ACL plus every permission for the
    // restorer's credentials (ZooKeeper's `auth` scheme), so nobody else has more than the backup gives
    // them while the restore runs; without credentials, world-open is the only way to fill it. The
    // real ACL is set at the end either way.
    const restorerAll: AclEntry[] = this.auth.length > 0 ? [{ perms: 31, scheme: 'auth', id: '' }] : [];
    const ownIds = new Set(this.digestIds.values());
    const createAcl = (acl: readonly AclEntry[]): readonly AclEntry[] => {
      if (restorerAll.length === 0 || sameAcl(acl, OPEN_ACL)) return OPEN_ACL;
      // Already every permission for the restorer: the node's own ACL serves as it is.
      if (acl.some((a) => a.scheme === 'digest' && a.perms === 31 && ownIds.has(a.id))) return acl;
      return [...acl, ...restorerAll];
    };
    let deleted = 0;
    let submittedCreates = 0;
    let raised = 0;
    let reached = -1;
    let interrupted: unknown;
    try {
      // 1. Mirror deletes, deepest first; a level at a time so children go before their parents.
      for (const level of groupByDepth(plan.deletes, true)) {
        deleted += await applyBatched(
          session,
          level.map((path) => ({ type: 'delete', path })),
          this.maxBytes,
          failOp,
          signal,
        );
      }
      // 2. The missing ancestors of the restore root, empty and world-open.
      for (const path of plan.ancestors) {
        throwIfAborted(signal);
        submittedCreates++;
        await session.create(path, null, OPEN_ACL, 'persistent').catch((err: unknown) => {
          if (err instanceof ZkOpError && err.code === ZK_ERROR.NodeExists) return '';
          if (isSessionGone(err)) throw err;
          failOp({ type: 'create', path, data: null, acl: OPEN_ACL }, err);
          return '';
        });
      }
      // 3. Creates and data, in the source's order (see createAcl). Containers and TTL nodes are
      //    created one by one, as they were (a multi cannot create them).
      const writes = new OrderedWrites(session, this.maxBytes, failOp, signal);
      const toWrite = plan.creates.count + plan.updates.count;
      let written = 0;
      let i = -1;
      for (const node of source.nodes()) {
        i++;
        const a = plan.actions.get(i);
        if (!(a & (ACTION.CREATE | ACTION.DATA))) continue;
        reached = i;
        this.progress('write', ++written, toWrite);
        const path = mapPath(node.path, plan.sourceRoot, plan.targetRoot);
        if (a & ACTION.CREATE) {
          submittedCreates++;
          if (failures.under(path)) {
            failures.add(path, 'not created: an ancestor failed', true);
            continue;
          }
          const acl = createAcl(restorableAcl(node.acl, this.digestIds).acl);
          const type = nodeTypeOf(node.stat.ephemeralOwner);
          if (type === 'container' || type === 'ttl') {
            const ttlMs = ttlOf(node);
            const c = { path, data: node.data, sourceType: type, ...(ttlMs !== undefined ? { ttlMs } : {}) };
            await writes.alone(() => createTyped(session, c, acl, failOp, (error) => failures.add(path, error)));
          } else await writes.add({ type: 'create', path, data: node.data, acl, mode: 'persistent' });
        } else await writes.add({ type: 'setData', path, data: node.data });
      }
      await writes.finish();
      reached = Infinity;
      // 4. Sequential counters: create/delete churn until each parent's stored cversion is the backup's.
      for (const { node, path } of flagged(plan, source, ACTION.CVERSION)) {
        throwIfAborted(signal);
        if (failures.has(path)) continue;
        const stat = await session.exists(path);
        if (!stat) continue;
        const need = node.storedCversion - targetStoredCversion(targetNode(path, null, [], stat));
        if (need <= 0) continue;
        const fill = path === '/' ? `/${FILL_NAME}` : `${path}/${FILL_NAME}`;
        const ops: ZkOp[] = [];
        for (let k = 0; k < need; k++)
          ops.push({ type: 'create', path: fill, data: null, acl: OPEN_ACL, mode: 'persistent' }, { type: 'delete', path: fill });
        const before = failures.count;
        await applyBatched(session, ops, this.maxBytes, failOp, signal);
        if (failures.count === before) raised++;
      }
    } catch (err) {
      interrupted = err;
    }
    // 5. ACLs, several at a time (setACL needs ADMIN on the node itself, not on its parent); also when
    //    the run was interrupted, for what it submitted, so that nothing it created keeps a more open
    //    ACL than the backup has (unless the session itself is gone).
    let sessionGone = isSessionGone(interrupted);
    let aclsSet = 0;
    await windowed(
      flagged(plan, source, ACTION.ACL, reached),
      async ({ node, path }) => {
        this.progress('acl', ++aclsSet, plan.acls.count);
        if (failures.under(path)) return;
        try {
          await session.setAcl(path, restorableAcl(node.acl, this.digestIds).acl, -1);
        } catch (err) {
          if (interrupted && err instanceof ZkOpError && err.code === ZK_ERROR.NoNode) return; // not created yet
          failures.add(path, `setting the ACL: ${describeError(err)}`);
          if (!(err instanceof ZkOpError) || isSessionGone(err)) sessionGone = true;
        }
      },
      () => sessionGone,
    );
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

    // 6. Read back and compare.
    const verify = await this.verifyRestored(plan, source, failures, signal);
    let updated = 0;
    for (const { path, actions } of flagged(plan, source, ACTION.DATA | ACTION.ACL))
      if (!(actions & ACTION.CREATE) && !failures.has(path)) updated++;
    const zxid = await session.exists('/').then(() => session.lastZxidSeen);
    return {
      created: submittedCreates - failures.creates,
      updated,
      deleted,
      cversionsRaised: raised,
      failed: failures.list,
      failures: failures.count,
      verify,
      zxid: formatZxid(zxid),
    };
  }

  /**
   * Reads every restored node back and compares it with the backup's; mirror: also finds extras.
   * Data comes back in batches (one multiRead each, on servers that have it); an ACL is read only
   * where the data's stat cannot vouch for it: a node this restore created world-open whose aversion
   * is still 0 has the ACL it was created with.
   */
  private async verifyRestored(
    plan: StreamPlan,
    source: RestoreSource,
    failures: Failures,
    signal?: AbortSignal,
  ): Promise<NonNullable<AppliedRestore['verify']>> {
    const session = this.session;
    const mismatches: Array<{ path: string; fields: string[] }> = [];
    let differing = 0;
    let checked = 0;
    let unreadable = 0;
    let read = 0;
    let multiRead = true;
    const differs = (path: string, fields: string[]) => {
      differing++;
      if (mismatches.length < PLAN_SAMPLE) mismatches.push({ path, fields });
    };
    type Item = { node: SourceNode; path: string; actions: number };
    const readData = async (items: Item[]) => {
      if (multiRead) {
        try {
          return await session.getDataMany(items.map((i) => i.path));
        } catch (err) {
          // A server before 3.6 has no multiRead: read them one by one from now on.
          if (!(err instanceof ZkOpError || err instanceof ConnectionError) || isSessionGoneForGood(err)) throw err;
          multiRead = false;
        }
      }
      return Promise.all(
        items.map((i) => session.getData(i.path).then((d) => d ?? { code: ZK_ERROR.NoNode }, noAuthAs({ code: ZK_ERROR.NoAuth }))),
      );
    };
    const check = async (items: Item[]) => {
      throwIfAborted(signal);
      const got = await readData(items);
      await Promise.all(
        items.map(async ({ node, path, actions }, k) => {
          this.progress('verify', ++read, plan.verify);
          const d = got[k];
          if ('code' in d) {
            // Nodes the restorer may not read (their restored ACL denies it) are not verified, not missing.
            if (d.code === ZK_ERROR.NoAuth) unreadable++;
            else if (d.code === ZK_ERROR.NoNode) {
              checked++;
              differs(path, ['missing']);
            } else throw new ZkOpError(d.code, 'getData', path);
            return;
          }
          const fields: string[] = [];
          if (!sameData(d.data, node.data)) fields.push('data');
          const createdOpen = (actions & ACTION.CREATE) !== 0 && (actions & ACTION.ACL) === 0 && !failures.has(path);
          if (!(createdOpen && d.stat.aversion === 0)) {
            const a = await session.getAcl(path).catch(noAuthAs('noauth' as const));
            if (a === 'noauth') {
              unreadable++;
              return;
            }
            if (a === null) fields.push('missing');
            else {
              // An ACL that could not be restored as it was is reported already. A digest ACL reads
              // back redacted ('user:x') when the restorer lacks ADMIN on the node.
              const { acl, missing } = restorableAcl(node.acl, this.digestIds);
              if (missing.length === 0 && !sameAcl(a.acl, acl) && !hasRedactedDigest(a.acl)) fields.push('acl');
            }
          }
          checked++;
          if (fields.length > 0) differs(path, fields);
        }),
      );
    };
    // Batches of up to VERIFY_BATCH nodes and about VERIFY_BATCH_BYTES of data each.
    function* batches(): Generator<Item[]> {
      let batch: Item[] = [];
      let bytes = 0;
      for (const item of flagged(plan, source, ACTION.VERIFY)) {
        batch.push(item);
        bytes += (item.node.data?.length ?? 0) + 128;
        if (batch.length >= VERIFY_BATCH || bytes >= VERIFY_BATCH_BYTES) {
          yield batch;
          batch = [];
          bytes = 0;
        }
      }
      if (batch.length > 0) yield batch;
    }
    await windowed(batches(), check, () => false, 8);
    if (plan.mode === 'mirror' && (await session.exists(plan.targetRoot))) {
      await walkLiveTree(session, plan.targetRoot, { signal, onUnreadable: () => {} }, (got) => {
        const p = got.path;
        if (p === plan.targetRoot || plan.wanted.has(p) || isSystemPath(p)) return;
        if (mirrorKeeps(p, plan.keep.has(p), plan.unknown) === null) differs(p, ['extra']);
      });
    }
    return { checked, mismatches, differing, unreadable };
  }
}
