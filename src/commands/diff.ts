// `zkvault diff A B`: compare two trees (backups, a backup at a zxid, live trees); exit 5 when they differ.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { GlobalOptions, Runner } from './context.js';
import { envOption } from './env-options.js';
import { addRepoOption, addZkAccessOptions, openRepo, zkAccessOf } from './options.js';

interface DiffFlags extends GlobalOptions, Record<string, unknown> {
  path?: string;
  stat?: boolean;
  ignoreStat?: boolean;
  auth?: string[];
  repo: string;
}

const SOURCE = 'a backup id (or a unique prefix of one), ID@ZXID, latest, or zk://HOST:PORT[,HOST:PORT…][/path] (a live tree)';

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
    .addOption(envOption('--ignore-stat', 'compare data, ACL and type only (the default)'));
  addZkAccessOptions(cmd);
  addRepoOption(cmd, { readOnly: true });
  cmd.action(async (a: string, b: string, opts: DiffFlags) =>
    run(async ({ printer, signal }) => {
      if (opts.stat && opts.ignoreStat) throw new UsageError('give --stat or --ignore-stat, not both');
      const service = await import('../services/diff.js');
      const result = await service
        .diffSources({
          a,
          b,
          repo: () => openRepo(opts, { signal, warn: (m) => printer.warn(m) }),
          path: opts.path,
          stat: Boolean(opts.stat),
          access: zkAccessOf(opts),
          signal,
          warn: (m) => printer.warn(m),
          onProgress: (m) => printer.progress(m),
        })
        .finally(() => printer.progressDone());
      const { diffJson, renderDiff } = await import('../output/diff.js');
      printer.result(diffJson(result), () => renderDiff(result));
      if (result.uncomparable) printer.error(result.uncomparable.message, result.uncomparable.hint);
      return service.diffExitCode(result);
    }, opts),
  );
}
