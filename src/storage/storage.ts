// The storage seam: a flat key → object store that every repository backend (local disk, S3) implements
// with the same contract, checked by one shared conformance suite (test/support/storage-conformance.ts).
import type { Readable } from 'node:stream';
import { ConnectionError, NotFoundError, UsageError, type ErrorOptions } from '../errors.js';

/**
 * Keys are `/`-separated, relative to the backend's root (a directory, a bucket prefix):
 * - non-empty, no leading or trailing `/`, no empty segment;
 * - printable ASCII only (0x21–0x7e, no space, no `\`), so that lexicographic order is the same as
 *   S3's UTF-8 byte order;
 * - no segment starts with `.`: dot-names are reserved for a backend's own bookkeeping (temp files of
 *   an in-flight put), which is how `list` can promise never to show them.
 * Every method throws a UsageError for a key outside this grammar (a programming error, not damage).
 */
export type StorageKey = string;

export interface PutOptions {
  /**
   * Aborting rejects the put with CancelledError; no object becomes visible and the body is
   * destroyed.
   */
  signal?: AbortSignal;
}

export interface GetOptions {
  /** First byte to return (default 0). */
  start?: number;
  /** Last byte to return, inclusive (default: the object's last byte). */
  end?: number;
}

export interface ObjectStat {
  size: number;
  modified: Date;
}

export interface ListedObject extends ObjectStat {
  key: StorageKey;
}

/**
 * A backend-neutral object store. All methods are safe to call concurrently on different keys.
 * Errors other than the ones documented (permissions, network, full disk) are thrown as the backend's
 * mapped error (AuthError, ConnectionError) or as the underlying I/O error.
 */
export interface Storage {
  /**
   * Stores `body` under `key`, replacing any existing object, and resolves with the number of bytes
   * stored.
   *
   * Atomic visibility: until the put resolves, readers (get, stat, list) see either no object or the
   * previous one, never a partial one; after it resolves they see the whole new object. A put that
   * fails or is aborted — including when `body` emits an error midway — leaves no new object and no
   * visible temporary key, and destroys `body`.
   * (local: written to a dot-named temp file in the same directory, fsynced, renamed over the key,
   * then the directory is fsynced. S3: a single PutObject, or a multipart upload that is only
   * completed after the last part succeeded and is aborted otherwise.)
   *
   * `body` is consumed as a stream: implementations must not hold the whole of it in memory (objects
   * can be many GB), except a test fake.
   *
   * Retrying (see withRetry in retry.ts): a Buffer body can be sent again, so a put of a Buffer is
   * retried whole. A stream is read exactly once and cannot be rewound, so a put of a stream is never
   * repeated by the wrapper; a backend that sends a stream in pieces retries each piece itself while
   * the piece is still in memory (S3: every part of a multipart upload, with the same retry policy).
   */
  put(key: StorageKey, body: Readable | Buffer, opts?: PutOptions): Promise<{ size: number }>;

  /**
   * Opens the object for reading. A missing key rejects with {@link StorageNotFoundError} (before
   * any stream is returned). With a range, returns bytes `start..end` inclusive; `end` past the
   * object's last byte is clamped to it and a range starting at or past the end yields an empty
   * stream (S3 answers such a range with 416, which a backend turns into an empty stream).
   * `start` must be ≥ 0 and `end` ≥ `start` (UsageError otherwise).
   * The caller must consume or destroy the stream.
   */
  get(key: StorageKey, opts?: GetOptions): Promise<Readable>;

  /** The whole object in memory, for small objects (manifests, locks). Missing key: as `get`. */
  getBuffer(key: StorageKey): Promise<Buffer>;

  /** Size and modification time of an object, or null when there is none at `key`. */
  stat(key: StorageKey): Promise<ObjectStat | null>;

