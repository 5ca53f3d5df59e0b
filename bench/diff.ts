// Benchmark for `zkvault diff`: two generated trees of 100k nodes each (scale with ZKVAULT_BENCH_SCALE)
// with ~2% of nodes changed (data, ACL, added, removed).
//   in-process    DataTrees built in memory, then the sorted merge over their records: time and peak RSS
//   whole process `zkvault diff A B` on two logical backups in a local repository (archive extraction,
//                 snapshot load, merge, output): wall time and peak RSS of the CLI process
// Run: npm run build && node dist/bench/diff.js   (ZKVAULT_BENCH_KEEP=1 keeps the repository)
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffTrees } from '../src/core/diff.js';
import type { AclEntry, NodeRecord } from '../src/core/node-record.js';
import { DataTree } from '../src/core/tree.js';
import { formatZxid } from '../src/core/zxid.js';
import { openRepository } from '../src/repository/repository.js';
import { treeRecords } from '../src/services/diff.js';
import { SnapshotSpool } from '../src/datadir/snapshot-spool.js';
import { fmtMB, measureProcess } from './measure.js';

const scale = Number(process.env.ZKVAULT_BENCH_SCALE ?? '1');
const NODES = Math.round(100_000 * scale);
const PER_PARENT = 1000;
const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const READ: AclEntry[] = [{ perms: 1, scheme: 'world', id: 'anyone' }];
const here = fileURLToPath(new URL('.', import.meta.url));
const BIN = resolve(here, '../../bin/zkvault');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

interface GenNode {
  path: string;
  data: Buffer;
  acl: AclEntry[];
  zxid: bigint;
  children: number;
}

/**
 * Tree A and tree B in creation order (parents first). B differs from A in about 1% of the data,
 * 0.2% of the ACLs, 0.5% of nodes removed and 0.5% added.
 */
function generate(): { a: GenNode[]; b: GenNode[]; expected: { added: number; removed: number; modified: number } } {
  const rand = rng(42);
  const a: GenNode[] = [];
  const b: GenNode[] = [];
  const expected = { added: 0, removed: 0, modified: 0 };
  let zxid = 1n;
  const root = { path: '/', data: Buffer.alloc(0), acl: OPEN, zxid: 0n, children: 0 };
  a.push(root);
  b.push({ ...root });
  const parents = Math.ceil(NODES / PER_PARENT);
  for (let p = 0; p < parents; p++) {
    const parent = `/service-${String(p).padStart(4, '0')}`;
    const pa: GenNode = { path: parent, data: Buffer.from(`{"owner":"team-${p % 17}"}`), acl: OPEN, zxid: zxid++, children: 0 };
    const pb: GenNode = { ...pa };
    a.push(pa);
    b.push(pb);
    a[0].children++;
    b[0].children++;
    for (let c = 0; c < PER_PARENT && a.length < NODES; c++) {
      const path = `${parent}/instance-${String(c).padStart(5, '0')}`;
      const text = `host=10.${p % 250}.${c % 250}.${(c * 7) % 250}\nport=${9000 + (c % 100)}\nweight=${c % 10}\nzone=z${c % 3}\n`;
      const n: GenNode = { path, data: Buffer.from(text), acl: OPEN, zxid: zxid++, children: 0 };
      const r = rand();
      a.push(n);
      pa.children++;
      if (r < 0.005) {
        expected.removed++;
        continue;
      }
      const m = { ...n };
      if (r < 0.015) {
        m.data = Buffer.from(text.replace(/weight=\d+/, 'weight=99'));
        expected.modified++;
      } else if (r < 0.017) {
        m.acl = READ;
        expected.modified++;
      }
      b.push(m);
      pb.children++;
      if (r > 0.995) {
        b.push({ path: `${path}-new`, data: Buffer.from('fresh'), acl: OPEN, zxid: zxid++, children: 0 });
        pb.children++;
        expected.added++;
      }
    }
  }
  return { a, b, expected };
}

function record(n: GenNode): NodeRecord {
  return {
    path: n.path,
    data: n.data,
    acl: n.acl,
    stat: {
      czxid: n.zxid,
      mzxid: n.zxid,
      pzxid: n.zxid,
      ctime: 1_700_000_000_000n + n.zxid,
      mtime: 1_700_000_000_000n + n.zxid,
      version: 0,
      cversion: n.children,
      aversion: 0,
      ephemeralOwner: 0n,
    },
  };
}

function buildTree(nodes: GenNode[]): DataTree {
  const t = DataTree.empty();
  for (const n of nodes) {
    if (n.path === '/') continue;
    t.createNode(n.path, n.data, n.acl, 0n, -1, n.zxid, 1_700_000_000_000n + n.zxid);
  }
  return t;
}

const mb = (kb: number) => fmtMB(kb * 1024);
function time<T>(fn: () => T): { value: T; ms: number } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

