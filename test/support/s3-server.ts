// A real S3-compatible server for tests and the benchmark: s3rver, started in this process on a free
// loopback port with a temp directory and one bucket. Also runs the built CLI asynchronously, which
// tests of an in-process server need (a synchronous spawn would block the server it talks to).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import path from 'node:path';
import S3rver from 's3rver';
import { makeTempDir, removeTempDir } from './tmp.js';
import { BIN, REPO_ROOT, type CliResult } from './cli.js';

/** s3rver's built-in account: it checks the access key id (not the SigV4 signature). */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  bucket: string;
  /** s3rver's data directory: `<bucket>/…` holds objects, `<bucket>/._S3rver_uploads` multipart uploads in progress. */
  directory: string;
  /** The AWS chain's environment for this server: credentials and region. */
  env: Record<string, string>;
  /** The ZKVAULT_S3_* environment that points zkvault at this server. */
  zkvaultEnv: Record<string, string>;
  stop(): Promise<void>;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * s3rver walks its directories in readdir order, so its listings are not in S3's UTF-8 byte order
 * (and `a-b` vs `a/x` interleave as directories, not as keys), which also breaks its pagination.
 * S3 guarantees that order, so the harness makes s3rver list the way S3 does: every match, sorted
 * by key bytes, then start-after, delimiter and max-keys applied as S3 applies them.
 */
function listLikeS3(server: S3rver): void {
  const store = server.store;
  const original = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    const { delimiter = '', startAfter = '', prefix = '', maxKeys = Number.POSITIVE_INFINITY } = options;
    const all = await original(bucket, { prefix, maxKeys: Number.POSITIVE_INFINITY });
    const sorted = all.objects.filter((o) => compareBytes(o.key, startAfter) > 0).sort((a, b) => compareBytes(a.key, b.key));
    const objects: typeof sorted = [];
    const commonPrefixes = new Set<string>();
    let isTruncated = false;
    for (const o of sorted) {
      const idx = delimiter ? o.key.slice(prefix.length).indexOf(delimiter) : -1;
      if (idx !== -1) {
        commonPrefixes.add(o.key.slice(0, prefix.length + idx + 1));
        continue;
      }
      if (objects.length >= maxKeys) {
        isTruncated = true;
        break;
      }
      objects.push(o);
    }
    return { objects, commonPrefixes: [...commonPrefixes].sort(compareBytes), isTruncated };
  };
}

/**
 * Multipart uploads as S3 ends them. s3rver has no AbortMultipartUpload (it answers 405), so an aborted
 * upload's parts would stay; and it answers a Complete or Abort of an upload that is gone with 500
 * rather than S3's 404 NoSuchUpload. The harness does what S3 does: DELETE /bucket/key?uploadId=X drops
 * the upload (204); Abort, Complete and UploadPart of an unknown upload answer 404 NoSuchUpload.
 */
function endUploadsLikeS3(server: S3rver, directory: string): void {
  const http = (server as unknown as { httpServer: Server }).httpServer;
  const s3rverHandlers = http.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  http.removeAllListeners('request');
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://s3rver');
    const uploadId = url.searchParams.get('uploadId');
    const bucket = decodeURIComponent(url.pathname.split('/')[1] ?? '');
    const dir = uploadId === null ? '' : path.join(directory, bucket, '._S3rver_uploads', path.basename(uploadId));
    // s3rver would even recreate a gone upload's directory for a late UploadPart.
    const ends = req.method === 'DELETE' || ((req.method === 'POST' || req.method === 'PUT') && !existsSync(dir));
    if (uploadId === null || !ends) {
      for (const h of s3rverHandlers) h(req, res);
      return;
    }
    req.resume();
    const answer = (status: number, code?: string, message?: string) => {
      const body = code ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>` : '';
      res.writeHead(status, code ? { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) } : {});
      res.end(body);
    };
    void (async () => {
      if (!existsSync(dir)) return answer(404, 'NoSuchUpload', 'The specified upload does not exist.');
      // A part still being written races with the removal; S3 says to abort again in that case.
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      answer(204);
    })().catch((err: Error) => answer(500, 'InternalError', err.message));
  });
}

/**
 * s3rver seals its ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node ≥ 17) no
 * longer offers, so every truncated listing fails with 500. The token is opaque to clients: the harness
 * lets s3rver seal it with triple DES under the same key instead. Only the name 'des' is affected.
 */
let desPatched = false;
function letS3rverSealTokens(): void {
  if (desPatched) return;
  desPatched = true;
  const { createCipheriv, createDecipheriv } = crypto;
  const widen = (key: crypto.CipherKey) =>
    Buffer.concat([Buffer.from(key as Buffer), Buffer.from(key as Buffer), Buffer.from(key as Buffer)]);
  const patched = crypto as unknown as Record<string, unknown>;
  patched.createCipheriv = (alg: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, opts?: unknown) =>
    alg === 'des' ? createCipheriv('des-ede3-cbc', widen(key), iv) : createCipheriv(alg, key, iv, opts as never);
  patched.createDecipheriv = (alg: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, opts?: unknown) =>
    alg === 'des' ? createDecipheriv('des-ede3-cbc', widen(key), iv) : createDecipheriv(alg, key, iv, opts as never);
}

/** Starts s3rver on 127.0.0.1 (a free port) with an empty bucket. */
export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3TestServer> {
  const bucket = opts.bucket ?? 'zkvault-test';
  const directory = await makeTempDir('zkvault-s3rver-');
  letS3rverSealTokens();
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  listLikeS3(server);
  const address = await server.run();
  endUploadsLikeS3(server, directory);
  const endpoint = `http://127.0.0.1:${address.port}`;
  let stopped = false;
  return {
    endpoint,
    port: address.port,
    bucket,
    directory,
    env: { ...S3RVER_CREDENTIALS, AWS_REGION: 'us-east-1' },
    zkvaultEnv: { ZKVAULT_S3_ENDPOINT: endpoint, ZKVAULT_S3_FORCE_PATH_STYLE: 'true' },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      await removeTempDir(directory);
    },
  };
}

/**
 * Points this process's AWS chain at s3rver's account (environment credentials come first in the
 * chain, so a developer's own profile is never used), and returns a function that restores it.
 */
export function useS3rverCredentials(): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries({ ...S3RVER_CREDENTIALS, AWS_REGION: 'us-east-1' })) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** Runs the built CLI without blocking this process's event loop (where s3rver and proxies run). */
export function runCliAsync(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
