// prune on a real repository (in-memory and on disk): the plan is applied newest first and sidecar
// before archive, under the backup lock; leftovers (archives without a manifest, unfinished uploads)
// go after the grace; a dry run changes nothing; an interrupted prune never leaves a listed backup
// without its archive or its chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CancelledError, LockedError } from '../../src/errors.js';
import { openRepositoryOnStorage, type StorageRepository } from '../../src/repository/repository.js';
import type { BackupManifest } from '../../src/repository/types.js';
import { LocalStorage } from '../../src/storage/local.js';
import type { Storage } from '../../src/storage/storage.js';
import { pruneRepository } from '../../src/services/prune.js';
import { MemoryStorage } from '../support/memory-storage.js';
import { makeTempDir } from '../support/tmp.js';
import { policy } from '../support/retention-policy.js';

const HOUR = 3_600_000;

/** Records every remove, in order, and can fail or pause at a chosen one. */
class RecordingStorage extends MemoryStorage {
  removed: string[] = [];
  onRemove?: (key: string) => void | Promise<void>;
  override async remove(key: string): Promise<void> {
    await this.onRemove?.(key);
    this.removed.push(key);
    await super.remove(key);
  }
}

interface Harness {
  repo: StorageRepository;
  clock: { t: number };
  warnings: string[];
}

async function harness(storage: Storage, location = 'memory://test'): Promise<Harness> {
  const tempDir = await makeTempDir('zkvault-prune-unit-');
  const clock = { t: Date.parse('2026-11-20T00:00:00Z') };
  const warnings: string[] = [];
  const repo = await openRepositoryOnStorage(storage, location, {
    create: true,
    tempDir,
    now: () => new Date(clock.t),
    warn: (m) => warnings.push(m),
  });
  return { repo, clock, warnings };
}

/** Commits a small backup at the harness clock, then moves the clock on an hour. */
async function backupAt(
  h: Harness,
  o: { kind?: 'logical' | 'physical'; parent?: BackupManifest; partial?: boolean } = {},
): Promise<BackupManifest> {
  const kind = o.kind ?? 'logical';
  const writer = await h.repo.beginBackup(kind);
  await writeFile(path.join(writer.stagingDir, 'snapshot.1'), Buffer.from(`data of ${writer.id}`));
  await writer.addMember('snapshot.1', 'snapshot', { zxid: '0x1' });
  const parentChain = o.parent?.extra?.chain as { base: string; depth: number } | undefined;
  const m = await writer.commit({
    kind,
    createdAt: new Date(h.clock.t).toISOString(),
    source: kind === 'logical' ? { zk: '127.0.0.1:2181', path: '/' } : { dataDir: '/data' },
    zxid: { from: '0x1', to: '0x1' },
    partial: o.partial ?? false,
    unreadable: [],
    counts: { nodes: 1, persistent: 1, ephemeral: 0, container: 0, ttl: 0, dataBytes: 1 },
    ...(kind === 'physical'
      ? {
          extra: {
            chain: o.parent
              ? { base: parentChain!.base, parent: o.parent.id, depth: parentChain!.depth + 1 }
              : { base: writer.id, parent: null, depth: 0 },
          },
        }
      : {}),
  });
  h.clock.t += HOUR;
  return m;
}

test('prune removes what the policy removes, sidecar before archive, newest first; keeps chains', async () => {
  const storage = new RecordingStorage();
  const h = await harness(storage);
  const l1 = await backupAt(h);
  const full = await backupAt(h, { kind: 'physical' });
  const inc1 = await backupAt(h, { kind: 'physical', parent: full });
  const l2 = await backupAt(h);
  const inc2 = await backupAt(h, { kind: 'physical', parent: inc1 });
  const l3 = await backupAt(h);
  const full2 = await backupAt(h, { kind: 'physical' });
  const l4 = await backupAt(h);

  storage.removed = [];
  const r = await pruneRepository(h.repo, { policy: policy({ last: 2 }), now: () => new Date(h.clock.t) });
  // logical: l3, l4 stay; physical: full2 and inc2 stay, and inc2 keeps inc1 and full.
  assert.deepEqual(
    r.keep.map((d) => d.id),
    [full.id, inc1.id, inc2.id, l3.id, full2.id, l4.id],
  );
  assert.deepEqual(r.keep.find((d) => d.id === full.id)!.reasons, [`base of kept incremental ${inc2.id}`]);
  assert.deepEqual(
    r.remove.map((d) => d.id),
    [l1.id, l2.id],
  );
  assert.equal(r.removed, 2);
  assert.equal(r.dryRun, false);
  // Newest first, and for each backup its sidecar before its archive.
  assert.deepEqual(
    storage.removed.filter((k) => !k.startsWith('locks/')),
    [`manifests/${l2.id}.json`, `archives/${l2.id}.tar`, `manifests/${l1.id}.json`, `archives/${l1.id}.tar`],
  );
  assert.deepEqual(
    (await h.repo.list()).map((m) => m.id),
    [full.id, inc1.id, inc2.id, l3.id, full2.id, l4.id],
  );
  assert.ok(r.bytesFreed > 0);
  assert.equal(await storage.stat('locks/backup.json'), null, 'the lock is released');
});

