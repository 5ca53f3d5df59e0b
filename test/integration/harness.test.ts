// The ZooKeeper test harness itself: real servers start, elect, stop without leftovers, and
// ZooKeeper's own tools run against what they wrote.

import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  fourLetterWord,
  requireZooKeeper,
  runJava,
  serverMode,
  startEnsemble,
  startStandalone,
  stopAll,
  zkCli,
  zookeeperAvailable,
} from '../support/zk-harness.js';

after(stopAll);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('ZooKeeper and Java are installed (the other tests need them)', () => {
  const avail = zookeeperAvailable();
  assert.ok(avail.ok, avail.ok ? '' : avail.reason);
  assert.doesNotThrow(requireZooKeeper);
});

test('a standalone server starts on a loopback port and answers srvr', async () => {
  const zk = await startStandalone();
  try {
    assert.equal(zk.connectString, `127.0.0.1:${zk.clientPort}`);
    const srvr = await fourLetterWord(zk.clientPort, 'srvr');
    assert.match(srvr, /^Zookeeper version: 3\.\d+\.\d+/m);
    assert.match(srvr, /^Mode: standalone$/m);
    assert.equal(await fourLetterWord(zk.clientPort, 'ruok'), 'imok');
    assert.equal(zk.dataLogDir, zk.dataDir);
    assert.ok((await readdir(path.join(zk.dataDir, 'version-2'))).includes('snapshot.0'));
    assert.match(await readFile(zk.logFile, 'utf8'), /binding to port \/127\.0\.0\.1:\d+/);
  } finally {
    await zk.destroy();
  }
});

test('a 3-member ensemble elects exactly one leader', async () => {
  const ensemble = await startEnsemble(3);
  try {
    assert.equal(ensemble.servers.length, 3);
    assert.deepEqual(
      ensemble.servers.map((s) => s.id),
      [1, 2, 3],
    );
    assert.equal(ensemble.connectString, ensemble.servers.map((s) => `127.0.0.1:${s.clientPort}`).join(','));
    const modes = await Promise.all(ensemble.servers.map((s) => serverMode(s.clientPort)));
    assert.equal(modes.filter((m) => m === 'leader').length, 1, `modes: ${modes.join(', ')}`);
    assert.equal(modes.filter((m) => m === 'follower').length, 2, `modes: ${modes.join(', ')}`);
    for (const s of ensemble.servers) {
      assert.equal((await readFile(path.join(s.dataDir, 'myid'), 'utf8')).trim(), String(s.id));
    }
    // A write through one member is visible through another once synced.
    await zkCli(ensemble.servers[0].connectString, ['create /ens hello']);
    const seen = await zkCli(ensemble.servers[2].connectString, ['sync /ens', 'get /ens']);
    assert.match(seen, /^hello$/m);
  } finally {
    await ensemble.destroy();
  }
});

test('stop() leaves no process behind and start() brings the same server back with its data', async () => {
  const zk = await startStandalone();
  try {
    const pid = zk.pid;
    assert.ok(pid !== undefined && pidAlive(pid));
    await zkCli(zk.connectString, ['create /survives data']);
    await zk.stop();
    assert.equal(zk.pid, undefined);
    assert.equal(pidAlive(pid), false, `JVM ${pid} is still running after stop()`);
    assert.equal(await serverMode(zk.clientPort), undefined);

    const port = zk.clientPort;
    await zk.start();
    assert.equal(zk.clientPort, port);
    assert.notEqual(zk.pid, pid);
    assert.equal(await serverMode(zk.clientPort), 'standalone');
    assert.match(await zkCli(zk.connectString, ['get /survives']), /^data$/m);
  } finally {
    await zk.destroy();
  }
});

test('runJava runs SnapshotFormatter on the snapshot a fresh server wrote', async () => {
  const zk = await startStandalone();
  try {
    const snapshot = path.join(zk.dataDir, 'version-2', 'snapshot.0');
    const { code, stdout, stderr } = await runJava('org.apache.zookeeper.server.SnapshotFormatter', [snapshot]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^ZNode Details \(count=\d+\):$/m);
    assert.match(stdout, /^\/zookeeper$/m);
    assert.match(stdout, /^\/zookeeper\/quota$/m);
    assert.match(stdout, /^Last zxid: 0x0$/m);

    const usage = await runJava('org.apache.zookeeper.server.SnapshotFormatter', []);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr + usage.stdout, /USAGE: SnapshotFormatter/);
  } finally {
    await zk.destroy();
  }
});

