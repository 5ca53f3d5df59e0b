// Reading one backup: members are streamed out of its archive into a private temp dir with their sha256
// checked on the way, and verifyChecksums reads the whole archive against both manifests.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { MANIFEST_MEMBER, writeStreamToFile, type StreamDigest } from '../archive/members.js';
import { extractArchiveMember, readArchive } from '../archive/tar-reader.js';
import { IntegrityError, NotFoundError, throwIfAborted } from '../errors.js';
import { joinLocation, StorageNotFoundError, type Storage } from '../storage/storage.js';
import { manifestDifferences, parseManifest } from './manifest.js';
import type { BackupManifest, BackupReader, ManifestMember, VerifyProblem } from './types.js';
import { archiveKey } from './writer.js';

export interface ReaderContext {
  storage: Storage;
  manifest: BackupManifest;
  tempDir: string;
  signal: AbortSignal | undefined;
  /**
   * Read the whole archive once before the first member is used (an encrypted repository: every chunk
   * is then authenticated, so a tampered archive fails closed even where the member read is intact).
   */
  authenticateWhole?: boolean;
}

/** manifest.json is small; a huge one is damage, not something to read into memory. */
const MAX_INNER_MANIFEST = 64 * 1024 * 1024;

export class StorageBackupReader implements BackupReader {
  readonly manifest: BackupManifest;
  private dir: string | undefined;
  private closed = false;
  /** With authenticateWhole: the whole archive has been read once, every chunk authenticated. */
  private authenticated = false;

  constructor(private readonly ctx: ReaderContext) {
    this.manifest = ctx.manifest;
  }

  private get id(): string {
    return this.manifest.id;
  }

  private get key(): string {
    return this.manifest.archive?.key ?? archiveKey(this.id);
  }

  /** The archive's full location, for messages. */
  private get archiveName(): string {
    return joinLocation(this.ctx.storage.describe(), this.key);
  }

  private async tempDir(): Promise<string> {
    if (this.closed) throw new Error(`backup ${this.id}: reader is closed`);
    this.dir ??= await mkdtemp(path.join(this.ctx.tempDir, `zkvault-read-${this.id}-`));
    return this.dir;
  }

