// Logical restore into a live ensemble: read the backup's tree and the target's, plan (pure), then
// apply in ZooKeeper-friendly order: deletes (mirror) children first; creates parents first, level by
// level, in multis sized by bytes (falling back to single ops to name a failing node); data updates;
// sequential counters raised; ACLs last (nodes are created with their own ACL plus the restorer's
// grant), so restrictive ACLs never block the restore and never open up to anyone else meanwhile.
// Finally the restored subtree is read back and compared with what the plan promised.
import { createHash } from 'node:crypto';
import { ConnectionError, PartialError, UsageError, UserError, throwIfAborted } from '../errors.js';
import { formatZxid } from '../core/zxid.js';
import {
  mapPath,
  OPEN_ACL,
  planRestore,
  restorableAcl,
  sameAcl,
  sameBytes,
  targetStoredCversion,
  type PlannedCreate,
  type RestoreMode,
  type RestorePlan,
  type SourceNode,
  type TargetNode,
} from '../core/restore-plan.js';
import { multiOpBytes, openSession, requestBytes, ZK_ERROR, ZkOpError, zkErrorName, type ZkOp, type ZkSession } from '../zk/client.js';
import { walkLiveTree } from '../zk/live-tree.js';
import { hasRedactedDigest, isSystemPath } from '../core/znode-path.js';
import type { AclEntry } from '../core/node-record.js';
import { openRepository } from '../repository/repository.js';
import { sourceNodes, unknownSubtrees } from './backup-tree.js';
import { partialWarning, resolveSource, treeAtPoint } from './restore-offline.js';
import { validateZnodePath } from '../core/znode-path.js';

export interface LogicalRestoreOptions {
  /** Backup id, ID@ZXID or latest; or none with toZxid/toTime (physical backups). */
  ref?: string;
  toZxid?: bigint;
  toTime?: number;
  repo: string;
  zk: string;
  auth?: string[];
  /** Subtree of the backup to restore (default: the backup's root). */
  path?: string;
  /** Where to put it (default: the same path). */
  into?: string;
  mode?: RestoreMode;
  dryRun?: boolean;
  ephemeralsAsPersistent?: boolean;
  sequentialCounters?: boolean;
  /** The target servers' jute.maxbuffer, when raised (bytes). */
  maxRequestBytes?: number;
  signal?: AbortSignal;
  warn?: (message: string) => void;
  /**
   * Supplies the source nodes directly (e.g. a physical backup replayed to a zxid). `unknown`: backup
   * paths whose subtrees it does not know (unreadable or excluded), which mirror leaves alone.
   */
  source?: { nodes: SourceNode[]; root: string; id: string; zxid: bigint; unknown?: string[] };
}

export interface RestoreResult {
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  /** The target's zxid after the restore (the backup's zxid with --dry-run). */
  zxid: string;
  backup: { id: string; zxid: string };
  dryRun: boolean;
  mode: RestoreMode;
  sourceRoot: string;
  targetRoot: string;
  cversionsRaised: number;
  failed: Array<{ path: string; error: string }>;
  warnings: string[];
  skippedNodes: Array<{ path: string; reason: string }>;
  /** Nodes whose ACL could not be restored as the backup has it (see RestorePlan.aclsNotRestored). */
  aclsNotRestored: Array<{ path: string; reason: string }>;
  verify?: { checked: number; mismatches: Array<{ path: string; fields: string[] }>; unreadable: number };
  /** Why the restored point is not the backup's recorded end, or is behind newer history (exit 3); already warned. */
  notice?: string;
  plan?: { creates: string[]; updates: Array<{ path: string; fields: string[] }>; deletes: string[]; acls: string[]; cversions: string[] };
}

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

function summarize(plan: RestorePlan): RestoreResult['plan'] {
  return {
    creates: plan.creates.map((c) => c.path),
    updates: plan.updates.map((u) => ({ path: u.path, fields: u.fields })),
    deletes: plan.deletes,
    acls: plan.acls.map((a) => a.path),
    cversions: plan.cversions.map((c) => c.path),
  };
}

