// Physical backups across a leader change, against real 3-member ensembles. A server that logged a
// proposal and died before a quorum had it keeps that txn in its log; the others go on in a new epoch
// without it, and the server rejoins by truncating its log (TRUNC, when the new epoch has committed
// nothing yet) or from the new leader's snapshot (SNAP). Backups of that server taken before, during
// and after its outage must never bring the dropped txn back, at any zxid or time, and must go on
// serving every point of the new epoch exactly as the live tree was at it.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEnsemble, stopAll, requireZooKeeper, serverMode, type ZkEnsemble, type ZkServer } from '../support/zk-harness.js';
import { captureCheckpoint, type Checkpoint } from '../support/workload.js';
import { appendDroppedTxn, type DroppedTxn } from '../support/dropped-txn.js';
import { makeTempDir } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { assertSameTree } from '../support/compare.js';
import { openSession, serverZxid } from '../../src/zk/client.js';
import { formatZxid, makeZxid, zxidEpoch } from '../../src/core/zxid.js';
import { exportBackup } from '../../src/services/export.js';
import { exportDataDir } from '../../src/services/export.js';
import { UsageError } from '../../src/errors.js';
import { openRepository } from '../../src/repository/repository.js';

requireZooKeeper();
after(stopAll);

const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const DROPPED_PATH = '/app/never-committed';

async function leaderOf(servers: ZkServer[]): Promise<ZkServer> {
  for (let i = 0; i < 300; i++) {
    for (const s of servers) if ((await serverMode(s.clientPort)) === 'leader') return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no member became leader');
}

async function waitForZxid(server: ZkServer, zxid: bigint): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await serverZxid(server.connectString).catch(() => -1n)) >= zxid) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`member ${server.id} never reached ${formatZxid(zxid)}`);
}

/** Some writes under /app/<label> through one member, then the tree read back as a checkpoint. */
async function writeAndCapture(connect: string, label: string, n: number): Promise<Checkpoint> {
  const s = await openSession({ connectString: connect });
  try {
    await s.create(`/app/${label}`, Buffer.from(label), OPEN);
    for (let i = 0; i < n; i++) await s.create(`/app/${label}/n${i}`, Buffer.from(`${label} ${i}`), OPEN);
    await s.setData(`/app/${label}`, Buffer.from(`${label} done`));
  } finally {
    await s.close();
  }
  return captureCheckpoint(connect, label, []);
}

interface Outcome {
  ensemble: ZkEnsemble;
  victim: ZkServer;
  repo: string;
  dropped: DroppedTxn | null;
  /** Checkpoints in the old epoch, then in the new one. */
  old: Checkpoint[];
  fresh: Checkpoint[];
  backups: { before: string; during: string; after: string; later: string };
  /** What ZooKeeper logged when the victim rejoined. */
  rejoinedBy: 'TRUNC' | 'SNAP' | 'DIFF' | 'unknown';
}

function backup(victim: ZkServer, repo: string, incremental: boolean): { id: string; json: Record<string, unknown>; stderr: string } {
  const r = runCli(['backup', '--data-dir', victim.dataDir, '--repo', repo, '--json', ...(incremental ? ['--incremental'] : [])]);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as Record<string, unknown>;
  return { id: json.id as string, json, stderr: r.stderr };
}

/**
 * Runs one outage on a fresh ensemble: `victim` is the leader or a follower; with `drop`, one txn the
 * others never saw is appended to its log while it is down; `order` says whether the new epoch
 * commits before the victim rejoins (SNAP) or not (TRUNC).
 */
