// The diff merge (core/diff): every change kind and field, --stat, client-view types, sortedness; the
// service's pure parts (tree sources, common root, records of a subtree, chroot paths).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareNodes, diffRecords, diffTrees, STAT_FIELDS, type NodeChange } from '../../src/core/diff.js';
import { CONTAINER_OWNER, ttlOwner, type AclEntry, type NodeRecord, type NodeStat } from '../../src/core/node-record.js';
import { DataTree } from '../../src/core/tree.js';
import { commonRoot, treeRecords } from '../../src/services/diff.js';
import { parseTreeRef } from '../../src/sources/tree-source.js';
import { ZkvaultError } from '../../src/errors.js';

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const READ: AclEntry[] = [{ perms: 1, scheme: 'world', id: 'anyone' }];

function stat(over: Partial<NodeStat> = {}): NodeStat {
  return { czxid: 1n, mzxid: 1n, pzxid: 1n, ctime: 10n, mtime: 10n, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n, ...over };
}
function rec(path: string, data: string | null = 'x', over: { acl?: AclEntry[]; stat?: Partial<NodeStat> } = {}): NodeRecord {
  return { path, data: data === null ? null : Buffer.from(data), acl: over.acl ?? OPEN, stat: stat(over.stat) };
}
const summary = (changes: NodeChange[]) => changes.map((c) => [c.path, c.change, c.fields]);

test('identical trees: no changes, every node counted as unchanged', () => {
  const t = [rec('/'), rec('/a'), rec('/a/b'), rec('/c')];
  const { changes, counts } = diffTrees(
    t,
    t.map((r) => ({ ...r, data: r.data && Buffer.from(r.data) })),
  );
  assert.deepEqual(changes, []);
  assert.deepEqual({ a: counts.a, b: counts.b, unchanged: counts.unchanged }, { a: 4, b: 4, unchanged: 4 });
});

test('every change kind, in path order, with what differs', () => {
  const a = [rec('/'), rec('/acl'), rec('/data', 'v1'), rec('/gone'), rec('/gone/child'), rec('/same'), rec('/type')];
  const b = [
    rec('/'),
    rec('/acl', 'x', { acl: READ }),
    rec('/data', 'v2'),
    rec('/new'),
    rec('/same'),
    rec('/type', 'x', { stat: { ephemeralOwner: 0x1234n } }),
    rec('/zz', 'late'),
  ];
  const { changes, counts } = diffTrees(a, b);
  assert.deepEqual(summary(changes), [
    ['/acl', 'modified', ['acl']],
    ['/data', 'modified', ['data']],
    ['/gone', 'removed', []],
    ['/gone/child', 'removed', []],
    ['/new', 'added', []],
    ['/type', 'modified', ['type']],
    ['/zz', 'added', []],
  ]);
  assert.deepEqual([counts.added, counts.removed, counts.modified, counts.unchanged], [2, 2, 3, 2]);
  const data = changes.find((c) => c.path === '/data')!;
  assert.equal(Buffer.from(data.a!.data!).toString(), 'v1');
  assert.equal(Buffer.from(data.b!.data!).toString(), 'v2');
  assert.equal(changes.find((c) => c.path === '/gone')!.b, undefined);
  assert.equal(changes.find((c) => c.path === '/new')!.a, undefined);
});

test('one side empty: everything added or removed', () => {
  const t = [rec('/'), rec('/a')];
  assert.deepEqual(summary(diffTrees([], t).changes), [
    ['/', 'added', []],
    ['/a', 'added', []],
  ]);
  assert.deepEqual(summary(diffTrees(t, []).changes), [
    ['/', 'removed', []],
    ['/a', 'removed', []],
  ]);
  assert.deepEqual(diffTrees([], []).changes, []);
});

test('several fields at once come in a fixed order: data, acl, type', () => {
  const fields = compareNodes(rec('/n', 'a', { acl: READ, stat: { ephemeralOwner: 5n } }), rec('/n', 'b'));
  assert.deepEqual(fields, ['data', 'acl', 'type']);
});

