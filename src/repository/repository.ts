// The repository on top of any Storage: the layout of types.ts, listing from the small sidecar manifests,
// resolving ids, and starting backups under the repository lock.
import os from 'node:os';
import { IntegrityError, NotFoundError, UsageError, UserError, throwIfAborted } from '../errors.js';
import { openStorage, parseLocation, type S3SettingsInput } from '../storage/location.js';
import { redactLocation } from '../storage/redact.js';
import { localTemporaryFiles, removeEmptyLocalDirs, removeLocalTemporary } from './local-leftovers.js';
import { getBufferIfExists, joinLocation, type Storage } from '../storage/storage.js';
import { isBackupId, newBackupId } from './ids.js';
import { DEFAULT_STALE_LOCK_MS, processIsAlive, RepositoryLock, type LockEnvironment } from './lock.js';
import { parseManifest, parseMarker, PLAIN_REPOSITORY_VERSION, REPOSITORY_MARKER_KEY, type RepositoryMarker } from './manifest.js';
import { newMarker, openEncryption, sealMarker, strippedHeaderError, type EncryptionOptions, type Unlocked } from './encryption.js';
import type { EncryptionHeader, KeySlot } from './keyslots.js';
import { looksEncrypted } from '../storage/encrypted.js';
import { StorageBackupReader } from './reader.js';
import type {
  BackupKind,
  BackupManifest,
  BackupReader,
  BackupWriter,
  HistoryRecord,
  ObjectInventory,
  Repository,
  RepositoryMaintenance,
} from './types.js';
import { historyKey, parseHistoryRecord } from './history-record.js';
import { archiveKey, manifestKey, StorageBackupWriter } from './writer.js';
import { makeStagingDir } from './staging.js';

export const BACKUP_LOCK_KEY = 'locks/backup.json';

export interface OpenRepositoryOptions {
  /** Allow a repository that does not exist yet; its marker is written by the first beginBackup. */
  create?: boolean;
  /** S3 settings for s3:// locations (each one given wins over its ZKVAULT_S3_* variable). */
  s3?: S3SettingsInput;
  /** Default signal for reads (list, resolve, readers). beginBackup takes its own. */
  signal?: AbortSignal;
  /** A lock with no sign of life for this long is broken, with a warning (default 6 h). */
  staleLockMs?: number;
  /** Non-fatal problems: manifests skipped by list, stale locks broken, cleanup failures. */
  warn?: (message: string) => void;
  /** Parent directory for staging and extraction temp dirs (default os.tmpdir()). */
  tempDir?: string;
  /** The password of an encrypted repository, and whether a new one is encrypted. */
  encryption?: EncryptionOptions;
  // Injectable for tests.
  now?: () => Date;
  host?: string;
  pid?: number;
  isProcessAlive?: (pid: number) => boolean;
}

/** Opens the repository at a `--repo` location (a path, file:///…, s3://…). */
export async function openRepository(location: string, opts: OpenRepositoryOptions = {}): Promise<StorageRepository> {
  const parsed = parseLocation(location);
  const storage = await openStorage(parsed, { signal: opts.signal, warn: opts.warn, s3: opts.s3 });
  return openRepositoryOnStorage(storage, redactLocation(location), opts);
}

/**
 * Opens the repository held by `storage`. Without `create`, a storage with no repository marker is a
 * NotFoundError (exit 10) whose hint is the backup command that creates one.
 */
export async function openRepositoryOnStorage(
  storage: Storage,
  location: string,
  opts: OpenRepositoryOptions = {},
): Promise<StorageRepository> {
  throwIfAborted(opts.signal);
  const marker = await readMarker(storage, location);
  if (!marker && !opts.create) {
    throw new NotFoundError(`no zkvault repository at ${storage.describe()}`, {
      hint: `run \`zkvault backup --repo ${location} …\` first, or check --repo / ZKVAULT_REPO`,
    });
  }
  const { storage: used, unlocked } = await openEncryption(storage, location, marker, { now: opts.now, ...opts.encryption });
  return new StorageRepository(used, location, marker, opts, unlocked, storage);
}

