import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotWriter, looksComplete } from '../../src/formats/snapshot.js';
import { parseSnapshot, SnapshotReader, type SnapshotNode } from '../../src/formats/snapshot-reader.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compress, decompress } from '../../src/formats/compression.js';
import { IntegrityError } from '../../src/errors.js';
import { loadSnapshotTree, writeTreeSnapshot } from '../../src/core/snapshot-tree.js';
import { DataTree } from '../../src/core/tree.js';
import { zeroStat } from '../../src/core/tree.js';

async function collect(fn: (w: SnapshotWriter) => Promise<void>): Promise<Buffer> {
  const parts: Buffer[] = [];
  const w = new SnapshotWriter((c) => void parts.push(c), 64);
  await fn(w);
  return Buffer.concat(parts);
}

/** The fresh-server snapshot.0 that ZooKeeper 3.8.0 writes (457 bytes, seals known from a real server). */
async function freshSnapshot0(): Promise<Buffer> {
  return collect(async (w) => {
    await w.begin([], new Map([[1, [{ perms: 1, scheme: 'world', id: 'anyone' }]]]));
    await w.node('', new Uint8Array(0), -1, zeroStat());
    await w.node('/zookeeper', new Uint8Array(0), -1, zeroStat());
    await w.node('/zookeeper/config', new Uint8Array(0), 1, { ...zeroStat(), aversion: -1 });
    await w.node('/zookeeper/quota', new Uint8Array(0), -1, zeroStat());
    await w.finish({ digest: { zxid: 0n, value: 0n } });
  });
}

test("the writer reproduces a real server's snapshot.0 byte layout and seals", async () => {
  const buf = await freshSnapshot0();
  assert.equal(buf.length, 457);
  assert.equal(buf.readBigInt64BE(0x19b), 0xb8a23b49n, 'seal #1 as recorded from ZooKeeper 3.8.0');
  assert.equal(buf.readBigInt64BE(0x1bc), 0x95b93d59n, 'seal #2 as recorded from ZooKeeper 3.8.0');
  assert.ok(looksComplete(buf));
  const nodes: Array<Pick<SnapshotNode, 'path' | 'stat' | 'acl'>> = [];
  const info = parseSnapshot(buf, 'snapshot.0', (n) => nodes.push({ path: n.path, stat: n.stat, acl: n.acl }));
  assert.deepEqual(
    nodes.map((n) => n.path),
    ['', '/zookeeper', '/zookeeper/config', '/zookeeper/quota'],
  );
  assert.equal(info.seals, 2);
  assert.deepEqual(info.digest, { zxid: 0n, version: 2, value: 0n });
  assert.equal(info.lastZxid, null);
  assert.equal(nodes[2].stat.aversion, -1);
  assert.deepEqual(nodes[2].acl, [{ perms: 1, scheme: 'world', id: 'anyone' }]);
});

function sampleTree(): DataTree {
  const t = DataTree.empty();
  t.createNode('/app', Buffer.from('x'), [{ perms: 31, scheme: 'digest', id: 'u:abc=' }], 0n, -1, 2n, 1000n);
  t.createNode('/app/bin', Buffer.from([0, 1, 2, 255]), null, 0n, -1, 3n, 1001n);
  t.createNode('/app/null', null, [{ perms: 1, scheme: 'world', id: 'anyone' }], 0n, -1, 4n, 1002n);
  t.createNode('/eph', Buffer.from('e'), null, 0x1234n, -1, 5n, 1003n);
  t.createNode('/cont', Buffer.alloc(0), null, -0x8000000000000000n, -1, 6n, 1004n);
  t.createNode('/日本', Buffer.from('u'), null, 0n, -1, 7n, 1005n);
  t.sessions.set(0x1234n, 30000);
  return t;
}

test('a tree round-trips through the snapshot writer and reader, digest and sessions included', async () => {
  const t = sampleTree();
  const parts: Buffer[] = [];
  const res = await writeTreeSnapshot(t, (c) => void parts.push(c), { zxid: 7n, lastZxid: true });
  const buf = Buffer.concat(parts);
  assert.equal(res.bytes, buf.length);
  const { tree, info } = loadSnapshotTree(buf, 'snapshot.7', 7n);
  assert.equal(info.seals, 3);
  assert.equal(info.lastZxid, 7n);
  assert.deepEqual(info.digest, { zxid: 7n, version: 2, value: t.digest() });
  assert.equal(tree.digest(), t.digest(), 'digest recomputed from the file equals the one written');
  assert.deepEqual(tree.records(), t.records());
  assert.equal(tree.sessions.get(0x1234n), 30000);
  assert.deepEqual([...tree.ephemerals.get(0x1234n)!], ['/eph']);
});

test('gzip and snappy-java framing round-trip and are read by name', async () => {
  const t = sampleTree();
  const parts: Buffer[] = [];
  await writeTreeSnapshot(t, (c) => void parts.push(c), { zxid: 7n });
  const raw = Buffer.concat(parts);
  for (const mode of ['gz', 'snappy'] as const) {
    const packed = compress(raw, mode);
    assert.notDeepEqual(packed, raw);
    assert.deepEqual(decompress(packed, mode, `snapshot.7.${mode}`), raw);
  }
  const snappy = compress(raw, 'snappy');
  assert.deepEqual([...snappy.subarray(0, 8)], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
  assert.throws(
    () => decompress(raw, 'snappy', 'snapshot.7.snappy'),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'malformed',
  );
  assert.throws(
    () => decompress(compress(raw, 'gz').subarray(0, 40), 'gz', 'snapshot.7.gz'),
    (e: unknown) => e instanceof IntegrityError,
  );
});

function problemOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof IntegrityError) return e.problem;
    throw e;
  }
  return 'none';
}

