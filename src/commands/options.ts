// Flags several commands share, each with its ZKVAULT_* environment variable, and what they turn into:
// a repository opened with typed S3 settings, ZooKeeper connection options.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ZkAccess, ZkSaslOptions } from '../zk/client.js';
import { DEFAULT_MAX_SESSIONS } from '../core/connect-string.js';
import { parseFixedDuration, parseRetentionDuration } from '../core/duration.js';
import { COUNT_RULES, policyKeepsSomething, type RetentionPolicy } from '../core/retention.js';
import { UsageError } from '../errors.js';
import { openRepository, type StorageRepository } from '../repository/repository.js';
import type { S3SettingsInput } from '../storage/location.js';
import { collect, envOption, optionText } from './env-options.js';
import { addPasswordOptions, passwordSourceOf } from './password.js';

/** The S3 flags every command taking --repo has, and the setting each fills. */
const S3_FLAGS: Array<[flags: string, description: string, setting: keyof S3SettingsInput, writeOnly?: boolean]> = [
  [
    '--s3-endpoint <url>',
    'S3-compatible endpoint for s3:// repositories, e.g. http://127.0.0.1:9000 (MinIO, Ceph); default: AWS S3',
    'endpoint',
  ],
  ['--s3-force-path-style', 'address buckets as endpoint/bucket/key rather than bucket.endpoint/key (MinIO, Ceph)', 'forcePathStyle'],
  ['--s3-region <region>', 'S3 region (default: AWS_REGION or the AWS profile, else us-east-1)', 'region'],
  ['--s3-sse <AES256|aws:kms>', 'server-side encryption of every object zkvault stores', 'sse', true],
  ['--s3-sse-kms-key-id <key>', 'KMS key id or ARN for --s3-sse aws:kms (default: the AWS managed key)', 'sseKmsKeyId', true],
  [
    '--s3-storage-class <class>',
    'storage class of backup archives, e.g. STANDARD_IA (manifests and locks stay STANDARD)',
    'storageClass',
    true,
  ],
];

/**
 * --repo and the S3 flags. A command that only reads the repository (`readOnly`) lists the flags that
 * reach the store, not those that shape new objects (--s3-sse, --s3-sse-kms-key-id, --s3-storage-class):
 * it still accepts and checks them, hidden, so that scripts passing one set of flags to every command
 * keep working.
 */
export function addRepoOption(cmd: Command, o: { readOnly?: boolean } = {}): Command {
  cmd.addOption(envOption('--repo <location>', 'repository: a directory, file:///path or s3://bucket/prefix').default('./zkvault-repo'));
  for (const [flags, description, , writeOnly] of S3_FLAGS) {
    const option = envOption(flags, description);
    cmd.addOption(o.readOnly && writeOnly ? option.hideHelp() : option);
  }
  return addPasswordOptions(cmd);
}

/** The S3 settings a command was given (flag, else its ZKVAULT_S3_* variable), unchecked. */
export function s3SettingsOf(opts: Record<string, unknown>): S3SettingsInput {
  const out: S3SettingsInput = {};
  for (const [flags, , setting] of S3_FLAGS) {
    const key = flags
      .replace(/^--/, '')
      .replace(/ .*$/, '')
      .replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const value = opts[key];
    if (value === undefined) continue;
    if (setting === 'forcePathStyle') out.forcePathStyle = value === true;
    else out[setting] = optionText(value);
  }
  return out;
}

/** Opens the repository a command names with --repo and the S3 flags. */
export function openRepo(
  opts: Record<string, unknown>,
  o: { create?: boolean; signal?: AbortSignal; warn?: (message: string) => void },
): Promise<StorageRepository> {
  const password = passwordSourceOf(opts);
  const encryption = {
    ...(password ? { password: () => password.read(), passwordFrom: password.describe } : {}),
    encrypt: opts.encrypt === true,
  };
  return openRepository(String(opts.repo), { ...o, s3: s3SettingsOf(opts), encryption });
}

/** --encrypt, for the commands that may create a repository. */
export function addEncryptOption(cmd: Command): Command {
  return cmd.addOption(
    envOption(
      '--encrypt',
      'create a new repository encrypted (AES-256-GCM) with the password of ZKVAULT_PASSWORD/--password-file/--password-command',
    ),
  );
}

export function addZkOptions(cmd: Command, required = false): Command {
  const zk = envOption('--zk <connect>', 'ZooKeeper connect string, host:port[,host:port…][/chroot]');
  if (!required) zk.default('127.0.0.1:2181');
  return addZkAccessOptions(cmd.addOption(zk));
}

/**
 * How sessions reach and authenticate to an ensemble: --auth (and --auth-file), TLS and SASL. Secrets
 * on the command line are visible to every user of the host in `ps`: the help says so, and each has a
 * file or environment form.
 */