test('zkCli creates container and TTL nodes in one shell session', async () => {
  const zk = await startStandalone();
  try {
    const out = await zkCli(zk.connectString, [
      'create -c /cont',
      'create -t 60000 /ttl data',
      'create /cont/child x',
      'ls /',
      'stat /ttl',
    ]);
    assert.match(out, /^Created \/cont$/m);
    assert.match(out, /^Created \/ttl$/m);
    assert.match(out, /^\[cont, ttl, zookeeper\]$/m);
    assert.match(out, /^dataLength = 4$/m);
    assert.match(out, /^numChildren = 0$/m);

    // stat cannot tell a TTL or container node from a persistent one (its ephemeralOwner reads 0),
    // so check the transaction log, which records the real create types.
    const logs = (await readdir(path.join(zk.dataLogDir, 'version-2'))).filter((f) => f.startsWith('log.'));
    assert.equal(logs.length, 1);
    const dump = await runJava('org.apache.zookeeper.server.persistence.TxnLogToolkit', [
      '-d',
      path.join(zk.dataLogDir, 'version-2', logs[0]),
    ]);
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /createContainer \/cont,/);
    assert.match(dump.stdout, /createTtl \/ttl,data,.*,60000/s);

    // A failing command fails the call, and says which node.
    await assert.rejects(zkCli(zk.connectString, ['create /cont again']), /Node already exists: \/cont/);
    // Commands after a failure still ran; the call reports the failure anyway.
    await assert.rejects(zkCli(zk.connectString, ['delete /missing', 'create /after x']), /Node does not exist: \/missing/);
    assert.match(await zkCli(zk.connectString, ['get /after']), /^x$/m);
  } finally {
    await zk.destroy();
  }
});

test('zkCli authenticates with addauth and redacts the credentials on failure', async () => {
  const zk = await startStandalone();
  try {
    await zkCli(zk.connectString, ['create /locked secret digest:alice:V55/p2T0OpjQ+low3NVAH4aLvm0=:cdrwa'], { auth: ['digest:alice:pw'] });
    // Without auth: NoAuth.
    await assert.rejects(zkCli(zk.connectString, ['get /locked']), /Insufficient permission : \/locked/);
    // With it: readable.
    assert.match(await zkCli(zk.connectString, ['get /locked'], { auth: ['digest:alice:pw'] }), /^secret$/m);
    await assert.rejects(zkCli(zk.connectString, ['get /nope'], { auth: ['digest:alice:pw'] }), (err: Error) => {
      assert.match(err.message, /addauth digest \*\*\*/);
      assert.doesNotMatch(err.message, /alice:pw/);
      return true;
    });
  } finally {
    await zk.destroy();
  }
});

test('server options reach ZooKeeper: snapCount, preAllocSize, extendedTypes off', async () => {
  const zk = await startStandalone({ snapCount: 10, preAllocSizeKb: 16, extendedTypes: false });
  try {
    const creates = Array.from({ length: 30 }, (_, i) => `create /n${i} v${i}`);
    await zkCli(zk.connectString, creates);
    const files = await readdir(path.join(zk.dataDir, 'version-2'));
    // With snapCount 10, 30 transactions roll the log (and snapshot) at least twice.
    assert.ok(files.filter((f) => f.startsWith('snapshot.')).length >= 3, files.join(' '));
    assert.ok(files.filter((f) => f.startsWith('log.')).length >= 3, files.join(' '));
    for (const log of files.filter((f) => f.startsWith('log.'))) {
      const { size } = await stat(path.join(zk.dataDir, 'version-2', log));
      // A log is its 16-byte header padded ahead in preAllocSize steps (the default step is 64 MiB).
      assert.equal((size - 16) % (16 * 1024), 0, `${log} is ${size} bytes, not 16 + n * 16 KiB`);
      assert.ok(size <= 16 + 4 * 16 * 1024, `${log} is ${size} bytes`);
    }
    await assert.rejects(zkCli(zk.connectString, ['create -t 60000 /ttl x']), /Unimplemented/);
  } finally {
    await zk.destroy();
  }
});
