// The zkvault demo: a real local ZooKeeper, some znodes, then zkvault run against it, step by step.
// Run it through scripts/demo.sh (installs and builds first). Every step says what it does and
// the demo stops at the first step that fails, with a non-zero exit status.
// Work files live in .demo/ (ZooKeeper's dataDir is .demo/zk-data, kept for you to poke at).

import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demoDir = path.join(root, '.demo');
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const red = (s) => (process.stderr.isTTY ? `\x1b[31m${s}\x1b[0m` : s);

function fail(message) {
  process.stderr.write(red(`\ndemo FAILED: ${message}\n`));
  process.exit(1);
}

const harness = await import(pathToFileURL(path.join(root, 'dist/test/support/zk-harness.js')).href).catch((err) => {
  fail(`cannot load the built test harness (run \`npm run build\` first): ${err.message}`);
});
// zkvault's own ZooKeeper session layer writes the demo's znodes.
const { openSession } = await import(pathToFileURL(path.join(root, 'dist/src/zk/client.js')).href);
const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];

/** Shared between steps. */
const ctx = {
  /** @type {import('../dist/test/support/zk-harness.js').ZkServer | undefined} */
  zk: undefined,
  /** Kept open until ZooKeeper stops, so the ephemeral node is still there when we export. */
  client: undefined,
  dataDir: path.join(demoDir, 'zk-data'),
  /** Paths the demo wrote, which the export must contain. */
  written: [],
};

