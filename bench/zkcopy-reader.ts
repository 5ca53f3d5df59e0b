// Child process for the benchmark: a reader in the manner of zkcopy: 10 sessions, each a worker that
// reads one node at a time (getData, getACL, getChildren, in turn) from a shared stack, holding
// nothing but counts. The connect string's servers are shared out among the sessions.
import { openSession } from '../src/zk/client.js';

const conn = process.argv[2];
const workers = Number(process.argv[3] ?? '10');
const sessions = await Promise.all(Array.from({ length: workers }, (_, i) => openSession({ connectString: conn, firstHost: i })));
let nodes = 0;
let bytes = 0;
const stack = ['/'];
let busy = 0;
await Promise.all(
  sessions.map(async (s) => {
    for (;;) {
      const p = stack.pop();
      if (p === undefined) {
        if (busy === 0) return;
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      if (p === '/zookeeper') continue;
      busy++;
      const d = await s.getData(p);
      await s.getAcl(p);
      const c = d && d.stat.numChildren > 0 ? await s.getChildren(p) : { children: [] as string[] };
      busy--;
      if (!d || !c) continue;
      nodes++;
      bytes += d.data?.length ?? 0;
      for (const name of c.children) stack.push(p === '/' ? `/${name}` : `${p}/${name}`);
    }
  }),
);
await Promise.all(sessions.map((s) => s.close()));
process.stdout.write(`nodes=${nodes} bytes=${bytes} peakRssBytes=${process.resourceUsage().maxRSS * 1024}\n`);
