// The repository on the in-memory storage: commit protocol (sidecar last, nothing listed unless
// committed), listing and resolving, locks, and checksum verification of damaged backups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CancelledError, IntegrityError, InternalError, LockedError, NotFoundError, UsageError, UserError } from '../../src/errors.js';
import { openRepositoryOnStorage, type OpenRepositoryOptions, type StorageRepository } from '../../src/repository/repository.js';
import { backupIdTime, isBackupId, newBackupId } from '../../src/repository/ids.js';
import { RepositoryLock } from '../../src/repository/lock.js';
import type { BackupManifest, BackupWriter } from '../../src/repository/types.js';
import { listArchive } from '../../src/archive/tar-reader.js';
import { VERSION } from '../../src/version.js';
import { MemoryStorage } from '../support/memory-storage.js';
import { makeTempDir } from '../support/tmp.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Harness {
  storage: MemoryStorage;
  repo: StorageRepository;
  warnings: string[];
  tempDir: string;
  open(extra?: OpenRepositoryOptions): Promise<StorageRepository>;
}

async function harness(opts: OpenRepositoryOptions = {}, storage = new MemoryStorage()): Promise<Harness> {
  const tempDir = await makeTempDir('zkvault-repo-unit-');
  const warnings: string[] = [];
  const open = (extra: OpenRepositoryOptions = {}) =>
    openRepositoryOnStorage(storage, 'memory://test', { create: true, tempDir, warn: (m) => warnings.push(m), ...opts, ...extra });
  return { storage, repo: await open(), warnings, tempDir, open };
}

function commitInput(overrides: Partial<Parameters<BackupWriter['commit']>[0]> = {}): Parameters<BackupWriter['commit']>[0] {
  return {
    kind: 'logical',
    createdAt: new Date().toISOString(),
    source: { zk: '127.0.0.1:2181', path: '/', host: 'test-host' },
    zxid: { from: '0x100000001', to: '0x100000005' },
    consistent: false,
    changedDuringWalk: 2,
    partial: false,
    unreadable: [],
    counts: { nodes: 12, persistent: 9, ephemeral: 1, container: 1, ttl: 1, dataBytes: 300 },
    extra: { digest: '0xabc' },
    ...overrides,
  };
}

async function stage(writer: BackupWriter, name: string, data: Buffer): Promise<void> {
  const file = path.join(writer.stagingDir, ...name.split('/'));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, data);
}

/** A committed backup with the given members. */
async function backup(
  repo: StorageRepository,
  members: Record<string, Buffer>,
  overrides: Partial<Parameters<BackupWriter['commit']>[0]> = {},
): Promise<BackupManifest> {
  const writer = await repo.beginBackup(overrides.kind ?? 'logical');
  for (const [name, data] of Object.entries(members)) {
    await stage(writer, name, data);
    await writer.addMember(name, name.startsWith('log.') ? 'log' : 'snapshot', { zxid: '0x100000005' });
  }
  return writer.commit(commitInput(overrides));
}

/** A clock that advances one second per reading, so ids are distinct and ordered. */
function steppingClock(start = Date.parse('2024-05-01T12:00:00.000Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

test('a missing repository is NotFoundError (exit 10) with a hint to back up first', async () => {
  const storage = new MemoryStorage();
  await assert.rejects(openRepositoryOnStorage(storage, 's3://bucket/zk', {}), (err: unknown) => {
    assert.ok(err instanceof NotFoundError);
    assert.equal(err.exitCode, 10);
    assert.match(err.message, /no zkvault repository at memory:\/\/test/);
    assert.match(err.hint ?? '', /zkvault backup --repo s3:\/\/bucket\/zk/);
    return true;
  });
  // With create, opening writes nothing; the first backup writes the marker.
  const h = await harness({}, storage);
  assert.deepEqual(storage.keys(), []);
  assert.deepEqual(await h.repo.list(), []);
  await backup(h.repo, { 'snapshot.1': Buffer.from('x') });
  const marker = JSON.parse((await storage.getBuffer('zkvault-repository.json')).toString());
  assert.equal(marker.format, 'zkvault-repository');
  assert.equal(marker.version, 1);
  await openRepositoryOnStorage(storage, 'memory://test', {}); // now it exists for readers
});

test('a location holding other things is not turned into a repository', async () => {
  const storage = new MemoryStorage();
  await storage.put('photos/cat.jpg', Buffer.from('meow'));
  const h = await harness({}, storage);
  await assert.rejects(h.repo.beginBackup('logical'), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /not empty and is not a zkvault repository/);
    return true;
  });
  assert.deepEqual(storage.keys(), ['photos/cat.jpg']);
});

