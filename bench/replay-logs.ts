// Child process for the benchmark: replay every log in a directory onto an empty tree, digests checked.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replayToZxid } from '../src/core/replay.js';

const dir = process.argv[2];
const logs = readdirSync(dir)
  .filter((n) => n.startsWith('log.'))
  .map((n) => ({ name: n, zxid: BigInt('0x' + n.slice(4)), read: () => readFileSync(join(dir, n)) }));
const r = replayToZxid([], logs);
process.stdout.write(
  `txns=${r.txnsApplied} digests=${r.digestsChecked} nodes=${r.tree.size} peakRssBytes=${process.resourceUsage().maxRSS * 1024}\n`,
);
