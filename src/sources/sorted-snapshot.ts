// A snapshot file's nodes sorted by path, as export prints them, without holding the tree: a first
// pass reads the file to its end (every seal checked) and keeps only each node's path and where its
// record lies (offset and length); the paths are sorted, each node's children counted (the client's cversion needs them);
// a second pass reads the records again in path order, a batch at a time, each batch in file order
// with large reads (a read per record costs more than the rest of the export on a large tree). Memory
// is the paths, four numbers per node and one batch, never the whole tree: a tree of millions of
// znodes exports on a modest host. The records are those DataTree.records gives for the same snapshot.
import { closeSync, openSync, readSync } from 'node:fs';
import { IntegrityError } from '../errors.js';
import { SnapshotReader } from '../formats/snapshot-reader.js';
import { STAT_SIZE, StatView } from '../formats/stat.js';
import { clientCversion, type AclEntry, type NodeRecord } from '../core/node-record.js';
import { displayPath, parentKey, treeKey } from '../core/tree.js';
import { isSystemPath } from '../core/znode-path.js';

const OPEN: readonly AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
/** Records are read again in batches of this many bytes, each batch in file order, in reads this large. */
const BATCH_BYTES = 4 << 20;
const READ_CHUNK = 1 << 20;

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
export function sortSnapshot(
  file: string,
  name: string,
  root: string,
  io: { batchBytes?: number; readChunk?: number } = {},
): SortedSnapshot | null {
  const batchBytes = io.batchBytes ?? BATCH_BYTES;
  const readChunk = io.readChunk ?? READ_CHUNK;
  const keys: string[] = [];
  let offsets = new Float64Array(1 << 16);
  let lengths = new Int32Array(1 << 16);
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
        const longer = new Int32Array(lengths.length * 2);
        longer.set(lengths);
        lengths = longer;
      }
      offsets[keys.length] = n.fileOffset;
      lengths[keys.length] = n.recordLength;
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
  // The ranks to emit: from the root to the end of the run of keys that start with it.
  const wanted: number[] = [];
  for (let r = first; r < order.length && sorted(r).startsWith(rootKey); r++)
    if (under(sorted(r)) && !isSystemPath(sorted(r))) wanted.push(r);
  const emit = Int32Array.from(wanted);
  return {
    count: emit.length,
    *records() {
      const fd = openSync(file, 'r');
      try {
        const chunk = Buffer.allocUnsafe(readChunk);
        let batch = Buffer.allocUnsafe(0);
        for (let i = 0; i < emit.length;) {
          // A batch of records in path order, read in file order (one large read serves every record
          // it covers), then handed out in path order.
          let bytes = 0;
          let j = i;
          while (j < emit.length && (j === i || bytes + lengths[order[emit[j]]] <= batchBytes)) bytes += lengths[order[emit[j++]]];
          if (batch.length < bytes) batch = Buffer.allocUnsafe(Math.max(bytes, Math.min(batchBytes, 2 * batch.length)));
          const slots = new Float64Array(j - i);
          const byOffset = new Float64Array(j - i);
          const rankAt = new Map<number, number>();
          for (let k = i, pos = 0; k < j; k++) {
            const at = offsets[order[emit[k]]];
            slots[k - i] = pos;
            pos += lengths[order[emit[k]]];
            byOffset[k - i] = at;
            rankAt.set(at, k - i);
          }
          byOffset.sort();
          let chunkAt = -1;
          let chunkLen = 0;
          for (const at of byOffset) {
            const k = rankAt.get(at)!;
            const length = lengths[order[emit[i + k]]];
            if (length > readChunk) {
              if (readSync(fd, batch, slots[k], length, at) !== length) throw changed(name, at, sorted(emit[i + k]));
              continue;
            }
            if (at < chunkAt || at + length > chunkAt + chunkLen) {
              chunkAt = at;
              chunkLen = readSync(fd, chunk, 0, readChunk, at);
              if (chunkLen < length) throw changed(name, at, sorted(emit[i + k]));
            }
            chunk.copy(batch, slots[k], at - chunkAt, at - chunkAt + length);
          }
          for (let k = i; k < j; k++) {
            const length = lengths[order[emit[k]]];
            const record = batch.subarray(slots[k - i], slots[k - i] + length);
            // Each record's own length fields must still say what the first pass found.
            if (recordLength(record, length) !== length) throw changed(name, offsets[order[emit[k]]], sorted(emit[k]));
            yield recordAt(record, sorted(emit[k]), children[emit[k]], acls);
          }
          i = j;
        }
      } finally {
        closeSync(fd);
      }
    },
  };
}

function changed(name: string, at: number, key: string): IntegrityError {
  return new IntegrityError(
    'malformed',
    name,
    at,
    `the snapshot changed while it was read: the record of ${displayPath(key)} is not as it was`,
  );
}

/** The record's length by its own length fields (path, data, ACL index, stat); -1 when they run past `have`. */
function recordLength(buf: Buffer, have: number): number {
  if (have < 8) return -1;
  const pathLen = buf.readInt32BE(0);
  if (pathLen < 0 || have < 8 + pathLen) return -1;
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
