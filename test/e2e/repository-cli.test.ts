// `zkvault list` and `zkvault inspect` end to end: the built CLI against a local repository populated
// through the Repository API (no ZooKeeper needed), including the bad paths and their exit codes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { openRepository } from '../../src/repository/repository.js';
import type { BackupManifest, BackupWriter } from '../../src/repository/types.js';
import { runCli } from '../support/cli.js';
import { makeTempDir } from '../support/tmp.js';

let work = '';
let repoDir = '';
let logical: BackupManifest;
let physical: BackupManifest;

async function commit(
  writer: BackupWriter,
  members: Record<string, Buffer>,
  input: Parameters<BackupWriter['commit']>[0],
): Promise<BackupManifest> {
  for (const [name, data] of Object.entries(members)) {
    await writeFile(path.join(writer.stagingDir, name), data);
    await writer.addMember(name, name.startsWith('log.') ? 'log' : 'snapshot', { zxid: '0x' + name.split('.')[1] });
  }
  return writer.commit(input);
}

before(async () => {
  work = await makeTempDir('zkvault-e2e-repo-');
  repoDir = path.join(work, 'repo');
  const repo = await openRepository(repoDir, { create: true });
  logical = await commit(
    await repo.beginBackup('logical'),
    { 'snapshot.100000007': randomBytes(40_000) },
    {
      kind: 'logical',
      createdAt: new Date(Date.now() - 5000).toISOString(),
      source: { zk: '127.0.0.1:2181', path: '/app', host: 'e2e' },
      zxid: { from: '0x100000005', to: '0x100000007' },
      consistent: false,
      changedDuringWalk: 2,
      partial: true,
      unreadable: [{ path: '/app/secret', reason: 'NoAuth: the credentials given cannot read it (nor its subtree)' }],
      counts: { nodes: 42, persistent: 39, ephemeral: 1, container: 1, ttl: 1, dataBytes: 1234 },
    },
  );
  physical = await commit(
    await repo.beginBackup('physical'),
    { 'snapshot.200000000': randomBytes(10_000), 'log.200000001': randomBytes(3000) },
    {
      kind: 'physical',
      createdAt: new Date().toISOString(),
      source: { dataDir: '/var/lib/zookeeper', host: 'e2e' },
      zxid: { from: '0x200000000', to: '0x20000001f' },
      partial: false,
      unreadable: [],
      counts: { nodes: 7, persistent: 7, ephemeral: 0, container: 0, ttl: 0, dataBytes: 10 },
      extra: { ensemble: 'e2e' },
    },
  );
});

