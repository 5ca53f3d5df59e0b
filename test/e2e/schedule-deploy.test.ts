// The deployment examples in deploy/ are tested as far as this machine allows: every YAML file parses;
// the compose file passes `docker-compose config`; the systemd units pass `systemd-analyze verify`;
// and the zkvault command lines each example runs (CronJob containers, compose services, ExecStart
// lines) are run for real against a ZooKeeper server, with only the endpoints swapped for the test's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { BIN, REPO_ROOT, runCli } from '../support/cli.js';
import { openSession } from '../../src/zk/client.js';

requireZooKeeper();

const DEPLOY = join(REPO_ROOT, 'deploy');
let server: ZkServer;

before(async () => {
  server = await startStandalone();
  const s = await openSession({ connectString: server.connectString });
  await s.create('/app', Buffer.from('app'), [{ perms: 31, scheme: 'world', id: 'anyone' }]);
  await s.close();
});
after(stopAll);

function filesUnder(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, ext));
    else if (ext.test(e.name)) out.push(p);
  }
  return out.sort();
}

function parseYaml(file: string): any[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs)
    assert.deepEqual(
      d.errors.map((e) => e.message),
      [],
      `${relative(REPO_ROOT, file)} parses`,
    );
  return docs.map((d) => d.toJS());
}

function listKinds(repo: string): string[] {
  const r = runCli(['list', '--repo', repo, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).map((b: { kind: string }) => b.kind);
}

/** Runs a zkvault command line from an example, with the example's environment plus `env`. */
function runExample(what: string, args: string[], env: Record<string, string>): void {
  const r = runCli(args, { env });
  assert.equal(r.code, 0, `${what}: zkvault ${args.join(' ')}\n${r.stderr}`);
}

/**
 * A tool a test needs: scripts/install-deps.sh installs it (Debian's `docker-compose`, `systemd`), so
 * one missing is a failure that says so, never a skip.
 */
function requireTool(cmd: string, args: string[], pkg: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) {
    assert.fail(
      `${cmd} is not installed here (${(r.error as NodeJS.ErrnoException).code}): run scripts/install-deps.sh, or apt-get install -y ${pkg}`,
    );
  }
}

test('every YAML file under deploy/ parses', () => {
  const files = filesUnder(DEPLOY, /\.ya?ml$/);
  assert.ok(files.length >= 2, files.join(', '));
  for (const f of files) assert.ok(parseYaml(f).length > 0);
});

test('Kubernetes CronJob: one run at a time; its backup and prune containers run as written', async () => {
  const docs = parseYaml(join(DEPLOY, 'kubernetes', 'zkvault-cronjob.yaml'));
  const byKind = (kind: string) => docs.filter((d) => d?.kind === kind);
  const [config] = byKind('ConfigMap');
  const [secret] = byKind('Secret');
  const [cron] = byKind('CronJob');
  assert.equal(cron.apiVersion, 'batch/v1');
  assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
  const pod = cron.spec.jobTemplate.spec.template.spec;
  assert.equal(pod.restartPolicy, 'Never');
  const [backup] = pod.initContainers;
  const [prune] = pod.containers;
  assert.equal(backup.args[0], 'backup');
  assert.equal(prune.args[0], 'prune');
  for (const c of [backup, prune]) {
    assert.deepEqual(
      c.envFrom.map((e: any) => e.configMapRef?.name ?? e.secretRef?.name),
      [config.metadata.name, secret.metadata.name],
    );
    assert.ok(
      c.volumeMounts.some((m: any) => m.mountPath === '/tmp'),
      'a writable /tmp for staging under a read-only root',
    );
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  }
  const repo = join(await makeTempDir('zkvault-deploy-k8s-'), 'repo');
  const env = { ...config.data, ZKVAULT_ZK: server.connectString, ZKVAULT_REPO: repo };
  runExample('CronJob init container', backup.args, env);
  runExample('CronJob container', prune.args, env);
  assert.deepEqual(listKinds(repo), ['logical']);
});

