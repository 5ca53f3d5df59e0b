// A repository written by zkvault's repository format version 1 (plain), kept as a fixture: every
// later zkvault must list, verify, export and restore it exactly, and back up into it without changing
// its format (so older zkvaults keep reading it). The fixture holds a logical backup of a small tree
// and a physical backup taken after /app was changed and /app/c0 deleted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { REPO_ROOT, runCli } from '../support/cli.js';
import { openSession } from '../../src/zk/client.js';
import { readLiveTree } from '../../src/zk/live-tree.js';

requireZooKeeper();
after(stopAll);

const FIXTURE = join(REPO_ROOT, 'test/fixtures/repo-format-1');
const LOGICAL = '20261206T105140196Z-b030';
const PHYSICAL = '20261206T105140772Z-d49f';

function json(args: string[]): unknown {
  const r = runCli([...args, '--json']);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function exported(repo: string, id: string): Map<string, string | null> {
  const r = runCli(['export', id, '--repo', repo]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { path: string; data: string | null });
  return new Map(lines.map((l) => [l.path, l.data === null ? null : Buffer.from(l.data, 'base64').toString('latin1')]));
}

test('a format 1 repository lists, verifies deeply, exports and restores as when it was written', async () => {
  const repo = join(await makeTempDir('zkvault-fixture-'), 'repo');
  cpSync(FIXTURE, repo, { recursive: true });
  const listed = json(['list', '--repo', repo]) as Array<{ id: string; kind: string; nodes: number; zxid: { from: string; to: string } }>;
  assert.deepEqual(
    listed.map((b) => [b.id, b.kind, b.nodes, b.zxid.to]),
    [
      [LOGICAL, 'logical', 24, '0x1a'],
      [PHYSICAL, 'physical', 23, '0x1f'],
    ],
  );
  assert.deepEqual(json(['verify', '--deep', '--repo', repo]), {
    ok: true,
    backups: [
      { id: LOGICAL, ok: true, problems: [] },
      { id: PHYSICAL, ok: true, problems: [] },
    ],
  });

  const said = runCli(['verify', '--repo', repo]);
  assert.equal(said.code, 0, said.stderr);
  assert.match(
    said.stdout,
    /2 backup\(s\) verified\nrepository format 1 \(plain\): every member's sha256 against the manifests, and the archive's sha256 \(backups of manifest format 1\)/,
  );
  // The fixture's manifests are format 1, with the whole archive's sha256: still checked.
  const fixtureManifest = JSON.parse(readFileSync(join(repo, 'manifests', `${PHYSICAL}.json`), 'utf8')) as {
    formatVersion: number;
    archive: { sha256?: string };
  };
  assert.equal(fixtureManifest.formatVersion, 1);
  assert.match(fixtureManifest.archive.sha256 ?? '', /^[0-9a-f]{64}$/);

  const before = exported(repo, LOGICAL);
  assert.equal(before.get('/app'), 'format v1 fixture');
  assert.equal(before.get('/app/bin'), '\x00\x01\x02\xfe\xff');
  assert.equal(before.get('/app/null'), null);
  assert.equal([...before.keys()].filter((p) => p.startsWith('/app/c')).length, 20);
  const afterwards = exported(repo, PHYSICAL);
  assert.equal(afterwards.get('/app'), 'changed after the logical backup');
  assert.equal(afterwards.has('/app/c0'), false);
  assert.equal(afterwards.has('/app/c19'), true);

  // An offline restore of the physical backup: a real server serves exactly the exported tree.
  const dataDir = join(repo, '..', 'restored');
  json(['restore', PHYSICAL, '--data-dir', dataDir, '--repo', repo]);
  const server = await startStandalone({ dataDir });
  const s = await openSession({ connectString: server.connectString });
  try {
    const live = await readLiveTree(s, '/app');
    assert.deepEqual(
      live.map((n) => [n.path, n.data === null ? null : Buffer.from(n.data).toString('latin1')]),
      [...afterwards.entries()].filter(([p]) => p === '/app' || p.startsWith('/app/')),
    );
  } finally {
    await s.close();
  }

  // A new backup into it: listed beside the old ones, and the repository stays format 1. The new
  // backup's manifest is format 2 (no whole-archive hash; docs/verify.md), and both kinds verify.
  const added = json(['backup', '--zk', server.connectString, '--path', '/app', '--repo', repo]) as { id: string };
  assert.deepEqual(
    (json(['list', '--repo', repo]) as Array<{ id: string }>).map((b) => b.id),
    [LOGICAL, PHYSICAL, added.id],
  );
  assert.equal(JSON.parse(readFileSync(join(repo, 'zkvault-repository.json'), 'utf8')).version, 1);
  const addedManifest = JSON.parse(readFileSync(join(repo, 'manifests', `${added.id}.json`), 'utf8')) as {
    formatVersion: number;
    archive: { sha256?: string };
  };
  assert.equal(addedManifest.formatVersion, 2);
  assert.equal(addedManifest.archive.sha256, undefined);
  const mixed = runCli(['verify', '--repo', repo]);
  assert.equal(mixed.code, 0, mixed.stderr);
  assert.match(mixed.stdout, /3 backup\(s\) verified/);
});
