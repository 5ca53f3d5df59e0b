// What `backup` returns, logical or physical, built from the manifest it published. Kept apart from
// the logical service so that a physical backup does not load the ZooKeeper client.
import type { BackupManifest, NodeCounts } from './types.js';

export interface BackupResult {
  id: string;
  kind: 'logical' | 'physical';
  nodes: number;
  /** Size of the stored archive. */
  bytes: number;
  zxid: { from: string; to: string };
  partial: boolean;
  consistent?: boolean;
  changedDuringWalk?: number;
  unreadable: Array<{ path: string; reason: string }>;
  counts: NodeCounts;
  durationMs: number;
}

export function manifestToResult(m: BackupManifest, durationMs = 0): BackupResult {
  return {
    id: m.id,
    kind: m.kind,
    nodes: m.counts.nodes,
    bytes: m.archive?.size ?? 0,
    zxid: m.zxid,
    partial: m.partial,
    consistent: m.consistent,
    changedDuringWalk: m.changedDuringWalk,
    unreadable: m.unreadable,
    counts: m.counts,
    durationMs,
  };
}
