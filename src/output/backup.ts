// The human rendering of a backup's result (`backup`, and a scheduled run's summary).
import type { BackupResult } from '../repository/backup-summary.js';
import { formatBytes, formatDuration } from './format.js';

export function humanBackup(r: BackupResult): string {
  const lines = [
    `backup ${r.id}${r.partial ? ' (PARTIAL)' : ''}`,
    `  kind       ${r.kind}`,
    `  nodes      ${r.nodes} (${r.counts.persistent} persistent, ${r.counts.ephemeral} ephemeral, ${r.counts.container} container, ${r.counts.ttl} ttl; ${formatBytes(r.counts.dataBytes)} of data)` +
      (r.kind === 'logical'
        ? '\n             (read through the client API, where container and TTL nodes show as persistent)'
        : `\n             (the tree at ${r.zxid.to}, as a restore of it creates it; other zxids may hold more or fewer)`),
    `  archive    ${formatBytes(r.bytes)}`,
    `  zxid       ${r.zxid.from} .. ${r.zxid.to}` +
      (r.consistent === undefined
        ? ''
        : r.consistent
          ? '  (consistent: nothing changed during the walk)'
          : `  (fuzzy: ${r.changedDuringWalk} node(s) changed during the walk)`),
    `  took       ${formatDuration(r.durationMs)}`,
  ];
  if (r.unreadable.length > 0) {
    lines.push(`  unreadable ${r.unreadable.length} node(s):`);
    for (const u of r.unreadable.slice(0, 20)) lines.push(`    ${u.path}: ${u.reason}`);
    if (r.unreadable.length > 20) lines.push(`    … and ${r.unreadable.length - 20} more (zkvault inspect ${r.id})`);
  }
  return lines.join('\n');
}
