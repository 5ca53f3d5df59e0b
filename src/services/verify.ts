// verify: every member's sha256 and size against the manifests, always; with --deep, every snapshot
// parsed with its seals and loaded (counts and digest against the manifest), every physical chain
// complete and replayed to its end with every recorded digest compared.
import { readFileSync } from 'node:fs';
import { IntegrityError, ZkvaultError, throwIfAborted } from '../errors.js';
import { loadSnapshotTree } from '../core/snapshot-tree.js';
import { nodeTypeOf } from '../core/node-record.js';
import { formatZxid, parseZxid } from '../core/zxid.js';
import { describeBoundary } from '../core/committed.js';
import type { BackupManifest, Repository } from '../repository/types.js';
import { brokenChain, effectiveRange, loadCommitView, type CommitView } from '../repository/physical-manifest.js';
import { physicalTree } from '../sources/physical.js';

export interface VerifyOptions {
  repo: Repository;
  /** Backup ids (or latest / prefixes); empty = every backup. */
  refs: string[];
  deep?: boolean;
  signal?: AbortSignal;
  /** Called before each backup is checked, and once at the end: backups done, and how many in all. */
  onProgress?: (done: number, total: number) => void;
}

export interface VerifyResult {
  ok: boolean;
  /**
   * `warnings`: what is intact but not restorable as recorded, e.g. txns a physical backup holds past
   * what the ensemble is known to have committed (never restored; the backup serves up to before them).
   */
  backups: Array<{ id: string; ok: boolean; problems: string[]; warnings?: string[] }>;
}

export async function verifyBackups(options: VerifyOptions): Promise<VerifyResult> {
  const repo = options.repo;
  const backups: VerifyResult['backups'] = [];
  let manifests: BackupManifest[];
  if (options.refs.length === 0) {
    const inv = await repo.inventory();
    manifests = inv.manifests;
    for (const b of inv.broken) {
      backups.push({ id: b.id, ok: false, problems: [`${b.key}: ${b.newer ? 'written by a newer zkvault' : 'unreadable'}: ${b.problem}`] });
    }
    for (const key of inv.orphanArchives) {
      const id = key.replace(/^archives\//, '').replace(/\.tar$/, '');
      backups.push({
        id,
        ok: false,
        problems: [`${key} has no manifest (manifests/${id}.json is missing): the backup cannot be listed or restored`],
      });
    }
  } else {
    manifests = [];
    for (const ref of options.refs) {
      try {
        manifests.push(await repo.resolve(ref));
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        backups.push({ id: ref, ok: false, problems: [err.message] });
      }
    }
  }
  let view: CommitView | undefined;
  if (manifests.some((m) => m.kind === 'physical') || options.refs.length === 0) {
    const { unreadable } = await repo.historyRecords();
    for (const u of unreadable) backups.push({ id: u.key, ok: false, problems: [`${u.key}: unreadable history record: ${u.problem}`] });
    if (unreadable.length === 0) view = await loadCommitView(repo);
  }
  let done = 0;
  for (const m of manifests) {
    throwIfAborted(options.signal);
    options.onProgress?.(done++, manifests.length);
    const warnings: string[] = [];
    const problems = await verifyOne(repo, m, Boolean(options.deep), view);
    const beyond = m.kind === 'physical' && view ? effectiveRange(m, view).beyond : null;
    if (beyond)
      warnings.push(
        `holds txns ${formatZxid(beyond.from)}..${formatZxid(beyond.to)}, never restored: ${describeBoundary(beyond.boundary)}`,
      );
    backups.push({ id: m.id, ok: problems.length === 0, problems, ...(warnings.length ? { warnings } : {}) });
  }
  options.onProgress?.(done, manifests.length);
  backups.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ok: backups.every((b) => b.ok), backups };
}

/** Problems with one backup, each naming the member and, where known, the byte offset. */
export async function verifyOne(repo: Repository, m: BackupManifest, deep: boolean, view?: CommitView): Promise<string[]> {
  const problems: string[] = [];
  const reader = await repo.open(m.id);
  try {
    for (const p of await reader.verifyChecksums()) {
      problems.push(`${p.member ? `member ${p.member}: ` : ''}${p.message}${p.offset !== undefined ? ` (at byte ${p.offset})` : ''}`);
    }
    if (problems.length > 0) return problems; // parsing a member whose bytes are wrong says nothing more
    // Every backup an incremental builds on is still there, archive and all (deep or not: plain and
    // deep verification never disagree on a chain).
    if (m.kind === 'physical') {
      const broken = await brokenChain(repo, m);
      if (broken) return [...problems, broken]; // replaying what cannot be restored says nothing more
    }
    // Without --deep, checksums and manifests are all that is checked (fast, and enough to find any
    // damage after the backup was written); --deep parses and replays what they vouch for.
    if (!deep) return problems;
    if (m.kind === 'physical') {
      problems.push(...(await verifyPhysicalDeep(repo, m, view)));
      return problems;
    }
    for (const member of m.members.filter((x) => x.role === 'snapshot')) {
      try {
        const file = await reader.extractMember(member.name);
        const buf = readFileSync(file);
        const zxid = parseZxid(member.zxid ?? m.zxid.to);
        const { tree } = loadSnapshotTree(buf, member.name, zxid);
        const recorded = m.extra?.digest;
        if (typeof recorded === 'string' && formatZxid(tree.digest()) !== recorded) {
          problems.push(`member ${member.name}: tree digest ${formatZxid(tree.digest())} differs from the manifest's ${recorded}`);
        }
        const counts = { persistent: 0, ephemeral: 0, container: 0, ttl: 0 };
        const records = tree.records(m.source.path ?? '/');
        for (const r of records) counts[nodeTypeOf(r.stat.ephemeralOwner)]++;
        if (records.length !== m.counts.nodes) {
          problems.push(
            `member ${member.name}: holds ${records.length} nodes under ${m.source.path ?? '/'}, the manifest says ${m.counts.nodes}`,
          );
        }
        for (const t of ['persistent', 'ephemeral', 'container', 'ttl'] as const) {
          if (counts[t] !== m.counts[t]) problems.push(`member ${member.name}: ${counts[t]} ${t} nodes, the manifest says ${m.counts[t]}`);
        }
      } catch (err) {
        if (err instanceof IntegrityError) problems.push(`member ${member.name}: ${err.message}`);
        else if (err instanceof ZkvaultError) problems.push(`member ${member.name}: ${err.message}`);
        else throw err;
      }
    }
  } finally {
    await reader.close();
  }
  return problems;
}

/** A physical backup's chain is complete, every file parses, and replay to its end matches every digest. */
async function verifyPhysicalDeep(repo: Repository, m: BackupManifest, view: CommitView | undefined): Promise<string[]> {
  try {
    const v = view ?? (await loadCommitView(repo));
    const r = await physicalTree(repo, m, {}, { verifyDigests: true, view: v });
    const { to } = effectiveRange(m, v);
    if (r.zxid !== to) return [`replay ends at ${formatZxid(r.zxid)}, the manifest says ${formatZxid(to)}`];
    return [];
  } catch (err) {
    if (err instanceof ZkvaultError) return [err.message];
    throw err;
  }
}
