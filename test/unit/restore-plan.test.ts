import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRestore, mapPath, type SourceNode, type TargetNode } from '../../src/core/restore-plan.js';
import type { AclEntry, NodeStat } from '../../src/core/node-record.js';

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const SECRET: AclEntry[] = [{ perms: 1, scheme: 'digest', id: 'bob:abc=' }];
const stat = (owner = 0n): NodeStat => ({
  czxid: 1n,
  mzxid: 1n,
  pzxid: 1n,
  ctime: 0n,
  mtime: 0n,
  version: 0,
  cversion: 0,
  aversion: 0,
  ephemeralOwner: owner,
});
const src = (path: string, data: string | null, opts: { acl?: AclEntry[]; owner?: bigint; stored?: number } = {}): SourceNode => ({
  path,
  data: data === null ? null : Buffer.from(data),
  acl: opts.acl ?? OPEN,
  stat: stat(opts.owner),
  storedCversion: opts.stored ?? 0,
});
const tgt = (path: string, data: string | null, acl = OPEN): [string, TargetNode] => [
  path,
  { path, data: data === null ? null : Buffer.from(data), acl, stat: stat(), numChildren: 0 },
];

const backup = [
  src('/', ''),
  src('/app', 'a', { stored: 7 }),
  src('/app/cfg', 'v1', { acl: SECRET }),
  src('/app/eph', 'e', { owner: 0x1234n }),
  src('/app/eph/never', 'x'),
  src('/app/queue', null, { owner: -0x8000000000000000n }),
];

test('create into an empty target: parents first, ephemerals skipped, ACLs last and deepest first', () => {
  const plan = planRestore({ source: backup, sourceRoot: '/', targetRoot: '/', target: new Map([tgt('/', '')]), mode: 'create' });
  assert.deepEqual(plan.conflicts, []);
  assert.deepEqual(
    plan.creates.map((c) => c.path),
    ['/app', '/app/cfg', '/app/queue'],
  );
  assert.deepEqual(plan.acls, [{ path: '/app/cfg', acl: SECRET }]);
  assert.deepEqual(
    plan.skipped.map((s) => s.path),
    ['/', '/app/eph', '/app/eph/never'],
  );
  assert.equal(plan.creates.find((c) => c.path === '/app/queue')!.sourceType, 'container', 'a container is created as a container');
  assert.doesNotMatch(plan.warnings.join('\n'), /queue/);
  assert.deepEqual(plan.cversions, [{ path: '/app', storedCversion: 7 }]);
});

test('create mode changes nothing when any node exists', () => {
  const plan = planRestore({
    source: backup,
    sourceRoot: '/',
    targetRoot: '/',
    target: new Map([tgt('/', ''), tgt('/app/cfg', 'other')]),
    mode: 'create',
  });
  assert.deepEqual(plan.conflicts, ['/app/cfg']);
  assert.deepEqual([plan.creates, plan.updates, plan.acls, plan.cversions, plan.deletes], [[], [], [], [], []]);
});

test('overwrite updates only what differs; mirror also deletes extras, children first', () => {
  const target = new Map([
    tgt('/', ''),
    tgt('/app', 'a'),
    tgt('/app/cfg', 'v0'),
    tgt('/extra', 'x'),
    tgt('/extra/deep', 'y'),
    tgt('/zookeeper', ''),
  ]);
  const over = planRestore({ source: backup, sourceRoot: '/', targetRoot: '/', target, mode: 'overwrite' });
  assert.deepEqual(over.updates, [{ path: '/app/cfg', data: Buffer.from('v1'), acl: SECRET, fields: ['data', 'acl'] }]);
  assert.deepEqual(
    over.creates.map((c) => c.path),
    ['/app/queue'],
  );
  assert.deepEqual(over.deletes, []);
  assert.ok(over.skipped.some((s) => s.path === '/app' && s.reason === 'identical'));
  const mirror = planRestore({ source: backup, sourceRoot: '/', targetRoot: '/', target, mode: 'mirror' });
  assert.deepEqual(mirror.deletes, ['/extra/deep', '/extra']);
});

test('--path and --into map the subtree and create missing ancestors', () => {
  assert.equal(mapPath('/app/cfg', '/app', '/restored/app'), '/restored/app/cfg');
  assert.equal(mapPath('/app', '/app', '/r'), '/r');
  assert.equal(mapPath('/x', '/', '/r'), '/r/x');
  assert.equal(mapPath('/', '/', '/r'), '/r');
  const plan = planRestore({
    source: backup,
    sourceRoot: '/app',
    targetRoot: '/restored/app',
    target: new Map([tgt('/', '')]),
    mode: 'create',
  });
  assert.deepEqual(
    plan.creates.map((c) => [c.path, Boolean(c.ancestor)]),
    [
      ['/restored', true],
      ['/restored/app', false],
      ['/restored/app/cfg', false],
      ['/restored/app/queue', false],
    ],
  );
});

test('null and empty data are different values', () => {
  const plan = planRestore({
    source: [src('/', ''), src('/n', null)],
    sourceRoot: '/',
    targetRoot: '/',
    target: new Map([tgt('/', ''), tgt('/n', '')]),
    mode: 'overwrite',
  });
  assert.deepEqual(
    plan.updates.map((u) => [u.path, u.fields]),
    [['/n', ['data']]],
  );
});

