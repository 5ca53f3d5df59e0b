// `inspect`: one backup's manifest, found by id, unique prefix or `latest`.
import { openRepository } from '../repository/repository.js';
import type { BackupManifest } from '../repository/types.js';

export interface InspectOptions {
  repo: string;
  /** A backup id, a unique prefix of one, or `latest`. */
  ref: string;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export interface InspectResult {
  location: string;
  /** The sidecar manifest: the archive's manifest.json plus the archive's key, size and sha256. */
  manifest: BackupManifest;
}

export async function inspectBackup(options: InspectOptions): Promise<InspectResult> {
  const repo = await openRepository(options.repo, { signal: options.signal, warn: options.warn });
  return { location: repo.location, manifest: await repo.resolve(options.ref) };
}
