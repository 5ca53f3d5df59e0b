// Encrypted repositories end to end through the built CLI, against a real ZooKeeper and a real
// S3-compatible server: logical and physical backups (and a point-in-time restore) restore exactly as
// unencrypted ones do, no repository object holds a node's data, the password or the key, and the
// repository fails closed: no password or a wrong one (12), a marker stripped of its encryption header
// or a plain repository met with a password (4), before anything reaches the target. Passwords change
// without a byte of an archive changing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { withSession } from '../support/session.js';
import { assertSameTree } from '../support/compare.js';
import { runCliAsync, startS3Server, useS3rverCredentials, type S3TestServer } from '../support/s3-server.js';
import type { CliResult } from '../support/cli.js';
import { readLiveTree } from '../../src/zk/live-tree.js';
import { formatZxid } from '../../src/core/zxid.js';
import type { AclEntry, NodeRecord } from '../../src/core/node-record.js';
import { openRepository } from '../../src/repository/repository.js';

requireZooKeeper();
after(stopAll);

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const PASSWORD = 'a long enough passphrase, 2026';
/** Text that must never appear in a repository object. */
const SECRET = 'jdbc:postgresql://db/orders?password=Hunter2-NodeSecret';

let s3: S3TestServer;
let source: ZkServer;
let work = '';
let passwordFile = '';
let awsEnv: Record<string, string> = {};

function zkvault(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCliAsync(args, { env: { ...awsEnv, ZKVAULT_PASSWORD: '', ...env } });
}

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r;
}

const view = (recs: NodeRecord[]) =>
  recs.map((x) => ({ path: x.path, data: x.data === null ? null : Buffer.from(x.data).toString('base64') }));

