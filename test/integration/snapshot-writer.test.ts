// A snapshot written by zkvault is loaded by real ZooKeeper servers (standalone and a 3-member
// ensemble seeded from it) and read by ZooKeeper's own SnapshotFormatter.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Leader } from '../support/history.js';
import { startStandalone, startEnsemble, stopAll, runJava, requireZooKeeper } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { assertSameTree } from '../support/compare.js';
import { writeDataDir } from '../../src/datadir/writer.js';
import { openSession } from '../../src/zk/client.js';
import { readLiveTree } from '../../src/zk/live-tree.js';
import { makeZxid } from '../../src/core/zxid.js';
import type { DataTree } from '../../src/core/tree.js';

requireZooKeeper();
after(stopAll);

const SESSION = 0x1a2b3c4d5e6f0001n;
/** ZooKeeper's digest id for bob:bob. The reader must hold ADMIN, or the server redacts the hash to 'x'. */
const BOB = 'bob:' + createHash('sha1').update('bob:bob').digest('base64');

function richTree(): DataTree {
  const L = new Leader();
  L.createSession(SESSION, 40000);
  L.create('/app', Buffer.from('root of app'));
  L.create('/app/bin', Buffer.from([0, 1, 2, 253, 254, 255]));
  L.create('/app/big', Buffer.alloc(900 * 1024, 7));
  L.create('/app/null', null);
  L.create('/app/empty', Buffer.alloc(0));
  for (let i = 0; i < 3; i++) L.create(`/app/job-${String(L.tree.get('/app')!.stat.cversion).padStart(10, '0')}`);
  L.create('/app/secret', Buffer.from('s'), {
    acl: [
      { perms: 1, scheme: 'world', id: 'anyone' },
      { perms: 31, scheme: 'digest', id: BOB },
    ],
  });
  L.create('/app/lan', Buffer.from('ip'), { acl: [{ perms: 31, scheme: 'ip', id: '127.0.0.1' }] });
  L.create('/app/eph', Buffer.from('mine'), { ephemeral: SESSION });
  L.createContainer('/queue');
  L.create('/queue/item', Buffer.from('keeps the container alive'));
  L.createTTL('/lease', 3_600_000n);
  L.create('/lease/holder');
  L.create('/ünïcödé');
  L.create('/ünïcödé/日本', Buffer.from('東京'));
  L.setData('/app', Buffer.from('v2'));
  L.setAcl('/app/lan', [
    { perms: 31, scheme: 'ip', id: '127.0.0.1' },
    { perms: 1, scheme: 'world', id: 'anyone' },
  ]);
  L.delete('/app/empty');
  return L.tree;
}

async function liveTree(connectString: string) {
  const session = await openSession({ connectString, auth: ['digest:bob:bob'] });
  try {
    return await readLiveTree(session, '/');
  } finally {
    await session.close();
  }
}

test('a zkvault snapshot at zxid Z loads in a standalone server with the same tree', async () => {
  const tree = richTree();
  const zxid = makeZxid(1n, 0x40n);
  const dir = await makeTempDir();
  const written = await writeDataDir(tree, join(dir, 'data'), { zxid });
  assert.match(written.snapshotPath, /version-2\/snapshot\.100000040$/);
  const server = await startStandalone({ dataDir: join(dir, 'data') });
  const live = await liveTree(server.connectString);
  assertSameTree(live, tree.records(), 'standalone', { clientView: true });
  const log = await import('node:fs').then((fs) => fs.readFileSync(server.logFile, 'utf8'));
  assert.doesNotMatch(log, /Digests are not matching|digest mismatch/i);
  await server.destroy();
});

test('a 3-member ensemble seeded from zkvault snapshots elects a leader and serves the tree from every member', async () => {
  const tree = richTree();
  const zxid = makeZxid(2n, 0x99n);
  const dir = await makeTempDir();
  const dirs = [1, 2, 3].map((i) => join(dir, `m${i}`));
  for (const [i, d] of dirs.entries()) await writeDataDir(tree, d, { zxid, myid: i + 1 });
  const ensemble = await startEnsemble(3, { dataDirs: dirs });
  const expected = tree.records();
  for (const server of ensemble.servers) {
    const live = await liveTree(server.connectString);
    assertSameTree(live, expected, `member ${server.id}`, { clientView: true });
  }
  await ensemble.destroy();
});

test("ZooKeeper's SnapshotFormatter reads a zkvault snapshot", async () => {
  const tree = richTree();
  const dir = await makeTempDir();
  const { snapshotPath } = await writeDataDir(tree, join(dir, 'data'), { zxid: 0x77n, lastZxidSection: true });
  const res = await runJava('org.apache.zookeeper.server.SnapshotFormatter', [snapshotPath]);
  assert.equal(res.code, 0, res.stderr);
  for (const p of ['/app/bin', '/queue/item', '/lease/holder', '/ünïcödé/日本', '/app/eph'])
    assert.ok(res.stdout.includes(p), `lists ${p}`);
  assert.match(res.stdout, /Session Details \(sid, timeout, ephemeralCount\):\s*\n?\s*0x1a2b3c4d5e6f0001, 40000, 1/);
  const count = res.stdout.match(/^\s*(\/\S*)$/gm)?.length ?? 0;
  assert.ok(count >= tree.size - 1, `prints every node (${count} of ${tree.size})`);
  assert.ok(readdirSync(join(dir, 'data', 'version-2')).includes('snapshot.77'));
});
