// `npm run bench`: speed and memory figures, each against a baseline measured in the same run.
//   snapshot  load (parse + seals + tree) of a generated ≥100 MB snapshot, vs ZooKeeper's SnapshotFormatter
//   replay    replay of ≥500k txns from log files with every digest checked
//   logical   backup and restore on a 3-member ensemble (100k × 1 KB, 1M × 64 B), vs a naive walk and
//             zkcopy-style 10-session readers and writers (bench/logical.ts)
//   physical  physical backup vs a plain copy of the same files; restore to a zxid 500k txns past the base
//   diff      diff of two 100k-node trees (bench/diff.ts)
// Select with `npm run bench -- snapshot replay`; scale with ZKVAULT_BENCH_SCALE (default 1).
import {
  mkdtempSync,
  rmSync,
  statSync,
  openSync,
  writeSync,
  closeSync,
  mkdirSync,
  truncateSync,
  writeFileSync,
  linkSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnapshotWriter } from '../src/formats/snapshot.js';
import { zeroStat } from '../src/core/tree.js';
import { Leader } from '../test/support/history.js';
import { javaClasspath, zookeeperAvailable, stopAll } from '../test/support/zk-harness.js';
import { measureProcess, fmtMB, MB } from './measure.js';
import { benchLogical } from './logical.js';

const scale = Number(process.env.ZKVAULT_BENCH_SCALE ?? '1');
const here = fileURLToPath(new URL('.', import.meta.url));
const selected = process.argv.slice(2);
const want = (name: string) => selected.length === 0 || selected.includes(name);
const work = mkdtempSync(join(tmpdir(), 'zkvault-bench-'));

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** A snapshot shaped like a busy Kafka/Solr tree: wide parents, mixed data sizes (mean ~700 B). */
async function generateSnapshot(file: string, targetBytes: number): Promise<{ nodes: number; bytes: number }> {
  const fd = openSync(file, 'w');
  const w = new SnapshotWriter((c) => void writeSync(fd, c));
  const acl = [{ perms: 31, scheme: 'world', id: 'anyone' }];
  await w.begin([{ id: 0x100n, timeout: 30000 }], new Map([[1, acl]]));
  const stat = zeroStat();
  await w.node('', Buffer.alloc(0), -1, stat);
  await w.node('/zookeeper', Buffer.alloc(0), -1, stat);
  await w.node('/zookeeper/quota', Buffer.alloc(0), -1, stat);
  const rand = rng(42);
  const pool = Buffer.alloc(64 * 1024);
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(rand() * 256);
  let nodes = 3;
  let zxid = 1n;
  for (let top = 0; w.bytesWritten < targetBytes; top++) {
    const parent = `/brokers-${top}`;
    await w.node(parent, Buffer.from('{}'), 1, { ...stat, czxid: zxid, mzxid: zxid, pzxid: zxid });
    nodes++;
    for (let c = 0; c < 5000 && w.bytesWritten < targetBytes; c++) {
      const r = rand();
      const size = r < 0.5 ? Math.floor(rand() * 200) : r < 0.9 ? 200 + Math.floor(rand() * 1000) : 1200 + Math.floor(rand() * 3000);
      const off = Math.floor(rand() * (pool.length - size));
      zxid++;
      await w.node(`${parent}/topic-${c}`, pool.subarray(off, off + size), 1, {
        ...stat,
        czxid: zxid,
        mzxid: zxid,
        pzxid: zxid,
        ctime: 1_700_000_000_000n + zxid,
        mtime: 1_700_000_000_000n + zxid,
      });
      nodes++;
    }
  }
  const bytes = await w.finish({ digest: { zxid: 0n, value: 0n } });
  closeSync(fd);
  return { nodes, bytes };
}

function javaCmd(): { java: string; cp: string } | null {
  const avail = zookeeperAvailable();
  if (!avail.ok) return null;
  return { java: avail.java, cp: javaClasspath() };
}

