// restore: a source (a backup, a backup at a zxid, the backup covering --to-zxid/--to-time) loaded into
// a tree, a pure plan (core/restore-plan) against what the sink holds now, and the sink carrying it
// out: a live ensemble (sinks/ensemble), a new dataDir (sinks/data-dir), or nothing (a dry run).
// Failures that leave the run finished but not whole are returned as values (`partial`), never thrown.
import { digestIdsOf, planRestore, type RestoreMode, type RestorePlan } from '../core/restore-plan.js';
import { isSystemPath, validateZnodePath } from '../core/znode-path.js';
import { formatZxid, makeZxid, parseZxid, zxidEpoch } from '../core/zxid.js';
import { UsageError, UserError } from '../errors.js';
import type { Repository } from '../repository/types.js';
import { DataDirSink } from '../sinks/data-dir.js';
import { DryRunSink } from '../sinks/dry-run.js';
import { EnsembleSink } from '../sinks/ensemble.js';
import type { AppliedRestore, RestoreSink } from '../sinks/types.js';
import { sourceNodes, unknownSubtrees } from '../sources/backup-tree.js';
import { loadTree, partialWarning, resolveTreeSource } from '../sources/tree-source.js';
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
  plan?: { creates: string[]; updates: Array<{ path: string; fields: string[] }>; deletes: string[]; acls: string[]; cversions: string[] };
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
  try {
    const source = await resolveTreeSource({ ref: options.ref, toZxid: options.toZxid, toTime: options.toTime }, () =>
      Promise.resolve(repo),
    );
    if (source.kind !== 'backup') throw new UsageError(`${source.ref} is not a backup`);
    const { manifest } = source;
    const partialNote = partialWarning(manifest);
    if (partialNote) options.warn?.(partialNote);
    const loaded = await loadTree(source, { repo, warn: options.warn, signal: options.signal });
    const sourceRoot = validateZnodePath(options.path ?? manifest.source.path ?? '/');
    if (!loaded.tree.nodes.has(sourceRoot === '/' ? '' : sourceRoot)) {
      throw new UserError(`${sourceRoot} is not in backup ${manifest.id}`, {
        hint: `zkvault export ${manifest.id} | head lists what it holds`,
      });
    }
    const targetRoot = validateZnodePath(options.into ?? sourceRoot, '--into');
    if (isSystemPath(targetRoot)) {
      throw new UsageError(`${targetRoot} is inside /zookeeper, the server's own subtree, which a restore never writes`, {
        hint: 'restore under your own path, e.g. --into /restored',
      });
    }
    if (!sink && target.kind === 'ensemble') {
      // The session outlives an interruption long enough to set the ACLs of what was created; the
      // work itself stops at the next batch once the signal is aborted.
      const session = await openSession({ connectString: target.zk, ...target.access, maxRequestBytes: target.maxRequestBytes });
      sink = new EnsembleSink(session, target.zk, { auth: target.access?.auth, maxRequestBytes: target.maxRequestBytes });
    }
    if (!sink) throw new UsageError('restore needs a target');
    const applying = options.dryRun ? new DryRunSink(sink) : sink;
    const nodes = sourceNodes(loaded.tree, sourceRoot);
    const offline = target.kind === 'dataDir';
    const plan = planRestore({
      source: nodes,
      sourceRoot,
      targetRoot,
      target: await applying.readTarget(targetRoot, options.signal),
      mode,
      // Offline, the tree is written as it is: ephemerals with their sessions, counters exact.
      ephemeralsAsPersistent: offline || options.ephemeralsAsPersistent,
      sequentialCounters: offline ? false : options.sequentialCounters,
      unknown: unknownSubtrees(manifest).map((u) => u.path),
      digestIds: digestIdsOf(target.kind === 'ensemble' ? (target.access?.auth ?? []) : []),
    });
    if (plan.conflicts.length > 0) {
      const shown = plan.conflicts.slice(0, 10).join(', ');
      throw new UserError(
        `restore in create mode changed nothing: ${plan.conflicts.length} target node(s) already exist (${shown}${plan.conflicts.length > 10 ? ', …' : ''})`,
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
    const applied = await applying.apply(plan, { tree: loaded.tree, nodes, zxid: loaded.zxid }, options.signal);
    return {
      created: applied.created,
      updated: applied.updated,
      deleted: applied.deleted,
      skipped: plan.skipped.length,
      zxid: applied.zxid,
      backup: { id: manifest.id, zxid: formatZxid(loaded.zxid), chain: loaded.chain },
      dryRun: Boolean(options.dryRun),
      mode,
      sourceRoot,
      targetRoot,
      cversionsRaised: applied.cversionsRaised,
      failed: applied.failed,
      warnings: plan.warnings,
      skippedNodes: plan.skipped,
      aclsNotRestored: plan.aclsNotRestored,
      ...(applied.verify ? { verify: applied.verify } : {}),
      ...(applied.written ? { written: applied.written } : {}),
      ...(loaded.notice ? { notice: loaded.notice } : {}),
      ...(options.dryRun ? { plan: summarize(plan) } : {}),
      partial: options.dryRun ? null : partialOf(applied, plan, mode),
    };
  } finally {
    await sink?.close();
  }
}

/** Why a finished restore is not whole, or null. */
function partialOf(applied: AppliedRestore, plan: RestorePlan, mode: RestoreMode): RestoreResult['partial'] {
  const failed = applied.failed;
  if (failed.length > 0) {
    return {
      message: `restore finished, but ${failed.length} change(s) failed (first: ${failed[0].path}: ${failed[0].error})`,
      hint: `the result lists every failure; fix the cause (often --auth) and run again with --mode ${mode === 'create' ? 'overwrite' : mode}`,
    };
  }
  if (plan.aclsNotRestored.length > 0) {
    const first = plan.aclsNotRestored[0];
    return {
      message: `restore finished, but ${plan.aclsNotRestored.length} node(s) could not get their ACL as the backup has it (first: ${first.path}: ${first.reason})`,
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

function summarize(plan: RestorePlan): RestoreResult['plan'] {
  return {
    creates: plan.creates.map((c) => c.path),
    updates: plan.updates.map((u) => ({ path: u.path, fields: u.fields })),
    deletes: plan.deletes,
    acls: plan.acls.map((a) => a.path),
    cversions: plan.cversions.map((c) => c.path),
  };
}
