// Secured ensembles, against real ZooKeeper servers: TLS only (secureClientPort, Netty, client
// certificates required), SASL DIGEST-MD5 required of every client, and Kerberos (GSSAPI) against a
// real MIT KDC run by the test. Every live command works with the right material; every wrong one is
// exit 12 with a message naming the problem; no secret reaches any output, repository file or process
// list.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper, type ZkServer } from '../support/zk-harness.js';
import { makeTlsMaterial, tlsServerConfig, type TlsMaterial } from '../support/tls-certs.js';
import { startKdc, kerberosServerJvmArgs, type Kdc } from '../support/kdc.js';
import { makeTempDir } from '../support/tmp.js';
import { REPO_ROOT, runCli, spawnCli, type CliResult } from '../support/cli.js';
import { parseAllDocuments } from 'yaml';
import { openSession, type ZkSessionOptions } from '../../src/zk/client.js';
import type { AclEntry } from '../../src/core/node-record.js';

requireZooKeeper();
after(stopAll);

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];

/** Every file under a directory, as bytes. */
function filesUnder(dir: string): Array<{ path: string; bytes: Buffer }> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push({ path: p, bytes: readFileSync(p) });
  }
  return out;
}

async function populate(access: Omit<ZkSessionOptions, 'connectString'>, connectString: string, acl: AclEntry[]): Promise<void> {
  const s = await openSession({ connectString, ...access });
  try {
    await s.create('/app', Buffer.from('app'), acl);
    await s.create('/app/config', Buffer.from('{"secure":true}'), acl);
    await s.create('/app/items', null, acl);
    for (let i = 0; i < 20; i++) await s.create(`/app/items/item-${i}`, Buffer.from(`item ${i}`), acl);
  } finally {
    await s.close();
  }
}

