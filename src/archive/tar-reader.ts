// Reads an uncompressed tar as a stream, strictly: every header's checksum, every member's full length,
// the end-of-archive marker and nothing but zeros after it. Damage is an IntegrityError naming the archive
// and the byte offset. Members are handed out as chunk streams, never buffered whole.
//
// Headers are decoded by node-tar's Header and Pax. Its Parse stream is not used: it guesses compression
// from the first bytes, skips bad headers with a warning, accepts a missing end-of-archive marker and does
// not report offsets — all wrong for an integrity check.
import { createHash, type Hash } from 'node:crypto';
import { Header, type HeaderData } from 'tar/header';
import { Pax } from 'tar/pax';
import { CancelledError, IntegrityError } from '../errors.js';
import { MANIFEST_MEMBER, writeStreamToFile, type StreamDigest } from './members.js';
import { BLOCK, paddingFor } from './tar-writer.js';

export interface ArchiveEntry {
  name: string;
  size: number;
  /** Offset of the member's first data byte. */
  offset: number;
  /** Offset of its first header block (a pax header, when there is one). */
  headerOffset: number;
}

export interface ReadArchiveResult {
  /** Every member seen, in archive order. */
  entries: ArchiveEntry[];
  /** True when the whole archive was read (false when a visitor stopped early). */
  complete: boolean;
  /** Bytes read; the whole archive's when `complete`. */
  size: number;
  /** Their sha256, when asked for (format 1 manifests record the whole archive's). */
  sha256?: string;
}

/**
 * Called for each member with its bytes. The visitor may read `body` fully, partly or not at all (what
 * it leaves is skipped); returning `'stop'` ends reading there.
 */
export type EntryVisitor = (entry: ArchiveEntry, body: AsyncIterable<Buffer>) => Promise<'stop' | void> | 'stop' | void;

const MAX_META_SIZE = 1 << 20;
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Pulls bytes from a chunk stream with exact accounting of the absolute offset. */
class ByteSource {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Absolute offset of the next unread byte. */
  position = 0;
  /** Bytes received from the source so far, and their hash when one is kept. */
  received = 0;
  readonly hash: Hash | null;

  constructor(
    source: AsyncIterable<Uint8Array>,
    private readonly signal?: AbortSignal,
    hashed = false,
  ) {
    this.it = source[Symbol.asyncIterator]();
    this.hash = hashed ? createHash('sha256') : null;
  }

