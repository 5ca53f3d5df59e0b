// The formats engine against a real 3-member ZooKeeper 3.8 ensemble: a workload of every txn type with
// a small snapCount (logs roll, snapshots are fuzzy), the live tree captured at checkpoints, then from
// each member's files: every snapshot and log parses with every seal, CRC and digest matching, and the
// tree replayed to each checkpoint's zxid equals the live tree captured there, field for field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startEnsemble, stopAll, zkCli, runJava, requireZooKeeper, type ZkEnsemble } from '../support/zk-harness.js';
import { runWorkload, captureCheckpoint, WORKLOAD_AUTH, WORKLOAD_NODES, type Checkpoint } from '../support/workload.js';
import { assertSameTree } from '../support/compare.js';
import { runCli } from '../support/cli.js';
import { listDataDir } from '../../src/datadir/listing.js';
import { decompress } from '../../src/formats/compression.js';
import { IntegrityError } from '../../src/errors.js';
import { loadSnapshotTree } from '../../src/core/snapshot-tree.js';
import { iterateTxnLog } from '../../src/formats/txn-log.js';
import { dataDirSources } from '../../src/datadir/source.js';
import { replayToZxid } from '../../src/core/replay.js';
import { exportDataDir } from '../../src/services/export.js';
import { OpCode } from '../../src/formats/txn.js';
import { formatZxid } from '../../src/core/zxid.js';

requireZooKeeper();
after(stopAll);

let ensemble: ZkEnsemble;
const checkpoints: Checkpoint[] = [];

before(async () => {
  ensemble = await startEnsemble(3, { snapCount: 100, preAllocSizeKb: 64 });
  const conn = ensemble.connectString;
  await runWorkload(conn, {
    checkpoint: async (label) => void checkpoints.push(await captureCheckpoint(conn, label, WORKLOAD_AUTH)),
    zkCli: (cmds) => zkCli(conn, cmds, { auth: WORKLOAD_AUTH }),
  });
  await ensemble.stop();
});

/**
 * Loads a member's snapshot. Stopping a member can cut short the snapshot it was writing (ZooKeeper
 * passes over such a file when it loads), so its newest one may end early: that is returned as null,
 * once the replay of the whole dataDir has been seen to pass over it. Any other failure fails the test.
 */
function loadIfComplete(member: ZkEnsemble['servers'][number], name: string) {
  const all = listDataDir(member.dataDir).snapshots; // newest first
  const ref = all.find((x) => x.name === name)!;
  try {
    return loadSnapshotTree(decompress(readFileSync(ref.path), ref.compression, ref.path), ref.name, ref.zxid);
  } catch (err) {
    assert.ok(err instanceof IntegrityError && err.problem === 'truncated', `${name} of member ${member.id}: ${(err as Error).message}`);
    assert.equal(name, all[0].name, `only the newest snapshot of member ${member.id} may be cut short`);
    const warnings: string[] = [];
    const r = exportDataDir({ dataDir: member.dataDir, warn: (m) => warnings.push(m) });
    assert.notEqual(r.snapshot, name);
    assert.ok(
      warnings.some((w) => w.startsWith(`${name} is cut short`)),
      warnings.join('\n'),
    );
    return null;
  }
}

test('the workload rolled logs and took several snapshots on every member', () => {
  assert.ok(checkpoints.length >= 4);
  for (const s of ensemble.servers) {
    const l = listDataDir(s.dataDir);
    assert.ok(l.snapshots.length >= 3, `member ${s.id}: ${l.snapshots.length} snapshots`);
    assert.ok(l.logs.length >= 3, `member ${s.id}: ${l.logs.length} logs`);
  }
});

