// Physical backups of synthetic dataDirs (a history built by test/support/history.ts, framed as a server
// frames it): what an incremental stores, byte for byte, when the server's logs overlap, end torn, or
// are preallocated. Real servers' files are covered by test/integration/physical-pitr.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Leader } from '../support/history.js';
import { makeTempDir } from '../support/tmp.js';
import { backupPhysical, type PhysicalExtra } from '../../src/services/physical-backup.js';
import { openRepository } from '../../src/repository/repository.js';
import { encodeTxn } from '../../src/formats/txn.js';
import { frameLogRecord, txnLogHeaderBytes } from '../../src/formats/txn-log.js';
import { formatZxid } from '../../src/core/zxid.js';
import { UsageError, UserError } from '../../src/errors.js';
import { chooseBackup, physicalTree } from '../../src/sources/physical.js';
import { verifyBackups } from '../../src/services/verify.js';

const PREALLOC = 64 * 1024;

/** The repository a backup writes to (created by the first one). */
const repoAt = (dir: string) => openRepository(dir, { create: true });

function writeLog(v2: string, f: { name: string; bytes: Buffer }, extra: Buffer = Buffer.alloc(0)): void {
  const path = join(v2, f.name);
  writeFileSync(path, Buffer.concat([f.bytes, extra]));
  // As a server leaves it: zero preallocation after the records.
  truncateSync(path, Math.ceil((f.bytes.length + extra.length + 1) / PREALLOC) * PREALLOC);
}

/** A dataDir holding a fresh history's first snapshot, and where its repository goes. */
async function dataDirWithSnapshot(
  populate: (L: Leader) => void = () => {},
): Promise<{ work: string; v2: string; repoDir: string; L: Leader }> {
  const work = await makeTempDir('zkvault-phys-unit-');
  const v2 = join(work, 'data', 'version-2');
  mkdirSync(v2, { recursive: true });
  const L = new Leader();
  L.createSession(0x1000n);
  populate(L);
  const snap = await L.snapshot();
  writeFileSync(join(v2, snap.name), snap.bytes);
  return { work, v2, repoDir: join(work, 'repo'), L };
}

test('an incremental stores each new txn once, in order, framed exactly as the server framed it, from overlapping and torn logs', async () => {
  const { work, v2, repoDir, L } = await dataDirWithSnapshot((L) => {
    for (let i = 0; i < 20; i++) L.create(`/n${i}`, Buffer.alloc(i * 40, i));
  });
  for (let i = 0; i < 20; i++) L.setData(`/n${i}`, Buffer.from(`v${i}`));
  writeLog(v2, L.log(1n, L.zxid));
  const full = await backupPhysical({ dataDir: join(work, 'data'), repo: await repoAt(repoDir) });
  const parentEnd = L.zxid;
  assert.equal(full.zxid.to, formatZxid(parentEnd));

  // More txns, in two logs that overlap (the second repeats the first's last 5 txns), the second
  // ending in a torn record after its last complete one.
  for (let i = 0; i < 30; i++) L.create(`/m${i}`, Buffer.alloc(700, i));
  const mid = L.zxid;
  for (let i = 0; i < 30; i++) L.delete(`/m${i}`);
  writeLog(v2, L.log(parentEnd + 1n, mid));
  const torn = frameLogRecord(encodeTxn(L.txns[0])).subarray(0, 20);
  writeLog(v2, L.log(mid - 4n, L.zxid), torn);
  const warnings: string[] = [];
  const inc = await backupPhysical({
    dataDir: join(work, 'data'),
    repo: await repoAt(repoDir),
    incremental: true,
    warn: (m) => warnings.push(m),
  });
  assert.equal(inc.zxid.to, formatZxid(L.zxid));
  assert.ok(
    warnings.some((w) => /^log\.[0-9a-f]+: .* at byte \d+; copied up to the last complete record$/.test(w)),
    warnings.join('\n'),
  );

  const repo = await openRepository(repoDir);
  const manifest = await repo.resolve(inc.id);
  const extra = manifest.extra as unknown as PhysicalExtra;
  assert.equal(extra.chain.parent, full.id);
  assert.deepEqual(
    extra.logs.map((l) => [l.firstZxid, l.lastZxid, l.txns]),
    [[formatZxid(parentEnd + 1n), formatZxid(L.zxid), Number(L.zxid - parentEnd)]],
  );
  const reader = await repo.open(inc.id);
  try {
    const log = manifest.members.find((m) => m.role === 'log')!;
    const stored = readFileSync(await reader.extractMember(log.name));
    const expected = Buffer.concat([
      txnLogHeaderBytes(),
      ...L.txns.filter((t) => t.header.zxid > parentEnd).map((t) => frameLogRecord(encodeTxn(t))),
    ]);
    assert.equal(stored.length, expected.length);
    assert.ok(stored.equals(expected), 'the incremental log holds exactly the new txns, each framed as the server framed it');
  } finally {
    await reader.close();
  }

  // Nothing new: unchanged, and nothing stored.
  const again = await backupPhysical({ dataDir: join(work, 'data'), repo: await repoAt(repoDir), incremental: true });
  assert.equal(again.unchanged, true);
  assert.equal((await repo.list()).length, 2);
});

