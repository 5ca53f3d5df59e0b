// Physical backups and point-in-time restore against a real 3-member ensemble: a workload of every txn
// type with a small snapCount; a full backup in the middle, incrementals after; then for every
// checkpoint a dataDir restored to its zxid (and to its time) is started as a real server and serves
// the checkpoint's tree in every field. A whole ensemble starts from restored dataDirs, and
// ZooKeeper's own TxnLogToolkit chop plus a real server agree with zkvault.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startEnsemble, startStandalone, stopAll, zkCli, runJava, requireZooKeeper, type ZkEnsemble } from '../support/zk-harness.js';
import { runWorkload, captureCheckpoint, WORKLOAD_AUTH, type Checkpoint } from '../support/workload.js';
import { makeTempDir } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { assertSameTree } from '../support/compare.js';
import { openSession, serverZxid } from '../../src/zk/client.js';
import { readLiveTree } from '../../src/zk/live-tree.js';
import { formatZxid } from '../../src/core/zxid.js';
import { listDataDir } from '../../src/datadir/listing.js';
import { dataDirSources } from '../../src/datadir/source.js';
import { loadSnapshotTree } from '../../src/core/snapshot-tree.js';

requireZooKeeper();
after(stopAll);

let ensemble: ZkEnsemble;
let work = '';
let repo = '';
const checkpoints: Checkpoint[] = [];
const backups: Array<{ id: string; label: string; json: Record<string, unknown> }> = [];

async function waitFor(memberConnect: string, zxid: bigint): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await serverZxid(memberConnect)) >= zxid) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`member ${memberConnect} never reached ${formatZxid(zxid)}`);
}

function physicalBackup(label: string, incremental: boolean) {
  const member = ensemble.servers[0];
  const r = runCli(['backup', '--data-dir', member.dataDir, '--repo', repo, '--json', ...(incremental ? ['--incremental'] : [])]);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  backups.push({ id: json.id, label, json });
}

before(async () => {
  work = await makeTempDir('zkvault-pitr-');
  repo = join(work, 'repo');
  ensemble = await startEnsemble(3, { snapCount: 100, preAllocSizeKb: 64 });
  const conn = ensemble.connectString;
  await runWorkload(conn, {
    checkpoint: async (label) => {
      const cp = await captureCheckpoint(conn, label, WORKLOAD_AUTH);
      checkpoints.push(cp);
      // Back up member 1 once its own log holds the checkpoint: a full backup at the second
      // checkpoint, incrementals at the later ones.
      if (checkpoints.length >= 2) {
        await waitFor(ensemble.servers[0].connectString, cp.zxid);
        physicalBackup(label, checkpoints.length > 2);
      }
    },
    zkCli: (cmds) => zkCli(conn, cmds, { auth: WORKLOAD_AUTH }),
  });
});

async function serve(dataDir: string) {
  const server = await startStandalone({ dataDir });
  const s = await openSession({ connectString: server.connectString, auth: WORKLOAD_AUTH });
  try {
    return { tree: await readLiveTree(s, '/'), server };
  } finally {
    await s.close();
  }
}