test('removing a whole chain goes incrementals first, so an interrupted prune never breaks a listed chain', async () => {
  const storage = new RecordingStorage();
  const h = await harness(storage);
  const full = await backupAt(h, { kind: 'physical' });
  const inc1 = await backupAt(h, { kind: 'physical', parent: full });
  const inc2 = await backupAt(h, { kind: 'physical', parent: inc1 });
  const full2 = await backupAt(h, { kind: 'physical' });
  // Interrupted (SIGTERM) once inc2 is gone: inc1 and its base are still listed, chain whole.
  const controller = new AbortController();
  storage.onRemove = (key) => {
    if (key === `archives/${inc2.id}.tar`) controller.abort();
  };
  await assert.rejects(pruneRepository(h.repo, { policy: policy({ last: 1 }), signal: controller.signal }), CancelledError);
  assert.deepEqual(
    (await h.repo.list()).map((m) => m.id),
    [full.id, inc1.id, full2.id],
    'inc2 went first; inc1 still has its parent',
  );
  assert.equal(await storage.stat('locks/backup.json'), null, 'the lock is released after an interruption');

  // A failure between a sidecar and its archive (the storage gives out) leaves a leftover, never a
  // listed backup without its archive.
  storage.onRemove = (key) => {
    if (key === `archives/${inc1.id}.tar`) throw new Error('storage gave out');
  };
  await assert.rejects(pruneRepository(h.repo, { policy: policy({ last: 1 }) }), /storage gave out/);
  const listed = await h.repo.list();
  assert.deepEqual(
    listed.map((m) => m.id),
    [full.id, full2.id],
  );
  for (const m of listed) assert.ok(await storage.stat(`archives/${m.id}.tar`), `${m.id} still has its archive`);
  assert.ok(await storage.stat(`archives/${inc1.id}.tar`), 'the archive without its sidecar is a leftover');

  // The next prune finishes the job, leftover included.
  storage.onRemove = undefined;
  const r = await pruneRepository(h.repo, { policy: policy({ last: 1 }), orphanGraceMs: 0 });
  assert.deepEqual(
    r.remove.map((d) => d.id),
    [full.id],
  );
  assert.deepEqual(
    r.orphans.map((o) => [o.key, o.remove]),
    [[`archives/${inc1.id}.tar`, true]],
  );
  assert.equal(r.orphansRemoved, 1);
  assert.deepEqual(
    storage.keys().filter((k) => k.startsWith('archives/') || k.startsWith('manifests/')),
    [`archives/${full2.id}.tar`, `manifests/${full2.id}.json`],
  );
});

test('prune refuses while a backup holds the lock (exit 11); a dry run needs no lock and changes nothing', async () => {
  const storage = new MemoryStorage();
  const h = await harness(storage);
  await backupAt(h);
  await backupAt(h);
  const inFlight = await h.repo.beginBackup('logical');
  await assert.rejects(pruneRepository(h.repo, { policy: policy({ last: 1 }) }), (err: unknown) => {
    assert.ok(err instanceof LockedError);
    assert.equal(err.exitCode, 11);
    assert.match(err.message, new RegExp(`locked by backup ${inFlight.id}`));
    return true;
  });
  const before = storage.keys();
  const dry = await pruneRepository(h.repo, { policy: policy({ last: 1 }), dryRun: true });
  assert.equal(dry.dryRun, true);
  assert.equal(dry.remove.length, 1);
  assert.equal(dry.removed, 0);
  assert.ok(dry.bytesFreed > 0, 'a dry run says what it would free');
  assert.deepEqual(storage.keys(), before);
  await inFlight.abort();
});

