// What a new user meets in the first hour, each against a real server and the built CLI: `zkvault`
// on the PATH, the container image's layout, counts that match what a restore serves, defaults that
// say what they do, leftovers of killed and failed runs, help that lists only what applies, secrets
// kept out of argv, and a build that happens once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { BIN, REPO_ROOT, runCli } from '../support/cli.js';
import { digestId } from '../support/workload.js';
import { openSession } from '../../src/zk/client.js';

requireZooKeeper();
after(stopAll);

const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];
let server: ZkServer;
let work = '';

before(async () => {
  work = await makeTempDir('zkvault-first-hour-');
  server = await startStandalone();
  const s = await openSession({ connectString: server.connectString });
  await s.create('/app', Buffer.from('app'), OPEN);
  for (let i = 0; i < 12; i++) await s.create(`/app/n${i}`, Buffer.from(`value ${i}`), OPEN);
  // A node only alice can read: a backup without her credentials is partial.
  await s.create('/secret', Buffer.from('s'), [{ perms: 31, scheme: 'digest', id: digestId('alice', 'alice-pw') }]);
  // Nodes that come and go: ephemerals of a session that ends, a deleted node, a container.
  const other = await openSession({ connectString: server.connectString });
  for (let i = 0; i < 3; i++) await other.create(`/app/e${i}`, null, OPEN, 'ephemeral');
  await other.close();
  await s.create('/gone', null, OPEN);
  await s.delete('/gone');
  await s.create('/box', null, OPEN, 'container');
  await s.create('/box/item', null, OPEN);
  // A wider tree, so that a backup runs long enough to be killed in the middle.
  for (let b = 0; b < 20; b++) {
    await s.create(`/wide${b}`, null, OPEN);
    const ops = Array.from({ length: 100 }, (_, i) => ({
      type: 'create' as const,
      path: `/wide${b}/n${i}`,
      data: Buffer.alloc(512, i),
      acl: OPEN,
    }));
    await s.multi(ops);
  }
  await s.close();
});