function backupId(r: CliResult): string {
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

describe('TLS only (secureClientPort, ssl.clientAuth=need)', () => {
  let m: TlsMaterial;
  let server: ZkServer;
  let work = '';
  let tls: string[] = [];
  before(async () => {
    m = await makeTlsMaterial();
    const probe = { ca: readFileSync(m.caFile), cert: readFileSync(m.clientCertFile), key: readFileSync(m.clientKeyFile) };
    server = await startStandalone({ tls: { config: tlsServerConfig(m), probe } });
    work = await makeTempDir('zkvault-tls-work-');
    tls = ['--zk-tls-ca', m.caFile, '--zk-tls-cert', m.clientCertFile, '--zk-tls-key', m.clientKeyFile];
    await populate({ tls: { ca: probe.ca, cert: probe.cert, key: probe.key } }, server.connectString, OPEN);
  });
  after(() => server?.destroy());

  test('backup, restore --zk, diff zk:// and schedule work with the CA and a client certificate', () => {
    const repo = join(work, 'repo');
    const id = backupId(runCli(['backup', '--zk', server.connectString, ...tls, '--repo', repo, '--json']));
    const restored = runCli(['restore', id, '--zk', server.connectString, ...tls, '--into', '/restored', '--repo', repo, '--json']);
    assert.equal(restored.code, 0, restored.stderr);
    // The backup's root lands at /restored (created), and the 23 nodes of /app under it.
    assert.equal((JSON.parse(restored.stdout) as { created: number }).created, 24);
    const same = runCli(['diff', id, `zk://${server.connectString}/app`, ...tls, '--path', '/app', '--repo', repo, '--json']);
    assert.equal(same.code, 0, same.stderr);
    assert.equal((JSON.parse(same.stdout) as { same: boolean }).same, true);
    const sched = runCli([
      'schedule',
      '--cron',
      '* * * * * *',
      '--max-runs',
      '1',
      '--zk',
      server.connectString,
      ...tls,
      '--repo',
      repo,
      '--json',
    ]);
    assert.equal(sched.code, 0, sched.stderr);
    assert.equal((JSON.parse(sched.stdout) as { backups: string[] }).backups.length, 1);
    // The same with the servername the certificate carries, and through the environment.
    const named = runCli([
      'backup',
      '--zk',
      `127.0.0.1:${server.clientPort}`,
      '--zk-tls-servername',
      'localhost',
      ...tls,
      '--repo',
      repo,
      '--json',
    ]);
    assert.equal(named.code, 0, named.stderr);
    const env = runCli(['backup', '--zk', server.connectString, '--repo', repo, '--json'], {
      env: { ZKVAULT_ZK_TLS_CA: m.caFile, ZKVAULT_ZK_TLS_CERT: m.clientCertFile, ZKVAULT_ZK_TLS_KEY: m.clientKeyFile },
    });
    assert.equal(env.code, 0, env.stderr);
    // A certificate and its key in one PEM file (as `openssl pkcs12 -nodes` writes it), given to both flags.
    const both = join(work, 'client-both.pem');
    writeFileSync(both, Buffer.concat([readFileSync(m.clientKeyFile), readFileSync(m.clientCertFile)]));
    const one = runCli([
      'backup',
      '--zk',
      server.connectString,
      '--zk-tls-ca',
      m.caFile,
      '--zk-tls-cert',
      both,
      '--zk-tls-key',
      both,
      '--repo',
      repo,
      '--json',
    ]);
    assert.equal(one.code, 0, one.stderr);
    const listed = runCli(['list', '--repo', repo, '--json']);
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, 5);
  });

  for (const [name, args, pattern] of [
    ['without a client certificate', () => ['--zk-tls-ca', m.caFile], /refused our client certificate/],
    [
      'with the wrong CA',
      () => ['--zk-tls-ca', m.wrongCaFile, '--zk-tls-cert', m.clientCertFile, '--zk-tls-key', m.clientKeyFile],
      /not signed by a CA given with --zk-tls-ca/,
    ],
    [
      'with a client certificate from another CA',
      () => ['--zk-tls-ca', m.caFile, '--zk-tls-cert', m.foreignCertFile, '--zk-tls-key', m.foreignKeyFile],
      /refused our client certificate/,
    ],
    ['with a wrong servername', () => [...tls, '--zk-tls-servername', 'zk.example.com'], /does not name the host connected to/],
  ] as const) {
    test(`${name}: exit 12 naming the certificate problem, nothing stored`, () => {
      const repo = join(work, `bad-${name.replace(/\W+/g, '-')}`);
      const r = runCli(['backup', '--zk', server.connectString, ...args(), '--repo', repo]);
      assert.equal(r.code, 12, r.stderr);
      assert.match(r.stderr, /TLS to ZooKeeper at .* failed: /);
      assert.match(r.stderr, pattern);
    });
  }
});

