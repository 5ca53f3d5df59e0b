// The node counts of a tree at a zxid, replayed from a snapshot and logs without building the tree:
// each node is only its path's bytes, its type and its data length, and txns are applied as DataTree
// applies them on replay (apply-txn.ts): a create needs its parent and fails on an existing node, a
// delete or setData of a missing node changes nothing, a multi with a failed op is a no-op, and a
// closed session takes its ephemerals with it. What a physical backup records as its node count.
//
// Paths stay the bytes they are in the files (formats/txn-effects.ts reads them in place), kept in a
// PathTable: no string is made per txn. Only ephemerals get one (their key, latin1 of the bytes), for
// the session that owns them.
import { visitTxnEffects, type CreateKind, type TxnEffects } from '../formats/txn-effects.js';
import { CONTAINER_OWNER, countNodeOfType, nodeTypeOf, ttlOwner, zeroCounts, type NodeCounts, type NodeType } from './node-record.js';
import { PathTable } from './path-table.js';
import { trackEphemeral } from './tree.js';
import { SYSTEM_SUBTREE } from './znode-path.js';

const SLASH = 0x2f;
/** A node's value in the table: data length × 4 + its type's code. */
const TYPES: readonly NodeType[] = ['persistent', 'ephemeral', 'container', 'ttl'];
const TYPE_CODE: Record<NodeType, number> = { persistent: 0, ephemeral: 1, container: 2, ttl: 3 };
const SYSTEM = Buffer.from(SYSTEM_SUBTREE, 'latin1');

/** Where the parent's path of `buf[start, end)` ends (its last "/"), or -1 for a path with none. */
function parentEnd(buf: Uint8Array, start: number, end: number): number {
  for (let i = end - 1; i >= start; i--) if (buf[i] === SLASH) return i;
  return -1;
}

function isSystemBytes(b: Buffer): boolean {
  if (b.length < SYSTEM.length || (b.length > SYSTEM.length && b[SYSTEM.length] !== SLASH)) return false;
  for (let i = 0; i < SYSTEM.length; i++) if (b[i] !== SYSTEM[i]) return false;
  return true;
}

export class CountingTree implements TxnEffects {
  private readonly nodes = new PathTable();
  /** Plain ephemerals: key (latin1 of the path's bytes) → owning session, and by session. */
  private readonly owners = new Map<string, bigint>();
  private readonly ephemerals = new Map<bigint, Set<string>>();
  /** The last txn applied. */
  zxid: bigint;

  constructor(zxid: bigint) {
    this.zxid = zxid;
  }

  /** A node of the base snapshot: its path's bytes `buf[start, end)` ("" or "/" for the root). */
  add(buf: Buffer, start: number, end: number, ephemeralOwner: bigint, dataLength: number): void {
    if (end - start === 1 && buf[start] === SLASH) end = start;
    this.put(buf, start, end, nodeTypeOf(ephemeralOwner), ephemeralOwner, dataLength);
  }

  /** Applies the txn in `buf[start, end)` (a log record's payload) whose zxid is `zxid`. */
  applyRecord(buf: Buffer, start: number, end: number, file: string, zxid: bigint): void {
    visitTxnEffects(buf, start, end, file, this);
    if (zxid > this.zxid) this.zxid = zxid;
  }

  create(buf: Buffer, start: number, end: number, kind: CreateKind, clientId: bigint, dataLength: number): void {
    const p = parentEnd(buf, start, end);
    if (p < 0 || !this.nodes.has(buf, start, p) || this.nodes.has(buf, start, end)) return;
    const owner = kind === 'ephemeral' ? clientId : kind === 'container' ? CONTAINER_OWNER : kind === 'ttl' ? ttlOwner(0n) : 0n;
    this.put(buf, start, end, nodeTypeOf(owner), owner, dataLength);
  }

  delete(buf: Buffer, start: number, end: number): void {
    const value = this.nodes.get(buf, start, end);
    const p = parentEnd(buf, start, end);
    if (value < 0 || p < 0 || !this.nodes.has(buf, start, p)) return;
    this.nodes.delete(buf, start, end);
    if (TYPES[value & 3] === 'ephemeral') {
      const key = buf.toString('latin1', start, end);
      const owner = this.owners.get(key);
      this.owners.delete(key);
      if (owner !== undefined) trackEphemeral(this.ephemerals, key, owner, false);
    }
  }

  setData(buf: Buffer, start: number, end: number, dataLength: number): void {
    const value = this.nodes.get(buf, start, end);
    if (value >= 0) this.nodes.set(buf, start, end, encode(dataLength, value & 3));
  }

  closeSession(clientId: bigint, buf: Buffer, paths: number[] | null): void {
    const local = this.ephemerals.get(clientId);
    this.ephemerals.delete(clientId);
    for (let i = 0; paths && i < paths.length; i += 2) this.delete(buf, paths[i], paths[i + 1]);
    for (const key of local ?? []) {
      const b = Buffer.from(key, 'latin1');
      this.delete(b, 0, b.length);
    }
  }

  private put(buf: Buffer, start: number, end: number, type: NodeType, owner: bigint, dataLength: number): void {
    this.nodes.set(buf, start, end, encode(dataLength, TYPE_CODE[type]));
    if (type === 'ephemeral') {
      const key = buf.toString('latin1', start, end);
      this.owners.set(key, owner);
      trackEphemeral(this.ephemerals, key, owner, true);
    }
  }

  /** The nodes a restore creates, by type: all but `/zookeeper` and its subtree. */
  counts(): NodeCounts {
    const c = zeroCounts();
    this.nodes.forEach((path, value) => {
      if (!isSystemBytes(path)) countNodeOfType(c, TYPES[value & 3], value >>> 2);
    });
    return c;
  }
}

function encode(dataLength: number, typeCode: number): number {
  // Data lengths are bounded by the records' (formats/jute.ts DEFAULT_MAX_LENGTH, 64 MiB): × 4 fits an int32.
  return (Math.max(0, dataLength) << 2) | typeCode;
}
