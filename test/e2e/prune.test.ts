// `zkvault prune` end to end through the built CLI, on backups of a real ZooKeeper server, in a local
// and in an S3 (s3rver) repository: the bad paths (no rule 2, a policy keeping nothing 2, a missing
// repository 10, a held lock 11), a dry run that changes nothing, --json, leftovers removed, and what
// is kept still verifying deep.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { runCliAsync, startS3Server, useS3rverCredentials, type S3TestServer } from '../support/s3-server.js';
import { openSession } from '../../src/zk/client.js';
import { openStorage } from '../../src/storage/location.js';
import type { AclEntry } from '../../src/core/node-record.js';

requireZooKeeper();

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
let server: ZkServer;
let s3: S3TestServer | undefined;

before(async () => {
  server = await startStandalone();
  const s = await openSession({ connectString: server.connectString });
  await s.create('/app', Buffer.from('app'), OPEN);
  for (let i = 0; i < 20; i++) await s.create(`/app/n${i}`, Buffer.from(String(i)), OPEN);
  await s.close();
});

after(async () => {
  await s3?.stop();
  await stopAll();
});

function backupIds(repo: string, n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = runCli(['backup', '--zk', server.connectString, '--repo', repo, '--json']);
    assert.equal(r.code, 0, r.stderr);
    ids.push(JSON.parse(r.stdout).id);
  }
  return ids;
}

