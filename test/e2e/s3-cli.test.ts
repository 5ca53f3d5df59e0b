// zkvault with an s3:// repository, end to end through the built CLI, against a real ZooKeeper and a
// real S3-compatible server (s3rver, in this process; the CLI runs asynchronously so it can answer):
// logical backup, list, inspect, verify, restore into a fresh server, export; a physical backup and a
// point-in-time restore into a dataDir a real server starts from; then the bad paths: wrong
// credentials (12), an unreachable endpoint (13), a missing bucket (10), bad flags (2), a held lock
// (11), and a store failing mid-upload (exit 13 and nothing listed, or retried and complete).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper, freePorts, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { withSession } from '../support/session.js';
import { assertSameTree } from '../support/compare.js';
import { FaultProxy, S3_REQUESTS } from '../support/fault-proxy.js';
import { runCliAsync, startS3Server, useS3rverCredentials, type S3TestServer } from '../support/s3-server.js';
import { spawnCli } from '../support/cli.js';
import { readLiveTree } from '../../src/zk/live-tree.js';
import { formatZxid } from '../../src/core/zxid.js';
import type { AclEntry, NodeRecord } from '../../src/core/node-record.js';
import type { CliResult } from '../support/cli.js';

requireZooKeeper();
after(stopAll);

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
/** Twelve nodes of ~1 MB random data: the archives are > 8 MiB, so they go as multipart uploads. */
const BIG_NODES = 12;

let s3: S3TestServer;
let source: ZkServer;
let work = '';
let repo = '';
/** The AWS chain (s3rver's account) and nothing of the developer's own configuration. */
let awsEnv: Record<string, string> = {};
let logicalId = '';
let checkpoint: { zxid: bigint; tree: NodeRecord[] };

/** The CLI with s3rver's credentials; S3 settings as flags. */
function zkvault(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCliAsync(args, { env: { ...awsEnv, ...env } });
}

const s3Flags = () => ['--s3-endpoint', s3.endpoint, '--s3-force-path-style'];

before(async () => {
  s3 = await startS3Server({ bucket: 'zk-backups' });
  awsEnv = {
    ...s3.env,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    ZKVAULT_S3_ENDPOINT: '',
    ZKVAULT_S3_FORCE_PATH_STYLE: '',
  };
  work = await makeTempDir('zkvault-e2e-s3-');
  repo = `s3://${s3.bucket}/clusters/main`;
  source = await startStandalone({ snapCount: 200 });
  await withSession(source.connectString, async (s) => {
    await s.create('/app', Buffer.from('app'), OPEN);
    await s.create('/app/bin', Buffer.from([0, 1, 2, 0xfe, 0xff]), OPEN);
    await s.create('/app/null', null, OPEN);
    await s.create('/big', null, OPEN);
    for (let i = 0; i < BIG_NODES; i++) await s.create(`/big/n${i}`, randomBytes(1_000_000), OPEN);
    for (let i = 0; i < 50; i++) await s.create(`/app/c${i}`, Buffer.from(`child ${i}`), OPEN);
  });
});

after(async () => {
  await s3?.stop();
});

