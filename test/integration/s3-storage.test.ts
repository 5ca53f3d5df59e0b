// S3Storage against a real S3-compatible server (s3rver, in-process): the shared conformance suite, run
// (1) on the bare backend with 2-key list pages, on a server without conditional writes (s3rver's own
// behaviour), and (2) on the storage the CLI opens for s3:// (retry wrapper included) through a proxy
// that gives s3rver S3's conditional writes. Then what only S3 can show: prefix isolation between
// repositories in one bucket, no multipart upload left behind, storage class and encryption headers.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runStorageConformance } from '../support/storage-conformance.js';
import { startS3Server, useS3rverCredentials, type S3TestServer } from '../support/s3-server.js';
import { FaultProxy, S3_REQUESTS } from '../support/fault-proxy.js';
import { S3Storage } from '../../src/storage/s3.js';
import { withRetry } from '../../src/storage/retry.js';
import { openStorage } from '../../src/storage/location.js';
import type { Storage } from '../../src/storage/storage.js';

let server: S3TestServer;
let conditional: FaultProxy;
let restoreCredentials: () => void;
let n = 0;

before(async () => {
  restoreCredentials = useS3rverCredentials();
  server = await startS3Server();
  conditional = await FaultProxy.start(server.endpoint, { conditionalWrites: true });
});

after(async () => {
  await conditional?.stop();
  await server?.stop();
  restoreCredentials?.();
});

/** One at a time: s3rver prunes empty directories on delete, and concurrent deletes trip over that. */
async function emptyPrefix(storage: Storage): Promise<void> {
  const keys: string[] = [];
  for await (const o of storage.list('')) keys.push(o.key);
  for (const k of keys) await storage.remove(k);
}

/** Multipart uploads s3rver holds open (parts uploaded, neither completed nor aborted). */
function openUploads(): string[] {
  const dir = path.join(server.directory, server.bucket, '._S3rver_uploads');
  return existsSync(dir) ? readdirSync(dir) : [];
}

function bare(prefix: string, extra: Partial<ConstructorParameters<typeof S3Storage>[0]> = {}): S3Storage {
  return new S3Storage({ bucket: server.bucket, prefix, endpoint: server.endpoint, forcePathStyle: true, settleMs: 200, ...extra });
}

describe('bare S3Storage on s3rver (no conditional writes; 2 keys per list page)', () => {
  runStorageConformance('s3 (s3rver, bare, paginated)', async () => {
    const storage = bare(`conformance-bare/${++n}`, { listPageSize: 2 });
    return {
      storage,
      cleanup: async () => {
        await emptyPrefix(storage);
        storage.destroy();
      },
    };
  });
});

const notes: string[] = [];

describe('s3:// as the CLI opens it (retry wrapper) on s3rver with conditional writes', () => {
  runStorageConformance('s3 (s3rver + conditional writes, via openStorage)', async () => {
    const storage = await openStorage(`s3://${server.bucket}/conformance-cli/${++n}`, {
      s3: { endpoint: conditional.endpoint, forcePathStyle: true },
      env: {},
      warn: (m) => notes.push(m),
    });
    return { storage, cleanup: () => emptyPrefix(storage) };
  });
});

test('the wrapped run passed on its own merits: no retry was needed, no warning given', () => {
  assert.deepEqual(notes, []);
});

test('conditional writes are detected: s3rver ignores If-None-Match, the proxy honours it as S3 does', async () => {
  const plain = bare('probe-a');
  const withConditions = new S3Storage({ bucket: server.bucket, prefix: 'probe-b', endpoint: conditional.endpoint, forcePathStyle: true });
  assert.equal(await plain.conditionalWrites(), false);
  assert.equal(await withConditions.conditionalWrites(), true);
  // The probe object is dot-named and removed again: nothing of it is listed.
  for (const s of [plain, withConditions]) {
    assert.deepEqual(await keys(s, ''), []);
    s.destroy();
  }
});

async function keys(s: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of s.list(prefix)) out.push(o.key);
  return out;
}

test('without conditional writes, separate storages (as separate processes) racing putIfAbsent: exactly one wins', async () => {
  const racers = Array.from({ length: 6 }, () => bare('race-across', { settleMs: 500 }));
  // As the CLI runs them: behind the retry wrapper. s3rver answers 500 when it reads an object another
  // request is writing at that moment, a transient failure the wrapper retries (real S3 does not).
  const retrying = racers.map((s) => withRetry(s, { attempts: 5, baseDelayMs: 20, maxDelayMs: 200 }));
  // Equal-length bodies: s3rver writes a replaced object in place, and unequal lengths could interleave.
  const results = await Promise.all(retrying.map((s, i) => s.putIfAbsent('locks/backup.json', Buffer.from(`writer ${i}`))));
  assert.equal(results.filter(Boolean).length, 1, `winners: ${results.join(',')}`);
  assert.match((await racers[0].getBuffer('locks/backup.json')).toString(), /^writer \d$/);
  await emptyPrefix(racers[0]);
  for (const s of racers) s.destroy();
});

