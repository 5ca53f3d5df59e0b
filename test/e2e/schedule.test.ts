// `zkvault schedule` end to end: the built CLI as a daemon with a seconds-level cron expression against
// real ZooKeeper servers — several backups, prune after each, SIGTERM while idle, during a run that
// finishes within the grace and during one that does not; every backup left listed verifies deep and
// restores into a fresh server. And a physical schedule with a full backup every 2 runs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { runCli, spawnCli } from '../support/cli.js';
import { openSession, type ZkSession } from '../../src/zk/client.js';
import type { AclEntry } from '../../src/core/node-record.js';

requireZooKeeper();

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const EVERY_2S = '*/2 * * * * *';

type Event = { event: string; [k: string]: any };

interface Daemon {
  child: ChildProcessWithoutNullStreams;
  events: Event[];
  /** Resolves with the first event (already seen or to come) that matches. */
  waitFor(pred: (e: Event) => boolean): Promise<Event>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; nonJson: string[] }>;
}

const daemons = new Set<ChildProcessWithoutNullStreams>();
after(async () => {
  for (const c of daemons) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await stopAll();
});

/** Starts `zkvault schedule … --log-format json --json`; `onEvent` sees each event as it comes. */
function startSchedule(args: string[], onEvent: (e: Event) => void = () => {}): Daemon {
  const child = spawnCli(['schedule', ...args, '--log-format', 'json', '--json']);
  daemons.add(child);
  const events: Event[] = [];
  const nonJson: string[] = [];
  const waiters: Array<{ pred: (e: Event) => boolean; resolve: (e: Event) => void }> = [];
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const lines = createInterface({ input: child.stderr });
  lines.on('line', (line) => {
    let e: Event;
    try {
      e = JSON.parse(line);
    } catch {
      if (line.trim() !== '') nonJson.push(line);
      return;
    }
    events.push(e);
    onEvent(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  const closed = new Promise<void>((resolve) => lines.once('close', () => resolve()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; nonJson: string[] }>((resolve) =>
    child.once('exit', (code, signal) => void closed.then(() => resolve({ code, signal, stdout, nonJson }))),
  );
  const waitFor = (pred: (e: Event) => boolean) =>
    new Promise<Event>((resolve, reject) => {
      const seen = events.find(pred);
      if (seen) return resolve(seen);
      waiters.push({ pred, resolve });
      void exited.then(() =>
        reject(new Error(`schedule exited before the awaited event; events: ${JSON.stringify(events.map((x) => x.event))}`)),
      );
    });
  return { child, events, waitFor, exited };
}

function listIds(repo: string): string[] {
  const r = runCli(['list', '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).map((b: { id: string }) => b.id);
}

function verifyDeep(repo: string): void {
  const r = runCli(['verify', '--all', '--deep', '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const v = JSON.parse(r.stdout);
  assert.equal(v.ok, true);
  assert.deepEqual(
    v.backups.map((b: { id: string }) => b.id),
    listIds(repo),
    'verify saw exactly the listed backups, nothing unlisted',
  );
}

/** Restores a backup into a fresh server; returns what `read` reads there. */
async function restoreIntoFresh<T>(repo: string, id: string, read: (s: ZkSession) => Promise<T>): Promise<T> {
  const target = await startStandalone();
  try {
    const r = runCli(['restore', id, '--zk', target.connectString, '--repo', repo, '--json']);
    assert.equal(r.code, 0, `restore ${id}: ${r.stderr}`);
    const s = await openSession({ connectString: target.connectString });
    try {
      return await read(s);
    } finally {
      await s.close();
    }
  } finally {
    await target.destroy();
  }
}

function manifestOf(repo: string, id: string): any {
  return JSON.parse(readFileSync(join(repo, 'manifests', `${id}.json`), 'utf8'));
}

/** Only the repository's own files: every archive has its sidecar, and no lock is left behind. */
function assertNoLeftovers(repo: string): void {
  const ids = listIds(repo);
  assert.deepEqual(
    readdirSync(join(repo, 'archives')).sort(),
    ids.map((id) => `${id}.tar`).sort(),
    'no archive without its manifest, no temp file',
  );
  assert.deepEqual(readdirSync(join(repo, 'manifests')).sort(), ids.map((id) => `${id}.json`).sort());
  assert.deepEqual(readdirSync(join(repo, 'locks')), [], 'the lock is released');
}

test('a schedule every 2 s: backups appear, prune keeps the last 2, and every kept backup verifies deep and restores', async () => {
  const server = await startStandalone();
  const repo = join(await makeTempDir('zkvault-e2e-schedule-'), 'repo');
  const writer = await openSession({ connectString: server.connectString });
  await writer.create('/app', Buffer.from('app'), OPEN);
  await writer.create('/app/counter', Buffer.from('0'), OPEN);
  // After each backup the test moves the counter on, so each backup holds a different tree:
  // the backup of run k holds counter k-1.
  const writes: Array<Promise<unknown>> = [];
  const d = startSchedule(
    ['--cron', EVERY_2S, '--zk', server.connectString, '--repo', repo, '--keep-last', '2', '--orphan-grace', '0s', '--max-runs', '4'],
    (e) => {
      if (e.event === 'backup') writes.push(writer.setData('/app/counter', Buffer.from(String(e.run))));
    },
  );
  const { code, stdout, nonJson } = await d.exited;
  await Promise.all(writes);
  await writer.close();
  assert.equal(code, 0, JSON.stringify(d.events));
  assert.deepEqual(nonJson, [], 'every stderr line is one JSON event');

  const summary = JSON.parse(stdout);
  assert.equal(summary.reason, 'max-runs');
  assert.deepEqual([summary.runs, summary.succeeded, summary.failed, summary.interrupted], [4, 4, 0, false]);
  assert.equal(summary.backups.length, 4);

  const kinds = d.events.map((e) => e.event);
  assert.equal(kinds[0], 'start');
  assert.deepEqual(
    kinds.filter((k) => k === 'run' || k === 'backup' || k === 'prune'),
    ['run', 'backup', 'prune', 'run', 'backup', 'prune', 'run', 'backup', 'prune', 'run', 'backup', 'prune'],
  );
  assert.deepEqual(kinds.slice(-2), ['stopping', 'stop']);
  for (const e of d.events) {
    assert.match(e.time, /^\d{4}-\d\d-\d\dT/);
    assert.ok(['info', 'warn', 'error'].includes(e.level));
  }
  const backups = d.events.filter((e) => e.event === 'backup');
  for (const b of backups) {
    assert.equal(b.kind, 'logical');
    assert.ok(b.nodes >= 3, `${b.nodes} nodes`);
    assert.match(b.zxid.from, /^0x[0-9a-f]+$/);
    assert.match(b.id, /^\d{8}T\d{9}Z-[0-9a-f]{4}$/);
  }
  const prunes = d.events.filter((e) => e.event === 'prune');
  assert.deepEqual(
    prunes.map((p) => [p.kept, p.removed]),
    [
      [1, 0],
      [2, 0],
      [2, 1],
      [2, 1],
    ],
  );
  assert.deepEqual(
    prunes.flatMap((p) => p.removedIds),
    [backups[0].id, backups[1].id],
  );
  assert.deepEqual(d.events.at(-1), {
    ...d.events.at(-1),
    event: 'stop',
    reason: 'max-runs',
    runs: 4,
    succeeded: 4,
    failed: 0,
    exitCode: 0,
  });

  // The policy held: the last 2 backups, and nothing else in the repository.
  assert.deepEqual(listIds(repo), [backups[2].id, backups[3].id]);
  assertNoLeftovers(repo);
  verifyDeep(repo);
  for (const [i, b] of [
    [2, backups[2]],
    [3, backups[3]],
  ] as const) {
    const counter = await restoreIntoFresh(repo, b.id, async (s) => (await s.getData('/app/counter'))!.data);
    assert.equal(Buffer.from(counter!).toString(), String(i), `backup of run ${i + 1} restores counter ${i}`);
  }
  await server.destroy();
});

test('SIGTERM: idle → exit 0; mid-run within the grace → the run finishes, exit 0; past the grace → aborted, exit 130, nothing half-written listed', async () => {
  const server = await startStandalone();
  const s = await openSession({ connectString: server.connectString });
  // A tree big enough that a backup of it is still in flight when the signal lands.
  await s.create('/bulk', null, OPEN);
  for (let i = 0; i < 40_000; i += 1000) {
    await s.multi(
      Array.from({ length: 1000 }, (_, j) => ({ type: 'create' as const, path: `/bulk/n${i + j}`, data: Buffer.alloc(200, 1), acl: OPEN })),
    );
  }
  await s.create('/marker', Buffer.from('m'), OPEN);
  await s.close();
  const repo = join(await makeTempDir('zkvault-e2e-schedule-sigterm-'), 'repo');
  const base = ['--zk', server.connectString, '--repo', repo];

  // Idle: a schedule that would first fire next year stops at once, cleanly.
  const idle = startSchedule(['--cron', '0 0 1 1 *', ...base]);
  await idle.waitFor((e) => e.event === 'start');
  idle.child.kill('SIGTERM');
  const idleExit = await idle.exited;
  assert.equal(idleExit.code, 0, JSON.stringify(idle.events));
  assert.deepEqual(
    idle.events.map((e) => e.event),
    ['start', 'stopping', 'stop'],
  );
  assert.equal(JSON.parse(idleExit.stdout).runs, 0);
  // cli.ts announces the signal itself, as a plain line; every event is still one JSON line.
  assert.ok(
    idleExit.nonJson.every((l) => /SIGTERM received/.test(l)),
    idleExit.nonJson.join('\n'),
  );

  // Mid-run, within the grace (a generous one, so a slow machine cannot outlast it): the backup in
  // flight completes and is listed.
  const finish = startSchedule(['--cron', EVERY_2S, '--stop-grace', '10min', ...base]);
  await finish.waitFor((e) => e.event === 'run');
  finish.child.kill('SIGTERM');
  const finishExit = await finish.exited;
  assert.equal(finishExit.code, 0, JSON.stringify(finish.events));
  const finished = finish.events.find((e) => e.event === 'backup');
  assert.ok(finished, 'the run in flight finished within the grace');
  assert.deepEqual(
    finish.events.find((e) => e.event === 'stopping'),
    { ...finish.events.find((e) => e.event === 'stopping'), inFlightRun: 1, graceMs: 600_000 },
  );
  assert.deepEqual(listIds(repo), [finished.id]);

  // Mid-run, no grace: the run is aborted through its AbortSignal; exit 130; nothing of it is listed.
  const abort = startSchedule(['--cron', EVERY_2S, '--stop-grace', '0s', ...base]);
  await abort.waitFor((e) => e.event === 'run');
  abort.child.kill('SIGTERM');
  const abortExit = await abort.exited;
  assert.equal(abortExit.code, 130, JSON.stringify(abort.events));
  const kinds = abort.events.map((e) => e.event);
  assert.deepEqual(kinds, ['start', 'run', 'stopping', 'interrupted', 'stop'], JSON.stringify(abort.events));
  assert.deepEqual(abort.events.at(-1), { ...abort.events.at(-1), exitCode: 130 });
  assert.equal(JSON.parse(abortExit.stdout).interrupted, true);

  // Only the complete backup is listed; no archive, temp file or lock of the aborted run is left;
  // the listed backup verifies deep and restores into a fresh server.
  assert.deepEqual(listIds(repo), [finished.id]);
  assertNoLeftovers(repo);
  verifyDeep(repo);
  const restored = await restoreIntoFresh(repo, finished.id, async (t) => [
    (await t.getChildren('/bulk'))!.children.length,
    Buffer.from((await t.getData('/marker'))!.data!).toString(),
  ]);
  assert.deepEqual(restored, [40_000, 'm']);
  await server.destroy();
});

test("a failing run is logged, counted and retried at the next tick; --max-failures ends the daemon with the failure's exit code", async () => {
  const repo = join(await makeTempDir('zkvault-e2e-schedule-fail-'), 'repo');
  // Nothing listens on port 1: every run fails to connect (exit 13 as a one-shot command).
  const d = startSchedule(['--cron', '* * * * * *', '--zk', '127.0.0.1:1', '--repo', repo, '--max-failures', '2']);
  const { code, stdout } = await d.exited;
  assert.equal(code, 13, JSON.stringify(d.events));
  const failures = d.events.filter((e) => e.event === 'failure');
  assert.deepEqual(
    failures.map((f) => [f.run, f.stage, f.code, f.errorKind, f.consecutiveFailures, f.maxFailures]),
    [
      [1, 'backup', 13, 'connection', 1, 2],
      [2, 'backup', 13, 'connection', 2, 2],
    ],
  );
  assert.match(failures[0].message, /cannot connect to ZooKeeper at 127\.0\.0\.1:1/);
  assert.match(failures[0].next, /^\d{4}-/, 'the first failure names the next try');
  assert.equal(failures[1].next, null, 'the last one does not: the daemon stops');
  assert.ok(failures.every((f) => f.level === 'error'));
  // A connect attempt outlasts the 1 s ticks: the ticks in between were skipped, each logged.
  const skips = d.events.filter((e) => e.event === 'skip');
  assert.ok(skips.length > 0 && skips.every((e) => e.level === 'warn' && (e.inFlightRun === 1 || e.inFlightRun === 2)));
  assert.deepEqual(d.events.at(-1), {
    ...d.events.at(-1),
    event: 'stop',
    reason: 'max-failures',
    failed: 2,
    consecutiveFailures: 2,
    exitCode: 13,
  });
  const summary = JSON.parse(stdout);
  assert.deepEqual([summary.runs, summary.failed, summary.lastFailure.code], [2, 2, 13]);
});

test("a physical schedule with --full-every 2: full, incremental, full, incremental; prune keeps the kept incremental's base", async () => {
  const server: ZkServer = await startStandalone();
  const repo = join(await makeTempDir('zkvault-e2e-schedule-physical-'), 'repo');
  const writer = await openSession({ connectString: server.connectString });
  await writer.create('/phys', Buffer.from('p'), OPEN);
  await writer.create('/phys/before', Buffer.from('b'), OPEN);
  // New txns after every backup, so that each incremental has something to store.
  const writes: Array<Promise<unknown>> = [];
  const d = startSchedule(
    [
      '--cron',
      EVERY_2S,
      '--data-dir',
      server.dataDir,
      '--full-every',
      '2',
      '--repo',
      repo,
      '--keep-last',
      '1',
      '--orphan-grace',
      '0s',
      '--max-runs',
      '4',
    ],
    (e) => {
      if (e.event === 'backup') writes.push(writer.create(`/phys/after-run-${e.run}`, Buffer.from(String(e.run)), OPEN));
    },
  );
  const { code } = await d.exited;
  await Promise.all(writes);
  await writer.close();
  assert.equal(code, 0, JSON.stringify(d.events));
  assert.deepEqual(
    d.events.filter((e) => e.event === 'run').map((e) => e.mode),
    ['full', 'incremental', 'full', 'incremental'],
  );
  const backups = d.events.filter((e) => e.event === 'backup');
  assert.deepEqual(
    backups.map((b) => [b.kind, b.chain.depth, b.chain.parent]),
    [
      ['physical', 0, null],
      ['physical', 1, backups[0].id],
      ['physical', 0, null],
      ['physical', 1, backups[2].id],
    ],
  );
  // keep-last 1 after each run: the newest backup, and while it is an incremental, its base too.
  const prunes = d.events.filter((e) => e.event === 'prune');
  assert.deepEqual(
    prunes.map((p) => [p.kept, p.removedIds]),
    [
      [1, []],
      [2, []],
      [1, [backups[0].id, backups[1].id]],
      [2, []],
    ],
  );
  const [full2, inc2] = [backups[2], backups[3]];
  assert.deepEqual(listIds(repo), [full2.id, inc2.id]);
  assert.deepEqual(manifestOf(repo, inc2.id).extra.chain, { base: full2.id, parent: full2.id, depth: 1 });

  // Pruning the base while its incremental is kept is refused: kept, with the reason.
  const plan = runCli(['prune', '--keep-last', '1', '--dry-run', '--json', '--repo', repo]);
  assert.equal(plan.code, 0, plan.stderr);
  const p = JSON.parse(plan.stdout);
  assert.deepEqual(
    p.keep.map((k: { id: string; reasons: string[] }) => [k.id, k.reasons]),
    [
      [full2.id, [`base of kept incremental ${inc2.id}`]],
      [inc2.id, ['last 1 of 1']],
    ],
  );
  assert.deepEqual(p.remove, []);

  assertNoLeftovers(repo);
  verifyDeep(repo);
  // The incremental restores (through its chain) with every node written before it was taken.
  const names = await restoreIntoFresh(repo, inc2.id, async (s) => (await s.getChildren('/phys'))!.children.sort());
  assert.deepEqual(names, ['after-run-1', 'after-run-2', 'after-run-3', 'before']);
  await server.destroy();
});
