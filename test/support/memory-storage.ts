// An in-memory Storage for unit tests: passes the shared conformance suite, and lets a test observe
// or interfere with puts (to interrupt a commit at a chosen point) and damage stored bytes.
import { Readable } from 'node:stream';
import { CancelledError } from '../../src/errors.js';
import {
  normalizeRange,
  StorageNotFoundError,
  validateKey,
  validatePrefix,
  type GetOptions,
  type ListedObject,
  type ObjectStat,
  type PutOptions,
  type Storage,
} from '../../src/storage/storage.js';

export interface MemoryStorageHooks {
  /** Called when a put starts reading its body, and after it has stored the object. */
  onPut?: (key: string, phase: 'start' | 'done') => void | Promise<void>;
}

export class MemoryStorage implements Storage {
  private readonly objects = new Map<string, { data: Buffer; modified: Date }>();
  hooks: MemoryStorageHooks;

  constructor(
    readonly name = 'test',
    hooks: MemoryStorageHooks = {},
  ) {
    this.hooks = hooks;
  }

  describe(): string {
    return `memory://${this.name}`;
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    const stream = Buffer.isBuffer(body) ? undefined : body;
    const onAbort = () => stream?.destroy();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      validateKey(key);
      if (opts.signal?.aborted) throw new CancelledError();
      await this.hooks.onPut?.(key, 'start');
      let data: Buffer;
      if (stream === undefined) data = Buffer.from(body as Buffer);
      else {
        const chunks: Buffer[] = [];
        for await (const chunk of stream) {
          if (opts.signal?.aborted) throw new CancelledError();
          chunks.push(Buffer.from(chunk as Buffer));
          // Yield to the event loop so an abort fired by another task is seen mid-stream.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        data = Buffer.concat(chunks);
      }
      if (opts.signal?.aborted) throw new CancelledError();
      this.objects.set(key, { data, modified: new Date() });
      await this.hooks.onPut?.(key, 'done');
      return { size: data.length };
    } catch (err) {
      stream?.destroy();
      throw opts.signal?.aborted ? new CancelledError() : err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    validateKey(key);
    const { start, end } = normalizeRange(opts);
    const obj = this.objects.get(key);
    if (!obj) throw new StorageNotFoundError(this.describe(), key);
    const slice = obj.data.subarray(start, end === Number.POSITIVE_INFINITY ? undefined : end + 1);
    // Several chunks, as a real backend delivers them, so readers are exercised across boundaries.
    const chunks: Buffer[] = [];
    for (let off = 0; off < slice.length; off += 64 * 1024) chunks.push(Buffer.from(slice.subarray(off, off + 64 * 1024)));
    return Readable.from(chunks);
  }

  async getBuffer(key: string): Promise<Buffer> {
    validateKey(key);
    const obj = this.objects.get(key);
    if (!obj) throw new StorageNotFoundError(this.describe(), key);
    return Buffer.from(obj.data);
  }

  async stat(key: string): Promise<ObjectStat | null> {
    validateKey(key);
    const obj = this.objects.get(key);
    return obj ? { size: obj.data.length, modified: obj.modified } : null;
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    validatePrefix(prefix);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const obj = this.objects.get(key);
      if (obj) yield { key, size: obj.data.length, modified: obj.modified };
    }
  }

  async remove(key: string): Promise<void> {
    validateKey(key);
    this.objects.delete(key);
  }

  async putIfAbsent(key: string, body: Buffer): Promise<boolean> {
    validateKey(key);
    if (this.objects.has(key)) return false;
    this.objects.set(key, { data: Buffer.from(body), modified: new Date() });
    return true;
  }

  // Test helpers: direct access to the stored bytes.

  keys(): string[] {
    return [...this.objects.keys()].sort();
  }

  /** Replaces the stored bytes of `key` (e.g. to flip a byte or truncate) without a put. */
  mutate(key: string, change: (data: Buffer) => Buffer): void {
    const obj = this.objects.get(key);
    if (!obj) throw new Error(`no object ${key}`);
    obj.data = change(Buffer.from(obj.data));
  }

  /** Sets an object's modification time (e.g. to age a lock). */
  setModified(key: string, modified: Date): void {
    const obj = this.objects.get(key);
    if (!obj) throw new Error(`no object ${key}`);
    obj.modified = modified;
  }
}