test('every snapshot and log of every member parses, seals and CRCs matching; every txn type is seen', () => {
  const types = new Set<number>();
  for (const s of ensemble.servers) {
    const l = listDataDir(s.dataDir);
    for (const snap of l.snapshots) {
      const loaded = loadIfComplete(s, snap.name);
      if (!loaded) continue;
      assert.ok(loaded.info.seals >= 2, `${snap.name}: seal and digest section`);
      assert.ok(loaded.tree.size >= 3);
    }
    for (const log of l.logs) {
      const it = iterateTxnLog(readFileSync(log.path), log.path);
      let n = 0;
      for (let r = it.next(); ; r = it.next()) {
        if (r.done) {
          assert.notEqual(r.value.kind, 'torn', `${log.name} of member ${s.id} ends cleanly`);
          break;
        }
        n++;
        types.add(r.value.txn.header.type);
        if (r.value.txn.body.kind === 'multi') for (const t of r.value.txn.body.txns) types.add(t.type);
      }
      assert.ok(n > 0, `${log.name} has records`);
    }
  }
  for (const t of [
    OpCode.createSession,
    OpCode.closeSession,
    OpCode.create,
    OpCode.createContainer,
    OpCode.createTTL,
    OpCode.setData,
    OpCode.setACL,
    OpCode.delete,
    OpCode.multi,
    OpCode.error,
    OpCode.check,
  ]) {
    assert.ok(types.has(t), `txn type ${t} appears in the logs`);
  }
});

test('replaying from every snapshot reproduces every digest the servers recorded', () => {
  for (const s of ensemble.servers) {
    const src = dataDirSources(s.dataDir);
    let end: bigint | null = null;
    for (const snap of src.snapshots) {
      if (!loadIfComplete(s, snap.name)) continue;
      const r = replayToZxid([snap], src.logs, { verifyDigests: true });
      assert.equal(r.snapshot?.name, snap.name);
      if (end !== null) assert.equal(r.zxid, end, 'every base reaches the same last txn');
      end = r.zxid;
      if (r.txnsApplied > 0) assert.ok(r.digestsChecked > 0, `member ${s.id} from ${snap.name}: digests compared`);
    }
  }
});

test('export --to-zxid at each checkpoint equals the live tree captured there, on every member', () => {
  for (const cp of checkpoints) {
    for (const s of ensemble.servers) {
      const res = exportDataDir({ dataDir: s.dataDir, toZxid: cp.zxid });
      assert.equal(res.zxid, cp.zxid);
      assertSameTree(res.records, cp.tree, `checkpoint ${cp.label} (${formatZxid(cp.zxid)}) on member ${s.id}`, { clientView: true });
    }
  }
});

test('the file-derived tree keeps node types the client API hides', () => {
  const last = checkpoints[checkpoints.length - 1];
  const leader = ensemble.servers[0];
  const r = runCli(['export', '--data-dir', leader.dataDir, '--to-zxid', formatZxid(last.zxid)]);
  assert.equal(r.code, 0, r.stderr);
  const lines = new Map<string, { type: string; stat: { ephemeralOwner: string } }>(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const o = JSON.parse(l);
        return [o.path, o];
      }),
  );
  assert.equal(lines.get(WORKLOAD_NODES.container)?.type, 'container');
  assert.equal(lines.get(WORKLOAD_NODES.container)?.stat.ephemeralOwner, '0x8000000000000000');
  assert.equal(lines.get(WORKLOAD_NODES.ttl)?.type, 'ttl');
  assert.equal(lines.get(WORKLOAD_NODES.ephemeralKept)?.type, 'ephemeral');
  assert.equal(lines.has(WORKLOAD_NODES.ephemeralGone), false);
  assert.ok(lines.has(WORKLOAD_NODES.unicode));
  assert.equal(Buffer.from((lines.get(WORKLOAD_NODES.big) as unknown as { data: string }).data, 'base64').length, 1_048_000);
});

test("ZooKeeper's TxnLogToolkit counts the same txns in every log", async () => {
  const leader = ensemble.servers[0];
  for (const log of listDataDir(leader.dataDir).logs) {
    const ours = [...iterateTxnLog(readFileSync(log.path), log.path)].length;
    const res = await runJava('org.apache.zookeeper.server.persistence.TxnLogToolkit', [log.path]);
    const m = /EOF reached after (\d+) txns/.exec(res.stdout + res.stderr);
    assert.ok(m, `TxnLogToolkit output for ${log.name}: ${res.stdout.slice(-300)}${res.stderr.slice(-300)}`);
    assert.equal(Number(m[1]), ours, `${log.name}`);
  }
});
