// An offline dataDir as a restore sink: a new, empty directory that a real ZooKeeper server starts
// from, holding the restored tree exactly (every stat as the source has it), its snapshot named for
// the restored zxid (or a new epoch, with bumpEpoch), epoch files consistent with it, no logs.
import { formatZxid } from '../core/zxid.js';
import type { RestorePlan, TargetNode } from '../core/restore-plan.js';
import { requireEmptyDir, writeDataDir } from '../datadir/writer.js';
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

  /** A new dataDir holds nothing. */
  readTarget(): Promise<Map<string, TargetNode>> {
    return Promise.resolve(new Map<string, TargetNode>());
  }

  /** Writes the source's whole tree (a backup of a subtree: that subtree and its ancestors). */
  async apply(_plan: RestorePlan, source: RestoreSource): Promise<AppliedRestore> {
    const fileZxid = this.o.fileZxidFor ? await this.o.fileZxidFor(source.zxid) : source.zxid;
    const written = await writeDataDir(source.tree, this.dir, { zxid: fileZxid, myid: this.o.myid, epochFiles: true });
    return {
      created: source.tree.records('/').length,
      updated: 0,
      deleted: 0,
      cversionsRaised: 0,
      failed: [],
      zxid: formatZxid(source.zxid),
      written: { snapshot: written.snapshotPath, snapshotZxid: formatZxid(fileZxid), sessions: source.tree.sessions.size },
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
