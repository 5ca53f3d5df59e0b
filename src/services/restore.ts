// restore: a source (a backup, a backup at a zxid, the backup covering --to-zxid/--to-time), a plan
// (core/restore-stream) against what the sink holds now, and the sink carrying it out: a live ensemble
// (sinks/ensemble), a new dataDir (sinks/data-dir), or nothing (a dry run). A logical backup is
// streamed from its snapshot file, never loaded whole, into an ensemble or a new dataDir alike; a
// physical one is replayed in memory to its zxid.
// Failures that leave the run finished but not whole are returned as values (`partial`), never thrown.
import { digestIdsOf, type RestoreMode } from '../core/restore-plan.js';
import { PLAN_SAMPLE, type StreamPlan } from '../core/restore-stream.js';
import { isSystemPath, validateZnodePath } from '../core/znode-path.js';
import { formatZxid, makeZxid, parseZxid, zxidEpoch } from '../core/zxid.js';
import { UsageError, UserError } from '../errors.js';
import type { Repository } from '../repository/types.js';
import { DataDirSink } from '../sinks/data-dir.js';
import { DryRunSink } from '../sinks/dry-run.js';
import { EnsembleSink } from '../sinks/ensemble.js';
import type { AppliedRestore, RestoreSink } from '../sinks/types.js';
import { openBackupSnapshot, snapshotFileSource, treeSource, unknownSubtrees, type NodeSource } from '../sources/backup-tree.js';
import { loadTree, partialWarning, requireWholeLogical, resolveTreeSource } from '../sources/tree-source.js';
import { openSession, type ZkAccess } from '../zk/client.js';

/** Where a restore writes. */
export type RestoreTarget =
  | { kind: 'ensemble'; zk: string; access?: ZkAccess; /** The target servers' jute.maxbuffer, when raised. */ maxRequestBytes?: number }
  | {
      kind: 'dataDir';
      dir: string;
      myid?: number;
      /**
       * Name the snapshot in a new epoch above every zxid the repository has seen, so clients that saw
       * newer zxids before the rollback are not refused ("has seen zxid …").
       */
      bumpEpoch?: boolean;
    };

export interface RestoreOptions {
  repo: Repository;
  /** Backup id, ID@ZXID or latest; or none with toZxid/toTime (physical backups). */
  ref?: string;
  toZxid?: bigint;
  toTime?: number;
  target: RestoreTarget;
  /** Subtree of the backup to restore (default: the backup's root). */
  path?: string;
  /** Where to put it (default: the same path). */
  into?: string;
  mode?: RestoreMode;
  dryRun?: boolean;
  ephemeralsAsPersistent?: boolean;
  sequentialCounters?: boolean;
  signal?: AbortSignal;
  warn?: (message: string) => void;
  /** A sink to use instead of the one `target` names (tests: an in-memory ensemble). */
  sink?: RestoreSink;
  /** Called as the restore goes: the step, the nodes it has done, and its total when known. */
  onProgress?: (step: 'plan' | 'write' | 'acl' | 'verify', done: number, total?: number) => void;
}

export interface RestoreResult {
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  /** The target's zxid after the restore (the backup's zxid with --dry-run or offline). */
  zxid: string;
  backup: { id: string; zxid: string; chain: string[] };
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
  verify?: AppliedRestore['verify'];
  /** Offline: the snapshot written, the zxid it is named for, the sessions it holds. */
  written?: AppliedRestore['written'];
  /** Why the restored point is not the backup's recorded end, or is behind newer history; already warned. */
  notice?: string;
  /** A dry run's plan: the first changes of each kind by path, and how many there are. */
  plan?: {
    creates: string[];
    updates: Array<{ path: string; fields: string[] }>;
    deletes: string[];
    acls: string[];
    cversions: string[];
    counts: { creates: number; updates: number; deletes: number; acls: number; cversions: number };
  };
  /** Set when the run finished but not whole (failed changes, ACLs not restored as they were): exit 3. */
  partial: { message: string; hint: string } | null;
}

