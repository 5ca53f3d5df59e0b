// The human rendering of one backup's manifest (`inspect`).
import type { BackupManifest } from '../repository/types.js';
import type { InspectResult } from '../services/inspect.js';
import { formatBytes } from './format.js';
import { formatTime, formatZxidRange, renderTable } from './list.js';

function fields(pairs: Array<[string, string | undefined]>): string[] {
  const shown = pairs.filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

function consistency(m: BackupManifest, r: InspectResult['restorable']): string {
  if (m.consistent === true) return 'consistent: the tree did not change during the walk';
  if (m.consistent === false) {
    const n = m.changedDuringWalk;
    return `fuzzy: the tree changed during the walk${n !== undefined ? ` (${n} node${n === 1 ? '' : 's'} changed)` : ''}`;
  }
  if (m.kind !== 'physical') return 'not recorded';
  const gaps = Array.isArray(m.extra?.gaps) ? (m.extra.gaps as string[]) : [];
  return (
    'exact at every zxid in the range (snapshot plus transaction logs)' +
    (r.beyondCut ? `; txns ${r.beyondCut.from}..${r.beyondCut.to} it holds are never restored` : '') +
    (gaps.length ? `; stops before a hole in the server's logs` : '')
  );
}

export function renderManifest(m: BackupManifest, r: InspectResult['restorable']): string {
  const out: string[] = [];
  const took = Date.parse(m.completedAt) - Date.parse(m.createdAt);
  out.push(`backup ${m.id}`);
  out.push(
    ...fields([
      ['kind', m.kind],
      ['created', `${formatTime(m.createdAt)}${Number.isFinite(took) ? ` (took ${(took / 1000).toFixed(1)} s)` : ''}`],
      ['tool', `${m.tool.name} ${m.tool.version}, manifest format ${m.formatVersion}`],
      [
        'archive',
        m.archive
          ? `${m.archive.key}, ${formatBytes(m.archive.size)}${m.archive.sha256 ? `, sha256 ${m.archive.sha256}` : ', checked member by member'}`
          : 'not recorded',
      ],
      ['status', m.partial ? `PARTIAL: ${m.unreadable.length} path${m.unreadable.length === 1 ? '' : 's'} could not be read` : 'complete'],
    ]),
  );
  out.push('', 'source');
  out.push(
    ...fields([
      ['zk', m.source.zk],
      ['path', m.source.path],
      ['dataDir', m.source.dataDir],
      ['logDir', m.source.logDir],
      ['host', m.source.host],
    ]),
  );
  out.push('', 'restores to');
  out.push(
    ...fields([
      ['zxid', r.from === r.to ? r.to : `${formatZxidRange(r)} (any zxid from ${r.from} to ${r.to})`],
      ['consistency', consistency(m, r)],
      ['cut', r.beyondCut ? `${r.beyondCut.why}` : undefined],
    ]),
  );
  const c = m.counts;
  out.push(
    '',
    m.kind === 'logical'
      ? 'nodes (read through the client API, where container and TTL nodes show as persistent)'
      : `nodes (in the base snapshot at ${m.zxid.from}; the tree at a later zxid may hold more or fewer)`,
  );
  out.push(
    ...fields([
      ['total', `${c.nodes} (${formatBytes(c.dataBytes)} of data)`],
      ['persistent', String(c.persistent)],
      ['ephemeral', String(c.ephemeral)],
      ['container', String(c.container)],
      ['ttl', String(c.ttl)],
    ]),
  );
  out.push('', `members (${m.members.length})`);
  if (m.members.length > 0) {
    const table = renderTable(
      ['NAME', 'ROLE', 'ZXID', 'SIZE', 'SHA256'],
      m.members.map((x) => [x.name, x.role, x.zxid ?? '', formatBytes(x.size), x.sha256]),
      [3],
    );
    out.push(...table.split('\n').map((l) => `  ${l}`));
  }
  if (m.unreadable.length > 0) {
    out.push('', `unreadable paths (${m.unreadable.length})`);
    out.push(...m.unreadable.map((u) => `  ${u.path}: ${u.reason}`));
  }
  if (m.extra && Object.keys(m.extra).length > 0) {
    out.push('', 'extra');
    out.push(...fields(Object.entries(m.extra).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])));
  }
  return out.join('\n');
}