test('a logical backup into s3://bucket/prefix (flags), then list, inspect and verify (environment)', async () => {
  const b = await zkvault(['backup', '--zk', source.connectString, '--repo', repo, ...s3Flags(), '--json']);
  assert.equal(b.code, 0, b.stderr);
  const out = JSON.parse(b.stdout);
  logicalId = out.id;
  assert.equal(out.kind, 'logical');
  assert.ok(out.nodes >= BIG_NODES + 55, `${out.nodes} nodes`);
  assert.ok(out.bytes > BIG_NODES * 1_000_000);

  // The same settings from the environment alone.
  const env = { ZKVAULT_REPO: repo, ...s3.zkvaultEnv };
  const list = await zkvault(['list', '--json'], env);
  assert.equal(list.code, 0, list.stderr);
  const listed = JSON.parse(list.stdout);
  assert.deepEqual(
    listed.map((x: { id: string }) => x.id),
    [logicalId],
  );
  assert.equal(listed[0].bytes, out.bytes);

  const inspect = await zkvault(['inspect', 'latest', '--json'], env);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.equal(JSON.parse(inspect.stdout).archive.key, `archives/${logicalId}.tar`);

  const verify = await zkvault(['verify', '--all', '--deep', '--json'], env);
  assert.equal(verify.code, 0, verify.stderr);
  assert.deepEqual(JSON.parse(verify.stdout), { ok: true, backups: [{ id: logicalId, ok: true, problems: [] }] });

  // What S3 holds: the marker, one archive, one manifest; no lock, nothing outside the prefix.
  const objects = await s3Keys('');
  assert.deepEqual(objects, [
    `clusters/main/archives/${logicalId}.tar`,
    `clusters/main/manifests/${logicalId}.json`,
    'clusters/main/zkvault-repository.json',
  ]);
});

async function s3Keys(prefix: string): Promise<string[]> {
  const { S3Storage } = await import('../../src/storage/s3.js');
  const restore = useS3rverCredentials();
  const st = new S3Storage({ bucket: s3.bucket, prefix: '', endpoint: s3.endpoint, forcePathStyle: true });
  try {
    const keys: string[] = [];
    for await (const o of st.list(prefix)) keys.push(o.key);
    return keys;
  } finally {
    st.destroy();
    restore();
  }
}

test('restore from S3 into a fresh server gives back every node; export from S3 matches the live tree', async () => {
  const target = await startStandalone();
  const r = await zkvault(['restore', logicalId, '--zk', target.connectString, '--repo', repo, ...s3Flags(), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.ok(res.created >= BIG_NODES + 53, r.stdout);
  const src = await withSession(source.connectString, (s) => readLiveTree(s, '/'));
  const dst = await withSession(target.connectString, (s) => readLiveTree(s, '/'));
  const view = (recs: NodeRecord[]) =>
    recs.map((x) => ({ path: x.path, data: x.data === null ? null : Buffer.from(x.data).toString('base64') }));
  assert.deepEqual(view(dst), view(src));
  await target.destroy();

  const ex = await zkvault(['export', logicalId, '--repo', repo, ...s3Flags(), '--path', '/app']);
  assert.equal(ex.code, 0, ex.stderr);
  const lines = ex.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => [l.path, l.data]),
    view(src)
      .filter((x) => x.path === '/app' || x.path.startsWith('/app/'))
      .map((x) => [x.path, x.data]),
  );
});

test('a physical backup into S3, then restore --to-zxid from S3 into a dataDir that a real server serves', async () => {
  // A point in the middle of the log: the tree and zxid to come back to.
  checkpoint = await withSession(source.connectString, async (s) => {
    await s.setData('/app', Buffer.from('app v2'));
    await s.create('/pitr', Buffer.from('before'), OPEN);
    const tree = await readLiveTree(s, '/');
    return { zxid: s.lastZxidSeen, tree };
  });
  await withSession(source.connectString, async (s) => {
    await s.setData('/pitr', Buffer.from('after'));
    await s.delete('/app/c0');
    await s.create('/later', null, OPEN);
  });
  const b = await zkvault(['backup', '--data-dir', source.dataDir, '--repo', repo, ...s3Flags(), '--json']);
  assert.equal(b.code, 0, b.stderr);
  const out = JSON.parse(b.stdout);
  assert.equal(out.kind, 'physical');
  assert.ok(BigInt(out.zxid.to) > checkpoint.zxid);

  const dataDir = join(work, 'restored');
  const r = await zkvault([
    'restore',
    '--to-zxid',
    formatZxid(checkpoint.zxid),
    '--data-dir',
    dataDir,
    '--repo',
    repo,
    ...s3Flags(),
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).zxid, formatZxid(checkpoint.zxid));
  const server = await startStandalone({ dataDir });
  const tree = await withSession(server.connectString, (s) => readLiveTree(s, '/'));
  assertSameTree(tree, checkpoint.tree, 'restored from S3 to the checkpoint');
  await server.destroy();

  const list = JSON.parse((await zkvault(['list', '--repo', repo, ...s3Flags(), '--json'])).stdout);
  assert.deepEqual(
    list.map((x: { kind: string }) => x.kind),
    ['logical', 'physical'],
  );
});

