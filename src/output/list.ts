// Human renderings of backup lists: the table `list` prints, and the time and range formats it shares.
import { formatBytes } from './format.js';
import type { ListedBackup } from '../services/list.js';

/** `2024-05-01T12:00:00.123Z` → `2024-05-01 12:00:00Z`. */
export function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatZxidRange(zxid: { from: string; to: string }): string {
  return zxid.from === zxid.to ? zxid.from : `${zxid.from}..${zxid.to}`;
}

export function renderList(backups: ListedBackup[]): string {
  const rows = backups.map((b) => [
    b.id,
    b.kind,
    formatTime(b.createdAt),
    formatZxidRange(b.zxid),
    String(b.nodes),
    formatBytes(b.bytes),
    [
      b.partial ? 'PARTIAL' : '',
      b.chain?.parent ? `incremental of ${b.chain.parent}` : '',
      b.beyondCut
        ? `txns ${formatZxidRange(b.beyondCut)} ${b.beyondCut.dropped ? 'dropped by the ensemble' : 'unconfirmed'}, never restored`
        : '',
    ]
      .filter(Boolean)
      .join(', '),
  ]);
  const total = backups.reduce((n, b) => n + b.bytes, 0);
  return (
    renderTable(['ID', 'KIND', 'CREATED (UTC)', 'ZXID', 'NODES', 'SIZE', ''], rows, [4, 5]) +
    `\n${backups.length} backup${backups.length === 1 ? '' : 's'}, ${formatBytes(total)}`
  );
}

/** Plain-text columns; `right` lists the columns to right-align (numbers). Trailing spaces trimmed. */
export function renderTable(headers: string[], rows: string[][], right: number[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
