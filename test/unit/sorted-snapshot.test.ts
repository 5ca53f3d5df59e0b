// The sorted snapshot walk (sources/sorted-snapshot.ts) that export streams a logical backup with
// must give exactly the records of the tree loaded whole (DataTree.records): over snapshots whose
// nodes lie in no sorted order (parents first, children shuffled, as a server writes them), with
// siblings that sort between a node and its children ("/a-b" between "/a" and "/a/b"), paths that are
// not ASCII, null and empty data, data larger than the walk's read buffer, ACL lists and ephemerals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../support/tmp.js';
import { SnapshotWriter } from '../../src/formats/snapshot.js';
import { loadSnapshotTree } from '../../src/core/snapshot-tree.js';
import { zeroStat } from '../../src/core/tree.js';
import { sortSnapshot } from '../../src/sources/sorted-snapshot.js';
import { IntegrityError } from '../../src/errors.js';
import type { AclEntry, NodeStat } from '../../src/core/node-record.js';

function prng(seed: number): () => number {
  let x = seed;
  return () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const ACLS = new Map<number, readonly AclEntry[]>([
  [1, [{ perms: 1, scheme: 'world', id: 'anyone' }]],
  [
    2,
    [
      { perms: 31, scheme: 'digest', id: 'u:h' },
      { perms: 1, scheme: 'ip', id: '10.0.0.1' },
    ],
  ],
]);

interface Node {
  key: string;
  data: Buffer | null;
  acl: number;
  stat: NodeStat;
  children: Node[];
}

/** A random tree, written depth first with each node's children in a shuffled order. */
async function randomSnapshot(seed: number, size: number): Promise<{ bytes: Buffer; keys: string[] }> {
  const rand = prng(seed);
  const stat = (i: number): NodeStat => ({
    czxid: BigInt(i),
    mzxid: BigInt(i + 1),
    pzxid: BigInt(i + 2),
    ctime: 1700000000000n + BigInt(i),
    mtime: 1700000000000n,
    version: i % 5,
    cversion: i % 7,
    aversion: i % 3,
    ephemeralOwner: i > 0 && i % 11 === 0 ? 0x1234n : 0n,
  });
  const root: Node = { key: '', data: Buffer.alloc(0), acl: -1, stat: stat(0), children: [] };
  const zk: Node = { key: '/zookeeper', data: Buffer.alloc(0), acl: -1, stat: stat(0), children: [] };
  zk.children.push({ key: '/zookeeper/quota', data: Buffer.alloc(0), acl: -1, stat: stat(0), children: [] });
  root.children.push(zk);
  const all: Node[] = [root];
  const names = ['a', 'a-b', 'b', 'ü', 'a.b', 'n'];
  for (let i = 1; i < size; i++) {
    const parent = all[Math.floor(rand() * all.length)];
    if (parent.stat.ephemeralOwner !== 0n) continue;
    const key = `${parent.key}/${names[Math.floor(rand() * names.length)]}${i % 4 === 0 ? '' : i}`;
    if (all.some((n) => n.key === key)) continue;
    const r = rand();
    const data = i % 50 === 7 ? Buffer.alloc(100_000, i) : r < 0.1 ? null : r < 0.2 ? Buffer.alloc(0) : Buffer.from(`data ${i}`);
    const node: Node = { key, data, acl: [-1, 1, 2][i % 3], stat: stat(i), children: [] };
    parent.children.push(node);
    all.push(node);
  }
  const chunks: Buffer[] = [];
  const w = new SnapshotWriter((c) => void chunks.push(Buffer.from(c)));
  await w.begin([{ id: 0x1234n, timeout: 30000 }], ACLS);
  const visit = async (n: Node): Promise<void> => {
    await w.node(n.key, n.data, n.acl, n.stat);
    const kids = [...n.children].sort(() => rand() - 0.5);
    for (const c of kids) await visit(c);
  };
  await visit(root);
  await w.finish({});
  return { bytes: Buffer.concat(chunks), keys: all.map((n) => n.key) };
}

test('the sorted walk of a snapshot file gives the records of the tree loaded whole, for any root', async () => {
  const dir = await makeTempDir('zkvault-sorted-');
  for (const seed of [1, 2, 3]) {
    const { bytes, keys } = await randomSnapshot(seed, 600);
    assert.ok(keys.length > 300, `${keys.length} nodes`);
    const file = join(dir, `snapshot.${seed}`);
    writeFileSync(file, bytes);
    const { tree } = loadSnapshotTree(readFileSync(file), file, 1n);
    const roots = ['/', ...keys.filter((k) => k !== '').slice(1, 6)];
    for (const root of roots) {
      const sorted = sortSnapshot(file, file, root);
      assert.ok(sorted, `${root} is in the tree`);
      const got = [...sorted.records()];
      const expected = tree.records(root);
      assert.equal(sorted.count, expected.length, `count under ${root}`);
      assert.deepEqual(got, expected, `records under ${root} (seed ${seed})`);
      // Many small batches, each read in reads smaller than the large records (read on their own).
      const small = sortSnapshot(file, file, root, { batchBytes: 2000, readChunk: 700 })!;
      assert.deepEqual([...small.records()], expected, `records under ${root} (seed ${seed}), in small batches`);
    }
    assert.ok(
      tree.records('/').some((r) => r.data !== null && r.data.length === 100_000),
      `a node larger than the read buffer (${keys.length} nodes)`,
    );
    assert.equal(sortSnapshot(file, file, '/not/there'), null);
  }
});

test('a snapshot whose node has no parent is malformed, as when it is loaded whole', async () => {
  const dir = await makeTempDir('zkvault-sorted-');
  const chunks: Buffer[] = [];
  const w = new SnapshotWriter((c) => void chunks.push(Buffer.from(c)));
  await w.begin([], new Map());
  const stat: NodeStat = { ...zeroStat(), czxid: 1n, mzxid: 1n, pzxid: 1n };
  await w.node('', Buffer.alloc(0), -1, stat);
  await w.node('/orphan/child', Buffer.from('x'), -1, stat);
  await w.finish({});
  const file = join(dir, 'snapshot.1');
  writeFileSync(file, Buffer.concat(chunks));
  assert.throws(
    () => sortSnapshot(file, 'backup X: snapshot.1', '/'),
    (err: unknown) => err instanceof IntegrityError && /node \/orphan\/child has no parent/.test(err.message),
  );
});