test('wrong credentials: exit 12, the AWS chain as hint, and neither key nor secret printed', async () => {
  // s3rver knows one access key id and rejects others (it does not check SigV4 signatures, so a wrong
  // secret with the right key id would pass; the key id is what is wrong here).
  const badKey = 'AKIAZKVAULTWRONGKEY1';
  const badSecret = 'not-the-secret/K7MDENG+bPxRfiCYEXAMPLE';
  for (const args of [['list'], ['backup', '--zk', source.connectString]]) {
    const r = await zkvault([...args, '--repo', repo, ...s3Flags()], { AWS_ACCESS_KEY_ID: badKey, AWS_SECRET_ACCESS_KEY: badSecret });
    assert.equal(r.code, 12, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /s3:\/\/zk-backups\/clusters\/main.*refused to .*403 InvalidAccessKeyId/);
    assert.match(r.stderr, /AWS_ACCESS_KEY_ID/);
    assert.doesNotMatch(r.stderr + r.stdout, new RegExp(`${badKey}|${badSecret.replace(/[+/]/g, '.')}`));
  }
});

test('an unreachable endpoint: exit 13 naming it, after the retries', async () => {
  const [port] = await freePorts(1);
  const r = await zkvault(['list', '--repo', repo, '--s3-endpoint', `http://127.0.0.1:${port}`, '--s3-force-path-style']);
  assert.equal(r.code, 13, r.stderr);
  assert.match(r.stderr, new RegExp(`cannot reach the S3 endpoint http://127\\.0\\.0\\.1:${port} .*connection refused`));
});

