// Storage on S3 or any S3-compatible store (MinIO, Ceph): one object per key under the repository's
// prefix, streams uploaded as multipart uploads that only become visible when completed, and the one
// place where AWS SDK errors become zkvault errors (redacted: never a key, signature or presigned URL).
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { CancelledError, UserError } from '../errors.js';
import { redactLocation } from './redact.js';
import { mapS3Error, sanitizedCause, sdkName, sdkStatus } from './s3-errors.js';
import { putStream } from './s3-upload.js';
import { type RetryPolicy } from './retry.js';
import {
  joinLocation,
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

// The SDK warns on every run that its releases from 2027 on will need Node 22. zkvault pins the SDK
// version, so the notice is for whoever upgrades it, not for the operator running a backup.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export type S3ServerSideEncryption = 'AES256' | 'aws:kms' | 'aws:kms:dsse';

export interface S3Settings {
  /** Endpoint URL of an S3-compatible store; default: AWS S3 for the region. */
  endpoint?: string;
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, Ceph). */
  forcePathStyle?: boolean;
  /** Default: the AWS configuration chain (AWS_REGION, the profile), else us-east-1. */
  region?: string;
  sse?: S3ServerSideEncryption;
  /** KMS key for `aws:kms`; default: the account's AWS managed key. */
  sseKmsKeyId?: string;
  /** Storage class of streamed objects (archives). Buffer puts (manifests, locks) stay STANDARD. */
  storageClass?: string;
}

export interface S3StorageOptions extends S3Settings {
  bucket: string;
  /** Key prefix of the repository, without leading or trailing `/`; may be ''. */
  prefix: string;
  /**
   * Retry policy for the requests of a streamed upload, which the retry wrapper cannot repeat (the
   * stream is read once) but which can be sent again while their part is in memory. Default: no retry.
   */
  requestRetry?: RetryPolicy;
  /** Part size of multipart uploads (default 8 MiB: up to ~78 GiB per object at S3's 10 000 parts). */
  partSize?: number;
  /** Parts in flight at once (default 4). Memory of an upload is about (queueSize + 2) × partSize. */
  queueSize?: number;
  /** Keys per ListObjectsV2 page (default 1000, S3's maximum). */
  listPageSize?: number;
  /**
   * putIfAbsent on a store without conditional writes: how long to wait after writing before reading
   * back who won (default 1 s). See putIfAbsent.
   */
  settleMs?: number;
  warn?: (message: string) => void;
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const WRITER_METADATA = 'zkvault-writer';

/** A promise-chain mutex per key: putIfAbsent calls on one key within this process run one at a time. */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, op: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

export class S3Storage implements Storage {
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly opts: S3StorageOptions;
  private readonly partSize: number;
  private readonly queueSize: number;
  private conditional: Promise<boolean> | undefined;
  private readonly keyQueue = new KeyedQueue();

  constructor(opts: S3StorageOptions) {
    if (opts.sseKmsKeyId !== undefined && opts.sse !== 'aws:kms' && opts.sse !== 'aws:kms:dsse') {
      throw new UserError('an S3 KMS key id needs server-side encryption aws:kms', { hint: 'add --s3-sse aws:kms' });
    }
    this.opts = opts;
    this.bucket = opts.bucket;
    this.prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
    this.partSize = Math.max(5 * 1024 * 1024, opts.partSize ?? DEFAULT_PART_SIZE);
    this.queueSize = Math.max(1, opts.queueSize ?? 4);
    this.client = new S3Client({
      region: opts.region ?? regionFromChain,
      ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle ?? false,
      // On AWS, a bucket in another region than the configured one answers 301 with its region; the
      // SDK then asks there. (Custom endpoints have one region.)
      followRegionRedirects: opts.endpoint === undefined,
      // One attempt per request: the retry policy lives in the retry wrapper (and, for the parts of a
      // streamed upload, in putStream), so attempts never multiply unseen.
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
    });
  }

  describe(): string {
    return `s3://${this.bucket}${this.prefix ? '/' + this.prefix : ''}`;
  }

  /** The endpoint requests go to, for messages. */
  private endpointName(): string {
    return this.opts.endpoint !== undefined
      ? redactLocation(this.opts.endpoint).replace(/\/+$/, '')
      : `AWS S3${this.opts.region ? ` (${this.opts.region})` : ''}`;
  }

