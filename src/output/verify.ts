// The human rendering of a verify report.
import type { VerifyResult } from '../services/verify.js';

/** What every read of a repository of this format checks, beyond the manifests' sha256 (docs/verify.md). */
function formatChecks(format: { version: number; encrypted: boolean }): string {
  const hashes =
    "every member's sha256 against the manifests, and the archive's sha256 (backups of manifest format 1) or its framing (format 2)";
  return format.encrypted
    ? `repository format ${format.version} (encrypted): every chunk of every archive, manifest and history record authenticated (AES-256-GCM) as it is read, the marker by its MAC, and ${hashes}`
    : `repository format ${format.version} (plain): ${hashes}`;
}

export function renderVerify(result: VerifyResult, deep: boolean, format?: { version: number; encrypted: boolean }): string {
  return result.backups
    .map((b) =>
      [
        b.ok ? `ok      ${b.id}` : `FAILED  ${b.id}`,
        ...b.problems.map((p) => `        ${p}`),
        ...(b.warnings ?? []).map((w) => `        note: ${w}`),
      ].join('\n'),
    )
    .concat(result.ok ? [`${result.backups.length} backup(s) verified${deep ? ' (deep)' : ''}`] : [])
    .concat(format ? [formatChecks(format)] : [])
    .join('\n');
}
