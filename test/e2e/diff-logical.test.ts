// `zkvault diff` end to end on logical backups of a real ZooKeeper: two backups taken around known
// changes (add, remove, change data, change ACL, convert a node's type), a backup against the live
// tree, a backup against itself, and the bad refs with their exit codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { diffJson as diffJsonIn, runCli, type DiffChange } from '../support/cli.js';
import { openSession, type ZkSession } from '../../src/zk/client.js';
import type { AclEntry } from '../../src/core/node-record.js';

requireZooKeeper();

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const READ_ONLY: AclEntry[] = [{ perms: 1, scheme: 'world', id: 'anyone' }];

let server: ZkServer;
let holder: ZkSession | undefined;
let repo = '';
let idA = '';
let idB = '';

after(async () => {
  await holder?.close();
  await stopAll();
});

function backup(): string {
  const r = runCli(['backup', '--zk', server.connectString, '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).id as string;
}

const diffJson = (args: string[], expectCode: number) => diffJsonIn(repo, args, expectCode);

/** The changes the test makes between backups A and B, as `diff --json` must list them. */
const EXPECTED: DiffChange[] = [
  { path: '/app/acl', change: 'modified', fields: ['acl'] },
  { path: '/app/bin', change: 'modified', fields: ['data'] },
  { path: '/app/conv', change: 'modified', fields: ['type'] },
  { path: '/app/data', change: 'modified', fields: ['data'] },
  { path: '/app/gone', change: 'removed', fields: [] },
  { path: '/app/new', change: 'added', fields: [] },
];

before(async () => {
  repo = join(await makeTempDir('zkvault-e2e-diff-'), 'repo');
  server = await startStandalone();
  const s = await openSession({ connectString: server.connectString });
  try {
    await s.create('/app', Buffer.from('app'), OPEN);
    await s.create('/app/keep', Buffer.from('unchanged'), OPEN);
    await s.create('/app/gone', Buffer.from('to be removed'), OPEN);
    await s.create('/app/data', Buffer.from('port=2181\nhost=a\nmode=x\n'), OPEN);
    await s.create('/app/bin', Buffer.from([0, 1, 2, 0xff]), OPEN);
    await s.create('/app/acl', Buffer.from('acl'), OPEN);
    await s.create('/app/conv', Buffer.from('same data'), OPEN);
    await s.create('/app/queue', null, OPEN, 'container');
    await s.create('/app/queue/item', Buffer.from('i'), OPEN);
    await s.create('/other', Buffer.from('o'), OPEN);
    idA = backup();

    await s.create('/app/new', Buffer.from('added'), OPEN);
    await s.delete('/app/gone');
    await s.setData('/app/data', Buffer.from('port=2182\nhost=a\nmode=x\n'));
    await s.setData('/app/bin', Buffer.from([0, 1, 2, 0xfe, 0x00]));
    await s.setAcl('/app/acl', READ_ONLY);
    // Convert a type: the persistent node becomes an ephemeral one with the same data and ACL.
    await s.delete('/app/conv');
    holder = await openSession({ connectString: server.connectString });
    await holder.create('/app/conv', Buffer.from('same data'), OPEN, 'ephemeral');
    idB = backup();
  } finally {
    await s.close();
  }
});

test('diff --json A B lists exactly the changed paths, with the right change and fields (exit 5)', () => {
  const r = diffJson([idA, idB], 5);
  assert.equal(r.same, false);
  assert.deepEqual(r.changes, EXPECTED);
  const a = r.a as Record<string, unknown>;
  assert.equal(a.kind, 'backup');
  assert.equal(a.id, idA);
  assert.equal(a.backupKind, 'logical');
  assert.equal(r.path, '/');
  assert.deepEqual(r.counts, { added: 1, removed: 1, modified: 4, unchanged: 6 });
  // B → A is the mirror image.
  const back = diffJson([idB, idA], 5);
  assert.deepEqual(
    back.changes,
    EXPECTED.map((c) => ({ ...c, change: c.change === 'added' ? 'removed' : c.change === 'removed' ? 'added' : c.change })),
  );
});

test('--stat also names the stat fields that moved; --ignore-stat is the default', () => {
  const r = diffJson([idA, idB, '--stat'], 5);
  const byPath = new Map(r.changes.map((c) => [c.path, c]));
  assert.deepEqual([...byPath.keys()], ['/app', ...EXPECTED.map((c) => c.path)]);
  assert.deepEqual(byPath.get('/app')!.fields, ['pzxid', 'cversion']);
  assert.deepEqual(byPath.get('/app/data')!.fields, ['data', 'mzxid', 'mtime', 'version']);
  assert.deepEqual(byPath.get('/app/bin')!.fields, ['data', 'mzxid', 'mtime', 'version']);
  assert.deepEqual(byPath.get('/app/acl')!.fields, ['acl', 'aversion']);
  const conv = byPath.get('/app/conv')!.fields;
  for (const f of ['type', 'czxid', 'mzxid', 'pzxid', 'ephemeralOwner']) assert.ok(conv.includes(f), `${f} in ${conv.join(',')}`);
  assert.ok(!conv.includes('data') && !conv.includes('acl'));
  assert.deepEqual(diffJson([idA, idB, '--ignore-stat'], 5).changes, EXPECTED);
  const both = runCli(['diff', idA, idB, '--stat', '--ignore-stat', '--repo', repo]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /give --stat or --ignore-stat, not both/);
});

test('human output: grouped, a text diff for text data, size and hash for binary, ACL and type before → after', () => {
  const r = runCli(['diff', idA, idB, '--repo', repo]);
  assert.equal(r.code, 5, r.stderr);
  const out = r.stdout;
  assert.doesNotMatch(out, /\x1b\[/, 'no colour when stdout is not a terminal (and NO_COLOR is set)');
  assert.ok(out.indexOf('added: only in B (1)') < out.indexOf('removed: only in A (1)'));
  assert.ok(out.indexOf('removed: only in A (1)') < out.indexOf('modified (4)'));
  assert.match(out, /\+ \/app\/new {2}persistent, 5 B/);
  assert.match(out, /- \/app\/gone {2}persistent, 13 B/);
  assert.match(
    out,
    /~ \/app\/data {2}\[data\]\n {6}data \(text\):\n {6}--- A\n {6}\+\+\+ B\n {6}@@ -1,3 \+1,3 @@\n {6}-port=2181\n {6}\+port=2182\n {6} host=a\n {6} mode=x/,
  );
  assert.match(out, /~ \/app\/bin {2}\[data\]\n {6}data: 4 B sha256:[0-9a-f]{12} → 5 B sha256:[0-9a-f]{12}/);
  assert.match(out, /~ \/app\/acl {2}\[acl\]\n {6}acl: world:anyone=cdrwa → world:anyone=r/);
  assert.match(out, /~ \/app\/conv {2}\[type\]\n {6}type: persistent → ephemeral/);
  assert.match(out, /different: 1 added, 1 removed, 4 modified/);
});

test('a backup against the live tree: B matches it now, A shows the same changes as A → B', () => {
  const live = `zk://${server.connectString}`;
  const same = diffJson([idB, live], 0);
  assert.deepEqual({ same: same.same, changes: same.changes }, { same: true, changes: [] });
  const b = same.b as Record<string, unknown>;
  assert.equal(b.kind, 'live');
  assert.match(String(b.zxid), /^0x[0-9a-f]+$/);
  assert.equal(same.clientView, false, 'a logical backup and a live tree both see client types');
  assert.deepEqual(diffJson([idA, live], 5).changes, EXPECTED);
  assert.deepEqual(diffJson([live, idB], 0).changes, []);
  // Human form says it is the same.
  const h = runCli(['diff', idB, live, '--repo', repo]);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /live tree at 127\.0\.0\.1:\d+/);
  assert.match(h.stdout, /same: no differences/);
});

test('--path and zk://HOST:PORT/path limit both sides to a subtree', () => {
  const live = `zk://${server.connectString}`;
  assert.deepEqual(diffJson([idA, idB, '--path', '/app/data'], 5).changes, [{ path: '/app/data', change: 'modified', fields: ['data'] }]);
  assert.deepEqual(diffJson([idA, idB, '--path', '/other'], 0).changes, []);
  // The walk path in zk:// narrows the comparison; the note says so.
  const narrowed = diffJson([idA, `${live}/app/data`], 5);
  assert.equal(narrowed.path, '/app/data');
  assert.deepEqual(narrowed.changes, [{ path: '/app/data', change: 'modified', fields: ['data'] }]);
  assert.match((narrowed.notes as string[]).join('\n'), /comparing \/app\/data only/);
  // A path that is nowhere is an error; a --path outside the zk:// path is a usage error.
  let r = runCli(['diff', idA, idB, '--path', '/nope', '--repo', repo]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /\/nope is in neither/);
  r = runCli(['diff', idA, `${live}/app`, '--path', '/other', '--repo', repo]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--path \/other is outside what zk:\/\/.*\/app holds \(\/app\)/);
  // A node missing on one side makes its whole subtree added.
  assert.deepEqual(diffJson([idA, idB, '--path', '/app/new'], 5).changes, [{ path: '/app/new', change: 'added', fields: [] }]);
});

test('a backup compared with itself is the same (exit 0), also with --stat and via latest', () => {
  for (const args of [
    [idA, idA],
    [idB, idB, '--stat'],
    ['latest', idB],
  ]) {
    const r = diffJson(args, 0);
    assert.deepEqual({ same: r.same, changes: r.changes }, { same: true, changes: [] }, args.join(' '));
  }
  const h = runCli(['diff', idA, idA, '--repo', repo]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /same: no differences \(11 node\(s\) in A, 11 in B\)/);
});

test('a backup taken through a chroot is compared in server paths: it lines up with zk://HOST/chroot and a whole-tree backup', () => {
  const r = runCli(['backup', '--zk', `${server.connectString}/app`, '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const chrooted = JSON.parse(r.stdout).id as string;
  const live = diffJson([chrooted, `zk://${server.connectString}/app`], 0);
  assert.equal((live.a as Record<string, unknown>).chroot, '/app');
  assert.equal(live.path, '/app');
  assert.equal((live.a as Record<string, unknown>).nodes, 9);
  const whole = diffJson([idA, chrooted], 5);
  assert.equal(whole.path, '/app');
  assert.deepEqual(whole.changes, EXPECTED);
  const sub = diffJson([chrooted, idB, '--path', '/app/data'], 0);
  assert.deepEqual(sub.changes, []);
  // A --path inside the chroot's own naming (/data) is outside what the backup holds (/app).
  const wrong = runCli(['diff', chrooted, idB, '--path', '/data', '--repo', repo]);
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /--path \/data is outside what .* holds \(\/app\)/);
});

test('live nodes the session cannot read are left out on both sides: exit 3 when nothing else differs; --auth reads them', async () => {
  const admin: AclEntry = { perms: 31, scheme: 'digest', id: 'admin:' + createHash('sha1').update('admin:admin-pw').digest('base64') };
  const s = await openSession({ connectString: server.connectString, auth: ['digest:admin:admin-pw'] });
  try {
    await s.create('/locked', Buffer.from('secret'), [admin]);
    await s.create('/locked/child', Buffer.from('c'), [admin]);
  } finally {
    await s.close();
  }
  const live = `zk://${server.connectString}`;
  const r = runCli(['diff', idB, live, '--repo', repo, '--json']);
  assert.equal(r.code, 3, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.deepEqual({ same: json.same, changes: json.changes }, { same: false, changes: [] });
  assert.equal(json.excluded[0].path, '/locked');
  assert.match(json.excluded[0].reason, /NoAuth/);
  assert.match(r.stderr, /1 subtree\(s\) could not be read .* pass --auth/);
  const human = runCli(['diff', idB, live, '--repo', repo]);
  assert.equal(human.code, 3);
  assert.match(human.stdout, /left out: \/locked and below/);
  assert.match(human.stdout, /no differences among the nodes read, but some could not be read/);
  // An unreadable root is an authorization failure, not a missing node.
  const root = runCli(['diff', idB, `${live}/locked`, '--repo', repo]);
  assert.equal(root.code, 12, root.stderr);
  assert.match(root.stderr, /\/locked on 127\.0\.0\.1:\d+: the credentials given cannot read it/);
  // With credentials the nodes are read, and are what differs.
  const authed = diffJson([idB, live, '--auth', 'digest:admin:admin-pw'], 5);
  assert.deepEqual(authed.changes, [
    { path: '/locked', change: 'added', fields: [] },
    { path: '/locked/child', change: 'added', fields: [] },
  ]);
  assert.deepEqual(authed.excluded, []);
  // A node anyone may read but only admin may administer: its digest ACL entry reads as admin:x.
  const s2 = await openSession({ connectString: server.connectString, auth: ['digest:admin:admin-pw'] });
  try {
    await s2.create('/half', Buffer.from('h'), [...READ_ONLY, admin]);
  } finally {
    await s2.close();
  }
  const hidden = diffJson([idB, `${live}/half`], 5);
  assert.deepEqual(hidden.changes, [{ path: '/half', change: 'added', fields: [] }]);
  assert.match((hidden.notes as string[]).join('\n'), /1 node\(s\) read live have digest ACLs whose hashes the server hid/);
  // A backup taken without credentials is partial: against a complete one nothing differs among the
  // nodes both hold, but what it could not read is not known to be the same (exit 3).
  const s3 = await openSession({ connectString: server.connectString });
  await s3.delete('/half').finally(() => s3.close()); // its ACL would read differently without credentials
  const partial = runCli(['backup', '--zk', server.connectString, '--repo', repo, '--json']);
  assert.equal(partial.code, 3, partial.stderr);
  const full = runCli(['backup', '--zk', server.connectString, '--auth', 'digest:admin:admin-pw', '--repo', repo, '--json']);
  assert.equal(full.code, 0, full.stderr);
  const [pid, fid] = [JSON.parse(partial.stdout).id, JSON.parse(full.stdout).id];
  const both = diffJson([pid, fid], 3);
  assert.deepEqual({ same: both.same, changes: both.changes }, { same: false, changes: [] });
  assert.match(
    (both.notes as string[]).join('\n'),
    new RegExp(`left out: /locked and below \\(unreadable when backup ${pid} was taken\\)`),
  );
  // Nothing of --path could be compared: a partial comparison, exit 3 as everywhere else (issue 20).
  const inside = runCli(['diff', pid, fid, '--path', '/locked/child', '--repo', repo]);
  assert.equal(inside.code, 3, inside.stderr);
  assert.match(
    inside.stderr,
    new RegExp(`/locked/child cannot be compared: /locked and below were left out \\(unreadable when backup ${pid} was taken\\)`),
  );
});

test('bad refs and arguments: exit 2 for what cannot be a source, 10 for what is not there, 13 unreachable', () => {
  const cases: Array<[string[], number, RegExp]> = [
    [['nope', idA], 10, /no backup matches "nope"/],
    [[`${idA}@0x5`, idB], 2, new RegExp(`backup ${idA} is logical: it holds one tree`)],
    [['bad ref!', idA], 2, /"bad ref!" is not a backup id/],
    [[idA, `${idB}@zxid`], 2, /is not a zxid/],
    [[idA, 'zk://'], 2, /names no ZooKeeper server/],
    [[idA, 'zk://127.0.0.1:notaport'], 2, /has no valid port/],
    [[idA, 'http://127.0.0.1:2181'], 2, /is not a tree source/],
    [[idA, idB, '--path', 'app'], 2, /--path "app" must start with \//],
    [[idA], 2, /missing required argument 'b'/],
  ];
  for (const [args, code, re] of cases) {
    const r = runCli(['diff', ...args, '--repo', repo]);
    assert.equal(r.code, code, `diff ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, `diff ${args.join(' ')}`);
    assert.equal(r.stdout, '', 'nothing on stdout for a failed diff');
  }
  const noRepo = runCli(['diff', idA, idB, '--repo', join(repo, 'missing')]);
  assert.equal(noRepo.code, 10, noRepo.stderr);
  assert.match(noRepo.stderr, /no zkvault repository at/);
  // A live-only diff needs no repository at all.
  const liveOnly = runCli([
    'diff',
    `zk://${server.connectString}/app`,
    `zk://${server.connectString}/app`,
    '--repo',
    join(repo, 'missing'),
    '--json',
  ]);
  assert.equal(liveOnly.code, 0, liveOnly.stderr);
  const unreachable = runCli(['diff', idA, 'zk://127.0.0.1:1', '--repo', repo]);
  assert.equal(unreachable.code, 13, unreachable.stderr);
});
