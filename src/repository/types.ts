// The repository contract: what backups look like from the outside (manifests), and how services
// write and read them. Implementations live beside this file; services see only these types.
//
// Layout (any Storage backend, keys relative to the repository root):
//   zkvault-repository.json        repository marker: { format: "zkvault-repository", version: 1, createdAt }
//   archives/<id>.tar              one archive per backup: its members, then manifest.json last
//   manifests/<id>.json            the sidecar manifest; written LAST: its presence makes the backup exist
//   locks/<name>.json              run locks (host, pid, time)
//   history/<id>.json              what backup <id> learned of the ensemble's committed history (epoch
//                                  ends and cuts): append-only, applied by readers to every backup,
//                                  never removed by prune
// An interrupted run leaves no manifests/<id>.json, so it is never listed; prune removes its leftovers.

import type { HistoryFactsJson } from '../core/committed.js';
import type { NodeCounts } from '../core/node-record.js';

export type BackupKind = 'logical' | 'physical';

export interface ManifestMember {
  /** File name inside the archive (e.g. `snapshot.100000040`). */
  name: string;
  size: number;
  /** Lowercase hex sha256 of the member's bytes. */
  sha256: string;
  /** What the member is, for readers: 'snapshot' | 'log' | other kinds later. */
  role: string;
  /** For snapshots and logs: the zxid in the file name. `0x…` hex. */
  zxid?: string;
  /** Free-form, per role (e.g. a log's first/last zxid and times). */
  meta?: Record<string, unknown>;
  /**
   * Set at commit: byte offset of the member's first data byte in the archive, so a reader can fetch
   * just that member with a ranged get (its sha256 is still checked).
   */
  offset?: number;
}

export type { NodeCounts } from '../core/node-record.js';

/** What every backup records. Stored twice: inside the archive and as the sidecar (with `archive`). */
export interface BackupManifest {
  format: 'zkvault-backup';
  /**
   * Manifest format version; readers refuse a higher one. 1: the sidecar records the whole archive's
   * sha256. 2: it does not; every member is hashed once as it is packed, each member's offset is
   * recorded, and the archive is checked member by member (docs/verify.md).
   */
  formatVersion: 1 | 2;
  tool: { name: 'zkvault'; version: string };
  id: string;
  kind: BackupKind;
  /** ISO 8601, when the run started and when it committed. */
  createdAt: string;
  completedAt: string;
  /** Redacted description of where the data came from (never credentials). */
  source: { zk?: string; path?: string; dataDir?: string; logDir?: string; host?: string };
  /** The zxid range this backup can restore to (a logical backup: the window its walk saw). `0x…` hex. */
  zxid: { from: string; to: string };
  /** Logical: true when the tree did not change during the walk (one zxid), false when fuzzy. */
  consistent?: boolean;
  /** Logical: nodes whose czxid/mzxid/pzxid fall inside the walk's window. */
  changedDuringWalk?: number;
  /** True when some nodes could not be read: the backup is listed, but as partial. */
  partial: boolean;
  /** Paths that could not be read, and why (NoAuth, redacted ACL). */
  unreadable: Array<{ path: string; reason: string }>;
  counts: NodeCounts;
  members: ManifestMember[];
  /** Sidecar only: the archive object itself. */
  archive?: { key: string; size: number; /** Format 1 only. */ sha256?: string };
  /** Kind-specific extras (e.g. a physical backup's ensemble identity and chain). */
  extra?: Record<string, unknown>;
}

/**
 * What one backup run learned of which txns its ensemble committed (see core/committed.ts), kept
 * apart from any backup so that it corrects backups taken before it was known and outlives prune.
 */
export interface HistoryRecord {
  format: 'zkvault-history';
  version: 1;
  /** The backup run that learned it (its id; the run may not have committed a backup). */
  recordedBy: string;
  recordedAt: string;
  /** Where the files were read (as a physical manifest's source). */
  source: { dataDir?: string; logDir?: string; host?: string };
  facts: HistoryFactsJson;
}

/** One integrity problem found by verification: names the backup, the member, and where. */
export interface VerifyProblem {
  id: string;
  member?: string;
  offset?: number;
  message: string;
}

export interface BackupWriter {
  readonly id: string;
  /** A private local directory to build members in (removed on commit/abort). */
  readonly stagingDir: string;
  /** Registers a file in stagingDir as a member (hashes it, streaming). */
  addMember(name: string, role: string, extra?: Pick<ManifestMember, 'zxid' | 'meta'>): Promise<ManifestMember>;
  /**
   * Registers the first `length` bytes of a file outside stagingDir as a member, without copying it
   * now: commit reads it straight into the archive, and records the sha256 of exactly the bytes it
   * stored (or fails, IntegrityError, unless they hash to `sha256` when that is given). For files
   * that only grow past `length` (a live log) or never change (a snapshot).
   */
  addMemberFrom(
    name: string,
    role: string,
    source: { path: string; length: number; sha256?: string },
    extra?: Pick<ManifestMember, 'zxid' | 'meta'>,
  ): ManifestMember;
  /**
   * Packs the members and manifest.json into the archive, stores it, then writes the sidecar
   * manifest last (the commit point). Returns the sidecar manifest.
   */
  commit(
    manifest: Omit<BackupManifest, 'members' | 'archive' | 'id' | 'format' | 'formatVersion' | 'tool' | 'completedAt'>,
  ): Promise<BackupManifest>;
  /** Removes everything this run wrote. Safe to call after a failed commit; idempotent. */
  abort(): Promise<void>;
}