test('a full backup then incrementals form one chain; list shows each restorable range', () => {
  assert.ok(backups.length >= 3, `${backups.length} backups`);
  const r = runCli(['list', '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as Array<{
    id: string;
    kind: string;
    zxid: { from: string; to: string };
    chain: { base: string; parent: string | null; depth: number };
  }>;
  assert.deepEqual(
    list.map((b) => b.id),
    backups.map((b) => b.id),
  );
  assert.ok(list.every((b) => b.kind === 'physical'));
  assert.deepEqual(list[0].chain, { base: list[0].id, parent: null, depth: 0 });
  for (let i = 1; i < list.length; i++) {
    assert.equal(list[i].zxid.from, list[0].zxid.from, 'incrementals restore from the same base');
    assert.ok(BigInt(list[i].zxid.to) > BigInt(list[i - 1].zxid.to));
    assert.deepEqual(list[i].chain, { base: list[0].id, parent: list[i - 1].id, depth: i });
  }
  const table = runCli(['list', '--repo', repo]).stdout.split('\n');
  assert.match(table[2], new RegExp(`^${list[1].id} .* incremental of ${list[0].id}$`));
  const inspect = runCli(['inspect', backups[backups.length - 1].id, '--repo', repo, '--json']);
  assert.equal(inspect.code, 0, inspect.stderr);
  const m = JSON.parse(inspect.stdout);
  assert.equal(m.extra.chain.parent, backups[backups.length - 2].id);
  assert.equal(m.extra.chain.base, backups[0].id);
});

test('restore --to-zxid of every covered checkpoint starts a real server serving that tree in every field', async () => {
  const base = BigInt(JSON.parse(runCli(['list', '--repo', repo, '--json']).stdout)[0].zxid.from);
  let restored = 0;
  for (const cp of checkpoints) {
    const out = join(work, `zxid-${cp.label}`);
    const r = runCli(['restore', '--to-zxid', formatZxid(cp.zxid), '--data-dir', out, '--repo', repo, '--json']);
    if (cp.zxid < base) {
      assert.equal(r.code, 2, `${cp.label} is before the base: ${r.stderr}`);
      assert.match(r.stderr, /no physical backup covers zxid .* can restore: /);
      assert.equal(existsSync(out), false, 'nothing written');
      continue;
    }
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).zxid, formatZxid(cp.zxid));
    if (restored === 0) {
      // A dry run of the same point replays and checks it all, and writes nothing.
      const dryOut = join(work, `dry-${cp.label}`);
      const dry = runCli(['restore', '--to-zxid', formatZxid(cp.zxid), '--data-dir', dryOut, '--repo', repo, '--dry-run', '--json']);
      assert.equal(dry.code, 0, dry.stderr);
      const said = JSON.parse(dry.stdout);
      assert.equal(said.dryRun, true);
      assert.equal(said.created, JSON.parse(r.stdout).created, 'the dry run counts the nodes the restore wrote');
      assert.equal(existsSync(dryOut), false, 'a dry run writes nothing');
    }
    const { tree, server } = await serve(out);
    assertSameTree(tree, cp.tree, `restored to checkpoint ${cp.label}`);
    await server.destroy();
    restored++;
  }
  // 'rolled' and 'final' always; 'churn' too unless the server wrote a snapshot right after it (the
  // checkpoint's own closeSession txn can start one), whose fuzzy window then begins the range.
  assert.ok(restored >= 2, `${restored} checkpoints restored`);
});