test('data: null and empty differ; equal bytes in different buffers are the same; ACL order matters', () => {
  assert.deepEqual(compareNodes(rec('/n', null), rec('/n', '')), ['data']);
  assert.deepEqual(compareNodes(rec('/n', null), rec('/n', null)), []);
  assert.deepEqual(compareNodes(rec('/n', 'same'), { ...rec('/n'), data: new Uint8Array(Buffer.from('same')) }), []);
  const two: AclEntry[] = [...OPEN, { perms: 1, scheme: 'ip', id: '10.0.0.1' }];
  assert.deepEqual(compareNodes(rec('/n', 'x', { acl: two }), rec('/n', 'x', { acl: [...two].reverse() })), ['acl']);
  assert.deepEqual(
    compareNodes(
      rec('/n', 'x', { acl: [{ perms: 31, scheme: 'digest', id: 'u:h1' }] }),
      rec('/n', 'x', { acl: [{ perms: 31, scheme: 'digest', id: 'u:h2' }] }),
    ),
    ['acl'],
  );
});

test('stat fields are compared only with stat: true, each one named', () => {
  const base = rec('/n');
  const changed: Record<string, Partial<NodeStat>> = {
    czxid: { czxid: 2n },
    mzxid: { mzxid: 2n },
    pzxid: { pzxid: 2n },
    ctime: { ctime: 11n },
    mtime: { mtime: 11n },
    version: { version: 1 },
    cversion: { cversion: 1 },
    aversion: { aversion: 1 },
    ephemeralOwner: { ephemeralOwner: 0x99n },
  };
  assert.deepEqual(Object.keys(changed), [...STAT_FIELDS]);
  for (const [field, over] of Object.entries(changed)) {
    const other = rec('/n', 'x', { stat: over });
    const expectDefault = field === 'ephemeralOwner' ? ['type'] : [];
    assert.deepEqual(compareNodes(base, other), expectDefault, `${field} without stat`);
    assert.deepEqual(
      compareNodes(base, other, { stat: true }),
      field === 'ephemeralOwner' ? ['type', 'ephemeralOwner'] : [field],
      `${field} with stat`,
    );
  }
  // Two ephemerals of different sessions are the same type; only --stat tells them apart.
  const e1 = rec('/e', 'x', { stat: { ephemeralOwner: 0x10n } });
  const e2 = rec('/e', 'x', { stat: { ephemeralOwner: 0x20n } });
  assert.deepEqual(compareNodes(e1, e2), []);
  assert.deepEqual(compareNodes(e1, e2, { stat: true }), ['ephemeralOwner']);
  const all = rec('/n', 'y', {
    acl: READ,
    stat: { czxid: 9n, mzxid: 9n, pzxid: 9n, ctime: 9n, mtime: 9n, version: 9, cversion: 9, aversion: 9, ephemeralOwner: 9n },
  });
  assert.deepEqual(compareNodes(base, all, { stat: true }), ['data', 'acl', 'type', ...STAT_FIELDS]);
});

