// A dry run as a restore sink: the plan is made against what the real sink holds, and nothing is
// changed; what it would do is the result.
import type { StreamPlan, StreamPlanOptions } from '../core/restore-stream.js';
import { formatZxid } from '../core/zxid.js';
import type { AppliedRestore, RestoreSink, RestoreSource } from './types.js';

/** A dry run: the plan against what `inner` holds, and nothing changed. */
export class DryRunSink implements RestoreSink {
  readonly target: string;

  constructor(private readonly inner: RestoreSink) {
    this.target = inner.target;
  }

  plan(source: RestoreSource, options: StreamPlanOptions, signal?: AbortSignal): Promise<StreamPlan> {
    return this.inner.plan(source, options, signal);
  }

  apply(plan: StreamPlan, source: RestoreSource): Promise<AppliedRestore> {
    return Promise.resolve({
      created: plan.creates.count + plan.ancestors.length,
      updated: plan.updates.count,
      deleted: plan.deletes.length,
      cversionsRaised: 0,
      failed: [],
      failures: 0,
      zxid: formatZxid(source.zxid),
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
