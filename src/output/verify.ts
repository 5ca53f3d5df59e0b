// The human rendering of a verify report.
import type { VerifyResult } from '../services/verify.js';

export function renderVerify(result: VerifyResult, deep: boolean): string {
  return result.backups
    .map((b) =>
      [
        b.ok ? `ok      ${b.id}` : `FAILED  ${b.id}`,
        ...b.problems.map((p) => `        ${p}`),
        ...(b.warnings ?? []).map((w) => `        note: ${w}`),
      ].join('\n'),
    )
    .concat(result.ok ? [`${result.backups.length} backup(s) verified${deep ? ' (deep)' : ''}`] : [])
    .join('\n');
}
