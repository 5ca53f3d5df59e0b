// Snapshots a real ZooKeeper writes gzip- and snappy-compressed (zookeeper.snapshot.compression.method)
// are read by name like the server does, and replay to the live tree.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper } from '../support/zk-harness.js';
import { openSession } from '../../src/zk/client.js';
import { readLiveTree } from '../../src/zk/live-tree.js';
import { exportDataDir } from '../../src/services/export.js';
import { assertSameTree } from '../support/compare.js';

requireZooKeeper();
after(stopAll);

for (const method of ['gz', 'snappy'] as const) {
  test(`a server writing ${method} snapshots: zkvault reads them and replays to the live tree`, async () => {
    const server = await startStandalone({ snapCount: 30, extraJvmArgs: [`-Dzookeeper.snapshot.compression.method=${method}`] });
    const s = await openSession({ connectString: server.connectString });
    const open = [{ perms: 31, scheme: 'world', id: 'anyone' }];
    await s.create('/c', Buffer.from(method), open);
    for (let i = 0; i < 120; i++) await s.create(`/c/n${i}`, Buffer.alloc(100 + i, i), open);
    for (let i = 0; i < 40; i++) await s.delete(`/c/n${i}`);
    const live = await readLiveTree(s, '/');
    await s.close();
    await server.stop();
    const snaps = readdirSync(join(server.dataDir, 'version-2')).filter((n) => n.startsWith('snapshot.'));
    assert.ok(snaps.filter((n) => n.endsWith(`.${method}`)).length >= 2, `compressed snapshots written: ${snaps.join(', ')}`);
    const res = exportDataDir({ dataDir: server.dataDir });
    assert.match(res.snapshot ?? '', new RegExp(`\\.${method}$`), 'the newest (compressed) snapshot is the base');
    assert.ok(res.digestsChecked > 0);
    // The closing session's txn comes after the live read; the tree itself is unchanged by it.
    assertSameTree(res.records, live, `${method} snapshots`);
    await server.destroy();
  });
}
