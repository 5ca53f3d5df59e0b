// `zkvault export`: placeholder until the formats engine lands.
import type { Command } from 'commander';
import type { Runner } from '../cli.js';
import { InternalError } from '../errors.js';

export function register(program: Command, run: Runner): void {
  program
    .command('export')
    .description('print a tree as NDJSON, one node per line')
    .action(async (opts) => run(async () => { throw new InternalError('export is not built yet'); }, opts));
}
