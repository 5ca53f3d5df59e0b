import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Leader } from '../support/history.js';
import { SnapshotSpool } from '../../src/datadir/snapshot-spool.js';
import { loadSnapshotTree } from '../../src/core/snapshot-tree.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'zkvault-spool-'));
  dirs.push(d);
  return d;
};

function sample() {
  const L = new Leader();
  L.create('/app', Buffer.from('a'));
  for (let i = 0; i < 5; i++) L.create(`/app/s${i}`, Buffer.from([i]));
  L.delete('/app/s1');
  L.delete('/app/s3');
  L.create('/app/secret', Buffer.from('s'), { acl: [{ perms: 1, scheme: 'digest', id: 'bob:abc=' }] });
  L.create('/eph', null, { ephemeral: 0x99n });
  L.create('/日本', Buffer.alloc(0));
  return L.tree;
}

test('records streamed through the spool load back as the same tree, stored cversions recovered', async () => {
  const tree = sample();
  const dir = tempDir();
  const spool = new SnapshotSpool(dir);
  // As a live walk would deliver them: parents first, client-view cversion and numChildren.
  for (const rec of tree.records('/')) spool.add(rec, tree.get(rec.path)!.numChildren);
  const res = await spool.finish(join(dir, 'snapshot.40'), { zxid: 0x40n, root: '/' });
  assert.deepEqual(readdirSync(dir), ['snapshot.40'], 'the spool file is gone');
  const { tree: back, info } = loadSnapshotTree(readFileSync(res.path), 'snapshot.40', 0x40n);
  assert.deepEqual(back.records('/'), tree.records('/'));
  assert.equal(
    back.get('/app')!.stat.cversion,
    tree.get('/app')!.stat.cversion,
    'stored cversion (7 creates) recovered from the client view',
  );
  assert.equal(back.get('/app')!.stat.cversion, 6);
  assert.equal(info.digest?.value, back.digest(), 'digest section matches the tree written');
  assert.deepEqual(res.counts, {
    nodes: tree.records('/').length,
    persistent: tree.records('/').length - 1,
    ephemeral: 1,
    container: 0,
    ttl: 0,
    dataBytes: 1 + 3 + 1,
  });
});

test('a subtree spool gets a synthetic root and ancestors so the snapshot is loadable', async () => {
  const tree = sample();
  const dir = tempDir();
  const spool = new SnapshotSpool(dir);
  for (const rec of tree.records('/app')) spool.add(rec, tree.get(rec.path)!.numChildren);
  const res = await spool.finish(join(dir, 'snapshot.40'), { zxid: 0x40n, root: '/app' });
  const { tree: back } = loadSnapshotTree(readFileSync(res.path), 'snapshot.40', 0x40n);
  assert.deepEqual(back.records('/app'), tree.records('/app'));
  assert.ok(back.get('/zookeeper'));
});
