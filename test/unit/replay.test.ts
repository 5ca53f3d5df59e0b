import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Leader } from '../support/history.js';
import { replayToZxid } from '../../src/core/replay.js';
import { applyTxn } from '../../src/core/apply-txn.js';
import { DataTree } from '../../src/core/tree.js';
import { OpCode } from '../../src/formats/txn.js';
import { IntegrityError, UsageError } from '../../src/errors.js';
import type { NodeRecord } from '../../src/core/node-record.js';

// A fresh copy per read, as from disk: a loaded tree keeps node stats in the buffer and replay updates them there.
const src = (f: { name: string; zxid: bigint; bytes: Buffer }) => ({ name: f.name, zxid: f.zxid, read: () => Buffer.from(f.bytes) });

/** A history of every txn type, with the tree recorded after each zxid. */
async function scenario() {
  const L = new Leader();
  const states = new Map<bigint, NodeRecord[]>();
  const mark = () => states.set(L.zxid, L.tree.records());
  const snaps: Array<{ name: string; zxid: bigint; bytes: Buffer }> = [];
  L.createSession(0xa1n);
  L.createSession(0xb2n);
  L.create('/app');
  L.create('/app/cfg', Buffer.from([0, 1, 2, 3]));
  for (let i = 0; i < 5; i++) L.create(`/app/seq-${String(L.tree.get('/app')!.stat.cversion).padStart(10, '0')}`);
  mark();
  L.create('/app/e1', Buffer.from('eph'), { ephemeral: 0xa1n });
  L.create('/app/e2', Buffer.from('eph'), { ephemeral: 0xb2n });
  L.createContainer('/cont');
  L.create('/cont/child');
  L.createTTL('/ttl', 60000n);
  L.setData('/app/cfg', Buffer.from('v2'));
  L.setData('/app/cfg', Buffer.from('v3'));
  L.setAcl('/app/cfg', [
    { perms: 1, scheme: 'digest', id: 'bob:xyz=' },
    { perms: 31, scheme: 'ip', id: '127.0.0.1' },
  ]);
  mark();
  const fuzzyAt = L.zxid; // a snapshot named here…
  L.create('/f1');
  L.delete('/app/seq-0000000001');
  snaps.push(await L.snapshot(fuzzyAt)); // …whose content already holds the two txns above
  mark();
  L.failedMulti('/never');
  L.error(-101);
  L.multi([
    {
      type: OpCode.create,
      body: {
        kind: 'create',
        path: '/m1',
        data: null,
        acl: [{ perms: 31, scheme: 'world', id: 'anyone' }],
        ephemeral: false,
        parentCVersion: L.tree.get('/')!.stat.cversion + 1,
      },
    },
    { type: OpCode.setData, body: { kind: 'setData', path: '/f1', data: Buffer.from('mm'), version: 1 } },
    { type: OpCode.check, body: { kind: 'check', path: '/f1', version: 1 } },
  ]);
  mark();
  L.closeSession(0xa1n);
  L.create('/日本/x'.slice(0, 3)); // "/日本"
  L.delete('/cont/child');
  mark();
  snaps.push(await L.snapshot());
  L.create('/late');
  mark();
  const end = L.zxid;
  const logs = [L.log(1n, 9n), L.log(10n, 20n), L.log(21n, end)];
  return { L, states, snaps, logs, end, fuzzyAt };
}

test('replay reproduces the tree at every recorded zxid, checking every digest', async () => {
  const { states, snaps, logs } = await scenario();
  for (const [zxid, expected] of states) {
    const r = replayToZxid(snaps.map(src), logs.map(src), { targetZxid: zxid });
    assert.equal(r.zxid, zxid);
    assert.deepEqual(r.tree.records(), expected, `tree at 0x${zxid.toString(16)}`);
    assert.ok(r.digestsChecked > 0 || r.txnsApplied === 0);
  }
});