test('damage is told apart: flipped byte → checksum, cut → truncated, wrong magic and bad length → malformed', async () => {
  const good = await freshSnapshot0();
  const parse = (b: Buffer) => parseSnapshot(b, 'snapshot.0', () => {});
  const flipped = Buffer.from(good);
  flipped[0x50] ^= 0x01; // inside the root's stat
  assert.equal(
    problemOf(() => parse(flipped)),
    'checksum',
  );
  assert.equal(
    problemOf(() => parse(good.subarray(0, 300))),
    'truncated',
  );
  const magic = Buffer.from(good);
  magic[0] = 0x00;
  assert.equal(
    problemOf(() => parse(magic)),
    'malformed',
  );
  const len = Buffer.from(good);
  len.writeInt32BE(-7, 0x87); // /zookeeper's path length
  assert.equal(
    problemOf(() => parse(len)),
    'malformed',
  );
  assert.equal(
    problemOf(() => parse(good)),
    'none',
  );
  // Cut inside the digest section after seal #1 (33 bytes): incomplete, as ZooKeeper judges it.
  for (let cut = 1; cut < 33; cut++)
    assert.equal(
      problemOf(() => parse(good.subarray(0, good.length - cut))),
      'truncated',
      `${cut} bytes cut`,
    );
  assert.equal(
    problemOf(() => parse(good.subarray(0, good.length - 33))),
    'none',
    'ending at seal #1 is a whole 3.5-style file',
  );
});

test('a seal mismatch names the offset of the seal', async () => {
  const good = await freshSnapshot0();
  const bad = Buffer.from(good);
  bad[0x1a0] ^= 0xff; // inside seal #1's checksum
  assert.throws(
    () => parseSnapshot(bad, 'snapshot.0', () => {}),
    (e: unknown) =>
      e instanceof IntegrityError && e.problem === 'checksum' && e.offset === 0x19b && /snapshot\.0 at byte 411/.test(e.message),
  );
});

/** Every node as plain values, and the info, read from a buffer or from a file with a given window. */
function readAll(source: { buf: Buffer } | { path: string; windowBytes: number }) {
  const nodes: Array<{ path: string; data: string | null; aclIndex: number; stat: ReturnType<SnapshotNode['statView']['toObject']> }> = [];
  const reader =
    'buf' in source
      ? SnapshotReader.fromBuffer(source.buf, 'snap')
      : SnapshotReader.openFile(source.path, { file: 'snap', windowBytes: source.windowBytes });
  for (let n = reader.next(); n; n = reader.next())
    nodes.push({ path: n.path, data: n.data ? n.data.toString('base64') : null, aclIndex: n.aclIndex, stat: n.statView.toObject() });
  return { nodes, info: reader.info(), header: reader.header };
}

function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof IntegrityError) return `${e.problem}: ${e.message}`;
    throw e;
  }
}

test('a snapshot file read a window at a time gives what the whole buffer gives, damage included', async () => {
  const t = DataTree.empty();
  const acls = [null, [{ perms: 1, scheme: 'world', id: 'anyone' }], [{ perms: 31, scheme: 'digest', id: 'u:abc=' }]];
  for (let i = 0; i < 300; i++) {
    // Sizes around and past the smallest windows: records straddle every boundary.
    const size = [0, 1, 7, 63, 64, 65, 200, 5000][i % 8];
    t.createNode(
      `/n${i}`,
      i % 11 === 0 ? null : Buffer.alloc(size, i),
      acls[i % 3],
      i % 5 === 0 ? BigInt(i + 1) : 0n,
      -1,
      BigInt(i + 2),
      1000n,
    );
    if (i % 5 === 0) t.sessions.set(BigInt(i + 1), 30000);
  }
  const parts: Buffer[] = [];
  await writeTreeSnapshot(t, (c) => void parts.push(c), { zxid: 400n, lastZxid: true });
  const good = Buffer.concat(parts);
  const dir = mkdtempSync(join(tmpdir(), 'zkvault-snapreader-'));
  try {
    const expected = readAll({ buf: good });
    assert.equal(expected.nodes.length, t.nodes.size);
    assert.equal(expected.info.seals, 3);
    const file = join(dir, 'snapshot.190');
    writeFileSync(file, good);
    for (const windowBytes of [16, 61, 64, 100, 4096, 1 << 20]) {
      const got = readAll({ path: file, windowBytes });
      assert.deepEqual(got.nodes, expected.nodes, `window ${windowBytes}`);
      assert.deepEqual(got.info, expected.info, `window ${windowBytes}`);
    }
    // The same damage gives the same error, window or whole.
    const cases: Array<[string, Buffer]> = [
      ['flipped data byte', Buffer.from(good)],
      ['cut in the nodes', good.subarray(0, Math.floor(good.length / 2))],
      ['cut in the trailer', good.subarray(0, good.length - 10)],
      ['flipped seal', Buffer.from(good)],
    ];
    cases[0][1][Math.floor(good.length / 3)] ^= 0x10;
    cases[3][1][good.length - 6] ^= 0x01;
    for (const [label, bytes] of cases) {
      const whole = outcome(() => readAll({ buf: bytes }));
      assert.notEqual(whole, 'ok', label);
      writeFileSync(file, bytes);
      for (const windowBytes of [16, 100, 1 << 20])
        assert.equal(
          outcome(() => readAll({ path: file, windowBytes })),
          whole,
          `${label}, window ${windowBytes}`,
        );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