async function benchSnapshot(): Promise<void> {
  const file = join(work, 'snapshot.1');
  const target = Math.round(110 * MB * scale);
  const gen = await generateSnapshot(file, target);
  const size = statSync(file).size;
  console.log(`\n## snapshot load: ${fmtMB(size)}, ${gen.nodes.toLocaleString()} nodes`);
  const ours = await measureProcess(process.execPath, [join(here, 'load-snapshot.js'), file]);
  if (ours.code !== 0) throw new Error(`zkvault load failed: ${ours.stderr}`);
  const mbs = size / MB / (ours.wallMs / 1000);
  console.log(
    `zkvault             ${(ours.wallMs / 1000).toFixed(2)} s  ${mbs.toFixed(1)} MB/s  peak RSS ${fmtMB(ours.peakRssBytes)} (${(ours.peakRssBytes / size).toFixed(2)}× the file)  [${ours.stdout.trim()}]`,
  );
  const j = javaCmd();
  if (!j) {
    console.log('SnapshotFormatter   not run: ZooKeeper/Java missing (scripts/install-deps.sh installs them)');
    return;
  }
  const theirs = await measureProcess(
    j.java,
    ['-XX:+UseSerialGC', '-Xmx4g', '-cp', j.cp, 'org.apache.zookeeper.server.SnapshotFormatter', file],
    { discardStdout: true },
  );
  if (theirs.code !== 0) throw new Error(`SnapshotFormatter failed: ${theirs.stderr}`);
  console.log(
    `SnapshotFormatter   ${(theirs.wallMs / 1000).toFixed(2)} s  ${(size / MB / (theirs.wallMs / 1000)).toFixed(1)} MB/s  peak RSS ${fmtMB(theirs.peakRssBytes)}  (stdout discarded)`,
  );
  console.log(`ratio (SnapshotFormatter time / zkvault time): ${(theirs.wallMs / ours.wallMs).toFixed(2)}  (target ≥ 1.0)`);
  console.log(`peak RSS / snapshot size: ${(ours.peakRssBytes / size).toFixed(2)}  (target ≤ 2.0)`);
}

async function benchReplay(): Promise<void> {
  const count = Math.round(500_000 * scale);
  const L = new Leader();
  L.createSession(0x1000n);
  const rand = rng(7);
  const live: string[] = [];
  for (let i = 0; i < 50; i++) {
    L.create(`/p${i}`);
  }
  while (L.zxid < BigInt(count)) {
    const r = rand();
    if (r < 0.45 || live.length < 100) {
      const p = `/p${Math.floor(rand() * 50)}/n${L.zxid}`;
      L.create(p, Buffer.alloc(Math.floor(rand() * 300), 1));
      live.push(p);
    } else if (r < 0.85) {
      L.setData(live[Math.floor(rand() * live.length)], Buffer.alloc(Math.floor(rand() * 300), 2));
    } else {
      const idx = Math.floor(rand() * live.length);
      L.delete(live[idx]);
      live[idx] = live[live.length - 1]!;
      live.pop();
    }
  }
  const dir = join(work, 'logs');
  mkdirSync(dir);
  let bytes = 0;
  const per = 100_000n;
  for (let from = 1n; from <= L.zxid; from += per) {
    const f = L.log(from, from + per - 1n);
    writeFileSync(join(dir, f.name), f.bytes);
    bytes += f.bytes.length;
  }
  L.txns = [];
  console.log(`\n## replay: ${count.toLocaleString()} txns in ${fmtMB(bytes)} of logs`);
  const ours = await measureProcess(process.execPath, [join(here, 'replay-logs.js'), dir]);
  if (ours.code !== 0) throw new Error(`replay failed: ${ours.stderr}`);
  const secs = ours.wallMs / 1000;
  console.log(
    `zkvault replay      ${secs.toFixed(2)} s  ${Math.round(count / secs).toLocaleString()} txns/s  ${(bytes / MB / secs).toFixed(1)} MB/s  peak RSS ${fmtMB(ours.peakRssBytes)}  [${ours.stdout.trim()}]`,
  );
  const j = javaCmd();
  if (j) {
    const first = join(dir, 'log.1');
    const theirs = await measureProcess(
      j.java,
      ['-XX:+UseSerialGC', '-cp', j.cp, 'org.apache.zookeeper.server.persistence.TxnLogToolkit', first],
      { discardStdout: true },
    );
    console.log(`TxnLogToolkit dump of log.1 (100k txns, read+print only): ${(theirs.wallMs / 1000).toFixed(2)} s (reference)`);
  }
}

