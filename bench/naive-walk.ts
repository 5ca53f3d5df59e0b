// Child process for the benchmark: the naive baseline walk, one request at a time (getData, then
// getACL, then getChildren, node after node), holding nothing: what a simple backup script does.
import { openSession } from '../src/zk/client.js';

const conn = process.argv[2];
const s = await openSession({ connectString: conn });
let nodes = 0;
let bytes = 0;
const stack = ['/'];
while (stack.length > 0) {
  const p = stack.pop()!;
  if (p === '/zookeeper') continue;
  const d = await s.getData(p);
  await s.getAcl(p);
  const c = await s.getChildren(p);
  if (!d || !c) continue;
  nodes++;
  bytes += d.data?.length ?? 0;
  for (const name of c.children) stack.push(p === '/' ? `/${name}` : `${p}/${name}`);
}
await s.close();
process.stdout.write(`nodes=${nodes} bytes=${bytes} peakRssBytes=${process.resourceUsage().maxRSS * 1024}\n`);