async function logicalBackup(repoDir: string, nodes: GenNode[]): Promise<string> {
  const repo = await openRepository(repoDir, { create: true });
  const writer = await repo.beginBackup('logical');
  const spool = new SnapshotSpool(writer.stagingDir);
  for (const n of nodes) spool.add(record(n), n.children);
  const zxid = nodes.reduce((m, n) => (n.zxid > m ? n.zxid : m), 0n);
  const name = `snapshot.${zxid.toString(16)}`;
  const spooled = await spool.finish(join(writer.stagingDir, name), { zxid, root: '/' });
  await writer.addMember(name, 'snapshot', { zxid: formatZxid(zxid) });
  const m = await writer.commit({
    kind: 'logical',
    createdAt: new Date().toISOString(),
    source: { zk: 'bench', path: '/', host: 'bench' },
    zxid: { from: formatZxid(zxid), to: formatZxid(zxid) },
    consistent: true,
    changedDuringWalk: 0,
    partial: false,
    unreadable: [],
    counts: spooled.counts,
    extra: { digest: formatZxid(spooled.digest) },
  });
  return m.id;
}

function zkvaultCommand(): { cmd: string; pre: string[] } {
  try {
    accessSync(BIN, constants.X_OK);
    return { cmd: BIN, pre: [] };
  } catch {
    return { cmd: process.execPath, pre: [BIN] };
  }
}

const work = mkdtempSync(join(tmpdir(), 'zkvault-bench-diff-'));
try {
  console.log(
    `zkvault diff benchmark (${NODES.toLocaleString('en')} nodes per tree, ${new Date().toISOString()}, node ${process.version})`,
  );
  const gen = generate();
  console.log(
    `trees: A ${gen.a.length.toLocaleString('en')} nodes, B ${gen.b.length.toLocaleString('en')}; expected ${gen.expected.added} added, ${gen.expected.removed} removed, ${gen.expected.modified} modified`,
  );

  console.log('\n## in-process');
  const ta = buildTree(gen.a);
  const tb = buildTree(gen.b);
  const rssTrees = process.resourceUsage().maxRSS;
  console.log(`both DataTrees built: peak RSS so far ${mb(rssTrees)}`);
  for (const [label, opts] of [
    ['merge (data, acl, type)', {}],
    ['merge --stat', { stat: true }],
  ] as const) {
    const { value, ms } = time(() => diffTrees(treeRecords(ta, '/'), treeRecords(tb, '/'), opts));
    const c = value.counts;
    console.log(
      `${label.padEnd(26)} ${ms.toFixed(0).padStart(5)} ms  ${Math.round((c.a + c.b) / (ms / 1000)).toLocaleString('en')} nodes/s  ` +
        `${c.added} added, ${c.removed} removed, ${c.modified} modified`,
    );
    if (
      !('stat' in opts) &&
      (c.added !== gen.expected.added || c.removed !== gen.expected.removed || c.modified !== gen.expected.modified)
    ) {
      throw new Error(`the merge found ${JSON.stringify(c)}, expected ${JSON.stringify(gen.expected)}`);
    }
  }
  const same = time(() => diffTrees(treeRecords(ta, '/'), treeRecords(ta, '/')));
  console.log(`${'identical trees'.padEnd(26)} ${same.ms.toFixed(0).padStart(5)} ms  ${same.value.changes.length} changes`);
  const recsA = [...treeRecords(ta, '/')];
  const recsB = [...treeRecords(tb, '/')];
  const merge = time(() => diffTrees(recsA, recsB));
  console.log(
    `${'merge only (records held)'.padEnd(26)} ${merge.ms.toFixed(0).padStart(5)} ms  (records already built: the merge's own cost)`,
  );
  console.log(`peak RSS of this process: ${mb(process.resourceUsage().maxRSS)} (trees alone: ${mb(rssTrees)})`);

  console.log('\n## whole process: zkvault diff A B on two logical backups');
  const repoDir = join(work, 'repo');
  const idA = await logicalBackup(repoDir, gen.a);
  const idB = await logicalBackup(repoDir, gen.b);
  const { cmd, pre } = zkvaultCommand();
  for (const [label, extra] of [
    ['diff --json', ['--json']],
    ['diff (human output)', []],
    ['diff --stat --json', ['--stat', '--json']],
  ] as Array<[string, string[]]>) {
    const r = await measureProcess(cmd, [...pre, 'diff', idA, idB, '--repo', repoDir, ...extra], {
      discardStdout: !extra.includes('--json'),
    });
    if (r.code !== 5) throw new Error(`zkvault ${label} exited ${r.code}: ${r.stderr}`);
    let detail = '';
    if (extra.includes('--json')) {
      const json = JSON.parse(r.stdout) as { changes: unknown[] };
      detail = `  ${json.changes.length.toLocaleString('en')} changes, ${fmtMB(r.stdout.length)} of JSON`;
    }
    console.log(`${label.padEnd(26)} ${(r.wallMs / 1000).toFixed(2)} s  peak RSS ${fmtMB(r.peakRssBytes)}${detail}`);
  }
  const self = await measureProcess(cmd, [...pre, 'diff', idA, idA, '--repo', repoDir, '--json']);
  if (self.code !== 0) throw new Error(`zkvault diff A A exited ${self.code}: ${self.stderr}`);
  console.log(`${'diff A A --json'.padEnd(26)} ${(self.wallMs / 1000).toFixed(2)} s  peak RSS ${fmtMB(self.peakRssBytes)}  (same)`);
} finally {
  if (process.env.ZKVAULT_BENCH_KEEP) console.log(`\n(kept ${work})`);
  else rmSync(work, { recursive: true, force: true });
}
