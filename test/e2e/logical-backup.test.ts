// Logical backup and restore end to end through the CLI, against real ZooKeeper servers: a rich tree
// is backed up, restored into a fresh server (and under another path), and compared node for node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { startStandalone, stopAll, requireZooKeeper, runJava, zkCli, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { withSession as withSessionAs } from '../support/session.js';
import { runCli, spawnCli } from '../support/cli.js';
import { openSession, type ZkSession } from '../../src/zk/client.js';
import { readLiveTree } from '../../src/zk/live-tree.js';
import type { AclEntry, NodeRecord } from '../../src/core/node-record.js';

requireZooKeeper();
after(stopAll);

const AUTH = 'digest:admin:admin-pw';
const ADMIN: AclEntry = { perms: 31, scheme: 'digest', id: 'admin:' + createHash('sha1').update('admin:admin-pw').digest('base64') };
const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
/** Everyone may read, nobody but admin may create children: a restore must still fill it. */
const NO_CREATE: AclEntry[] = [{ perms: 1, scheme: 'world', id: 'anyone' }, ADMIN];
const WIDE = 10_000;

let source: ZkServer;
let repo = '';
let work = '';
let backupId = '';
let ephemeralHolder: ZkSession;

function withSession<T>(connectString: string, fn: (s: ZkSession) => Promise<T>, auth = [AUTH]): Promise<T> {
  return withSessionAs(connectString, fn, auth);
}