test('a fuzzy snapshot is not used for a zxid inside its fuzzy window', async () => {
  const { snaps, logs, fuzzyAt, states } = await scenario();
  const warnings: string[] = [];
  const r = replayToZxid([src(snaps[0])], logs.map(src), { targetZxid: fuzzyAt, warn: (m) => warnings.push(m) });
  assert.equal(r.snapshot, null, 'fell back to replaying from the beginning');
  assert.deepEqual(r.tree.records(), states.get(fuzzyAt));
  assert.match(warnings.join('\n'), /may already hold txns/);
  const after = replayToZxid([src(snaps[0])], logs.map(src), { targetZxid: fuzzyAt + 2n });
  assert.equal(after.snapshot?.name, snaps[0].name, 'used once the window has closed');
  assert.equal(after.digestsChecked, 1, 'only the snapshot digest, once replay reaches its zxid; no per-txn digest while fuzzy');
});

test('default target is the last complete txn; the newest snapshot is the base', async () => {
  const { snaps, logs, end, L } = await scenario();
  const r = replayToZxid(snaps.map(src), logs.map(src));
  assert.equal(r.zxid, end);
  assert.equal(r.snapshot?.name, snaps[1].name);
  assert.deepEqual(r.tree.records(), L.tree.records());
  assert.equal(r.tree.sessions.has(0xb2n), true);
  assert.equal(r.tree.sessions.has(0xa1n), false);
});