test('prefix isolation: repositories s3://b/a, s3://b/a2 and s3://b/a/b never see each other', async () => {
  const a = bare('iso/a');
  const a2 = bare('iso/a2');
  const ab = bare('iso/a/b');
  const root = bare('');
  await a.put('x', Buffer.from('a'));
  await a2.put('x', Buffer.from('a2'));
  await ab.put('x', Buffer.from('ab'));
  assert.deepEqual(await keys(a, ''), ['b/x', 'x'], 'a nested prefix is, to S3, keys under the outer one');
  assert.deepEqual(await keys(a2, ''), ['x']);
  assert.deepEqual(await keys(ab, ''), ['x']);
  assert.equal((await a2.getBuffer('x')).toString(), 'a2');
  assert.equal(await a.stat('x').then((s) => s?.size), 1);
  assert.ok((await keys(root, 'iso/')).includes('iso/a2/x'));
  assert.equal(a.describe(), `s3://${server.bucket}/iso/a`);
  assert.equal(root.describe(), `s3://${server.bucket}`);
  for (const s of [a, a2, ab]) await emptyPrefix(s);
  for (const s of [a, a2, ab, root]) s.destroy();
});

test('a streamed put that fails after several parts aborts its multipart upload: no object, no upload left', async () => {
  const s = bare('abort-upload', { partSize: 5 * 1024 * 1024, queueSize: 2 });
  let sent = 0;
  const failing = new Readable({
    read() {
      if (sent >= 17 * 1024 * 1024) {
        this.destroy(new Error('producer failed after 17 MiB'));
        return;
      }
      sent += 256 * 1024;
      this.push(Buffer.alloc(256 * 1024, 3));
    },
  });
  await assert.rejects(s.put('big', failing), /producer failed after 17 MiB/);
  assert.equal(await s.stat('big'), null);
  assert.deepEqual(openUploads(), []);

  const controller = new AbortController();
  const body = new PassThrough();
  const pending = s.put('aborted', body, { signal: controller.signal });
  for (let i = 0; i < 48; i++) body.write(Buffer.alloc(256 * 1024, 4)); // 12 MiB: two parts on their way
  await new Promise((r) => setTimeout(r, 200));
  controller.abort();
  await assert.rejects(pending, { name: 'CancelledError' });
  assert.equal(await s.stat('aborted'), null);
  assert.deepEqual(openUploads(), []);
  s.destroy();
});

test('encryption and storage class go on every new object; the class only on streamed ones (archives)', async () => {
  const recorder = await FaultProxy.start(server.endpoint);
  try {
    const s = new S3Storage({
      bucket: server.bucket,
      prefix: 'sse',
      endpoint: recorder.endpoint,
      forcePathStyle: true,
      sse: 'aws:kms',
      sseKmsKeyId: 'alias/zkvault-test',
      storageClass: 'STANDARD_IA',
      partSize: 5 * 1024 * 1024,
    });
    await s.put('manifest.json', Buffer.from('{}'));
    await s.put('archive.tar', Readable.from([Buffer.alloc(6 * 1024 * 1024, 1)]));
    await s.put('small.tar', Readable.from([Buffer.from('small stream')]));
    const puts = recorder.requests.filter((r) => S3_REQUESTS.putObject(r) || S3_REQUESTS.createMultipart(r));
    assert.equal(puts.length, 3, puts.map((r) => `${r.method} ${r.path}`).join(', '));
    for (const r of puts) {
      assert.equal(r.headers['x-amz-server-side-encryption'], 'aws:kms', r.path);
      assert.equal(r.headers['x-amz-server-side-encryption-aws-kms-key-id'], 'alias/zkvault-test', r.path);
    }
    const classOf = (p: string) => puts.find((r) => r.path.endsWith(p))?.headers['x-amz-storage-class'];
    assert.equal(classOf('/sse/manifest.json'), undefined);
    assert.equal(classOf('/sse/archive.tar'), 'STANDARD_IA');
    assert.equal(classOf('/sse/small.tar'), 'STANDARD_IA');
    assert.ok(recorder.requests.some(S3_REQUESTS.uploadPart), 'the 6 MiB stream went as a multipart upload');
    await emptyPrefix(s);
    s.destroy();
  } finally {
    await recorder.stop();
  }
});
