// The one registry of repository locations: parses `--repo` into a backend and opens its Storage, and
// redacts credentials from any location string before it is printed. S3 settings come from the
// ZKVAULT_S3_* environment (which the command-line flags write, see commands/options.ts) unless given.
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { LocalStorage } from './local.js';
import type { RetryPolicy } from './retry.js';
import type { S3ServerSideEncryption, S3Settings } from './s3.js';
import type { Storage } from './storage.js';
import { redactLocation, URL_LIKE } from './redact.js';

export type RepositoryLocation =
  | { scheme: 'file'; /** Absolute directory path. */ path: string; redacted: string }
  | { scheme: 's3'; bucket: string; /** Key prefix without leading or trailing `/`, maybe ''. */ prefix: string; redacted: string };

export interface OpenStorageOptions {
  signal?: AbortSignal;
  /** Non-fatal notes: retries, a store without conditional writes. */
  warn?: (message: string) => void;
  /** S3 settings; each one given here wins over its ZKVAULT_S3_* variable in `env`. */
  s3?: S3SettingsInput;
  /** Where ZKVAULT_S3_* settings are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Retry policy for remote storage (default DEFAULT_RETRY_POLICY: 5 attempts, backoff from 250 ms). */
  retry?: Partial<RetryPolicy>;
}

/** S3 settings as given (flags, environment): strings, not yet checked. */
export type S3SettingsInput = { [K in keyof S3Settings]?: K extends 'forcePathStyle' ? boolean : string };

/** The environment variable of each S3 setting; the `--s3-*` flag of the same name sets it. */
export const S3_SETTING_ENV = {
  endpoint: 'ZKVAULT_S3_ENDPOINT',
  forcePathStyle: 'ZKVAULT_S3_FORCE_PATH_STYLE',
  region: 'ZKVAULT_S3_REGION',
  sse: 'ZKVAULT_S3_SSE',
  sseKmsKeyId: 'ZKVAULT_S3_SSE_KMS_KEY_ID',
  storageClass: 'ZKVAULT_S3_STORAGE_CLASS',
} as const satisfies Record<keyof S3Settings, string>;

const SSE_VALUES: Record<string, S3ServerSideEncryption> = { aes256: 'AES256', 'aws:kms': 'aws:kms', 'aws:kms:dsse': 'aws:kms:dsse' };

