// A ZooKeeper session for the length of one piece of test work, closed whatever happens.
import { openSession, type ZkSession } from '../../src/zk/client.js';

export async function withSession<T>(connectString: string, fn: (s: ZkSession) => Promise<T>, auth: string[] = []): Promise<T> {
  const s = await openSession({ connectString, auth });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