test('a redacted digest ACL never comes back more open: exact with the user’s credentials, else only what is known, else not created', () => {
  const READ: AclEntry = { perms: 1, scheme: 'world', id: 'anyone' };
  const source = [
    src('/', ''),
    src('/only', 'x', { acl: [{ perms: 31, scheme: 'digest', id: 'bob:x' }] }),
    src('/only/child', 'c'),
    src('/mixed', 'x', { acl: [READ, { perms: 31, scheme: 'digest', id: 'bob:x' }] }),
    src('/kept', 'new', { acl: [{ perms: 31, scheme: 'digest', id: 'bob:x' }] }),
  ];
  const target = new Map([tgt('/', ''), tgt('/kept', 'old', SECRET)]);
  const plan = planRestore({ source, sourceRoot: '/', targetRoot: '/', target, mode: 'overwrite' });
  assert.deepEqual(
    plan.creates.map((c) => [c.path, c.acl]),
    [['/mixed', [READ]]],
  );
  assert.deepEqual(
    plan.skipped.filter((s) => s.reason !== 'identical').map((s) => s.path),
    ['/only', '/only/child'],
  );
  assert.match(
    plan.skipped.find((s) => s.path === '/only')!.reason,
    /not created: .*hashes the server hid .*\(bob\); give --auth digest:bob:PASSWORD/,
  );
  assert.deepEqual(plan.updates, [{ path: '/kept', data: Buffer.from('new'), fields: ['data'] }], 'the existing node keeps its ACL');
  assert.deepEqual(
    plan.acls.map((a) => a.path),
    ['/mixed'],
  );
  assert.deepEqual(
    plan.aclsNotRestored.map((a) => a.path),
    ['/kept', '/mixed', '/only'],
  );
  assert.ok(!plan.creates.some((c) => c.acl.some((a) => a.scheme === 'world' && a.perms !== 1)), 'nothing is opened up');

  // With bob's own credentials the hidden hash is his: every ACL is restored exactly.
  const bob = 'bob:base64hash=';
  const exact = planRestore({ source, sourceRoot: '/', targetRoot: '/', target, mode: 'overwrite', digestIds: new Map([['bob', bob]]) });
  const BOB: AclEntry = { perms: 31, scheme: 'digest', id: bob };
  assert.deepEqual(exact.aclsNotRestored, []);
  assert.deepEqual(
    exact.creates.map((c) => [c.path, c.acl]),
    [
      ['/mixed', [READ, BOB]],
      ['/only', [BOB]],
      ['/only/child', OPEN],
    ],
  );
  assert.deepEqual(
    exact.updates.map((u) => [u.path, u.acl]),
    [['/kept', [BOB]]],
  );
});

test('mirror leaves alone what the backup does not know (unreadable or excluded subtrees)', () => {
  const target = new Map([tgt('/', ''), tgt('/app', 'a'), tgt('/secret', 's'), tgt('/secret/inner', 'i'), tgt('/extra', 'x')]);
  const plan = planRestore({
    source: [src('/', ''), src('/app', 'a')],
    sourceRoot: '/',
    targetRoot: '/',
    target,
    mode: 'mirror',
    unknown: ['/secret'],
  });
  assert.deepEqual(plan.deletes, ['/extra']);
  assert.deepEqual(
    plan.skipped.filter((s) => s.reason.startsWith('not deleted')).map((s) => s.path),
    ['/secret', '/secret/inner'],
  );
  // Restored elsewhere with --into, the unknown subtree maps along.
  const into = planRestore({
    source: [src('/', ''), src('/app', 'a')],
    sourceRoot: '/',
    targetRoot: '/copy',
    target: new Map([tgt('/', ''), tgt('/copy', ''), tgt('/copy/secret', 's'), tgt('/copy/old', 'o')]),
    mode: 'mirror',
    unknown: ['/secret'],
  });
  assert.deepEqual(into.deletes, ['/copy/old']);
});

test('mirror never deletes a target node where the backup holds an ephemeral (a live lock or registration)', () => {
  const target = new Map([tgt('/', ''), tgt('/app', 'a'), tgt('/app/eph', 'live'), tgt('/app/gone', 'x')]);
  const plan = planRestore({ source: backup, sourceRoot: '/', targetRoot: '/', target, mode: 'mirror' });
  assert.deepEqual(plan.deletes, ['/app/gone']);
  assert.ok(plan.skipped.some((s) => s.path === '/app/eph' && /not deleted: the backup holds it too, as an ephemeral node/.test(s.reason)));
});

test('--ephemerals-as-persistent restores them, with a warning', () => {
  const plan = planRestore({
    source: backup,
    sourceRoot: '/',
    targetRoot: '/',
    target: new Map([tgt('/', '')]),
    mode: 'create',
    ephemeralsAsPersistent: true,
  });
  assert.ok(plan.creates.some((c) => c.path === '/app/eph' && c.sourceType === 'ephemeral'));
  assert.ok(plan.creates.some((c) => c.path === '/app/eph/never'));
});