test('a new epoch continues a history at its first txn; one that starts past it lacks txns', () => {
  const L = new Leader();
  L.createSession(0xa1n);
  for (let i = 0; i < 5; i++) L.create(`/e1-${i}`);
  const end1 = L.zxid;
  const E2 = 2n << 32n;
  L.zxid = E2; // a leader change: the next txn is 0x200000001
  for (let i = 0; i < 3; i++) L.create(`/e2-${i}`);
  const led = replayToZxid([], [L.log(1n, end1), L.log(E2 + 1n, L.zxid)].map(src));
  assert.deepEqual(led.tree.records(), L.tree.records(), 'a leader change is no gap');
  // A server that rejoined from a leader's snapshot logs only from past it: its logs lack 0x200000001..
  const M = new Leader();
  M.createSession(0xa1n);
  for (let i = 0; i < 5; i++) M.create(`/e1-${i}`);
  M.zxid = E2 + 0x2bfn;
  M.create('/late');
  const rejoined = [M.log(1n, end1), M.log(E2 + 0x2c0n, M.zxid)].map(src);
  assert.throws(
    () => replayToZxid([], rejoined),
    (e: unknown) => e instanceof UsageError && /txns 0x200000001 to 0x2000002bf are missing \(log\.2000002c0/.test(e.message),
  );
  assert.equal(replayToZxid([], rejoined, { targetZxid: end1 }).zxid, end1, 'before the gap still works');
});

test('a zxid past the logs, before the history, or across a gap fails naming the covered range', async () => {
  const { snaps, logs, end } = await scenario();
  assert.throws(
    () => replayToZxid(snaps.map(src), logs.map(src), { targetZxid: end + 5n }),
    (e: unknown) => e instanceof UsageError && e.message.includes(`0x${end.toString(16)}`),
  );
  assert.throws(
    () => replayToZxid([src(snaps[1])], [logs[2]].map(src), { targetZxid: 3n }),
    (e: unknown) => e instanceof UsageError && /before the oldest usable snapshot/.test(e.message),
  );
  const gap = [logs[0], logs[2]].map(src);
  assert.throws(
    () => replayToZxid([], gap, { targetZxid: end }),
    (e: unknown) => e instanceof UsageError && /0xa to 0x14 are missing/.test(e.message) && /0x0 to 0x9/.test(e.message),
  );
  assert.equal(replayToZxid([], gap, { targetZxid: 9n }).zxid, 9n, 'before the gap still works');
});

test('a digest that disagrees with the replayed tree is an integrity error', async () => {
  const { snaps, logs, L } = await scenario();
  const t = L.txns[12];
  t.digest = { version: 2, value: t.digest!.value + 1n };
  const bad = L.log(10n, 20n);
  assert.throws(
    () => replayToZxid([], [logs[0], bad, logs[2]].map(src)),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'checksum' && /tree digest mismatch after txn 0xd/.test(e.message),
  );
  assert.doesNotThrow(() => replayToZxid([], [logs[0], bad, logs[2]].map(src), { verifyDigests: false }));
  void snaps;
});

test('ZooKeeper apply rules: cversion only grows, fuzzy create still bumps the parent, failed multi is a no-op', () => {
  const t = DataTree.empty();
  const h = (zxid: bigint, type: number) => ({ clientId: 1n, cxid: 0, zxid, time: 10n * zxid, type });
  const open = [{ perms: 31, scheme: 'world', id: 'anyone' }];
  applyTxn(t, {
    header: h(1n, 1),
    body: { kind: 'create', path: '/p', data: null, acl: open, ephemeral: false, parentCVersion: 1 },
    digest: null,
  });
  applyTxn(t, {
    header: h(2n, 1),
    body: { kind: 'create', path: '/p/a', data: null, acl: open, ephemeral: false, parentCVersion: 5 },
    digest: null,
  });
  assert.equal(t.get('/p')!.stat.cversion, 5);
  // A replayed create with a lower parentCVersion leaves cversion and pzxid alone.
  applyTxn(t, {
    header: h(3n, 1),
    body: { kind: 'create', path: '/p/b', data: null, acl: open, ephemeral: false, parentCVersion: 2 },
    digest: null,
  });
  assert.equal(t.get('/p')!.stat.cversion, 5);
  assert.equal(t.get('/p')!.stat.pzxid, 2n);
  // NodeExists on a type-1 create still raises the parent's cversion/pzxid.
  const rc = applyTxn(t, {
    header: h(4n, 1),
    body: { kind: 'create', path: '/p/a', data: null, acl: open, ephemeral: false, parentCVersion: 9 },
    digest: null,
  });
  assert.equal(rc, -110);
  assert.equal(t.get('/p')!.stat.cversion, 9);
  assert.equal(t.get('/p')!.stat.pzxid, 4n);
  // Delete of a missing child still moves the parent's pzxid, never its cversion.
  assert.equal(applyTxn(t, { header: h(5n, 2), body: { kind: 'delete', path: '/p/zz' }, digest: null }), -101);
  assert.equal(t.get('/p')!.stat.pzxid, 5n);
  assert.equal(t.get('/p')!.stat.cversion, 9);
  const before = t.records();
  const rcm = applyTxn(t, {
    header: h(6n, OpCode.multi),
    body: {
      kind: 'multi',
      txns: [
        { type: 1, body: { kind: 'create', path: '/q', data: null, acl: open, ephemeral: false, parentCVersion: 3 } },
        { type: -1, body: { kind: 'error', err: -103 } },
      ],
    },
    digest: null,
  });
  assert.equal(rcm, -103);
  assert.deepEqual(t.records(), before);
  assert.equal(t.lastProcessedZxid, 6n);
});

test('the incremental digest always equals a full recomputation', async () => {
  const { L } = await scenario();
  const fresh = new DataTree();
  for (const [k, n] of L.tree.nodes) fresh.nodes.set(k, n);
  assert.equal(L.tree.digest(), fresh.digest());
});

test('a fuzzy snapshot node whose ACL index the map lacks gets its list from the replayed create', async () => {
  // As a real 3.8 server wrote it: the ACL map is serialized first, then a node is created with a
  // new ACL list before the walk reaches it, so the node names an index the map does not have.
  const { SnapshotWriter } = await import('../../src/formats/snapshot.js');
  const { frameLogRecord, txnLogHeaderBytes } = await import('../../src/formats/txn-log.js');
  const { encodeTxn } = await import('../../src/formats/txn.js');
  const { zeroStat } = await import('../../src/core/tree.js');
  const secret = [{ perms: 31, scheme: 'digest', id: 'bob:abc=' }];
  const parts: Buffer[] = [];
  const w = new SnapshotWriter((c) => void parts.push(c));
  await w.begin([], new Map([[1, [{ perms: 1, scheme: 'world', id: 'anyone' }]]]));
  await w.node('', Buffer.alloc(0), -1, { ...zeroStat(), cversion: 1, pzxid: 2n });
  await w.node('/zookeeper', Buffer.alloc(0), -1, zeroStat());
  await w.node('/x', Buffer.from('x'), 2, { ...zeroStat(), czxid: 2n, mzxid: 2n, pzxid: 2n, ctime: 20n, mtime: 20n });
  await w.finish({ digest: { zxid: 2n, value: 0n } });
  const snap = { name: 'snapshot.1', zxid: 1n, read: () => Buffer.concat(parts) };
  const create = encodeTxn({
    header: { clientId: 1n, cxid: 0, zxid: 2n, time: 20n, type: OpCode.create },
    body: { kind: 'create', path: '/x', data: Buffer.from('x'), acl: secret, ephemeral: false, parentCVersion: 1 },
    digest: null,
  });
  const log = { name: 'log.1', zxid: 1n, read: () => Buffer.concat([txnLogHeaderBytes(), frameLogRecord(create)]) };
  const r = replayToZxid([snap], [log], { verifyDigests: false });
  assert.deepEqual(r.tree.records('/x')[0].acl, secret);
  assert.throws(
    () => replayToZxid([snap], [{ ...log, read: () => txnLogHeaderBytes() }], { verifyDigests: false }),
    (e: unknown) => e instanceof IntegrityError && /use an ACL index the snapshot's ACL map lacks/.test(e.message),
  );
});

/** A snapshot written while txn 0x6 was applied: it holds /a/d but is named, and digested, at 0x5. */
async function inFlightScenario() {
  const L = new Leader();
  const states = new Map<bigint, NodeRecord[]>();
  const mark = () => states.set(L.zxid, L.tree.records());
  L.createSession(0xa1n);
  L.create('/a');
  L.create('/b');
  const old = await L.snapshot(); // 0x3, clean
  L.create('/a/c');
  L.setData('/a', Buffer.from('x'));
  mark(); // 0x5
  L.create('/a/d');
  mark(); // 0x6
  const inFlight = await L.inFlightSnapshot();
  L.setData('/b', Buffer.from('y'));
  L.delete('/a/c');
  mark(); // 0x8
  return { L, states, old, inFlight, fromStart: L.log(1n, 8n), afterOld: L.log(4n, 8n) };
}

test('a snapshot holding part of the txn after its digest is settled by that txn’s own digest', async () => {
  const { states, inFlight, afterOld } = await inFlightScenario();
  assert.equal(inFlight.zxid, 5n);
  const warnings: string[] = [];
  const r = replayToZxid([src(inFlight)], [src(afterOld)], { warn: (m) => warnings.push(m) });
  assert.deepEqual(r.tree.records(), states.get(8n));
  assert.equal(r.snapshot?.name, inFlight.name);
  assert.equal(r.digestsChecked, 3, 'the digests after 0x6, 0x7 and 0x8');
  assert.ok(
    warnings.some((w) => /tree digest mismatch at 0x5.*matches that txn's digest/.test(w)),
    warnings.join('\n'),
  );
  assert.deepEqual(replayToZxid([src(inFlight)], [src(afterOld)], { targetZxid: 6n }).tree.records(), states.get(6n));
});

test('a snapshot digest nothing settles: an older base is used, or the restore fails naming what would work', async () => {
  const { states, old, inFlight, fromStart, afterOld } = await inFlightScenario();
  assert.throws(
    () => replayToZxid([src(inFlight)], [src(afterOld)], { targetZxid: 5n }),
    (e: unknown) =>
      e instanceof IntegrityError &&
      e.problem === 'checksum' &&
      /tree digest mismatch at 0x5, recorded in snapshot\.5: .*no later txn's digest up to 0x5 settles it/.test(e.message) &&
      /choose zxid 0x6 or later/.test(e.hint ?? ''),
  );
  const warnings: string[] = [];
  const r = replayToZxid([src(old), src(inFlight)], [src(afterOld)], { targetZxid: 5n, warn: (m) => warnings.push(m) });
  assert.equal(r.snapshot?.name, old.name);
  assert.deepEqual(r.tree.records(), states.get(5n));
  assert.ok(
    warnings.some((w) => /trying an older snapshot/.test(w)),
    warnings.join('\n'),
  );
  const scratch = replayToZxid([src(inFlight)], [src(fromStart)], { targetZxid: 5n });
  assert.equal(scratch.snapshot, null, 'the logs reach back to 0x1, so they are the base');
  assert.deepEqual(scratch.tree.records(), states.get(5n));
  assert.deepEqual(replayToZxid([src(inFlight)], [src(afterOld)], { targetZxid: 5n, verifyDigests: false }).zxid, 5n);
});

test('a snapshot digest the next txn’s digest disagrees with too is an integrity error, even with an older base', async () => {
  const { L, old, inFlight } = await inFlightScenario();
  const t6 = L.txns[5];
  t6.digest = { version: 2, value: t6.digest!.value ^ 1n };
  const bad = L.log(4n, 8n);
  for (const snaps of [[inFlight], [old, inFlight]]) {
    assert.throws(
      () => replayToZxid(snaps.map(src), [src(bad)]),
      (e: unknown) =>
        e instanceof IntegrityError &&
        /mismatch at 0x5, recorded in snapshot\.5: .*; after txn 0x6, too, /.test(e.message) &&
        e.file === 'log.4',
    );
  }
});

test('a snapshot cut short is passed over for an older one when asked (a live dataDir), an integrity error otherwise', async () => {
  const { states, old, inFlight, afterOld } = await inFlightScenario();
  // The newest snapshot, cut where the server stopped writing it.
  const cut = { ...inFlight, name: 'snapshot.7', zxid: 7n, bytes: inFlight.bytes.subarray(0, inFlight.bytes.length - 40) };
  const warnings: string[] = [];
  const r = replayToZxid([src(old), src(cut)], [src(afterOld)], { passOverTruncatedSnapshots: true, warn: (m) => warnings.push(m) });
  assert.equal(r.snapshot?.name, old.name);
  assert.deepEqual(r.tree.records(), states.get(8n));
  assert.ok(
    warnings.some((w) =>
      /^snapshot\.7 is cut short, as when the server stops while writing it \(snapshot\.7 at byte \d+: truncated.*\); trying an older snapshot$/.test(
        w,
      ),
    ),
    warnings.join('\n'),
  );
  assert.throws(
    () => replayToZxid([src(old), src(cut)], [src(afterOld)]),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'truncated' && e.file === 'snapshot.7',
  );
  assert.throws(
    () => replayToZxid([src(cut)], [src(afterOld)], { passOverTruncatedSnapshots: true }),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'truncated' && e.file === 'snapshot.7',
    'with no other base, the reason the only one failed',
  );
  const flipped = Buffer.from(inFlight.bytes);
  flipped[100] ^= 1;
  assert.throws(
    () => replayToZxid([src(old), src({ ...inFlight, bytes: flipped })], [src(afterOld)], { passOverTruncatedSnapshots: true }),
    (e: unknown) => e instanceof IntegrityError && e.problem === 'checksum',
    'damage inside a whole file is never passed over',
  );
});

test('a snapshot without a digest serves a point only where its fuzzy window is known to be closed', async () => {
  // As a server without digests (3.5, or zookeeper.digest.enabled=false) writes them: no digest
  // section, and each named before the last txns its content already holds.
  const digestless = (f: { name: string; zxid: bigint; bytes: Buffer }) => ({ ...f, bytes: f.bytes.subarray(0, f.bytes.length - 33) });
  const L = new Leader();
  L.withDigests = false; // nor do such servers write txn digests
  const states = new Map<bigint, NodeRecord[]>();
  const step = (fn: () => void) => {
    fn();
    states.set(L.zxid, L.tree.records());
  };
  step(() => L.createSession(0xa1n));
  for (let i = 0; i < 10; i++) step(() => L.create(`/a${i}`));
  const snapA = digestless(await L.snapshot(L.zxid - 2n)); // named 0x9, holds up to 0xb
  for (let i = 0; i < 10; i++) step(() => L.create(`/b${i}`));
  const snapB = digestless(await L.snapshot(L.zxid - 1n)); // named 0x14, holds up to 0x15
  for (let i = 0; i < 5; i++) step(() => L.create(`/c${i}`));
  const end = L.zxid;
  const logs = [L.log(1n, 8n), L.log(9n, end)];
  const snaps = [snapA, snapB].map(src);
  assert.equal(snaps[0].name, 'snapshot.9');
  // The newest state: the newest snapshot serves, as ZooKeeper itself loads it.
  const newest = replayToZxid(snaps, logs.map(src));
  assert.equal(newest.snapshot?.name, 'snapshot.14');
  assert.deepEqual(newest.tree.records(), states.get(end));
  // Before the last txn, the newest cannot be trusted; the older one can (closed by 0x14).
  const warnings: string[] = [];
  const mid = replayToZxid(snaps, logs.map(src), { targetZxid: 0x18n, warn: (m) => warnings.push(m) });
  assert.equal(mid.snapshot?.name, 'snapshot.9');
  assert.deepEqual(mid.tree.records(), states.get(0x18n));
  assert.match(warnings.join('\n'), /snapshot\.14: no digest, so how far its fuzzy window reaches is unknown/);
  // Before the next snapshot, neither: from the logs at 0x1 when they reach back, else a usage error.
  const early = replayToZxid(snaps, logs.map(src), { targetZxid: 0xcn });
  assert.equal(early.snapshot, null);
  assert.deepEqual(early.tree.records(), states.get(0xcn));
  assert.throws(
    () => replayToZxid([src(snapB)], [logs[1]].map(src), { targetZxid: 0x18n }),
    (e: unknown) => e instanceof UsageError && /no digest, so how far its fuzzy window reaches is unknown/.test(e.message),
  );
  assert.throws(() => replayToZxid(snaps, [logs[1]].map(src), { targetZxid: 0xcn }), UsageError);
});

test('a point in time before the base snapshot: an older base serves it, else a usage error, never the snapshot as it is', async () => {
  const L = new Leader();
  const states = new Map<bigint, NodeRecord[]>();
  L.createSession(0xa1n);
  for (let i = 0; i < 12; i++) {
    L.create(`/n${i}`);
    states.set(L.zxid, L.tree.records());
  }
  const snap = await L.snapshot(L.zxid - 2n); // named 0xb, fuzzy up to 0xd
  for (let i = 0; i < 4; i++) L.create(`/m${i}`);
  const timeOf = (z: bigint) => L.txns.find((t) => t.header.zxid === z)!.header.time;
  const before = (t: bigint) => ({ stopBefore: (txn: { header: { time: bigint } }) => txn.header.time > t });
  // From the logs at 0x1: the state at the time asked for.
  const r = replayToZxid([src(snap)], [L.log(1n, L.zxid)].map(src), before(timeOf(0x5n)));
  assert.equal(r.zxid, 0x5n);
  assert.deepEqual(r.tree.records(), states.get(0x5n));
  // Without them: the snapshot holds txns after that time (0x6 onwards, and 0xc inside its window).
  for (const z of [0x5n, 0xbn]) {
    assert.throws(
      () => replayToZxid([src(snap)], [L.log(4n, L.zxid)].map(src), before(timeOf(z))),
      (e: unknown) =>
        e instanceof UsageError && /snapshot\.b already holds txn 0x[0-9a-f]+ of .*, after the point asked for/.test(e.message),
    );
  }
  assert.equal(replayToZxid([src(snap)], [L.log(4n, L.zxid)].map(src), before(timeOf(0xdn))).zxid, 0xdn);
});