test('a marker from a newer zkvault is refused; a garbled marker is an integrity error', async () => {
  const storage = new MemoryStorage();
  await storage.put('zkvault-repository.json', Buffer.from(JSON.stringify({ format: 'zkvault-repository', version: 9 })));
  await assert.rejects(openRepositoryOnStorage(storage, 'memory://test', {}), UserError);
  await storage.put('zkvault-repository.json', Buffer.from('{not json'));
  await assert.rejects(openRepositoryOnStorage(storage, 'memory://test', {}), IntegrityError);
});

test('commit: archive (members, manifest.json last) then the sidecar; lock and staging gone', async () => {
  const h = await harness();
  const puts: string[] = [];
  h.storage.hooks.onPut = (key, phase) => {
    puts.push(`${phase} ${key}`);
  };
  const snap = randomBytes(200_000);
  const log = randomBytes(5000);
  const writer = await h.repo.beginBackup('logical');
  assert.ok(isBackupId(writer.id));
  assert.ok(h.storage.keys().includes('locks/backup.json'));
  await stage(writer, 'snapshot.100000005', snap);
  await stage(writer, 'logs/log.100000001', log);
  const member = await writer.addMember('snapshot.100000005', 'snapshot', { zxid: '0x100000005', meta: { digest: '0x1' } });
  assert.deepEqual(member, {
    name: 'snapshot.100000005',
    size: snap.length,
    sha256: sha(snap),
    role: 'snapshot',
    zxid: '0x100000005',
    meta: { digest: '0x1' },
  });
  await writer.addMember('logs/log.100000001', 'log');
  const stagingDir = writer.stagingDir;
  const m = await writer.commit(commitInput());

  assert.deepEqual(puts, [
    `start archives/${m.id}.tar`,
    `done archives/${m.id}.tar`,
    `start manifests/${m.id}.json`,
    `done manifests/${m.id}.json`,
  ]);
  assert.deepEqual(h.storage.keys(), [`archives/${m.id}.tar`, `manifests/${m.id}.json`, 'zkvault-repository.json']);
  await assert.rejects(stat(stagingDir), /ENOENT/);

  assert.equal(m.format, 'zkvault-backup');
  assert.equal(m.formatVersion, 2);
  assert.equal(m.archive?.sha256, undefined, 'format 2 records no whole-archive hash');
  assert.ok(
    m.members.every((x) => x.offset !== undefined),
    'format 2 records where every member lies',
  );
  assert.deepEqual(m.tool, { name: 'zkvault', version: VERSION });
  assert.equal(m.id, writer.id);
  assert.ok(Date.parse(m.completedAt) >= Date.parse(m.createdAt));
  assert.deepEqual(m.counts, commitInput().counts);
  const archive = await h.storage.getBuffer(`archives/${m.id}.tar`);
  assert.deepEqual(m.archive, { key: `archives/${m.id}.tar`, size: archive.length });
  for (const [mem, data] of [
    [m.members[0], snap],
    [m.members[1], log],
  ] as const) {
    assert.ok(archive.subarray(mem.offset, mem.offset! + mem.size).equals(data), `${mem.name} at its recorded offset`);
  }
  const listed = await listArchive(Readable.from([archive]), 'a.tar');
  assert.deepEqual(
    listed.entries.map((e) => e.name),
    ['snapshot.100000005', 'logs/log.100000001', 'manifest.json'],
  );
  const innerEntry = listed.entries[2];
  const inner = JSON.parse(archive.subarray(innerEntry.offset, innerEntry.offset + innerEntry.size).toString());
  const { archive: _omit, ...withoutArchive } = m;
  assert.deepEqual(inner, withoutArchive, 'the archive holds the same manifest, without its own archive field');
  assert.deepEqual(await h.repo.list(), [m]);
});

test('the sidecar is the commit point: until it is written the backup is not listed', async () => {
  const h = await harness();
  let listedDuringCommit: BackupManifest[] | undefined;
  h.storage.hooks.onPut = async (key, phase) => {
    if (key.startsWith('manifests/') && phase === 'start') listedDuringCommit = await h.repo.list();
  };
  await backup(h.repo, { 'snapshot.1': Buffer.from('data') });
  assert.deepEqual(listedDuringCommit, []);
  assert.equal((await h.repo.list()).length, 1);
});

