// Child process for the benchmark: a writer in the manner of zkcopy: the whole tree read first (here
// from `zkvault export` NDJSON), then level by level, each level shared out among 10 sessions; each
// session asks exists() of every node it writes, then creates the missing ones in multis of 1000.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { openSession, type ZkOp } from '../src/zk/client.js';

const conn = process.argv[2];
const file = process.argv[3];
const workers = Number(process.argv[4] ?? '10');
const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];
const levels: Array<Array<{ path: string; data: Buffer | null }>> = [];
for await (const line of createInterface({ input: createReadStream(file) })) {
  if (!line) continue;
  const n = JSON.parse(line) as { path: string; data: string | null };
  if (n.path === '/') continue;
  const depth = n.path.split('/').length - 1;
  (levels[depth] ??= []).push({ path: n.path, data: n.data === null ? null : Buffer.from(n.data, 'base64') });
}
const sessions = await Promise.all(Array.from({ length: workers }, (_, i) => openSession({ connectString: conn, firstHost: i })));
let created = 0;
for (const level of levels) {
  if (!level) continue;
  await Promise.all(
    sessions.map(async (s, w) => {
      let ops: ZkOp[] = [];
      let bytes = 0;
      for (let i = w; i < level.length; i += workers) {
        const n = level[i];
        if (await s.exists(n.path)) continue;
        ops.push({ type: 'create', path: n.path, data: n.data, acl: OPEN });
        bytes += (n.data?.length ?? 0) + n.path.length + 40;
        // 1000 ops a multi, as zkcopy does, but never past jute.maxbuffer.
        if (ops.length === 1000 || bytes > 900_000) {
          await s.multi(ops);
          created += ops.length;
          ops = [];
          bytes = 0;
        }
      }
      if (ops.length > 0) {
        await s.multi(ops);
        created += ops.length;
      }
    }),
  );
}
await Promise.all(sessions.map((s) => s.close()));
process.stdout.write(`created=${created} peakRssBytes=${process.resourceUsage().maxRSS * 1024}\n`);
