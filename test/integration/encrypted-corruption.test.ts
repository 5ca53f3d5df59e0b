// An encrypted repository (small chunks, so that archives hold many) with a logical and a physical
// backup of a real server, then over 500 single mutations of its raw files: a flipped byte anywhere
// (archives, manifests, history records, the marker), a truncation, two chunks swapped, archives or
// manifests swapped between the backups, the encryption header removed or replaced, a wrong password.
// For every one, export and an offline restore of the damaged backup and a diff of the two backups must
// fail with a zkvault error (never succeed, never crash), and the restore's target must stay empty.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { openSession } from '../../src/zk/client.js';
import { openRepository, type StorageRepository } from '../../src/repository/repository.js';
import { backupLogical } from '../../src/services/backup.js';
import { backupPhysical } from '../../src/services/physical-backup.js';
import { exportBackup } from '../../src/services/export.js';
import { restore } from '../../src/services/restore.js';
import { diffSources } from '../../src/services/diff.js';
import { ZkvaultError } from '../../src/errors.js';
import { HEADER_BYTES } from '../../src/storage/encrypted.js';

requireZooKeeper();
after(stopAll);

const PASSWORD = 'corruption test passphrase';
const CHUNK = 4096;
const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];

let server: ZkServer;
let work = '';
let pristine = '';
let logicalId = '';
let physicalId = '';

/** A small deterministic generator, so that a failure names a mutation that can be replayed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** The repository in `dir`, opened with `password` (null: with none). */
async function open(dir: string, password: string | null): Promise<StorageRepository> {
  return openRepository(dir, { encryption: password === null ? {} : { password: () => password, passwordFrom: 'the test' } });
}

before(async () => {
  work = await makeTempDir('zkvault-corrupt-');
  server = await startStandalone({ snapCount: 50 });
  const s = await openSession({ connectString: server.connectString });
  try {
    await s.create('/svc', Buffer.from('service root'), OPEN);
    for (let i = 0; i < 30; i++) await s.create(`/svc/n${i}`, Buffer.from(`node ${i} `.repeat(200)), OPEN);
  } finally {
    await s.close();
  }
  pristine = join(work, 'pristine');
  const repo = await openRepository(pristine, { create: true, encryption: { encrypt: true, password: () => PASSWORD, chunkBytes: CHUNK } });
  logicalId = (await backupLogical({ zk: server.connectString, repo })).id;
  const s2 = await openSession({ connectString: server.connectString });
  try {
    for (let i = 0; i < 10; i++) await s2.setData(`/svc/n${i}`, Buffer.from(`changed ${i}`));
  } finally {
    await s2.close();
  }
  physicalId = (await backupPhysical({ dataDir: server.dataDir, repo })).id;
});

/**
 * Export, offline restore and diff, on the repository in `dir` opened once: what each did (null: it
 * succeeded). When opening fails, that failure is what each of them meets.
 */
async function attempt(dir: string, id: string, password: string | null = PASSWORD): Promise<Array<{ op: string; error: unknown }>> {
  const out: Array<{ op: string; error: unknown }> = [];
  let repo: StorageRepository | null = null;
  let refused: unknown = null;
  try {
    repo = await open(dir, password);
  } catch (error) {
    refused = error;
  }
  const run = async (op: string, fn: (repo: StorageRepository) => Promise<unknown>) => {
    if (!repo) return void out.push({ op, error: refused });
    try {
      await fn(repo);
      out.push({ op, error: null });
    } catch (error) {
      out.push({ op, error });
    }
  };
  await run('export', async (r) => {
    const result = await exportBackup({ ref: id, repo: r });
    try {
      let n = 0;
      for (const _ of result.records) n++;
      return n;
    } finally {
      await result.close();
    }
  });
  const target = join(dir + '-restored');
  await run('restore', (r) => restore({ repo: r, ref: id, target: { kind: 'dataDir', dir: target } }));
  const wrote = existsSync(target)
    ? readdirSync(target, { recursive: true }).filter((n) => statSync(join(target, String(n))).isFile())
    : [];
  if (out[out.length - 1].error !== null) assert.deepEqual(wrote, [], `a failed restore wrote ${wrote.join(', ')}`);
  rmSync(target, { recursive: true, force: true });
  await run('diff', (r) => diffSources({ a: logicalId, b: physicalId, repo: () => Promise.resolve(r) }));
  return out;
}

test('the pristine encrypted repository exports, restores and diffs (so the checks below can pass)', async () => {
  const dir = join(work, 'check');
  cpSync(pristine, dir, { recursive: true });
  for (const id of [logicalId, physicalId]) {
    for (const r of await attempt(dir, id)) assert.equal(r.error, null, `${r.op} ${id}: ${String(r.error)}`);
  }
});

type Mutation = { name: string; id: string; apply: (dir: string) => void; password?: string | null };