test('an aborted writer leaves nothing listed, no archive, no lock, no staging dir', async () => {
  const h = await harness();
  const writer = await h.repo.beginBackup('logical');
  await stage(writer, 'snapshot.1', Buffer.from('abc'));
  await writer.addMember('snapshot.1', 'snapshot');
  await writer.abort();
  await writer.abort(); // idempotent
  assert.deepEqual(await h.repo.list(), []);
  assert.deepEqual(h.storage.keys(), [], 'the first backup failed: not even the marker it wrote is left');
  await assert.rejects(stat(writer.stagingDir), /ENOENT/);
  await assert.rejects(writer.commit(commitInput()), InternalError);
});

test('an aborted writer in a repository that already holds a backup keeps it, and its marker', async () => {
  const h = await harness();
  const first = await backup(h.repo, { 'snapshot.1': Buffer.from('data') });
  const writer = await h.repo.beginBackup('logical');
  await stage(writer, 'snapshot.2', Buffer.from('abc'));
  await writer.addMember('snapshot.2', 'snapshot');
  await writer.abort();
  assert.deepEqual(h.storage.keys(), [`archives/${first.id}.tar`, `manifests/${first.id}.json`, 'zkvault-repository.json']);
  assert.deepEqual(
    (await h.repo.list()).map((m) => m.id),
    [first.id],
  );
});

test('interrupted while the archive streams: CancelledError, nothing listed, everything cleaned up', async () => {
  const h = await harness();
  const controller = new AbortController();
  h.storage.hooks.onPut = (key, phase) => {
    if (key.startsWith('archives/') && phase === 'start') controller.abort();
  };
  const writer = await h.repo.beginBackup('logical', controller.signal);
  await stage(writer, 'snapshot.1', randomBytes(2_000_000));
  await writer.addMember('snapshot.1', 'snapshot');
  await assert.rejects(writer.commit(commitInput()), CancelledError);
  await writer.abort();
  assert.deepEqual(await h.repo.list(), []);
  assert.deepEqual(h.storage.keys(), [], 'the first backup failed: not even the marker it wrote is left');
  await assert.rejects(stat(writer.stagingDir), /ENOENT/);
});

test('interrupted after the archive is stored but before the sidecar: the archive is removed', async () => {
  const h = await harness();
  const controller = new AbortController();
  h.storage.hooks.onPut = (key, phase) => {
    if (key.startsWith('archives/') && phase === 'done') controller.abort();
  };
  const writer = await h.repo.beginBackup('logical', controller.signal);
  await stage(writer, 'snapshot.1', Buffer.from('abc'));
  await writer.addMember('snapshot.1', 'snapshot');
  await assert.rejects(writer.commit(commitInput()), CancelledError);
  assert.deepEqual(await h.repo.list(), []);
  assert.deepEqual(h.storage.keys(), [], 'the first backup failed: not even the marker it wrote is left');
});

test('a failing sidecar write unpublishes: nothing listed, no archive, the lock released', async () => {
  const h = await harness();
  h.storage.hooks.onPut = (key, phase) => {
    if (key.startsWith('manifests/') && phase === 'start') throw new Error('storage went away');
  };
  await assert.rejects(backup(h.repo, { 'snapshot.1': Buffer.from('abc') }), /storage went away/);
  h.storage.hooks.onPut = undefined;
  assert.deepEqual(await h.repo.list(), []);
  assert.deepEqual(h.storage.keys(), [], 'the first backup failed: not even the marker it wrote is left');
  await backup(h.repo, { 'snapshot.1': Buffer.from('abc') }); // the lock was released
});

test('a run that dies without abort is never listed; its lock is broken once its process is gone', async () => {
  const h = await harness({ host: 'node-a', pid: 4242, isProcessAlive: () => false });
  const dead = await h.repo.beginBackup('logical');
  await stage(dead, 'snapshot.1', Buffer.from('half'));
  await dead.addMember('snapshot.1', 'snapshot');
  // ... the process is killed here: no commit, no abort.
  assert.deepEqual(await h.repo.list(), []);
  const next = await h.open({ host: 'node-a', pid: 5151 });
  const m = await backup(next, { 'snapshot.2': Buffer.from('whole') });
  assert.ok(
    h.warnings.some((w) => /breaking the stale lock of backup .* on node-a \(pid 4242\).*process 4242 on node-a is gone/.test(w)),
    h.warnings.join('\n'),
  );
  assert.deepEqual(
    (await next.list()).map((x) => x.id),
    [m.id],
  );
});