test('restore --to-time resolves to the last txn at or before that time', async () => {
  const cp = checkpoints[checkpoints.length - 1];
  const out = join(work, 'by-time');
  const r = runCli(['restore', '--to-time', new Date(cp.time).toISOString(), '--data-dir', out, '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).zxid, formatZxid(cp.zxid));
  const { tree, server } = await serve(out);
  assertSameTree(tree, cp.tree, 'restored by time');
  await server.destroy();
});

test('a whole 3-member ensemble started from restored dataDirs elects a leader and serves the tree from every member', async () => {
  const cp = checkpoints[checkpoints.length - 1];
  const dirs = [1, 2, 3].map((i) => join(work, `ens-${i}`));
  for (const [i, d] of dirs.entries()) {
    const r = runCli(['restore', '--to-zxid', formatZxid(cp.zxid), '--data-dir', d, '--myid', String(i + 1), '--repo', repo]);
    assert.equal(r.code, 0, r.stderr);
  }
  const restoredEnsemble = await startEnsemble(3, { dataDirs: dirs });
  for (const server of restoredEnsemble.servers) {
    const s = await openSession({ connectString: server.connectString, auth: WORKLOAD_AUTH });
    const tree = await readLiveTree(s, '/');
    await s.close();
    assertSameTree(tree, cp.tree, `restored ensemble member ${server.id}`);
  }
  await restoredEnsemble.destroy();
});

test("ZooKeeper as referee: TxnLogToolkit's chop of the original files plus a real server give zkvault's tree", async () => {
  await ensemble.stop();
  const member = ensemble.servers[0];
  const src = dataDirSources(member.dataDir);
  // A checkpoint whose newest snapshot is already complete by then (ZooKeeper itself would load a
  // fuzzy one and replay from there, which is not the state at the checkpoint).
  const listing = listDataDir(member.dataDir);
  const cp = [...checkpoints].reverse().find((c) => {
    const snap = src.snapshots.find((s) => s.zxid <= c.zxid);
    if (!snap) return false;
    let info: ReturnType<typeof loadSnapshotTree>['info'];
    try {
      info = loadSnapshotTree(snap.read(), snap.name, snap.zxid).info;
    } catch {
      return false; // the snapshot the member was writing when it stopped, cut short
    }
    const logWithLater =
      listing.logs.some((l) => l.zxid <= c.zxid) &&
      c.zxid < BigInt(JSON.parse(runCli(['list', '--repo', repo, '--json']).stdout).at(-1).zxid.to);
    return (!info.digest || info.digest.zxid <= c.zxid) && logWithLater;
  });
  assert.ok(cp, 'a checkpoint usable by the referee');
  const refDir = join(work, 'referee');
  cpSync(member.dataDir, refDir, { recursive: true });
  const v2 = join(refDir, 'version-2');
  for (const n of readdirSync(v2)) {
    const z = n.startsWith('snapshot.') || n.startsWith('log.') ? BigInt('0x' + n.split('.')[1]) : null;
    if (n.startsWith('snapshot.') && z! > cp.zxid) rmSync(join(v2, n));
    if (n.startsWith('log.') && z! > cp.zxid) rmSync(join(v2, n));
    if (n === 'currentEpoch' || n === 'acceptedEpoch') rmSync(join(v2, n));
  }
  rmSync(join(refDir, 'myid'), { force: true });
  const holding = readdirSync(v2)
    .filter((n) => n.startsWith('log.'))
    .sort((a, b) => (BigInt('0x' + a.slice(4)) < BigInt('0x' + b.slice(4)) ? -1 : 1))
    .at(-1)!;
  const chop = await runJava('org.apache.zookeeper.server.persistence.TxnLogToolkit', ['-c', '-z', formatZxid(cp.zxid), join(v2, holding)]);
  const chopped = readdirSync(v2).find((n) => n.includes('.chopped'));
  if (chopped) {
    rmSync(join(v2, holding));
    renameSync(join(v2, chopped), join(v2, holding));
  } else {
    assert.match(chop.stdout + chop.stderr, /nothing chopped|Last zxid/i, 'TxnLogToolkit ran');
  }
  const referee = await serve(refDir);
  const ours = join(work, 'ours-referee');
  const r = runCli(['restore', '--to-zxid', formatZxid(cp.zxid), '--data-dir', ours, '--repo', repo]);
  assert.equal(r.code, 0, r.stderr);
  const mine = await serve(ours);
  // Sessions the checkpoint still had may expire on either side at different moments; compare the
  // persistent view and the ephemerals both kept.
  assertSameTree(mine.tree, referee.tree, `zkvault vs ZooKeeper at ${formatZxid(cp.zxid)}`);
  await referee.server.destroy();
  await mine.server.destroy();
  void mkdirSync;
  void writeFileSync;
});

/** A copy of member 1's (stopped) dataDir, by default with only its oldest snapshot, to shape histories. */
function historyCopy(name: string, keepAllSnapshots = false): { dir: string; v2: string; logs: string[] } {
  const dir = join(work, name);
  cpSync(ensemble.servers[0].dataDir, dir, { recursive: true });
  const v2 = join(dir, 'version-2');
  const hex = (n: string) => BigInt('0x' + n.split('.')[1]);
  const snaps = readdirSync(v2)
    .filter((n) => n.startsWith('snapshot.'))
    .sort((a, b) => (hex(a) < hex(b) ? -1 : 1));
  if (!keepAllSnapshots) for (const s of snaps.slice(1)) rmSync(join(v2, s));
  const logs = readdirSync(v2)
    .filter((n) => n.startsWith('log.'))
    .sort((a, b) => (hex(a) < hex(b) ? -1 : 1));
  return { dir, v2, logs };
}

test('a log missing in the middle: backup reports the gap and covers up to it; restore inside it fails naming the range; before it works', async () => {
  await ensemble.stop();
  const h = historyCopy('gap');
  assert.ok(h.logs.length >= 3);
  rmSync(join(h.v2, h.logs[1]));
  const gapRepo = join(work, 'gap-repo');
  const b = runCli(['backup', '--data-dir', h.dir, '--repo', gapRepo, '--json']);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /txns 0x[0-9a-f]+\.\.0x[0-9a-f]+ are missing/);
  const out = JSON.parse(b.stdout);
  const gapStart = BigInt('0x' + h.logs[1].slice(4));
  assert.equal(BigInt(out.zxid.to), gapStart - 1n, 'covers up to the hole');
  const inside = runCli(['restore', '--to-zxid', formatZxid(gapStart + 1n), '--data-dir', join(work, 'gap-in'), '--repo', gapRepo]);
  assert.equal(inside.code, 2);
  assert.match(inside.stderr, new RegExp(`can restore: ${out.id}: ${out.zxid.from}\\.\\.${out.zxid.to}`));
  assert.equal(existsSync(join(work, 'gap-in')), false);
  const before = runCli(['restore', '--to-zxid', out.zxid.to, '--data-dir', join(work, 'gap-before'), '--repo', gapRepo, '--json']);
  assert.equal(before.code, 0, before.stderr);
  assert.equal(JSON.parse(before.stdout).zxid, out.zxid.to);
});

test('an incremental whose logs were purged past the last backup restarts the chain with a full backup', () => {
  const early = historyCopy('purge-early');
  for (const l of early.logs.slice(2)) rmSync(join(early.v2, l));
  const pRepo = join(work, 'purge-repo');
  const full = runCli(['backup', '--data-dir', early.dir, '--repo', pRepo, '--json']);
  assert.equal(full.code, 0, full.stderr);
  // Autopurge ran: the logs holding the chain's last txn are gone (newer snapshots remain).
  const late = historyCopy('purge-late', true);
  for (const l of late.logs.slice(0, 2)) rmSync(join(late.v2, l));
  const inc = runCli(['backup', '--data-dir', ensemble.servers[0].dataDir, '--repo', pRepo, '--incremental', '--json']);
  assert.equal(inc.code, 0, inc.stderr);
  assert.equal(JSON.parse(inc.stdout).unchanged, false);
  const incChain = JSON.parse(runCli(['inspect', JSON.parse(inc.stdout).id, '--repo', pRepo, '--json']).stdout).extra.chain;
  assert.equal(incChain.parent, JSON.parse(full.stdout).id, 'while the logs still hold its last txn, it continues the chain');
  // A repository whose newest backup ends inside the purged logs.
  const pRepo2 = join(work, 'purge-repo-2');
  assert.equal(runCli(['backup', '--data-dir', early.dir, '--repo', pRepo2]).code, 0);
  const gapped = runCli(['backup', '--data-dir', late.dir, '--repo', pRepo2, '--incremental', '--json']);
  assert.equal(gapped.code, 0, gapped.stderr);
  assert.match(gapped.stderr, /purged before they were copied; taking a full backup, which starts a new chain/);
  const chain = JSON.parse(runCli(['inspect', JSON.parse(gapped.stdout).id, '--repo', pRepo2, '--json']).stdout).extra.chain;
  assert.equal(chain.parent, null, 'a new chain starts');
  assert.equal(chain.depth, 0);
});

test('an incremental reads from the log that holds its parent’s last txn, and stops at a hole after it', () => {
  const early = historyCopy('scope-early');
  for (const l of early.logs.slice(2)) rmSync(join(early.v2, l));
  const sRepo = join(work, 'scope-repo');
  const full = runCli(['backup', '--data-dir', early.dir, '--repo', sRepo, '--json']);
  assert.equal(full.code, 0, full.stderr);
  const later = historyCopy('scope-later', true);
  assert.ok(later.logs.length >= 5, `the workload left ${later.logs.length} logs`);
  // Damage in a log before the parent's last txn: the incremental has no business reading it.
  const old = join(later.v2, later.logs[0]);
  const bytes = readFileSync(old);
  bytes.fill(0x5a, 40, 80);
  writeFileSync(old, bytes);
  rmSync(join(later.v2, later.logs[3]));
  const inc = runCli(['backup', '--data-dir', later.dir, '--repo', sRepo, '--incremental', '--json']);
  assert.equal(inc.code, 0, inc.stderr);
  assert.doesNotMatch(inc.stderr, new RegExp(later.logs[0].replace('.', '\\.')));
  assert.match(inc.stderr, /txns 0x[0-9a-f]+\.\.0x[0-9a-f]+ are missing .*; the backup covers up to 0x[0-9a-f]+ only/);
  const out = JSON.parse(inc.stdout);
  assert.equal(BigInt(out.zxid.to), BigInt('0x' + later.logs[3].slice(4)) - 1n, 'covers up to the hole');
  const extra = JSON.parse(runCli(['inspect', out.id, '--repo', sRepo, '--json']).stdout).extra;
  assert.equal(extra.chain.parent, JSON.parse(full.stdout).id);
  assert.equal(extra.gaps.length, 1);
  const end = runCli(['restore', '--to-zxid', out.zxid.to, '--data-dir', join(work, 'scope-out'), '--repo', sRepo, '--json']);
  assert.equal(end.code, 0, end.stderr);
  assert.equal(JSON.parse(end.stdout).zxid, out.zxid.to);
});

test('bad inputs: a non-empty OUT, a zxid or time out of range, a dataDir that is not one: clear errors, nothing written', async () => {
  const occupied = join(work, 'occupied');
  mkdirSync(occupied, { recursive: true });
  writeFileSync(join(occupied, 'keep.txt'), 'precious');
  let r = runCli(['restore', 'latest', '--data-dir', occupied, '--repo', repo]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not empty/);
  assert.deepEqual(readdirSync(occupied), ['keep.txt']);
  r = runCli(['restore', '--to-zxid', '0xffffffffff', '--data-dir', join(work, 'never1'), '--repo', repo]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no physical backup covers zxid 0xffffffffff; the repository can restore: /);
  r = runCli(['restore', '--to-time', '1999-01-01T00:00:00Z', '--data-dir', join(work, 'never2'), '--repo', repo]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no physical backup covers time 1999-01-01/);
  r = runCli(['restore', '--to-time', '2026-01-01 10:00', '--data-dir', join(work, 'never3'), '--repo', repo]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no time zone/);
  const notData = join(work, 'not-a-datadir');
  mkdirSync(notData, { recursive: true });
  r = runCli(['backup', '--data-dir', notData, '--repo', join(work, 'never-repo')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not a ZooKeeper data directory/);
  assert.equal(existsSync(join(work, 'never-repo')), false);
  for (const d of ['never1', 'never2', 'never3']) assert.equal(existsSync(join(work, d)), false);
});

test('export ID@ZXID of a physical backup prints the checkpoint tree; restore ID@ZXID --zk rebuilds it in a live server', async () => {
  const list = JSON.parse(runCli(['list', '--repo', repo, '--json']).stdout) as Array<{ id: string; zxid: { from: string; to: string } }>;
  const last = list.at(-1)!;
  const cp = [...checkpoints].reverse().find((c) => c.zxid >= BigInt(last.zxid.from) && c.zxid <= BigInt(last.zxid.to))!;
  const r = runCli(['export', `${last.id}@${formatZxid(cp.zxid)}`, '--repo', repo]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.path),
    cp.tree.map((n) => n.path),
  );
  const byPath = new Map(cp.tree.map((n) => [n.path, n]));
  for (const l of lines) {
    const n = byPath.get(l.path)!;
    assert.equal(l.data, n.data === null ? null : Buffer.from(n.data).toString('base64'), l.path);
    assert.equal(l.stat.cversion, n.stat.cversion, `${l.path} cversion in client terms`);
    assert.equal(l.stat.mzxid, formatZxid(n.stat.mzxid));
  }
  const target = await startStandalone();
  const restore = runCli([
    'restore',
    `${last.id}@${formatZxid(cp.zxid)}`,
    '--zk',
    target.connectString,
    '--auth',
    WORKLOAD_AUTH[0],
    '--repo',
    repo,
    '--json',
  ]);
  assert.equal(restore.code, 0, restore.stderr);
  assert.doesNotMatch(restore.stderr, /restored as persistent/);
  // A physical source knows the types a client cannot see: the target's own files hold them as they were.
  const typed = lines.filter((l) => l.type === 'container' || l.type === 'ttl');
  assert.ok(typed.length > 0, 'the workload made container and TTL nodes');
  const served = new Map(
    runCli(['export', '--data-dir', target.dataDir])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .map((n) => [n.path, [n.type, n.stat.ephemeralOwner]]),
  );
  for (const l of typed) assert.deepEqual(served.get(l.path), [l.type, l.stat.ephemeralOwner], l.path);
  const s = await openSession({ connectString: target.connectString, auth: WORKLOAD_AUTH });
  const live = await readLiveTree(s, '/');
  await s.close();
  const persistentOnly = cp.tree.filter((n) => n.stat.ephemeralOwner === 0n);
  assert.deepEqual(
    live.map((n) => [n.path, n.data === null ? null : Buffer.from(n.data).toString('hex')]),
    persistentOnly.map((n) => [n.path, n.data === null ? null : Buffer.from(n.data).toString('hex')]),
  );
  await target.destroy();
});
