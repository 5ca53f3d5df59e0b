// Where a restore writes: a live ensemble, an offline dataDir, or nowhere (a dry run). A restore is a
// source's tree, a pure plan (core/restore-plan) against what the sink holds now, and the sink
// carrying the plan out; every sink answers to this one interface.
import type { RestorePlan, SourceNode, TargetNode } from '../core/restore-plan.js';
import type { DataTree } from '../core/tree.js';

/** The tree being restored, as the sink may need it. */
export interface RestoreSource {
  /** The tree at the restored point (an offline sink writes it whole, stats and all). */
  tree: DataTree;
  /** Its nodes under the restored root, as the plan compares them. */
  nodes: SourceNode[];
  /** The zxid the tree stands for. */
  zxid: bigint;
}

/** What carrying out a plan did. */
export interface AppliedRestore {
  created: number;
  updated: number;
  deleted: number;
  cversionsRaised: number;
  /** Changes that failed, each with why. */
  failed: Array<{ path: string; error: string }>;
  /** The restored subtree read back and compared with what the plan promised (live sinks). */
  verify?: { checked: number; mismatches: Array<{ path: string; fields: string[] }>; unreadable: number };
  /** The target's zxid after the restore (`0x…`). */
  zxid: string;
  /** Offline sinks: what was written. */
  written?: { snapshot: string; snapshotZxid: string; sessions: number };
}

export interface RestoreSink {
  /** Where it writes, for messages (`127.0.0.1:2181`, `/restore/zk1`). */
  readonly target: string;
  /** The target's nodes at and under `root`, and the ancestors of `root` that exist (stats only). */
  readTarget(root: string, signal?: AbortSignal): Promise<Map<string, TargetNode>>;
  /** Carries out the plan. The run stops at the next step once `signal` is aborted. */
  apply(plan: RestorePlan, source: RestoreSource, signal?: AbortSignal): Promise<AppliedRestore>;
  /** Releases what the sink holds (a session). Idempotent. */
  close(): Promise<void>;
}