export function addZkAccessOptions(cmd: Command): Command {
  const argvNote = '; argv is visible to other users of this host: prefer the file or ZKVAULT_ variable';
  return cmd
    .addOption(
      envOption(
        '--auth <scheme:credentials>',
        `add auth to every session, e.g. digest:alice:secret (repeatable; never printed${argvNote})`,
      ).argParser(collect),
    )
    .addOption(envOption('--auth-file <file>', 'read --auth entries from a file, one SCHEME:CREDENTIALS per line'))
    .addOption(envOption('--zk-tls', "connect over TLS (the servers' secureClientPort); hostname verification is always on"))
    .addOption(envOption('--zk-tls-ca <file>', "PEM CA bundle the servers' certificates chain to (implies --zk-tls)"))
    .addOption(envOption('--zk-tls-cert <file>', 'PEM client certificate, for servers with ssl.clientAuth=need (implies --zk-tls)'))
    .addOption(envOption('--zk-tls-key <file>', 'PEM private key of --zk-tls-cert (implies --zk-tls)'))
    .addOption(
      envOption(
        '--zk-tls-servername <name>',
        "the name the servers' certificates carry, when not the connect string's host (implies --zk-tls)",
      ),
    )
    .addOption(envOption('--zk-sasl <spec>', `SASL: digest:USER:PASSWORD (DIGEST-MD5) or kerberos (GSSAPI)${argvNote}`))
    .addOption(envOption('--zk-sasl-file <file>', 'read --zk-sasl from a file (one line)'))
    .addOption(envOption('--zk-sasl-keytab <file>', 'kerberos: the client keytab (default: the credential cache, e.g. after kinit)'))
    .addOption(envOption('--zk-sasl-principal <principal>', 'kerberos: the client principal in the keytab, e.g. zkvault@EXAMPLE.COM'))
    .addOption(
      envOption('--zk-sasl-service <name>', "kerberos: the service of the servers' principal SERVICE/HOST@REALM").default('zookeeper'),
    );
}

function readOptionFile(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag} ${file} cannot be read: ${(err as Error).message}`, { hint: `give ${flag} a readable file` });
  }
}

/** The session access the flags give: --auth entries, TLS material (files read), SASL. */
export function zkAccessOf(opts: Record<string, unknown>): ZkAccess {
  const auth = [...((opts.auth as string[] | undefined) ?? [])];
  if (typeof opts.authFile === 'string') {
    for (const line of readOptionFile(opts.authFile, '--auth-file').split(/\r?\n/))
      if (line.trim() !== '' && !line.startsWith('#')) auth.push(line.trim());
  }
  const access: ZkAccess = auth.length > 0 ? { auth } : {};
  const tlsFlags = ['zkTlsCa', 'zkTlsCert', 'zkTlsKey', 'zkTlsServername'];
  if (opts.zkTls === true || tlsFlags.some((f) => opts[f] !== undefined)) {
    if ((opts.zkTlsCert === undefined) !== (opts.zkTlsKey === undefined)) {
      throw new UsageError('--zk-tls-cert and --zk-tls-key go together', {
        hint: 'give the client certificate and its key, both as PEM files',
      });
    }
    access.tls = {
      ...(typeof opts.zkTlsCa === 'string' ? { ca: readOptionFile(opts.zkTlsCa, '--zk-tls-ca') } : {}),
      ...(typeof opts.zkTlsCert === 'string' ? { cert: readOptionFile(opts.zkTlsCert, '--zk-tls-cert') } : {}),
      ...(typeof opts.zkTlsKey === 'string' ? { key: readOptionFile(opts.zkTlsKey, '--zk-tls-key') } : {}),
      ...(typeof opts.zkTlsServername === 'string' ? { servername: opts.zkTlsServername } : {}),
    };
  }
  let spec = typeof opts.zkSasl === 'string' ? opts.zkSasl : undefined;
  if (typeof opts.zkSaslFile === 'string') {
    if (spec !== undefined) throw new UsageError('give --zk-sasl or --zk-sasl-file, not both');
    spec = readOptionFile(opts.zkSaslFile, '--zk-sasl-file').trim();
  }
  if (spec !== undefined) access.sasl = parseSaslSpec(spec, opts);
  return access;
}

function parseSaslSpec(spec: string, opts: Record<string, unknown>): ZkSaslOptions {
  if (spec === 'kerberos' || spec === 'gssapi') {
    return {
      mechanism: 'GSSAPI',
      service: typeof opts.zkSaslService === 'string' ? opts.zkSaslService : 'zookeeper',
      ...(typeof opts.zkSaslPrincipal === 'string' ? { principal: opts.zkSaslPrincipal } : {}),
      ...(typeof opts.zkSaslKeytab === 'string' ? { keytab: opts.zkSaslKeytab } : {}),
    };
  }
  const m = /^digest:([^:]+):(.+)$/s.exec(spec);
  // The spec holds a password: never echo it.
  if (!m)
    throw new UsageError('--zk-sasl is neither digest:USER:PASSWORD nor kerberos', {
      hint: 'e.g. --zk-sasl-file /run/secrets/zk-sasl holding digest:zkvault:PASSWORD',
    });
  return { mechanism: 'DIGEST-MD5', username: m[1], password: m[2] };
}

const RULE_HELP: Record<(typeof COUNT_RULES)[number], string> = {
  last: 'keep the N newest backups',
  hourly: 'keep the newest backup of each of the N newest hours that have one (UTC)',
  daily: 'keep the newest backup of each of the N newest days that have one (UTC)',
  weekly: 'keep the newest backup of each of the N newest ISO weeks that have one (UTC)',
  monthly: 'keep the newest backup of each of the N newest months that have one (UTC)',
  yearly: 'keep the newest backup of each of the N newest years that have one (UTC)',
};

/** The --keep-* flags and --group-by (prune and schedule share them). */
export function addKeepOptions(cmd: Command): Command {
  for (const rule of COUNT_RULES) cmd.addOption(envOption(`--keep-${rule} <n>`, RULE_HELP[rule]));
  return cmd
    .addOption(envOption('--keep-within <duration>', 'keep every backup within this long of the newest one, e.g. 7d, 36h, 6mo, 1y'))
    .addOption(
      envOption('--group-by <how>', 'series: count each kind+source apart; none: one history for the whole repository').default('series'),
    )
    .addOption(
      envOption('--orphan-grace <duration>', 'remove archives without a manifest (and unfinished uploads) once this old').default('1h'),
    );
}

function parseCount(value: unknown, flag: string): number {
  if (value === undefined) return 0;
  const text = optionText(value).trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} ${optionText(value)} is not a whole number of 0 or more`);
  }
  return Number(text);
}

