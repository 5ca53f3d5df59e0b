// `zkvault diff A B`: compare two trees (backups, a backup at a zxid, live trees); exit 5 when they differ.
import type { Command } from 'commander';
import { envOption, type Runner } from '../cli.js';
import { UsageError } from '../errors.js';
import { addRepoOption } from './options.js';

function collect(value: string, previous: string[] | undefined): string[] {
  // The environment form may hold several entries, one per line (as --auth elsewhere).
  return [...(previous ?? []), ...value.split('\n').filter((v) => v.length > 0)];
}

const SOURCE = 'a backup id, ID@ZXID, latest, or zk://HOST:PORT[,HOST:PORT…][/path] (a live tree)';

export function register(program: Command, run: Runner): void {
  const cmd = program
    .command('diff')
    .description('compare two trees: added, removed and modified nodes (exit 0 when the same, 5 when different)')
    .argument('<a>', `the tree to compare from: ${SOURCE}`)
    .argument('<b>', 'the tree to compare to (same forms)')
    .addOption(envOption('--path <path>', 'compare only this znode and its descendants (an absolute server path)'))
    .addOption(
      envOption('--stat', 'also compare every stat field (czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner)'),
    )
    .addOption(envOption('--ignore-stat', 'compare data, ACL and type only (the default)'))
    .addOption(
      envOption(
        '--auth <scheme:credentials>',
        'add auth to live (zk://) sessions, e.g. digest:alice:secret (repeatable; never printed)',
      ).argParser(collect),
    );
  addRepoOption(cmd);
  cmd.action(async (a: string, b: string, opts) =>
    run(async ({ printer, signal }) => {
      if (opts.stat && opts.ignoreStat) throw new UsageError('give --stat or --ignore-stat, not both');
      const service = await import('../services/diff.js');
      const result = await service
        .diffSources({
          a,
          b,
          repo: opts.repo,
          path: opts.path,
          stat: Boolean(opts.stat),
          auth: opts.auth,
          signal,
          warn: (m) => printer.warn(m),
          onProgress: (m) => printer.progress(m),
        })
        .finally(() => printer.progressDone());
      const { renderDiff } = await import('../output/diff.js');
      printer.result(service.diffJson(result), () => renderDiff(result));
      return service.diffExitCode(result);
    }, opts),
  );
}