function listIds(repo: string): string[] {
  const r = runCli(['list', '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).map((b: { id: string }) => b.id);
}

test('local repository: refusals, a dry run, then prune with leftovers, and what is kept verifies deep', async () => {
  const repo = join(await makeTempDir('zkvault-e2e-prune-'), 'repo');
  const ids = backupIds(repo, 4);

  const noRule = runCli(['prune', '--repo', repo]);
  assert.equal(noRule.code, 2);
  assert.match(noRule.stderr, /prune needs at least one --keep-\* rule; with none it would remove every backup/);
  const zero = runCli(['prune', '--repo', repo, '--keep-last', '0', '--keep-daily', '0']);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /every --keep-\* rule is 0/);
  const ambiguous = runCli(['prune', '--repo', repo, '--keep-within', '6m']);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /"m" is ambiguous[\s\S]*6min .* 6mo/);
  assert.equal(runCli(['prune', '--repo', repo, '--keep-last', 'two']).code, 2);
  const missing = runCli(['prune', '--repo', join(repo, 'nope'), '--keep-last', '1']);
  assert.equal(missing.code, 10, missing.stderr);
  assert.deepEqual(listIds(repo), ids, 'nothing changed');

  // A live run holds the lock (this test process, on this host): prune refuses with 11; a dry run,
  // which changes nothing, still plans.
  const lock = join(repo, 'locks', 'backup.json');
  const now = new Date().toISOString();
  writeFileSync(
    lock,
    JSON.stringify({
      tool: 'zkvault',
      host: hostname(),
      pid: process.pid,
      id: '20990101T000000000Z-beef',
      startedAt: now,
      refreshedAt: now,
    }),
  );
  const locked = runCli(['prune', '--repo', repo, '--keep-last', '1']);
  assert.equal(locked.code, 11, locked.stderr);
  assert.match(locked.stderr, /is locked by backup 20990101T000000000Z-beef/);
  const dry = runCli(['prune', '--repo', repo, '--keep-last', '2', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`would remove +${ids[0]}`));
  assert.match(dry.stdout, new RegExp(`keep +${ids[3]} .*last 1 of 2`));
  assert.match(dry.stdout, /dry run: would remove 2 backups and 0 leftovers \([\d.]+ KiB\), keeping 2 backups; nothing was changed/);
  assert.deepEqual(listIds(repo), ids);
  rmSync(lock);

  // Leftovers of killed runs: an archive with no manifest and an unfinished upload, both 2 h old.
  const orphanId = '20200101T000000000Z-0bad';
  copyFileSync(join(repo, 'archives', `${ids[0]}.tar`), join(repo, 'archives', `${orphanId}.tar`));
  const temp = join(repo, 'archives', `.${'20200101T000000001Z-0bad'}.tar.0123456789ab.tmp`);
  writeFileSync(temp, Buffer.alloc(100));
  const old = new Date(Date.now() - 2 * 3600_000);
  utimesSync(join(repo, 'archives', `${orphanId}.tar`), old, old);
  utimesSync(temp, old, old);

  const r = runCli(['prune', '--repo', repo, '--keep-last', '2', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(out).sort(), [
    'bytesFreed',
    'dryRun',
    'keep',
    'location',
    'orphans',
    'orphansRemoved',
    'policy',
    'remove',
    'removed',
    'warnings',
  ]);
  assert.deepEqual(out.policy, { last: 2, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0, within: null, groupBy: 'series' });
  assert.deepEqual(
    out.keep.map((k: { id: string; reasons: string[] }) => [k.id, k.reasons]),
    [
      [ids[2], ['last 2 of 2']],
      [ids[3], ['last 1 of 2']],
    ],
  );
  assert.deepEqual(
    out.remove.map((k: { id: string }) => k.id),
    [ids[0], ids[1]],
  );
  assert.deepEqual(Object.keys(out.keep[0]).sort(), ['bytes', 'chain', 'createdAt', 'id', 'kind', 'partial', 'reasons', 'series']);
  assert.equal(out.keep[0].series, `logical ${server.connectString} /`);
  assert.deepEqual(
    out.orphans.map((o: { key: string; kind: string; remove: boolean }) => [o.key, o.kind, o.remove]),
    [
      ['archives/.20200101T000000001Z-0bad.tar.0123456789ab.tmp', 'temporary', true],
      [`archives/${orphanId}.tar`, 'archive', true],
    ],
  );
  assert.deepEqual([out.dryRun, out.removed, out.orphansRemoved], [false, 2, 2]);
  assert.ok(out.bytesFreed > 0);
  assert.deepEqual(listIds(repo), [ids[2], ids[3]]);
  assert.deepEqual(readdirSync(join(repo, 'archives')).sort(), [`${ids[2]}.tar`, `${ids[3]}.tar`]);
  assert.deepEqual(readdirSync(join(repo, 'locks')), [], 'prune released its lock');
  const v = runCli(['verify', '--all', '--deep', '--repo', repo, '--json']);
  assert.equal(v.code, 0, v.stdout);

  // The same policy again removes nothing.
  const again = runCli(['prune', '--repo', repo, '--keep-last', '2', '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).removed, 0);
});

test('S3 repository: prune keeps the policy and removes an archive left without its manifest', async () => {
  s3 = await startS3Server({ bucket: 'prune-test' });
  const env = {
    ...s3.env,
    ...s3.zkvaultEnv,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const repo = `s3://${s3.bucket}/zk/main`;
  // s3rver answers in this process, so the CLI must run without blocking it.
  const run = (args: string[]) => runCliAsync(args, { env });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await run(['backup', '--zk', server.connectString, '--repo', repo, '--json']);
    assert.equal(r.code, 0, r.stderr);
    ids.push(JSON.parse(r.stdout).id);
  }
  // An archive whose run died before its manifest: put straight into the bucket.
  const restoreEnv = useS3rverCredentials();
  const saved = { endpoint: process.env.ZKVAULT_S3_ENDPOINT, pathStyle: process.env.ZKVAULT_S3_FORCE_PATH_STYLE };
  process.env.ZKVAULT_S3_ENDPOINT = s3.endpoint;
  process.env.ZKVAULT_S3_FORCE_PATH_STYLE = 'true';
  try {
    const storage = await openStorage(repo);
    await storage.put('archives/20200101T000000000Z-0bad.tar', Buffer.alloc(1234));
  } finally {
    restoreEnv();
    if (saved.endpoint === undefined) delete process.env.ZKVAULT_S3_ENDPOINT;
    else process.env.ZKVAULT_S3_ENDPOINT = saved.endpoint;
    if (saved.pathStyle === undefined) delete process.env.ZKVAULT_S3_FORCE_PATH_STYLE;
    else process.env.ZKVAULT_S3_FORCE_PATH_STYLE = saved.pathStyle;
  }

  const dry = await run(['prune', '--repo', repo, '--keep-last', '1', '--orphan-grace', '0s', '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  assert.deepEqual(
    plan.remove.map((d: { id: string }) => d.id),
    [ids[0], ids[1]],
  );
  assert.deepEqual(
    plan.orphans.map((o: { key: string; remove: boolean }) => [o.key, o.remove]),
    [['archives/20200101T000000000Z-0bad.tar', true]],
  );

  const r = await run(['prune', '--repo', repo, '--keep-last', '1', '--orphan-grace', '0s', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual([out.removed, out.orphansRemoved], [2, 1]);
  const list = await run(['list', '--repo', repo, '--json']);
  assert.deepEqual(
    JSON.parse(list.stdout).map((b: { id: string }) => b.id),
    [ids[2]],
  );
  const v = await run(['verify', '--all', '--deep', '--repo', repo, '--json']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.deepEqual(
    JSON.parse(v.stdout).backups.map((b: { id: string }) => b.id),
    [ids[2]],
    'no orphan left for verify to report',
  );
});