const CLI = join(here, '../../bin/zkvault');

async function benchPhysical(): Promise<void> {
  // A server history: a base snapshot, then ≥500k txns of logs after it.
  const count = Math.round(500_000 * scale);
  const L = new Leader();
  L.createSession(0x1000n);
  for (let i = 0; i < 50; i++) L.create(`/p${i}`);
  const rand = rng(11);
  for (let i = 0; i < 20_000; i++) L.create(`/p${i % 50}/base-${i}`, Buffer.alloc(200 + Math.floor(rand() * 300), 3));
  const base = await L.snapshot();
  const baseZxid = L.zxid;
  const live: string[] = [];
  while (L.zxid < baseZxid + BigInt(count)) {
    const r = rand();
    if (r < 0.5 || live.length < 100) {
      const p = `/p${Math.floor(rand() * 50)}/n${L.zxid}`;
      L.create(p, Buffer.alloc(Math.floor(rand() * 300), 1));
      live.push(p);
    } else if (r < 0.85) L.setData(live[Math.floor(rand() * live.length)], Buffer.alloc(Math.floor(rand() * 300), 2));
    else {
      const idx = Math.floor(rand() * live.length);
      L.delete(live[idx]);
      live[idx] = live[live.length - 1]!;
      live.pop();
    }
  }
  const dataDir = join(work, 'phys-data');
  const v2 = join(dataDir, 'version-2');
  mkdirSync(v2, { recursive: true });
  writeFileSync(join(v2, base.name), base.bytes);
  let total = base.bytes.length;
  const contents = [`${join(v2, base.name)}:${base.bytes.length}`]; // each file's bytes before its preallocation
  // As a server leaves them: every log's size rounded up to its 64 MB preallocation, the rest a hole
  // (ZooKeeper extends a log by writing one byte at the new end, and never trims it when rolling).
  const PREALLOC = 64 * MB;
  const writeLog = (f: { name: string; bytes: Buffer }) => {
    const path = join(v2, f.name);
    writeFileSync(path, f.bytes);
    truncateSync(path, Math.ceil(f.bytes.length / PREALLOC) * PREALLOC);
    total += f.bytes.length;
    contents.push(`${path}:${f.bytes.length}`);
  };
  const per = 100_000n;
  writeLog(L.log(1n, baseZxid));
  for (let from = baseZxid + 1n; from <= L.zxid; from += per) writeLog(L.log(from, from + per - 1n));
  const target = L.zxid;
  L.txns = [];
  console.log(
    `\n## physical: a dataDir of ${fmtMB(total)} (snapshot + logs, each log preallocated to 64 MB; ${count.toLocaleString()} txns after the base snapshot)`,
  );
  // This machine's copy speed swings widely from run to run (a VM whose disk flushes to the host's
  // cache): each contender runs RUNS times, interleaved, and the medians are compared.
  const RUNS = 5;
  const copies: number[] = [];
  const durables: number[] = [];
  const nodeCopies: number[] = [];
  const backups: Array<{ wallMs: number; peakRssBytes: number; inProcessMs: number }> = [];
  const encrypted: Array<{ wallMs: number; peakRssBytes: number }> = [];
  let repo = '';
  for (let i = 0; i < RUNS; i++) {
    const copyDir = join(work, 'plain-copy');
    const durableDir = join(work, 'durable-copy');
    rmSync(copyDir, { recursive: true, force: true });
    rmSync(durableDir, { recursive: true, force: true });
    copies.push((await measureProcess('cp', ['-r', dataDir, copyDir])).wallMs);
    // A backup is only done once it is on disk: the fair baseline also syncs what it copied.
    durables.push((await measureProcess('sh', ['-c', `cp -r "${dataDir}" "${durableDir}" && sync -f "${durableDir}"/version-2/*`])).wallMs);
    // The floor for a Node program: the same bytes copied and synced, nothing checked or hashed.
    const nodeCopy = await measureProcess(process.execPath, [join(here, 'node-copy.js'), join(work, 'node-copy.bin'), ...contents]);
    if (nodeCopy.code !== 0) throw new Error(`node copy failed: ${nodeCopy.stderr}`);
    nodeCopies.push(nodeCopy.wallMs);
    rmSync(join(work, 'node-copy.bin'));
    repo = join(work, `phys-repo-${i}`);
    const backup = await measureProcess(CLI, ['backup', '--data-dir', dataDir, '--repo', repo, '--json']);
    if (backup.code !== 0) throw new Error(`physical backup failed: ${backup.stderr}`);
    backups.push({
      wallMs: backup.wallMs,
      peakRssBytes: backup.peakRssBytes,
      inProcessMs: (JSON.parse(backup.stdout) as { durationMs: number }).durationMs,
    });
    if (i < RUNS - 1) rmSync(repo, { recursive: true, force: true });
    // The same backup into an encrypted repository (created by it: one scrypt of the password).
    const encRepo = join(work, `phys-enc-repo-${i}`);
    const enc = await measureProcess(CLI, ['backup', '--encrypt', '--data-dir', dataDir, '--repo', encRepo, '--json'], {
      env: { ZKVAULT_PASSWORD: 'bench passphrase' },
    });
    if (enc.code !== 0) throw new Error(`encrypted physical backup failed: ${enc.stderr}`);
    encrypted.push({ wallMs: enc.wallMs, peakRssBytes: enc.peakRssBytes });
    rmSync(encRepo, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const copyMs = median(copies);
  const durableMs = median(durables);
  const nodeCopyMs = median(nodeCopies);
  const backupMs = median(backups.map((b) => b.wallMs));
  const inProcessMs = median(backups.map((b) => b.inProcessMs));
  const mbs = (ms: number) => (total / MB / (ms / 1000)).toFixed(1);
  console.log(`(medians of ${RUNS} interleaved runs)`);
  console.log(`plain copy (cp -r)      ${(copyMs / 1000).toFixed(2)} s  ${mbs(copyMs)} MB/s`);
  console.log(`cp -r, then sync        ${(durableMs / 1000).toFixed(2)} s  ${mbs(durableMs)} MB/s`);
  console.log(
    `node copy, then sync    ${(nodeCopyMs / 1000).toFixed(2)} s  ${mbs(nodeCopyMs)} MB/s  (bench/node-copy.ts: the same bytes, nothing checked or hashed; the floor for a Node program)`,
  );
  console.log(
    `zkvault backup          ${(backupMs / 1000).toFixed(2)} s  ${mbs(backupMs)} MB/s  peak RSS ${fmtMB(Math.max(...backups.map((b) => b.peakRssBytes)))}` +
      `  (every record's checksum verified, sha256 of every member (manifest format 2: no whole-archive hash); ${(inProcessMs / 1000).toFixed(2)} s of it inside the backup, the rest is Node start-up)`,
  );
  const encMs = median(encrypted.map((b) => b.wallMs));
  console.log(
    `zkvault backup, encrypted ${(encMs / 1000).toFixed(2)} s  ${mbs(encMs)} MB/s  peak RSS ${fmtMB(Math.max(...encrypted.map((b) => b.peakRssBytes)))}  (the same, into an --encrypt repository: AES-256-GCM chunks)`,
  );
  console.log(
    `against the node copy floor: backup ${(nodeCopyMs / backupMs).toFixed(2)} (target ≥ 0.8), encrypted ${(nodeCopyMs / encMs).toFixed(2)} (target ≥ 0.6)`,
  );
  console.log(
    `ratio (backup throughput / plain copy): ${(copyMs / backupMs).toFixed(2)}; against cp + sync: ${(durableMs / backupMs).toFixed(2)}; backup without start-up against cp + sync: ${(durableMs / inProcessMs).toFixed(2)}; node copy against cp + sync: ${(durableMs / nodeCopyMs).toFixed(2)}  (target ≥ 0.8)`,
  );
  // A scheduled incremental: the repository holds everything but the newest log's txns.
  const older = join(work, 'phys-data-older');
  mkdirSync(join(older, 'version-2'), { recursive: true });
  const logNames = readdirSync(v2)
    .filter((n) => n.startsWith('log.'))
    .sort((a, b) => (BigInt('0x' + a.slice(4)) < BigInt('0x' + b.slice(4)) ? -1 : 1));
  for (const n of readdirSync(v2)) if (n !== logNames[logNames.length - 1]) linkSync(join(v2, n), join(older, 'version-2', n));
  const incRepo = join(work, 'phys-inc-repo');
  const incBase = await measureProcess(CLI, ['backup', '--data-dir', older, '--repo', incRepo]);
  if (incBase.code !== 0) throw new Error(`physical backup failed: ${incBase.stderr}`);
  const inc = await measureProcess(CLI, ['backup', '--data-dir', dataDir, '--repo', incRepo, '--incremental', '--json']);
  if (inc.code !== 0) throw new Error(`incremental backup failed: ${inc.stderr}`);
  const incTxns = (JSON.parse(inc.stdout) as { zxid: { to: string } }).zxid.to;
  const again = await measureProcess(CLI, ['backup', '--data-dir', dataDir, '--repo', incRepo, '--incremental', '--json']);
  if (again.code !== 0 || !(JSON.parse(again.stdout) as { unchanged?: boolean }).unchanged)
    throw new Error(`second incremental: ${again.stderr}`);
  console.log(
    `incremental (the newest log's txns, up to ${incTxns}) ${(inc.wallMs / 1000).toFixed(2)} s; again with nothing new ${(again.wallMs / 1000).toFixed(2)} s  (${logNames.length} logs in the dataDir)`,
  );
  const out = join(work, 'phys-restore');
  const restore = await measureProcess(CLI, [
    'restore',
    '--to-zxid',
    '0x' + target.toString(16),
    '--data-dir',
    out,
    '--repo',
    repo,
    '--json',
  ]);
  if (restore.code !== 0) throw new Error(`restore failed: ${restore.stderr}`);
  console.log(
    `restore --to-zxid (${count.toLocaleString()} txns past the base) ${(restore.wallMs / 1000).toFixed(2)} s  peak RSS ${fmtMB(restore.peakRssBytes)}  (every digest compared)`,
  );
}

try {
  console.log(`zkvault benchmarks (scale ${scale}, ${new Date().toISOString()})`);
  if (want('snapshot')) await benchSnapshot();
  if (want('replay')) await benchReplay();
  if (want('logical')) await benchLogical({ work, cli: CLI, here, scale });
  if (want('physical')) await benchPhysical();
  if (want('diff')) {
    // bench/diff.ts is its own program (two 100k-node trees, in-process and through the CLI).
    const r = await measureProcess(process.execPath, [join(here, 'diff.js')]);
    process.stdout.write(`\n${r.stdout}`);
    if (r.code !== 0) throw new Error(`diff benchmark failed: ${r.stderr}`);
  }
} finally {
  await stopAll();
  if (process.env.ZKVAULT_BENCH_KEEP) console.log(`\n(kept ${work})`);
  else rmSync(work, { recursive: true, force: true });
}
