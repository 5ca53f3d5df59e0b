// The human rendering of a prune plan and what it removed.
import type { PruneEntry, PruneResult } from '../services/prune.js';
import { formatBytes } from './format.js';
import { formatTime, renderTable } from './list.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The plan as a table per series, then leftovers, then one summary line. */
export function renderPrune(r: PruneResult): string {
  const rows: Array<{ e: PruneEntry; action: string }> = [
    ...r.keep.map((e) => ({ e, action: 'keep' })),
    ...r.remove.map((e) => ({ e, action: r.dryRun ? 'would remove' : 'removed' })),
  ].sort((a, b) => (a.e.createdAt < b.e.createdAt ? -1 : a.e.createdAt > b.e.createdAt ? 1 : a.e.id < b.e.id ? -1 : 1));
  const series = [...new Set(rows.map((x) => x.e.series))].sort();
  const out: string[] = [];
  for (const s of series) {
    out.push(`${s}:`);
    const mine = rows.filter((x) => x.e.series === s);
    out.push(
      renderTable(
        ['', 'ID', 'CREATED (UTC)', 'SIZE', 'WHY'],
        mine.map((x) => [
          x.action,
          x.e.id + (x.e.partial ? ' (partial)' : ''),
          formatTime(x.e.createdAt),
          formatBytes(x.e.bytes),
          x.e.reasons.join('; '),
        ]),
        [3],
      )
        .split('\n')
        .map((l) => '  ' + l)
        .join('\n'),
    );
  }
  if (r.orphans.length > 0) {
    out.push('leftovers (no backup owns them):');
    out.push(
      renderTable(
        ['', 'KEY', 'SIZE', 'WHY'],
        r.orphans.map((o) => [o.remove ? (r.dryRun ? 'would remove' : 'removed') : 'keep', o.key, formatBytes(o.size), o.reason]),
        [2],
      )
        .split('\n')
        .map((l) => '  ' + l)
        .join('\n'),
    );
  }
  const leftovers = r.orphans.filter((o) => o.remove).length;
  if (r.dryRun) {
    out.push(
      `dry run: would remove ${plural(r.remove.length, 'backup')} and ${plural(leftovers, 'leftover')} (${formatBytes(r.bytesFreed)}), keeping ${plural(r.keep.length, 'backup')}; nothing was changed`,
    );
  } else {
    out.push(
      `removed ${plural(r.removed, 'backup')} and ${plural(r.orphansRemoved, 'leftover')} (${formatBytes(r.bytesFreed)}), kept ${plural(r.keep.length, 'backup')}`,
    );
  }
  return out.join('\n');
}