before(async () => {
  s3 = await startS3Server({ bucket: 'sealed' });
  awsEnv = {
    ...s3.env,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  work = await makeTempDir('zkvault-e2e-encrypted-');
  passwordFile = join(work, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  // No snapshot rolls during the run (the default snapCount): every zxid after the first one stays restorable
  // from a full backup, whatever the earlier tests wrote.
  source = await startStandalone();
  await withSession(source.connectString, async (s) => {
    await s.create('/app', Buffer.from(SECRET), OPEN);
    await s.create('/app/config', Buffer.from(`{"dsn":"${SECRET}"}`), OPEN);
    await s.create('/big', null, OPEN);
    // Over a megabyte in all: archives span several encrypted chunks.
    for (let i = 0; i < 3; i++) await s.create(`/big/n${i}`, Buffer.concat([Buffer.from(SECRET), randomBytes(700_000)]), OPEN);
    for (let i = 0; i < 40; i++) await s.create(`/app/c${i}`, Buffer.from(`child ${i} ${SECRET}`), OPEN);
  });
});

after(async () => {
  await s3?.stop();
});

/** Every file under `dir`, with its bytes. */
function filesUnder(dir: string): Array<{ name: string; bytes: Buffer }> {
  const out: Array<{ name: string; bytes: Buffer }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push({ name: join(e.parentPath, e.name), bytes: readFileSync(join(e.parentPath, e.name)) });
  }
  return out;
}

/** The repository's data key, as the password unlocks it (to search the objects for it). */
async function dataKeyOf(location: string, s3Settings = {}): Promise<Buffer> {
  const { openEncryption } = await import('../../src/repository/encryption.js');
  const { parseMarker } = await import('../../src/repository/manifest.js');
  const repo = await openRepository(location, { s3: s3Settings, encryption: { password: () => PASSWORD } });
  const marker = parseMarker(await repo.storage.getBuffer('zkvault-repository.json'));
  assert.ok(marker.ok);
  const { unlocked } = await openEncryption(repo.storage, location, marker.marker, { password: () => PASSWORD });
  return unlocked!.key;
}

function assertNoSecrets(objects: Array<{ name: string; bytes: Buffer }>, key: Buffer): void {
  assert.ok(objects.length >= 3, `${objects.length} objects`);
  const needles = [
    Buffer.from(SECRET),
    Buffer.from('Hunter2-NodeSecret'),
    Buffer.from(PASSWORD),
    key,
    Buffer.from(key.toString('hex')),
    Buffer.from(key.toString('base64')),
    Buffer.from('"/app/config"'),
  ];
  for (const o of objects) {
    for (const n of needles) assert.equal(o.bytes.indexOf(n), -1, `${o.name} holds ${n.toString('latin1').slice(0, 24)}…`);
  }
}

test('an encrypted local repository: logical and physical backups restore as plain ones do; no object holds data, password or key', async () => {
  const repo = join(work, 'local');
  const pw = ['--password-file', passwordFile];
  const init = JSON.parse(ok(await zkvault(['init', '--encrypt', '--repo', repo, ...pw, '--json']), 'init').stdout);
  assert.deepEqual(init, { location: repo, created: true, encrypted: true });
  const logical = JSON.parse(ok(await zkvault(['backup', '--zk', source.connectString, '--repo', repo, ...pw, '--json']), 'backup').stdout);

  // The same backup into a plain repository, for comparison.
  const plainRepo = join(work, 'plain');
  const plain = JSON.parse(
    ok(await zkvault(['backup', '--zk', source.connectString, '--repo', plainRepo, '--json']), 'plain backup').stdout,
  );
  assert.equal(logical.nodes, plain.nodes);
  assert.equal(logical.bytes, plain.bytes);

  const listed = JSON.parse(ok(await zkvault(['list', '--repo', repo, ...pw, '--json']), 'list').stdout);
  assert.deepEqual(
    listed.map((b: { id: string; bytes: number }) => [b.id, b.bytes]),
    [[logical.id, logical.bytes]],
  );
  const verify = JSON.parse(ok(await zkvault(['verify', '--all', '--deep', '--repo', repo, ...pw, '--json']), 'verify').stdout);
  assert.deepEqual(verify, { ok: true, backups: [{ id: logical.id, ok: true, problems: [] }] });
  const said = ok(await zkvault(['verify', '--repo', repo, ...pw]), 'verify (text)').stdout;
  assert.match(said, /repository format 2 \(encrypted\): every chunk .* authenticated/);

  const exported = ok(await zkvault(['export', logical.id, '--repo', repo, ...pw]), 'export').stdout;
  const exportedPlain = ok(await zkvault(['export', plain.id, '--repo', plainRepo]), 'export plain').stdout;
  const strip = (s: string) =>
    s
      .trim()
      .split('\n')
      .map((l) => {
        const { path, data, acl, type } = JSON.parse(l) as Record<string, unknown>;
        return { path, data, acl, type };
      });
  assert.deepEqual(strip(exported), strip(exportedPlain));

  const target = await startStandalone();
  ok(await zkvault(['restore', logical.id, '--zk', target.connectString, '--repo', repo, ...pw, '--json']), 'restore');
  const src = await withSession(source.connectString, (s) => readLiveTree(s, '/'));
  const dst = await withSession(target.connectString, (s) => readLiveTree(s, '/'));
  assert.deepEqual(view(dst), view(src));
  await target.destroy();

  // Physical: a full backup, more changes, an incremental, then a restore to a zxid between them.
  const full = JSON.parse(ok(await zkvault(['backup', '--data-dir', source.dataDir, '--repo', repo, ...pw, '--json']), 'physical').stdout);
  const checkpoint = await withSession(source.connectString, async (s) => {
    await s.setData('/app', Buffer.from(`${SECRET} v2`));
    await s.create('/pitr', Buffer.from(SECRET), OPEN);
    return { zxid: s.lastZxidSeen, tree: await readLiveTree(s, '/') };
  });
  await withSession(source.connectString, async (s) => {
    await s.setData('/pitr', Buffer.from('after'));
    await s.delete('/app/c0');
  });
  const inc = JSON.parse(
    ok(await zkvault(['backup', '--data-dir', source.dataDir, '--incremental', '--repo', repo, ...pw, '--json']), 'incremental').stdout,
  );
  assert.equal(inc.kind, 'physical');
  const dataDir = join(work, 'pitr');
  const r = JSON.parse(
    ok(await zkvault(['restore', '--to-zxid', formatZxid(checkpoint.zxid), '--data-dir', dataDir, '--repo', repo, ...pw, '--json']), 'pitr')
      .stdout,
  );
  assert.equal(r.zxid, formatZxid(checkpoint.zxid));
  const server = await startStandalone({ dataDir });
  assertSameTree(await withSession(server.connectString, (s) => readLiveTree(s, '/')), checkpoint.tree, 'encrypted PITR');
  await server.destroy();
  const diff = await zkvault(['diff', full.id, inc.id, '--repo', repo, ...pw, '--json']);
  assert.equal(diff.code, 5, diff.stderr);

  const objects = filesUnder(repo).filter((o) => !o.name.endsWith('zkvault-repository.json'));
  assertNoSecrets(objects, await dataKeyOf(repo));
  // The plain repository does hold the data: the search above can find it.
  assert.ok(filesUnder(plainRepo).some((o) => o.bytes.includes(Buffer.from(SECRET))));
});

test('an encrypted S3 repository: backup, restore and PITR as plain; the raw objects hold no data', async () => {
  const repo = `s3://${s3.bucket}/enc`;
  const flags = ['--repo', repo, '--s3-endpoint', s3.endpoint, '--s3-force-path-style'];
  const env = { ZKVAULT_PASSWORD: PASSWORD };
  const b = JSON.parse(ok(await zkvault(['backup', '--encrypt', '--zk', source.connectString, ...flags, '--json'], env), 'backup').stdout);
  const target = await startStandalone();
  ok(await zkvault(['restore', b.id, '--zk', target.connectString, ...flags], env), 'restore');
  const src = await withSession(source.connectString, (s) => readLiveTree(s, '/'));
  assert.deepEqual(view(await withSession(target.connectString, (s) => readLiveTree(s, '/'))), view(src));
  await target.destroy();

  const checkpoint = await withSession(source.connectString, async (s) => {
    await s.create('/s3pitr', Buffer.from(SECRET), OPEN);
    return { zxid: s.lastZxidSeen, tree: await readLiveTree(s, '/') };
  });
  await withSession(source.connectString, (s) => s.setData('/s3pitr', Buffer.from('later')));
  ok(await zkvault(['backup', '--data-dir', source.dataDir, ...flags], env), 'physical');
  const dataDir = join(work, 's3-pitr');
  ok(await zkvault(['restore', '--to-zxid', formatZxid(checkpoint.zxid), '--data-dir', dataDir, ...flags], env), 'pitr');
  const server = await startStandalone({ dataDir });
  assertSameTree(await withSession(server.connectString, (s) => readLiveTree(s, '/')), checkpoint.tree, 'encrypted PITR from S3');
  await server.destroy();

  const { S3Storage } = await import('../../src/storage/s3.js');
  const restore = useS3rverCredentials();
  const raw = new S3Storage({ bucket: s3.bucket, prefix: 'enc', endpoint: s3.endpoint, forcePathStyle: true });
  const objects: Array<{ name: string; bytes: Buffer }> = [];
  try {
    for await (const o of raw.list(''))
      if (o.key !== 'zkvault-repository.json') objects.push({ name: o.key, bytes: await raw.getBuffer(o.key) });
  } finally {
    raw.destroy();
    restore();
  }
  assert.ok(objects.filter((o) => o.name.startsWith('archives/')).length === 2, objects.map((o) => o.name).join(' '));
  const s3Settings = { endpoint: s3.endpoint, forcePathStyle: true };
  const restoreCreds = useS3rverCredentials();
  try {
    assertNoSecrets(objects, await dataKeyOf(repo, s3Settings));
  } finally {
    restoreCreds();
  }
});

test('fails closed: no password or a wrong one (12), a stripped header or a password for a plain repository (4); nothing restored', async () => {
  const repo = join(work, 'closed');
  const env = { ZKVAULT_PASSWORD: PASSWORD };
  const b = JSON.parse(
    ok(await zkvault(['backup', '--encrypt', '--zk', source.connectString, '--path', '/app', '--repo', repo, '--json'], env), 'backup')
      .stdout,
  );
  const target = await startStandalone();
  const restoreArgs = ['restore', b.id, '--zk', target.connectString, '--repo', repo];
  const targetEmpty = async () => {
    const nodes = await withSession(target.connectString, (s) => readLiveTree(s, '/'));
    assert.deepEqual(
      nodes.map((n) => n.path),
      ['/'],
      'nothing reached the target',
    );
  };

  const none = await zkvault(restoreArgs);
  assert.equal(none.code, 12, none.stderr);
  assert.match(none.stderr, /is encrypted: its password is needed/);
  const wrong = await zkvault(restoreArgs, { ZKVAULT_PASSWORD: 'not the password at all' });
  assert.equal(wrong.code, 12, wrong.stderr);
  assert.match(wrong.stderr, /opens none of its 1 key slot/);
  await targetEmpty();

  // Passwords change without rewriting an archive; the old one stops working.
  const archive = join(repo, 'archives', `${b.id}.tar`);
  const before = createHash('sha256').update(readFileSync(archive)).digest('hex');
  ok(await zkvault(['key', 'passwd', '--repo', repo], { ...env, ZKVAULT_NEW_PASSWORD: 'the second passphrase' }), 'passwd');
  assert.equal((await zkvault(['list', '--repo', repo], env)).code, 12);
  const keys = JSON.parse(
    ok(await zkvault(['key', 'list', '--repo', repo, '--json'], { ZKVAULT_PASSWORD: 'the second passphrase' }), 'key list').stdout,
  );
  assert.equal(keys.length, 1);
  assert.equal(keys[0].current, true);
  const only = await zkvault(['key', 'remove', keys[0].id, '--repo', repo], { ZKVAULT_PASSWORD: 'the second passphrase' });
  assert.equal(only.code, 2, only.stderr);
  assert.match(only.stderr, /only key/);
  ok(await zkvault(['key', 'add', '--repo', repo], { ZKVAULT_PASSWORD: 'the second passphrase', ZKVAULT_NEW_PASSWORD: PASSWORD }), 'add');
  ok(await zkvault(['list', '--repo', repo], env), 'list with the re-added password');
  assert.equal(createHash('sha256').update(readFileSync(archive)).digest('hex'), before, 'no archive was rewritten');

  // The marker stripped of its encryption header: the objects are still encrypted, and say so.
  const markerFile = join(repo, 'zkvault-repository.json');
  const saved = readFileSync(markerFile);
  const marker = JSON.parse(saved.toString('utf8'));
  writeFileSync(markerFile, JSON.stringify({ format: marker.format, version: 1, createdAt: marker.createdAt }));
  for (const e of [{}, env]) {
    const r = await zkvault(restoreArgs, e);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /encrypt/);
  }
  const listed = await zkvault(['list', '--repo', repo]);
  assert.equal(listed.code, 4, listed.stderr);
  await targetEmpty();
  writeFileSync(markerFile, saved);

  // A password given for a repository that is not encrypted: refused, as a stripped header would be.
  const plainRepo = join(work, 'plain-closed');
  ok(await zkvault(['backup', '--zk', source.connectString, '--path', '/app', '--repo', plainRepo]), 'plain backup');
  const pw = await zkvault(['restore', 'latest', '--zk', target.connectString, '--repo', plainRepo], env);
  assert.equal(pw.code, 4, pw.stderr);
  assert.match(pw.stderr, /not encrypted, yet a password is given/);
  const enc = await zkvault(['backup', '--encrypt', '--zk', source.connectString, '--repo', plainRepo], env);
  assert.equal(enc.code, 2, enc.stderr);
  assert.match(enc.stderr, /--encrypt only applies to a new repository/);
  await targetEmpty();
  await target.destroy();
  assert.ok(existsSync(markerFile));
});
