// The ZooKeeper adapter, the live-tree walker and the test workload, against real ZooKeeper servers.
import assert from 'node:assert/strict';
import { parseConnectString } from '../../src/core/connect-string.js';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { comparePaths, nodeTypeOf, type AclEntry, type NodeRecord } from '../../src/core/node-record.js';
import { AuthError, CancelledError, ConnectionError, UserError } from '../../src/errors.js';
import {
  DEFAULT_MAX_REQUEST_BYTES,
  fourLetterWord,
  openSession,
  RequestTooLargeError,
  requestBytes,
  serverZxid,
  ZK_ERROR,
  ZkOpError,
  type ZkSession,
} from '../../src/zk/client.js';
import { readLiveTree } from '../../src/zk/live-tree.js';
import {
  BIG_NODE_BYTES,
  captureCheckpoint,
  digestId,
  runWorkload,
  WORKLOAD_AUTH,
  WORKLOAD_NODES,
  type Checkpoint,
} from '../support/workload.js';
import { freePorts, startStandalone, stopAll, zkCli, type ZkServer } from '../support/zk-harness.js';

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const AUTH = ['digest:alice:alice-secret'];
const ALICE: AclEntry = { perms: 31, scheme: 'digest', id: digestId('alice', 'alice-secret') };

after(() => stopAll());

describe('parseConnectString', () => {
  test('hosts get the default port; the chroot starts at the first slash', () => {
    assert.deepEqual(parseConnectString('h1:2181,h2/app/x'), { hosts: ['h1:2181', 'h2:2181'], chroot: '/app/x' });
    assert.deepEqual(parseConnectString('127.0.0.1:2181/'), { hosts: ['127.0.0.1:2181'], chroot: '' });
    assert.throws(() => parseConnectString(''), { name: 'UsageError' });
    assert.throws(() => parseConnectString('h1:2181/app//x'), { name: 'UsageError' });
    assert.throws(() => parseConnectString('[::1]:2181'), { name: 'UsageError' });
  });
});

