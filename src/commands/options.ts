// Flags several commands share, each with its ZKVAULT_* environment variable.
import type { Command } from 'commander';
import { envNameOf, envOption } from '../cli.js';

function collect(value: string, previous: string[] | undefined): string[] {
  // The environment form may hold several entries, one per line.
  return [...(previous ?? []), ...value.split('\n').filter((v) => v.length > 0)];
}

export function addRepoOption(cmd: Command): Command {
  cmd.addOption(envOption('--repo <location>', 'repository: a directory, file:///path or s3://bucket/prefix').default('./zkvault-repo'));
  return addS3Options(cmd);
}

/** The S3 flags; each sets the ZKVAULT_S3_* variable of its name, which is where storage reads it. */
const S3_FLAGS: Array<[flags: string, description: string]> = [
  ['--s3-endpoint <url>', 'S3-compatible endpoint for s3:// repositories, e.g. http://127.0.0.1:9000 (MinIO, Ceph); default: AWS S3'],
  ['--s3-force-path-style', 'address buckets as endpoint/bucket/key rather than bucket.endpoint/key (MinIO, Ceph)'],
  ['--s3-region <region>', 'S3 region (default: AWS_REGION or the AWS profile, else us-east-1)'],
  ['--s3-sse <AES256|aws:kms>', 'server-side encryption of every object zkvault stores'],
  ['--s3-sse-kms-key-id <key>', 'KMS key id or ARN for --s3-sse aws:kms (default: the AWS managed key)'],
  ['--s3-storage-class <class>', 'storage class of backup archives, e.g. STANDARD_IA (manifests and locks stay STANDARD)'],
];

/**
 * Adds the S3 flags to a command that takes --repo (once), and before its action copies the flags
 * given on the command line into their ZKVAULT_S3_* variables: storage/location.ts reads S3 settings
 * from there, so no service needs an S3 parameter. Values that came from the environment are already
 * there; a flag on the command line wins, as everywhere.
 */
export function addS3Options(cmd: Command): Command {
  if (cmd.options.some((o) => o.long === '--s3-endpoint')) return cmd;
  const added = S3_FLAGS.map(([flags, description]) => envOption(flags, description));
  for (const opt of added) cmd.addOption(opt);
  cmd.hook('preAction', (_self, action) => {
    for (const opt of added) {
      const name = opt.attributeName();
      const envName = envNameOf(opt);
      if (envName === undefined || action.getOptionValueSource(name) !== 'cli') continue;
      const value: unknown = action.getOptionValue(name);
      process.env[envName] = value === true ? 'true' : String(value);
    }
  });
  return cmd;
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