const steps = [
  {
    title: 'Start a local ZooKeeper server (standalone, loopback, dataDir .demo/zk-data)',
    async run() {
      await rm(ctx.dataDir, { recursive: true, force: true });
      await mkdir(ctx.dataDir, { recursive: true });
      ctx.zk = await harness.startStandalone({ dataDir: ctx.dataDir });
      note(`ZooKeeper ${ctx.zk.connectString} (pid ${ctx.zk.pid}), log: ${ctx.zk.logFile}`);
    },
  },
  {
    title: "Write some znodes (zkvault's own session layer, plus container and TTL nodes via ZooKeeper's shell)",
    async run() {
      const client = (ctx.client = await openSession({ connectString: ctx.zk.connectString, connectTimeoutMs: 60000 }));
      {
        const bytes = (data) => (data === null ? null : Buffer.isBuffer(data) ? data : Buffer.from(data));
        const nodes = [
          ['/demo', null, 'persistent'],
          ['/demo/config', JSON.stringify({ featureX: true, replicas: 3 }), 'persistent'],
          ['/demo/services', '', 'persistent'],
          ['/demo/services/api', 'http://10.0.0.1:8080', 'persistent'],
          ['/demo/services/web', 'http://10.0.0.2:8080', 'persistent'],
          ['/demo/binary', Buffer.from([0, 1, 2, 0xfe, 0xff]), 'persistent'],
          ['/demo/workers', null, 'persistent'],
          ['/demo/workers/alive', 'session-bound', 'ephemeral'],
        ];
        for (const [p, data, mode] of nodes) {
          await client.create(p, bytes(data), OPEN, mode);
          ctx.written.push(p);
        }
        const seq = await client.create('/demo/queue-', bytes('job 1'), OPEN, 'persistent_sequential');
        ctx.written.push(seq);
        const readOnly = [{ perms: 1, scheme: 'world', id: 'anyone' }];
        await client.create('/demo/read-only', bytes('look, do not touch'), readOnly, 'persistent');
        ctx.written.push('/demo/read-only');
        for (let i = 0; i < 5; i++) await client.setData('/demo/config', bytes(JSON.stringify({ featureX: i % 2 === 0, replicas: 3 + i })));
      }
      await harness.zkCli(ctx.zk.connectString, [
        'create -c /demo/locks',
        'create /demo/locks/lock-1 held',
        'create -t 600000 /demo/ttl expires-in-10-minutes',
      ]);
      ctx.written.push('/demo/locks', '/demo/locks/lock-1', '/demo/ttl');
      note(`wrote ${ctx.written.length} znodes under /demo`);
    },
  },
  {
    title: "Export the tree straight from ZooKeeper's files: zkvault export --data-dir .demo/zk-data",
    async run() {
      const { code, stdout, stderr } = await zkvault(['export', '--data-dir', ctx.dataDir]);
      if (code !== 0) throw new Error(`zkvault export exited with ${code}${stderr ? `:\n${stderr.trimEnd()}` : ''}`);
      const lines = stdout.split('\n').filter((l) => l !== '');
      const paths = lines.map((line, i) => {
        try {
          return JSON.parse(line).path;
        } catch {
          throw new Error(`export line ${i + 1} is not JSON: ${line.slice(0, 120)}`);
        }
      });
      const missing = ctx.written.filter((p) => !paths.includes(p));
      if (missing.length > 0) throw new Error(`the export lacks ${missing.join(', ')}`);
      for (const line of lines.slice(0, 8)) console.log(dim(`    ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`));
      note(`${lines.length} nodes exported (first 8 above); every znode the demo wrote is there`);
    },
  },
  {
    title: 'Logical backup of the live tree into the default repository (./zkvault-repo)',
    async run() {
      const r = await zkvaultOk(['backup', '--zk', ctx.zk.connectString, '--json']);
      const out = JSON.parse(r.stdout);
      ctx.logicalId = out.id;
      note(`backup ${out.id}: ${out.nodes} nodes, ${out.bytes} bytes, zxid ${out.zxid.from}..${out.zxid.to}`);
    },
  },
  {
    title: "Physical backup of the server's snapshot and log files",
    async run() {
      const r = await zkvaultOk(['backup', '--data-dir', ctx.dataDir, '--json']);
      const out = JSON.parse(r.stdout);
      ctx.physical = out;
      note(`backup ${out.id}: restorable to any zxid in ${out.zxid.from}..${out.zxid.to}`);
    },
  },
  {
    title: 'List the repository, then verify both backups deeply (checksums, parse, replay)',
    async run() {
      const list = await zkvaultOk(['list']);
      for (const line of list.stdout.trimEnd().split('\n')) console.log(dim(`    ${line}`));
      const v = await zkvaultOk(['verify', ctx.logicalId, ctx.physical.id, '--deep']);
      for (const line of v.stdout.trimEnd().split('\n')) console.log(dim(`    ${line}`));
    },
  },
  {
    title: 'Restore the logical backup into a second, empty ZooKeeper and compare',
    async run() {
      ctx.zk2 = await harness.startStandalone();
      const r = await zkvaultOk(['restore', ctx.logicalId, '--zk', ctx.zk2.connectString]);
      for (const line of r.stdout.trimEnd().split('\n')) console.log(dim(`    ${line}`));
      const d = await zkvault(['diff', ctx.logicalId, `zk://${ctx.zk2.connectString}`]);
      if (d.code !== 127 && d.stdout) for (const line of d.stdout.trimEnd().split('\n').slice(0, 6)) console.log(dim(`    ${line}`));
      await ctx.zk2.destroy();
    },
  },
  {
    title: "Point-in-time restore offline: a dataDir at the physical backup's last zxid, started as a server",
    async run() {
      const out = path.join(demoDir, 'restored-data');
      await rm(out, { recursive: true, force: true });
      await zkvaultOk(['restore', '--to-zxid', ctx.physical.zxid.to, '--data-dir', out]);
      const restored = await harness.startStandalone({ dataDir: out });
      const client = await openSession({ connectString: restored.connectString, connectTimeoutMs: 60000 });
      const { children } = await client.getChildren('/demo');
      await client.close();
      await restored.stop();
      note(
        `a real server started from ${path.relative(root, out)} serves /demo with ${children.length} children: ${children.sort().join(', ')}`,
      );
    },
  },
  {
    title: 'Stop ZooKeeper',
    async run() {
      await ctx.client.close();
      await ctx.zk.stop();
      note(
        `stopped; its dataDir stays in ${path.relative(root, ctx.dataDir)} (try: bin/zkvault export --data-dir ${path.relative(root, ctx.dataDir)})`,
      );
    },
  },
];

function note(message) {
  console.log(`    ${message}`);
}
/** Runs the CLI and fails the step unless it exits 0. */
async function zkvaultOk(args) {
  const r = await zkvault(args);
  if (r.code !== 0) throw new Error(`zkvault ${args[0]} exited with ${r.code}${r.stderr ? `:\n${r.stderr.trimEnd()}` : ''}`);
  return r;
}

/** Runs the built CLI, echoing the command; returns its exit code and output. */
function zkvault(args) {
  const shown = ['bin/zkvault', ...args.map((a) => (a.startsWith(root + path.sep) ? path.relative(root, a) : a))];
  console.log(`    $ ${shown.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, 'bin/zkvault'), args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? `signal ${signal}`, stdout, stderr }));
  });
}

let failed;
for (const [i, step] of steps.entries()) {
  console.log(bold(`\n==> [${i + 1}/${steps.length}] ${step.title}`));
  try {
    await step.run();
  } catch (err) {
    failed = { step: i + 1, title: step.title, err };
    break;
  }
}
await ctx.client?.close();
if (ctx.zk?.pid !== undefined) await ctx.zk.stop().catch(() => {});
if (failed) {
  fail(`step ${failed.step} (${failed.title}): ${failed.err?.message ?? failed.err}`);
}
console.log(bold('\nDemo complete: every step succeeded.'));
