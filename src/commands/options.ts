// Flags several commands share, each with its ZKVAULT_* environment variable.
import type { Command } from 'commander';
import { envOption } from '../cli.js';

function collect(value: string, previous: string[] | undefined): string[] {
  // The environment form may hold several entries, one per line.
  return [...(previous ?? []), ...value.split('\n').filter((v) => v.length > 0)];
}

export function addRepoOption(cmd: Command): Command {
  return cmd.addOption(envOption('--repo <location>', 'repository: a directory, file:///path or s3://bucket/prefix').default('./zkvault-repo'));
}

export function addZkOptions(cmd: Command, required = false): Command {
  const zk = envOption('--zk <connect>', 'ZooKeeper connect string, host:port[,host:port…][/chroot]');
  if (!required) zk.default('127.0.0.1:2181');
  return cmd
    .addOption(zk)
    .addOption(envOption('--auth <scheme:credentials>', 'add auth to every session, e.g. digest:alice:secret (repeatable; never printed)').argParser(collect));
}
