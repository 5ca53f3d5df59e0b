// The node counts of a tree at a zxid, replayed from a snapshot and logs without building the tree:
// each node is only its type (ephemeralOwner) and data length, and txns are applied as DataTree
// applies them on replay (apply-txn.ts): a create needs its parent and fails on an existing node, a
// delete or setData of a missing node changes nothing, a multi with a failed op is a no-op, and a
// closed session takes its ephemerals with it. What a physical backup records as its node count.
import type { SubTxn, Txn, TxnBody } from '../formats/txn.js';
import { CONTAINER_OWNER, countNode, ttlOwner, zeroCounts, type NodeCounts } from './node-record.js';
import { parentKey, trackEphemeral, treeKey } from './tree.js';
import { isSystemPath } from './znode-path.js';

interface Counted {
  owner: bigint;
  length: number;
}

export class CountingTree {
  private readonly nodes = new Map<string, Counted>();
  private readonly ephemerals = new Map<bigint, Set<string>>();
  /** The last txn applied. */
  zxid: bigint;

  constructor(zxid: bigint) {
    this.zxid = zxid;
  }

  /** A node of the base snapshot. */
  add(path: string, ephemeralOwner: bigint, dataLength: number): void {
    const key = treeKey(path);
    this.nodes.set(key, { owner: ephemeralOwner, length: dataLength });
    trackEphemeral(this.ephemerals, key, ephemeralOwner, true);
  }

  private create(path: string, owner: bigint, data: Uint8Array | null): void {
    const key = treeKey(path);
    if (!this.nodes.has(parentKey(key)) || this.nodes.has(key)) return;
    this.nodes.set(key, { owner, length: data ? data.length : 0 });
    trackEphemeral(this.ephemerals, key, owner, true);
  }

  private delete(path: string): void {
    const key = treeKey(path);
    const node = this.nodes.get(key);
    if (!node || !this.nodes.has(parentKey(key))) return;
    this.nodes.delete(key);
    trackEphemeral(this.ephemerals, key, node.owner, false);
  }

  private body(body: TxnBody, clientId: bigint): void {
    switch (body.kind) {
      case 'create':
        return this.create(body.path, body.ephemeral ? clientId : 0n, body.data);
      case 'createContainer':
        return this.create(body.path, CONTAINER_OWNER, body.data);
      case 'createTTL':
        return this.create(body.path, ttlOwner(body.ttl), body.data);
      case 'delete':
        return this.delete(body.path);
      case 'setData': {
        const node = this.nodes.get(treeKey(body.path));
        if (node) node.length = body.data ? body.data.length : 0;
        return;
      }
      case 'closeSession': {
        const local = this.ephemerals.get(clientId);
        this.ephemerals.delete(clientId);
        for (const p of body.paths2Delete ?? []) this.delete(p);
        for (const key of local ?? []) this.delete(key);
        return;
      }
      case 'multi':
        return this.multi(body.txns, clientId);
      default:
        return;
    }
  }

  private multi(txns: SubTxn[], clientId: bigint): void {
    if (txns.some((t) => t.body.kind === 'error')) return;
    for (const sub of txns) this.body(sub.body, clientId);
  }

  apply(txn: Txn): void {
    this.body(txn.body, txn.header.clientId);
    if (txn.header.zxid > this.zxid) this.zxid = txn.header.zxid;
  }

  /** The nodes a restore creates, by type: all but `/zookeeper` and its subtree. */
  counts(): NodeCounts {
    const c = zeroCounts();
    for (const [key, node] of this.nodes) if (!isSystemPath(key)) countNode(c, node.owner, node.length);
    return c;
  }
}