test('client view: container and TTL nodes compare as persistent with ephemeralOwner 0, and are counted', () => {
  const stored = [
    rec('/'),
    rec('/c', 'q', { stat: { ephemeralOwner: CONTAINER_OWNER } }),
    rec('/e', 'e', { stat: { ephemeralOwner: 0x55n } }),
    rec('/t', 't', { stat: { ephemeralOwner: ttlOwner(3_600_000n) } }),
  ];
  const live = [rec('/'), rec('/c', 'q'), rec('/e', 'e', { stat: { ephemeralOwner: 0x55n } }), rec('/t', 't')];
  // As stored, the types differ.
  assert.deepEqual(summary(diffTrees(stored, live).changes), [
    ['/c', 'modified', ['type']],
    ['/t', 'modified', ['type']],
  ]);
  assert.deepEqual(summary(diffTrees(stored, live, { stat: true }).changes), [
    ['/c', 'modified', ['type', 'ephemeralOwner']],
    ['/t', 'modified', ['type', 'ephemeralOwner']],
  ]);
  // In client view they are the same, even for ephemeralOwner under --stat.
  const r = diffTrees(stored, live, { clientView: true, stat: true });
  assert.deepEqual(r.changes, []);
  assert.deepEqual(r.counts.clientViewed, { a: 2, b: 0 });
  // A real ephemeral stays an ephemeral: converting it is still a type change in client view.
  const converted = diffTrees(stored, [rec('/'), rec('/c', 'q'), rec('/e', 'e'), rec('/t', 't')], { clientView: true });
  assert.deepEqual(summary(converted.changes), [['/e', 'modified', ['type']]]);
  // Client view applies to added and removed nodes' counts too.
  assert.deepEqual(diffTrees(stored, [], { clientView: true }).counts.clientViewed, { a: 2, b: 0 });
});

test('an unsorted side is refused rather than merged wrongly', () => {
  assert.throws(() => diffTrees([rec('/b'), rec('/a')], []), /side A of a diff is not sorted by path: \/b came before \/a/);
  assert.throws(() => diffTrees([], [rec('/a'), rec('/a')]), /side B .* not sorted/);
});

test('paths sort as plain strings, so /a-b sits between /a and /a/c on both sides', () => {
  const a = [rec('/a'), rec('/a-b'), rec('/a/c')];
  const b = [rec('/a'), rec('/a/c', 'changed')];
  assert.deepEqual(summary(diffTrees(a, b).changes), [
    ['/a-b', 'removed', []],
    ['/a/c', 'modified', ['data']],
  ]);
});

test('diffRecords streams: changes come one at a time and the counts at the end', () => {
  function* side(n: number, tweak: (i: number) => string) {
    for (let i = 0; i < n; i++) yield rec(`/n${String(i).padStart(6, '0')}`, tweak(i));
  }
  const gen = diffRecords(
    side(20_000, () => 'x'),
    side(20_000, (i) => (i % 1000 === 0 ? 'y' : 'x')),
  );
  let seen = 0;
  let step = gen.next();
  while (!step.done) {
    assert.equal(step.value.change, 'modified');
    seen++;
    step = gen.next();
  }
  assert.equal(seen, 20);
  assert.equal(step.value.unchanged, 19_980);
});

function tree(build: (t: DataTree) => void): DataTree {
  const t = DataTree.empty();
  build(t);
  return t;
}

test('treeRecords: a subtree in path order, /zookeeper left out, client cversion, chroot paths restored', () => {
  let z = 1n;
  const t = tree((t) => {
    t.createNode('/app', Buffer.from('a'), null, 0n, -1, z++, 1n);
    t.createNode('/app/x', Buffer.from('x'), null, 0n, -1, z++, 1n);
    t.createNode('/app-2', null, null, 0n, -1, z++, 1n);
    t.createNode('/app/x/y', null, null, CONTAINER_OWNER, -1, z++, 1n);
  });
  assert.deepEqual(
    [...treeRecords(t, '/')].map((r) => r.path),
    ['/', '/app', '/app-2', '/app/x', '/app/x/y'],
  );
  assert.deepEqual(
    [...treeRecords(t, '/app')].map((r) => r.path),
    ['/app', '/app/x', '/app/x/y'],
  );
  assert.deepEqual([...treeRecords(t, '/nope')], []);
  // The same records DataTree.records gives (the merge relies on that order and those stats).
  assert.deepEqual(
    [...treeRecords(t, '/app')].map((r) => ({ ...r, acl: [...r.acl] })),
    t.records('/app'),
  );
  assert.deepEqual(
    [...treeRecords(t, '/app', '/chroot')].map((r) => r.path),
    ['/chroot/app', '/chroot/app/x', '/chroot/app/x/y'],
  );
  assert.deepEqual(
    [...treeRecords(t, '/', '/c')].map((r) => r.path),
    ['/c', '/c/app', '/c/app-2', '/c/app/x', '/c/app/x/y'],
  );
});