test('leftovers: an archive without a sidecar goes after the grace; one that gets its sidecar meanwhile stays', async () => {
  const storage = new MemoryStorage();
  const h = await harness(storage);
  const kept = await backupAt(h);
  const orphanId = '20261119T000000000Z-dead';
  await storage.put(`archives/${orphanId}.tar`, Buffer.alloc(1000));
  storage.setModified(`archives/${orphanId}.tar`, new Date(h.clock.t - 3 * HOUR));
  const youngId = '20261120T090000000Z-beef';
  await storage.put(`archives/${youngId}.tar`, Buffer.alloc(10));
  storage.setModified(`archives/${youngId}.tar`, new Date(h.clock.t - 60_000));
  await storage.put('archives/notes.txt', Buffer.from('mine'));
  const r = await pruneRepository(h.repo, { policy: policy({ last: 5 }), now: () => new Date(h.clock.t) });
  assert.deepEqual(
    r.orphans.map((o) => [o.key, o.remove]),
    [
      [`archives/${orphanId}.tar`, true],
      [`archives/${youngId}.tar`, false],
    ],
  );
  assert.equal(r.orphansRemoved, 1);
  assert.equal(r.bytesFreed, 1000);
  assert.ok(
    r.warnings.some((w) => w.includes('archives/notes.txt')),
    'a stranger is reported and left alone',
  );
  assert.deepEqual(
    storage.keys().filter((k) => k.startsWith('archives/')),
    [`archives/${kept.id}.tar`, `archives/${youngId}.tar`, 'archives/notes.txt'],
  );
  // A sidecar that appears between the plan and the removal keeps its archive.
  assert.equal(await h.repo.removeLeftover({ key: `archives/${kept.id}.tar`, kind: 'archive' }), false);
  assert.ok(await storage.stat(`archives/${kept.id}.tar`));
});

test('an unreadable sidecar still owns its archive: neither is touched', async () => {
  const storage = new MemoryStorage();
  const h = await harness(storage);
  const a = await backupAt(h);
  const b = await backupAt(h);
  storage.mutate(`manifests/${a.id}.json`, () => Buffer.from('{ not json'));
  const r = await pruneRepository(h.repo, { policy: policy({ last: 1 }), orphanGraceMs: 0 });
  assert.deepEqual(
    r.keep.map((d) => d.id),
    [b.id],
  );
  assert.deepEqual(r.orphans, []);
  assert.ok(r.warnings.some((w) => w.includes(`manifests/${a.id}.json cannot be read`)));
  assert.ok(await storage.stat(`archives/${a.id}.tar`));
  assert.ok(await storage.stat(`manifests/${a.id}.json`));
});

test('on disk: unfinished uploads of a killed run (dot-named temp files) are found and removed after the grace', async () => {
  const dir = await makeTempDir('zkvault-prune-local-');
  const storage = new LocalStorage(dir);
  const h = await harness(storage, dir);
  const kept = await backupAt(h);
  const stale = path.join(dir, 'archives', `.20261119T000000000Z-0abc.tar.0123456789ab.tmp`);
  const fresh = path.join(dir, 'manifests', `.20261120T000000000Z-0abd.json.ba9876543210.tmp`);
  const notOurs = path.join(dir, 'archives', '.DS_Store');
  await mkdir(path.dirname(stale), { recursive: true });
  await writeFile(stale, Buffer.alloc(500));
  await writeFile(fresh, Buffer.alloc(5));
  await writeFile(notOurs, 'x');
  const old = new Date(Date.now() - 2 * HOUR);
  await utimes(stale, old, old);
  const r = await pruneRepository(h.repo, { policy: policy({ last: 1 }) });
  assert.deepEqual(
    r.orphans.map((o) => [o.key, o.kind, o.remove]),
    [
      ['archives/.20261119T000000000Z-0abc.tar.0123456789ab.tmp', 'temporary', true],
      ['manifests/.20261120T000000000Z-0abd.json.ba9876543210.tmp', 'temporary', false],
    ],
  );
  assert.equal(r.orphansRemoved, 1);
  assert.deepEqual((await readdir(path.join(dir, 'archives'))).sort(), ['.DS_Store', `${kept.id}.tar`]);
  assert.deepEqual((await readdir(path.join(dir, 'manifests'))).sort(), [
    '.20261120T000000000Z-0abd.json.ba9876543210.tmp',
    `${kept.id}.json`,
  ]);
});