describe('ZooKeeper adapter against a standalone server', () => {
  let server: ZkServer;
  let s: ZkSession;

  before(async () => {
    server = await startStandalone();
    s = await openSession({ connectString: server.connectString, auth: AUTH });
  });
  after(async () => {
    await s?.close();
  });

  test('create/get/set/delete keep bytes exact, and null apart from empty', async () => {
    const all = new Uint8Array(1024);
    for (let i = 0; i < all.length; i++) all[i] = (i * 7 + 3) & 0xff;
    assert.equal(await s.create('/crud', all, OPEN), '/crud');
    const got = await s.getData('/crud');
    assert.ok(got);
    assert.deepEqual(Buffer.from(got.data!), Buffer.from(all));
    assert.equal(got.stat.dataLength, all.length);
    assert.equal(got.stat.version, 0);
    assert.equal(got.stat.ephemeralOwner, 0n);
    assert.equal(typeof got.stat.czxid, 'bigint');
    assert.equal(got.stat.czxid, got.stat.mzxid);

    const stat = await s.setData('/crud', new Uint8Array([0, 0xff, 0x80]), 0);
    assert.equal(stat.version, 1);
    assert.deepEqual([...(await s.getData('/crud'))!.data!], [0, 0xff, 0x80]);

    await s.setData('/crud', null);
    assert.equal((await s.getData('/crud'))!.data, null);
    await s.setData('/crud', new Uint8Array(0));
    const empty = (await s.getData('/crud'))!.data;
    assert.ok(empty !== null && empty.byteLength === 0);
    await s.create('/crud/null', null, OPEN);
    assert.equal((await s.getData('/crud/null'))!.data, null);

    const children = await s.getChildren('/crud');
    assert.deepEqual(children!.children, ['null']);
    assert.equal(children!.stat.numChildren, 1);
    await assert.rejects(s.setData('/crud', null, 0), (e: unknown) => e instanceof ZkOpError && e.code === ZK_ERROR.BadVersion);
    await assert.rejects(s.delete('/crud'), (e: unknown) => e instanceof ZkOpError && e.code === ZK_ERROR.NotEmpty);
    await assert.rejects(s.create('/crud', null, OPEN), (e: unknown) => e instanceof ZkOpError && e.code === ZK_ERROR.NodeExists);
    await s.delete('/crud/null');
    await s.delete('/crud', 3);
    assert.equal(await s.getData('/crud'), null);
    assert.equal(await s.getChildren('/crud'), null);
    assert.equal(await s.getAcl('/crud'), null);
    assert.equal(await s.exists('/crud'), null);
    await assert.rejects(s.delete('/crud'), (e: unknown) => e instanceof ZkOpError && e.code === ZK_ERROR.NoNode && e.path === '/crud');
  });

  test('sequential creates return their names; unicode names survive', async () => {
    await s.create('/seq', null, OPEN);
    const names: string[] = [];
    for (let i = 0; i < 3; i++) names.push(await s.create('/seq/n-', null, OPEN, 'persistent_sequential'));
    assert.deepEqual(names, ['/seq/n-0000000000', '/seq/n-0000000001', '/seq/n-0000000002']);
    await s.create('/ünïcödé', null, OPEN);
    await s.create('/ünïcödé/日本', new TextEncoder().encode('日本語'), OPEN);
    assert.deepEqual((await s.getChildren('/ünïcödé'))!.children, ['日本']);
    assert.equal(new TextDecoder().decode((await s.getData('/ünïcödé/日本'))!.data), '日本語');
  });

  test('ACLs round trip, setAcl checks aversion, and perms outside 1..31 do not break the client', async () => {
    const acl: AclEntry[] = [ALICE, { perms: 1, scheme: 'world', id: 'anyone' }, { perms: 3, scheme: 'ip', id: '10.0.0.0/8' }];
    await s.create('/acl', new Uint8Array([1]), acl);
    const got = await s.getAcl('/acl');
    assert.deepEqual(got!.acl, acl);
    assert.equal(got!.stat.aversion, 0);
    const stat = await s.setAcl('/acl', [ALICE], 0);
    assert.equal(stat.aversion, 1);
    assert.deepEqual((await s.getAcl('/acl'))!.acl, [ALICE]);
    await assert.rejects(s.setAcl('/acl', OPEN, 0), (e: unknown) => e instanceof ZkOpError && e.code === ZK_ERROR.BadVersion);
    // The server accepts perms outside 1..31 (perms 0 here); a client must read them back, not fail.
    await s.create('/acl/zero', null, [
      { perms: 0, scheme: 'world', id: 'anyone' },
      { ...ALICE, perms: 16 },
    ]);
    assert.deepEqual((await s.getAcl('/acl/zero'))!.acl, [
      { perms: 0, scheme: 'world', id: 'anyone' },
      { ...ALICE, perms: 16 },
    ]);
  });

  test('NoAuth surfaces as ZkOpError -102 (exit 12); the walker can skip such nodes or fail', async () => {
    await s.create('/private', null, OPEN);
    await s.create('/private/secret', new Uint8Array([42]), [ALICE]);
    await s.create('/private/secret/below', null, OPEN);
    const stranger = await openSession({ connectString: server.connectString });
    try {
      const error = await stranger.getData('/private/secret').then(
        () => assert.fail('read without auth succeeded'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ZkOpError);
      assert.equal(error.code, ZK_ERROR.NoAuth);
      assert.equal(error.path, '/private/secret');
      assert.equal(error.exitCode, 12);
      await assert.rejects(stranger.setData('/private/secret', null), (e: unknown) => e instanceof ZkOpError && e.code === -102);

      await assert.rejects(readLiveTree(stranger, '/private'), (e: unknown) => e instanceof ZkOpError && e.code === -102);
      const unreadable: string[] = [];
      const tree = await readLiveTree(stranger, '/private', { onUnreadable: (p) => unreadable.push(p) });
      assert.deepEqual(
        tree.map((r) => r.path),
        ['/private'],
      );
      assert.deepEqual(unreadable, ['/private/secret']);
      // With the credentials everything is there.
      const full = await readLiveTree(s, '/private');
      assert.deepEqual(
        full.map((r) => r.path),
        ['/private', '/private/secret', '/private/secret/below'],
      );
    } finally {
      await stranger.close();
    }
  });

  test('multi commits all ops, or none and says which op failed (yet the failure costs a zxid)', async () => {
    await s.create('/multi', null, OPEN);
    const results = await s.multi([
      { type: 'create', path: '/multi/a', data: new Uint8Array([1]), acl: OPEN },
      { type: 'create', path: '/multi/s-', data: null, acl: OPEN, mode: 'persistent_sequential' },
      { type: 'check', path: '/multi/a', version: 0 },
      { type: 'setData', path: '/multi/a', data: null, version: 0 },
      { type: 'delete', path: '/multi/a', version: 1 },
    ]);
    assert.deepEqual(
      results.map((r) => r.type),
      ['create', 'create', 'check', 'setData', 'delete'],
    );
    assert.deepEqual(results[1], { type: 'create', path: '/multi/s-0000000001' });
    assert.equal(results[3].type === 'setData' && results[3].stat.version, 1);

    await s.create('/multi/b', null, OPEN);
    const before = await serverZxid(server.connectString);
    const error = await s
      .multi([
        { type: 'create', path: '/multi/c', data: null, acl: OPEN },
        { type: 'create', path: '/multi/b', data: null, acl: OPEN },
        { type: 'delete', path: '/multi/s-0000000001' },
      ])
      .then(
        () => assert.fail('the multi committed'),
        (e: unknown) => e,
      );
    assert.ok(error instanceof ZkOpError);
    assert.equal(error.code, ZK_ERROR.NodeExists);
    assert.equal(error.index, 1);
    assert.equal(error.path, '/multi/b');
    assert.deepEqual(error.results, [
      { type: 'error', code: 0 },
      { type: 'error', code: ZK_ERROR.NodeExists },
      { type: 'error', code: ZK_ERROR.RuntimeInconsistency },
    ]);
    assert.equal(await s.exists('/multi/c'), null);
    assert.notEqual(await s.exists('/multi/s-0000000001'), null);
    assert.equal(await serverZxid(server.connectString), before + 1n);

    // Version 0 in a multi means version 0, not -1 (any version), as some clients get it wrong.
    await s.setData('/multi/b', null);
    await assert.rejects(
      s.multi([{ type: 'check', path: '/multi/b', version: 0 }]),
      (e: unknown) => e instanceof ZkOpError && e.code === ZK_ERROR.BadVersion && e.index === 0,
    );
    assert.deepEqual(await s.multi([]), []);
  });

  test('requests over jute.maxbuffer are refused before sending, and the session stays usable', async () => {
    const open = (size: number) => ({ type: 'create' as const, path: '/max', data: new Uint8Array(size), acl: OPEN });
    const largest = DEFAULT_MAX_REQUEST_BYTES - requestBytes(open(0));
    assert.equal(requestBytes(open(largest)), DEFAULT_MAX_REQUEST_BYTES);
    await assert.rejects(
      s.create('/max', new Uint8Array(largest + 1), OPEN),
      (e: unknown) => e instanceof RequestTooLargeError && e.bytes === DEFAULT_MAX_REQUEST_BYTES + 1,
    );
    assert.equal(await s.create('/max', new Uint8Array(largest).fill(0xab), OPEN), '/max');
    const got = await s.getData('/max');
    assert.equal(got!.data!.byteLength, largest);
    // header, path, data length, ACL (vector length + perms + 'world' + 'anyone'), flags
    assert.equal(largest, 1_048_575 - 8 - (4 + 4) - 4 - (4 + 4 + 9 + 10) - 4);
    await assert.rejects(
      s.multi([
        { type: 'setData', path: '/max', data: new Uint8Array(600_000) },
        { type: 'setData', path: '/max', data: new Uint8Array(600_000) },
      ]),
      RequestTooLargeError,
    );
    assert.notEqual(await s.exists('/'), null);
  });

  test('sync, srvr and the zxid of the last reply agree on a quiet server', async () => {
    await s.sync('/');
    const zxid = await serverZxid(s.server!);
    await s.exists('/');
    assert.equal(s.lastZxidSeen, zxid);
    assert.match(await fourLetterWord(server.connectString, 'ruok'), /^imok/);
    assert.equal(typeof s.sessionId, 'bigint');
    assert.notEqual(s.sessionId, 0n);
  });

  test('a chroot in the connect string is honoured both ways', async () => {
    await s.create('/tenant', null, OPEN);
    const inner = await openSession({ connectString: `${server.connectString}/tenant`, auth: AUTH });
    try {
      assert.equal(inner.chroot, '/tenant');
      assert.equal(await inner.create('/x', new Uint8Array([1]), OPEN), '/x');
      assert.equal(await inner.create('/x/q-', null, OPEN, 'persistent_sequential'), '/x/q-0000000000');
      assert.deepEqual((await inner.multi([{ type: 'create', path: '/y', data: null, acl: OPEN }]))[0], { type: 'create', path: '/y' });
      await inner.create('/zookeeper', null, OPEN); // an ordinary node here, not the server's
      assert.deepEqual((await s.getChildren('/tenant'))!.children.sort(), ['x', 'y', 'zookeeper']);
      assert.deepEqual([...(await s.getData('/tenant/x'))!.data!], [1]);
      assert.deepEqual((await inner.getChildren('/'))!.children.sort(), ['x', 'y', 'zookeeper']);
      await inner.sync('/x');
      const tree = await readLiveTree(inner);
      assert.deepEqual(
        tree.map((r) => r.path),
        ['/', '/x', '/x/q-0000000000', '/y', '/zookeeper'],
      );
      await assert.rejects(
        inner.multi([{ type: 'create', path: '/x', data: null, acl: OPEN }]),
        (e: unknown) => e instanceof ZkOpError && e.path === '/x',
      );
    } finally {
      await inner.close();
    }
    const missing = await openSession({ connectString: `${server.connectString}/no-such-chroot` });
    try {
      await assert.rejects(readLiveTree(missing), UserError);
    } finally {
      await missing.close();
    }
  });

  test('readLiveTree returns every node with its type; the server hides container and TTL owners', async () => {
    await s.create('/types', null, OPEN);
    await zkCli(server.connectString, [
      'create -c /types/cont shell-container',
      'create -t 600000 /types/ttl shell-ttl',
      'create /types/cont/child x',
    ]);
    await s.create('/types/cont-by-client', null, OPEN, 'container');
    await s.create('/types/ttl-by-client', new Uint8Array([7]), OPEN, 'ttl', { ttlMs: 600_000 });
    const owner = await openSession({ connectString: server.connectString });
    let ownerId: bigint;
    try {
      ownerId = owner.sessionId;
      await owner.create('/types/eph', new Uint8Array([9]), OPEN, 'ephemeral');
      // Five children so far: the parent's cversion names the next sequential child.
      assert.equal(await owner.create('/types/eph-seq-', null, OPEN, 'ephemeral_sequential'), '/types/eph-seq-0000000005');
      assert.equal(await s.create('/types/pseq-', null, OPEN, 'persistent_sequential'), '/types/pseq-0000000006');

      const unreadable: string[] = [];
      const all = await readLiveTree(s, '/', { concurrency: 3, onUnreadable: (p) => unreadable.push(p) });
      assert.deepEqual(unreadable, ['/acl/zero']); // an ACL of perms 0 locks out even its creator
      assert.deepEqual(
        all.map((r) => r.path),
        [...all.map((r) => r.path)].sort(comparePaths),
      );
      assert.equal(all[0].path, '/');
      assert.ok(!all.some((r) => r.path === '/zookeeper' || r.path.startsWith('/zookeeper/')));
      const tree = await readLiveTree(s, '/types');
      const byPath = new Map(tree.map((r) => [r.path, r]));
      assert.deepEqual(
        [...byPath.keys()],
        [
          '/types',
          '/types/cont',
          '/types/cont-by-client',
          '/types/cont/child',
          '/types/eph',
          '/types/eph-seq-0000000005',
          '/types/pseq-0000000006',
          '/types/ttl',
          '/types/ttl-by-client',
        ],
      );
      const type = (p: string) => nodeTypeOf(byPath.get(p)!.stat.ephemeralOwner);
      assert.equal(type('/types/eph'), 'ephemeral');
      assert.equal(byPath.get('/types/eph')!.stat.ephemeralOwner, ownerId);
      assert.equal(type('/types/eph-seq-0000000005'), 'ephemeral');
      assert.equal(type('/types/pseq-0000000006'), 'persistent');
      // ZooKeeper 3.5+ reports ephemeralOwner 0 for containers and TTL nodes to every client
      // (DataNode.getClientEphemeralOwner): over the client protocol they read as persistent.
      for (const p of ['/types/cont', '/types/cont-by-client', '/types/ttl', '/types/ttl-by-client'])
        assert.equal(type(p), 'persistent', p);
      assert.equal(new TextDecoder().decode(byPath.get('/types/cont')!.data), 'shell-container');
      assert.deepEqual([...byPath.get('/types/ttl-by-client')!.data!], [7]);
      assert.deepEqual(byPath.get('/types/eph')!.acl, OPEN);
      const rec: NodeRecord = byPath.get('/types/cont/child')!;
      assert.deepEqual(Object.keys(rec.stat).sort(), [
        'aversion',
        'ctime',
        'cversion',
        'czxid',
        'ephemeralOwner',
        'mtime',
        'mzxid',
        'pzxid',
        'version',
      ]);
    } finally {
      await owner.close();
    }
    // Closing the session removed its ephemerals by the time close() resolved.
    assert.equal(await s.exists('/types/eph'), null);
    assert.equal(await s.exists('/types/eph-seq-0000000005'), null);
    assert.notEqual(await s.exists('/types/cont-by-client'), null);
  });

  test('readLiveTree skips nodes deleted while it walks', async () => {
    await s.create('/churn', null, OPEN);
    for (let i = 0; i < 200; i++) await s.create(`/churn/n${i}`, null, OPEN);
    const walking = readLiveTree(s, '/churn', { concurrency: 2 });
    const deleting = Promise.all(Array.from({ length: 100 }, (_, i) => s.delete(`/churn/n${i * 2}`)));
    const [tree] = await Promise.all([walking, deleting]);
    assert.equal(tree[0].path, '/churn');
    assert.ok(tree.length >= 101 && tree.length <= 201, `walked ${tree.length} nodes`);
    for (let i = 0; i < 100; i++) assert.ok(tree.some((r) => r.path === `/churn/n${i * 2 + 1}`));
  });

  test('an unknown auth scheme is an AuthError (exit 12) that does not print the secret', async () => {
    const error = await openSession({ connectString: server.connectString, auth: ['nosuchscheme:top-secret-value'] }).then(
      () => assert.fail('connected with a bad scheme'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof AuthError);
    assert.equal(error.exitCode, 12);
    assert.doesNotMatch(`${error.message} ${error.hint}`, /top-secret-value/);
    await assert.rejects(
      openSession({ connectString: server.connectString, auth: ['no-colon-secret'] }),
      (e: unknown) => e instanceof Error && !e.message.includes('no-colon-secret'),
    );
  });

  test('aborting a session rejects its requests with CancelledError', async () => {
    const controller = new AbortController();
    const session = await openSession({ connectString: server.connectString, signal: controller.signal });
    await session.create('/abort-eph', null, OPEN, 'ephemeral');
    const pending = session.getData('/abort-eph');
    controller.abort();
    await assert.rejects(pending, CancelledError);
    await assert.rejects(session.exists('/'), CancelledError);
    await session.close();
    assert.equal(await s.exists('/abort-eph'), null);
    await assert.rejects(openSession({ connectString: server.connectString, signal: controller.signal }), CancelledError);
  });
});

describe('connection failures', () => {
  test('an unreachable connect string is a ConnectionError (exit 13) naming it', async () => {
    const [port] = await freePorts(1);
    const connectString = `127.0.0.1:${port}/app`;
    const error = await openSession({ connectString, connectTimeoutMs: 500 }).then(
      () => assert.fail('connected to nothing'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.exitCode, 13);
    assert.match(error.message, new RegExp(connectString.replace(/[.]/g, '\\.')));
    assert.match(error.hint ?? '', /srvr/);
    await assert.rejects(fourLetterWord(`127.0.0.1:${port}`, 'srvr'), ConnectionError);
  });

  test('a server that goes away fails waiting requests with ConnectionError once the session is lost', async () => {
    const server = await startStandalone();
    const session = await openSession({ connectString: server.connectString, sessionTimeoutMs: 4000 });
    try {
      await session.create('/before', null, OPEN);
      await server.stop();
      await assert.rejects(session.getData('/before'), ConnectionError);
      await assert.rejects(session.getData('/before'), ConnectionError);
    } finally {
      await session.close();
      await server.destroy();
    }
  });
});

describe('the workload, end to end on a server that rolls logs and snapshots', () => {
  let server: ZkServer;
  const checkpoints: Checkpoint[] = [];

  before(async () => {
    server = await startStandalone({ snapCount: 100 });
    await runWorkload(server.connectString, {
      checkpoint: async (label) => {
        checkpoints.push(await captureCheckpoint(server.connectString, label, WORKLOAD_AUTH));
      },
      zkCli: (cmds) => zkCli(server.connectString, cmds, { auth: WORKLOAD_AUTH }),
    });
  });

  test('four checkpoints, in zxid and time order', () => {
    assert.deepEqual(
      checkpoints.map((c) => c.label),
      ['base', 'churn', 'rolled', 'final'],
    );
    for (let i = 1; i < checkpoints.length; i++) {
      assert.ok(checkpoints[i].zxid > checkpoints[i - 1].zxid);
      assert.ok(checkpoints[i].time >= checkpoints[i - 1].time);
    }
    const txns = (checkpoints.at(-1)!.zxid & 0xffffffffn) - (checkpoints[0].zxid & 0xffffffffn);
    assert.ok(txns >= 400n, `only ${txns} txns between the first and last checkpoint`);
    for (const c of checkpoints)
      for (const r of c.tree) assert.ok(r.stat.mzxid <= c.zxid && r.stat.pzxid <= c.zxid, `${c.label} ${r.path}`);
  });

  test('the checkpoint trees hold every kind of node the workload makes', () => {
    const N = WORKLOAD_NODES;
    const at = (label: string) => new Map(checkpoints.find((c) => c.label === label)!.tree.map((r) => [r.path, r]));
    const base = at('base');
    const final = at('final');
    for (const tree of [base, final]) {
      for (const p of [
        N.container,
        N.containerChild,
        N.containerByClient,
        N.ttl,
        N.ttlByClient,
        N.unicode,
        N.big,
        N.nullData,
        N.emptyData,
        N.binary,
        N.ephemeralKept,
      ])
        assert.ok(tree.has(p), p);
      assert.ok(!tree.has('/zookeeper'));
      assert.equal(tree.get(N.big)!.data!.byteLength, BIG_NODE_BYTES);
      assert.equal(tree.get(N.nullData)!.data, null);
      assert.equal(tree.get(N.emptyData)!.data!.byteLength, 0);
      assert.equal(nodeTypeOf(tree.get(N.ephemeralKept)!.stat.ephemeralOwner), 'ephemeral');
    }
    assert.ok(base.has(N.ephemeralGone) && base.has(N.deep));
    assert.ok(!at('churn').has(N.ephemeralGone) && !final.has(N.ephemeralGone));
    assert.ok(!final.has(N.deep) && final.has('/app/deep/l01'));
    const sequential = [...final.keys()].filter((p) => /^\/queue\/item-\d{10}$/.test(p));
    assert.equal(sequential.length, 8 + 6 - 2);
    assert.ok([...final.keys()].some((p) => /^\/locks\/lock-\d{10}$/.test(p)));
    assert.ok(final.has(N.multiCreated) && !final.has(N.multiNeverCreated) && !final.has('/txn/b'));
    assert.deepEqual(
      final.get(N.ipAcl)!.acl.map((a) => a.scheme),
      ['ip', 'digest'],
    );
    assert.equal(final.get(N.secure)!.stat.aversion, 2);
    assert.ok(final.get(N.config)!.stat.version >= 30);
    assert.ok(final.has(`${N.container}/job-2`));
    assert.notDeepEqual(Buffer.from(base.get(N.big)!.data!), Buffer.from(final.get(N.big)!.data!));
  });

  test('the server rolled its logs and took several snapshots', async () => {
    const files = await readdir(path.join(server.dataLogDir, 'version-2'));
    const logs = files.filter((f) => f.startsWith('log.'));
    const snaps = (await readdir(path.join(server.dataDir, 'version-2'))).filter((f) => f.startsWith('snapshot.'));
    assert.ok(logs.length >= 3, `logs: ${logs.join(' ')}`);
    assert.ok(snaps.length >= 3, `snapshots: ${snaps.join(' ')}`);
  });

  test('without the workload credentials the private node is unreadable', async () => {
    const stranger = await openSession({ connectString: server.connectString });
    try {
      await assert.rejects(stranger.getData(WORKLOAD_NODES.private), (e: unknown) => e instanceof ZkOpError && e.code === ZK_ERROR.NoAuth);
    } finally {
      await stranger.close();
    }
  });
});
