// Certificates for TLS tests, made with openssl and keytool in a temp dir: a CA, a server certificate
// for 127.0.0.1/localhost with the PKCS12 keystore and truststore a ZooKeeper server reads, a client
// certificate the server trusts, and a second CA (with its own client certificate) it does not.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './tmp.js';

export interface TlsMaterial {
  dir: string;
  /** PEM files for the client side. */
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA the server's certificate does not chain to, and a client certificate from it. */
  wrongCaFile: string;
  foreignCertFile: string;
  foreignKeyFile: string;
  /** The server's stores (PKCS12) and their password. */
  keyStore: string;
  trustStore: string;
  password: string;
}

const PASSWORD = 'changeit';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes every file in a new temp dir (a second or two: four RSA keys). */
export async function makeTlsMaterial(): Promise<TlsMaterial> {
  const dir = await makeTempDir('zkvault-tls-');
  const ca = (name: string) =>
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  const signed = (name: string, by: string, cn: string, ext: string) => {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${by}.crt`,
      '-CAkey',
      `${by}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
    ]);
  };
  ca('ca');
  ca('wrongca');
  signed(
    'server',
    'ca',
    'localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n',
  );
  const clientExt = 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n';
  signed('client', 'ca', 'zkvault-client', clientExt);
  signed('foreign', 'wrongca', 'foreign-client', clientExt);
  openssl(dir, [
    'pkcs12',
    '-export',
    '-in',
    'server.crt',
    '-inkey',
    'server.key',
    '-certfile',
    'ca.crt',
    '-name',
    'server',
    '-out',
    'server.p12',
    '-passout',
    `pass:${PASSWORD}`,
  ]);
  execFileSync(
    'keytool',
    [
      '-importcert',
      '-noprompt',
      '-alias',
      'ca',
      '-file',
      'ca.crt',
      '-keystore',
      'truststore.p12',
      '-storetype',
      'PKCS12',
      '-storepass',
      PASSWORD,
    ],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const f = (name: string) => path.join(dir, name);
  readFileSync(f('truststore.p12')); // fails loudly if keytool wrote nothing
  return {
    dir,
    caFile: f('ca.crt'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
    wrongCaFile: f('wrongca.crt'),
    foreignCertFile: f('foreign.crt'),
    foreignKeyFile: f('foreign.key'),
    keyStore: f('server.p12'),
    trustStore: f('truststore.p12'),
    password: PASSWORD,
  };
}

/** zoo.cfg lines for a server that listens only on a TLS port (Netty) and requires client certificates. */
export function tlsServerConfig(m: TlsMaterial): Record<string, string> {
  return {
    serverCnxnFactory: 'org.apache.zookeeper.server.NettyServerCnxnFactory',
    'ssl.keyStore.location': m.keyStore,
    'ssl.keyStore.password': m.password,
    'ssl.keyStore.type': 'PKCS12',
    'ssl.trustStore.location': m.trustStore,
    'ssl.trustStore.password': m.password,
    'ssl.trustStore.type': 'PKCS12',
    'ssl.clientAuth': 'need',
  };
}
