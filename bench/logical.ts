// `npm run bench logical`: logical backup and restore on one real 3-member ensemble, for a tree of
// 100k × 1 KB, 100k × 4 KB and 1M × 64 B (× ZKVAULT_BENCH_SCALE), each run beside its baselines in the same
// run: a naive sequential walk, and a reader and a writer in the manner of zkcopy (10 sessions; the
// writer asks exists() of every node and creates in multis of 1000). Whole-process time and peak RSS.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { startEnsemble } from '../test/support/zk-harness.js';
import { openSession, type ZkOp } from '../src/zk/client.js';
import { measureProcess, fmtMB, type ProcessMeasure } from './measure.js';

interface Tree {
  name: string;
  nodes: number;
  size: number;
}

async function populate(connectString: string, tree: Tree): Promise<number> {
  const s = await openSession({ connectString });
  const open = [{ perms: 31, scheme: 'world', id: 'anyone' }];
  const perParent = 1000;
  let bytes = 0;
  for (let p = 0; p * perParent < tree.nodes; p++) {
    await s.create(`/bench-${p}`, null, open);
    let ops: ZkOp[] = [];
    let size = 0;
    for (let c = 0; c < perParent && p * perParent + c < tree.nodes; c++) {
      ops.push({ type: 'create', path: `/bench-${p}/node-${c}`, data: Buffer.alloc(tree.size, (p + c) & 0xff), acl: open });
      size += tree.size + 40;
      bytes += tree.size;
      if (size > 800_000) {
        await s.multi(ops);
        ops = [];
        size = 0;
      }
    }
    if (ops.length) await s.multi(ops);
  }
  await s.close();
  return bytes;
}

function line(label: string, m: ProcessMeasure, nodes: number, base?: ProcessMeasure): string {
  const rate = Math.round(nodes / (m.wallMs / 1000)).toLocaleString('en-US');
  const ratio = base ? `  ${(base.wallMs / m.wallMs).toFixed(2)}× the ${'baseline'}` : '';
  return `${label.padEnd(30)} ${(m.wallMs / 1000).toFixed(2).padStart(8)} s  ${rate.padStart(9)} nodes/s  peak RSS ${fmtMB(m.peakRssBytes).padStart(9)}${ratio}`;
}

function must(m: ProcessMeasure, what: string): ProcessMeasure {
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code}): ${m.stderr.slice(0, 2000)}`);
  return m;
}

export async function benchLogical(o: { work: string; cli: string; here: string; scale: number }): Promise<void> {
  const trees: Tree[] = [
    { name: '100k × 1 KB', nodes: Math.round(100_000 * o.scale), size: 1024 },
    { name: '100k × 4 KB', nodes: Math.round(100_000 * o.scale), size: 4096 },
    { name: '1M × 64 B', nodes: Math.round(1_000_000 * o.scale), size: 64 },
  ];
  // Each member holds the whole tree and the leader its last 500 committed proposals: a baseline
  // writer's multis of 900 KB need more than 1.5 GB for 100k × 4 KB.
  const heapMb = 3072;
  // ZKVAULT_BENCH_TREES=4 KB,64 B runs only the trees whose names hold one of these.
  const only = process.env.ZKVAULT_BENCH_TREES?.split(',').map((x) => x.trim());
  for (const tree of trees) {
    if (only && !only.some((x) => tree.name.includes(x))) continue;
    const source = await startEnsemble(3, { heapMb });
    const bytes = await populate(source.connectString, tree);
    const total = tree.nodes + Math.ceil(tree.nodes / 1000) + 1;
    console.log(`\n## logical: ${tree.name} (${total.toLocaleString('en-US')} nodes, ${fmtMB(bytes)} of data), 3-member ensemble`);
    const naiveLimit = Number(process.env.ZKVAULT_BENCH_NAIVE_MAX ?? '200000');
    const naive =
      total <= naiveLimit
        ? must(await measureProcess(process.execPath, [join(o.here, 'naive-walk.js'), source.connectString]), 'naive walk')
        : null;
    const reader = must(
      await measureProcess(process.execPath, [join(o.here, 'zkcopy-reader.js'), source.connectString, '10']),
      'zkcopy-style reader',
    );
    const repo = join(o.work, `logical-${tree.size}`);
    const backup = must(await measureProcess(o.cli, ['backup', '--zk', source.connectString, '--repo', repo, '--json']), 'zkvault backup');
    const id = JSON.parse(backup.stdout).id as string;
    console.log('backup');
    if (naive) console.log(line('  naive sequential walk', naive, total));
    else
      console.log(`  naive sequential walk          skipped above ${naiveLimit.toLocaleString('en-US')} nodes (ZKVAULT_BENCH_NAIVE_MAX)`);
    console.log(line('  zkcopy-style reader (10 s.)', reader, total));
    console.log(line('  zkvault backup', backup, total, reader) + ' reader (target ≥ 2×)');
    if (naive) console.log(`  zkvault backup vs naive walk: ${(naive.wallMs / backup.wallMs).toFixed(2)}×`);
    // The writer's input: the backup's tree as NDJSON (not timed).
    const ndjson = join(o.work, `tree-${tree.size}.ndjson`);
    const fd = openSync(ndjson, 'w');
    const exp = spawnSync(o.cli, ['export', id, '--repo', repo], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    if (exp.status !== 0) throw new Error(`export failed: ${String(exp.stderr)}`);
    await source.destroy();

    const t1 = await startEnsemble(3, { heapMb });
    const restore = must(
      await measureProcess(o.cli, ['restore', id, '--zk', t1.connectString, '--repo', repo, '--json']),
      'zkvault restore',
    );
    await t1.destroy();
    const t2 = await startEnsemble(3, { heapMb });
    const writer = await measureProcess(process.execPath, [join(o.here, 'zkcopy-writer.js'), t2.connectString, ndjson, '10']);
    await t2.destroy();
    console.log('restore');
    if (writer.code === 0) {
      console.log(line('  zkcopy-style writer (10 s.)', writer, total));
      console.log(line('  zkvault restore (+verify)', restore, total, writer) + ' writer (target ≥ 3×)');
    } else {
      // A baseline that fails is a figure too: say so and go on with the others.
      console.log(
        `  zkcopy-style writer (10 s.)    failed (exit ${writer.code}): ${writer.stderr.split('\n').find((l) => /Error/.test(l)) ?? ''}`,
      );
      console.log(line('  zkvault restore (+verify)', restore, total));
    }
    console.log(`  peak RSS: backup ${fmtMB(backup.peakRssBytes)}, restore ${fmtMB(restore.peakRssBytes)} (target ≤ 200 MB)`);
  }
}