test('an incremental over logs of another history (same zxids, other txns) starts a new chain and says why', async () => {
  const work = await makeTempDir('zkvault-phys-unit-');
  const repoDir = join(work, 'repo');
  const history = async (dir: string, seed: string) => {
    const v2 = join(work, dir, 'version-2');
    mkdirSync(v2, { recursive: true });
    const L = new Leader();
    L.createSession(0x1000n);
    const snap = await L.snapshot();
    writeFileSync(join(v2, snap.name), snap.bytes);
    for (let i = 0; i < 10; i++) L.create(`/${seed}${i}`);
    writeLog(v2, L.log(1n, L.zxid));
    return join(work, dir);
  };
  const first = await backupPhysical({ dataDir: await history('a', 'a'), repo: await repoAt(repoDir) });
  const warnings: string[] = [];
  const other = await backupPhysical({
    dataDir: await history('b', 'b'),
    repo: await repoAt(repoDir),
    incremental: true,
    warn: (m) => warnings.push(m),
  });
  assert.notEqual(other.id, first.id);
  assert.match(other.gap ?? '', new RegExp(`these logs hold a different txn 0xb than ${first.id} does: another history`));
  assert.match(warnings.join('\n'), /another history .*; taking a full backup, which starts a new chain/);
  const extra = (await (await openRepository(repoDir)).resolve(other.id)).extra as unknown as PhysicalExtra;
  assert.equal(extra.chain.parent, null);
});

test('an incremental does not continue across logs that start a new epoch past its first txn (a server that rejoined from a snapshot)', async () => {
  const { work, v2, repoDir, L } = await dataDirWithSnapshot();
  for (let i = 0; i < 10; i++) L.create(`/a${i}`);
  writeLog(v2, L.log(1n, L.zxid));
  const first = await backupPhysical({ dataDir: join(work, 'data'), repo: await repoAt(repoDir) });
  // Rejoined from the new leader's snapshot at 0x2000002bf: the logs go on from 0x2000002c0.
  L.zxid = (2n << 32n) + 0x2bfn;
  const rejoin = await L.snapshot();
  writeFileSync(join(v2, rejoin.name), rejoin.bytes);
  const from = L.zxid + 1n;
  for (let i = 0; i < 5; i++) L.create(`/b${i}`);
  writeLog(v2, L.log(from, L.zxid));
  const warnings: string[] = [];
  const next = await backupPhysical({
    dataDir: join(work, 'data'),
    repo: await repoAt(repoDir),
    incremental: true,
    warn: (m) => warnings.push(m),
  });
  assert.match(
    next.gap ?? '',
    new RegExp(`the logs continue 0xb \\(the end of ${first.id}\\) only at 0x2000002c0: txns 0x200000001\\.\\.0x2000002bf are missing`),
  );
  assert.match(warnings.join('\n'), /taking a full backup, which starts a new chain/);
  const extra = (await (await openRepository(repoDir)).resolve(next.id)).extra as unknown as PhysicalExtra;
  assert.equal(extra.chain.parent, null, 'a new chain, from the new snapshot');
  assert.equal(extra.snapshot!.zxid, '0x2000002bf');
  assert.equal(next.zxid.to, formatZxid(L.zxid));
});

