// A logical restore streams the backup: a tree with one level of 200,000 children and a chain 1,000
// deep is backed up and restored into a fresh server by the CLI, whose peak RSS (VmHWM, read from
// /proc while it runs) stays under a generous bound that a restore holding the tree would pass far
// beyond (966 MB for this tree before restores were streamed). Export and diff of the backup stream
// it too, in path order: each stays under a bound that holding the tree passes (export 233 MB and
// diff 210 MB for a tree of 200,000 nodes when they loaded it; about 100 and 130 MB streamed), and
// so does an offline restore into a new dataDir (297 MB loading the tree, 90 MB streamed), whose
// export is then the backup's. No time is asserted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { BIN } from '../support/cli.js';
import { openSession } from '../../src/zk/client.js';

requireZooKeeper();
after(stopAll);

const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const WIDE = 200_000;
const DEEP = 1_000;
const RSS_BOUND_MB = 400;
const STREAMED_BOUND_MB = 180;

/** Runs the CLI; its exit code, output, and the peak RSS the kernel recorded for it (MiB). */
function runMeasured(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peakMb: number }> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // gone between polls
      }
    }, 10);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr, peakMb: Math.round(peakKb / 1024) });
    });
  });
}

test(`restore --zk of ${WIDE} siblings and a ${DEEP}-deep chain stays under ${RSS_BOUND_MB} MB and restores every node`, async () => {
  const source = await startStandalone({ heapMb: 512 });
  const s = await openSession({ connectString: source.connectString });
  await s.create('/wide', null, OPEN);
  for (let b = 0; b < WIDE / 1000; b++) {
    const ops = Array.from({ length: 1000 }, (_, i) => ({
      type: 'create' as const,
      path: `/wide/n${b * 1000 + i}`,
      data: Buffer.alloc(64, i),
      acl: OPEN,
    }));
    await s.multi(ops);
  }
  let deepest = '/deep';
  await s.create(deepest, null, OPEN);
  for (let i = 0; i < DEEP; i++) {
    deepest += '/d';
    await s.create(deepest, Buffer.from(`level ${i}`), OPEN);
  }
  await s.close();

  const repo = join(await makeTempDir('zkvault-restore-scale-'), 'repo');
  const backup = await runMeasured(['backup', '--zk', source.connectString, '--repo', repo, '--json']);
  assert.equal(backup.code, 0, backup.stderr);
  const { id, nodes } = JSON.parse(backup.stdout) as { id: string; nodes: number };
  assert.equal(nodes, 1 + 1 + WIDE + 1 + DEEP, 'root, /wide and its children, /deep and its chain');
  await source.destroy();

  const exported = await runMeasured(['export', id, '--repo', repo]);
  assert.equal(exported.code, 0, exported.stderr);
  const lines = exported.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, nodes, 'one line per node');
  const paths = lines.map((l) => (JSON.parse(l) as { path: string }).path);
  assert.ok(
    paths.every((p, i) => i === 0 || paths[i - 1] < p),
    'sorted by path',
  );
  const wide = JSON.parse(lines[paths.indexOf('/wide')]) as { stat: { cversion: number } };
  assert.equal(wide.stat.cversion, WIDE, "/wide's cversion as a client sees it (one per child created)");
  assert.ok(
    exported.peakMb > 0 && exported.peakMb < STREAMED_BOUND_MB,
    `export peak RSS ${exported.peakMb} MB (bound ${STREAMED_BOUND_MB} MB)`,
  );
  const same = await runMeasured(['diff', id, id, '--repo', repo, '--json']);
  assert.equal(same.code, 0, same.stderr);
  assert.equal((JSON.parse(same.stdout) as { a: { nodes: number } }).a.nodes, nodes);
  assert.ok(same.peakMb > 0 && same.peakMb < STREAMED_BOUND_MB, `diff peak RSS ${same.peakMb} MB (bound ${STREAMED_BOUND_MB} MB)`);
  const offlineDir = join(await makeTempDir('zkvault-restore-scale-'), 'data');
  const offline = await runMeasured(['restore', id, '--data-dir', offlineDir, '--repo', repo, '--json']);
  assert.equal(offline.code, 0, offline.stderr);
  assert.equal((JSON.parse(offline.stdout) as { created: number }).created, nodes);
  assert.ok(
    offline.peakMb > 0 && offline.peakMb < STREAMED_BOUND_MB,
    `offline restore peak RSS ${offline.peakMb} MB (bound ${STREAMED_BOUND_MB} MB)`,
  );
  const reexported = await runMeasured(['export', '--data-dir', offlineDir]);
  assert.equal(reexported.code, 0, reexported.stderr);
  assert.ok(reexported.stdout === exported.stdout, "the dataDir holds exactly the backup: its export is the backup's");

  const target = await startStandalone({ heapMb: 512 });
  const restored = await runMeasured(['restore', id, '--zk', target.connectString, '--repo', repo, '--json']);
  assert.equal(restored.code, 0, restored.stderr);
  const r = JSON.parse(restored.stdout) as { created: number; verify: { checked: number; differing: number } };
  assert.equal(r.created, nodes - 1, 'every node but the root, which exists');
  assert.equal(r.verify.differing, 0);
  assert.equal(r.verify.checked, nodes - 1);
  assert.ok(restored.peakMb > 0, 'the peak RSS was read');
  assert.ok(restored.peakMb < RSS_BOUND_MB, `restore peak RSS ${restored.peakMb} MB (bound ${RSS_BOUND_MB} MB)`);

  const t = await openSession({ connectString: target.connectString });
  assert.equal((await t.getChildren('/wide'))!.children.length, WIDE);
  assert.equal(Buffer.from((await t.getData(deepest))!.data!).toString(), `level ${DEEP - 1}`);
  await t.close();
  await target.destroy();
});