test('list: oldest first, partial backups listed and marked', async () => {
  const h = await harness({ now: steppingClock() });
  const a = await backup(h.repo, { 'snapshot.1': Buffer.from('a') });
  const b = await backup(
    h.repo,
    { 'snapshot.2': Buffer.from('b') },
    { partial: true, unreadable: [{ path: '/secret', reason: 'NoAuth' }] },
  );
  const c = await backup(h.repo, { 'log.1': Buffer.from('c') }, { kind: 'physical' });
  const listed = await h.repo.list();
  assert.deepEqual(
    listed.map((x) => x.id),
    [a.id, b.id, c.id],
  );
  assert.ok(a.id < b.id && b.id < c.id);
  assert.deepEqual(
    listed.map((x) => x.partial),
    [false, true, false],
  );
  assert.deepEqual(
    listed.map((x) => x.kind),
    ['logical', 'logical', 'physical'],
  );
  assert.equal((await h.repo.resolve('latest')).id, c.id, 'a partial backup still counts; latest is the newest');
});

test('list: unreadable, foreign and future-format manifests are skipped with a warning', async () => {
  const h = await harness({ now: steppingClock() });
  const good = await backup(h.repo, { 'snapshot.1': Buffer.from('a') });
  const future = await backup(h.repo, { 'snapshot.1': Buffer.from('b') });
  const broken = await backup(h.repo, { 'snapshot.1': Buffer.from('c') });
  h.storage.mutate(`manifests/${future.id}.json`, (d) => Buffer.from(d.toString().replace('"formatVersion": 2', '"formatVersion": 3')));
  h.storage.mutate(`manifests/${broken.id}.json`, (d) => d.subarray(0, 40));
  await h.storage.put('manifests/notes.txt', Buffer.from('hello'));
  const listed = await h.repo.list();
  assert.deepEqual(
    listed.map((x) => x.id),
    [good.id],
  );
  assert.ok(
    h.warnings.some((w) => w.includes(future.id) && /newer zkvault/.test(w)),
    h.warnings.join('\n'),
  );
  assert.ok(
    h.warnings.some((w) => w.includes(broken.id) && /unreadable.*not valid JSON/.test(w)),
    h.warnings.join('\n'),
  );
  assert.ok(h.warnings.some((w) => w.includes('manifests/notes.txt')));
  // latest skips the unreadable newest ones; naming them directly says what is wrong.
  assert.equal((await h.repo.resolve('latest')).id, good.id);
  await assert.rejects(h.repo.resolve(broken.id), IntegrityError);
  await assert.rejects(h.repo.resolve(future.id), (err: unknown) => err instanceof UserError && /upgrade/.test(err.hint ?? ''));
});

test('resolve: latest, full id, unique prefix; ambiguous prefix is a usage error, unknown is not found', async () => {
  const h = await harness({ now: steppingClock(Date.parse('2024-05-01T12:00:00.000Z')) });
  await assert.rejects(h.repo.resolve('latest'), (err: unknown) => {
    assert.ok(err instanceof NotFoundError);
    assert.match(err.message, /has no backups/);
    assert.match(err.hint ?? '', /zkvault backup --repo memory:\/\/test/);
    return true;
  });
  const a = await backup(h.repo, { 'snapshot.1': Buffer.from('a') });
  const b = await backup(h.repo, { 'snapshot.1': Buffer.from('b') });
  assert.equal((await h.repo.resolve('latest')).id, b.id);
  assert.equal((await h.repo.resolve(a.id)).id, a.id);
  assert.equal((await h.repo.resolve(a.id.slice(0, 17))).id, a.id, 'a unique prefix');
  assert.equal((await h.repo.resolve(b.id.slice(0, 16))).id, b.id);
  await assert.rejects(h.repo.resolve('20240501'), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /matches 2 backups/);
    assert.ok(err.message.includes(a.id) && err.message.includes(b.id));
    return true;
  });
  for (const unknown of ['1999', '20240501T120000000Z-ffff']) {
    await assert.rejects(
      h.repo.resolve(unknown),
      (err: unknown) => err instanceof NotFoundError && err.exitCode === 10 && /zkvault list/.test(err.hint ?? ''),
    );
  }
  await assert.rejects(h.repo.resolve('../etc'), UsageError);
  await assert.rejects(h.repo.resolve(''), UsageError);
});