describe('SASL DIGEST-MD5 required of every client', () => {
  const PASSWORD = 's3cret-Zk-Pa55w0rd';
  let server: ZkServer;
  let work = '';
  let saslFile = '';
  const ZKVAULT_ACL: AclEntry[] = [{ perms: 31, scheme: 'sasl', id: 'zkvault' }];
  before(async () => {
    work = await makeTempDir('zkvault-sasl-');
    const jaas = join(work, 'jaas.conf');
    writeFileSync(jaas, `Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_zkvault="${PASSWORD}";\n};\n`);
    server = await startStandalone({
      extraJvmArgs: [`-Djava.security.auth.login.config=${jaas}`],
      extraConfig: {
        'authProvider.1': 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider',
        'enforce.auth.enabled': 'true',
        'enforce.auth.schemes': 'sasl',
      },
    });
    saslFile = join(work, 'zk-sasl');
    writeFileSync(saslFile, `digest:zkvault:${PASSWORD}\n`, { mode: 0o600 });
    await populate({ sasl: { mechanism: 'DIGEST-MD5', username: 'zkvault', password: PASSWORD } }, server.connectString, ZKVAULT_ACL);
  });
  after(() => server?.destroy());

  test('backup and restore of a tree with sasl ACLs; the ACLs come back as they were', async () => {
    const repo = join(work, 'repo');
    const id = backupId(runCli(['backup', '--zk', server.connectString, '--zk-sasl-file', saslFile, '--repo', repo, '--json']));
    const r = runCli(['restore', id, '--zk', server.connectString, '--into', '/copy', '--repo', repo, '--json'], {
      env: { ZKVAULT_ZK_SASL: `digest:zkvault:${PASSWORD}` },
    });
    assert.equal(r.code, 0, r.stderr);
    const s = await openSession({
      connectString: server.connectString,
      sasl: { mechanism: 'DIGEST-MD5', username: 'zkvault', password: PASSWORD },
    });
    try {
      assert.deepEqual((await s.getAcl('/copy/app/config'))!.acl, ZKVAULT_ACL);
      assert.equal(Buffer.from((await s.getData('/copy/app/items/item-7'))!.data!).toString(), 'item 7');
    } finally {
      await s.close();
    }
  });

  test("a wrong password is exit 12 naming the mechanism and the server's answer; no SASL at all is exit 12 with a hint", () => {
    const wrong = runCli([
      'backup',
      '--zk',
      server.connectString,
      '--zk-sasl',
      'digest:zkvault:not-the-password',
      '--repo',
      join(work, 'wrong'),
    ]);
    assert.equal(wrong.code, 12, wrong.stderr);
    assert.match(wrong.stderr, /SASL DIGEST-MD5 with ZooKeeper at .* failed: the server answered SessionClosedRequireSaslAuth \(-124\)/);
    assert.doesNotMatch(wrong.stderr, /not-the-password/);
    const none = runCli(['backup', '--zk', server.connectString, '--repo', join(work, 'none')]);
    assert.equal(none.code, 12, none.stderr);
    assert.match(none.stderr, /requires SASL authentication/);
    assert.match(none.stderr, /--zk-sasl/);
  });

  test('no secret appears in any output, repository file or process list', async () => {
    const repo = join(work, 'secrets-repo');
    const outputs: string[] = [];
    const b = runCli(['backup', '--zk', server.connectString, '--zk-sasl-file', saslFile, '--repo', repo, '--json']);
    outputs.push(b.stdout, b.stderr);
    for (const args of [['list'], ['inspect', 'latest'], ['verify', '--all', '--deep'], ['export', 'latest']]) {
      const r = runCli([...args, '--repo', repo]);
      outputs.push(r.stdout, r.stderr);
    }
    // A long-lived daemon, given the secret by file: the process list never holds it.
    const daemon = spawnCli(['schedule', '--cron', '0 0 1 1 *', '--zk', server.connectString, '--zk-sasl-file', saslFile, '--repo', repo]);
    let stderr = '';
    daemon.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise((r) => setTimeout(r, 1500));
    const cmdlines = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      });
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.on('close', r));
    outputs.push(stderr);
    assert.ok(
      cmdlines.some((c) => c.includes('schedule')),
      'the daemon was in the process list',
    );
    assert.ok(!cmdlines.some((c) => c.includes(PASSWORD)), 'no process list entry holds the password');
    for (const o of outputs) assert.ok(!o.includes(PASSWORD), `an output holds the password: ${o.slice(0, 200)}`);
    for (const f of filesUnder(repo)) assert.ok(!f.bytes.includes(PASSWORD), `${f.path} holds the password`);
  });
});

