// Flags several commands share, each with its ZKVAULT_* environment variable, and what they turn into:
// a repository opened with typed S3 settings, ZooKeeper connection options.
import type { Command } from 'commander';
import { parseFixedDuration, parseRetentionDuration } from '../core/duration.js';
import { COUNT_RULES, policyKeepsSomething, type RetentionPolicy } from '../core/retention.js';
import { UsageError } from '../errors.js';
import { openRepository, type StorageRepository } from '../repository/repository.js';
import type { S3SettingsInput } from '../storage/location.js';
import { collect, envOption, optionText } from './env-options.js';

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

export function addRepoOption(cmd: Command): Command {
  cmd.addOption(envOption('--repo <location>', 'repository: a directory, file:///path or s3://bucket/prefix').default('./zkvault-repo'));
  return addS3Options(cmd);
}

/** Adds the S3 flags to a command that takes --repo (once). */
export function addS3Options(cmd: Command): Command {
  if (cmd.options.some((o) => o.long === '--s3-endpoint')) return cmd;
  for (const [flags, description] of S3_FLAGS) cmd.addOption(envOption(flags, description));
  return cmd;
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
  return openRepository(String(opts.repo), { ...o, s3: s3SettingsOf(opts) });
}

export function addZkOptions(cmd: Command, required = false): Command {
  const zk = envOption('--zk <connect>', 'ZooKeeper connect string, host:port[,host:port…][/chroot]');
  if (!required) zk.default('127.0.0.1:2181');
  return cmd
    .addOption(zk)
    .addOption(
      envOption('--auth <scheme:credentials>', 'add auth to every session, e.g. digest:alice:secret (repeatable; never printed)').argParser(
        collect,
      ),
    );
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