export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const mode = options.mode ?? 'create';
  const { repo, target } = options;
  if (target.kind === 'dataDir' && (options.path !== undefined || options.into !== undefined)) {
    throw new UsageError('an offline restore writes the whole tree', {
      hint: 'leave out --path and --into, or restore into a live ensemble with --zk',
    });
  }
  // A sink that can refuse before any work does (a non-empty dataDir) is made first.
  let sink: RestoreSink | undefined =
    options.sink ??
    (target.kind === 'dataDir'
      ? new DataDirSink(target.dir, {
          myid: target.myid,
          ...(target.bumpEpoch ? { fileZxidFor: (z: bigint) => bumpedZxid(repo, z, options.warn) } : {}),
        })
      : undefined);
  const cleanup: Array<() => Promise<void>> = [];
  try {
    const source = await resolveTreeSource({ ref: options.ref, toZxid: options.toZxid, toTime: options.toTime }, () =>
      Promise.resolve(repo),
    );
    if (source.kind !== 'backup') throw new UsageError(`${source.ref} is not a backup`);
    const { manifest } = source;
    const partialNote = partialWarning(manifest);
    if (partialNote) options.warn?.(partialNote);
    const sourceRoot = validateZnodePath(options.path ?? manifest.source.path ?? '/');
    const targetRoot = validateZnodePath(options.into ?? sourceRoot, '--into');
    if (isSystemPath(targetRoot)) {
      throw new UsageError(`${targetRoot} is inside /zookeeper, the server's own subtree, which a restore never writes`, {
        hint: 'restore under your own path, e.g. --into /restored',
      });
    }
    const offline = target.kind === 'dataDir';
    // The source: a logical backup streamed from its snapshot file; otherwise a tree in memory.
    let nodes: NodeSource;
    let chain = [manifest.id];
    let notice: string | null = null;
    if (manifest.kind === 'logical') {
      requireWholeLogical(source);
      const snap = await openBackupSnapshot(repo, manifest.id);
      cleanup.push(() => snap.close());
      nodes = snapshotFileSource(snap.file, snap.name, sourceRoot, snap.zxid);
    } else {
      const loaded = await loadTree(source, { repo, warn: options.warn, signal: options.signal });
      nodes = treeSource(loaded.tree, sourceRoot, loaded.zxid);
      chain = loaded.chain;
      notice = loaded.notice;
    }
    if (!sink && target.kind === 'ensemble') {
      // The session outlives an interruption long enough to set the ACLs of what was created; the
      // work itself stops at the next batch once the signal is aborted.
      const session = await openSession({ connectString: target.zk, ...target.access, maxRequestBytes: target.maxRequestBytes });
      sink = new EnsembleSink(session, target.zk, {
        auth: target.access?.auth,
        maxRequestBytes: target.maxRequestBytes,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    }
    if (!sink) throw new UsageError('restore needs a target');
    const applying = options.dryRun ? new DryRunSink(sink) : sink;
    const plan = await applying.plan(
      nodes,
      {
        sourceRoot,
        targetRoot,
        mode,
        // Offline, the tree is written as it is: ephemerals with their sessions, counters exact.
        ephemeralsAsPersistent: offline || options.ephemeralsAsPersistent,
        sequentialCounters: offline ? false : options.sequentialCounters,
        unknown: unknownSubtrees(manifest).map((u) => u.path),
        digestIds: digestIdsOf(target.kind === 'ensemble' ? (target.access?.auth ?? []) : []),
        sourceName: `backup ${manifest.id}`,
        ...(options.onProgress ? { onProgress: (n: number) => options.onProgress!('plan', n, manifest.counts.nodes || undefined) } : {}),
      },
      options.signal,
    );
    if (!plan.sourceRootFound) {
      throw new UserError(`${sourceRoot} is not in backup ${manifest.id}`, {
        hint: `zkvault export ${manifest.id} | head lists what it holds`,
      });
    }
    if (plan.conflicts.count > 0) {
      const shown = plan.conflicts.items.slice(0, 10).join(', ');
      throw new UserError(
        `restore in create mode changed nothing: ${plan.conflicts.count} target node(s) already exist (${shown}${plan.conflicts.count > 10 ? ', …' : ''})`,
        {
          hint: '--mode overwrite updates them, --mode mirror also deletes what the backup lacks, --into /elsewhere restores beside them; --dry-run shows the plan',
        },
      );
    }
    if (target.kind === 'ensemble' && !options.dryRun) {
      // Said once the backup is known to exist and the plan holds: the run is about to change things.
      options.warn?.(
        options.into
          ? `restoring into a live ensemble fires watches on every node it changes under ${options.into}`
          : 'restoring into a live ensemble fires watches on every node it changes; applications see partial state until it ends (--into or an offline restore avoid that)',
      );
    }
    const applied = await applying.apply(plan, nodes, options.signal);
    return {
      created: applied.created,
      updated: applied.updated,
      deleted: applied.deleted,
      skipped: plan.skipped.count + plan.identical,
      zxid: applied.zxid,
      backup: { id: manifest.id, zxid: formatZxid(nodes.zxid), chain },
      dryRun: Boolean(options.dryRun),
      mode,
      sourceRoot,
      targetRoot,
      cversionsRaised: applied.cversionsRaised,
      failed: applied.failed,
      warnings: plan.warnings.items,
      skippedNodes: plan.skipped.items,
      aclsNotRestored: plan.aclsNotRestored.items,
      ...(applied.verify ? { verify: applied.verify } : {}),
      ...(applied.written ? { written: applied.written } : {}),
      ...(notice ? { notice } : {}),
      ...(options.dryRun ? { plan: summarize(plan) } : {}),
      partial: options.dryRun ? null : partialOf(applied, plan, mode),
    };
  } finally {
    await sink?.close();
    for (const c of cleanup) await c().catch(() => {});
  }
}

/** Why a finished restore is not whole, or null. */
function partialOf(applied: AppliedRestore, plan: StreamPlan, mode: RestoreMode): RestoreResult['partial'] {
  const failed = applied.failed;
  if (applied.failures > 0) {
    return {
      message: `restore finished, but ${applied.failures} change(s) failed (first: ${failed[0].path}: ${failed[0].error})`,
      hint: `the result lists every failure; fix the cause (often --auth) and run again with --mode ${mode === 'create' ? 'overwrite' : mode}`,
    };
  }
  if (plan.aclsNotRestored.count > 0) {
    const first = plan.aclsNotRestored.items[0];
    return {
      message: `restore finished, but ${plan.aclsNotRestored.count} node(s) could not get their ACL as the backup has it (first: ${first.path}: ${first.reason})`,
      hint: 'the backup was taken without ADMIN permission on them, so the server hid their digest hashes; --auth with each named user restores them exactly',
    };
  }
  return null;
}

/** A zxid in a new epoch above every zxid the repository has seen (--bump-epoch). */
async function bumpedZxid(repo: Repository, zxid: bigint, warn?: (m: string) => void): Promise<bigint> {
  let maxEpoch = zxidEpoch(zxid);
  for (const m of await repo.list()) {
    const e = zxidEpoch(parseZxid(m.zxid.to));
    if (e > maxEpoch) maxEpoch = e;
  }
  const fileZxid = makeZxid(maxEpoch + 1n, 0n);
  warn?.(
    `the snapshot is named ${formatZxid(fileZxid)} (epoch ${maxEpoch + 1n}) so clients that saw zxids up to epoch ${maxEpoch} are accepted`,
  );
  return fileZxid;
}

/** What a dry run lists: every kind of change by path (the first PLAN_SAMPLE of each) and their counts. */
function summarize(plan: StreamPlan): RestoreResult['plan'] {
  return {
    creates: [...plan.ancestors, ...plan.creates.items],
    updates: plan.updates.items,
    deletes: plan.deletes.slice(0, PLAN_SAMPLE),
    acls: plan.acls.items,
    cversions: plan.cversions.items,
    counts: {
      creates: plan.ancestors.length + plan.creates.count,
      updates: plan.updates.count,
      deletes: plan.deletes.length,
      acls: plan.acls.count,
      cversions: plan.cversions.count,
    },
  };
}
