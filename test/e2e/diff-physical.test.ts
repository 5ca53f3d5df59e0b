// `zkvault diff ID@Z1 ID@Z2` on a physical backup of a running standalone server: the zxid of every
// write is recorded, and the diff between two zxids lists exactly the changes made between them. The
// same backup against the live tree shows the client-view caveat (containers read as persistent).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { diffJson as diffJsonIn, runCli } from '../support/cli.js';
import { openSession, type ZkSession } from '../../src/zk/client.js';
import { formatZxid } from '../../src/core/zxid.js';
import type { AclEntry } from '../../src/core/node-record.js';

requireZooKeeper();

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const READ_ONLY: AclEntry[] = [{ perms: 1, scheme: 'world', id: 'anyone' }];

let server: ZkServer;
let holder: ZkSession | undefined;
let repo = '';
let id = '';
let range = { from: '', to: '' };
/** The zxid after each step: base (setup done), then one per change. */
const z: Record<string, bigint> = {};

after(async () => {
  await holder?.close();
  await stopAll();
});

const diffJson = (args: string[], expectCode: number) => diffJsonIn(repo, args, expectCode);
const at = (step: string) => `${id}@${formatZxid(z[step])}`;

before(async () => {
  repo = join(await makeTempDir('zkvault-e2e-diff-physical-'), 'repo');
  server = await startStandalone();
  const s = await openSession({ connectString: server.connectString });
  holder = await openSession({ connectString: server.connectString });
  try {
    await s.create('/p', Buffer.from('p'), OPEN);
    await s.create('/p/keep', Buffer.from('k'), OPEN);
    await s.create('/p/gone', Buffer.from('g'), OPEN);
    await s.create('/p/data', Buffer.from('v1'), OPEN);
    await s.create('/p/acl', Buffer.from('a'), OPEN);
    await s.create('/p/conv', Buffer.from('c'), OPEN);
    await s.create('/p/eph', Buffer.from('e'), OPEN);
    z.base = s.lastZxidSeen;
    await s.create('/p/new', Buffer.from('n'), OPEN);
    z.added = s.lastZxidSeen;
    await s.setData('/p/data', Buffer.from('v2'));
    z.data = s.lastZxidSeen;
    await s.delete('/p/gone');
    z.removed = s.lastZxidSeen;
    await s.setAcl('/p/acl', READ_ONLY);
    z.acl = s.lastZxidSeen;
    await s.delete('/p/conv');
    await s.create('/p/conv', Buffer.from('c'), OPEN, 'container');
    z.container = s.lastZxidSeen;
    await s.delete('/p/eph');
    await holder.create('/p/eph', Buffer.from('e'), OPEN, 'ephemeral');
    z.ephemeral = holder.lastZxidSeen;
  } finally {
    await s.close();
  }
  const r = runCli(['backup', '--data-dir', server.dataDir, '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  id = JSON.parse(r.stdout).id;
  const list = runCli(['list', '--repo', repo, '--json']);
  assert.equal(list.code, 0, list.stderr);
  range = JSON.parse(list.stdout).find((b: { id: string }) => b.id === id).zxid;
});

test('the physical backup covers every recorded zxid', () => {
  assert.ok(BigInt(range.from) <= z.base, `${range.from} ≤ base ${formatZxid(z.base)}`);
  assert.ok(BigInt(range.to) >= z.ephemeral, `${range.to} ≥ ${formatZxid(z.ephemeral)}`);
});

test('ID@Z1 ID@Z2 lists exactly the changes made between the two zxids', () => {
  assert.deepEqual(diffJson([at('base'), at('ephemeral')], 5).changes, [
    { path: '/p/acl', change: 'modified', fields: ['acl'] },
    { path: '/p/conv', change: 'modified', fields: ['type'] },
    { path: '/p/data', change: 'modified', fields: ['data'] },
    { path: '/p/eph', change: 'modified', fields: ['type'] },
    { path: '/p/gone', change: 'removed', fields: [] },
    { path: '/p/new', change: 'added', fields: [] },
  ]);
  // One step at a time.
  assert.deepEqual(diffJson([at('base'), at('added')], 5).changes, [{ path: '/p/new', change: 'added', fields: [] }]);
  assert.deepEqual(diffJson([at('added'), at('data')], 5).changes, [{ path: '/p/data', change: 'modified', fields: ['data'] }]);
  assert.deepEqual(diffJson([at('data'), at('removed')], 5).changes, [{ path: '/p/gone', change: 'removed', fields: [] }]);
  assert.deepEqual(diffJson([at('removed'), at('acl')], 5).changes, [{ path: '/p/acl', change: 'modified', fields: ['acl'] }]);
  assert.deepEqual(diffJson([at('acl'), at('container')], 5).changes, [{ path: '/p/conv', change: 'modified', fields: ['type'] }]);
  // Between the delete and the re-create of /p/conv it does not exist at all.
  assert.deepEqual(diffJson([at('acl'), `${id}@${formatZxid(z.container - 1n)}`], 5).changes, [
    { path: '/p/conv', change: 'removed', fields: [] },
  ]);
  // --stat on one setData names exactly what a setData moves.
  assert.deepEqual(diffJson([at('added'), at('data'), '--stat'], 5).changes, [
    { path: '/p/data', change: 'modified', fields: ['data', 'mzxid', 'mtime', 'version'] },
  ]);
  // A zxid compared with itself, and the end of the backup with the backup itself.
  assert.deepEqual(diffJson([at('data'), at('data'), '--stat'], 0).changes, []);
  assert.deepEqual(diffJson([`${id}@${range.to}`, id, '--stat'], 0).changes, []);
  // `latest` takes @ZXID too.
  assert.deepEqual(diffJson([`latest@${formatZxid(z.base)}`, at('base')], 0).changes, []);
});

test('the human output shows a physical type change as it is stored: persistent → container', () => {
  const r = runCli(['diff', at('acl'), at('container'), '--repo', repo]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stdout, new RegExp(`A {2}${id}@${formatZxid(z.acl)} {2}backup ${id} \\(physical\\) at ${formatZxid(z.acl)}`));
  assert.match(r.stdout, /~ \/p\/conv {2}\[type\]\n {6}type: persistent → container/);
  assert.doesNotMatch(r.stdout, /note:/, 'both sides are physical: no client view');
});

test('against the live tree, types compare in client view (a container reads as persistent) and the output says so', () => {
  const live = `zk://${server.connectString}`;
  for (const stat of [[], ['--stat']]) {
    const r = diffJson([id, live, ...stat], 0);
    assert.deepEqual(r.changes, [], `physical vs live ${stat.join(' ')}`);
    assert.equal(r.clientView, true);
    assert.match(
      (r.notes as string[]).join('\n'),
      new RegExp(
        `${live.replace(/\./g, '\\.')} is a live tree, where container and TTL nodes show as persistent.*1 container/TTL node\\(s\\) of ${id} count as persistent`,
      ),
    );
  }
  // Without that mapping the container would differ: the same backup one step earlier still has it persistent.
  const h = runCli(['diff', at('acl'), live, '--repo', repo]);
  assert.equal(h.code, 5, h.stderr);
  assert.match(h.stdout, /note: .* is a live tree, where container and TTL nodes show as persistent/);
  assert.match(h.stdout, /~ \/p\/eph {2}\[type\]\n {6}type: persistent → ephemeral/);
  assert.doesNotMatch(h.stdout, /\/p\/conv {2}\[/, 'persistent (stored) vs container (live, read as persistent) is no change');
});

test('a logical backup of the same tree matches the physical one in client view', () => {
  const r = runCli(['backup', '--zk', server.connectString, '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const logical = JSON.parse(r.stdout).id as string;
  const d = diffJson([id, logical], 0);
  assert.equal(d.clientView, true);
  assert.match((d.notes as string[]).join('\n'), /is a logical backup \(read through the client API\)/);
});

test('ID@ZXID outside what the backup covers is a usage error naming its range', () => {
  const out = runCli(['diff', `${id}@0xffffffffff`, id, '--repo', repo]);
  assert.equal(out.code, 2, out.stderr);
  assert.match(out.stderr, new RegExp(`backup ${id} covers ${range.from}\\.\\.${range.to}, not 0xffffffffff`));
});
