// A dry run as a restore sink: the plan is made against what the real sink holds, and nothing is
// changed; what it would do is the result.
import type { RestorePlan, TargetNode } from '../core/restore-plan.js';
import { formatZxid } from '../core/zxid.js';
import type { AppliedRestore, RestoreSink, RestoreSource } from './types.js';

/** A dry run: the plan against what `inner` holds, and nothing changed. */
export class DryRunSink implements RestoreSink {
  readonly target: string;

  constructor(private readonly inner: RestoreSink) {
    this.target = inner.target;
  }

  readTarget(root: string, signal?: AbortSignal): Promise<Map<string, TargetNode>> {
    return this.inner.readTarget(root, signal);
  }

  apply(plan: RestorePlan, source: RestoreSource): Promise<AppliedRestore> {
    return Promise.resolve({
      created: plan.creates.length,
      updated: plan.updates.length,
      deleted: plan.deletes.length,
      cversionsRaised: 0,
      failed: [],
      zxid: formatZxid(source.zxid),
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