test('docker-compose: `docker-compose config` accepts it; the schedule services run as written', async () => {
  const file = join(DEPLOY, 'docker-compose', 'docker-compose.yml');
  requireTool('docker-compose', ['version'], 'docker-compose');
  for (const profile of [[], ['--profile', 'physical']]) {
    const r = spawnSync('docker-compose', ['-f', file, ...profile, 'config', '-q'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `docker-compose ${profile.join(' ')} config: ${r.stderr}`);
  }
  const [compose] = parseYaml(file);
  const logical = compose.services.zkvault;
  const physical = compose.services['zkvault-physical'];
  assert.equal(logical.command[0], 'schedule');
  // The daemon gets its stop grace before Docker's SIGKILL.
  assert.ok(Number.parseInt(logical.stop_grace_period, 10) > Number.parseInt(logical.environment.ZKVAULT_STOP_GRACE, 10));
  const work = await makeTempDir('zkvault-deploy-compose-');
  // One run each, now: a tick every second instead of the example's, then --max-runs 1.
  const once = ['--cron', '* * * * * *', '--max-runs', '1'];
  runExample('compose service zkvault', [...logical.command, ...once], {
    ...logical.environment,
    ZKVAULT_ZK: server.connectString,
    ZKVAULT_REPO: join(work, 'logical'),
  });
  assert.deepEqual(listKinds(join(work, 'logical')), ['logical']);
  runExample(
    'compose service zkvault-physical',
    [...physical.command, ...once, '--data-dir', server.dataDir, '--log-dir', server.dataLogDir],
    {
      ...physical.environment,
      ZKVAULT_REPO: join(work, 'physical'),
    },
  );
  assert.deepEqual(listKinds(join(work, 'physical')), ['physical']);
});

/** systemd's ExecStart word splitting, as far as the examples use it: spaces and double quotes. */
function splitExec(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2]);
  return words;
}

function unitValues(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

test('systemd: the units pass systemd-analyze verify; their ExecStart lines run as written', async () => {
  const dir = join(DEPLOY, 'systemd');
  const units = ['zkvault-backup.service', 'zkvault-backup.timer', 'zkvault-schedule.service'];
  const envFile = Object.fromEntries(
    readFileSync(join(dir, 'zkvault.env'), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  assert.ok(envFile.ZKVAULT_ZK && envFile.ZKVAULT_REPO);
  requireTool('systemd-analyze', ['--version'], 'systemd');
  // verify checks that ExecStart's binary exists: point the units at this checkout's.
  const tmp = await makeTempDir('zkvault-deploy-systemd-');
  copyFileSync(join(dir, 'zkvault.env'), join(tmp, 'zkvault.env'));
  for (const u of units) {
    const text = readFileSync(join(dir, u), 'utf8')
      .replaceAll('/usr/local/bin/zkvault', BIN)
      .replaceAll('/etc/zkvault/zkvault.env', join(tmp, 'zkvault.env'));
    writeFileSync(join(tmp, u), text);
  }
  const r = spawnSync('systemd-analyze', ['verify', ...units], { cwd: tmp, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no complaint from systemd-analyze');
  const work = await makeTempDir('zkvault-deploy-systemd-run-');
  const env = { ...envFile, ZKVAULT_ZK: server.connectString, ZKVAULT_REPO: join(work, 'repo') };
  const backupUnit = readFileSync(join(dir, 'zkvault-backup.service'), 'utf8');
  const execs = unitValues(backupUnit, 'ExecStart').map(splitExec);
  assert.deepEqual(
    execs.map((w) => [w[0], w[1]]),
    [
      ['/usr/local/bin/zkvault', 'backup'],
      ['/usr/local/bin/zkvault', 'prune'],
    ],
  );
  for (const words of execs) runExample('zkvault-backup.service', words.slice(1), env);
  assert.deepEqual(listKinds(join(work, 'repo')), ['logical']);
  const [schedule] = unitValues(readFileSync(join(dir, 'zkvault-schedule.service'), 'utf8'), 'ExecStart').map(splitExec);
  assert.equal(schedule[1], 'schedule');
  runExample('zkvault-schedule.service', [...schedule.slice(1), '--cron', '* * * * * *', '--max-runs', '1', '--data-dir', server.dataDir], {
    ...env,
    ZKVAULT_REPO: join(work, 'physical'),
  });
  assert.deepEqual(listKinds(join(work, 'physical')), ['physical']);
});