export interface BackupReader {
  readonly manifest: BackupManifest;
  /**
   * Extracts one member to a local file (in a private temp dir) and returns its path. The member's
   * sha256 is checked against the manifest while extracting: a mismatch is an IntegrityError naming
   * the backup and member, expected and actual hash.
   */
  extractMember(name: string): Promise<string>;
  /** Checks the archive's and every member's sha256 and size against the manifests. */
  verifyChecksums(): Promise<VerifyProblem[]>;
  /** Removes any temp files this reader made. */
  close(): Promise<void>;
}

export interface Repository {
  /** The location as given, with credentials redacted. */
  readonly location: string;
  /** A new backup id: sorts by creation time (UTC, to the millisecond), plus a random suffix. */
  newBackupId(now?: Date): string;
  /** Starts a backup: takes the repository's backup lock (LockedError, exit 11, when held). */
  beginBackup(kind: BackupKind, signal?: AbortSignal): Promise<BackupWriter>;
  /** Complete backups (sidecar manifest present), oldest first. */
  list(): Promise<BackupManifest[]>;
  /** `latest`, a full id, or a unique prefix of one → its manifest; NotFoundError (exit 10) otherwise. */
  resolve(ref: string): Promise<BackupManifest>;
  /**
   * Opens a backup for reading (`id` may also be `latest` or a unique prefix, as for resolve).
   * `tempDir`: where extracted members go (default: the repository's temp dir, os.tmpdir()).
   */
  /** Readable manifests, unreadable sidecars and archives with no sidecar (what verify --all checks). */
  inventory(): Promise<{
    manifests: BackupManifest[];
    broken: Array<{ id: string; key: string; problem: string; newer: boolean }>;
    orphanArchives: string[];
  }>;
  open(id: string, options?: { tempDir?: string; signal?: AbortSignal }): Promise<BackupReader>;
  /** What is wrong with a backup's archive object without reading it (missing, or not its recorded size), or null. */
  archiveProblem(m: BackupManifest): Promise<string | null>;
  /** Every history record, and the keys of those that cannot be read (with why). */
  historyRecords(): Promise<{ records: HistoryRecord[]; unreadable: Array<{ key: string; problem: string }> }>;
  /** Stores a history record as history/<recordedBy>.json (never replacing one). */
  recordHistory(record: Omit<HistoryRecord, 'format' | 'version' | 'recordedAt'>): Promise<void>;
}

/** An object in the repository's storage, as prune sees it. */
export interface StoredObjectInfo {
  key: string;
  size: number;
  modified: Date;
}

/** What prune needs to find leftovers: who has a sidecar, every archive, unfinished puts. */
export interface ObjectInventory {
  /** Ids with a manifests/<id>.json, readable or not (an unreadable sidecar still owns its archive). */
  sidecarIds: Set<string>;
  /** Every archives/<id>.tar. */
  archives: Array<StoredObjectInfo & { id: string }>;
  /**
   * Temporary files of puts that never finished (a killed process), where the backend keeps them
   * inside the repository (local: dot-named files beside their target). Keys are paths relative to
   * the repository root and are not storage keys.
   */
  temporary: StoredObjectInfo[];
  /** Objects under archives/ or manifests/ that no backup name matches: reported, never removed. */
  unknown: string[];
}

/** Removal and locking for retention (prune); kept apart from what backup and restore use. */
export interface RepositoryMaintenance {
  /** Takes the repository lock that backups take (LockedError, exit 11, when a live run holds it). */
  lockForMaintenance(holder: string): Promise<{ release(): Promise<void> }>;
  objectInventory(): Promise<ObjectInventory>;
  /**
   * Removes a backup: its sidecar first, so that it stops being listed before anything it needs goes,
   * then its archive. Interrupted in between, what is left is an archive without a sidecar — a
   * leftover the next prune removes — never a listed backup without its archive.
   */
  removeBackup(id: string): Promise<void>;
  /**
   * Removes one leftover found by objectInventory: an archive with no sidecar (re-checked first: an
   * archive whose sidecar appeared since is kept, and false returned) or a temporary file.
   */
  removeLeftover(leftover: { key: string; kind: 'archive' | 'temporary' }): Promise<boolean>;
}
