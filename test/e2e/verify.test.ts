// verify against damage to every kind of member, on backups of a real ZooKeeper: the sidecar
// manifest, the archive, the snapshot inside it, each log; flipped, truncated, deleted. And the
// case only --deep catches: content changed with every hash and both manifests rewritten to match.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync, truncateSync, rmSync, mkdirSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { openSession } from '../../src/zk/client.js';
import { ArchivePacker } from '../../src/archive/tar-writer.js';
import type { BackupManifest } from '../../src/repository/types.js';

requireZooKeeper();
after(stopAll);

let work = '';
let pristine = '';
let logical = '';
let physical = '';
let incremental = '';

before(async () => {
  work = await makeTempDir('zkvault-verify-');
  pristine = join(work, 'repo');
  const server = await startStandalone({ snapCount: 50, preAllocSizeKb: 64 });
  const s = await openSession({ connectString: server.connectString });
  const open = [{ perms: 31, scheme: 'world', id: 'anyone' }];
  await s.create('/app', Buffer.from('app'), open);
  for (let i = 0; i < 80; i++) await s.create(`/app/n${i}`, Buffer.from(`value ${i}`), open);
  const run = (args: string[]) => {
    const r = runCli([...args, '--repo', pristine, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).id as string;
  };
  logical = run(['backup', '--zk', server.connectString]);
  physical = run(['backup', '--data-dir', server.dataDir]);
  for (let i = 0; i < 30; i++) await s.setData(`/app/n${i}`, Buffer.from(`changed ${i}`));
  incremental = run(['backup', '--data-dir', server.dataDir, '--incremental']);
  await s.close();
  await server.destroy();
});

function copyRepo(name: string): string {
  const dir = join(work, name);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

function sidecar(repo: string, id: string): BackupManifest {
  return JSON.parse(readFileSync(join(repo, 'manifests', `${id}.json`), 'utf8'));
}

function verify(repo: string, args: string[]) {
  const r = runCli(['verify', ...args, '--repo', repo, '--json']);
  return { code: r.code, json: r.stdout ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

/** Plain and --deep verify of the same damage: --deep checks everything plain does, so both fail. */
function verifyBoth(repo: string, args: string[], label: string) {
  const plain = verify(repo, args);
  const deep = verify(repo, [...args, '--deep']);
  assert.equal(plain.code, 4, `${label}: plain verify: ${JSON.stringify(plain.json)} ${plain.stderr}`);
  assert.equal(deep.code, 4, `${label}: verify --deep agrees with plain verify: ${JSON.stringify(deep.json)} ${deep.stderr}`);
  return { plain, deep };
}

function problemsOf(res: { json: { backups: Array<{ id: string; problems: string[] }> } }, id: string): string {
  return res.json.backups
    .filter((b) => b.id === id)
    .flatMap((b) => b.problems)
    .join('\n');
}

test('the pristine repository verifies, shallow and deep', () => {
  const r = verify(pristine, ['--all', '--deep']);
  assert.equal(r.code, 0, JSON.stringify(r.json));
  assert.equal(r.json.ok, true);
  assert.deepEqual(r.json.backups.map((b: { id: string }) => b.id).sort(), [logical, physical, incremental].sort());
});

test('a flipped byte in each member is found by checksum and named (exit 4)', () => {
  const cases: Array<[string, string, (m: BackupManifest) => string]> = [
    ['logical snapshot', logical, (m) => m.members.find((x) => x.role === 'snapshot')!.name],
    ['physical snapshot', physical, (m) => m.members.find((x) => x.role === 'snapshot')!.name],
    ['physical log', physical, (m) => m.members.filter((x) => x.role === 'log').at(-1)!.name],
    ['incremental log', incremental, (m) => m.members.find((x) => x.role === 'log')!.name],
  ];
  for (const [label, id, pick] of cases) {
    const repo = copyRepo(`flip-${label.replace(/ /g, '-')}`);
    const m = sidecar(repo, id);
    const member = m.members.find((x) => x.name === pick(m))!;
    const file = join(repo, 'archives', `${id}.tar`);
    const buf = readFileSync(file);
    buf[member.offset! + Math.floor(member.size / 2)] ^= 0x20;
    writeFileSync(file, buf);
    const { plain: r, deep } = verifyBoth(repo, [id], label);
    assert.match(problemsOf(deep, id), new RegExp(`member ${member.name.replace('.', '\\.')}`), label);
    assert.match(problemsOf(r, id), new RegExp(`member ${member.name.replace('.', '\\.')}: .*sha256`), label);
    // restore refuses it
    const restore = runCli(['restore', id, '--data-dir', join(work, `never-${label.replace(/ /g, '-')}`), '--repo', repo]);
    assert.equal(restore.code, 4, `${label}: restore refuses a damaged backup: ${restore.stderr}`);
  }
});

test('a truncated or deleted archive is found and named', () => {
  const t = copyRepo('trunc-archive');
  const file = join(t, 'archives', `${physical}.tar`);
  truncateSync(file, Math.floor(readFileSync(file).length / 3));
  let r = verifyBoth(t, [physical], 'truncated archive').plain;
  assert.match(problemsOf(r, physical), new RegExp(`archives/${physical}\\.tar`));
  // ... and the incremental built on it cannot restore either
  verifyBoth(t, [incremental], 'incremental on a truncated archive');
  const d = copyRepo('del-archive');
  rmSync(join(d, 'archives', `${logical}.tar`));
  r = verifyBoth(d, [logical], 'deleted archive').plain;
  assert.match(problemsOf(r, logical), /missing|not found|does not exist/i);
});

test("bytes appended to a full backup's archive: plain and deep verify of it and of its incremental agree (exit 4)", () => {
  const repo = copyRepo('appended');
  const file = join(repo, 'archives', `${physical}.tar`);
  writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(512, 7)]));
  const full = verifyBoth(repo, [physical], 'appended: the full backup');
  assert.match(problemsOf(full.plain, physical), new RegExp(`archives/${physical}\\.tar`));
  assert.match(problemsOf(full.deep, physical), new RegExp(`archives/${physical}\\.tar`));
  const inc = verifyBoth(repo, [incremental], 'appended: its incremental');
  assert.match(problemsOf(inc.plain, incremental), /chain is broken/);
  assert.match(problemsOf(inc.deep, incremental), /chain is broken/);
});

test('a damaged or deleted sidecar manifest is found by verify --all', () => {
  const f = copyRepo('flip-manifest');
  const key = join(f, 'manifests', `${logical}.json`);
  const text = readFileSync(key, 'utf8');
  writeFileSync(key, text.replace('"logical"', '"logicaX"'));
  let r = verifyBoth(f, ['--all'], 'damaged manifest').plain;
  assert.match(problemsOf(r, logical), new RegExp(`manifests/${logical}\\.json`));
  const t = copyRepo('trunc-manifest');
  truncateSync(join(t, 'manifests', `${logical}.json`), 40);
  r = verifyBoth(t, [logical], 'truncated manifest').plain;
  assert.match(JSON.stringify(r.json), new RegExp(`manifests/${logical}\\.json`));
  const d = copyRepo('del-manifest');
  rmSync(join(d, 'manifests', `${physical}.json`));
  r = verifyBoth(d, ['--all'], 'deleted manifest').plain;
  assert.match(problemsOf(r, physical), /has no manifest/);
  // and the incremental that depends on it can no longer restore: --deep says its chain is broken
  r = verify(d, [incremental, '--deep']);
  assert.equal(r.code, 4);
  assert.match(problemsOf(r, incremental), new RegExp(`continues ${physical}, which is missing`));
});

test('--deep catches changed content whose hashes and manifests were all rewritten to match', async () => {
  const repo = copyRepo('rewritten');
  const id = logical;
  const m = sidecar(repo, id);
  const snap = m.members.find((x) => x.role === 'snapshot')!;
  const archive = readFileSync(join(repo, 'archives', `${id}.tar`));
  const bytes = Buffer.from(archive.subarray(snap.offset, snap.offset! + snap.size));
  const at = bytes.indexOf(Buffer.from('value 42'));
  assert.ok(at > 0);
  bytes.write('VALUE 42', at); // same length: only the content (and so the seal) disagrees
  const staging = join(work, 'rewrite-staging');
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, snap.name), bytes);
  const sha = createHash('sha256').update(bytes).digest('hex');
  let inner: BackupManifest | undefined;
  const packer = new ArchivePacker([{ name: snap.name, path: join(staging, snap.name) }], (entries) => {
    const { archive: _a, ...rest } = m;
    inner = { ...rest, members: m.members.map((x) => (x.name === snap.name ? { ...x, sha256: sha, offset: entries[0].offset } : x)) };
    return Buffer.from(JSON.stringify(inner, null, 2) + '\n');
  });
  const chunks: Buffer[] = [];
  for await (const c of packer.stream()) chunks.push(c as Buffer);
  const newArchive = Buffer.concat(chunks);
  writeFileSync(join(repo, 'archives', `${id}.tar`), newArchive);
  const sum = packer.summary;
  writeFileSync(
    join(repo, 'manifests', `${id}.json`),
    JSON.stringify({ ...inner!, archive: { key: `archives/${id}.tar`, size: sum.size } }, null, 2) + '\n',
  );
  const shallow = verify(repo, [id]);
  assert.equal(shallow.code, 0, `every hash matches now: ${JSON.stringify(shallow.json)}`);
  const deep = verify(repo, [id, '--deep']);
  assert.equal(deep.code, 4);
  assert.match(problemsOf(deep, id), new RegExp(`member ${snap.name.replace('.', '\\.')}: .*(seal checksum mismatch|digest)`));
  // An offline restore streams the snapshot into the new dataDir: the seal that fails stops it first,
  // and nothing is written.
  const target = join(work, 'rewritten-offline');
  const offline = runCli(['restore', id, '--repo', repo, '--data-dir', target]);
  assert.equal(offline.code, 4, offline.stderr);
  assert.match(offline.stderr, /seal checksum mismatch/);
  assert.ok(!existsSync(target) || readdirSync(target).length === 0, 'nothing written');
});

test('verify with no id checks every backup, and says how many it checked', () => {
  const r = verify(pristine, []);
  assert.equal(r.code, 0, JSON.stringify(r.json));
  assert.deepEqual(r.json.backups.map((b: { id: string }) => b.id).sort(), [logical, physical, incremental].sort());
  const text = runCli(['verify', '--repo', pristine]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /3 backup\(s\) verified/);
  // one damaged backup among them is found without naming it
  const repo = copyRepo('default-all');
  const file = join(repo, 'archives', `${logical}.tar`);
  truncateSync(file, Math.floor(readFileSync(file).length / 2));
  const damaged = verify(repo, []);
  assert.equal(damaged.code, 4);
  assert.match(problemsOf(damaged, logical), new RegExp(`archives/${logical}\\.tar`));
});
