// Writing one backup: members are staged in a local directory, then commit streams them into
// archives/<id>.tar and publishes manifests/<id>.json last — the sidecar's presence is the commit point.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ArchivePacker, type PackSource } from '../archive/tar-writer.js';
import { hashFile, MANIFEST_MEMBER, validateMemberName } from '../archive/members.js';
import { InternalError, IntegrityError, UsageError, throwIfAborted } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { VERSION } from '../version.js';
import type { RepositoryLock } from './lock.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, parseManifest, serializeManifest } from './manifest.js';
import type { BackupKind, BackupManifest, BackupWriter, ManifestMember } from './types.js';

export type CommitInput = Parameters<BackupWriter['commit']>[0];

export function archiveKey(id: string): string {
  return `archives/${id}.tar`;
}

export function manifestKey(id: string): string {
  return `manifests/${id}.json`;
}

interface WriterContext {
  storage: Storage;
  id: string;
  kind: BackupKind;
  stagingDir: string;
  lock: RepositoryLock;
  signal: AbortSignal | undefined;
  now: () => Date;
  warn: (message: string) => void;
  /** Called once after an abort has cleaned up (a new repository with nothing in it removes itself). */
  afterAbort?: () => Promise<void>;
}

type WriterState = 'open' | 'committing' | 'committed' | 'aborted';

export class StorageBackupWriter implements BackupWriter {
  readonly id: string;
  readonly stagingDir: string;
  private readonly members = new Map<string, ManifestMember>();
  /** Members read from outside stagingDir (addMemberFrom): their file and byte count. */
  private readonly external = new Map<string, { path: string; length: number }>();
  private state: WriterState = 'open';

  constructor(private readonly ctx: WriterContext) {
    this.id = ctx.id;
    this.stagingDir = ctx.stagingDir;
  }

  async addMember(name: string, role: string, extra: Pick<ManifestMember, 'zxid' | 'meta'> = {}): Promise<ManifestMember> {
    if (this.state !== 'open') throw new InternalError(`backup ${this.id}: addMember after ${this.state}`);
    validateMemberName(name);
    if (name === MANIFEST_MEMBER) throw new UsageError(`"${MANIFEST_MEMBER}" is reserved for the backup's manifest`);
    if (this.members.has(name)) throw new InternalError(`backup ${this.id}: member ${name} was added twice`);
    const file = this.memberPath(name);
    const st = await stat(file);
    if (!st.isFile()) throw new InternalError(`backup ${this.id}: member ${name} (${file}) is not a regular file`);
    const digest = await hashFile(file, this.ctx.signal);
    const member: ManifestMember = { name, size: digest.size, sha256: digest.sha256, role };
    if (extra.zxid !== undefined) member.zxid = extra.zxid;
    if (extra.meta !== undefined) member.meta = extra.meta;
    this.members.set(name, member);
    return { ...member };
  }

  addMemberFrom(
    name: string,
    role: string,
    source: { path: string; length: number; sha256?: string },
    extra: Pick<ManifestMember, 'zxid' | 'meta'> = {},
  ): ManifestMember {
    if (this.state !== 'open') throw new InternalError(`backup ${this.id}: addMemberFrom after ${this.state}`);
    validateMemberName(name);
    if (name === MANIFEST_MEMBER) throw new UsageError(`"${MANIFEST_MEMBER}" is reserved for the backup's manifest`);
    if (this.members.has(name)) throw new InternalError(`backup ${this.id}: member ${name} was added twice`);
    // An unknown hash is filled in at commit from the bytes actually packed.
    const member: ManifestMember = { name, size: source.length, sha256: source.sha256 ?? '', role };
    if (extra.zxid !== undefined) member.zxid = extra.zxid;
    if (extra.meta !== undefined) member.meta = extra.meta;
    this.members.set(name, member);
    this.external.set(name, { path: source.path, length: source.length });
    return { ...member };
  }

  private memberPath(name: string): string {
    return path.join(this.stagingDir, ...name.split('/'));
  }