test('a dataDir without its logs (kept in a dataLogDir) is named; a fuzzy snapshot without the logs that settle it is refused', async () => {
  const work = await makeTempDir('zkvault-phys-unit-');
  const data = join(work, 'data');
  const logDir = join(work, 'txlog');
  mkdirSync(join(data, 'version-2'), { recursive: true });
  mkdirSync(join(logDir, 'version-2'), { recursive: true });
  const L = new Leader();
  L.createSession(0x1000n);
  for (let i = 0; i < 10; i++) L.create(`/n${i}`);
  const fuzzy = await L.snapshot(L.zxid - 2n); // named 0x9, holding txns up to 0xb
  writeFileSync(join(data, 'version-2', fuzzy.name), fuzzy.bytes);
  writeLog(join(logDir, 'version-2'), L.log(1n, L.zxid));
  const warnings: string[] = [];
  await assert.rejects(
    backupPhysical({ dataDir: data, repo: await repoAt(join(work, 'repo')), warn: (m) => warnings.push(m) }),
    (e: unknown) =>
      e instanceof UserError &&
      /snapshot\.9 holds txns up to 0xb \(its digest's zxid\), but .* holds no transaction logs: no restorable state can be copied/.test(
        e.message,
      ) &&
      /--log-dir/.test(e.hint ?? ''),
  );
  assert.match(warnings.join('\n'), /holds no transaction logs; a server with dataLogDir set keeps them there: give it as --log-dir/);
  const ok = await backupPhysical({ dataDir: data, logDir, repo: await repoAt(join(work, 'repo')) });
  assert.deepEqual(ok.zxid, { from: '0xb', to: '0xb' });
});

test('--to-time is served from the txn where the restorable range starts: a time before the base snapshot is not covered', async () => {
  const { work, v2, repoDir, L } = await dataDirWithSnapshot((L) => {
    for (let i = 0; i < 19; i++) L.create(`/n${i}`);
  }); // snapshot 0x14
  const states = new Map<bigint, unknown>();
  for (let i = 0; i < 10; i++) {
    L.setData(`/n${i}`, Buffer.from(`v${i}`));
    states.set(L.zxid, L.tree.records());
  }
  writeLog(v2, L.log(1n, L.zxid)); // the log before the snapshot holds every txn
  const full = await backupPhysical({ dataDir: join(work, 'data'), repo: await repoAt(repoDir) });
  const repo = await openRepository(repoDir);
  const manifest = await repo.resolve(full.id);
  const timeOf = (z: bigint) => Number(L.txns.find((t) => t.header.zxid === z)!.header.time);
  assert.equal((manifest.extra as unknown as PhysicalExtra).fromTime, timeOf(0x14n));
  // A time inside the log but before the snapshot: no backup can restore it exactly.
  const iso = (z: bigint) => new Date(timeOf(z)).toISOString().replace(/\./g, '\\.');
  await assert.rejects(
    chooseBackup(repo, { time: timeOf(0x5n) }),
    (e: unknown) =>
      e instanceof UsageError &&
      new RegExp(`no physical backup covers time .*; the repository can restore: ${full.id}: ${iso(0x14n)}\\.\\.${iso(0x1en)}$`).test(
        e.message,
      ),
  );
  // A time after it: the last txn at or before it.
  const m = await chooseBackup(repo, { time: timeOf(0x18n) + 3 });
  const r = await physicalTree(repo, m, { time: timeOf(0x18n) + 3 });
  assert.equal(r.zxid, 0x18n);
  assert.deepEqual(r.tree.records(), states.get(0x18n));
});

