// A Storage that encrypts the objects under chosen prefixes with AES-256-GCM, in chunks so that puts and
// gets stream and a ranged get decrypts only the chunks it needs. Each object has its own key, derived
// from the repository key and the object's key (so an object moved under another key, e.g. one backup's
// archive renamed to another's, does not decrypt); each chunk's associated data binds the object header,
// the chunk's index and whether it is the last, so reordered, dropped, swapped or truncated chunks fail.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { IntegrityError } from '../errors.js';
import {
  joinLocation,
  type GetOptions,
  type ListedObject,
  type ObjectStat,
  type PutOptions,
  type Storage,
  type StorageKey,
  normalizeRange,
} from './storage.js';

/** The first bytes of every encrypted object. */
export const ENCRYPTED_MAGIC = Buffer.from('ZKVENC1\n', 'latin1');
const SALT_BYTES = 16;
const TAG_BYTES = 16;
/** magic, chunk size (u32 BE), salt */
export const HEADER_BYTES = ENCRYPTED_MAGIC.length + 4 + SALT_BYTES;
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/** True when `bytes` begins as an object written by {@link EncryptedStorage} does. */
export function looksEncrypted(bytes: Buffer): boolean {
  return bytes.length >= ENCRYPTED_MAGIC.length && bytes.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC);
}

interface Header {
  bytes: Buffer;
  chunk: number;
  salt: Buffer;
}

function makeHeader(chunk: number): Header {
  const salt = randomBytes(SALT_BYTES);
  const bytes = Buffer.alloc(HEADER_BYTES);
  ENCRYPTED_MAGIC.copy(bytes, 0);
  bytes.writeUInt32BE(chunk, ENCRYPTED_MAGIC.length);
  salt.copy(bytes, ENCRYPTED_MAGIC.length + 4);
  return { bytes, chunk, salt };
}

/** The plaintext size of an object of `stored` bytes, or null when no object could be that size. */
export function plainSize(stored: number, chunk: number): number | null {
  const body = stored - HEADER_BYTES;
  if (body < TAG_BYTES) return null;
  const whole = chunk + TAG_BYTES;
  const chunks = Math.ceil(body / whole);
  const last = body - (chunks - 1) * whole;
  if (last < TAG_BYTES) return null;
  return body - chunks * TAG_BYTES;
}