function json(args: string[], expectCode = 0, env: Record<string, string> = {}) {
  const r = runCli([...args, '--json'], { env });
  assert.equal(r.code, expectCode, `zkvault ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('`npm link` puts zkvault on the PATH, and it runs a backup from any directory', async () => {
  const prefix = await makeTempDir('zkvault-npm-prefix-');
  // The checkout is built already (npm ci's prepare script): link it without building again.
  const link = spawnSync('npm', ['link', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: REPO_ROOT,
    env: { ...process.env, npm_config_prefix: prefix },
    encoding: 'utf8',
  });
  assert.equal(link.status, 0, link.stderr);
  const cmd = join(prefix, 'bin', 'zkvault');
  assert.ok(existsSync(cmd), `npm link made ${cmd}`);
  const elsewhere = await makeTempDir('zkvault-npm-cwd-');
  const run = (args: string[]) =>
    spawnSync('zkvault', args, {
      cwd: elsewhere,
      env: { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, NO_COLOR: '1' },
      encoding: 'utf8',
    });
  const version = run(['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
  const backup = run(['backup', '--zk', server.connectString, '--path', '/app', '--json']);
  assert.equal(backup.status, 0, backup.stderr);
  // The default repository is ./zkvault-repo of the directory it runs in.
  assert.ok(existsSync(join(elsewhere, 'zkvault-repo', 'manifests', `${JSON.parse(backup.stdout).id}.json`)));
});

/** The instructions of a Dockerfile, continuation lines joined. */
function dockerInstructions(text: string): Array<{ op: string; args: string }> {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const sp = l.indexOf(' ');
      return { op: l.slice(0, sp).toUpperCase(), args: l.slice(sp + 1).trim() };
    });
}

test("the Dockerfile's steps work on the project's files: what it copies exists, its image layout runs zkvault", async () => {
  // No Docker engine on the CI machines: the image's two stages are replayed by hand instead.
  const instructions = dockerInstructions(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Array<{ workdir: string; copies: Array<{ from?: string; src: string[]; dest: string }>; runs: string[] }> = [];
  let entrypoint: string[] = [];
  for (const { op, args } of instructions) {
    if (op === 'FROM') stages.push({ workdir: '/', copies: [], runs: [] });
    const stage = stages.at(-1)!;
    if (op === 'WORKDIR') stage.workdir = args.startsWith('/') ? args : join(stage.workdir, args);
    if (op === 'RUN') stage.runs.push(args);
    if (op === 'ENTRYPOINT') entrypoint = JSON.parse(args);
    if (op === 'COPY') {
      const words = args.split(/\s+/);
      const from = words[0].startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
      const dest = words.pop()!;
      stage.copies.push({ from, src: words, dest: dest.startsWith('/') ? dest : join(stage.workdir, dest) });
    }
  }
  assert.equal(stages.length, 2, 'a build stage and a runtime stage');
  // Every file the build context must hold is in the project and not left out by .dockerignore.
  for (const c of stages.flatMap((s) => s.copies).filter((c) => c.from === undefined)) {
    for (const src of c.src) {
      assert.ok(existsSync(join(REPO_ROOT, src)), `COPY ${src}: not in the project`);
      assert.ok(!ignored.includes(src.replace(/\/$/, '')), `COPY ${src}: .dockerignore leaves it out of the build context`);
    }
  }
  const [build, runtime] = stages;
  assert.ok(
    build.runs.some((r) => /^npm ci\b/.test(r)),
    'the build stage installs from package-lock.json',
  );
  // Stage 1, by hand: the build context's files, the npm packages (already installed here), the
  // image's own tsconfig, then tsc.
  const ctx = await makeTempDir('zkvault-image-build-');
  for (const c of build.copies) for (const src of c.src) cpSync(join(REPO_ROOT, src), join(ctx, src), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(ctx, 'node_modules'));
  const tsc = build.runs.find((r) => r.includes('tsc'))!;
  const printf = /printf '([^']+)' > (\S+)/.exec(tsc);
  assert.ok(printf, `the build writes its tsconfig: ${tsc}`);
  writeFileSync(join(ctx, printf[2]), printf[1].replace(/\\n/g, '\n'));
  const compiled = spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', printf[2]], { cwd: ctx, encoding: 'utf8' });
  assert.equal(compiled.status, 0, `tsc in the build stage: ${compiled.stdout}${compiled.stderr}`);
  // Stage 2: the runtime layout its COPY lines make, then the entrypoint, run from the user's workdir.
  const root = await makeTempDir('zkvault-image-root-');
  const at = (p: string) => join(root, p);
  for (const c of runtime.copies) {
    for (const src of c.src) {
      const from = c.from === undefined ? join(REPO_ROOT, src) : join(ctx, src.replace(/^\/src\/?/, ''));
      const dest = c.src.length === 1 && !c.dest.endsWith('/') ? c.dest : join(c.dest, src.split('/').pop()!);
      if (src.endsWith('node_modules')) {
        mkdirSync(join(at(dest), '..'), { recursive: true });
        symlinkSync(join(REPO_ROOT, 'node_modules'), at(dest));
      } else cpSync(from, at(dest), { recursive: true });
    }
  }
  assert.equal(entrypoint[0], 'node');
  const script = at(entrypoint[1]);
  assert.ok(existsSync(script), `ENTRYPOINT ${entrypoint[1]} is in the image`);
  const userDir = at(runtime.workdir);
  mkdirSync(userDir, { recursive: true });
  const help = spawnSync('node', [script, '--help'], { cwd: userDir, encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /Usage: zkvault/);
  const backup = spawnSync('node', [script, 'backup', '--zk', server.connectString, '--path', '/app', '--json'], {
    cwd: userDir,
    encoding: 'utf8',
  });
  assert.equal(backup.status, 0, backup.stderr);
  assert.ok(existsSync(join(userDir, 'zkvault-repo')), 'the default repository lands in the workdir');
});

test("a physical backup's node count is that of its restore, full and incremental", async () => {
  const repo = join(work, 'count-repo');
  const check = (id: string, label: string) => {
    const listed = (json(['list', '--repo', repo]) as Array<{ id: string; nodes: number }>).find((b) => b.id === id)!;
    const inspected = json(['inspect', id, '--repo', repo]);
    const exported = runCli(['export', id, '--repo', repo]);
    assert.equal(exported.code, 0, exported.stderr);
    const lines = exported.stdout.trim().split('\n').length;
    const restored = json(['restore', id, '--data-dir', join(work, `count-out-${id}`), '--repo', repo]);
    assert.ok(lines > 1, label);
    assert.equal(restored.created, lines, `${label}: restore creates what export prints`);
    assert.equal(listed.nodes, lines, `${label}: list says ${listed.nodes} nodes, the restore serves ${lines}`);
    assert.equal(inspected.counts.nodes, lines, `${label}: inspect`);
    return lines;
  };
  const full = json(['backup', '--data-dir', server.dataDir, '--repo', repo]);
  assert.equal(full.nodes, check(full.id, 'full'));
  const s = await openSession({ connectString: server.connectString });
  for (let i = 0; i < 5; i++) await s.create(`/app/later${i}`, null, OPEN);
  await s.delete('/app/n0');
  await s.close(); // no ephemerals: nothing the session's end removes is counted
  const inc = json(['backup', '--data-dir', server.dataDir, '--incremental', '--repo', repo]);
  assert.equal(inc.nodes, check(inc.id, 'incremental'));
  assert.equal(inc.nodes, full.nodes + 4);
});

function stagingDirs(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('zkvault-staging-'));
}

test('a backup killed with SIGKILL leaves a staging folder; the next backup removes it and says so', async () => {
  const tmp = await makeTempDir('zkvault-tmpdir-');
  const repo = join(work, 'killed-repo');
  const child = spawn(BIN, ['backup', '--zk', server.connectString, '--repo', repo], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Kill it the moment its staging folder appears, in the middle of the walk.
  while (stagingDirs(tmp).length === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 2));
  child.kill('SIGKILL');
  await exited;
  assert.equal(child.signalCode, 'SIGKILL', 'killed before it finished');
  assert.equal(stagingDirs(tmp).length, 1, 'the killed run left its staging folder');
  const r = runCli(['backup', '--zk', server.connectString, '--path', '/app', '--repo', repo, '--json'], { env: { TMPDIR: tmp } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /removed .*zkvault-staging-.*left by a backup run that was killed/);
  assert.deepEqual(stagingDirs(tmp), [], 'no staging folder is left behind');
  // A staging folder of a run still going is left alone: this test process is alive.
  mkdirSync(join(tmp, 'zkvault-staging-live'));
  writeFileSync(join(tmp, 'zkvault-staging-live', '.zkvault-owner.json'), JSON.stringify({ host: hostnameOf(), pid: process.pid }));
  const again = runCli(['backup', '--zk', server.connectString, '--path', '/app', '--repo', repo], { env: { TMPDIR: tmp } });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(stagingDirs(tmp), ['zkvault-staging-live']);
});

function hostnameOf(): string {
  return spawnSync('node', ['-p', 'require("os").hostname()'], { encoding: 'utf8' }).stdout.trim();
}

test('a first backup that fails leaves no repository folder behind', async () => {
  // A dataDir whose only snapshot is damaged: nothing valid to copy.
  const empty = await makeTempDir('zkvault-bad-datadir-');
  mkdirSync(join(empty, 'version-2'));
  writeFileSync(join(empty, 'version-2', 'snapshot.100000000'), Buffer.alloc(4096, 1));
  const repo = join(work, 'never-made');
  const physical = runCli(['backup', '--data-dir', empty, '--repo', repo]);
  assert.equal(physical.code, 1, physical.stderr);
  assert.match(physical.stderr, /no valid snapshot/);
  assert.ok(!existsSync(repo), `${repo} was not created`);
  const logical = runCli(['backup', '--zk', server.connectString, '--path', '/no/such/node', '--repo', repo]);
  assert.notEqual(logical.code, 0, logical.stderr);
  assert.ok(!existsSync(repo), `${repo} was not created by a failed logical backup either`);
  // An existing repository is kept, whatever happens to a backup into it.
  const kept = join(work, 'kept-repo');
  json(['backup', '--zk', server.connectString, '--path', '/app', '--repo', kept]);
  const failed = runCli(['backup', '--data-dir', empty, '--repo', kept]);
  assert.equal(failed.code, 1);
  assert.ok(statSync(join(kept, 'manifests')).isDirectory());
  assert.equal((json(['list', '--repo', kept]) as unknown[]).length, 1);
});

test('restore of an unknown id says so first, before any warning about the live ensemble', () => {
  const repo = join(work, 'kept-repo');
  const r = runCli(['restore', 'ffffffff', '--zk', server.connectString, '--repo', repo]);
  assert.equal(r.code, 10, r.stderr);
  assert.match(r.stderr.split('\n')[0], /ffffffff/);
  assert.doesNotMatch(r.stderr, /watch/i);
});

test('help: every command that takes an id says a unique prefix works; read-only commands list no write-only S3 flags', () => {
  const help = (cmd: string) => {
    const r = runCli([cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  for (const cmd of ['inspect', 'verify', 'export', 'restore', 'diff']) assert.match(help(cmd), /unique prefix/, `${cmd} --help`);
  for (const cmd of ['list', 'inspect', 'verify', 'export', 'diff', 'restore']) {
    const text = help(cmd);
    assert.doesNotMatch(text, /--s3-sse|--s3-storage-class|--s3-kms-key/, `${cmd} --help lists a flag it never uses`);
    assert.match(text, /--s3-endpoint/, `${cmd} --help still lists the flags that reach a bucket`);
  }
  assert.match(help('backup'), /--s3-sse/);
  assert.match(help('verify'), /default: every backup/);
  for (const cmd of ['backup', 'restore', 'diff', 'schedule']) {
    const text = help(cmd).replace(/\s+/g, ' ');
    assert.match(text, /--auth-file/, `${cmd} --help`);
    assert.match(text, /argv is visible to other users/, `${cmd} --help warns about secrets in argv`);
  }
});

test('--auth-file: credentials from a file, one per line, never in argv; a bad file is named', async () => {
  const repo = join(work, 'auth-repo');
  const without = runCli(['backup', '--zk', server.connectString, '--repo', repo, '--json']);
  assert.equal(without.code, 3, 'without alice the /secret node is unreadable: partial');
  const file = join(work, 'auth.txt');
  writeFileSync(file, '# the backup operator\ndigest:alice:alice-pw\n\n', { mode: 0o600 });
  const r = json(['backup', '--zk', server.connectString, '--auth-file', file, '--repo', repo]);
  assert.equal(r.partial, false);
  const exported = runCli(['export', r.id, '--path', '/secret', '--repo', repo]);
  assert.equal(JSON.parse(exported.stdout.trim()).data, Buffer.from('s').toString('base64'));
  // The same through the environment, for schedulers that pass files as variables.
  const viaEnv = json(['backup', '--zk', server.connectString, '--repo', repo], 0, { ZKVAULT_AUTH_FILE: file });
  assert.equal(viaEnv.partial, false);
  const missing = runCli(['backup', '--zk', server.connectString, '--auth-file', join(work, 'nope.txt'), '--repo', repo]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--auth-file .*nope\.txt cannot be read/);
});

test('the build runs once: scripts/build-if-stale.sh builds a fresh copy, then leaves it alone until a source changes', async () => {
  // A copy of the checkout with no build yet, as after a clone (node_modules shared with this one).
  const copy = await makeTempDir('zkvault-build-once-');
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'test', 'bench', 'scripts'])
    cpSync(join(REPO_ROOT, f), join(copy, f), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
  const build = () => spawnSync('bash', ['scripts/build-if-stale.sh'], { cwd: copy, encoding: 'utf8' });
  const first = build();
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /building/);
  const cli = join(copy, 'dist', 'src', 'cli.js');
  assert.ok(existsSync(cli) && existsSync(join(copy, 'dist', '.built')));
  const builtAt = statSync(cli).mtimeMs;
  const second = build();
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /up to date/);
  assert.equal(statSync(cli).mtimeMs, builtAt, 'not compiled again');
  // A source edited after the build: built again.
  const later = new Date(Date.now() + 5_000);
  utimesSync(join(copy, 'src', 'cli.ts'), later, later);
  const third = build();
  assert.equal(third.status, 0, third.stderr);
  assert.match(third.stderr, /building .*src\/cli\.ts changed/);
});
