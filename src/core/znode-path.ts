// Znode paths: what makes one valid, the server's own subtree (/zookeeper, never backed up or
// restored), and the digest ACL entries a server shows redacted to readers without ADMIN.
import { UsageError } from '../errors.js';
import type { AclEntry } from './node-record.js';

/** The server's own subtree (config, quota). */
export const SYSTEM_SUBTREE = '/zookeeper';

/** Whether a path is /zookeeper or below it. */
export function isSystemPath(path: string): boolean {
  return path === SYSTEM_SUBTREE || path.startsWith(SYSTEM_SUBTREE + '/');
}

/** What is wrong with a znode path, or undefined when it is one (as ZooKeeper's PathUtils sees it). */
export function znodePathProblem(path: string): string | undefined {
  if (path === '' || path[0] !== '/') return `"${path}" must start with /`;
  if (path.length > 1 && path.endsWith('/')) return `"${path}" must not end with /`;
  if (path.includes('//')) return `"${path}" has an empty node name`;
  if (/\/\.\.?(\/|$)/.test(path)) return `"${path}" has a relative part (. or ..)`;
  if (path.includes('\u0000')) return `"${path}" contains a NUL character`;
  return undefined;
}

/** The path itself when valid; otherwise a UsageError naming the flag that gave it. */
export function validateZnodePath(path: string, flag = '--path'): string {
  const problem = znodePathProblem(path);
  if (problem !== undefined) {
    throw new UsageError(`${flag} "${path}" is not a znode path (${flag} ${problem})`, {
      hint: 'use an absolute znode path such as /app or /',
    });
  }
  return path;
}

/** Whether `path` is `root` or below it. */
export function isWithin(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(root + '/');
}

/**
 * A digest ACL entry whose hash the server replaced with 'x' (`user:x`): the reader lacks ADMIN on the
 * node, so the entry cannot be restored as it was.
 */
export function isRedactedDigest(a: AclEntry): boolean {
  return a.scheme === 'digest' && a.id.endsWith(':x');
}

export function hasRedactedDigest(acl: readonly AclEntry[]): boolean {
  return acl.some(isRedactedDigest);
}
