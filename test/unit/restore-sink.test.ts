// A logical restore's plan applied by the ensemble sink to an in-memory ZooKeeper (test/support/
// memory-zk.ts): create, overwrite and mirror; ACLs set after every write, restrictive nodes never
// created more open than the backup has them; sequential counters brought up to the backup's. The same
// paths against real servers are in test/e2e/logical-backup.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestIdsOf, type RestoreMode, type SourceNode } from '../../src/core/restore-plan.js';
import type { AclEntry, NodeStat } from '../../src/core/node-record.js';
import { EnsembleSink } from '../../src/sinks/ensemble.js';
import { MemoryZk } from '../support/memory-zk.js';

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const AUTH = ['digest:admin:pw'];
const ADMIN = digestIdsOf(AUTH).get('admin')!;
const SECRET: AclEntry[] = [
  { perms: 31, scheme: 'digest', id: 'bob:abc=' },
  { perms: 1, scheme: 'world', id: 'anyone' },
];
const stat: NodeStat = { czxid: 1n, mzxid: 1n, pzxid: 1n, ctime: 0n, mtime: 0n, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n };
const node = (path: string, data: string | null, o: { acl?: AclEntry[]; stored?: number } = {}): SourceNode => ({
  path,
  data: data === null ? null : Buffer.from(data),
  acl: o.acl ?? OPEN,
  stat,
  storedCversion: o.stored ?? 0,
});

const backup: SourceNode[] = [
  node('/', ''),
  node('/app', 'a', { stored: 12 }),
  node('/app/cfg', 'v1', { acl: SECRET }),
  node('/app/cfg/inner', 'i'),
  node('/app/queue-0000000004', 'q4'),
];

async function restoreInto(zk: MemoryZk, mode: RestoreMode) {
  const sink = new EnsembleSink(zk, 'memory:2181', { auth: AUTH });
  const source = { nodes: () => backup, zxid: 0x10n };
  const plan = await sink.plan(source, { sourceRoot: '/', targetRoot: '/', mode, digestIds: digestIdsOf(AUTH) });
  assert.deepEqual(plan.conflicts.items, [], 'nothing in the way');
  const applied = await sink.apply(plan, source);
  return { plan, applied };
}

const dataOf = (zk: MemoryZk, path: string) => {
  const n = zk.nodes.get(path);
  return n?.data === null || n === undefined ? null : Buffer.from(n.data).toString();
};

test('create: every node with its data; ACLs set after every write; a restrictive node never more open than the backup has it', async () => {
  const zk = new MemoryZk();
  const { applied } = await restoreInto(zk, 'create');
  assert.deepEqual(applied.failed, []);
  assert.equal(applied.created, 4);
  for (const n of backup.slice(1)) assert.equal(dataOf(zk, n.path), Buffer.from(n.data!).toString(), n.path);
  assert.deepEqual(zk.nodes.get('/app/cfg')!.acl, SECRET, "the restrictive ACL is the backup's at the end");
  // Created with its own entries plus the restorer's grant: nobody else ever had more than the backup gives.
  const created = zk.writes.find((w) => w.op === 'create' && w.path === '/app/cfg')!;
  assert.deepEqual(created.acl, [...SECRET, { perms: 31, scheme: 'auth', id: '' }]);
  const lastWrite = Math.max(...zk.writes.map((w, i) => (w.op === 'setAcl' ? -1 : i)));
  const firstAcl = zk.writes.findIndex((w) => w.op === 'setAcl');
  assert.ok(firstAcl > lastWrite, `ACLs come last: ${JSON.stringify(zk.writes.map((w) => `${w.op} ${w.path}`))}`);
  assert.equal(applied.verify?.mismatches.length, 0, JSON.stringify(applied.verify));
  assert.ok(ADMIN.startsWith('admin:'));
});

test('sequential counters: the parent counts as many creates as the backup recorded, and the next sequential child does not collide', async () => {
  const zk = new MemoryZk();
  const { applied } = await restoreInto(zk, 'create');
  assert.equal(applied.cversionsRaised, 1);
  assert.ok(zk.storedCversion('/app') >= 12, `stored cversion ${zk.storedCversion('/app')}`);
  assert.ok(![...zk.nodes.keys()].some((p) => p.includes('.zkvault-cversion-fill')), 'the fill node is gone');
  const next = await zk.create('/app/queue-', null, OPEN, 'persistent_sequential');
  assert.ok(next > '/app/queue-0000000004', `${next} sorts after the restored child`);
});

test('overwrite: differing nodes updated, nodes the backup lacks kept; mirror: they are deleted, children before parents', async () => {
  const zk = new MemoryZk();
  await zk.create('/app', Buffer.from('old'), OPEN);
  await zk.create('/app/extra', null, OPEN);
  await zk.create('/app/extra/deep', null, OPEN);
  const over = await restoreInto(zk, 'overwrite');
  assert.equal(over.applied.updated, 1);
  assert.equal(dataOf(zk, '/app'), 'a');
  assert.ok(zk.nodes.has('/app/extra/deep'), 'overwrite keeps what the backup lacks');

  zk.writes.length = 0;
  const mirror = await restoreInto(zk, 'mirror');
  assert.equal(mirror.applied.deleted, 2);
  assert.ok(!zk.nodes.has('/app/extra'));
  const deletes = zk.writes.filter((w) => w.op === 'delete').map((w) => w.path);
  assert.ok(deletes.indexOf('/app/extra/deep') < deletes.indexOf('/app/extra'), deletes.join(', '));
  assert.equal(mirror.applied.verify?.mismatches.length, 0, JSON.stringify(mirror.applied.verify));
});
