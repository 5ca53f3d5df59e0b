// Backups into S3 while the store or the network misbehaves, through the repository as the services use
// it (s3:// opened from ZKVAULT_S3_* like the CLI does), with a fault proxy in front of s3rver. Every
// case ends either with the backup committed and restorable, or with a clean failure: a mapped error,
// nothing listed, no archive, no multipart upload left open, the lock released. Never a listed backup
// that cannot be restored.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CancelledError, ConnectionError, LockedError } from '../../src/errors.js';
import { openRepository, type StorageRepository } from '../../src/repository/repository.js';
import type { BackupManifest, BackupWriter } from '../../src/repository/types.js';
import { openStorage } from '../../src/storage/location.js';
import type { Storage } from '../../src/storage/storage.js';
import { FaultProxy, S3_REQUESTS, type ProxiedRequest } from '../support/fault-proxy.js';
import { startS3Server, useS3rverCredentials, type S3TestServer } from '../support/s3-server.js';
import { makeTempDir } from '../support/tmp.js';

const MEMBER_BYTES = 20 * 1024 * 1024; // three 8 MiB parts
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: S3TestServer;
let proxy: FaultProxy;
let restoreCredentials: () => void;
let tempDir = '';
let savedEnv: Record<string, string | undefined> = {};
let n = 0;
let location = '';
let warnings: string[] = [];
const member = randomBytes(MEMBER_BYTES);

before(async () => {
  restoreCredentials = useS3rverCredentials();
  server = await startS3Server();
  proxy = await FaultProxy.start(server.endpoint, { conditionalWrites: true });
  tempDir = await makeTempDir('zkvault-s3-faults-');
  savedEnv = { ZKVAULT_S3_ENDPOINT: process.env.ZKVAULT_S3_ENDPOINT, ZKVAULT_S3_FORCE_PATH_STYLE: process.env.ZKVAULT_S3_FORCE_PATH_STYLE };
  // As the CLI's flags leave them: storage reads its S3 settings from these.
  process.env.ZKVAULT_S3_ENDPOINT = proxy.endpoint;
  process.env.ZKVAULT_S3_FORCE_PATH_STYLE = 'true';
});

after(async () => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await proxy?.stop();
  await server?.stop();
  restoreCredentials?.();
});

beforeEach(() => {
  location = `s3://${server.bucket}/faults/${++n}`;
  warnings = [];
  proxy.reset();
});

afterEach(async () => {
  proxy.reset();
  await assertNothingUnrestorable();
});

function open(): Promise<StorageRepository> {
  return openRepository(location, { create: true, tempDir, warn: (m) => warnings.push(m) });
}

/** Starts a backup of one 20 MiB member and returns the writer, ready to commit. */
async function stagedBackup(repo: StorageRepository, signal?: AbortSignal): Promise<BackupWriter> {
  const writer = await repo.beginBackup('physical', signal);
  await mkdir(writer.stagingDir, { recursive: true });
  await writeFile(path.join(writer.stagingDir, 'snapshot.100000001'), member);
  await writer.addMember('snapshot.100000001', 'snapshot', { zxid: '0x100000001' });
  return writer;
}

function commitInput(): Parameters<BackupWriter['commit']>[0] {
  return {
    kind: 'physical',
    createdAt: new Date().toISOString(),
    source: { dataDir: '/var/lib/zookeeper', host: 'test-host' },
    zxid: { from: '0x100000001', to: '0x100000001' },
    partial: false,
    unreadable: [],
    counts: { nodes: 1, persistent: 1, ephemeral: 0, container: 0, ttl: 0, dataBytes: MEMBER_BYTES },
  };
}

async function rawStorage(): Promise<Storage> {
  return openStorage(location, { s3: { endpoint: server.endpoint, forcePathStyle: true } });
}

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of (await rawStorage()).list(prefix)) out.push(o.key);
  return out;
}