export async function restoreLogical(options: LogicalRestoreOptions): Promise<RestoreResult> {
  const mode = options.mode ?? 'create';
  let source = options.source;
  let notice: string | null = null;
  if (!source) {
    const repo = await openRepository(options.repo, { create: false, signal: options.signal, warn: options.warn });
    const { manifest, point, latest } = await resolveSource(repo, { ref: options.ref, toZxid: options.toZxid, toTime: options.toTime });
    const partial = partialWarning(manifest);
    if (partial) options.warn?.(partial);
    const { tree, zxid, notice: n } = await treeAtPoint(repo, manifest, point, { warn: options.warn, signal: options.signal, latest });
    notice = n;
    const root = validateZnodePath(options.path ?? manifest.source.path ?? '/');
    if (!tree.nodes.has(root === '/' ? '' : root)) {
      throw new UserError(`${root} is not in backup ${manifest.id}`, { hint: `zkvault export ${manifest.id} | head lists what it holds` });
    }
    const unknown = unknownSubtrees(manifest).map((u) => u.path);
    source = { nodes: sourceNodes(tree, root), root, id: manifest.id, zxid, unknown };
  }
  const sourceRoot = source.root;
  const targetRoot = validateZnodePath(options.into ?? sourceRoot, '--into');
  if (isSystemPath(targetRoot)) {
    throw new UsageError(`${targetRoot} is inside /zookeeper, the server's own subtree, which a restore never writes`, {
      hint: 'restore under your own path, e.g. --into /restored',
    });
  }
  const maxBytes = (options.maxRequestBytes ?? 0xfffff) - 1024;

  const digestIds = digestIdsOf(options.auth ?? []);
  // The session outlives an interruption long enough to set the ACLs of what was created (step 5);
  // the work itself stops at the next batch once options.signal is aborted.
  const session = await openSession({ connectString: options.zk, auth: options.auth, maxRequestBytes: options.maxRequestBytes });
  try {
    const target = await readTarget(session, targetRoot, options.signal);
    const plan = planRestore({
      source: source.nodes,
      sourceRoot,
      targetRoot,
      target,
      mode,
      ephemeralsAsPersistent: options.ephemeralsAsPersistent,
      sequentialCounters: options.sequentialCounters,
      unknown: source.unknown,
      digestIds,
    });
    const base: RestoreResult = {
      created: 0,
      updated: 0,
      deleted: 0,
      skipped: plan.skipped.length,
      zxid: formatZxid(source.zxid),
      backup: { id: source.id, zxid: formatZxid(source.zxid) },
      dryRun: Boolean(options.dryRun),
      mode,
      sourceRoot,
      targetRoot,
      cversionsRaised: 0,
      failed: [],
      warnings: plan.warnings,
      skippedNodes: plan.skipped,
      aclsNotRestored: plan.aclsNotRestored,
      ...(notice ? { notice } : {}),
    };
    if (plan.conflicts.length > 0) {
      const shown = plan.conflicts.slice(0, 10).join(', ');
      throw new UserError(
        `restore in create mode changed nothing: ${plan.conflicts.length} target node(s) already exist (${shown}${plan.conflicts.length > 10 ? ', …' : ''})`,
        {
          hint: '--mode overwrite updates them, --mode mirror also deletes what the backup lacks, --into /elsewhere restores beside them; --dry-run shows the plan',
        },
      );
    }
    if (options.dryRun) {
      return { ...base, created: plan.creates.length, updated: plan.updates.length, deleted: plan.deletes.length, plan: summarize(plan) };
    }

    const failed: RestoreResult['failed'] = [];
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
    const restorerAll: AclEntry[] = (options.auth ?? []).length > 0 ? [{ perms: 31, scheme: 'auth', id: '' }] : [];
    const ownIds = new Set(digestIds.values());
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
          maxBytes,
          fail,
          options.signal,
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
        created += await applyBatched(session, ops, maxBytes, fail, options.signal);
        for (const c of typed) {
          throwIfAborted(options.signal);
          if (await createTyped(session, c, createAcl(c), fail, (error) => failed.push({ path: c.path, error }))) created++;
        }
      }
      // 3. Data updates.
      const dataOps: ZkOp[] = plan.updates
        .filter((u) => u.fields.includes('data'))
        .map((u) => ({ type: 'setData', path: u.path, data: u.data ?? null }));
      await applyBatched(session, dataOps, maxBytes, fail, options.signal);
      // 4. Sequential counters: create/delete churn until each parent's stored cversion is the backup's.
      for (const c of plan.cversions) {
        throwIfAborted(options.signal);
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
        await applyBatched(session, ops, maxBytes, fail, options.signal);
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
          hint: `run it again with --mode ${mode === 'create' ? 'overwrite' : mode} once the ensemble is reachable`,
          cause: interrupted,
        },
      );
    }
    if (interrupted) throw interrupted;
    const updatedPaths = new Set(plan.updates.map((u) => u.path));
    const updated = [...updatedPaths].filter((p) => !failedPaths.has(p)).length;

    // 6. Read back and compare.
    const verify = await verifyRestored(session, plan, source.nodes, digestIds, options.signal);
    const zxid = await session.exists('/').then(() => session.lastZxidSeen);
    const result: RestoreResult = {
      ...base,
      created,
      updated,
      deleted,
      zxid: formatZxid(zxid),
      cversionsRaised: raised,
      failed,
      verify,
    };
    if (failed.length > 0) {
      throw Object.assign(
        new PartialError(`restore finished, but ${failed.length} change(s) failed (first: ${failed[0].path}: ${failed[0].error})`, {
          hint: `the result lists every failure; fix the cause (often --auth) and run again with --mode ${mode === 'create' ? 'overwrite' : mode}`,
        }),
        { result },
      );
    }
    if (plan.aclsNotRestored.length > 0) {
      const first = plan.aclsNotRestored[0];
      throw Object.assign(
        new PartialError(
          `restore finished, but ${plan.aclsNotRestored.length} node(s) could not get their ACL as the backup has it (first: ${first.path}: ${first.reason})`,
          {
            hint: 'the backup was taken without ADMIN permission on them, so the server hid their digest hashes; --auth with each named user restores them exactly',
          },
        ),
        { result },
      );
    }
    return result;
  } finally {
    await session.close().catch(() => {});
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

/**
 * The digest ids (`user:base64(sha1(user:password))`, as ZooKeeper's digest provider makes them) of
 * the restorer's own `digest:user:password` credentials, by user.
 */
export function digestIdsOf(auth: readonly string[]): Map<string, string> {
  const ids = new Map<string, string>();
  for (const a of auth) {
    if (!a.startsWith('digest:')) continue;
    const credentials = a.slice('digest:'.length);
    const colon = credentials.indexOf(':');
    if (colon <= 0) continue;
    ids.set(credentials.slice(0, colon), `${credentials.slice(0, colon)}:${createHash('sha1').update(credentials).digest('base64')}`);
  }
  return ids;
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
): Promise<RestoreResult['verify']> {
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