async function outage(opts: {
  victim: 'leader' | 'follower';
  drop: boolean;
  order: 'snap' | 'trunc';
  forceSnap?: boolean;
}): Promise<Outcome> {
  const work = await makeTempDir('zkvault-leader-change-');
  const repo = join(work, 'repo');
  // forceSnap: a leader that syncs every member with a snapshot (as it does any member too far behind
  // for its committed log): a plain SNAP rejoin.
  const extraJvmArgs = opts.forceSnap ? ['-Dzookeeper.forceSnapshotSync=true'] : [];
  const ensemble = await startEnsemble(3, { snapCount: 40, preAllocSizeKb: 64, extraJvmArgs });
  const leader = await leaderOf(ensemble.servers);
  const victim = opts.victim === 'leader' ? leader : ensemble.servers.find((s) => s !== leader)!;
  const others = ensemble.servers.filter((s) => s !== victim);
  const old: Checkpoint[] = [];
  {
    const s = await openSession({ connectString: leader.connectString });
    await s.create('/app', null, OPEN);
    await s.close();
  }
  old.push(await writeAndCapture(leader.connectString, 'e1-a', 60));
  await waitForZxid(victim, old[0].zxid + 1n); // and the checkpoint session's close
  const before = backup(victim, repo, false).id;
  old.push(await writeAndCapture(leader.connectString, 'e1-b', 10));
  await waitForZxid(victim, old[1].zxid + 1n);
  for (const s of ensemble.servers) await waitForZxid(s, old[1].zxid + 1n);

  await victim.stop();
  const dropped = opts.drop ? appendDroppedTxn(victim, DROPPED_PATH) : null;
  if (opts.victim === 'follower') {
    // The leader restarts: the two running members start a new epoch without the victim.
    await leader.stop();
    await leader.start();
  }
  const newLeader = await leaderOf(others);
  const during = backup(victim, repo, true).id;

  const fresh: Checkpoint[] = [];
  const logBefore = readFileSync(victim.logFile, 'utf8').length;
  if (opts.order === 'snap') fresh.push(await writeAndCapture(newLeader.connectString, 'e2-a', 30));
  await victim.start();
  const joinLog = readFileSync(victim.logFile, 'utf8').slice(logBefore);
  const rejoinedBy = /Truncating log to get in sync/.test(joinLog)
    ? 'TRUNC'
    : /Getting a snapshot from leader/.test(joinLog)
      ? 'SNAP'
      : /Getting a diff from the leader/.test(joinLog)
        ? 'DIFF'
        : 'unknown';
  if (opts.order === 'trunc') fresh.push(await writeAndCapture(newLeader.connectString, 'e2-a', 30));
  fresh.push(await writeAndCapture(newLeader.connectString, 'e2-b', 10));
  await waitForZxid(victim, fresh[fresh.length - 1].zxid + 1n);
  const afterId = backup(victim, repo, true).id;
  fresh.push(await writeAndCapture(newLeader.connectString, 'e2-c', 10));
  await waitForZxid(victim, fresh[fresh.length - 1].zxid + 1n);
  const later = backup(victim, repo, true).id;
  return { ensemble, victim, repo, dropped, old, fresh, backups: { before, during, after: afterId, later }, rejoinedBy };
}

interface Listed {
  id: string;
  zxid: { from: string; to: string };
  chain: { base: string; parent: string | null; depth: number } | null;
}