test('a chain whose base lost its archive is reported by plain verify, and no incremental builds on it', async () => {
  const { work, v2, repoDir, L } = await dataDirWithSnapshot();
  for (let i = 0; i < 5; i++) L.create(`/a${i}`);
  writeLog(v2, L.log(1n, L.zxid));
  const full = await backupPhysical({ dataDir: join(work, 'data'), repo: await repoAt(repoDir) });
  const from = L.zxid + 1n;
  for (let i = 0; i < 5; i++) L.create(`/b${i}`);
  writeLog(v2, L.log(from, L.zxid));
  const inc = await backupPhysical({ dataDir: join(work, 'data'), repo: await repoAt(repoDir), incremental: true });
  rmSync(join(repoDir, 'archives', `${full.id}.tar`));
  const v = await verifyBackups({ repo: await repoAt(repoDir), refs: [inc.id] });
  assert.equal(v.ok, false);
  assert.match(
    v.backups[0].problems.join('\n'),
    new RegExp(`backup ${inc.id} builds on ${full.id}, and its archive archives/${full.id}\\.tar is missing: its chain is broken`),
  );
  const from2 = L.zxid + 1n;
  L.create('/c');
  writeLog(v2, L.log(from2, L.zxid));
  const warnings: string[] = [];
  const next = await backupPhysical({
    dataDir: join(work, 'data'),
    repo: await repoAt(repoDir),
    incremental: true,
    warn: (m) => warnings.push(m),
  });
  assert.match(warnings.join('\n'), /its chain is broken, so nothing can continue it; taking a full backup, which starts a new chain/);
  const extra = (await (await openRepository(repoDir)).resolve(next.id)).extra as unknown as PhysicalExtra;
  assert.equal(extra.chain.parent, null);
});

test('a snapshot without a digest: the full backup restores exactly only at its last txn, and its incrementals at every later one', async () => {
  const work = await makeTempDir('zkvault-phys-unit-');
  const v2 = join(work, 'data', 'version-2');
  mkdirSync(v2, { recursive: true });
  const repoDir = join(work, 'repo');
  const L = new Leader();
  L.withDigests = false;
  const states = new Map<bigint, unknown>();
  const step = (fn: () => void) => {
    fn();
    states.set(L.zxid, L.tree.records());
  };
  step(() => L.createSession(0x1000n));
  for (let i = 0; i < 10; i++) step(() => L.create(`/a${i}`));
  const snap = await L.snapshot(L.zxid - 3n); // named 0x8, already holding up to 0xb
  writeFileSync(join(v2, snap.name), snap.bytes.subarray(0, snap.bytes.length - 33)); // no digest section
  for (let i = 0; i < 4; i++) step(() => L.create(`/b${i}`));
  writeLog(v2, L.log(1n, L.zxid));
  const warnings: string[] = [];
  const full = await backupPhysical({ dataDir: join(work, 'data'), repo: await repoAt(repoDir), warn: (m) => warnings.push(m) });
  assert.deepEqual(full.zxid, { from: '0xf', to: '0xf' });
  assert.match(warnings.join('\n'), /snapshot\.8 has no digest .*restores exactly only at its last txn 0xf/);
  const from = L.zxid + 1n;
  for (let i = 0; i < 4; i++) step(() => L.create(`/c${i}`));
  writeLog(v2, L.log(from, L.zxid));
  const inc = await backupPhysical({ dataDir: join(work, 'data'), repo: await repoAt(repoDir), incremental: true });
  assert.deepEqual(inc.zxid, { from: '0xf', to: '0x13' });
  const repo = await openRepository(repoDir);
  const m = await repo.resolve(inc.id);
  for (const z of [0xfn, 0x11n, 0x13n]) {
    const r = await physicalTree(repo, m, { zxid: z });
    assert.deepEqual(r.tree.records(), states.get(z), `the tree at ${formatZxid(z)}`);
  }
});
