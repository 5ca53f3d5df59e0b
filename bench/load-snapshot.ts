// Child process for the benchmark: load one snapshot file (read, verify seals, build the tree).
import { readFileSync } from 'node:fs';
import { loadSnapshotTree } from '../src/core/snapshot-tree.js';

const file = process.argv[2];
const buf = readFileSync(file);
const { tree, info } = loadSnapshotTree(buf, file, 0n);
process.stdout.write(`nodes=${tree.size} seals=${info.seals} peakRssBytes=${process.resourceUsage().maxRSS * 1024}\n`);
