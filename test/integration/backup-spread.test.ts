// A logical backup read over several sessions spread across a real 3-member ensemble: while a writer
// changes the tree, its recorded zxid window holds every zxid it read, and what it holds equals the
// tree at the window's end (replayed from a member's own files) for every node nobody wrote inside
// the window. A member killed mid-backup costs retries, never nodes: the backup finishes on the
// others (or fails with exit 13); it never silently lacks a node. And the progress line: drawn
// under a pseudo-terminal and cleared at the end, absent when stderr is not a terminal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startEnsemble, stopAll, requireZooKeeper, type ZkEnsemble } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { BIN, runCli } from '../support/cli.js';
import { openSession, type ZkSession } from '../../src/zk/client.js';
import { parseZxid } from '../../src/core/zxid.js';

requireZooKeeper();
after(stopAll);

const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const NODES = 4000;
let ensemble: ZkEnsemble;
let work = '';

interface Line {
  path: string;
  data: string | null;
  acl: unknown;
  stat: { czxid: string; mzxid: string; pzxid: string };
}

before(async () => {
  work = await makeTempDir('zkvault-spread-');
  ensemble = await startEnsemble(3);
  const s = await openSession({ connectString: ensemble.connectString });
  for (let p = 0; p < 4; p++) {
    await s.create(`/p${p}`, null, OPEN);
    const ops = Array.from({ length: NODES / 4 }, (_, i) => ({
      type: 'create' as const,
      path: `/p${p}/n${i}`,
      data: Buffer.from(`v0-${i}`),
      acl: OPEN,
    }));
    await s.multi(ops);
  }
  await s.close();
});

function json<T>(args: string[]): T {
  const r = runCli([...args, '--json']);
  assert.equal(r.code, 0, `zkvault ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

function exportLines(args: string[]): Map<string, Line> {
  const r = runCli(['export', ...args]);
  assert.equal(r.code, 0, r.stderr);
  const out = new Map<string, Line>();
  for (const l of r.stdout.trim().split('\n')) {
    const line = JSON.parse(l) as Line;
    out.set(line.path, line);
  }
  return out;
}

function runAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Changes the tree until stopped: data of existing nodes, new nodes, deletions. */
function startWriter(s: ZkSession): { stop: () => Promise<number> } {
  let running = true;
  let writes = 0;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const p = `/p${i % 4}`;
      await s.setData(`${p}/n${(i * 7) % (NODES / 4)}`, Buffer.from(`w${i}`));
      if (i % 5 === 0) await s.create(`${p}/new${i}`, Buffer.from(`new ${i}`), OPEN);
      if (i % 11 === 0) await s.delete(`${p}/n${NODES / 4 - 1 - (i % 100)}`).catch(() => {});
      writes++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return writes;
    },
  };
}

test('three sessions over three members, a writer changing the tree: the window holds every zxid read, and the backup is the tree at its end', async () => {
  const repo = join(work, 'window-repo');
  const writerSession = await openSession({ connectString: ensemble.connectString });
  const writer = startWriter(writerSession);
  await new Promise((r) => setTimeout(r, 300));
  // Run asynchronously: the writer works in this process meanwhile.
  const run = await runAsync([
    'backup',
    '--zk',
    ensemble.connectString,
    '--sessions',
    '3',
    '--max-inflight',
    '8',
    '--repo',
    repo,
    '--json',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const b = JSON.parse(run.stdout) as { id: string; zxid: { from: string; to: string } };
  const writes = await writer.stop();
  await writerSession.close();
  assert.ok(writes > 0, 'the writer wrote during the backup');
  const inspected = json<{ extra: { sessions: number; readFrom: string[] } }>(['inspect', b.id, '--repo', repo]);
  assert.equal(inspected.extra.sessions, 3);
  assert.equal(new Set(inspected.extra.readFrom).size, 3, `read from every member: ${inspected.extra.readFrom.join(', ')}`);
  const from = parseZxid(b.zxid.from);
  const to = parseZxid(b.zxid.to);
  assert.ok(from < to, 'the tree changed during the walk');

  const backedUp = exportLines([b.id, '--repo', repo]);
  for (const line of backedUp.values()) {
    for (const z of [line.stat.czxid, line.stat.mzxid, line.stat.pzxid]) {
      assert.ok(parseZxid(z) <= to, `${line.path}: ${z} is past the window's end ${b.zxid.to}`);
    }
  }
  // The tree at the window's end, from a member's own snapshot and logs.
  await ensemble.stop();
  const atEnd = exportLines(['--data-dir', ensemble.servers[0].dataDir, '--to-zxid', b.zxid.to]);
  await Promise.all(ensemble.servers.map((m) => m.start()));
  let compared = 0;
  for (const [path, line] of atEnd) {
    const untouched = parseZxid(line.stat.czxid) <= from && parseZxid(line.stat.mzxid) <= from;
    if (!untouched) continue;
    const got = backedUp.get(path);
    assert.ok(got, `${path}, untouched inside the window, is in the backup`);
    assert.equal(got.data, line.data, `${path}: data`);
    assert.deepEqual(got.acl, line.acl, `${path}: ACL`);
    compared++;
  }
  assert.ok(compared > NODES / 2, `compared ${compared} untouched nodes`);
  // And nothing the backup holds was created after the window ended or is missing without a cause.
  for (const path of backedUp.keys()) {
    if (!atEnd.has(path)) {
      // Deleted inside the window: only the writer's deletions.
      assert.match(path, /^\/p\d\/n\d+$/, `${path} is in the backup but not in the tree at the window's end`);
    }
  }
});