  /**
   * Every object whose key starts with `prefix` (a plain string prefix, as S3's ListObjectsV2:
   * `'a/'` never yields `'ab/x'`, while `'a'` yields both `'a/x'` and `'ab/x'`), in ascending
   * lexicographic key order. `''` lists everything. Never yields a backend's temporary keys or
   * partial objects. Objects put or removed while the listing runs may or may not appear.
   * An empty or missing root yields nothing (not an error).
   */
  list(prefix: string): AsyncIterable<ListedObject>;

  /** Deletes the object at `key`. Idempotent: removing a missing key succeeds. */
  remove(key: StorageKey): Promise<void>;

  /**
   * Creates the object only if no object exists at `key`, atomically with respect to every other
   * `putIfAbsent` on the same key: of any number of concurrent callers exactly one gets `true`.
   * Visibility is atomic as for `put` (a reader never sees a partial body). Resolves `false`, writing
   * nothing, when the key already exists.
   * (local: the body is written to a temp file and hard-linked to the key, which fails if it exists —
   * O_EXCL semantics with the content complete when it appears. S3: a conditional PutObject with
   * `If-None-Match: *`; 412 Precondition Failed means `false`.)
   */
  putIfAbsent(key: StorageKey, body: Buffer): Promise<boolean>;

  /**
   * Where this storage lives, for messages: a path or a URL with credentials and query secrets
   * removed (see redactLocation). Never contains a secret.
   */
  describe(): string;
}

/**
 * A failure that may well succeed when tried again: throttling (429, SlowDown), a 5xx answer, a dropped,
 * reset or refused connection, a timeout. Backends throw it with a redacted message; withRetry retries
 * it; when the retries run out it reaches the user as what it is, a ConnectionError (exit 13).
 */
export class StorageTransientError extends ConnectionError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StorageTransientError';
  }
}

/** The object at `key` does not exist. A NotFoundError (exit 10) that names the storage and the key. */
export class StorageNotFoundError extends NotFoundError {
  readonly key: string;
  readonly storage: string;

  constructor(storage: string, key: string, options?: ErrorOptions) {
    super(`${joinLocation(storage, key)}: no such object`, options);
    this.name = 'StorageNotFoundError';
    this.key = key;
    this.storage = storage;
  }
}

/** The object at `key`, or null if it does not exist (any other failure is thrown). */
export async function getBufferIfExists(storage: Storage, key: StorageKey): Promise<Buffer | null> {
  try {
    return await storage.getBuffer(key);
  } catch (err) {
    if (err instanceof StorageNotFoundError) return null;
    throw err;
  }
}

const KEY_SEGMENT = /^[\x21-\x7e]+$/;

/** Throws a UsageError unless `key` follows the key grammar of {@link StorageKey}. */
export function validateKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new UsageError('storage key must not be empty');
  for (const segment of key.split('/')) {
    if (segment.length === 0 || !KEY_SEGMENT.test(segment) || segment.startsWith('.') || segment.includes('\\')) {
      throw new UsageError(`invalid storage key "${key}": segments must be non-empty printable ASCII, not starting with "."`);
    }
  }
}

/** Throws a UsageError unless `prefix` is `''` or a valid key prefix (a key, or a key plus `/`). */
export function validatePrefix(prefix: string): void {
  if (prefix === '') return;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** Validates a get range; returns the inclusive bounds with `end` possibly Infinity. */
export function normalizeRange(opts: GetOptions | undefined): { start: number; end: number } {
  const start = opts?.start ?? 0;
  const end = opts?.end ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(start) || start < 0) throw new UsageError(`invalid range start ${start}`);
  if (end !== Number.POSITIVE_INFINITY && (!Number.isInteger(end) || end < start)) {
    throw new UsageError(`invalid range end ${end} (start ${start})`);
  }
  return { start, end };
}

/** `describe()` plus a key, for messages: `/srv/repo/archives/x.tar`, `s3://bucket/p/archives/x.tar`. */
export function joinLocation(described: string, key: string): string {
  return described.endsWith('/') ? described + key : `${described}/${key}`;
}
