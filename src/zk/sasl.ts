// SASL client mechanisms as ZooKeeper's server speaks them (tokens carried in OpCode.sasl requests):
//   DIGEST-MD5 (RFC 2831): realm "zk-sasl-md5", digest-uri "zookeeper/zk-sasl-md5", qop auth, md5-sess;
//     an empty first token, the response to the server's challenge, then the server's rspauth checked.
//   GSSAPI (RFC 4752), Kerberos through the `kerberos` package (an optional dependency that needs
//     libkrb5-dev to build): the AP-REQ, the AP-REP, then the security layer "none" with our identity.
// Credentials stay in memory: never printed, logged or passed to another process.
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { AuthError } from '../errors.js';
import type { ZkSaslOptions } from './types.js';

/** One side of a SASL exchange: the first token, then an answer to each server token (null: done). */
export interface SaslMechanism {
  readonly name: string;
  initial(): Promise<Buffer>;
  /** The answer to a server token; null once the exchange is complete on our side. */
  step(serverToken: Buffer | null): Promise<Buffer | null>;
}

/** The mechanism for `o`; GSSAPI authenticates to `service@host`, host being the server connected to. */
export function saslMechanism(o: ZkSaslOptions, host: string): SaslMechanism {
  return o.mechanism === 'DIGEST-MD5' ? new DigestMd5(o.username, o.password) : new Gssapi(`${o.service}@${host}`, o.principal, o.keytab);
}

const md5 = (...parts: Array<string | Buffer>) =>
  createHash('md5')
    .update(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))))
    .digest();

/** `key=value` and `key="quoted, value"` directives, as DIGEST-MD5 challenges carry them. */
export function parseDirectives(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ',' || text[i] === ' ') i++;
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const key = text.slice(i, eq).trim();
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i++;
        value += text[i++];
      }
      i++;
    } else {
      const comma = text.indexOf(',', i);
      value = text.slice(i, comma < 0 ? text.length : comma);
      i = comma < 0 ? text.length : comma;
    }
    out[key] = value;
  }
  return out;
}

class DigestMd5 implements SaslMechanism {
  readonly name = 'DIGEST-MD5';
  private expectedRspauth: string | null = null;

  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  initial(): Promise<Buffer> {
    return Promise.resolve(Buffer.alloc(0)); // DIGEST-MD5 has no initial response
  }

  step(token: Buffer | null): Promise<Buffer | null> {
    const text = (token ?? Buffer.alloc(0)).toString('utf8');
    if (this.expectedRspauth !== null) {
      if (parseDirectives(text).rspauth !== this.expectedRspauth) {
        throw new AuthError('SASL DIGEST-MD5: the server did not prove it knows the password (its rspauth is wrong)', {
          hint: 'the server answering is not the one configured with these credentials',
        });
      }
      return Promise.resolve(null);
    }
    const ch = parseDirectives(text);
    if (
      (ch.algorithm ?? '') !== 'md5-sess' ||
      !(ch.qop ?? 'auth')
        .split(',')
        .map((q) => q.trim())
        .includes('auth') ||
      !ch.nonce
    ) {
      throw new AuthError(
        `SASL DIGEST-MD5: the server's challenge is not one this client answers (algorithm ${ch.algorithm ?? 'none'}, qop ${ch.qop ?? 'auth'})`,
      );
    }
    const realm = ch.realm ?? 'zk-sasl-md5';
    const digestUri = `zookeeper/${realm}`;
    const cnonce = randomBytes(16).toString('base64').replace(/[=+/]/g, '');
    const nc = '00000001';
    const a1 = Buffer.concat([md5(`${this.username}:${realm}:${this.password}`), Buffer.from(`:${ch.nonce}:${cnonce}`)]);
    const ha1 = md5(a1).toString('hex');
    const kd = (a2: string) => md5(`${ha1}:${ch.nonce}:${nc}:${cnonce}:auth:${md5(a2).toString('hex')}`).toString('hex');
    this.expectedRspauth = kd(`:${digestUri}`);
    const q = (s: string) => '"' + s.replace(/(["\\])/g, '\\$1') + '"';
    return Promise.resolve(
      Buffer.from(
        `charset=utf-8,username=${q(this.username)},realm=${q(realm)},nonce=${q(ch.nonce)},nc=${nc},cnonce=${q(cnonce)},` +
          `digest-uri=${q(digestUri)},maxbuf=65536,response=${kd(`AUTHENTICATE:${digestUri}`)},qop=auth`,
        'utf8',
      ),
    );
  }
}

interface KerberosClient {
  contextComplete: boolean;
  username: string;
  step(challenge: string): Promise<string>;
  unwrap(challenge: string): Promise<string>;
  wrap(challenge: string, options?: { protect?: boolean }): Promise<string>;
}
interface KerberosModule {
  initializeClient(service: string, options?: { mechOID?: unknown; principal?: string }): Promise<KerberosClient>;
  GSS_MECH_OID_KRB5: unknown;
}

function loadKerberos(): KerberosModule {
  try {
    return createRequire(import.meta.url)('kerberos') as KerberosModule;
  } catch (err) {
    throw new AuthError('SASL GSSAPI needs the kerberos package, which is not installed or did not build', {
      hint: 'install libkrb5-dev (apt-get install -y libkrb5-dev), then npm install in the zkvault directory',
      cause: err,
    });
  }
}

class Gssapi implements SaslMechanism {
  readonly name = 'GSSAPI';
  private client: KerberosClient | undefined;
  private layerDone = false;

  constructor(
    /** `service@host`, the GSSAPI name of the server's principal `service/host@REALM`. */
    private readonly service: string,
    private readonly principal: string | undefined,
    private readonly keytab: string | undefined,
  ) {}

  async initial(): Promise<Buffer> {
    const kerberos = loadKerberos();
    // MIT Kerberos takes a client keytab from the environment; it is set for this process only.
    if (this.keytab) process.env.KRB5_CLIENT_KTNAME = this.keytab;
    try {
      this.client = await kerberos.initializeClient(this.service, {
        mechOID: kerberos.GSS_MECH_OID_KRB5,
        ...(this.principal ? { principal: this.principal } : {}),
      });
      return Buffer.from(await this.client.step(''), 'base64');
    } catch (err) {
      throw new AuthError(`SASL GSSAPI: cannot start Kerberos for service ${this.service}: ${(err as Error).message}`, {
        hint: 'kinit first (or give --zk-sasl-keytab and --zk-sasl-principal); check KRB5_CONFIG and that the service principal exists',
        cause: err,
      });
    }
  }

  async step(token: Buffer | null): Promise<Buffer | null> {
    const c = this.client!;
    const b64 = (b: Buffer | null) => (b ?? Buffer.alloc(0)).toString('base64');
    if (!c.contextComplete) return Buffer.from((await c.step(b64(token))) || '', 'base64');
    if (this.layerDone) return null;
    // The server offers security layers (1 byte) and a max buffer (3 bytes), wrapped; we take none.
    const offer = Buffer.from(await c.unwrap(b64(token)), 'base64');
    if (offer.length < 4 || !(offer[0] & 1)) throw new AuthError('SASL GSSAPI: the server does not offer the "no security layer" option');
    this.layerDone = true;
    const answer = Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from(c.username, 'utf8')]);
    return Buffer.from(await c.wrap(answer.toString('base64'), { protect: false }), 'base64');
  }
}
