import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRestore, mapPath, type SourceNode, type TargetNode } from '../../src/core/restore-plan.js';
import type { AclEntry, NodeStat } from '../../src/core/node-record.js';

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const SECRET: AclEntry[] = [{ perms: 1, scheme: 'digest', id: 'bob:abc=' }];
const stat = (owner = 0n): NodeStat => ({ czxid: 1n, mzxid: 1n, pzxid: 1n, ctime: 0n, mtime: 0n, version: 0, cversion: 0, aversion: 0, ephemeralOwner: owner });
const src = (path: string, data: string | null, opts: { acl?: AclEntry[]; owner?: bigint; stored?: number } = {}): SourceNode => ({
  path,
  data: data === null ? null : Buffer.from(data),
  acl: opts.acl ?? OPEN,
  stat: stat(opts.owner),
  storedCversion: opts.stored ?? 0,
});
const tgt = (path: string, data: string | null, acl = OPEN): [string, TargetNode] => [path, { path, data: data === null ? null : Buffer.from(data), acl, stat: stat(), numChildren: 0 }];

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
  assert.deepEqual(plan.creates.map((c) => c.path), ['/app', '/app/cfg', '/app/queue']);
  assert.deepEqual(plan.acls, [{ path: '/app/cfg', acl: SECRET }]);
  assert.deepEqual(plan.skipped.map((s) => s.path), ['/', '/app/eph', '/app/eph/never']);
  assert.match(plan.warnings.join('\n'), /\/app\/queue was a container node; it is restored as persistent/);
  assert.deepEqual(plan.cversions, [{ path: '/app', storedCversion: 7 }]);
});

test('create mode changes nothing when any node exists', () => {
  const plan = planRestore({ source: backup, sourceRoot: '/', targetRoot: '/', target: new Map([tgt('/', ''), tgt('/app/cfg', 'other')]), mode: 'create' });
  assert.deepEqual(plan.conflicts, ['/app/cfg']);
  assert.deepEqual([plan.creates, plan.updates, plan.acls, plan.cversions, plan.deletes], [[], [], [], [], []]);
});

test('overwrite updates only what differs; mirror also deletes extras, children first', () => {
  const target = new Map([tgt('/', ''), tgt('/app', 'a'), tgt('/app/cfg', 'v0'), tgt('/extra', 'x'), tgt('/extra/deep', 'y'), tgt('/zookeeper', '')]);
  const over = planRestore({ source: backup, sourceRoot: '/', targetRoot: '/', target, mode: 'overwrite' });
  assert.deepEqual(over.updates, [{ path: '/app/cfg', data: Buffer.from('v1'), acl: SECRET, fields: ['data', 'acl'] }]);
  assert.deepEqual(over.creates.map((c) => c.path), ['/app/queue']);
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
  const plan = planRestore({ source: backup, sourceRoot: '/app', targetRoot: '/restored/app', target: new Map([tgt('/', '')]), mode: 'create' });
  assert.deepEqual(plan.creates.map((c) => [c.path, Boolean(c.ancestor)]), [
    ['/restored', true],
    ['/restored/app', false],
    ['/restored/app/cfg', false],
    ['/restored/app/queue', false],
  ]);
});

test('null and empty data are different values; a redacted digest ACL is never restored as is', () => {
  const plan = planRestore({
    source: [src('/', ''), src('/n', null), src('/r', 'x', { acl: [{ perms: 31, scheme: 'digest', id: 'bob:x' }] })],
    sourceRoot: '/',
    targetRoot: '/',
    target: new Map([tgt('/', ''), tgt('/n', '')]),
    mode: 'overwrite',
  });
  assert.deepEqual(plan.updates.map((u) => [u.path, u.fields]), [['/n', ['data']]]);
  assert.deepEqual(plan.creates.map((c) => [c.path, c.acl]), [['/r', OPEN]]);
  assert.match(plan.warnings.join('\n'), /redacted digest ACL/);
});

test('--ephemerals-as-persistent restores them, with a warning', () => {
  const plan = planRestore({ source: backup, sourceRoot: '/', targetRoot: '/', target: new Map([tgt('/', '')]), mode: 'create', ephemeralsAsPersistent: true });
  assert.ok(plan.creates.some((c) => c.path === '/app/eph' && c.sourceType === 'ephemeral'));
  assert.ok(plan.creates.some((c) => c.path === '/app/eph/never'));
});