test('trees built by DataTree diff as expected through treeRecords', () => {
  const a = tree((t) => {
    t.createNode('/app', Buffer.from('v1'), null, 0n, -1, 2n, 1n);
    t.createNode('/app/gone', null, null, 0n, -1, 3n, 1n);
  });
  const b = tree((t) => {
    t.createNode('/app', Buffer.from('v2'), null, 0n, -1, 2n, 1n);
    t.createNode('/app/new', null, null, 0n, -1, 3n, 1n);
  });
  assert.deepEqual(summary(diffTrees(treeRecords(a, '/'), treeRecords(b, '/')).changes), [
    ['/app', 'modified', ['data']],
    ['/app/gone', 'removed', []],
    ['/app/new', 'added', []],
  ]);
  // A subtree on each side (what --path does) sees only the changes inside it.
  assert.deepEqual(summary(diffTrees(treeRecords(a, '/app/new'), treeRecords(b, '/app/new')).changes), [['/app/new', 'added', []]]);
});

test('parseTreeRef: zk:// hosts and walk path; backup refs pass through; other schemes refused', async () => {
  assert.deepEqual(await parseTreeRef('zk://127.0.0.1:2181'), {
    kind: 'live',
    ref: 'zk://127.0.0.1:2181',
    connect: '127.0.0.1:2181',
    path: '/',
  });
  assert.deepEqual(await parseTreeRef('zk://h1:2181,h2/app/x/'), {
    kind: 'live',
    ref: 'zk://h1:2181,h2/app/x/',
    connect: 'h1:2181,h2:2181',
    path: '/app/x',
  });
  assert.deepEqual(await parseTreeRef('zk://h:2181/'), { kind: 'live', ref: 'zk://h:2181/', connect: 'h:2181', path: '/' });
  assert.deepEqual(await parseTreeRef('latest'), { kind: 'backup', ref: 'latest' });
  assert.deepEqual(await parseTreeRef('abc@0x10'), { kind: 'backup', ref: 'abc@0x10' });
  const usage = async (ref: string, re: RegExp) => {
    await assert.rejects(parseTreeRef(ref), (e: unknown) => e instanceof ZkvaultError && e.exitCode === 2 && re.test(e.message));
  };
  await usage('zk://', /names no ZooKeeper server/);
  await usage('zk:///app', /names no ZooKeeper server/);
  await usage('zk://h:port', /no valid port/);
  await usage('zk://h:2181/a//b', /empty node name/);
  await usage('zk://user:pw@h:2181', /credentials do not go in a zk:\/\/ source/);
  await usage('http://h:2181', /is not a tree source/);
  await usage('', /empty tree source/);
});

test('commonRoot: the deepest of both sides and --path, or a usage error when they do not nest', () => {
  const s = (ref: string, root: string) => ({ ref, root });
  assert.equal(commonRoot(s('A', '/'), s('B', '/'), undefined), '/');
  assert.equal(commonRoot(s('A', '/'), s('B', '/'), '/app'), '/app');
  assert.equal(commonRoot(s('A', '/app'), s('B', '/'), undefined), '/app');
  assert.equal(commonRoot(s('A', '/app'), s('B', '/'), '/'), '/app');
  assert.equal(commonRoot(s('A', '/app'), s('B', '/app/x'), '/app/x/y'), '/app/x/y');
  assert.throws(
    () => commonRoot(s('A', '/app'), s('B', '/other'), undefined),
    /A holds \/app and B holds \/other: they have no subtree in common/,
  );
  assert.throws(() => commonRoot(s('A', '/app'), s('B', '/'), '/other'), /--path \/other is outside what A holds \(\/app\)/);
  assert.throws(() => commonRoot(s('A', '/app'), s('B', '/'), '/app-2'), /outside what A holds/);
});