export interface KeepFlags {
  policy: RetentionPolicy;
  orphanGraceMs: number;
}

/**
 * The retention policy the --keep-* flags give, or null when no --keep-* flag was given at all.
 * A policy that keeps nothing (every count 0) is a UsageError: it would remove every backup.
 */
export function keepFlagsFrom(opts: Record<string, unknown>): KeepFlags | null {
  const given = COUNT_RULES.some((r) => opts[`keep${r[0].toUpperCase()}${r.slice(1)}`] !== undefined) || opts.keepWithin !== undefined;
  if (!given) return null;
  const counts = Object.fromEntries(
    COUNT_RULES.map((r) => [r, parseCount(opts[`keep${r[0].toUpperCase()}${r.slice(1)}`], `--keep-${r}`)]),
  ) as Record<(typeof COUNT_RULES)[number], number>;
  const groupBy = optionText(opts.groupBy ?? 'series');
  if (groupBy !== 'series' && groupBy !== 'none') throw new UsageError(`--group-by ${groupBy}: give series or none`);
  const policy: RetentionPolicy = {
    ...counts,
    within: opts.keepWithin === undefined ? null : parseRetentionDuration(optionText(opts.keepWithin)),
    groupBy,
  };
  if (!policyKeepsSomething(policy)) {
    throw new UsageError('every --keep-* rule is 0: this policy would remove every backup', {
      hint: 'give at least one rule above 0, e.g. --keep-last 1',
    });
  }
  return { policy, orphanGraceMs: parseFixedDuration(optionText(opts.orphanGrace ?? '1h'), '--orphan-grace') };
}

/** How a logical backup reads: sessions, reads in flight, and a rate cap (backup and schedule share them). */
export function addLogicalReadOptions(cmd: Command): Command {
  return cmd
    .addOption(
      envOption(
        '--sessions <n>',
        `logical: sessions to read with, spread over the servers in --zk (default: one per server, at most ${DEFAULT_MAX_SESSIONS})`,
      ),
    )
    .addOption(
      envOption('--max-inflight <n>', 'logical: nodes read at once over all sessions, each up to 3 requests (default: 64 per session)'),
    )
    .addOption(envOption('--concurrency <n>', 'logical: the same as --max-inflight (older name)').hideHelp())
    .addOption(
      envOption('--rate <nodes/s>', 'logical: read at most this many nodes per second, for busy production ensembles (default: no limit)'),
    );
}

export interface LogicalReadFlags {
  sessions?: number;
  concurrency?: number;
  rate?: number;
}

function wholeIn(value: unknown, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} ${optionText(value)} is not a whole number from 1 to ${max}`);
  return n;
}

export function logicalReadOf(opts: Record<string, unknown>): LogicalReadFlags {
  if (opts.maxInflight !== undefined && opts.concurrency !== undefined)
    throw new UsageError('give --max-inflight or --concurrency, not both');
  const sessions = wholeIn(opts.sessions, '--sessions', 64);
  const concurrency = wholeIn(
    opts.maxInflight ?? opts.concurrency,
    opts.maxInflight !== undefined ? '--max-inflight' : '--concurrency',
    10_000,
  );
  const rate = wholeIn(opts.rate, '--rate', 10_000_000);
  return { ...(sessions ? { sessions } : {}), ...(concurrency ? { concurrency } : {}), ...(rate ? { rate } : {}) };
}
