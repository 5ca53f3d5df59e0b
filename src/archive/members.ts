// Member names and the streaming file helpers shared by the archive writer and reader: a member is hashed
// and copied in chunks, never held whole in memory.
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { CancelledError, UsageError } from '../errors.js';

/** The name every archive ends with: the backup's manifest, written after all other members. */
export const MANIFEST_MEMBER = 'manifest.json';

const NAME_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._+=@-]*$/;

/**
 * Member names are relative paths of `[A-Za-z0-9._+=@-]` segments separated by `/`, none starting
 * with `.`, at most 255 bytes: safe as a file name under any extraction directory and as a tar path.
 * Returns the reason a name is refused, or undefined when it is fine.
 */
export function memberNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'a member name must not be empty';
  if (name.length > 255) return `member name "${name.slice(0, 40)}…" is longer than 255 characters`;
  for (const segment of name.split('/')) {
    if (!NAME_SEGMENT.test(segment)) {
      return `member name "${name}" is not a plain relative path (letters, digits, "._+=@-", segments not starting with ".")`;
    }
  }
  return undefined;
}

/** Throws a UsageError for a name {@link memberNameProblem} refuses. */
export function validateMemberName(name: string): void {
  const problem = memberNameProblem(name);
  if (problem) throw new UsageError(problem);
}

export interface StreamDigest {
  size: number;
  sha256: string;
}

/** Size and lowercase hex sha256 of a local file, read in chunks. */
export async function hashFile(file: string, signal?: AbortSignal): Promise<StreamDigest> {
  const fh = await open(file, 'r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of fh.createReadStream({ autoClose: false, highWaterMark: 1 << 20 })) {
      if (signal?.aborted) throw new CancelledError();
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await fh.close();
  }
}

/**
 * Streams `body` into `dest`, hashing it on the way. The bytes go to a dot-named temp file beside
 * `dest` that is renamed into place only if `accept` (given the digest) does not throw; on any failure
 * nothing is left at `dest` or beside it.
 */
export async function writeStreamToFile(
  body: AsyncIterable<Uint8Array>,
  dest: string,
  accept: (digest: StreamDigest) => void = () => {},
  signal?: AbortSignal,
): Promise<StreamDigest> {
  await mkdir(path.dirname(dest), { recursive: true });
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.partial`);
  const fh = await open(tmp, 'w', 0o600);
  let closed = false;
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of body) {
      if (signal?.aborted) throw new CancelledError();
      hash.update(chunk);
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      size += chunk.length;
    }
    await fh.close();
    closed = true;
    const digest = { size, sha256: hash.digest('hex') };
    accept(digest);
    await rename(tmp, dest);
    return digest;
  } catch (err) {
    if (!closed) await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}
