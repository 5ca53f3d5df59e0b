// A throw-away Kerberos realm for tests: Debian's MIT KDC (krb5-kdc, krb5-admin-server) run from a temp
// dir on a free loopback port, with a service principal for ZooKeeper (zookeeper/localhost) and a
// client principal, each with a keytab. Nothing reads /etc/krb5.conf: KRB5_CONFIG and KRB5_KDC_PROFILE
// point at the realm's own files. The KDC is killed when the test process ends.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePorts } from './zk-harness.js';
import { makeTempDir, onProcessExit } from './tmp.js';

export const REALM = 'ZKVAULT.TEST';

export interface Kdc {
  dir: string;
  /** krb5.conf for clients (and for the ZooKeeper JVM: -Djava.security.krb5.conf). */
  krb5Conf: string;
  /** The environment a Kerberos client of this realm needs (KRB5_CONFIG, a private credential cache). */
  env: Record<string, string>;
  serverKeytab: string;
  serverPrincipal: string;
  clientKeytab: string;
  clientPrincipal: string;
  stop(): void;
}

/** Why this machine cannot run a KDC (a missing tool), or null. */
export function kdcMissing(): string | null {
  for (const tool of ['kdb5_util', 'kadmin.local', 'krb5kdc']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      return `${tool} is missing: install krb5-kdc and krb5-admin-server (bash scripts/install-deps.sh does)`;
    }
  }
  return null;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): void {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

export async function startKdc(): Promise<Kdc> {
  const missing = kdcMissing();
  if (missing) throw new Error(`This test needs a Kerberos KDC: ${missing}`);
  const dir = await makeTempDir('zkvault-kdc-');
  const [port] = await freePorts(1);
  const krb5Conf = path.join(dir, 'krb5.conf');
  const kdcConf = path.join(dir, 'kdc.conf');
  writeFileSync(
    krb5Conf,
    `[libdefaults]
  default_realm = ${REALM}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
  default_ccache_name = FILE:${path.join(dir, 'ccache')}
[realms]
  ${REALM} = {
    kdc = 127.0.0.1:${port}
  }
[domain_realm]
  localhost = ${REALM}
`,
  );
  writeFileSync(
    kdcConf,
    `[kdcdefaults]
  kdc_ports = ${port}
  kdc_tcp_ports = ${port}
[realms]
  ${REALM} = {
    database_name = ${path.join(dir, 'principal')}
    key_stash_file = ${path.join(dir, 'stash')}
    acl_file = ${path.join(dir, 'kadm5.acl')}
    kdc_listen = 127.0.0.1:${port}
    kdc_tcp_listen = 127.0.0.1:${port}
    max_life = 24h
    master_key_type = aes256-cts-hmac-sha1-96
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:${path.join(dir, 'kdc.log')}
  default = FILE:${path.join(dir, 'krb5lib.log')}
`,
  );
  writeFileSync(path.join(dir, 'kadm5.acl'), '');
  const env = { ...process.env, KRB5_CONFIG: krb5Conf, KRB5_KDC_PROFILE: kdcConf };
  const serverPrincipal = `zookeeper/localhost@${REALM}`;
  const clientPrincipal = `zkvault@${REALM}`;
  const serverKeytab = path.join(dir, 'zookeeper.keytab');
  const clientKeytab = path.join(dir, 'zkvault.keytab');
  run('kdb5_util', ['create', '-s', '-r', REALM, '-P', 'master-key-of-a-test-realm'], env);
  run('kadmin.local', ['-r', REALM, '-q', `addprinc -randkey ${serverPrincipal}`], env);
  run('kadmin.local', ['-r', REALM, '-q', `addprinc -randkey ${clientPrincipal}`], env);
  run('kadmin.local', ['-r', REALM, '-q', `ktadd -k ${serverKeytab} ${serverPrincipal}`], env);
  run('kadmin.local', ['-r', REALM, '-q', `ktadd -k ${clientKeytab} ${clientPrincipal}`], env);
  // -n: stay in the foreground, so this process owns it and can stop it.
  const child: ChildProcess = spawn('krb5kdc', ['-n', '-r', REALM], { env, stdio: 'ignore' });
  child.unref();
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  onProcessExit(stop);
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`krb5kdc exited (${child.exitCode}); see ${path.join(dir, 'kdc.log')}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 100) throw new Error(`krb5kdc did not listen on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    krb5Conf,
    env: { KRB5_CONFIG: krb5Conf, KRB5CCNAME: `FILE:${path.join(dir, 'ccache')}` },
    serverKeytab,
    serverPrincipal,
    clientKeytab,
    clientPrincipal,
    stop,
  };
}

/** The JAAS file and JVM flags that make a ZooKeeper server accept Kerberos (GSSAPI) clients. */
export function kerberosServerJvmArgs(kdc: Kdc): string[] {
  const jaas = path.join(kdc.dir, 'jaas-zookeeper.conf');
  writeFileSync(
    jaas,
    `Server {
  com.sun.security.auth.module.Krb5LoginModule required
  useKeyTab=true
  keyTab="${kdc.serverKeytab}"
  storeKey=true
  useTicketCache=false
  doNotPrompt=true
  principal="${kdc.serverPrincipal}";
};
`,
  );
  return [`-Djava.security.auth.login.config=${jaas}`, `-Djava.security.krb5.conf=${kdc.krb5Conf}`];
}