  private objectKey(key: string): string {
    validateKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private get base(): string {
    return this.prefix ? `${this.prefix}/` : '';
  }

  /** Parameters every new object gets: encryption, and for streamed objects the storage class. */
  private writeParams(streamed: boolean): Partial<PutObjectCommandInput> {
    const p: Partial<PutObjectCommandInput> = {};
    if (this.opts.sse) p.ServerSideEncryption = this.opts.sse;
    if (this.opts.sseKmsKeyId) p.SSEKMSKeyId = this.opts.sseKmsKeyId;
    if (streamed && this.opts.storageClass) p.StorageClass = this.opts.storageClass as StorageClass;
    return p;
  }

  /**
   * Turns an AWS SDK or network failure into zkvault's error for it; anything else (our own errors, a
   * failing upload body) is returned unchanged. `action` and `key` say what was being done.
   */
  mapError(err: unknown, action: string, key?: string): Error {
    return mapS3Error(err, action, { describe: this.describe(), endpoint: this.endpointName(), bucket: this.bucket }, key);
  }

  /** Runs one SDK call, its failure mapped. */
  private async call<T>(op: () => Promise<T>, action: string, key?: string): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw this.mapError(err, action, key);
    }
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    const objectKey = this.objectKey(key);
    const { signal } = opts;
    if (!Buffer.isBuffer(body)) {
      const target = {
        client: this.client,
        bucket: this.bucket,
        partSize: this.partSize,
        queueSize: this.queueSize,
        requestRetry: this.opts.requestRetry,
        warn: this.opts.warn,
        writeParams: (streamed: boolean) => this.writeParams(streamed),
        stat: (k: string) => this.stat(k),
        mapError: (err: unknown, action: string, k?: string) => this.mapError(err, action, k),
      };
      return putStream(target, key, objectKey, body, signal);
    }
    // A single PutObject is the commit itself: an abort is honoured until it is sent, not during it
    // (an abort in flight could not tell whether the server committed).
    if (signal?.aborted) throw new CancelledError();
    await this.call(
      () =>
        this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: body, ContentLength: body.length, ...this.writeParams(false) }),
        ),
      'write',
      key,
    );
    return { size: body.length };
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const objectKey = this.objectKey(key);
    const { start, end } = normalizeRange(opts);
    const ranged = start > 0 || end !== Number.POSITIVE_INFINITY;
    const Range = ranged ? `bytes=${start}-${end === Number.POSITIVE_INFINITY ? '' : end}` : undefined;
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, Range }));
    } catch (err) {
      if (sdkName(err) === 'NoSuchKey' || (sdkStatus(err) === 404 && sdkName(err) !== 'NoSuchBucket')) {
        throw new StorageNotFoundError(this.describe(), key, { cause: sanitizedCause(err) });
      }
      // 416: the object exists and the range starts at or past its end.
      if (sdkStatus(err) === 416 || sdkName(err) === 'InvalidRange') return Readable.from([]);
      throw this.mapError(err, 'read', key);
    }
    const body = res.Body as unknown as Readable | undefined;
    if (!body) return Readable.from([]);
    if (!ranged) return this.mappedStream(body, key);
    // HTTP lets a server serve more than the range asked for (the whole object with 200, or a wider
    // range); Content-Range says what was served, and its total is authoritative: a range over an
    // empty object is empty whatever the server made of it.
    const served = /^bytes (\d+)-(\d+)\/(\d+|\*)\s*$/.exec(res.ContentRange ?? '');
    const servedFrom = res.$metadata.httpStatusCode === 206 && served ? Number(served[1]) : 0;
    const total = served && served[3] !== '*' ? Number(served[3]) : res.$metadata.httpStatusCode === 200 ? res.ContentLength : undefined;
    if ((total !== undefined && start >= total) || servedFrom > start) {
      body.destroy();
      if (servedFrom > start)
        throw new UserError(
          `${joinLocation(this.describe(), key)}: asked for bytes from ${start}, ${this.endpointName()} served from ${servedFrom}`,
        );
      return Readable.from([]);
    }
    return this.mappedStream(body, key, {
      skip: start - servedFrom,
      limit: end === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : end - start + 1,
    });
  }

  /**
   * The body of a response, its failures (a connection dropped mid-read) mapped like any other, and
   * cut to `trim` (bytes to skip, then at most `limit`) when the server served more than asked.
   */
  private mappedStream(body: Readable, key: string, trim?: { skip: number; limit: number }): Readable {
    let skip = trim?.skip ?? 0;
    let left = trim?.limit ?? Number.POSITIVE_INFINITY;
    let complete = false;
    const out = new Transform({
      readableHighWaterMark: 1 << 20,
      transform(chunk: Buffer, _encoding, callback) {
        if (complete) return callback();
        let piece = chunk;
        if (skip > 0) {
          if (piece.length <= skip) {
            skip -= piece.length;
            return callback();
          }
          piece = piece.subarray(skip);
          skip = 0;
        }
        if (piece.length >= left) {
          piece = piece.subarray(0, left);
          left = 0;
          complete = true;
          callback(null, piece);
          // Everything asked for is here: stop reading what the server sends beyond it.
          body.unpipe(out);
          body.destroy();
          out.end();
          return;
        }
        left -= piece.length;
        callback(null, piece);
      },
    });
    body.on('error', (err) => {
      if (!complete) out.destroy(this.mapError(err, 'read', key));
    });
    // A connection that drops before the caller starts reading must not be an uncaught 'error' event:
    // the error stays on the stream (`errored`), and reading it, by for-await or pipeline, throws it.
    out.on('error', () => {});
    out.on('close', () => body.destroy());
    body.pipe(out);
    return out;
  }

  async getBuffer(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.get(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async stat(key: string): Promise<ObjectStat | null> {
    const objectKey = this.objectKey(key);
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { size: h.ContentLength ?? 0, modified: h.LastModified ?? new Date(0) };
    } catch (err) {
      // HEAD answers have no body: a missing key and a missing bucket are both a bare 404. A missing
      // bucket is reported by the first get or list.
      if (sdkStatus(err) === 404 || sdkName(err) === 'NotFound' || sdkName(err) === 'NoSuchKey') return null;
      throw this.mapError(err, 'read', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    validatePrefix(prefix);
    const base = this.base;
    let token: string | undefined;
    do {
      const page = await this.call(
        () =>
          this.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: base + prefix,
              ContinuationToken: token,
              MaxKeys: this.opts.listPageSize,
            }),
          ),
        'list',
        prefix,
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(base)) continue;
        const key = o.Key.slice(base.length);
        try {
          validateKey(key); // skips our own dot-named bookkeeping and anything no key can name ("dir/" markers)
        } catch {
          continue;
        }
        yield { key, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async remove(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (sdkName(err) === 'NoSuchKey' || (sdkStatus(err) === 404 && sdkName(err) !== 'NoSuchBucket')) return;
      throw this.mapError(err, 'remove', key);
    }
  }

  /**
   * With conditional writes (AWS S3 since 2024, MinIO, Ceph RGW): one PutObject with
   * `If-None-Match: *`; 412 means the key exists. Exactly one of any number of concurrent callers
   * wins, across processes and hosts.
   *
   * Without them (s3rver, older S3-compatible stores ignore the header; see conditionalWrites):
   * check, write with a random writer tag, wait `settleMs`, read the tag back — the last writer's tag
   * is the one that stays, so of writers whose check-then-write gap is shorter than `settleMs`, only
   * one sees its own tag. That is weaker: a writer stalled between its check and its write for longer
   * can still overwrite a winner. Within this process calls on one key are serialized, so there
   * exactly one wins.
   */
  async putIfAbsent(key: string, body: Buffer): Promise<boolean> {
    const objectKey = this.objectKey(key);
    return this.keyQueue.run(key, async () => {
      if (await this.conditionalWrites()) {
        try {
          await this.client.send(
            new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: body, IfNoneMatch: '*', ...this.writeParams(false) }),
          );
          return true;
        } catch (err) {
          if (sdkStatus(err) === 412 || sdkName(err) === 'PreconditionFailed') return false;
          throw this.mapError(err, 'create', key);
        }
      }
      if (await this.stat(key)) return false;
      const tag = randomBytes(12).toString('hex');
      await this.call(
        () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: objectKey,
              Body: body,
              Metadata: { [WRITER_METADATA]: tag },
              ...this.writeParams(false),
            }),
          ),
        'create',
        key,
      );
      await delay(this.opts.settleMs ?? 1000);
      try {
        const h = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
        return h.Metadata?.[WRITER_METADATA] === tag;
      } catch (err) {
        if (sdkStatus(err) === 404) return false;
        throw this.mapError(err, 'create', key);
      }
    });
  }

  /**
   * Whether the store honours `If-None-Match: *` on PutObject, found out once per storage: a probe
   * object (dot-named, so never listed) is written, then written again conditionally, then removed.
   * A store that ignores the header overwrites it; one that honours it answers 412.
   */
  conditionalWrites(): Promise<boolean> {
    this.conditional ??= this.probeConditionalWrites().catch((err: unknown) => {
      this.conditional = undefined;
      throw err;
    });
    return this.conditional;
  }

  private async probeConditionalWrites(): Promise<boolean> {
    const probe = `${this.base}.zkvault-probe-${randomBytes(8).toString('hex')}`;
    const action = 'write (probing for conditional writes)';
    await this.call(
      () =>
        this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: probe, Body: Buffer.from('probe'), ...this.writeParams(false) })),
      action,
    );
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: probe, Body: Buffer.from('probe'), IfNoneMatch: '*', ...this.writeParams(false) }),
      );
      this.opts.warn?.(
        `${this.describe()}: the store ignores conditional writes (If-None-Match); the repository lock is taken by write-then-check, which two runs starting within the same second may both pass`,
      );
      return false;
    } catch (err) {
      if (sdkStatus(err) === 412 || sdkName(err) === 'PreconditionFailed') return true;
      if (sdkStatus(err) === 501 || sdkName(err) === 'NotImplemented') return false;
      throw this.mapError(err, action);
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: probe })).catch(() => undefined);
    }
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }
}

/** The region of the AWS configuration chain (AWS_REGION, the profile's region), else us-east-1. */
let chainRegion: Promise<string> | undefined;
function regionFromChain(): Promise<string> {
  chainRegion ??= (async () => {
    const probe = new S3Client({});
    try {
      return await probe.config.region();
    } catch {
      return 'us-east-1';
    } finally {
      probe.destroy();
    }
  })();
  return chainRegion;
}