async function readMarker(storage: Storage, location: string): Promise<RepositoryMarker | null> {
  const bytes = await getBufferIfExists(storage, REPOSITORY_MARKER_KEY);
  if (!bytes) return null;
  const parsed = parseMarker(bytes);
  if (parsed.ok) return parsed.marker;
  const where = joinLocation(storage.describe(), REPOSITORY_MARKER_KEY);
  if (parsed.newer) throw new UserError(`repository ${location}: ${parsed.reason}`, { hint: 'upgrade zkvault to read it' });
  throw new IntegrityError('malformed', where, undefined, `${parsed.reason}; this does not look like a zkvault repository`);
}

/** Bounded-concurrency map, in input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}

export interface RepositoryInventory {
  manifests: BackupManifest[];
  broken: Array<{ id: string; key: string; problem: string; newer: boolean }>;
  orphanArchives: string[];
}

export class StorageRepository implements Repository, RepositoryMaintenance {
  readonly location: string;
  private marker: RepositoryMarker | null;
  private readonly warn: (message: string) => void;
  private readonly now: () => Date;

  constructor(
    readonly storage: Storage,
    location: string,
    marker: RepositoryMarker | null,
    private readonly opts: OpenRepositoryOptions,
    private unlocked: Unlocked | null = null,
    /** The storage itself, under any encryption: for a local directory's own temp files and folders. */
    private readonly raw: Storage = storage,
  ) {
    this.location = location;
    this.marker = marker;
    this.warn = opts.warn ?? (() => {});
    this.now = opts.now ?? (() => new Date());
  }

  newBackupId(now?: Date): string {
    return newBackupId(now ?? this.now());
  }

  async beginBackup(kind: BackupKind, signal?: AbortSignal): Promise<BackupWriter> {
    throwIfAborted(signal);
    const createdNow = await this.ensureMarker();
    const id = await this.unusedId();
    const lock = await RepositoryLock.acquire(this.lockEnvironment(), BACKUP_LOCK_KEY, id);
    let stagingDir: string;
    try {
      throwIfAborted(signal);
      stagingDir = await makeStagingDir(this.opts.tempDir ?? os.tmpdir(), id, {
        host: this.opts.host ?? os.hostname(),
        pid: this.opts.pid ?? process.pid,
        isAlive: this.opts.isProcessAlive ?? processIsAlive,
        warn: this.warn,
      });
    } catch (err) {
      await lock.release();
      throw err;
    }
    // A first backup that fails leaves no repository behind: only what this run wrote was there.
    const afterAbort = createdNow ? () => this.removeIfEmpty() : undefined;
    return new StorageBackupWriter({
      storage: this.storage,
      id,
      kind,
      stagingDir,
      lock,
      signal,
      now: this.now,
      warn: this.warn,
      afterAbort,
    });
  }

  /** Removes the marker (and, for a local directory, the directory) of a repository that holds no backup. */
  private async removeIfEmpty(): Promise<void> {
    for await (const o of this.storage.list('')) {
      if (o.key !== REPOSITORY_MARKER_KEY) return;
    }
    await this.storage.remove(REPOSITORY_MARKER_KEY);
    this.marker = null;
    await removeEmptyLocalDirs(this.raw);
  }

  private lockEnvironment(): LockEnvironment {
    return {
      storage: this.storage,
      location: this.location,
      staleMs: this.opts.staleLockMs ?? DEFAULT_STALE_LOCK_MS,
      now: this.now,
      host: this.opts.host ?? os.hostname(),
      pid: this.opts.pid ?? process.pid,
      isProcessAlive: this.opts.isProcessAlive ?? processIsAlive,
      warn: this.warn,
    };
  }

  /** Writes the marker if the repository does not exist yet (`zkvault init`); true when this call made it. */
  initialize(): Promise<boolean> {
    return this.ensureMarker();
  }

  /** The repository's format version and whether it is encrypted (what every read of it checks). */
  format(): { version: number; encrypted: boolean } {
    return { version: this.marker?.version ?? PLAIN_REPOSITORY_VERSION, encrypted: this.unlocked !== null };
  }

  /** An encrypted repository's key slots and the id of the one this run's password opened; null when plain. */
  keys(): { slots: KeySlot[]; opened: string } | null {
    return this.unlocked ? { slots: this.unlocked.header.keys, opened: this.unlocked.slot.id } : null;
  }

  /**
   * Replaces the key slots (a password added, removed or changed) in one atomic write of the marker,
   * under the backup lock; no archive is rewritten.
   */
  async replaceKeySlots(change: (unlocked: Unlocked) => Promise<EncryptionHeader>): Promise<void> {
    const u = this.unlocked;
    if (!u || !this.marker) throw new UsageError(`repository ${this.location} is not encrypted: it has no keys`);
    const lock = await this.lockForMaintenance(`keys-${this.newBackupId()}`);
    try {
      const current = await readMarker(this.storage, this.location);
      if (!current || current.mac !== this.marker.mac) {
        throw new UserError(`the marker of repository ${this.location} changed while this run read it`, { hint: 'run the command again' });
      }
      const header = await change(u);
      const marker = sealMarker({ ...current, encryption: header }, u.key);
      await this.storage.put(REPOSITORY_MARKER_KEY, Buffer.from(JSON.stringify(marker, null, 2) + '\n'));
      this.marker = marker;
      this.unlocked = { ...u, header };
    } finally {
      await lock.release();
    }
  }

  // ---- maintenance (prune): see RepositoryMaintenance in types.ts ----

  /**
   * Takes the backup lock for a run that is not a backup (`holder` names it, e.g. `prune-…`), so that
   * no backup commits while prune decides what is a leftover and which chain parents are needed.
   */
  async lockForMaintenance(holder: string): Promise<{ release(): Promise<void> }> {
    return RepositoryLock.acquire(this.lockEnvironment(), BACKUP_LOCK_KEY, holder);
  }

  async objectInventory(): Promise<ObjectInventory> {
    const sidecarIds = new Set<string>();
    const unknown: string[] = [];
    for await (const o of this.storage.list('manifests/')) {
      const m = /^manifests\/(.+)\.json$/.exec(o.key);
      if (m && isBackupId(m[1])) sidecarIds.add(m[1]);
      else unknown.push(o.key);
    }
    const archives: ObjectInventory['archives'] = [];
    for await (const o of this.storage.list('archives/')) {
      const m = /^archives\/(.+)\.tar$/.exec(o.key);
      if (m && isBackupId(m[1])) archives.push({ id: m[1], key: o.key, size: o.size, modified: o.modified });
      else unknown.push(o.key);
    }
    return { sidecarIds, archives, temporary: await localTemporaryFiles(this.raw), unknown };
  }

  async removeBackup(id: string): Promise<void> {
    if (!isBackupId(id)) throw new UsageError(`"${id}" is not a backup id`);
    await this.storage.remove(manifestKey(id));
    await this.storage.remove(archiveKey(id));
  }

  async removeLeftover(leftover: { key: string; kind: 'archive' | 'temporary' }): Promise<boolean> {
    if (leftover.kind === 'archive') {
      const m = /^archives\/(.+)\.tar$/.exec(leftover.key);
      if (!m || !isBackupId(m[1])) throw new UsageError(`${leftover.key} is not an archive key`);
      if (await this.storage.stat(manifestKey(m[1]))) return false; // committed after all
      await this.storage.remove(leftover.key);
      return true;
    }
    await removeLocalTemporary(this.raw, leftover.key);
    return true;
  }

  /**
   * Writes the repository marker if there is none, refusing a location that holds something else.
   * True when this call wrote it (the repository is new).
   */
  private async ensureMarker(): Promise<boolean> {
    if (this.marker) return false;
    const existing = await readMarker(this.storage, this.location);
    if (existing) {
      this.marker = existing;
      return false;
    }
    if (!this.opts.create) {
      throw new NotFoundError(`no zkvault repository at ${this.storage.describe()}`);
    }
    for await (const o of this.storage.list('')) {
      throw new UsageError(`${this.storage.describe()} is not empty and is not a zkvault repository (it holds ${o.key}, among others)`, {
        hint: 'give --repo an empty or new directory/prefix, or the location of an existing zkvault repository',
      });
    }
    const marker = newMarker(this.now().toISOString(), this.unlocked, PLAIN_REPOSITORY_VERSION);
    const wrote = await this.storage.putIfAbsent(REPOSITORY_MARKER_KEY, Buffer.from(JSON.stringify(marker, null, 2) + '\n'));
    this.marker = await readMarker(this.storage, this.location);
    if (!wrote && (this.marker?.encryption?.keys[0]?.wrapped ?? null) !== (this.unlocked?.header.keys[0]?.wrapped ?? null)) {
      throw new UserError(`repository ${this.location} was created by another run at the same moment, differently`, {
        hint: 'run the command again',
      });
    }
    return wrote;
  }

  private async unusedId(): Promise<string> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const id = this.newBackupId();
      const [m, a] = await Promise.all([this.storage.stat(manifestKey(id)), this.storage.stat(archiveKey(id))]);
      if (!m && !a) return id;
    }
    throw new UserError(`repository ${this.location}: could not find an unused backup id`);
  }

  /** Ids of every manifests/<id>.json, oldest first (ids sort by time). */
  private async manifestIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const o of this.storage.list('manifests/')) {
      const m = /^manifests\/(.+)\.json$/.exec(o.key);
      if (m && isBackupId(m[1])) ids.push(m[1]);
      else this.warn(`ignoring ${o.key} in ${this.location}: not a backup manifest name`);
    }
    return ids.sort();
  }

  /** Reads one sidecar: the manifest, or why it cannot be used (missing = null). */
  private async readManifest(id: string): Promise<{ manifest: BackupManifest } | { problem: string; newer: boolean } | null> {
    const bytes = await getBufferIfExists(this.storage, manifestKey(id));
    if (!bytes) return null;
    if (!this.unlocked && looksEncrypted(bytes)) throw strippedHeaderError(this.storage, manifestKey(id));
    const parsed = parseManifest(bytes, id);
    return parsed.ok ? { manifest: parsed.manifest } : { problem: parsed.reason, newer: parsed.newer };
  }

  async list(): Promise<BackupManifest[]> {
    throwIfAborted(this.opts.signal);
    const ids = await this.manifestIds();
    const read = await mapLimit(ids, 8, async (id) => {
      throwIfAborted(this.opts.signal);
      return [id, await this.readManifest(id)] as const;
    });
    const out: BackupManifest[] = [];
    for (const [id, r] of read) {
      if (r === null) continue; // removed while listing
      if ('manifest' in r) out.push(r.manifest);
      else
        this.warn(
          `skipping backup ${id}: ${manifestKey(id)} ${r.newer ? 'was written by a newer zkvault' : 'is unreadable'}: ${r.problem}`,
        );
    }
    return out;
  }

  /**
   * Everything verify must account for: readable manifests, sidecars that cannot be read (damaged or
   * written by a newer zkvault), and archives that have no sidecar (a deleted manifest, or the
   * leftovers of an interrupted run).
   */
  async inventory(): Promise<RepositoryInventory> {
    const ids = await this.manifestIds();
    const manifests: BackupManifest[] = [];
    const broken: RepositoryInventory['broken'] = [];
    for (const id of ids) {
      throwIfAborted(this.opts.signal);
      const r = await this.readManifest(id);
      if (r === null) continue;
      if ('manifest' in r) manifests.push(r.manifest);
      else broken.push({ id, key: manifestKey(id), problem: r.problem, newer: r.newer });
    }
    const known = new Set(ids);
    const orphanArchives: string[] = [];
    for await (const o of this.storage.list('archives/')) {
      const m = /^archives\/(.+)\.tar$/.exec(o.key);
      if (m && !known.has(m[1])) orphanArchives.push(o.key);
    }
    return { manifests, broken, orphanArchives };
  }

  async resolve(ref: string): Promise<BackupManifest> {
    throwIfAborted(this.opts.signal);
    const listHint = `run \`zkvault list --repo ${this.location}\` to see the backups`;
    if (ref === 'latest') {
      const ids = await this.manifestIds();
      for (const id of ids.reverse()) {
        const r = await this.readManifest(id);
        if (r && 'manifest' in r) return r.manifest;
        if (r) this.warn(`skipping backup ${id} for latest: ${r.problem}`);
      }
      throw new NotFoundError(`repository ${this.location} has no backups`, {
        hint: `run \`zkvault backup --repo ${this.location} …\` first`,
      });
    }
    if (!/^[0-9A-Za-z-]+$/.test(ref)) {
      throw new UsageError(`"${ref}" is not a backup id`, { hint: `give an id, a unique prefix of one, or latest; ${listHint}` });
    }
    let id: string;
    if (isBackupId(ref)) id = ref;
    else {
      const matches = (await this.manifestIds()).filter((x) => x.startsWith(ref));
      if (matches.length === 0) throw new NotFoundError(`no backup matches "${ref}" in ${this.location}`, { hint: listHint });
      if (matches.length > 1) {
        const shown = matches.slice(0, 5).join(', ') + (matches.length > 5 ? `, … (${matches.length} in all)` : '');
        throw new UsageError(`"${ref}" matches ${matches.length} backups: ${shown}`, { hint: 'give more characters of the id' });
      }
      id = matches[0]!;
    }
    const r = await this.readManifest(id);
    if (r === null) throw new NotFoundError(`no backup ${id} in ${this.location}`, { hint: listHint });
    if ('problem' in r) {
      if (r.newer) throw new UserError(`backup ${id}: ${r.problem}`, { hint: 'upgrade zkvault to read it' });
      throw new IntegrityError('malformed', joinLocation(this.storage.describe(), manifestKey(id)), undefined, r.problem);
    }
    return r.manifest;
  }

  async archiveProblem(m: BackupManifest): Promise<string | null> {
    const key = m.archive?.key ?? archiveKey(m.id);
    const st = await this.storage.stat(key);
    if (!st) return `its archive ${key} is missing`;
    if (m.archive && st.size !== m.archive.size) return `its archive ${key} is ${st.size} bytes, the manifest says ${m.archive.size}`;
    return null;
  }

  async historyRecords(): Promise<{ records: HistoryRecord[]; unreadable: Array<{ key: string; problem: string }> }> {
    const keys: string[] = [];
    for await (const o of this.storage.list('history/')) keys.push(o.key);
    keys.sort();
    const records: HistoryRecord[] = [];
    const unreadable: Array<{ key: string; problem: string }> = [];
    const read = await mapLimit(keys, 8, async (key) => [key, await getBufferIfExists(this.storage, key)] as const);
    for (const [key, bytes] of read) {
      if (!bytes) continue;
      const parsed = parseHistoryRecord(bytes, key);
      if (typeof parsed === 'string') unreadable.push({ key, problem: parsed });
      else records.push(parsed);
    }
    return { records, unreadable };
  }

  async recordHistory(input: Omit<HistoryRecord, 'format' | 'version' | 'recordedAt'>): Promise<void> {
    if (!isBackupId(input.recordedBy)) throw new UsageError(`"${input.recordedBy}" is not a backup id`);
    await this.ensureMarker();
    const record: HistoryRecord = {
      format: 'zkvault-history',
      version: 1,
      recordedBy: input.recordedBy,
      recordedAt: this.now().toISOString(),
      source: input.source,
      facts: input.facts,
    };
    await this.storage.putIfAbsent(historyKey(input.recordedBy), Buffer.from(JSON.stringify(record, null, 2) + '\n'));
  }

  /** Opens a backup for reading. `ref` may be an id, a unique prefix or `latest`. */
  async open(ref: string, options: { tempDir?: string; signal?: AbortSignal } = {}): Promise<BackupReader> {
    const manifest = await this.resolve(ref);
    return new StorageBackupReader({
      storage: this.storage,
      manifest,
      tempDir: options.tempDir ?? this.opts.tempDir ?? os.tmpdir(),
      signal: options.signal ?? this.opts.signal,
      authenticateWhole: this.unlocked !== null,
    });
  }
}
