// `list`: the complete backups in a repository, oldest first, as read from their sidecar manifests.
import { describeBoundary } from '../core/committed.js';
import { formatZxid } from '../core/zxid.js';
import { IntegrityError } from '../errors.js';
import type { BackupKind, BackupManifest, Repository } from '../repository/types.js';
import { effectiveRange, loadCommitView, type CommitView } from '../repository/physical-manifest.js';

export interface ListOptions {
  /** The --repo location. */
  repo: Repository;
  signal?: AbortSignal;
  /** Manifests skipped as unreadable or too new, and similar non-fatal findings. */
  warn?: (message: string) => void;
}

/** One backup as `list --json` prints it; the fields of `backup --json` plus `createdAt`. */
export interface ListedBackup {
  id: string;
  kind: BackupKind;
  /** ISO 8601. */
  createdAt: string;
  completedAt: string;
  /** counts.nodes of the manifest. */
  nodes: number;
  /** Size of the backup's archive in the repository. */
  bytes: number;
  /** The zxid range the backup can restore to, `0x…` hex (what it holds past a known cut left out). */
  zxid: { from: string; to: string };
  /**
   * Physical backups holding txns past what the ensemble is known to have committed: those txns
   * (`dropped`: the ensemble went on without them; else unconfirmed), and why. They are never restored.
   */
  beyondCut: { from: string; to: string; dropped: boolean; why: string } | null;
  /** Some nodes could not be read: listed, but not a full copy. */
  partial: boolean;
  /** Logical backups: whether the tree stood still during the walk; null when the backup does not say. */
  consistent: boolean | null;
  /** Nodes by type and total data bytes, as recorded. */
  counts: BackupManifest['counts'];
  /** Number of members in the archive. */
  members: number;
  source: BackupManifest['source'];
  /** Physical backups: the full backup the chain starts from and the one this continues (null for a full). */
  chain: { base: string; parent: string | null; depth: number } | null;
}

export interface ListResult {
  /** The repository location, redacted. */
  location: string;
  backups: ListedBackup[];
}

export function toListedBackup(m: BackupManifest, view?: Pick<CommitView, 'boundaries'>): ListedBackup {
  const r = view ? effectiveRange(m, view) : null;
  const beyond = r?.beyond ?? null;
  return {
    id: m.id,
    kind: m.kind,
    createdAt: m.createdAt,
    completedAt: m.completedAt,
    nodes: m.counts.nodes,
    bytes: m.archive?.size ?? 0,
    zxid: r ? { from: formatZxid(r.from), to: r.empty ? formatZxid(r.from) : formatZxid(r.to) } : { from: m.zxid.from, to: m.zxid.to },
    beyondCut: beyond
      ? { from: formatZxid(beyond.from), to: formatZxid(beyond.to), dropped: beyond.boundary.exact, why: describeBoundary(beyond.boundary) }
      : null,
    partial: m.partial,
    consistent: m.consistent ?? null,
    counts: m.counts,
    members: m.members.length,
    source: m.source,
    chain: chainLinks(m),
  };
}

/** A physical manifest's chain links, read defensively (list shows what it can of any manifest). */
function chainLinks(m: BackupManifest): ListedBackup['chain'] {
  const c = m.kind === 'physical' ? (m.extra?.chain as { base?: unknown; parent?: unknown; depth?: unknown } | undefined) : undefined;
  if (!c || typeof c !== 'object' || typeof c.base !== 'string') return null;
  return { base: c.base, parent: typeof c.parent === 'string' ? c.parent : null, depth: typeof c.depth === 'number' ? c.depth : 0 };
}

export async function listBackups(options: ListOptions): Promise<ListResult> {
  const repo = options.repo;
  const manifests = await repo.list();
  let view: CommitView | undefined;
  try {
    view = await loadCommitView(repo, manifests);
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    options.warn?.(`${err.message}: ranges are shown as recorded, without what the repository knows of cuts`);
  }
  return { location: repo.location, backups: manifests.map((m) => toListedBackup(m, view)) };
}
