// A retention policy for tests: every rule 0 unless given, durations written as on the command line.
import { parseRetentionDuration } from '../../src/core/duration.js';
import type { RetentionPolicy } from '../../src/core/retention.js';

export function policy(p: Partial<Omit<RetentionPolicy, 'within'>> & { within?: string } = {}): RetentionPolicy {
  return {
    last: p.last ?? 0,
    hourly: p.hourly ?? 0,
    daily: p.daily ?? 0,
    weekly: p.weekly ?? 0,
    monthly: p.monthly ?? 0,
    yearly: p.yearly ?? 0,
    within: p.within ? parseRetentionDuration(p.within) : null,
    groupBy: p.groupBy ?? 'series',
  };
}
