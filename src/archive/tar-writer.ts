// Packs local files into an uncompressed POSIX tar as a stream, with manifest.json as the last member,
// recording each member's exact byte offset, size and sha256 as the bytes go out: one hash pass per
// member, and none over the whole archive (a reader checks it member by member, tar-reader.ts).
//
// Byte layout (POSIX ustar, as GNU tar and every other tar reads it):
//   per member: [pax header block + pax records, padded to 512 — only when the name or size does not
//               fit ustar] · 512-byte ustar header · data · zero padding to a multiple of 512
//   then:       two 512-byte zero blocks (end of archive)
// The headers are encoded by node-tar's Header/Pax. The framing is written here rather than by its Pack
// so that the offset of every member's data is known exactly (a reader can then fetch one member with a
// ranged get).
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Header } from 'tar/header';
import { Pax } from 'tar/pax';
import { CancelledError, IntegrityError, InternalError, UsageError } from '../errors.js';
import { MANIFEST_MEMBER, validateMemberName } from './members.js';

export const BLOCK = 512;

export interface PackSource {
  /** The member's name in the archive. */
  name: string;
  /** The local file to copy. */
  path: string;
  /**
   * When known: the file must still have this size (and, when given, hash), or packing fails.
   * Without a hash the member's sha256 is the one computed while packing (see PackedEntry).
   */
  expected?: { size: number; sha256?: string };
  /**
   * Copy only the file's first `length` bytes (e.g. a live transaction log up to its last complete
   * record, while the server keeps appending after it). Default: the whole file.
   */
  length?: number;
}

export interface PackedEntry {
  name: string;
  /** Offset of the member's first data byte in the archive. */
  offset: number;
  size: number;
  sha256: string;
}

export interface PackSummary {
  /** Every member in archive order, manifest.json last. */
  entries: PackedEntry[];
  /** The archive's total size. */
  size: number;
}

export interface PackOptions {
  signal?: AbortSignal;
  /** mtime recorded in every header (default: now). */
  mtime?: Date;
}

/** The header block(s) for a regular file member. */
export function encodeFileHeader(name: string, size: number, mtime: Date): Buffer {
  const fields = { path: name, mode: 0o644, uid: 0, gid: 0, size, mtime, type: 'File' as const, uname: '', gname: '' };
  const block = Buffer.alloc(BLOCK);
  const needPax = new Header(fields).encode(block, 0);
  if (!needPax) return block;
  return Buffer.concat([new Pax({ path: name, size, mtime }).encode(), block]);
}

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * Produces the archive as a stream: each source file in order, then manifest.json built by
 * `buildManifest` from the entries packed so far (so it can record their offsets and hashes).
 * Files are read in chunks; nothing is held whole. Once the stream has been consumed to its end,
 * {@link summary} describes exactly the bytes it produced.
 */
export class ArchivePacker {
  private result: PackSummary | undefined;
  private started = false;

  constructor(
    private readonly sources: PackSource[],
    private readonly buildManifest: (entries: PackedEntry[]) => Buffer | Promise<Buffer>,
    private readonly options: PackOptions = {},
  ) {
    const seen = new Set<string>();
    for (const s of sources) {
      validateMemberName(s.name);
      if (s.name === MANIFEST_MEMBER) throw new UsageError(`"${MANIFEST_MEMBER}" is reserved for the backup's manifest`);
      if (seen.has(s.name)) throw new UsageError(`member "${s.name}" is listed twice`);
      seen.add(s.name);
    }
  }

  /** The archive bytes. Can be taken once; destroying it stops packing and closes any open file. */
  stream(): Readable {
    if (this.started) throw new InternalError('an ArchivePacker stream can be taken only once');
    this.started = true;
    return Readable.from(this.generate(), { objectMode: false, highWaterMark: 1 << 20 });
  }

  /** What was packed. Throws until the stream has been read to its end. */
  get summary(): PackSummary {
    if (!this.result) throw new InternalError('the archive stream has not been read to its end');
    return this.result;
  }

  private async *generate(): AsyncGenerator<Buffer> {
    const { signal } = this.options;
    const mtime = new Date(Math.floor((this.options.mtime ?? new Date()).getTime() / 1000) * 1000);
    let position = 0;
    const out = (buf: Buffer): Buffer => {
      position += buf.length;
      return buf;
    };
    const entries: PackedEntry[] = [];

    for (const source of this.sources) {
      if (signal?.aborted) throw new CancelledError();
      const fh = await open(source.path, 'r');
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw new UsageError(`${source.path}: member "${source.name}" is not a regular file`);
        if (source.length !== undefined && st.size < source.length) {
          throw new IntegrityError(
            'truncated',
            source.path,
            st.size,
            `member ${source.name} shrank: ${st.size} bytes, ${source.length} expected`,
          );
        }
        const size = source.length ?? st.size;
        if (source.expected && source.expected.size !== size) {
          throw new IntegrityError(
            'checksum',
            source.path,
            undefined,
            `member ${source.name} changed after it was added: size was ${source.expected.size}, now ${size}`,
          );
        }
        yield out(encodeFileHeader(source.name, size, mtime));
        const offset = position;
        const memberHash = createHash('sha256');
        let copied = 0;
        if (size > 0) {
          for await (const chunk of fh.createReadStream({ autoClose: false, start: 0, end: size - 1, highWaterMark: 1 << 20 })) {
            if (signal?.aborted) throw new CancelledError();
            memberHash.update(chunk as Buffer);
            copied += (chunk as Buffer).length;
            yield out(chunk as Buffer);
          }
        }
        if (copied !== size) {
          throw new IntegrityError(
            'truncated',
            source.path,
            copied,
            `member ${source.name} shrank while being packed: expected ${size} bytes`,
          );
        }
        const sha256 = memberHash.digest('hex');
        if (source.expected?.sha256 !== undefined && source.expected.sha256 !== sha256) {
          throw new IntegrityError(
            'checksum',
            source.path,
            undefined,
            `member ${source.name} changed after it was added: sha256 expected ${source.expected.sha256}, got ${sha256}`,
          );
        }
        const pad = paddingFor(size);
        if (pad > 0) yield out(Buffer.alloc(pad));
        entries.push({ name: source.name, offset, size, sha256 });
      } finally {
        await fh.close();
      }
    }

    if (signal?.aborted) throw new CancelledError();
    const manifest = await this.buildManifest(entries.map((e) => ({ ...e })));
    yield out(encodeFileHeader(MANIFEST_MEMBER, manifest.length, mtime));
    const manifestOffset = position;
    yield out(manifest);
    const pad = paddingFor(manifest.length);
    if (pad > 0) yield out(Buffer.alloc(pad));
    entries.push({
      name: MANIFEST_MEMBER,
      offset: manifestOffset,
      size: manifest.length,
      sha256: createHash('sha256').update(manifest).digest('hex'),
    });
    yield out(Buffer.alloc(2 * BLOCK));
    this.result = { entries, size: position };
  }
}
