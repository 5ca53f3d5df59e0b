// Streamed puts to S3: a multipart upload (lib-storage's Upload) that only becomes visible once it is
// completed, every part retried while it is in memory, and nothing left behind when it fails.
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { CancelledError } from '../errors.js';
import { retrying, type RetryPolicy } from './retry.js';
import { sanitizedCause, sdkName } from './s3-errors.js';
import type { ObjectStat } from './storage.js';

/** What a streamed put needs of the store it writes to. */
export interface MultipartTarget {
  client: S3Client;
  bucket: string;
  partSize: number;
  queueSize: number;
  requestRetry?: RetryPolicy;
  warn?: (message: string) => void;
  writeParams(streamed: boolean): Partial<PutObjectCommandInput>;
  stat(key: string): Promise<ObjectStat | null>;
  mapError(err: unknown, action: string, key?: string): Error;
}

/** Thrown into the other requests of an upload once one has failed for good: final, never retried. */
class UploadStopped extends Error {
  constructor() {
    super('upload stopped: another request of it failed');
    this.name = 'UploadStopped';
  }
}

/**
 * Streams `body` as a multipart upload (lib-storage's Upload; a body smaller than one part becomes
 * one PutObject). Each part is held in memory while it is sent, so its requests are retried here with
 * `requestRetry`. The first request that fails for good stops everything: parts in flight are
 * cancelled, the body is destroyed and the upload is aborted, so nothing becomes visible. An abort
 * signal is honoured until CompleteMultipartUpload (or the single PutObject) is sent; from then on the
 * put runs to its end, as the commit can no longer be recalled.
 */
export async function putStream(
  s3: MultipartTarget,
  key: string,
  objectKey: string,
  body: Readable,
  signal: AbortSignal | undefined,
): Promise<{ size: number }> {
  if (signal?.aborted) {
    body.destroy();
    throw new CancelledError();
  }
  let size = 0;
  let failure: Error | undefined;
  let bodyError: unknown;
  /** Once the commit request has gone out, an abort no longer stops its retries: it may have landed. */
  let commitSent = false;
  const inFlight = new AbortController();
  const stop = () => {
    inFlight.abort();
    body.destroy();
  };
  signal?.addEventListener('abort', stop, { once: true });

  async function* counted(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of body) {
        if (signal?.aborted) throw new CancelledError();
        if (failure) throw new UploadStopped();
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        size += buf.length;
        yield buf;
      }
    } catch (err) {
      // The producer's own failure (or the premature close of a body we destroyed) passes through
      // unmapped: it is not the store's.
      if (!failure && !signal?.aborted) bodyError = err;
      throw err;
    }
    if (signal?.aborted) throw new CancelledError();
  }
  const source = Readable.from(counted(), { objectMode: false });

  const policy = s3.requestRetry ?? { attempts: 1, baseDelayMs: 0 };
  // lib-storage sends every request of the upload through this stand-in for the client.
  const sendPart = async (command: unknown): Promise<unknown> => {
    const cleanup = command instanceof AbortMultipartUploadCommand;
    const commit = command instanceof CompleteMultipartUploadCommand || command instanceof PutObjectCommand;
    try {
      return await retrying(
        `upload ${key}`,
        async (attempt) => {
          if (!cleanup) {
            if (signal?.aborted && !commitSent) throw new CancelledError();
            if (failure) throw new UploadStopped();
          }
          if (commit) commitSent = true;
          try {
            return await s3.client.send(command as PutObjectCommand, cleanup || commit ? {} : { abortSignal: inFlight.signal });
          } catch (err) {
            // A retried Complete whose first try did complete finds the upload gone: the object is
            // there with every byte we sent.
            if (command instanceof CompleteMultipartUploadCommand && attempt > 1 && sdkName(err) === 'NoSuchUpload') {
              const st = await s3.stat(key).catch(() => null);
              if (st && st.size === size) return {};
            }
            if (!cleanup && !commit && signal?.aborted) throw new CancelledError(undefined, { cause: sanitizedCause(err) });
            if (!cleanup && failure) throw new UploadStopped();
            throw s3.mapError(err, 'upload', key);
          }
        },
        {
          ...policy,
          signal: cleanup || commit ? undefined : signal,
          onRetry: (e) =>
            s3.warn?.(
              `retrying ${e.what} in ${(e.delayMs / 1000).toFixed(1)}s (attempt ${e.attempt + 1} of ${e.attempts}): ${e.error.message}`,
            ),
        },
      );
    } catch (err) {
      if (!cleanup && !failure && !(err instanceof CancelledError) && !(err instanceof UploadStopped)) {
        failure = err as Error;
        stop();
      }
      throw err;
    }
  };
  const uploadClient = { config: s3.client.config, send: sendPart } as unknown as S3Client;
  const upload = new Upload({
    client: uploadClient,
    params: { Bucket: s3.bucket, Key: objectKey, Body: source, ...s3.writeParams(true) },
    partSize: s3.partSize,
    queueSize: s3.queueSize,
    leavePartsOnError: false,
  });
  try {
    await upload.done();
    return { size };
  } catch (err) {
    source.destroy();
    body.destroy();
    if (signal?.aborted) throw new CancelledError(undefined, { cause: sanitizedCause(err) });
    if (failure) throw failure;
    if (bodyError !== undefined) throw bodyError instanceof Error ? bodyError : new Error('the upload body failed');
    throw s3.mapError(err, 'upload', key);
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