test('list --json: every backup, oldest first, with the contract fields', async () => {
  const r = runCli(['list', '--repo', repoDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout);
  assert.ok(Array.isArray(list));
  assert.deepEqual(
    list.map((b: { id: string }) => b.id),
    [logical.id, physical.id],
  );
  const [l, p] = list;
  assert.equal(l.kind, 'logical');
  assert.equal(l.nodes, 42);
  assert.equal(l.bytes, (await stat(path.join(repoDir, 'archives', `${logical.id}.tar`))).size);
  assert.deepEqual(l.zxid, { from: '0x100000005', to: '0x100000007' });
  assert.equal(l.createdAt, logical.createdAt);
  assert.match(l.createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.equal(l.partial, true);
  assert.equal(l.consistent, false);
  assert.equal(p.kind, 'physical');
  assert.equal(p.nodes, 7);
  assert.equal(p.partial, false);
  assert.equal(p.consistent, null);
  assert.equal(r.stderr, '');
});

test('list (ZKVAULT_REPO): a table with a PARTIAL marker', () => {
  const r = runCli(['list'], { env: { ZKVAULT_REPO: repoDir } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^ID\s+KIND\s+CREATED \(UTC\)\s+ZXID\s+NODES\s+SIZE$/);
  assert.match(
    lines[1],
    new RegExp(
      `^${logical.id}\\s+logical\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+0x100000005\\.\\.0x100000007\\s+42\\s+\\S+ KiB\\s+PARTIAL$`,
    ),
  );
  assert.match(lines[2], new RegExp(`^${physical.id}\\s+physical\\s+.*0x200000000\\.\\.0x20000001f\\s+7\\s+`));
  assert.doesNotMatch(lines[2], /PARTIAL/);
  assert.match(lines[3], /^2 backups, /);
});

test('a yes/no flag reads its ZKVAULT_ variable as yes/no: 0 and false leave it off, a wrong word is a usage error', () => {
  for (const off of ['0', 'false', 'no', '']) {
    const r = runCli(['list', '--repo', repoDir], { env: { ZKVAULT_JSON: off } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+KIND/, `ZKVAULT_JSON=${JSON.stringify(off)} prints the table`);
  }
  for (const on of ['1', 'true', 'YES']) {
    const r = runCli(['list', '--repo', repoDir], { env: { ZKVAULT_JSON: on } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).length, 2, `ZKVAULT_JSON=${on} prints JSON`);
  }
  const bad = runCli(['list', '--repo', repoDir], { env: { ZKVAULT_JSON: 'maybe' } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /ZKVAULT_JSON="maybe" is not a yes\/no value/);
  // A flag on the command line wins over its variable.
  const flag = runCli(['list', '--repo', repoDir, '--json'], { env: { ZKVAULT_JSON: '0' } });
  assert.equal(JSON.parse(flag.stdout).length, 2);
});

test('inspect latest --json prints the sidecar manifest', async () => {
  const r = runCli(['inspect', 'latest', '--repo', repoDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const sidecar = JSON.parse(await readFile(path.join(repoDir, 'manifests', `${physical.id}.json`), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), sidecar);
  assert.deepEqual(sidecar, physical);
});

test('inspect by unique prefix: human sections', () => {
  const r = runCli(['inspect', logical.id.slice(0, -3), '--repo', repoDir]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, new RegExp(`^backup ${logical.id}\n`));
  for (const section of [
    'source',
    'restores to',
    'nodes (read through the client API, where container and TTL nodes show as persistent)',
    'members (1)',
    'unreadable paths (1)',
  ]) {
    assert.match(out, new RegExp(`^${section.replace(/[()]/g, '\\$&')}$`, 'm'), section);
  }
  assert.match(out, /status\s+PARTIAL: 1 path could not be read/);
  assert.match(out, /zxid\s+0x100000005\.\.0x100000007/);
  assert.match(out, /consistency\s+fuzzy: the tree changed during the walk \(2 nodes changed\)/);
  assert.match(out, /persistent\s+39/);
  assert.match(out, /ttl\s+1/);
  assert.match(out, new RegExp(`snapshot\\.100000007\\s+snapshot\\s+0x100000007\\s+39 KiB\\s+${logical.members[0].sha256}`));
  assert.match(out, /\/app\/secret: NoAuth/);
  assert.match(out, new RegExp(`archive\\s+archives/${logical.id}\\.tar, [^,]+, checked member by member`));
});

test('inspect: an ambiguous prefix is exit 2, an unknown id exit 10', () => {
  const ambiguous = runCli(['inspect', logical.id.slice(0, 2), '--repo', repoDir]);
  assert.equal(ambiguous.code, 2, ambiguous.stderr);
  assert.match(ambiguous.stderr, /matches 2 backups/);
  const unknown = runCli(['inspect', '19990101T000000000Z-abcd', '--repo', repoDir]);
  assert.equal(unknown.code, 10, unknown.stderr);
  assert.match(unknown.stderr, /no backup 19990101T000000000Z-abcd/);
  assert.match(unknown.stderr, /hint: .*zkvault list/);
});

test('a missing repository is exit 10 with a hint; bad locations are exit 2', async () => {
  const missing = path.join(work, 'nowhere');
  for (const args of [
    ['list', '--repo', missing],
    ['inspect', 'latest', '--repo', missing],
    ['list', '--repo', missing, '--json'],
  ]) {
    const r = runCli(args);
    assert.equal(r.code, 10, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`no zkvault repository at ${missing}`));
    assert.match(r.stderr, /hint: run `zkvault backup --repo .*nowhere …` first/);
    assert.equal(r.stdout, '');
  }
  const http = runCli(['list', '--repo', 'http://user:hunter2@example.com/repo']);
  assert.equal(http.code, 2, http.stderr);
  assert.match(http.stderr, /unsupported repository location "http:\/\/\*\*\*@example\.com\/repo"/);
  assert.doesNotMatch(http.stderr, /hunter2/);
  assert.match(http.stderr, /s3:\/\/bucket\/prefix/);
  // An S3 location with no credentials anywhere in the AWS chain: an auth failure, said plainly.
  const s3 = runCli(['list', '--repo', 's3://some-bucket/zk'], {
    env: {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'none'),
      AWS_CONFIG_FILE: path.join(work, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
  assert.equal(s3.code, 12, s3.stderr);
  assert.match(s3.stderr, /no usable AWS credentials/);
  const empty = runCli(['list'], { env: { ZKVAULT_REPO: '' } });
  assert.equal(empty.code, 2, empty.stderr);
  // A file where the repository directory should be (or above it): a usage error naming it.
  const file = path.join(work, 'a-file');
  await writeFile(file, 'not a repository');
  for (const repo of [file, path.join(file, 'below')]) {
    const r = runCli(['list', '--repo', repo]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`repository location ${repo} is not a directory: ${file} is a file`));
  }
  // A --path that is not a znode path is a usage error too.
  const bad = runCli(['export', 'latest', '--repo', repoDir, '--path', 'app']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--path "app" is not a znode path/);
});

test('an unreadable manifest is skipped with a warning; the rest still lists', async () => {
  const dir = path.join(work, 'damaged');
  const repo = await openRepository(dir, { create: true });
  const w = await repo.beginBackup('logical');
  await mkdir(w.stagingDir, { recursive: true });
  const good = await commit(
    w,
    { 'snapshot.1': Buffer.from('x') },
    {
      kind: 'logical',
      createdAt: new Date().toISOString(),
      source: { zk: 'h:1', path: '/' },
      zxid: { from: '0x1', to: '0x1' },
      consistent: true,
      partial: false,
      unreadable: [],
      counts: { nodes: 1, persistent: 1, ephemeral: 0, container: 0, ttl: 0, dataBytes: 1 },
    },
  );
  await writeFile(path.join(dir, 'manifests', '20990101T000000000Z-beef.json'), '{"format": "zkvault-backup", trunc');
  const r = runCli(['list', '--repo', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    JSON.parse(r.stdout).map((b: { id: string }) => b.id),
    [good.id],
  );
  assert.match(r.stderr, /warning: skipping backup 20990101T000000000Z-beef: manifests\/20990101T000000000Z-beef\.json is unreadable/);
  const latest = runCli(['inspect', 'latest', '--repo', dir, '--json']);
  assert.equal(latest.code, 0, latest.stderr);
  assert.equal(JSON.parse(latest.stdout).id, good.id);
});

test('an empty repository lists nothing: [] with --json, a note on stderr without', async () => {
  const dir = path.join(work, 'empty');
  await mkdir(dir);
  await writeFile(
    path.join(dir, 'zkvault-repository.json'),
    JSON.stringify({ format: 'zkvault-repository', version: 1, createdAt: new Date().toISOString() }),
  );
  const json = runCli(['list', '--repo', dir, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), []);
  const human = runCli(['list', '--repo', `file://${dir}`]);
  assert.equal(human.code, 0, human.stderr);
  assert.equal(human.stdout, '');
  assert.match(human.stderr, /no backups in file:\/\/.*empty yet/);
});