test('a missing bucket is exit 10; bad S3 flags are exit 2; the command line wins over the environment', async () => {
  const missing = await zkvault(['list', '--repo', 's3://no-such-bucket/x', ...s3Flags()]);
  assert.equal(missing.code, 10, missing.stderr);
  assert.match(missing.stderr, /the bucket no-such-bucket does not exist at http:\/\/127\.0\.0\.1:\d+/);
  for (const [flags, pattern] of [
    [['--s3-sse', 'rot13'], /unknown S3 server-side encryption "rot13"/],
    [['--s3-sse-kms-key-id', 'alias/x'], /--s3-sse-kms-key-id needs --s3-sse aws:kms/],
    [['--s3-endpoint', 'minio:9000'], /S3 endpoint "minio:9000" must be an http:\/\/ or https:\/\/ URL/],
  ] as const) {
    const r = await zkvault(['list', '--repo', repo, ...flags]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
  }
  const [dead] = await freePorts(1);
  const r = await zkvault(['list', '--repo', repo, ...s3Flags(), '--json'], { ZKVAULT_S3_ENDPOINT: `http://127.0.0.1:${dead}` });
  assert.equal(r.code, 0, r.stderr);
});

test('a lock held by a run on another host: exit 11 naming it; once it is gone, backups proceed', async () => {
  const { S3Storage } = await import('../../src/storage/s3.js');
  const restore = useS3rverCredentials();
  const st = new S3Storage({ bucket: s3.bucket, prefix: 'clusters/main', endpoint: s3.endpoint, forcePathStyle: true });
  try {
    const now = new Date().toISOString();
    await st.put(
      'locks/backup.json',
      Buffer.from(JSON.stringify({ tool: 'zkvault', host: 'other-host', pid: 77, id: 'x', startedAt: now, refreshedAt: now })),
    );
    const r = await zkvault(['backup', '--zk', source.connectString, '--repo', repo, ...s3Flags()]);
    assert.equal(r.code, 11, r.stderr);
    assert.match(r.stderr, /is locked by backup x on other-host \(pid 77\)/);
    assert.match(r.stderr, /s3:\/\/zk-backups\/clusters\/main\/locks\/backup\.json/);
    await st.remove('locks/backup.json');
  } finally {
    st.destroy();
    restore();
  }
});

test('the store fails every part of the archive: exit 13, nothing new listed; one dropped part: retried, listed, verified', async () => {
  const proxy = await FaultProxy.start(s3.endpoint);
  try {
    const viaProxy = ['--repo', repo, '--s3-endpoint', proxy.endpoint, '--s3-force-path-style'];
    const before = JSON.parse((await zkvault(['list', ...viaProxy, '--json'])).stdout).map((x: { id: string }) => x.id);

    proxy.inject({ match: S3_REQUESTS.uploadPart, action: { kind: 'error', status: 500, code: 'InternalError' }, times: Infinity });
    const failed = await zkvault(['backup', '--zk', source.connectString, ...viaProxy, '--json']);
    assert.equal(failed.code, 13, failed.stderr);
    assert.match(failed.stderr, /s3:\/\/zk-backups\/clusters\/main\/archives\/.+\.tar: cannot upload: .* answered 500 InternalError/);
    assert.ok(proxy.requests.some(S3_REQUESTS.abortMultipart), 'the upload was aborted');
    proxy.reset();
    const afterFailure = JSON.parse((await zkvault(['list', ...viaProxy, '--json'])).stdout).map((x: { id: string }) => x.id);
    assert.deepEqual(afterFailure, before);
    assert.deepEqual(await s3Keys('clusters/main/locks/'), []);

    proxy.inject({ match: S3_REQUESTS.uploadPart, action: { kind: 'drop-mid-body', afterBytes: 2 * 1024 * 1024 } });
    const ok = await zkvault(['backup', '--data-dir', source.dataDir, ...viaProxy, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(proxy.fired.length, 1);
    const id = JSON.parse(ok.stdout).id;
    const verify = await zkvault(['verify', id, ...viaProxy, '--json']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(JSON.parse(verify.stdout).ok, true);
    const out = join(work, 'after-fault');
    const r = await zkvault(['restore', id, '--data-dir', out, ...viaProxy, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(out, 'version-2')));
  } finally {
    await proxy.stop();
  }
});

test('SIGINT while the archive uploads: exit 130, the upload aborted, nothing new listed, the lock released', async () => {
  const proxy = await FaultProxy.start(s3.endpoint);
  try {
    const viaProxy = ['--repo', repo, '--s3-endpoint', proxy.endpoint, '--s3-force-path-style'];
    const before = JSON.parse((await zkvault(['list', ...viaProxy, '--json'])).stdout).map((x: { id: string }) => x.id);
    // Parts wait at the proxy: the run is stopped with its multipart upload open.
    proxy.inject({ match: S3_REQUESTS.uploadPart, action: { kind: 'hold' }, times: Infinity });
    const child = spawnCli(['backup', '--zk', source.connectString, ...viaProxy], { env: awsEnv });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    while (proxy.fired.length === 0) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 130, Buffer.concat(stderr).toString());
    assert.match(Buffer.concat(stderr).toString(), /interrupted/);
    assert.ok(proxy.requests.some(S3_REQUESTS.abortMultipart), 'the upload was aborted');
    proxy.reset();
    const after = JSON.parse((await zkvault(['list', ...viaProxy, '--json'])).stdout).map((x: { id: string }) => x.id);
    assert.deepEqual(after, before);
    assert.deepEqual(await s3Keys('clusters/main/locks/'), []);
    const uploads = join(s3.directory, s3.bucket, '._S3rver_uploads');
    assert.deepEqual(existsSync(uploads) ? readdirSync(uploads) : [], [], 'no multipart upload left open');
  } finally {
    proxy.release();
    await proxy.stop();
  }
});