  async commit(input: CommitInput): Promise<BackupManifest> {
    if (this.state !== 'open') throw new InternalError(`backup ${this.id}: commit after ${this.state}`);
    if (input.kind !== this.ctx.kind)
      throw new InternalError(`backup ${this.id} was begun as ${this.ctx.kind}, committed as ${input.kind}`);
    this.state = 'committing';
    const { storage, signal } = this.ctx;
    let sidecar: BackupManifest;
    try {
      throwIfAborted(signal);
      const sources: PackSource[] = [...this.members.values()].map((m) => {
        const ext = this.external.get(m.name);
        return {
          name: m.name,
          path: ext ? ext.path : this.memberPath(m.name),
          expected: { size: m.size, ...(m.sha256 ? { sha256: m.sha256 } : {}) },
          ...(ext ? { length: ext.length } : {}),
        };
      });
      let inner: BackupManifest | undefined;
      const packer = new ArchivePacker(
        sources,
        (entries) => {
          const packed = new Map(entries.map((e) => [e.name, e]));
          inner = this.buildManifest(
            input,
            [...this.members.values()].map((m) => ({
              ...m,
              sha256: m.sha256 || packed.get(m.name)!.sha256,
              offset: packed.get(m.name)?.offset,
            })),
          );
          return serializeManifest(inner);
        },
        { signal, mtime: this.ctx.now() },
      );
      const key = archiveKey(this.id);
      const { size } = await storage.put(key, packer.stream(), { signal });
      const summary = packer.summary;
      if (!inner) throw new InternalError(`backup ${this.id}: the archive was stored without its manifest`);
      if (size !== summary.size) {
        throw new IntegrityError('truncated', key, size, `stored ${size} bytes of an archive of ${summary.size}`);
      }
      throwIfAborted(signal);
      sidecar = { ...inner, archive: { key, size: summary.size } };
      // Whatever is published must be readable by list: check it with the reader's own rules.
      const check = parseManifest(serializeManifest(sidecar), this.id);
      if (!check.ok) throw new InternalError(`backup ${this.id}: refusing to publish a manifest that readers would skip: ${check.reason}`);
      await storage.put(manifestKey(this.id), serializeManifest(sidecar), { signal });
      this.state = 'committed';
    } catch (err) {
      await this.discard();
      throw err;
    }
    await this.finish();
    return sidecar;
  }

  private buildManifest(input: CommitInput, members: ManifestMember[]): BackupManifest {
    const m: BackupManifest = {
      format: MANIFEST_FORMAT,
      formatVersion: MANIFEST_VERSION,
      tool: { name: 'zkvault', version: VERSION },
      id: this.id,
      kind: input.kind,
      createdAt: input.createdAt,
      completedAt: this.ctx.now().toISOString(),
      source: input.source,
      zxid: input.zxid,
      ...(input.consistent !== undefined ? { consistent: input.consistent } : {}),
      ...(input.changedDuringWalk !== undefined ? { changedDuringWalk: input.changedDuringWalk } : {}),
      partial: input.partial,
      unreadable: input.unreadable,
      counts: input.counts,
      members: members.map((x) => JSON.parse(JSON.stringify(x)) as ManifestMember),
      ...(input.extra !== undefined ? { extra: input.extra } : {}),
    };
    // Normalize through JSON so that the manifest in the archive and the sidecar agree byte for byte.
    return JSON.parse(JSON.stringify(m)) as BackupManifest;
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    await this.discard();
  }

  /** Unpublishes (sidecar first, so nothing is ever listed without its archive), then cleans up. */
  private async discard(): Promise<void> {
    this.state = 'aborted';
    const problems: string[] = [];
    for (const key of [manifestKey(this.id), archiveKey(this.id)]) {
      await this.ctx.storage.remove(key).catch((err: Error) => problems.push(`could not remove ${key}: ${err.message}`));
    }
    await this.finish(problems);
    await this.ctx
      .afterAbort?.()
      .catch((err: Error) => this.ctx.warn(`backup ${this.id}: could not remove the new, empty repository: ${err.message}`));
  }

  private async finish(problems: string[] = []): Promise<void> {
    await rm(this.stagingDir, { recursive: true, force: true }).catch((err: Error) =>
      problems.push(`could not remove ${this.stagingDir}: ${err.message}`),
    );
    await this.ctx.lock.release().catch((err: Error) => problems.push(`could not release the lock: ${err.message}`));
    for (const p of problems) this.ctx.warn(`backup ${this.id}: ${p}`);
  }
}
