// The one registry of repository locations: parses `--repo` into a backend and opens its Storage, and
// redacts credentials from any location string before it is printed.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { LocalStorage } from './local.js';
import type { Storage } from './storage.js';

export type RepositoryLocation =
  | { scheme: 'file'; /** Absolute directory path. */ path: string; redacted: string }
  | { scheme: 's3'; bucket: string; /** Key prefix without leading or trailing `/`, maybe ''. */ prefix: string; redacted: string };

export interface OpenStorageOptions {
  signal?: AbortSignal;
}

interface Backend {
  parse(location: string, url: URL): RepositoryLocation;
  open(location: RepositoryLocation, opts: OpenStorageOptions): Promise<Storage>;
}

const ACCEPTED_FORMS = 'a directory path, file:///absolute/path or s3://bucket/prefix';

/** URL schemes zkvault can store a repository at. A plain path (no `scheme://`) is `file`. */
const BACKENDS: Record<string, Backend> = {
  file: {
    parse(location, url) {
      if (url.host !== '' && url.host !== 'localhost') {
        throw new UsageError(`repository location "${redactLocation(location)}" names a host; file locations are local`, {
          hint: 'write it as file:///absolute/path (three slashes) or as a plain path',
        });
      }
      if (url.search !== '' || url.hash !== '') {
        throw new UsageError(`repository location "${redactLocation(location)}" has a query or fragment; file locations take none`);
      }
      const dir = fileURLToPath(url);
      return { scheme: 'file', path: dir, redacted: dir };
    },
    async open(location) {
      if (location.scheme !== 'file') throw new Error('unreachable');
      return new LocalStorage(location.path);
    },
  },
  s3: {
    parse(location, url) {
      if (url.username !== '' || url.password !== '') {
        throw new UsageError(`repository location "${redactLocation(location)}" carries credentials`, {
          hint: 'S3 credentials come only from the standard AWS chain (environment, profile, instance role)',
        });
      }
      const bucket = url.hostname;
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
        throw new UsageError(`repository location "${redactLocation(location)}": "${bucket}" is not a valid S3 bucket name`, {
          hint: 'write it as s3://bucket/prefix',
        });
      }
      const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
      return { scheme: 's3', bucket, prefix, redacted: `s3://${bucket}${prefix ? '/' + prefix : ''}` };
    },
    async open(location) {
      throw new UsageError(`S3 repositories are not available yet (${location.redacted})`, {
        hint: 'use a local directory for now: --repo /path/to/repo',
      });
    },
  },
};

const URL_LIKE = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Parses a `--repo` value. Throws a UsageError naming the (redacted) location and the accepted forms. */
export function parseLocation(location: string): RepositoryLocation {
  if (typeof location !== 'string' || location.trim() === '') {
    throw new UsageError('the repository location is empty', { hint: `give --repo as ${ACCEPTED_FORMS}` });
  }
  const m = URL_LIKE.exec(location);
  if (!m) {
    const dir = path.resolve(location);
    return { scheme: 'file', path: dir, redacted: dir };
  }
  const scheme = m[1]!.toLowerCase();
  const backend = Object.hasOwn(BACKENDS, scheme) ? BACKENDS[scheme] : undefined;
  if (!backend) {
    throw new UsageError(`unsupported repository location "${redactLocation(location)}" (scheme ${scheme}://)`, {
      hint: `give --repo as ${ACCEPTED_FORMS}`,
    });
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch (err) {
    throw new UsageError(`repository location "${redactLocation(location)}" is not a valid URL`, {
      hint: `give --repo as ${ACCEPTED_FORMS}`,
      cause: err,
    });
  }
  return backend.parse(location, url);
}

/** Parses a location and opens its Storage. */
export async function openStorage(location: string | RepositoryLocation, opts: OpenStorageOptions = {}): Promise<Storage> {
  const parsed = typeof location === 'string' ? parseLocation(location) : location;
  return BACKENDS[parsed.scheme]!.open(parsed, opts);
}

/**
 * A location string safe to print: URL user info (access keys, passwords) becomes `***`, every query
 * value becomes `***` (presigned signatures, tokens), fragments are dropped. Plain paths are returned
 * unchanged. Works on strings that do not parse as URLs too.
 */
export function redactLocation(location: string): string {
  if (!URL_LIKE.test(location)) return location;
  try {
    const url = new URL(location);
    if (url.username !== '' || url.password !== '') {
      url.username = '***';
      url.password = '';
    }
    const keys = [...new Set(url.searchParams.keys())];
    for (const key of keys) url.searchParams.set(key, '***');
    url.hash = '';
    // URLSearchParams percent-encodes `*`; keep the mask readable.
    return url.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return location
      .replace(/(:\/\/)[^/?#]*@/, '$1***@')
      .replace(/([?&][^=&#\s]*=)[^&#\s]*/g, '$1***')
      .replace(/#.*$/, '');
  }
}
