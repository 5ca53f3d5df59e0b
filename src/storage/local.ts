// Storage on a local directory: one file per key, published by temp file + fsync + rename so that a
// crash or an interrupted run never leaves a partial object under a real key.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CancelledError } from '../errors.js';
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
} from './storage.js';

const MISSING = new Set(['ENOENT', 'ENOTDIR']);

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export class LocalStorage implements Storage {
  /** Absolute path of the directory holding the objects. It need not exist until the first put. */
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  describe(): string {
    return this.root;
  }

  private pathOf(key: string): string {
    validateKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    const { signal } = opts;
    const target = this.pathOf(key);
    const stream = Buffer.isBuffer(body) ? undefined : body;
    // Destroyed without an error: the loop below then sees the abort; an error event emitted before the
    // loop starts reading would have no listener.
    const onAbort = () => stream?.destroy();
    let tmp: string | undefined;
    try {
      if (signal?.aborted) throw new CancelledError();
      signal?.addEventListener('abort', onAbort, { once: true });
      const dir = path.dirname(target);
      await mkdir(dir, { recursive: true });
      tmp = tempNameFor(target);
      const fh = await open(tmp, 'wx', 0o644);
      let size = 0;
      try {
        if (stream === undefined) {
          await writeAll(fh, body as Buffer);
          size = (body as Buffer).length;
        } else {
          for await (const chunk of stream) {
            const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
            await writeAll(fh, buf);
            size += buf.length;
          }
        }
        if (signal?.aborted) throw new CancelledError();
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
      tmp = undefined;
      await syncDir(dir);
      return { size };
    } catch (err) {
      stream?.destroy();
      if (tmp !== undefined) await rm(tmp, { force: true });
      throw signal?.aborted ? new CancelledError(undefined, { cause: err }) : err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const file = this.pathOf(key);
    const { start, end } = normalizeRange(opts);
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      if (MISSING.has(errno(err) ?? '')) throw new StorageNotFoundError(this.describe(), key, { cause: err });
      throw err;
    }
    let size: number;
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new StorageNotFoundError(this.describe(), key);
      size = st.size;
    } catch (err) {
      await fh.close();
      throw err;
    }
    if (start >= size) {
      await fh.close();
      return Readable.from([]);
    }
    return fh.createReadStream({ start, end: Math.min(end, size - 1), autoClose: true, highWaterMark: 1 << 20 });
  }

  async getBuffer(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.get(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async stat(key: string): Promise<ObjectStat | null> {
    try {
      const st = await stat(this.pathOf(key));
      return st.isFile() ? { size: st.size, modified: st.mtime } : null;
    } catch (err) {
      if (MISSING.has(errno(err) ?? '')) return null;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    validatePrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    yield* this.walk(slash >= 0 ? prefix.slice(0, slash) : '', prefix);
  }

  /**
   * Depth-first walk in key order: a directory sorts as its name plus `/`, the first character of
   * every key below it, so `a-b` (0x2d) comes before `a/x` (0x2f) as in a flat key space.
   */
  private async *walk(dirKey: string, prefix: string): AsyncGenerator<ListedObject> {
    let names: string[];
    try {
      names = await readdir(dirKey === '' ? this.root : path.join(this.root, ...dirKey.split('/')));
    } catch (err) {
      if (MISSING.has(errno(err) ?? '')) return;
      throw err;
    }
    const items: Array<{ key: string; dir: boolean; sortKey: string; size: number; modified: Date }> = [];
    for (const name of names) {
      if (name.startsWith('.')) continue; // temp files of in-flight puts, and anything not ours
      const key = dirKey === '' ? name : `${dirKey}/${name}`;
      try {
        validateKey(key);
      } catch {
        continue; // a name no key can have (spaces, non-ASCII): not an object of this store
      }
      const isDirCandidate = (key + '/').startsWith(prefix) || prefix.startsWith(key + '/');
      if (!isDirCandidate && !key.startsWith(prefix)) continue;
      let st;
      try {
        st = await stat(path.join(this.root, ...key.split('/')));
      } catch (err) {
        if (MISSING.has(errno(err) ?? '')) continue; // removed while listing
        throw err;
      }
      if (st.isDirectory() && isDirCandidate) items.push({ key, dir: true, sortKey: name + '/', size: 0, modified: st.mtime });
      else if (st.isFile() && key.startsWith(prefix)) items.push({ key, dir: false, sortKey: name, size: st.size, modified: st.mtime });
    }
    items.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const item of items) {
      if (item.dir) yield* this.walk(item.key, prefix);
      else yield { key: item.key, size: item.size, modified: item.modified };
    }
  }

  async remove(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      const code = errno(err) ?? '';
      if (MISSING.has(code) || code === 'EISDIR') return;
      throw err;
    }
  }

  async putIfAbsent(key: string, body: Buffer): Promise<boolean> {
    const target = this.pathOf(key);
    const dir = path.dirname(target);
    await mkdir(dir, { recursive: true });
    // The body is complete and durable before the key appears: link(2) fails with EEXIST when the
    // key exists, the same exclusivity as O_EXCL without a window where the file is empty.
    const tmp = tempNameFor(target);
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await writeAll(fh, body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await link(tmp, target);
      } catch (err) {
        const code = errno(err);
        if (code === 'EEXIST') return false;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
        // No hard links on this filesystem: fall back to O_EXCL (the body may be briefly partial).
        return await createExclusive(target, body);
      }
      await syncDir(dir);
      return true;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

function tempNameFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

async function createExclusive(target: string, body: Buffer): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(target, 'wx', 0o644);
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    await writeAll(fh, body);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncDir(path.dirname(target));
  return true;
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

/** Makes a rename or link in `dir` durable. Some filesystems cannot fsync a directory: that is not fatal. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = errno(err);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
  } finally {
    await fh?.close();
  }
}