/** `1`, `true`, `yes`, `on` (or empty: the flag's mere presence) are true; `0`, `false`, `no`, `off` false. */
function parseBool(value: string, name: string): boolean {
  const v = value.trim().toLowerCase();
  if (['', '1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new UsageError(`${name}=${JSON.stringify(value)} is not a yes/no value`, { hint: 'use true or false' });
}

/**
 * Checks S3 settings and puts them in canonical form; a bad one is a UsageError naming its variable
 * (and so its flag). Endpoints carrying credentials are refused: credentials come from the AWS chain.
 */
export function checkS3Settings(given: S3SettingsInput): S3Settings {
  const out: S3Settings = {};
  if (given.endpoint !== undefined && given.endpoint.trim() !== '') {
    const raw = given.endpoint.trim();
    let url: URL;
    try {
      url = new URL(raw);
    } catch (err) {
      throw new UsageError(`S3 endpoint "${redactLocation(raw)}" is not a URL`, {
        hint: 'give --s3-endpoint as http(s)://host[:port], e.g. http://127.0.0.1:9000',
        cause: err,
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UsageError(`S3 endpoint "${redactLocation(raw)}" must be an http:// or https:// URL`, {
        hint: 'give --s3-endpoint as http(s)://host[:port], e.g. http://127.0.0.1:9000',
      });
    }
    if (url.username !== '' || url.password !== '') {
      throw new UsageError(`S3 endpoint "${redactLocation(raw)}" carries credentials`, {
        hint: 'S3 credentials come only from the standard AWS chain (environment, profile, instance role)',
      });
    }
    if (url.search !== '' || url.hash !== '')
      throw new UsageError(`S3 endpoint "${redactLocation(raw)}" has a query or fragment; give only scheme, host, port and path`);
    out.endpoint = raw.replace(/\/+$/, '');
  }
  if (given.forcePathStyle !== undefined) out.forcePathStyle = given.forcePathStyle;
  if (given.region !== undefined && given.region.trim() !== '') {
    const region = given.region.trim();
    if (!/^[a-z0-9-]+$/.test(region)) throw new UsageError(`"${region}" is not an S3 region name`, { hint: 'e.g. --s3-region eu-west-1' });
    out.region = region;
  }
  if (given.sse !== undefined && given.sse.trim() !== '') {
    const sse = SSE_VALUES[given.sse.trim().toLowerCase()];
    if (!sse)
      throw new UsageError(`unknown S3 server-side encryption "${given.sse}"`, {
        hint: 'use --s3-sse AES256 or --s3-sse aws:kms (with --s3-sse-kms-key-id for your own key)',
      });
    out.sse = sse;
  }
  if (given.sseKmsKeyId !== undefined && given.sseKmsKeyId.trim() !== '') {
    if (out.sse !== 'aws:kms' && out.sse !== 'aws:kms:dsse') {
      throw new UsageError('--s3-sse-kms-key-id needs --s3-sse aws:kms', { hint: 'add --s3-sse aws:kms (ZKVAULT_S3_SSE=aws:kms)' });
    }
    out.sseKmsKeyId = given.sseKmsKeyId.trim();
  }
  if (given.storageClass !== undefined && given.storageClass.trim() !== '') {
    const cls = given.storageClass.trim().toUpperCase();
    if (!/^[A-Z][A-Z0-9_]*$/.test(cls))
      throw new UsageError(`"${given.storageClass}" is not an S3 storage class`, {
        hint: 'e.g. STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR',
      });
    out.storageClass = cls;
  }
  return out;
}

/** S3 settings from ZKVAULT_S3_* variables (unset and empty ones are absent). */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): S3SettingsInput {
  const read = (k: keyof S3Settings) => {
    const v = env[S3_SETTING_ENV[k]];
    return v === undefined || v === '' ? undefined : v;
  };
  const pathStyle = read('forcePathStyle');
  return {
    endpoint: read('endpoint'),
    forcePathStyle: pathStyle === undefined ? undefined : parseBool(pathStyle, S3_SETTING_ENV.forcePathStyle),
    region: read('region'),
    sse: read('sse'),
    sseKmsKeyId: read('sseKmsKeyId'),
    storageClass: read('storageClass'),
  };
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
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
      // A repository is a directory; anything else at its path (or above it) is a mistyped --repo.
      for (let p = location.path; ; p = path.dirname(p)) {
        let st;
        try {
          st = statSync(p, { throwIfNoEntry: false });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
        }
        if (st && !st.isDirectory()) {
          throw new UsageError(`repository location ${location.path} is not a directory: ${p} is a file`, {
            hint: 'give --repo as a directory (created on the first backup), file:///path or s3://bucket/prefix',
          });
        }
        if (st || path.dirname(p) === p) break;
      }
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
    async open(location, opts) {
      if (location.scheme !== 's3') throw new Error('unreachable');
      const settings = checkS3Settings({ ...definedOnly(s3SettingsFromEnv(opts.env ?? process.env)), ...definedOnly(opts.s3) });
      // Loaded on demand: the AWS SDK costs a local repository nothing.
      const [{ S3Storage }, { withRetry, DEFAULT_RETRY_POLICY }] = await Promise.all([import('./s3.js'), import('./retry.js')]);
      const policy = { ...DEFAULT_RETRY_POLICY, ...definedOnly(opts.retry) };
      const storage = new S3Storage({
        bucket: location.bucket,
        prefix: location.prefix,
        ...settings,
        requestRetry: policy,
        warn: opts.warn,
      });
      return withRetry(storage, {
        ...policy,
        signal: opts.signal,
        onRetry: opts.warn
          ? (e) =>
              opts.warn!(
                `retrying ${e.what} in ${(e.delayMs / 1000).toFixed(1)}s (attempt ${e.attempt + 1} of ${e.attempts}): ${e.error.message}`,
              )
          : undefined,
      });
    },
  },
};

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
  const scheme = m[1].toLowerCase();
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
  return BACKENDS[parsed.scheme].open(parsed, opts);
}