/** The stored size of an object of `plain` bytes. */
export function storedSize(plain: number, chunk: number): number {
  const chunks = Math.max(1, Math.ceil(plain / chunk));
  return HEADER_BYTES + plain + chunks * TAG_BYTES;
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function chunkAad(header: Buffer, index: number, final: boolean): Buffer {
  const tail = Buffer.alloc(9);
  tail.writeBigUInt64BE(BigInt(index), 0);
  tail[8] = final ? 1 : 0;
  return Buffer.concat([header, tail]);
}

export interface EncryptedStorageOptions {
  /** The repository's data key (32 bytes). */
  key: Buffer;
  /** Objects whose key starts with one of these are encrypted; the rest pass through. */
  prefixes: string[];
  chunkBytes?: number;
}

export class EncryptedStorage implements Storage {
  private readonly chunk: number;

  constructor(
    private readonly inner: Storage,
    private readonly opts: EncryptedStorageOptions,
  ) {
    if (opts.key.length !== 32) throw new Error('the repository key must be 32 bytes');
    this.chunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  }

  describe(): string {
    return this.inner.describe();
  }

  private encrypts(key: StorageKey): boolean {
    return this.opts.prefixes.some((p) => key.startsWith(p));
  }

  private objectKey(key: StorageKey, salt: Buffer): Buffer {
    return Buffer.from(hkdfSync('sha256', this.opts.key, salt, `zkvault object v1\0${key}`, 32));
  }

  private damaged(key: StorageKey, offset: number | undefined, detail: string): IntegrityError {
    return new IntegrityError('checksum', joinLocation(this.inner.describe(), key), offset, detail);
  }

  async put(key: StorageKey, body: Readable | Buffer, opts?: PutOptions): Promise<{ size: number }> {
    if (!this.encrypts(key)) return this.inner.put(key, body, opts);
    const sealer = this.sealer(key);
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    source.on('error', (err) => sealer.destroy(err));
    source.pipe(sealer);
    const { size } = await this.inner.put(key, sealer, opts).finally(() => source.destroy());
    const plain = plainSize(size, this.chunk);
    if (plain === null) throw this.damaged(key, undefined, `stored ${size} bytes, which no encrypted object can be`);
    return { size: plain };
  }

  async putIfAbsent(key: StorageKey, body: Buffer): Promise<boolean> {
    if (!this.encrypts(key)) return this.inner.putIfAbsent(key, body);
    return this.inner.putIfAbsent(key, this.sealBuffer(key, body));
  }

  /** The whole encrypted form of a small object. */
  private sealBuffer(key: StorageKey, body: Buffer): Buffer {
    const out: Buffer[] = [];
    const sealer = this.sealer(key);
    sealer.on('data', (c: Buffer) => out.push(c));
    sealer.end(body);
    return Buffer.concat(out);
  }

  private sealer(key: StorageKey): Transform {
    const header = makeHeader(this.chunk);
    const objectKey = this.objectKey(key, header.salt);
    const size = this.chunk;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let index = 0;
    let headerSent = false;
    const seal = (plain: Buffer, final: boolean): Buffer => {
      const cipher = createCipheriv('aes-256-gcm', objectKey, nonce(index));
      cipher.setAAD(chunkAad(header.bytes, index, final));
      index++;
      const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      if (headerSent) return body;
      headerSent = true;
      return Buffer.concat([header.bytes, body]);
    };
    return new Transform({
      transform(c: Buffer, _enc, done: TransformCallback) {
        pending.push(c);
        pendingBytes += c.length;
        // Keep at least one byte back: the last chunk is sealed as last, so it is only sealed at the end.
        while (pendingBytes > size) {
          const all = Buffer.concat(pending);
          this.push(seal(all.subarray(0, size), false));
          pending = [all.subarray(size)];
          pendingBytes = all.length - size;
        }
        done();
      },
      flush(done: TransformCallback) {
        this.push(seal(Buffer.concat(pending), true));
        done();
      },
    });
  }

  async get(key: StorageKey, opts?: GetOptions): Promise<Readable> {
    if (!this.encrypts(key)) return this.inner.get(key, opts);
    const { start, end } = normalizeRange(opts);
    if (start === 0 && end === Number.POSITIVE_INFINITY) {
      const stream = await this.inner.get(key);
      const opener = this.opener(key, 0, null);
      stream.on('error', (err) => opener.destroy(err));
      return stream.pipe(opener);
    }
    // A range: the header, then only the chunks holding the bytes asked for.
    const st = await this.inner.stat(key);
    const plain = st === null ? null : plainSize(st.size, this.chunk);
    if (st !== null && plain === null) throw this.damaged(key, undefined, `${st.size} bytes is no encrypted object's size`);
    if (plain === null || start >= plain) {
      if (st === null) return this.inner.get(key); // rejects with StorageNotFoundError
      return Readable.from([]);
    }
    const last = Math.min(end, plain - 1);
    const header = await this.readHeader(key);
    const whole = header.chunk + TAG_BYTES;
    const first = Math.floor(start / header.chunk);
    const lastChunk = Math.floor(last / header.chunk);
    const count = Math.ceil(plain / header.chunk) || 1;
    const body = await this.inner.get(key, { start: HEADER_BYTES + first * whole, end: HEADER_BYTES + (lastChunk + 1) * whole - 1 });
    const opener = this.opener(key, first, { header, chunks: count, skip: start - first * header.chunk, take: last - start + 1 });
    body.on('error', (err) => opener.destroy(err));
    return body.pipe(opener);
  }

  private async readHeader(key: StorageKey): Promise<Header> {
    const stream = await this.inner.get(key, { start: 0, end: HEADER_BYTES - 1 });
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(Buffer.from(c as Buffer));
    return this.parseHeader(key, Buffer.concat(parts));
  }

  private parseHeader(key: StorageKey, bytes: Buffer): Header {
    if (bytes.length < HEADER_BYTES || !looksEncrypted(bytes)) {
      throw this.damaged(key, 0, 'not an encrypted object of this repository (its header is missing or damaged)');
    }
    const chunk = bytes.readUInt32BE(ENCRYPTED_MAGIC.length);
    if (chunk !== this.chunk) throw this.damaged(key, ENCRYPTED_MAGIC.length, `chunk size ${chunk} is not the repository's ${this.chunk}`);
    return { bytes: bytes.subarray(0, HEADER_BYTES), chunk, salt: bytes.subarray(ENCRYPTED_MAGIC.length + 4, HEADER_BYTES) };
  }

  /**
   * Decrypts a stream of whole chunks starting at chunk `first`. Without `range` the stream is the whole
   * object (header first) and its last chunk must be sealed as the last; with one, the header is given
   * and `chunks` is the object's chunk count, so the last chunk is known by its index.
   */
  private opener(key: StorageKey, first: number, range: { header: Header; chunks: number; skip: number; take: number } | null): Transform {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    let header = range?.header ?? null;
    let objectKey = header ? this.objectKey(key, header.salt) : null;
    let parts: Buffer[] = [];
    let have = 0;
    const takeBytes = (n: number): Buffer => {
      const all = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      parts = all.length > n ? [all.subarray(n)] : [];
      have = all.length - Math.min(n, all.length);
      return all.subarray(0, n);
    };
    let index = first;
    let offset = range ? HEADER_BYTES + first * (this.chunk + TAG_BYTES) : 0;
    let skip = range?.skip ?? 0;
    let take = range?.take ?? Number.POSITIVE_INFINITY;
    const open = (sealed: Buffer, final: boolean): Buffer => {
      const decipher = createDecipheriv('aes-256-gcm', objectKey!, nonce(index));
      decipher.setAAD(chunkAad(header!.bytes, index, final));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw self.damaged(
          key,
          offset,
          `chunk ${index} does not authenticate: the object was altered, truncated, reordered or moved from another key, or the key is wrong`,
        );
      }
      index++;
      offset += sealed.length;
      return plain;
    };
    const emit = (t: Transform, plain: Buffer) => {
      let out = plain;
      if (skip > 0) {
        const s = Math.min(skip, out.length);
        out = out.subarray(s);
        skip -= s;
      }
      if (out.length > take) out = out.subarray(0, take);
      take -= out.length;
      if (out.length > 0) t.push(out);
    };
    const whole = this.chunk + TAG_BYTES;
    return new Transform({
      transform(c: Buffer, _enc, done: TransformCallback) {
        try {
          parts.push(c);
          have += c.length;
          if (!header) {
            if (have < HEADER_BYTES) return done();
            header = self.parseHeader(key, takeBytes(HEADER_BYTES));
            objectKey = self.objectKey(key, header.salt);
            offset = HEADER_BYTES;
          }
          // Keep the last whole chunk back until more arrives: only the end says it is the last.
          while (have > whole || (range && have >= whole && index < range.chunks - 1)) {
            emit(this, open(takeBytes(whole), range !== null && index === range.chunks - 1));
          }
          done();
        } catch (err) {
          done(err as Error);
        }
      },
      flush(done: TransformCallback) {
        try {
          if (!header) throw self.damaged(key, 0, 'is too short to be an encrypted object');
          if (have > 0 || !range) {
            if (have < TAG_BYTES) throw self.damaged(key, offset, 'is truncated inside a chunk');
            emit(this, open(takeBytes(have), range ? index === range.chunks - 1 : true));
          }
          if (range && take > 0) throw self.damaged(key, offset, 'ends before the bytes asked for');
          done();
        } catch (err) {
          done(err as Error);
        }
      },
    });
  }

  async getBuffer(key: StorageKey): Promise<Buffer> {
    if (!this.encrypts(key)) return this.inner.getBuffer(key);
    const bytes = await this.inner.getBuffer(key);
    const opener = this.opener(key, 0, null);
    const out: Buffer[] = [];
    opener.on('data', (c: Buffer) => out.push(c));
    await new Promise<void>((resolve, reject) => {
      opener.on('end', resolve);
      opener.on('error', reject);
      opener.end(bytes);
    });
    return Buffer.concat(out);
  }

  async stat(key: StorageKey): Promise<ObjectStat | null> {
    const st = await this.inner.stat(key);
    if (!st || !this.encrypts(key)) return st;
    // A size no encrypted object can have is shown as stored: it then matches no manifest.
    return { ...st, size: plainSize(st.size, this.chunk) ?? st.size };
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    for await (const o of this.inner.list(prefix)) {
      if (!this.encrypts(o.key)) yield o;
      else yield { ...o, size: plainSize(o.size, this.chunk) ?? o.size };
    }
  }

  remove(key: StorageKey): Promise<void> {
    return this.inner.remove(key);
  }
}