describe('TLS and SASL together: the Kubernetes example for a secured ensemble runs as written', () => {
  const PASSWORD = 'k8s-Example-Pa55';
  let m: TlsMaterial;
  let server: ZkServer;
  before(async () => {
    m = await makeTlsMaterial();
    const jaas = join(m.dir, 'jaas.conf');
    writeFileSync(jaas, `Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_zkvault="${PASSWORD}";\n};\n`);
    const probe = { ca: readFileSync(m.caFile), cert: readFileSync(m.clientCertFile), key: readFileSync(m.clientKeyFile) };
    server = await startStandalone({
      tls: { config: tlsServerConfig(m), probe },
      extraJvmArgs: [`-Djava.security.auth.login.config=${jaas}`],
      extraConfig: {
        'authProvider.1': 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider',
        'enforce.auth.enabled': 'true',
        'enforce.auth.schemes': 'sasl',
      },
    });
    await populate({ tls: probe, sasl: { mechanism: 'DIGEST-MD5', username: 'zkvault', password: PASSWORD } }, server.connectString, [
      { perms: 31, scheme: 'sasl', id: 'zkvault' },
    ]);
  });
  after(() => server?.destroy());

  test("the CronJob's backup and prune, with its ConfigMap and Secret (files and endpoints swapped for the test's)", async () => {
    const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy', 'kubernetes', 'zkvault-cronjob-secure.yaml'), 'utf8')).map((d) =>
      d.toJS(),
    );
    const config = docs.find((d) => d.kind === 'ConfigMap').data as Record<string, string>;
    const secret = docs.find((d) => d.kind === 'Secret').stringData as Record<string, string>;
    const pod = docs.find((d) => d.kind === 'CronJob').spec.jobTemplate.spec.template.spec;
    const repo = join(await makeTempDir('zkvault-k8s-secure-'), 'repo');
    const env = {
      ...config,
      ...secret,
      ZKVAULT_ZK: server.connectString,
      ZKVAULT_REPO: repo,
      ZKVAULT_ZK_TLS_CA: m.caFile,
      ZKVAULT_ZK_TLS_CERT: m.clientCertFile,
      ZKVAULT_ZK_TLS_KEY: m.clientKeyFile,
      ZKVAULT_ZK_SASL: `digest:zkvault:${PASSWORD}`,
    };
    for (const c of [pod.initContainers[0], pod.containers[0]]) {
      const r = runCli(c.args as string[], { env });
      assert.equal(r.code, 0, `${c.name}: zkvault ${(c.args as string[]).join(' ')}\n${r.stderr}`);
      assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
    }
    const listed = JSON.parse(runCli(['list', '--repo', repo, '--json']).stdout) as Array<{ nodes: number }>;
    assert.equal(listed.length, 1);
    assert.ok(listed[0].nodes >= 23);
  });
});

describe('Kerberos (GSSAPI) against a real KDC', () => {
  let kdc: Kdc;
  let server: ZkServer;
  let work = '';
  before(async () => {
    kdc = await startKdc();
    work = await makeTempDir('zkvault-krb-');
    server = await startStandalone({
      extraJvmArgs: kerberosServerJvmArgs(kdc),
      extraConfig: {
        'authProvider.1': 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider',
        'enforce.auth.enabled': 'true',
        'enforce.auth.schemes': 'sasl',
      },
    });
    // This process authenticates too (to make the tree): the realm's configuration, and the keytab.
    Object.assign(process.env, kdc.env);
    await populate(
      { sasl: { mechanism: 'GSSAPI', service: 'zookeeper', principal: kdc.clientPrincipal, keytab: kdc.clientKeytab } },
      `localhost:${server.clientPort}`,
      [{ perms: 31, scheme: 'sasl', id: kdc.clientPrincipal }],
    );
  });
  after(async () => {
    await server?.destroy();
    kdc?.stop();
  });

  test('backup with a keytab, and a restore that reads it back', () => {
    const repo = join(work, 'repo');
    const krb = ['--zk-sasl', 'kerberos', '--zk-sasl-keytab', kdc.clientKeytab, '--zk-sasl-principal', kdc.clientPrincipal];
    const id = backupId(runCli(['backup', '--zk', `localhost:${server.clientPort}`, ...krb, '--repo', repo, '--json'], { env: kdc.env }));
    const r = runCli(['restore', id, '--zk', `localhost:${server.clientPort}`, ...krb, '--into', '/copy', '--repo', repo, '--json'], {
      env: kdc.env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { created: number }).created, 24, 'the root at /copy and the 23 nodes of /app');
  });

  test('a wrong service name is exit 12 naming GSSAPI and what Kerberos said', () => {
    const r = runCli(
      [
        'backup',
        '--zk',
        `localhost:${server.clientPort}`,
        '--zk-sasl',
        'kerberos',
        '--zk-sasl-keytab',
        kdc.clientKeytab,
        '--zk-sasl-principal',
        kdc.clientPrincipal,
        '--zk-sasl-service',
        'nosuchservice',
        '--repo',
        join(work, 'bad'),
      ],
      { env: kdc.env },
    );
    assert.equal(r.code, 12, r.stderr);
    assert.match(r.stderr, /SASL GSSAPI/);
    assert.match(r.stderr, /not found in Kerberos database/);
  });
});
