// What a local directory repository holds besides its objects: the dot-named temp files of puts that a
// killed run never finished (see storage/local.ts), and the folders a repository that failed on its
// first backup leaves empty. Other backends keep neither inside the repository.
import { readdir, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { LocalStorage } from '../storage/local.js';
import type { Storage } from '../storage/storage.js';
import type { StoredObjectInfo } from './types.js';

/** Where the local backend may leave temp files of unfinished puts, and their names. */
const TEMP_DIRS = ['', 'archives', 'manifests', 'locks'];
const LOCAL_TEMP_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Unfinished puts of killed runs, in a local directory (dot-named temp files beside their target, which
 * Storage.list never shows). S3 multipart uploads that were never completed are invisible here and
 * are best expired by a bucket lifecycle rule.
 */
export async function localTemporaryFiles(storage: Storage): Promise<StoredObjectInfo[]> {
  if (!(storage instanceof LocalStorage)) return [];
  const out: StoredObjectInfo[] = [];
  for (const dir of TEMP_DIRS) {
    let names: string[];
    try {
      names = await readdir(path.join(storage.root, dir));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const name of names.sort()) {
      if (!LOCAL_TEMP_NAME.test(name)) continue;
      const st = await stat(path.join(storage.root, dir, name)).catch(() => null);
      if (st?.isFile()) out.push({ key: dir === '' ? name : `${dir}/${name}`, size: st.size, modified: st.mtime });
    }
  }
  return out;
}

/** Deletes one temp file that {@link localTemporaryFiles} listed; a key that is not one is refused. */
export async function removeLocalTemporary(storage: Storage, key: string): Promise<void> {
  const dir = path.posix.dirname(key);
  const name = path.posix.basename(key);
  if (!(storage instanceof LocalStorage) || !TEMP_DIRS.includes(dir === '.' ? '' : dir) || !LOCAL_TEMP_NAME.test(name)) {
    throw new UsageError(`${key} is not a temporary file of this repository`);
  }
  await unlink(path.join(storage.root, key)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Removes a local repository's directory and the directories under it if they hold no file. */
export async function removeEmptyLocalDirs(storage: Storage): Promise<void> {
  if (storage instanceof LocalStorage) await removeEmptyDirs(storage.root);
}

async function removeEmptyDirs(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => null);
  if (entries === null) return;
  for (const e of entries) if (e.isDirectory()) await removeEmptyDirs(path.join(dir, e.name));
  await rmdir(dir).catch(() => {});
}