test('ids: UTC time to the millisecond plus 4 hex digits; they sort by time', () => {
  const t = new Date('2024-05-01T02:03:04.005Z');
  const id = newBackupId(t);
  assert.match(id, /^20240501T020304005Z-[0-9a-f]{4}$/);
  assert.ok(isBackupId(id));
  assert.equal(backupIdTime(id).toISOString(), t.toISOString());
  const ids = [0, 1, 999, 1000, 86_400_000].map((d) => newBackupId(new Date(t.getTime() + d)));
  assert.deepEqual([...ids].sort(), ids);
  assert.ok(new Set(Array.from({ length: 50 }, () => newBackupId(t))).size > 1, 'the suffix is random');
});

test('a held lock is LockedError (exit 11) naming host, pid and age, with the hint to remove it', async () => {
  const clock = { now: new Date('2024-05-01T12:00:00Z') };
  const h = await harness({ host: 'node-a', pid: 100, isProcessAlive: () => true, now: () => clock.now });
  const running = await h.repo.beginBackup('logical');
  clock.now = new Date('2024-05-01T13:25:00Z');
  const other = await h.open({ host: 'node-b', pid: 200 });
  await assert.rejects(other.beginBackup('logical'), (err: unknown) => {
    assert.ok(err instanceof LockedError);
    assert.equal(err.exitCode, 11);
    assert.match(err.message, new RegExp(`locked by backup ${running.id} on node-a \\(pid 100\\), started 1h25m ago`));
    assert.match(err.hint ?? '', /remove the lock file memory:\/\/test\/locks\/backup\.json/);
    return true;
  });
  // Same host, live process: still held.
  await assert.rejects((await h.open({ host: 'node-a', pid: 300 })).beginBackup('logical'), LockedError);
  await running.abort();
  const after = await other.beginBackup('logical');
  await after.abort();
});

test('a lock with no sign of life for the stale timeout is broken with a warning', async () => {
  const clock = { now: new Date('2024-05-01T00:00:00Z') };
  const h = await harness({ host: 'node-a', pid: 100, isProcessAlive: () => true, now: () => clock.now, staleLockMs: 6 * 3600_000 });
  const abandoned = await h.repo.beginBackup('logical');
  clock.now = new Date('2024-05-01T05:59:00Z');
  const other = await h.open({ host: 'node-b', pid: 7 });
  await assert.rejects(other.beginBackup('logical'), LockedError);
  clock.now = new Date('2024-05-01T06:01:00Z');
  const w = await other.beginBackup('logical');
  assert.ok(
    h.warnings.some((x) => x.includes(`backup ${abandoned.id} on node-a (pid 100)`) && /no sign of life for 6h01m/.test(x)),
    h.warnings.join('\n'),
  );
  const lock = JSON.parse((await h.storage.getBuffer('locks/backup.json')).toString());
  assert.deepEqual([lock.host, lock.pid, lock.id], ['node-b', 7, w.id]);
  // The abandoned writer, should it wake up, does not remove the lock it lost.
  await abandoned.abort();
  assert.ok(h.storage.keys().includes('locks/backup.json'));
  await w.abort();
  assert.ok(!h.storage.keys().includes('locks/backup.json'));
});

test('a dead pid on another host proves nothing; an unreadable lock is judged by its age', async () => {
  const clock = { now: new Date('2024-05-01T00:00:00Z') };
  const h = await harness({ host: 'node-a', pid: 1, isProcessAlive: () => false, now: () => clock.now });
  await h.storage.put(
    'zkvault-repository.json',
    Buffer.from(JSON.stringify({ format: 'zkvault-repository', version: 1, createdAt: clock.now.toISOString() })),
  );
  await h.storage.putIfAbsent(
    'locks/backup.json',
    Buffer.from(JSON.stringify({ host: 'node-z', pid: 9, id: 'x', startedAt: clock.now.toISOString() })),
  );
  await assert.rejects(h.repo.beginBackup('logical'), LockedError);
  await h.storage.put('locks/backup.json', Buffer.from('garbage'));
  h.storage.setModified('locks/backup.json', new Date('2024-04-30T23:00:00Z'));
  await assert.rejects(h.repo.beginBackup('logical'), /unreadable lock/);
  h.storage.setModified('locks/backup.json', new Date('2024-04-30T12:00:00Z'));
  const w = await h.repo.beginBackup('logical');
  assert.ok(
    h.warnings.some((x) => /unknown run.*unreadable and 12h00m old/.test(x)),
    h.warnings.join('\n'),
  );
  await w.abort();
});

