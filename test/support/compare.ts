// Tree comparison for tests: field for field, with the one thing clients cannot see made explicit.
import assert from 'node:assert/strict';
import { nodeTypeOf, type NodeRecord } from '../../src/core/node-record.js';

/**
 * The view a client has of a node: ZooKeeper reports container and TTL nodes' ephemeralOwner as 0 to
 * clients (only the files keep the type), so file-derived records are mapped to that view.
 */
export function asClientSees(rec: NodeRecord): NodeRecord {
  const type = nodeTypeOf(rec.stat.ephemeralOwner);
  if (type !== 'container' && type !== 'ttl') return rec;
  return { ...rec, stat: { ...rec.stat, ephemeralOwner: 0n } };
}

function normal(rec: NodeRecord) {
  return {
    path: rec.path,
    data: rec.data === null ? null : Buffer.from(rec.data).toString('base64'),
    acl: rec.acl.map((a) => `${a.perms}:${a.scheme}:${a.id}`),
    stat: Object.fromEntries(Object.entries(rec.stat).map(([k, v]) => [k, String(v)])),
  };
}

/** Asserts two sorted record lists are equal in every field, naming the first differing path. */
export function assertSameTree(actual: NodeRecord[], expected: NodeRecord[], label: string, opts: { clientView?: boolean } = {}): void {
  const map = (r: NodeRecord) => normal(opts.clientView ? asClientSees(r) : r);
  const a = actual.map(map);
  const e = expected.map(map);
  const aPaths = a.map((r) => r.path);
  const ePaths = e.map((r) => r.path);
  assert.deepEqual(aPaths, ePaths, `${label}: the same paths`);
  for (let i = 0; i < a.length; i++) assert.deepEqual(a[i], e[i], `${label}: node ${aPaths[i]}`);
}