function list(repo: string): Listed[] {
  const r = runCli(['list', '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Listed[];
}

/** Every check the issue asks of a repository holding backups from across the outage. */
async function assertNeverRestoresDropped(o: Outcome): Promise<void> {
  const d = o.dropped!;
  const listed = list(o.repo);
  // No backup claims to restore the dropped zxid (a range ending in its epoch ends before it), and
  // asking for it is refused by name.
  for (const b of listed) {
    if (zxidEpoch(BigInt(b.zxid.to)) === zxidEpoch(d.zxid))
      assert.ok(
        BigInt(b.zxid.to) < d.zxid,
        `backup ${b.id} lists ${b.zxid.from}..${b.zxid.to}, which holds the dropped ${formatZxid(d.zxid)}`,
      );
  }
  const byZxid = runCli(['restore', '--to-zxid', formatZxid(d.zxid), '--data-dir', join(o.repo, '..', 'at-dropped'), '--repo', o.repo]);
  assert.equal(byZxid.code, 2, byZxid.stderr);
  assert.match(byZxid.stderr, new RegExp(`${formatZxid(d.zxid)}.*(dropped|unconfirmed)`, 's'));
  assert.match(byZxid.stderr, /last confirmed/);
  const byTime = runCli([
    'restore',
    '--to-time',
    new Date(d.time).toISOString(),
    '--data-dir',
    join(o.repo, '..', 'at-dropped-time'),
    '--repo',
    o.repo,
  ]);
  assert.notEqual(byTime.code, 0, 'a time inside the dropped txns is not restored');
  for (const b of listed) {
    const atId = runCli(['export', `${b.id}@${formatZxid(d.zxid)}`, '--repo', o.repo]);
    assert.notEqual(atId.code, 0, `export ${b.id}@dropped`);
    assert.doesNotMatch(atId.stdout, /never-committed/);
  }
  // Every zxid each backup lists, from its start to its end, and its default: never the dropped node.
  for (const b of listed) {
    const from = BigInt(b.zxid.from);
    const to = BigInt(b.zxid.to);
    const points: Array<bigint | undefined> = [undefined];
    // Within the first epoch up to just past the dropped txn; within the last, from its first txn.
    const firstEnd = zxidEpoch(from) === zxidEpoch(to) ? to : d.zxid + 2n;
    for (let z = from; z <= firstEnd; z++) points.push(z);
    if (zxidEpoch(to) !== zxidEpoch(from)) for (let z = makeZxid(zxidEpoch(to), 1n); z <= to; z++) points.push(z);
    for (const z of points) {
      const ref = z === undefined ? b.id : `${b.id}@${formatZxid(z)}`;
      let records;
      try {
        records = [...(await exportBackup({ ref, repo: await openRepository(o.repo) })).records];
      } catch (err) {
        // A zxid between two epochs that no txn has is not a point; anything else must export.
        if (err instanceof UsageError && z !== undefined && zxidEpoch(z) !== zxidEpoch(to)) continue;
        throw err;
      }
      assert.ok(!records.some((r) => r.path === DROPPED_PATH), `export ${ref} holds the dropped node`);
    }
  }
  for (const args of [
    ['export', 'latest'],
    ['diff', 'latest', `zk://${o.ensemble.connectString}`],
  ]) {
    const r = runCli([...args, '--repo', o.repo]);
    assert.doesNotMatch(r.stdout, /never-committed/, `${args.join(' ')}`);
  }
  // Every checkpoint of the new epoch restores exactly as the live tree was.
  for (const cp of o.fresh) {
    const r = runCli([
      'restore',
      '--to-zxid',
      formatZxid(cp.zxid),
      '--data-dir',
      join(o.repo, '..', `cp-${cp.label}`),
      '--repo',
      o.repo,
      '--json',
    ]);
    if (r.code === 2 && /no physical backup covers/.test(r.stderr)) continue; // before the new chain's base
    assert.equal(r.code, 0, r.stderr);
    const b = JSON.parse(r.stdout) as { backup: { id: string } };
    const { records } = await exportBackup({ ref: `${b.backup.id}@${formatZxid(cp.zxid)}`, repo: await openRepository(o.repo) });
    assertSameTree([...records], cp.tree, `checkpoint ${cp.label}`, { clientView: true });
  }
  const latestCp = o.fresh[o.fresh.length - 1];
  const latest = await exportBackup({ ref: 'latest', repo: await openRepository(o.repo) });
  assert.ok(latest.zxid >= latestCp.zxid, `latest restores ${formatZxid(latest.zxid)}`);
  // verify --deep names the dropped txn.
  const verify = runCli(['verify', '--all', '--deep', '--repo', o.repo, '--json']);
  const report = JSON.parse(verify.stdout) as {
    ok: boolean;
    backups: Array<{ id: string; ok: boolean; problems: string[]; warnings?: string[] }>;
  };
  const during = report.backups.find((b) => b.id === o.backups.during)!;
  assert.match([...during.problems, ...(during.warnings ?? [])].join('\n'), new RegExp(formatZxid(d.zxid)), verify.stdout);
  // The server's own files: export --data-dir at the dropped zxid is refused, and its default lacks it.
  assert.throws(
    () => exportDataDir({ dataDir: o.victim.dataDir, toZxid: d.zxid }),
    (e: unknown) => e instanceof UsageError,
  );
  assert.ok(!exportDataDir({ dataDir: o.victim.dataDir }).records.some((r) => r.path === DROPPED_PATH));
}

describe("a dropped txn in the leader's log, SNAP rejoin", () => {
  let o: Outcome;
  before(async () => {
    o = await outage({ victim: 'leader', drop: true, order: 'snap' });
  });
  after(() => o?.ensemble.destroy());
  test('the old leader rejoined from a snapshot', () => assert.equal(o.rejoinedBy, 'SNAP'));
  test('no restore, export or diff brings the dropped txn back; the new epoch restores exactly', () => assertNeverRestoresDropped(o));
});

describe("a dropped txn in the leader's log, TRUNC rejoin", () => {
  let o: Outcome;
  before(async () => {
    o = await outage({ victim: 'leader', drop: true, order: 'trunc' });
  });
  after(() => o?.ensemble.destroy());
  test('the old leader truncated its log', () => assert.equal(o.rejoinedBy, 'TRUNC'));
  test('no restore, export or diff brings the dropped txn back; the new epoch restores exactly', () => assertNeverRestoresDropped(o));
});

describe("a dropped txn in a follower's log, SNAP rejoin", () => {
  let o: Outcome;
  before(async () => {
    o = await outage({ victim: 'follower', drop: true, order: 'snap' });
  });
  after(() => o?.ensemble.destroy());
  test('the follower rejoined from a snapshot', () => assert.equal(o.rejoinedBy, 'SNAP'));
  test('no restore, export or diff brings the dropped txn back; the new epoch restores exactly', () => assertNeverRestoresDropped(o));
});

describe("a dropped txn in a follower's log, TRUNC rejoin", () => {
  let o: Outcome;
  before(async () => {
    o = await outage({ victim: 'follower', drop: true, order: 'trunc' });
  });
  after(() => o?.ensemble.destroy());
  test('the follower truncated its log', () => assert.equal(o.rejoinedBy, 'TRUNC'));
  test('no restore, export or diff brings the dropped txn back; the new epoch restores exactly', () => assertNeverRestoresDropped(o));
});

describe('a plain SNAP rejoin, nothing dropped', () => {
  let o: Outcome;
  before(async () => {
    o = await outage({ victim: 'leader', drop: false, order: 'snap', forceSnap: true });
  });
  after(() => o?.ensemble.destroy());
  test('the next incremental starts a new chain, and restore latest equals the live tree at its zxid', async () => {
    assert.equal(o.rejoinedBy, 'SNAP');
    const listed = list(o.repo);
    const after = listed.find((b) => b.id === o.backups.after)!;
    assert.equal(after.chain?.parent, null, 'a new chain after the rejoin');
    assert.equal(zxidEpoch(BigInt(after.zxid.from)), zxidEpoch(o.fresh[0].zxid), 'from the snapshot the leader sent');
    const later = listed.find((b) => b.id === o.backups.later)!;
    assert.equal(later.chain?.parent, o.backups.after, 'and incrementals continue it');
    const cp = o.fresh[o.fresh.length - 1];
    const latest = await exportBackup({ ref: 'latest', repo: await openRepository(o.repo) });
    // latest ends at the checkpoint session's close, one txn after the checkpoint.
    assert.equal(latest.zxid, cp.zxid + 1n);
    const at = await exportBackup({ ref: `latest@${formatZxid(cp.zxid)}`, repo: await openRepository(o.repo) });
    assertSameTree([...at.records], cp.tree, 'latest at the last checkpoint', { clientView: true });
  });
});