test('a held lock refreshes its sign of life while it is ours', async () => {
  const clock = { now: new Date('2024-05-01T00:00:00Z') };
  const storage = new MemoryStorage();
  const warnings: string[] = [];
  const env = {
    storage,
    location: 'memory://test',
    staleMs: 60_000,
    now: () => clock.now,
    host: 'h',
    pid: 1,
    isProcessAlive: () => true,
    warn: (m: string) => warnings.push(m),
  };
  const lock = await RepositoryLock.acquire(env, 'locks/backup.json', 'id-1');
  clock.now = new Date('2024-05-01T00:00:40Z');
  await lock.refresh();
  assert.equal(JSON.parse((await storage.getBuffer('locks/backup.json')).toString()).refreshedAt, '2024-05-01T00:00:40.000Z');
  clock.now = new Date('2024-05-01T00:01:30Z'); // 90 s after start, 50 s after the refresh: not stale
  await assert.rejects(RepositoryLock.acquire({ ...env, host: 'other' }, 'locks/backup.json', 'id-2'), LockedError);
  await lock.release();
  assert.deepEqual(storage.keys(), []);
  assert.deepEqual(warnings, []);
});

test('open/extractMember: the member lands in a private temp dir, checked, removed on close', async () => {
  const h = await harness();
  const data = randomBytes(100_000);
  const m = await backup(h.repo, { 'snapshot.1': data, 'tree/part-1': Buffer.from('p1'), empty: Buffer.alloc(0) });
  const reader = await h.repo.open(m.id);
  assert.deepEqual(reader.manifest, m);
  const file = await reader.extractMember('snapshot.1');
  assert.ok((await readFile(file)).equals(data));
  assert.ok(file.startsWith(h.tempDir));
  assert.equal((await readFile(await reader.extractMember('tree/part-1'))).toString(), 'p1');
  assert.equal((await readFile(await reader.extractMember('empty'))).length, 0);
  await assert.rejects(reader.extractMember('nope'), NotFoundError);
  await reader.close();
  await assert.rejects(stat(file), /ENOENT/);
  assert.deepEqual(await readdir(h.tempDir), []);
  // `open` accepts what resolve accepts.
  assert.equal((await h.repo.open('latest')).manifest.id, m.id);
});

test('extractMember without recorded offsets (format 1 may lack them) scans the archive, with the same checks', async () => {
  const h = await harness();
  const data = randomBytes(50_000);
  const m = await backup(h.repo, { 'log.1': Buffer.from('first'), 'snapshot.1': data });
  const archiveSha = sha(await h.storage.getBuffer(`archives/${m.id}.tar`));
  h.storage.mutate(`manifests/${m.id}.json`, (d) => {
    const j = JSON.parse(d.toString());
    for (const mem of j.members) delete mem.offset;
    j.formatVersion = 1;
    j.archive.sha256 = archiveSha;
    return Buffer.from(JSON.stringify(j));
  });
  const reader = await h.repo.open(m.id);
  assert.ok((await readFile(await reader.extractMember('snapshot.1'))).equals(data));
  await reader.close();
  h.storage.mutate(`archives/${m.id}.tar`, (d) => {
    d[d.indexOf(data) + 10] ^= 1;
    return d;
  });
  const again = await h.repo.open(m.id);
  await assert.rejects(again.extractMember('snapshot.1'), /sha256 expected/);
  await again.close();
});

