// `inspect`: one backup's manifest, found by id, unique prefix or `latest`.
import { describeBoundary } from '../core/committed.js';
import { formatZxid } from '../core/zxid.js';
import type { BackupManifest, Repository } from '../repository/types.js';
import { effectiveRange, loadCommitView } from '../repository/physical-manifest.js';

export interface InspectOptions {
  repo: Repository;
  /** A backup id, a unique prefix of one, or `latest`. */
  ref: string;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export interface InspectResult {
  location: string;
  /** The sidecar manifest: the archive's manifest.json plus the archive's key, size and sha256. */
  manifest: BackupManifest;
  /**
   * What the backup can restore now: its range with any txns past a known cut left out (a physical
   * backup taken before the repository learned that the ensemble dropped them), and why.
   */
  restorable: { from: string; to: string; beyondCut: { from: string; to: string; dropped: boolean; why: string } | null };
}

export async function inspectBackup(options: InspectOptions): Promise<InspectResult> {
  const repo = options.repo;
  const manifest = await repo.resolve(options.ref);
  const r = effectiveRange(manifest, manifest.kind === 'physical' ? await loadCommitView(repo) : { boundaries: new Map() });
  const b = r.beyond;
  return {
    location: repo.location,
    manifest,
    restorable: {
      from: formatZxid(r.from),
      to: formatZxid(r.to),
      beyondCut: b
        ? { from: formatZxid(b.from), to: formatZxid(b.to), dropped: b.boundary.exact, why: describeBoundary(b.boundary) }
        : null,
    },
  };
}