  /** Ensures at least `n` bytes are buffered; false when the source ends first. */
  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.ended) {
      if (this.signal?.aborted) throw new CancelledError();
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      if (chunk.length === 0) continue;
      this.hash?.update(chunk);
      this.received += chunk.length;
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    }
    return this.buf.length >= n;
  }

  /** Exactly `n` bytes; null at a clean end of the source; the partial length when it ends inside. */
  async read(n: number): Promise<Buffer | { partial: number } | null> {
    if (!(await this.fill(n))) {
      if (this.buf.length === 0) return null;
      return { partial: this.buf.length };
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.position += n;
    return out;
  }

  /** Up to `max` (≥ 1) bytes, as they arrive; null when the source has ended. */
  async take(max: number): Promise<Buffer | null> {
    if (!(await this.fill(1))) return null;
    const n = Math.min(max, this.buf.length);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.position += n;
    return out;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * Reads a tar archive from `source`, calling `visit` for each regular-file member. `archive` names the
 * archive in errors (a path or a storage location). Throws IntegrityError for a truncated archive
 * (`truncated`), a bad header, an unsupported entry type, or data after the end marker (`malformed`).
 */
export async function readArchive(
  source: AsyncIterable<Uint8Array>,
  archive: string,
  visit: EntryVisitor,
  opts: { signal?: AbortSignal; sha256?: boolean } = {},
): Promise<ReadArchiveResult> {
  const bytes = new ByteSource(source, opts.signal, opts.sha256);
  const entries: ArchiveEntry[] = [];
  let ex: HeaderData | undefined;
  let gex: HeaderData | undefined;
  let entryStart: number | undefined;
  const truncated = (what: string) => new IntegrityError('truncated', archive, bytes.received, `archive ends ${what}`);
  const malformed = (offset: number, what: string) => new IntegrityError('malformed', archive, offset, what);

  for (;;) {
    const headerAt = bytes.position;
    const block = await bytes.read(BLOCK);
    if (block === null) throw truncated('without the end-of-archive marker');
    if (!Buffer.isBuffer(block)) throw truncated(`inside a header (${block.partial} of ${BLOCK} bytes)`);

    if (isZero(block)) {
      if (ex !== undefined) throw malformed(headerAt, 'extended header not followed by a member');
      const second = await bytes.read(BLOCK);
      if (second === null || !Buffer.isBuffer(second)) throw truncated('inside the end-of-archive marker');
      if (!isZero(second)) throw malformed(headerAt, 'a lone zero block inside the archive');
      break;
    }

    let header: Header;
    try {
      header = new Header(block, 0, ex, gex);
    } catch (err) {
      throw new IntegrityError('malformed', archive, headerAt, `unreadable tar header: ${(err as Error).message}`, { cause: err });
    }
    if (!header.cksumValid) throw malformed(headerAt, 'tar header checksum mismatch');
    const size = header.size ?? 0;
    if (!Number.isSafeInteger(size) || size < 0) throw malformed(headerAt, `tar header has an invalid size`);
    const type = header.type;
    entryStart ??= headerAt;

    if (type === 'ExtendedHeader' || type === 'GlobalExtendedHeader' || type === 'NextFileHasLongPath' || type === 'OldGnuLongPath') {
      if (size > MAX_META_SIZE) throw malformed(headerAt, `${type} of ${size} bytes is too large`);
      const body = size === 0 ? Buffer.alloc(0) : await bytes.read(size + paddingFor(size));
      if (body === null || !Buffer.isBuffer(body)) throw truncated(`inside an extended header that starts at byte ${headerAt}`);
      const text = body.subarray(0, size).toString('utf8');
      try {
        if (type === 'ExtendedHeader') ex = Pax.parse(text, ex, false);
        else if (type === 'GlobalExtendedHeader') gex = Pax.parse(text, gex, true);
        else ex = { ...(ex ?? {}), path: text.replace(/\0.*/s, '') };
      } catch (err) {
        throw new IntegrityError('malformed', archive, headerAt, `unreadable extended header: ${(err as Error).message}`, { cause: err });
      }
      continue;
    }
    // A pax (or GNU long-name) path replaces the ustar name and prefix fields entirely; node-tar's
    // Header would still prepend the prefix field to it.
    const name = (ex?.path !== undefined ? ex.path : header.path) ?? '';
    ex = undefined;

    if (!FILE_TYPES.has(type)) throw malformed(headerAt, `member "${name}" is a ${type}; only regular files belong in a zkvault archive`);
    if (name === '') throw malformed(headerAt, 'a member without a name');

    const entry: ArchiveEntry = { name, size, offset: bytes.position, headerOffset: entryStart };
    entryStart = undefined;
    entries.push(entry);
    let remaining = size;
    const body = (async function* () {
      while (remaining > 0) {
        const chunk = await bytes.take(remaining);
        if (chunk === null) throw truncated(`inside member ${name} (${size - remaining} of ${size} bytes)`);
        remaining -= chunk.length;
        yield chunk;
      }
    })();
    const verdict = await visit(entry, body);
    await body.return(undefined);
    if (verdict === 'stop') {
      await bytes.close();
      return { entries, complete: false, size: bytes.received, ...(bytes.hash ? { sha256: bytes.hash.copy().digest('hex') } : {}) };
    }
    while (remaining > 0) {
      const chunk = await bytes.take(remaining);
      if (chunk === null) throw truncated(`inside member ${name} (${size - remaining} of ${size} bytes)`);
      remaining -= chunk.length;
    }
    const pad = paddingFor(size);
    if (pad > 0) {
      const at = bytes.position;
      const padding = await bytes.read(pad);
      if (padding === null || !Buffer.isBuffer(padding)) throw truncated(`inside the padding after member ${name}`);
      // Every byte outside the members is framing a reader checks: padding is zeros, as tar writes it.
      if (!isZero(padding)) throw malformed(at, `the padding after member ${name} is not zeros`);
    }
  }

  // GNU tar pads archives to a record size with zeros; anything else after the marker is damage.
  for (;;) {
    const at = bytes.position;
    const chunk = await bytes.take(1 << 20);
    if (chunk === null) break;
    const nonZero = chunk.findIndex((b) => b !== 0);
    if (nonZero >= 0) throw malformed(at + nonZero, 'data after the end-of-archive marker');
  }
  return { entries, complete: true, size: bytes.received, ...(bytes.hash ? { sha256: bytes.hash.digest('hex') } : {}) };
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Every member of an archive (names, sizes, offsets), reading it to the end. */
export async function listArchive(
  source: AsyncIterable<Uint8Array>,
  archive: string,
  opts: { signal?: AbortSignal } = {},
): Promise<ReadArchiveResult> {
  return readArchive(source, archive, () => {}, opts);
}

/**
 * Extracts member `name` to the local file `dest` while hashing it, stopping once it is written.
 * `accept` may refuse the digest (throw): nothing is then left at `dest`. Resolves null when the
 * archive has no such member.
 */
export async function extractArchiveMember(
  source: AsyncIterable<Uint8Array>,
  archive: string,
  name: string,
  dest: string,
  opts: { signal?: AbortSignal; accept?: (digest: StreamDigest) => void } = {},
): Promise<(StreamDigest & { entry: ArchiveEntry }) | null> {
  let found: (StreamDigest & { entry: ArchiveEntry }) | null = null;
  await readArchive(
    source,
    archive,
    async (entry, body) => {
      if (entry.name !== name) return;
      const digest = await writeStreamToFile(body, dest, opts.accept, opts.signal);
      found = { ...digest, entry };
      return 'stop';
    },
    opts,
  );
  return found;
}

/** The bytes of the archive's manifest.json (its last member), or null when it has none. */
export async function readArchiveManifest(
  source: AsyncIterable<Uint8Array>,
  archive: string,
  opts: { signal?: AbortSignal } = {},
): Promise<Buffer | null> {
  let manifest: Buffer | null = null;
  await readArchive(
    source,
    archive,
    async (entry, body) => {
      if (entry.name !== MANIFEST_MEMBER) return;
      if (entry.size > 64 * 1024 * 1024) {
        throw new IntegrityError('malformed', archive, entry.offset, `${MANIFEST_MEMBER} of ${entry.size} bytes is too large`);
      }
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(Buffer.from(c));
      manifest = Buffer.concat(chunks);
    },
    opts,
  );
  return manifest;
}