test('a member killed with SIGKILL mid-backup: the backup finishes on the others with every node, or fails with exit 13', async (t) => {
  const repo = join(work, 'kill-repo');
  const child = spawn(BIN, ['backup', '--zk', ensemble.connectString, '--sessions', '3', '--rate', '1000', '--repo', repo, '--json'], {
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise((r) => setTimeout(r, 1500));
  const victim = ensemble.servers[1];
  process.kill(victim.pid!, 'SIGKILL');
  const code = await exited;
  await victim.start();
  t.diagnostic(`backup exit ${code} after member ${victim.id} was killed`);
  assert.ok(code === 0 || code === 13, `exit ${code}: ${stderr}`);
  const listed = json<Array<{ id: string; nodes: number }>>(['list', '--repo', repo]);
  if (code === 13) {
    assert.deepEqual(listed, [], 'a failed backup is never listed');
    return;
  }
  const b = JSON.parse(stdout) as { id: string; nodes: number };
  // Every node the ensemble holds (nothing writes now) is in it.
  const s = await openSession({ connectString: ensemble.connectString });
  let live = 1; // the root
  for (const top of (await s.getChildren('/'))!.children) {
    if (top === 'zookeeper') continue;
    live += 1 + (await s.getChildren(`/${top}`))!.children.length;
  }
  await s.close();
  assert.equal(b.nodes, live, `the backup holds ${b.nodes} nodes, the ensemble ${live}`);
  const verified = runCli(['verify', b.id, '--deep', '--repo', repo]);
  assert.equal(verified.code, 0, verified.stderr);
});

test('progress: drawn on a terminal and cleared at the end; nothing when stderr is not a terminal', () => {
  const repo = join(work, 'progress-repo');
  const cmd = `${BIN} backup --zk ${ensemble.connectString} --repo ${repo}`;
  const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(tty.status, 0, tty.stdout + tty.stderr);
  assert.match(tty.stdout, /backup {2}[\d,]+ .*nodes\/s/, 'a progress line was drawn');
  const lastDraw = tty.stdout.lastIndexOf('nodes/s');
  const clear = tty.stdout.indexOf('\r\x1b[2K', lastDraw);
  assert.ok(clear > lastDraw, 'the line is cleared after its last draw');
  assert.match(tty.stdout.slice(clear), /backup \S+\r?\n\s+kind\s+logical/, 'then the result');
  const plain = runCli(['backup', '--zk', ensemble.connectString, '--repo', repo]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /\r|nodes\/s|\x1b\[/, 'no progress bytes on a stderr that is not a terminal');
  const quiet = spawnSync('script', ['-qec', `${cmd} --json`, '/dev/null'], { encoding: 'utf8' });
  assert.equal(quiet.status, 0);
  assert.doesNotMatch(quiet.stdout, /nodes\/s/, 'none under --json either');
});
