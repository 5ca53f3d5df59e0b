// An offline dataDir as a restore sink: a new, empty directory that a real ZooKeeper server starts
// from, holding the restored tree exactly (every stat as the source has it), its snapshot named for
// the restored zxid (or a new epoch, with bumpEpoch), epoch files consistent with it, no logs.
import { formatZxid } from '../core/zxid.js';
import { planStream, type StreamPlan, type StreamPlanOptions } from '../core/restore-stream.js';
import { UsageError } from '../errors.js';
import { requireEmptyDir, writeDataDir, writeDataDirFromSnapshot } from '../datadir/writer.js';
import type { AppliedRestore, RestoreSink, RestoreSource } from './types.js';

export class DataDirSink implements RestoreSink {
  readonly target: string;

  /** `fileZxidFor`: the zxid the snapshot is named for, given the restored one (default: the same). */
  constructor(
    private readonly dir: string,
    private readonly o: { myid?: number; fileZxidFor?: (zxid: bigint) => Promise<bigint> } = {},
  ) {
    this.target = dir;
    requireEmptyDir(dir); // before any work: a restore never writes next to existing files
  }

  /** A new dataDir holds nothing: every node is created. */
  plan(source: RestoreSource, options: StreamPlanOptions, signal?: AbortSignal): Promise<StreamPlan> {
    const empty = { get: () => Promise.resolve(undefined), walk: () => Promise.resolve() };
    return planStream(source.nodes(), empty, options, signal);
  }

  /**
   * Writes the source's whole tree (a backup of a subtree: that subtree and its ancestors): from the
   * tree in memory, or copied node by node from the snapshot file it streams from.
   */
  async apply(_plan: StreamPlan, source: RestoreSource): Promise<AppliedRestore> {
    const tree = source.tree;
    const fileZxid = this.o.fileZxidFor ? await this.o.fileZxidFor(source.zxid) : source.zxid;
    const options = { zxid: fileZxid, myid: this.o.myid, epochFiles: true };
    let written: { snapshotPath: string; created: number; sessions: number };
    if (tree) {
      const w = await writeDataDir(tree, this.dir, options);
      written = { snapshotPath: w.snapshotPath, created: tree.counts().nodes, sessions: tree.sessions.size };
    } else if (source.snapshotFile) {
      const w = await writeDataDirFromSnapshot(source.snapshotFile.path, source.snapshotFile.name, this.dir, options);
      written = { snapshotPath: w.snapshotPath, created: w.counts.nodes, sessions: w.sessions };
    } else throw new UsageError('an offline restore writes the whole tree, which this source does not hold');
    return {
      created: written.created,
      updated: 0,
      deleted: 0,
      cversionsRaised: 0,
      failed: [],
      failures: 0,
      zxid: formatZxid(source.zxid),
      written: { snapshot: written.snapshotPath, snapshotZxid: formatZxid(fileZxid), sessions: written.sessions },
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
