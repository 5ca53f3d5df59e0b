// Human renderings of a restore's result, live or offline.
import type { RestoreResult } from '../services/restore.js';

export function renderRestore(r: RestoreResult): string {
  const lines: string[] = [];
  const head = r.dryRun ? `dry run: restore of ${r.backup.id} (${r.backup.zxid}) would` : `restored ${r.backup.id} (${r.backup.zxid}):`;
  lines.push(
    `${head} ${r.dryRun ? 'create' : 'created'} ${r.created}, ${r.dryRun ? 'update' : 'updated'} ${r.updated}, ${r.dryRun ? 'delete' : 'deleted'} ${r.deleted}, skip ${r.skipped} node(s)`,
  );
  lines.push(`  ${r.sourceRoot} → ${r.targetRoot} (mode ${r.mode})`);
  if (r.plan) {
    const more = (sign: string, shown: number, count: number) => {
      if (count > shown) lines.push(`  ${sign} … ${count - shown} more`);
    };
    for (const p of r.plan.creates.slice(0, 50)) lines.push(`  + ${p}`);
    more('+', Math.min(50, r.plan.creates.length), r.plan.counts.creates);
    for (const u of r.plan.updates.slice(0, 50)) lines.push(`  ~ ${u.path} (${u.fields.join(', ')})`);
    more('~', Math.min(50, r.plan.updates.length), r.plan.counts.updates);
    for (const d of r.plan.deletes.slice(0, 50)) lines.push(`  - ${d}`);
    more('-', Math.min(50, r.plan.deletes.length), r.plan.counts.deletes);
    if (r.plan.counts.cversions) lines.push(`  sequential counters checked on ${r.plan.counts.cversions} parent(s)`);
  }
  for (const s of r.skippedNodes.filter((s) => s.reason !== 'identical').slice(0, 20)) lines.push(`  skipped ${s.path}: ${s.reason}`);
  if (!r.dryRun) {
    if (r.cversionsRaised) lines.push(`  raised the sequential counter of ${r.cversionsRaised} parent(s) to the backup's`);
    if (r.verify) {
      const v = r.verify;
      lines.push(
        v.differing === 0
          ? `  verified: ${v.checked} node(s) read back equal the backup${v.unreadable ? ` (${v.unreadable} unreadable with these credentials)` : ''}`
          : `  verification found ${v.differing} difference(s): ${v.mismatches
              .slice(0, 5)
              .map((m) => `${m.path} (${m.fields.join(', ')})`)
              .join('; ')}`,
      );
    }
    lines.push(`  target zxid now ${r.zxid}`);
  }
  for (const a of r.aclsNotRestored.slice(0, 20)) lines.push(`  ACL NOT RESTORED ${a.path}: ${a.reason}`);
  if (r.aclsNotRestored.length > 20) lines.push(`  … ${r.aclsNotRestored.length - 20} more ACL(s) not restored`);
  for (const f of r.failed.slice(0, 20)) lines.push(`  FAILED ${f.path}: ${f.error}`);
  return lines.join('\n');
}

/** The contract's fields (created, updated, deleted, skipped, zxid) come first; the rest is detail. */
export function restoreJson(r: RestoreResult): Record<string, unknown> {
  const { created, updated, deleted, skipped, zxid, partial: _partial, written: _written, backup, ...detail } = r;
  return { created, updated, deleted, skipped, zxid, backup: { id: backup.id, zxid: backup.zxid }, ...detail };
}

/** An offline restore: the contract's fields, then what was written and from which chain. */
export function offlineRestoreJson(r: RestoreResult, dataDir: string): Record<string, unknown> {
  return {
    created: r.created,
    updated: r.updated,
    deleted: r.deleted,
    skipped: r.skipped,
    zxid: r.zxid,
    snapshotZxid: r.written?.snapshotZxid ?? r.zxid,
    backup: { id: r.backup.id, chain: r.backup.chain },
    notice: r.notice ?? null,
    dataDir,
    snapshot: r.written?.snapshot ?? null,
    sessions: r.written?.sessions ?? 0,
    dryRun: r.dryRun,
  };
}

export function renderOfflineRestore(r: RestoreResult, dataDir: string): string {
  if (r.dryRun)
    return [
      `dry run: restoring ${r.backup.id} at ${r.zxid} into ${dataDir} would write ${r.created} nodes; nothing was written`,
      r.backup.chain.length > 1 ? `  chain: ${r.backup.chain.join(' → ')}` : '',
    ]
      .filter(Boolean)
      .join('\n');
  return [
    `restored ${r.backup.id} at ${r.zxid} into ${dataDir}`,
    `  ${r.created} nodes, ${r.written?.sessions ?? 0} open session(s), snapshot ${r.written?.snapshot ?? '?'}`,
    r.backup.chain.length > 1 ? `  chain: ${r.backup.chain.join(' → ')}` : '',
    `  start every member of the ensemble from a copy of this dataDir (docs/restore.md)`,
  ]
    .filter(Boolean)
    .join('\n');
}
