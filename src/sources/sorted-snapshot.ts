// A snapshot file's nodes sorted by path, as export prints them, without holding the tree: a first
// pass reads the file to its end (every seal checked) and keeps only each node's path and where its
// record lies; the paths are sorted, each node's children counted (the client's cversion needs them);
// a second pass reads each record again at its offset, in path order. Memory is the paths and three
// numbers per node, never the data, the ACLs or the stats: a tree of millions of znodes exports on a
// modest host. The records are those DataTree.records gives for the same snapshot.
import { closeSync, openSync, readSync } from 'node:fs';
import { IntegrityError } from '../errors.js';
import { SnapshotReader } from '../formats/snapshot-reader.js';
import { STAT_SIZE, StatView } from '../formats/stat.js';
import { clientCversion, type AclEntry, type NodeRecord } from '../core/node-record.js';
import { displayPath, parentKey, treeKey } from '../core/tree.js';
import { isSystemPath } from '../core/znode-path.js';

const OPEN: readonly AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];

export interface SortedSnapshot {
  /** How many records `records()` yields. */
  count: number;
  /** The records at and under the root, sorted by path (`/zookeeper` and its subtree left out). */
  records(): Generator<NodeRecord>;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Indexes the uncompressed snapshot `file` (named `name` in errors) and returns its records at and
 * under `root`, or null when the tree has no node `root`. The file must stay in place until the
 * records have been read.
 */
export function sortSnapshot(file: string, name: string, root: string): SortedSnapshot | null {
  const keys: string[] = [];
  let offsets = new Float64Array(1 << 16);
  const reader = SnapshotReader.openFile(file, { file: name });
  try {
    for (let n = reader.next(); n; n = reader.next()) {
      if (n.acl === undefined)
        throw new IntegrityError(
          'malformed',
          name,
          n.fileOffset,
          `node ${displayPath(n.path)} has ACL index ${n.aclIndex}, which the snapshot's ACL map lacks`,
        );
      if (keys.length === offsets.length) {
        const grown = new Float64Array(offsets.length * 2);
        grown.set(offsets);
        offsets = grown;
      }
      offsets[keys.length] = n.fileOffset;
      keys.push(n.path);
    }
  } finally {
    reader.close();
  }
  const acls = reader.header.acls;
  const order = new Int32Array(keys.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => compare(keys[a], keys[b]));
  // rank[i]: where key i sits in sorted order; children counted by the parent's rank.
  const sorted = (r: number) => keys[order[r]];
  const find = (key: string): number => {
    let lo = 0;
    let hi = order.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compare(sorted(mid), key);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
  const children = new Int32Array(keys.length);
  for (let r = 0; r < order.length; r++) {
    const key = sorted(r);
    if (r > 0 && sorted(r - 1) === key)
      throw new IntegrityError('malformed', name, offsets[order[r]], `malformed tree: node ${displayPath(key)} appears twice`);
    if (key === '') continue;
    const p = find(parentKey(key));
    if (p < 0)
      throw new IntegrityError(
        'malformed',
        name,
        offsets[order[r]],
        `malformed tree: node ${displayPath(key)} has no parent in the snapshot`,
      );
    children[p]++;
  }
  const rootKey = treeKey(root);
  const first = find(rootKey);
  if (first < 0) return null;
  // The root's subtree: the root, then keys that start with it and a "/". Every key that starts with
  // the root's sorts in one run from it (with siblings such as "/a-b" for "/a" among them).
  const under = (key: string) => rootKey === '' || key === rootKey || key.startsWith(rootKey + '/');
  let count = 0;
  for (let r = first; r < order.length && sorted(r).startsWith(rootKey); r++) if (under(sorted(r)) && !isSystemPath(sorted(r))) count++;
  return {
    count,
    *records() {
      const fd = openSync(file, 'r');
      try {
        let scratch = Buffer.allocUnsafe(64 * 1024);
        for (let r = first; r < order.length; r++) {
          const key = sorted(r);
          if (!key.startsWith(rootKey)) break;
          if (!under(key) || isSystemPath(key)) continue;
          const at = offsets[order[r]];
          let n = readSync(fd, scratch, 0, scratch.length, at);
          // A record larger than the scratch buffer: read again, as much as its lengths say.
          for (let need = recordLength(scratch, n, name, at); need > n; need = recordLength(scratch, n, name, at)) {
            if (need > scratch.length) scratch = Buffer.allocUnsafe(need);
            const before = n;
            n = readSync(fd, scratch, 0, need, at);
            if (n <= before)
              throw new IntegrityError(
                'truncated',
                name,
                at,
                `the snapshot changed while it was read: the record of ${displayPath(key)} ends early`,
              );
          }
          yield recordAt(scratch, key, children[r], acls);
        }
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** The whole record's length, from its first bytes: path, data, ACL index, stat. */
function recordLength(buf: Buffer, have: number, name: string, at: number): number {
  if (have < 8) throw new IntegrityError('truncated', name, at, 'the snapshot changed while it was read: a node record ends early');
  const pathLen = buf.readInt32BE(0);
  if (have < 8 + pathLen) return 8 + pathLen + 1; // read again, larger: the data length follows the path
  const dataLen = buf.readInt32BE(4 + pathLen);
  return 4 + pathLen + 4 + Math.max(0, dataLen) + 8 + STAT_SIZE;
}

function recordAt(buf: Buffer, key: string, numChildren: number, acls: Map<number, AclEntry[]>): NodeRecord {
  const pathLen = buf.readInt32BE(0);
  const dataLen = buf.readInt32BE(4 + pathLen);
  const dataOff = 8 + pathLen;
  const idxOff = dataOff + Math.max(0, dataLen);
  const aclIndex = Number(buf.readBigInt64BE(idxOff));
  const stat = new StatView(buf, idxOff + 8).toObject();
  stat.cversion = clientCversion(stat.cversion, numChildren);
  const acl = aclIndex === -1 ? OPEN : (acls.get(aclIndex) ?? OPEN);
  return {
    path: displayPath(key),
    data: dataLen < 0 ? null : Buffer.from(buf.subarray(dataOff, dataOff + dataLen)),
    acl: acl.map((a) => ({ ...a })),
    stat,
  };
}