before(async () => {
  work = await makeTempDir('zkvault-e2e-logical-');
  repo = join(work, 'repo');
  source = await startStandalone();
  await withSession(source.connectString, async (s) => {
    await s.create('/app', Buffer.from('app'), OPEN);
    await s.create('/app/bin', Buffer.from([0, 1, 2, 0xfe, 0xff]), OPEN);
    await s.create('/app/big', Buffer.alloc(1_000_000, 0xab), OPEN);
    await s.create('/app/null', null, OPEN);
    await s.create('/app/empty', Buffer.alloc(0), OPEN);
    await s.create('/app/odd name. with-chars!', Buffer.from('odd'), OPEN);
    await s.create('/ünïcödé', Buffer.from('ü'), OPEN);
    await s.create('/ünïcödé/日本', Buffer.from('東京'), OPEN);
    let p = '/deep';
    for (let i = 0; i < 20; i++) {
      await s.create(p, Buffer.from(String(i)), OPEN);
      p += `/l${i}`;
    }
    await s.create('/wide', null, OPEN);
    const names = Array.from({ length: WIDE }, (_, i) => `/wide/c${i}`);
    for (let i = 0; i < names.length; i += 500) {
      await s.multi(names.slice(i, i + 500).map((path) => ({ type: 'create' as const, path, data: Buffer.from(path), acl: OPEN })));
    }
    await s.create('/acl', null, OPEN);
    await s.create('/acl/digest', Buffer.from('d'), [ADMIN]);
    await s.create('/acl/ip', Buffer.from('i'), [{ perms: 31, scheme: 'ip', id: '127.0.0.1' }]);
    await s.create('/acl/locked', Buffer.from('parent denies CREATE'), OPEN);
    await s.create('/acl/locked/child', Buffer.from('c'), OPEN);
    await s.setAcl('/acl/locked', NO_CREATE);
    await s.create('/seq', null, OPEN);
    for (let i = 0; i < 5; i++) await s.create('/seq/job-', Buffer.from(`job ${i}`), OPEN, 'persistent_sequential');
    await s.delete('/seq/job-0000000001');
    await s.create('/live', null, OPEN);
  });
  await zkCli(source.connectString, ['create -c /queue q', 'create /queue/item x', 'create -t 3600000 /cache c'], { auth: [AUTH] });
  ephemeralHolder = await openSession({ connectString: source.connectString });
  await ephemeralHolder.create('/live/eph', Buffer.from('session-bound'), OPEN, 'ephemeral');
  const r = runCli(['backup', '--zk', source.connectString, '--auth', AUTH, '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  backupId = out.id;
});

after(async () => {
  await ephemeralHolder?.close();
});

test('backup --json reports the contract fields and a consistent zxid window', () => {
  const r = runCli(['list', '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout);
  assert.equal(list.length, 1);
  const b = list[0];
  assert.equal(b.id, backupId);
  assert.equal(b.kind, 'logical');
  assert.match(b.zxid.from, /^0x[0-9a-f]+$/);
  assert.match(b.zxid.to, /^0x[0-9a-f]+$/);
  assert.ok(b.nodes > WIDE + 40, `${b.nodes} nodes`);
  assert.ok(b.bytes > 1_000_000);
  assert.ok(!Number.isNaN(Date.parse(b.createdAt)));
});

function normal(recs: NodeRecord[], drop: (r: NodeRecord) => boolean = () => false) {
  return recs
    .filter((r) => !drop(r))
    .map((r) => ({
      path: r.path,
      data: r.data === null ? null : Buffer.from(r.data).toString('base64'),
      acl: r.acl.map((a) => `${a.perms}:${a.scheme}:${a.id}`).join(','),
    }));
}

test('restore into a fresh server gives back every node: bytes, ACLs, persistence; new sequential names come after restored ones', async () => {
  const target = await startStandalone();
  const r = runCli(['restore', backupId, '--zk', target.connectString, '--auth', AUTH, '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  for (const k of ['created', 'updated', 'deleted', 'skipped', 'zxid']) assert.ok(k in res, `restore --json has ${k}`);
  assert.ok(res.created > WIDE);
  assert.deepEqual(res.verify.mismatches, []);
  const src = await withSession(source.connectString, (s) => readLiveTree(s, '/'));
  const dst = await withSession(target.connectString, (s) => readLiveTree(s, '/'));
  const isEph = (rec: NodeRecord) => rec.stat.ephemeralOwner !== 0n;
  assert.deepEqual(normal(dst), normal(src, isEph), 'same nodes, data and ACLs; the ephemeral is skipped');
  assert.ok(res.skippedNodes.some((s: { path: string }) => s.path === '/live/eph'));
  assert.ok(
    dst.every((rec) => rec.stat.ephemeralOwner === 0n),
    'nothing comes back ephemeral',
  );
  // Container and TTL nodes look persistent to clients, so a logical backup restores them as such.
  assert.ok(dst.some((rec) => rec.path === '/queue/item') && dst.some((rec) => rec.path === '/cache'));
  const next = await withSession(target.connectString, (s) => s.create('/seq/job-', null, OPEN, 'persistent_sequential'));
  assert.equal(next, '/seq/job-0000000005', "the counter continues after the backup's last sequential child");
  await target.destroy();
});

test('an offline restore streams the backup into a dataDir a real server starts from, holding the tree as backed up', async () => {
  const dataDir = join(work, 'offline-logical');
  // A dry run reads and checks everything, says what it would write, and writes nothing.
  const dry = runCli(['restore', backupId, '--repo', repo, '--data-dir', dataDir, '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout);
  assert.equal(planned.dryRun, true);
  assert.equal(planned.snapshot, null);
  assert.ok(!existsSync(dataDir), 'a dry run writes nothing');
  const r = runCli(['restore', backupId, '--repo', repo, '--data-dir', dataDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  const listed = JSON.parse(runCli(['list', '--repo', repo, '--json']).stdout) as Array<{ id: string; nodes: number }>;
  assert.equal(res.created, listed.find((b) => b.id === backupId)!.nodes, 'every node of the backup, as its count says');
  assert.equal(res.dryRun, false);
  assert.equal(planned.created, res.created, 'the dry run said how many nodes the restore writes');
  // The dataDir holds exactly the backup's tree: its export is the backup's export, byte for byte.
  const fromBackup = runCli(['export', backupId, '--repo', repo]);
  const fromDataDir = runCli(['export', '--data-dir', dataDir]);
  assert.equal(fromBackup.code, 0, fromBackup.stderr);
  assert.equal(fromDataDir.code, 0, fromDataDir.stderr);
  assert.ok(fromBackup.stdout.length > 1_000_000);
  assert.equal(fromDataDir.stdout, fromBackup.stdout);
  // And a real server loads it: every node, its data and ACL, and its stat as the source had it.
  const server = await startStandalone({ dataDir });
  const src = await withSession(source.connectString, (s) => readLiveTree(s, '/'));
  const dst = await withSession(server.connectString, (s) => readLiveTree(s, '/'));
  const isEph = (rec: NodeRecord) => rec.stat.ephemeralOwner !== 0n;
  assert.deepEqual(normal(dst, isEph), normal(src, isEph));
  // The ephemeral's session is not the server's: it drops the node as it loads (as for any dead
  // session), which moves its parent's cversion on by one. Every other stat is the source's.
  assert.ok(!dst.some((x) => x.path === '/live/eph'), 'the ephemeral of a session the server does not know is gone');
  const liveCversion = (recs: NodeRecord[]) => recs.find((x) => x.path === '/live')!.stat.cversion;
  assert.equal(liveCversion(dst), liveCversion(src) + 1);
  const stats = (recs: NodeRecord[]) =>
    recs
      .filter((x) => !isEph(x) && x.path !== '/live')
      .map((x) => [x.path, x.stat.czxid, x.stat.mzxid, x.stat.pzxid, x.stat.version, x.stat.cversion, x.stat.aversion]);
  assert.deepEqual(stats(dst), stats(src));
  await server.destroy();
});

test('restore --path/--into puts a subtree elsewhere; --dry-run changes nothing; create refuses a non-empty target', async () => {
  const target = await startStandalone();
  const dry = runCli([
    'restore',
    backupId,
    '--zk',
    target.connectString,
    '--auth',
    AUTH,
    '--repo',
    repo,
    '--path',
    '/app',
    '--into',
    '/copy/app',
    '--dry-run',
  ]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would create 7,/, '/app and its 5 children, plus the missing ancestor /copy');
  assert.match(dry.stdout, /\+ \/copy\n/);
  assert.match(dry.stdout, /\+ \/copy\/app\/big/);
  assert.equal(await withSession(target.connectString, (s) => s.exists('/copy')), null, 'dry run changed nothing');
  const r = runCli([
    'restore',
    backupId,
    '--zk',
    target.connectString,
    '--auth',
    AUTH,
    '--repo',
    repo,
    '--path',
    '/app',
    '--into',
    '/copy/app',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const copy = await withSession(target.connectString, (s) => readLiveTree(s, '/copy/app'));
  const orig = await withSession(source.connectString, (s) => readLiveTree(s, '/app'));
  assert.deepEqual(
    normal(copy).map((n) => ({ ...n, path: n.path.replace('/copy', '') })),
    normal(orig),
  );
  const again = runCli([
    'restore',
    backupId,
    '--zk',
    target.connectString,
    '--auth',
    AUTH,
    '--repo',
    repo,
    '--path',
    '/app',
    '--into',
    '/copy/app',
  ]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /create mode changed nothing: 6 target node\(s\) already exist/);
  await target.destroy();
});

test('overwrite and mirror leave exactly the backed-up tree', async () => {
  const target = await startStandalone();
  await withSession(target.connectString, async (s) => {
    await s.create('/app', Buffer.from('changed'), OPEN);
    await s.create('/app/extra', Buffer.from('not in the backup'), OPEN);
    await s.create('/stray', null, OPEN);
  });
  const over = runCli([
    'restore',
    backupId,
    '--zk',
    target.connectString,
    '--auth',
    AUTH,
    '--repo',
    repo,
    '--path',
    '/app',
    '--mode',
    'overwrite',
    '--json',
  ]);
  assert.equal(over.code, 0, over.stderr);
  assert.equal(JSON.parse(over.stdout).updated, 1);
  let app = await withSession(target.connectString, (s) => readLiveTree(s, '/app'));
  assert.ok(
    app.some((n) => n.path === '/app/extra'),
    'overwrite keeps extras',
  );
  assert.equal(Buffer.from(app[0].data!).toString(), 'app');
  const mirror = runCli([
    'restore',
    backupId,
    '--zk',
    target.connectString,
    '--auth',
    AUTH,
    '--repo',
    repo,
    '--path',
    '/app',
    '--mode',
    'mirror',
    '--json',
  ]);
  assert.equal(mirror.code, 0, mirror.stderr);
  assert.equal(JSON.parse(mirror.stdout).deleted, 1);
  app = await withSession(target.connectString, (s) => readLiveTree(s, '/app'));
  const orig = await withSession(source.connectString, (s) => readLiveTree(s, '/app'));
  assert.deepEqual(normal(app), normal(orig));
  assert.ok(await withSession(target.connectString, (s) => s.exists('/stray')), 'mirror stays inside its path');
  await target.destroy();
});

test('a subtree the client cannot read makes the backup partial: exit 3, listed as partial, paths named', () => {
  const r = runCli(['backup', '--zk', source.connectString, '--repo', repo, '--path', '/acl', '--json']);
  assert.equal(r.code, 3, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.partial, true);
  assert.ok(out.unreadable.some((u: { path: string }) => u.path === '/acl/digest'));
  const list = JSON.parse(runCli(['list', '--repo', repo, '--json']).stdout);
  assert.equal(list.find((b: { id: string }) => b.id === out.id).partial, true);
});

test('a backup taken without ADMIN never restores an ACL more open, and mirror keeps what it could not read', async () => {
  // Without credentials: /acl/digest is unreadable, /acl/locked's ACL comes back with admin's hash hidden.
  const partial = runCli(['backup', '--zk', source.connectString, '--repo', repo, '--path', '/acl', '--json']);
  assert.equal(partial.code, 3, partial.stderr);
  const id = JSON.parse(partial.stdout).id;
  // Every way of reading it back says what it lacks.
  const lacks = new RegExp(
    `backup ${id} is partial: 2 node\\(s\\) could not be read when it was taken \\(first: /acl/digest: NoAuth.*what it restores lacks them`,
  );
  const ex = runCli(['export', id, '--repo', repo]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stderr, lacks);
  const offline = runCli(['restore', id, '--repo', repo, '--data-dir', join(work, 'partial-offline')]);
  assert.equal(offline.code, 0, offline.stderr);
  assert.match(offline.stderr, lacks);
  const target = await startStandalone();
  await withSession(target.connectString, async (s) => {
    await s.create('/acl', null, OPEN);
    await s.create('/acl/digest', Buffer.from('kept'), OPEN);
    await s.create('/acl/stray', null, OPEN);
  });
  // The restorer has no credentials either: /acl/locked gets only the entry that is known (world:r).
  const blind = runCli(['restore', id, '--zk', target.connectString, '--repo', repo, '--mode', 'mirror', '--json']);
  assert.equal(blind.code, 3, blind.stderr);
  assert.match(blind.stderr, lacks);
  const res = JSON.parse(blind.stdout);
  assert.deepEqual(
    res.aclsNotRestored.map((a: { path: string }) => a.path),
    ['/acl/locked'],
  );
  assert.match(blind.stderr, /1 node\(s\) could not get their ACL as the backup has it .*give --auth digest:admin:PASSWORD/);
  assert.deepEqual(res.deleted, 1, 'only the stray node');
  assert.ok(
    res.skippedNodes.some(
      (n: { path: string; reason: string }) => n.path === '/acl/digest' && /not deleted: the backup does not know/.test(n.reason),
    ),
  );
  const locked = await withSession(target.connectString, (s) => s.getAcl('/acl/locked'), []);
  assert.deepEqual(locked!.acl, [{ perms: 1, scheme: 'world', id: 'anyone' }], 'never more open than the backup');
  assert.equal(await withSession(target.connectString, (s) => s.exists('/acl/stray'), []), null);
  const kept = await withSession(target.connectString, (s) => s.getData('/acl/digest'));
  assert.equal(Buffer.from(kept!.data!).toString(), 'kept', 'mirror left the unreadable node alone');
  // With admin's credentials the hidden hash is known: the ACL comes back exactly.
  const exact = runCli(['restore', id, '--zk', target.connectString, '--auth', AUTH, '--repo', repo, '--into', '/exact', '--json']);
  assert.equal(exact.code, 0, exact.stderr);
  assert.deepEqual(JSON.parse(exact.stdout).aclsNotRestored, []);
  const restored = await withSession(target.connectString, (s) => s.getAcl('/exact/locked'));
  assert.deepEqual(restored!.acl, NO_CREATE);
  await target.destroy();
});

test('while a restore runs, and after it is interrupted, no node it created is more open than the backup has it', async () => {
  await withSession(source.connectString, async (s) => {
    await s.create('/private', Buffer.from('p'), [ADMIN]);
    for (let i = 0; i < 4000; i += 500) {
      await s.multi(
        Array.from({ length: 500 }, (_, j) => ({
          type: 'create' as const,
          path: `/private/n${i + j}`,
          data: Buffer.alloc(200, 1),
          acl: [ADMIN],
        })),
      );
    }
  });
  const b = runCli(['backup', '--zk', source.connectString, '--auth', AUTH, '--repo', repo, '--path', '/private', '--json']);
  assert.equal(b.code, 0, b.stderr);
  const target = await startStandalone();
  const child = spawnCli(['restore', JSON.parse(b.stdout).id, '--zk', target.connectString, '--auth', AUTH, '--repo', repo]);
  const closed = new Promise<number | null>((r) => child.on('close', r));
  // Interrupt as soon as the restore has created anything; meanwhile a stranger keeps trying to read.
  const stranger = await openSession({ connectString: target.connectString });
  let readByStranger = 0;
  try {
    for (let i = 0; i < 2000 && child.exitCode === null; i++) {
      const kids = await stranger.getChildren('/private').catch(() => null);
      if (kids) readByStranger++;
      if (
        await stranger.getData('/private/n0').then(
          (d) => d !== null,
          () => false,
        )
      )
        readByStranger++;
      if (await stranger.exists('/private')) child.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await stranger.close();
  }
  const code = await closed;
  assert.ok(code === 130 || code === 0, `exit ${code}`);
  assert.equal(readByStranger, 0, 'a session without credentials never read a restored node');
  const acls = await withSession(target.connectString, async (s) => {
    const kids = (await s.getChildren('/private'))?.children ?? [];
    return Promise.all(['/private', ...kids.map((k) => `/private/${k}`)].map(async (p) => (await s.getAcl(p))!.acl));
  });
  for (const acl of acls) assert.deepEqual(acl, [ADMIN]);
  await target.destroy();
});

test('a physical backup restored into a live ensemble brings back container and TTL nodes as they were', async () => {
  const physRepo = join(work, 'phys-into-live');
  const b = runCli(['backup', '--data-dir', source.dataDir, '--repo', physRepo, '--json']);
  assert.equal(b.code, 0, b.stderr);
  const target = await startStandalone();
  const r = runCli([
    'restore',
    JSON.parse(b.stdout).id,
    '--zk',
    target.connectString,
    '--auth',
    AUTH,
    '--repo',
    physRepo,
    '--path',
    '/queue',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const t = runCli([
    'restore',
    JSON.parse(b.stdout).id,
    '--zk',
    target.connectString,
    '--auth',
    AUTH,
    '--repo',
    physRepo,
    '--path',
    '/cache',
    '--json',
  ]);
  assert.equal(t.code, 0, t.stderr);
  assert.doesNotMatch(r.stderr + t.stderr, /restored as persistent/);
  // The types are in the target server's own files (clients see both as persistent).
  const types = (dir: string) =>
    runCli(['export', '--data-dir', dir])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((n) => n.path === '/queue' || n.path === '/queue/item' || n.path === '/cache')
      .map((n) => [n.path, n.type, n.type === 'persistent' ? null : n.stat.ephemeralOwner]);
  assert.deepEqual(types(target.dataDir), types(source.dataDir));
  assert.deepEqual(
    types(target.dataDir).map((x) => x[1]),
    ['ttl', 'container', 'persistent'],
  );
  await target.destroy();
  // A server that refuses TTL nodes gets a persistent one, and the restore says it is not as it was.
  const plain = await startStandalone({ extendedTypes: false });
  const p = runCli([
    'restore',
    JSON.parse(b.stdout).id,
    '--zk',
    plain.connectString,
    '--auth',
    AUTH,
    '--repo',
    physRepo,
    '--path',
    '/cache',
    '--json',
  ]);
  assert.equal(p.code, 3, p.stderr);
  assert.match(JSON.parse(p.stdout).failed[0].error, /created as a persistent node, not a TTL node: the server refused TTL nodes/);
  assert.ok(await withSession(plain.connectString, (s) => s.exists('/cache')));
  await plain.destroy();
});

test('/zookeeper is never backed up or written, and under a chroot a child named zookeeper is reported, not lost quietly', async () => {
  const sys = runCli(['backup', '--zk', source.connectString, '--repo', join(work, 'never'), '--path', '/zookeeper/config']);
  assert.equal(sys.code, 2, sys.stderr);
  assert.match(sys.stderr, /--path \/zookeeper\/config is inside \/zookeeper, the server's own subtree, which is never backed up/);
  const target = await startStandalone();
  const into = runCli(['restore', backupId, '--zk', target.connectString, '--repo', repo, '--path', '/app', '--into', '/zookeeper/stolen']);
  assert.equal(into.code, 2, into.stderr);
  assert.match(into.stderr, /\/zookeeper\/stolen is inside \/zookeeper, the server's own subtree, which a restore never writes/);
  assert.deepEqual((await withSession(target.connectString, (s) => s.getChildren('/zookeeper')))!.children.sort(), ['config', 'quota']);
  await target.destroy();
  await withSession(source.connectString, async (s) => {
    await s.create('/chrooted', null, OPEN);
    await s.create('/chrooted/zookeeper', Buffer.from('user data'), OPEN);
    await s.create('/chrooted/data', Buffer.from('d'), OPEN);
  });
  const r = runCli(['backup', '--zk', `${source.connectString}/chrooted`, '--repo', join(work, 'chrooted'), '--json']);
  assert.equal(r.code, 3, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(
    out.unreadable.map((u: { path: string }) => u.path),
    ['/zookeeper'],
  );
  assert.match(
    out.unreadable[0].reason,
    /not restorable: under the chroot \/chrooted, \/chrooted\/zookeeper and its subtree read as the server's own \/zookeeper; back up without the chroot, with --path \/chrooted/,
  );
});

test('a backup root the credentials cannot read is an auth failure (exit 12), nothing stored', () => {
  const denied = join(work, 'denied');
  const r = runCli(['backup', '--zk', source.connectString, '--repo', denied, '--path', '/acl/digest']);
  assert.equal(r.code, 12, r.stderr);
  assert.match(r.stderr, /\/acl\/digest: the credentials given cannot read the backup root/);
  assert.match(r.stderr, /hint: pass --auth/);
  const list = runCli(['list', '--repo', denied, '--json']);
  assert.deepEqual(list.code === 0 ? JSON.parse(list.stdout) : [], []);
});

test('an unreachable ensemble is exit 13 with a clear message', () => {
  const r = runCli(['backup', '--zk', '127.0.0.1:1', '--repo', join(work, 'unused')]);
  assert.equal(r.code, 13, r.stderr);
  assert.match(r.stderr, /127\.0\.0\.1:1/);
  assert.equal(existsSync(join(work, 'unused', 'manifests')) && readdirSync(join(work, 'unused', 'manifests')).length > 0, false);
});

test('a backup killed mid-run leaves nothing listed', async () => {
  const killRepo = join(work, 'killed');
  const child = spawnCli(['backup', '--zk', source.connectString, '--auth', AUTH, '--repo', killRepo, '--concurrency', '1']);
  // Kill it once it has started walking (its staging directory exists) or shortly after start.
  await new Promise((r) => setTimeout(r, 700));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  const r = runCli(['list', '--repo', killRepo, '--json']);
  if (r.code === 0) assert.deepEqual(JSON.parse(r.stdout), [], 'nothing listed');
  else assert.equal(r.code, 10, 'or no repository at all');
  const sig = spawnCli(['backup', '--zk', source.connectString, '--auth', AUTH, '--repo', killRepo, '--concurrency', '1']);
  await new Promise((r) => setTimeout(r, 700));
  sig.kill('SIGINT');
  const code = await new Promise<number | null>((r) => sig.on('close', r));
  assert.ok(code === 130 || code === 0, `SIGINT exit ${code}`);
  const after = runCli(['list', '--repo', killRepo, '--json']);
  if (code === 130) assert.deepEqual(after.code === 0 ? JSON.parse(after.stdout) : [], []);
});

test("the snapshot inside a logical backup is read by ZooKeeper's SnapshotFormatter", async () => {
  const dir = join(work, 'extract');
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkdir', ['-p', dir]);
  execFileSync('tar', ['-xf', join(repo, 'archives', `${backupId}.tar`), '-C', dir]);
  const snap = readdirSync(dir).find((n) => n.startsWith('snapshot.'))!;
  const res = await runJava('org.apache.zookeeper.server.SnapshotFormatter', [join(dir, snap)]);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(res.stdout.includes('/wide/c9999'));
  assert.ok(res.stdout.includes('/ünïcödé/日本'));
});