function openUploads(): string[] {
  const dir = path.join(server.directory, server.bucket, '._S3rver_uploads');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Every backup the repository lists verifies and gives back its member byte for byte. */
async function assertNothingUnrestorable(): Promise<void> {
  const repo = await openRepository(location, { create: true, tempDir });
  for (const m of await repo.list()) {
    const reader = await repo.open(m.id, { tempDir });
    try {
      assert.deepEqual(await reader.verifyChecksums(), [], `listed backup ${m.id} verifies`);
      const file = await reader.extractMember('snapshot.100000001');
      assert.equal(sha(await readFile(file)), sha(member), `listed backup ${m.id} restores its member`);
    } finally {
      await reader.close();
    }
  }
  assert.deepEqual(openUploads(), [], 'no multipart upload left open');
}

async function assertCleanFailure(): Promise<void> {
  const repo = await open();
  assert.deepEqual(await repo.list(), []);
  assert.deepEqual(await keys('archives/'), [], 'no archive left');
  assert.deepEqual(await keys('locks/'), [], 'the lock is released');
}

function count(pred: (r: ProxiedRequest) => boolean): number {
  return proxy.requests.filter(pred).length;
}

test('a connection dropped in the middle of a part: the part is sent again and the backup completes', async () => {
  const repo = await open();
  proxy.inject({ match: S3_REQUESTS.uploadPart, action: { kind: 'drop-mid-body', afterBytes: 3 * 1024 * 1024 } });
  const m: BackupManifest = await (await stagedBackup(repo)).commit(commitInput());
  assert.equal(proxy.fired.length, 1);
  assert.equal(count(S3_REQUESTS.uploadPart), 4, 'three parts, one of them twice');
  assert.deepEqual(
    (await repo.list()).map((b) => b.id),
    [m.id],
  );
  assert.ok(
    warnings.some((w) => /^retrying upload archives\/.+\.tar .*connection/.test(w)),
    warnings.join('\n'),
  );
});

test('503 SlowDown on parts and on the manifest: retried with backoff, completed', async () => {
  const repo = await open();
  proxy.inject({
    match: S3_REQUESTS.uploadPart,
    action: { kind: 'error', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
    times: 2,
  });
  proxy.inject({
    match: (r) => S3_REQUESTS.putObject(r) && r.path.includes('/manifests/'),
    action: { kind: 'error', status: 503, code: 'SlowDown' },
    times: 2,
  });
  const m = await (await stagedBackup(repo)).commit(commitInput());
  assert.equal(proxy.fired.length, 4);
  assert.deepEqual(
    (await repo.list()).map((b) => b.id),
    [m.id],
  );
  assert.equal(warnings.filter((w) => /503 SlowDown/.test(w)).length, 4);
});

test('the answer to CompleteMultipartUpload is lost: the retry finds the upload complete and the object whole', async () => {
  const repo = await open();
  proxy.inject({ match: S3_REQUESTS.completeMultipart, action: { kind: 'drop-response' } });
  const m = await (await stagedBackup(repo)).commit(commitInput());
  assert.equal(count(S3_REQUESTS.completeMultipart), 2);
  assert.deepEqual(
    (await repo.list()).map((b) => b.id),
    [m.id],
  );
});

test("the answer to the lock's conditional create is lost: the retry recognises its own lock", async () => {
  const repo = await open();
  proxy.inject({
    match: (r) => S3_REQUESTS.putObject(r) && r.path.endsWith('/locks/backup.json') && r.headers['if-none-match'] === '*',
    action: { kind: 'drop-response' },
  });
  const m = await (await stagedBackup(repo)).commit(commitInput());
  assert.equal(proxy.fired.length, 1);
  assert.deepEqual(
    (await repo.list()).map((b) => b.id),
    [m.id],
  );
  assert.deepEqual(await keys('locks/'), []);
});

test('every part fails with 500: a clean failure, exit 13, naming the repository', async () => {
  const repo = await open();
  proxy.inject({ match: S3_REQUESTS.uploadPart, action: { kind: 'error', status: 500, code: 'InternalError' }, times: Infinity });
  const writer = await stagedBackup(repo);
  await assert.rejects(writer.commit(commitInput()), (err: unknown) => {
    assert.ok(err instanceof ConnectionError, String(err));
    assert.equal(err.exitCode, 13);
    assert.match(
      err.message,
      new RegExp(`^${location.replace(/[/.]/g, '\\$&')}/archives/.+\\.tar: cannot upload: .* answered 500 InternalError$`),
    );
    return true;
  });
  assert.ok(count(S3_REQUESTS.abortMultipart) >= 1, 'the multipart upload was aborted');
  await assertCleanFailure();
});

test('the connection keeps dropping mid-part: a clean failure', async () => {
  const repo = await open();
  proxy.inject({ match: S3_REQUESTS.uploadPart, action: { kind: 'drop-mid-body', afterBytes: 1024 * 1024 }, times: Infinity });
  const writer = await stagedBackup(repo);
  await assert.rejects(
    writer.commit(commitInput()),
    (err: unknown) => err instanceof ConnectionError && /cannot reach the S3 endpoint .*: connection/.test(err.message),
  );
  await assertCleanFailure();
});

test('interrupted while parts are on their way: CancelledError, the upload aborted, nothing listed', async () => {
  const repo = await open();
  const controller = new AbortController();
  const writer = await stagedBackup(repo, controller.signal);
  const pending = writer.commit(commitInput());
  while (count(S3_REQUESTS.uploadPart) === 0) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  await assert.rejects(pending, CancelledError);
  await assertCleanFailure();
});

test('a second backup while the first holds the lock is refused (exit 11); the first completes', async () => {
  const repo = await open();
  const first = await stagedBackup(repo);
  const other = await openRepository(location, { create: true, tempDir, host: 'other-host', pid: 4242 });
  await assert.rejects(other.beginBackup('physical'), (err: unknown) => {
    assert.ok(err instanceof LockedError);
    assert.equal(err.exitCode, 11);
    assert.match(err.message, /is locked by backup .* \(pid \d+\)/);
    return true;
  });
  const m = await first.commit(commitInput());
  assert.deepEqual(
    (await repo.list()).map((b) => b.id),
    [m.id],
  );
});