  async extractMember(name: string): Promise<string> {
    const member = this.manifest.members.find((m) => m.name === name);
    if (!member) {
      throw new NotFoundError(`backup ${this.id} has no member ${name}`, { hint: `zkvault inspect ${this.id} lists its members` });
    }
    const dest = path.join(await this.tempDir(), ...name.split('/'));
    const accept = (d: StreamDigest) => checkMember(this.id, member, d);
    const { storage, signal } = this.ctx;
    try {
      if (member.offset !== undefined && (this.authenticated || !this.ctx.authenticateWhole)) {
        // The sidecar knows where the member's bytes are: fetch only those. The hash check below is
        // what makes them trustworthy; verifyChecksums checks the tar framing around them.
        const body =
          member.size === 0
            ? Readable.from([])
            : await storage.get(this.key, { start: member.offset, end: member.offset + member.size - 1 });
        try {
          await writeStreamToFile(body, dest, accept, signal);
        } finally {
          body.destroy();
        }
        return dest;
      }
      // The whole archive: the member is written on the way; where every chunk must be authenticated
      // before any member is used (an encrypted repository), the read goes on to the archive's end.
      const readToEnd = Boolean(this.ctx.authenticateWhole);
      const stream = await storage.get(this.key);
      try {
        if (!readToEnd) {
          const found = await extractArchiveMember(stream, this.archiveName, name, dest, { signal, accept });
          if (!found) throw this.notInArchive(name);
          return dest;
        }
        const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
        // Iterated without a `return`, so that the tar reader stopping at the member leaves the rest to read.
        const upToMember: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: () => chunks.next() }) };
        const found = await extractArchiveMember(upToMember, this.archiveName, name, dest, { signal, accept });
        for (let r = await chunks.next(); !r.done; r = await chunks.next()) throwIfAborted(signal);
        this.authenticated = true;
        if (!found) throw this.notInArchive(name);
      } finally {
        stream.destroy();
      }
      return dest;
    } catch (err) {
      if (err instanceof StorageNotFoundError) {
        throw new IntegrityError('truncated', `backup ${this.id}`, undefined, `archive ${this.archiveName} is missing`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  private notInArchive(name: string): IntegrityError {
    return new IntegrityError('malformed', this.archiveName, undefined, `member ${name} of backup ${this.id} is not in the archive`);
  }

  async verifyChecksums(): Promise<VerifyProblem[]> {
    const problems: VerifyProblem[] = [];
    const add = (message: string, member?: string, offset?: number) =>
      problems.push({ id: this.id, ...(member !== undefined ? { member } : {}), ...(offset !== undefined ? { offset } : {}), message });
    const { storage, signal } = this.ctx;
    const recorded = this.manifest.archive;
    const key = this.key;
    if (!recorded) add(`the sidecar manifest does not record its archive (size${this.manifest.formatVersion === 1 ? ' and sha256' : ''})`);

    const st = await storage.stat(key);
    if (!st) {
      add(`archive ${key} is missing`);
      return problems;
    }
    if (recorded && st.size !== recorded.size) add(`archive ${key}: size expected ${recorded.size}, got ${st.size}`);

    let stream: Readable;
    try {
      stream = await storage.get(key);
    } catch (err) {
      if (err instanceof StorageNotFoundError) {
        add(`archive ${key} is missing`);
        return problems;
      }
      throw err;
    }

    const expected = new Map(this.manifest.members.map((m) => [m.name, m]));
    const seen = new Set<string>();
    let innerBytes: Buffer | undefined;
    let damaged: IntegrityError | undefined;
    let result: Awaited<ReturnType<typeof readArchive>> | undefined;
    try {
      result = await readArchive(
        stream,
        key,
        async (entry, body) => {
          if (seen.has(entry.name)) add('appears more than once in the archive', entry.name, entry.headerOffset);
          seen.add(entry.name);
          if (entry.name === MANIFEST_MEMBER) {
            if (entry.size > MAX_INNER_MANIFEST) {
              add(`${MANIFEST_MEMBER} of ${entry.size} bytes is too large to be a manifest`, undefined, entry.offset);
              return;
            }
            const chunks: Buffer[] = [];
            for await (const c of body) chunks.push(Buffer.from(c));
            innerBytes = Buffer.concat(chunks);
            return;
          }
          const member = expected.get(entry.name);
          if (!member) {
            add('is in the archive but not in the manifest', entry.name, entry.headerOffset);
            return;
          }
          const hash = createHash('sha256');
          let size = 0;
          for await (const c of body) {
            hash.update(c);
            size += c.length;
          }
          const sha256 = hash.digest('hex');
          if (size !== member.size) add(`size expected ${member.size}, got ${size}`, entry.name, entry.offset);
          if (sha256 !== member.sha256) add(`sha256 expected ${member.sha256}, got ${sha256}`, entry.name, entry.offset);
          if (member.offset !== undefined && member.offset !== entry.offset) {
            add(`the manifest places it at byte ${member.offset}, the archive at ${entry.offset}`, entry.name, entry.offset);
          }
        },
        // Format 1 records the whole archive's sha256; format 2 is checked member by member (and its
        // framing: headers, offsets, zero padding) with no second pass over the bytes.
        { signal, sha256: recorded?.sha256 !== undefined },
      );
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      damaged = err;
      add(`archive ${key}: ${err.message.replace(/^[^:]*: /, '')}`, undefined, err.offset);
    } finally {
      stream.destroy();
    }

    for (const m of this.manifest.members) {
      if (seen.has(m.name)) continue;
      if (damaged) add('not checked: the archive is damaged before it', m.name);
      else add('is missing from the archive', m.name);
    }

    if (result) {
      const last = result.entries[result.entries.length - 1];
      if (innerBytes === undefined) add(`archive ${key} has no ${MANIFEST_MEMBER}`);
      else if (last?.name !== MANIFEST_MEMBER) add(`${MANIFEST_MEMBER} is not the archive's last member`);
      if (recorded) {
        if (result.size !== recorded.size && st.size === recorded.size)
          add(`archive ${key}: size expected ${recorded.size}, read ${result.size}`);
        if (recorded.sha256 !== undefined && result.sha256 !== recorded.sha256)
          add(`archive ${key}: sha256 expected ${recorded.sha256}, got ${result.sha256}`);
      }
    }
    if (innerBytes !== undefined) {
      const inner = parseManifest(innerBytes, this.id);
      if (!inner.ok) add(`the archive's ${MANIFEST_MEMBER} is unusable: ${inner.reason}`);
      else {
        const differ = manifestDifferences(this.manifest, inner.manifest);
        if (differ.length > 0) add(`the sidecar manifest and the archive's ${MANIFEST_MEMBER} disagree on: ${differ.join(', ')}`);
      }
    }
    return problems;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/** Throws the IntegrityError for a member whose extracted bytes are not what the manifest says. */
function checkMember(id: string, member: ManifestMember, got: StreamDigest): void {
  if (got.size !== member.size) {
    throw new IntegrityError(
      got.size < member.size ? 'truncated' : 'malformed',
      `backup ${id}`,
      undefined,
      `member ${member.name}: size expected ${member.size}, got ${got.size}`,
    );
  }
  if (got.sha256 !== member.sha256) {
    throw new IntegrityError(
      'checksum',
      `backup ${id}`,
      undefined,
      `member ${member.name}: sha256 expected ${member.sha256}, got ${got.sha256}`,
    );
  }
}