function mutations(): Mutation[] {
  const rand = prng(20261206);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const filesOf = (id: string) => [`archives/${id}.tar`, `manifests/${id}.json`];
  const history = existsSync(join(pristine, 'history')) ? readdirSync(join(pristine, 'history')).map((n) => `history/${n}`) : [];
  const out: Mutation[] = [];
  const flip = (file: string, id: string) => {
    const size = statSync(join(pristine, file)).size;
    const at = Math.floor(rand() * size);
    const bit = 1 << Math.floor(rand() * 8);
    out.push({
      name: `flip bit ${bit} of byte ${at} of ${file}`,
      id,
      apply: (dir) => {
        const b = readFileSync(join(dir, file));
        b[at] ^= bit;
        writeFileSync(join(dir, file), b);
      },
    });
  };
  for (let i = 0; i < 320; i++) {
    const id = pick([logicalId, physicalId]);
    flip(pick(filesOf(id)), id);
  }
  // The marker and the history records concern every backup.
  for (let i = 0; i < 60; i++) flip('zkvault-repository.json', pick([logicalId, physicalId]));
  for (let i = 0; i < 20 && history.length > 0; i++) flip(pick(history), physicalId);
  for (let i = 0; i < 90; i++) {
    const id = pick([logicalId, physicalId]);
    const file = pick(filesOf(id));
    const size = statSync(join(pristine, file)).size;
    // Chunk boundaries first: a truncation there leaves only whole, authentic chunks.
    const len = i % 3 === 0 ? HEADER_BYTES + Math.floor((rand() * size) / (CHUNK + 16)) * (CHUNK + 16) : Math.floor(rand() * size);
    out.push({ name: `truncate ${file} to ${len} bytes`, id, apply: (dir) => truncateSync(join(dir, file), Math.min(len, size - 1)) });
  }
  for (let i = 0; i < 20; i++) {
    const id = pick([logicalId, physicalId]);
    const file = `archives/${id}.tar`;
    const chunks = Math.floor((statSync(join(pristine, file)).size - HEADER_BYTES) / (CHUNK + 16));
    const a = Math.floor(rand() * chunks);
    const b = (a + 1 + Math.floor(rand() * (chunks - 1))) % chunks;
    out.push({
      name: `swap chunks ${a} and ${b} of ${file}`,
      id,
      apply: (dir) => {
        const buf = readFileSync(join(dir, file));
        const at = (k: number) => HEADER_BYTES + k * (CHUNK + 16);
        const ca = Buffer.from(buf.subarray(at(a), at(a) + CHUNK + 16));
        buf.copy(buf, at(a), at(b), at(b) + CHUNK + 16);
        ca.copy(buf, at(b));
        writeFileSync(join(dir, file), buf);
      },
    });
  }
  const swap = (prefix: string, ext: string) => (dir: string) => {
    const a = join(dir, `${prefix}/${logicalId}.${ext}`);
    const b = join(dir, `${prefix}/${physicalId}.${ext}`);
    renameSync(a, a + '.x');
    renameSync(b, a);
    renameSync(a + '.x', b);
  };
  for (const id of [logicalId, physicalId]) {
    out.push({ name: 'swap the two archives', id, apply: swap('archives', 'tar') });
    out.push({ name: 'swap the two manifests', id, apply: swap('manifests', 'json') });
    out.push({
      name: 'copy one archive over the other',
      id,
      apply: (dir) => cpSync(join(dir, `archives/${id === logicalId ? physicalId : logicalId}.tar`), join(dir, `archives/${id}.tar`)),
    });
    const stripped = (dir: string) => {
      const m = JSON.parse(readFileSync(join(dir, 'zkvault-repository.json'), 'utf8'));
      writeFileSync(join(dir, 'zkvault-repository.json'), JSON.stringify({ format: m.format, version: 1, createdAt: m.createdAt }));
    };
    out.push({ name: 'remove the encryption header (password given)', id, apply: stripped });
    out.push({ name: 'remove the encryption header (no password)', id, apply: stripped, password: null });
    out.push({
      name: "replace the header with another repository's (same password)",
      id,
      apply: (dir) => cpSync(join(work, 'other', 'zkvault-repository.json'), join(dir, 'zkvault-repository.json')),
    });
    out.push({ name: 'wrong password', id, apply: () => {}, password: 'not the password' });
    out.push({ name: 'no password', id, apply: () => {}, password: null });
  }
  return out;
}

test('over 500 single mutations of an encrypted repository, no export, restore or diff succeeds, and no restore writes', async (t) => {
  const other = await openRepository(join(work, 'other'), {
    create: true,
    encryption: { encrypt: true, password: () => PASSWORD, chunkBytes: CHUNK },
  });
  await other.initialize();
  const all = mutations();
  assert.ok(all.length >= 500, `${all.length} mutations`);
  const codes = new Map<number, number>();
  for (const [i, m] of all.entries()) {
    const dir = join(work, `m${i}`);
    cpSync(pristine, dir, { recursive: true });
    m.apply(dir);
    const results = await attempt(dir, m.id, m.password === undefined ? PASSWORD : m.password).catch((err: Error) => {
      throw new Error(`mutation ${i} (${m.name}): ${err.message}`);
    });
    for (const r of results) {
      assert.notEqual(r.error, null, `mutation ${i} (${m.name}): ${r.op} of ${m.id} succeeded`);
      assert.ok(r.error instanceof ZkvaultError, `mutation ${i} (${m.name}): ${r.op} crashed: ${(r.error as Error)?.stack}`);
      codes.set(r.error.exitCode, (codes.get(r.error.exitCode) ?? 0) + 1);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(`exit codes over ${all.length} mutations × 3 operations: ${JSON.stringify(Object.fromEntries(codes))}`);
  // Damage is an integrity failure (4), a password problem 12; nothing else but the odd flip that turns
  // the marker's version into a newer one (1) or a manifest's id into another (10).
  for (const code of codes.keys()) assert.ok([1, 4, 10, 12].includes(code), `exit code ${code}`);
});