test('a corrupted archive byte: extractMember throws the exact integrity error, verifyChecksums names the member', async () => {
  const h = await harness();
  const data = randomBytes(100_000);
  const m = await backup(h.repo, { 'log.1': Buffer.from('log bytes'), 'snapshot.1': data });
  const clean = await h.repo.open(m.id);
  assert.deepEqual(await clean.verifyChecksums(), []);
  await clean.close();

  const snap = m.members.find((x) => x.name === 'snapshot.1')!;
  h.storage.mutate(`archives/${m.id}.tar`, (d) => {
    d[snap.offset! + 777] ^= 0xff;
    return d;
  });
  const damaged = Buffer.from(data);
  damaged[777] ^= 0xff;
  const reader = await h.repo.open(m.id);
  await assert.rejects(reader.extractMember('snapshot.1'), (err: unknown) => {
    assert.ok(err instanceof IntegrityError);
    assert.equal(err.exitCode, 4);
    assert.equal(err.message, `backup ${m.id}: member snapshot.1: sha256 expected ${snap.sha256}, got ${sha(damaged)}`);
    return true;
  });
  assert.deepEqual(
    await readdir(h.tempDir).then(async (dirs) => (dirs.length ? readdir(path.join(h.tempDir, dirs[0])) : [])),
    [],
    'no file left for the bad member',
  );
  assert.equal((await readFile(await reader.extractMember('log.1'))).toString(), 'log bytes');
  const problems = await reader.verifyChecksums();
  assert.deepEqual(
    problems.map((p) => [p.member, p.message]),
    [['snapshot.1', `sha256 expected ${snap.sha256}, got ${sha(damaged)}`]],
  );
  assert.equal(problems[0].offset, snap.offset);
  assert.ok(problems.every((p) => p.id === m.id));
  await reader.close();
});

test('verifyChecksums describes damage instead of throwing: truncated, missing, disagreeing manifests', async () => {
  const h = await harness({ now: steppingClock() });
  const mk = () => backup(h.repo, { 'snapshot.1': randomBytes(20_000), 'log.2': randomBytes(3000) });
  const problemsOf = async (id: string) => {
    const r = await h.repo.open(id);
    try {
      return (await r.verifyChecksums()).map((p) => `${p.member ?? '-'}: ${p.message}`);
    } finally {
      await r.close();
    }
  };

  const truncated = await mk();
  h.storage.mutate(`archives/${truncated.id}.tar`, (d) => d.subarray(0, 10_000));
  const t = await problemsOf(truncated.id);
  assert.ok(
    t.some((p) => /size expected \d+, got 10000/.test(p)),
    t.join('\n'),
  );
  assert.ok(
    t.some((p) => /archive ends inside member snapshot\.1 \(9488 of 20000 bytes\)/.test(p)),
    t.join('\n'),
  );
  assert.ok(t.includes('log.2: not checked: the archive is damaged before it'), t.join('\n'));

  const missing = await mk();
  await h.storage.remove(`archives/${missing.id}.tar`);
  assert.deepEqual(await problemsOf(missing.id), [`-: archive archives/${missing.id}.tar is missing`]);
  const r = await h.repo.open(missing.id);
  await assert.rejects(r.extractMember('snapshot.1'), (err: unknown) => err instanceof IntegrityError && /is missing/.test(err.message));
  await r.close();

  const disagree = await mk();
  h.storage.mutate(`manifests/${disagree.id}.json`, (d) => {
    const j = JSON.parse(d.toString());
    j.counts.nodes = 999;
    j.members.push({ name: 'snapshot.9', size: 1, sha256: 'a'.repeat(64), role: 'snapshot', offset: 0 });
    return Buffer.from(JSON.stringify(j));
  });
  assert.deepEqual(await problemsOf(disagree.id), [
    'snapshot.9: is missing from the archive',
    "-: the sidecar manifest and the archive's manifest.json disagree on: counts, members",
  ]);

  const clean = await mk();
  assert.deepEqual(await problemsOf(clean.id), []);
});

test('writer misuse is refused: reserved or bad names, duplicates, kind mismatch, missing files', async () => {
  const h = await harness();
  const w = await h.repo.beginBackup('logical');
  await stage(w, 'manifest.json', Buffer.from('{}'));
  await assert.rejects(w.addMember('manifest.json', 'x'), UsageError);
  await assert.rejects(w.addMember('../escape', 'x'), UsageError);
  await assert.rejects(w.addMember('not-staged', 'x'), /ENOENT/);
  await stage(w, 'a', Buffer.from('a'));
  await w.addMember('a', 'snapshot');
  await assert.rejects(w.addMember('a', 'snapshot'), InternalError);
  await assert.rejects(w.commit(commitInput({ kind: 'physical' })), InternalError);
  await w.abort();
  assert.deepEqual(await h.repo.list(), []);
});
