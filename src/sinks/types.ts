// Where a restore writes: a live ensemble, an offline dataDir, or nowhere (a dry run). A restore is a
// source's nodes, streamed; a plan (core/restore-stream) against what the sink holds now; and the sink
// carrying the plan out; every sink answers to this one interface.
import type { SourceNode } from '../core/restore-plan.js';
import type { StreamPlan, StreamPlanOptions } from '../core/restore-stream.js';
import type { DataTree } from '../core/tree.js';

/** The tree being restored, as the sink may need it. */
export interface RestoreSource {
  /**
   * Its nodes at and under the restored root (`/zookeeper` left out), each after its parent, in the
   * same order every time: a plan and each step of carrying it out read them once more, so a source
   * streamed from a file is never held whole.
   */
  nodes(): Iterable<SourceNode>;
  /** The tree, when it is in memory (an offline sink writes it whole, stats and all). */
  tree?: DataTree;
  /** Otherwise the uncompressed snapshot file it is read from (`name` in errors): an offline sink copies its nodes through. */
  snapshotFile?: { path: string; name: string };
  /** The zxid the tree stands for. */
  zxid: bigint;
}

/** What carrying out a plan did. */
export interface AppliedRestore {
  created: number;
  updated: number;
  deleted: number;
  cversionsRaised: number;
  /** Changes that failed, each with why (the first ones; `failures` counts them all). */
  failed: Array<{ path: string; error: string }>;
  failures: number;
  /**
   * The restored subtree read back and compared with what the plan promised (live sinks):
   * `mismatches` lists the first differences, `differing` counts them all.
   */
  verify?: { checked: number; mismatches: Array<{ path: string; fields: string[] }>; differing: number; unreadable: number };
  /** The target's zxid after the restore (`0x…`). */
  zxid: string;
  /** Offline sinks: what was written. */
  written?: { snapshot: string; snapshotZxid: string; sessions: number };
}

export interface RestoreSink {
  /** Where it writes, for messages (`127.0.0.1:2181`, `/restore/zk1`). */
  readonly target: string;
  /** Plans the restore of `source` into what the sink holds now. */
  plan(source: RestoreSource, options: StreamPlanOptions, signal?: AbortSignal): Promise<StreamPlan>;
  /** Carries out the plan. The run stops at the next step once `signal` is aborted. */
  apply(plan: StreamPlan, source: RestoreSource, signal?: AbortSignal): Promise<AppliedRestore>;
  /** Releases what the sink holds (a session). Idempotent. */
  close(): Promise<void>;
}
