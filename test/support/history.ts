// Synthetic ZooKeeper histories for unit tests and benchmarks: a "leader" that builds txns the way
// ZooKeeper's PrepRequestProcessor fills them (results, not preconditions), applies them to its own
// tree to stamp each with the digest after it, and frames them into log files and snapshots.
import { applyTxn } from '../../src/core/apply-txn.js';
import { writeTreeSnapshot } from '../../src/core/snapshot-tree.js';
import { DataTree } from '../../src/core/tree.js';
import { encodeTxn, OpCode, type Txn, type TxnBody } from '../../src/formats/txn.js';
import { frameLogRecord, txnLogHeaderBytes } from '../../src/formats/txn-log.js';
import type { AclEntry } from '../../src/core/node-record.js';

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];

export class Leader {
  tree = DataTree.empty();
  zxid = 0n;
  time = 1_700_000_000_000n;
  txns: Txn[] = [];
  withDigests = true;

  private push(type: number, body: TxnBody, clientId = 0x1000n): Txn {
    this.zxid++;
    this.time += 7n;
    const txn: Txn = { header: { clientId, cxid: this.txns.length, zxid: this.zxid, time: this.time, type }, body, digest: null };
    applyTxn(this.tree, txn);
    if (this.withDigests && type !== OpCode.error) txn.digest = { version: 2, value: this.tree.digest() };
    this.txns.push(txn);
    return txn;
  }

  private parentCVersion(path: string): number {
    const parent = this.tree.get(path.slice(0, path.lastIndexOf('/')) || '/');
    return (parent?.stat.cversion ?? 0) + 1;
  }

  createSession(id: bigint, timeOut = 30000): Txn {
    return this.push(OpCode.createSession, { kind: 'createSession', timeOut }, id);
  }

  closeSession(id: bigint): Txn {
    const paths = [...(this.tree.ephemerals.get(id) ?? [])];
    return this.push(OpCode.closeSession, { kind: 'closeSession', paths2Delete: paths }, id);
  }

  create(path: string, data: Buffer | null = Buffer.from('d'), opts: { ephemeral?: bigint; acl?: AclEntry[] } = {}): Txn {
    const body: TxnBody = {
      kind: 'create',
      path,
      data,
      acl: opts.acl ?? OPEN,
      ephemeral: opts.ephemeral !== undefined,
      parentCVersion: this.parentCVersion(path),
    };
    return this.push(OpCode.create2, body, opts.ephemeral ?? 0x1000n);
  }

  createContainer(path: string): Txn {
    return this.push(OpCode.createContainer, {
      kind: 'createContainer',
      path,
      data: Buffer.alloc(0),
      acl: OPEN,
      parentCVersion: this.parentCVersion(path),
    });
  }

  createTTL(path: string, ttl: bigint): Txn {
    return this.push(OpCode.createTTL, {
      kind: 'createTTL',
      path,
      data: Buffer.from('t'),
      acl: OPEN,
      parentCVersion: this.parentCVersion(path),
      ttl,
    });
  }

  setData(path: string, data: Buffer): Txn {
    const v = this.tree.get(path)!.stat.version + 1;
    return this.push(OpCode.setData, { kind: 'setData', path, data, version: v });
  }

  setAcl(path: string, acl: AclEntry[]): Txn {
    const v = this.tree.get(path)!.stat.aversion + 1;
    return this.push(OpCode.setACL, { kind: 'setACL', path, acl, version: v });
  }

  delete(path: string): Txn {
    return this.push(OpCode.delete, { kind: 'delete', path });
  }

  error(err: number): Txn {
    return this.push(OpCode.error, { kind: 'error', err });
  }

  failedMulti(path: string): Txn {
    return this.push(OpCode.multi, {
      kind: 'multi',
      txns: [
        {
          type: OpCode.create,
          body: { kind: 'create', path, data: null, acl: OPEN, ephemeral: false, parentCVersion: this.parentCVersion(path) },
        },
        { type: OpCode.error, body: { kind: 'error', err: -110 } },
        { type: OpCode.error, body: { kind: 'error', err: -2 } },
      ],
    });
  }

  multi(ops: Array<{ type: number; body: TxnBody }>): Txn {
    return this.push(OpCode.multi, { kind: 'multi', txns: ops });
  }

  /** A snapshot of the tree as it is now, named `zxid` (pass an older zxid to make it fuzzy). */
  async snapshot(nameZxid = this.zxid): Promise<{ name: string; zxid: bigint; bytes: Buffer }> {
    // The digest section names the last txn applied when the write finished, as a server does.
    return this.write(nameZxid, this.zxid);
  }

  private async write(nameZxid: bigint, digestZxid: bigint): Promise<{ name: string; zxid: bigint; bytes: Buffer }> {
    const parts: Buffer[] = [];
    const saved = this.tree.lastProcessedZxid;
    await writeTreeSnapshot(this.tree, (c) => void parts.push(c), { zxid: digestZxid });
    this.tree.lastProcessedZxid = saved;
    return { name: `snapshot.${nameZxid.toString(16)}`, zxid: nameZxid, bytes: Buffer.concat(parts) };
  }

  /**
   * A snapshot a server wrote while applying the last txn: its nodes already hold that txn's changes,
   * but it is named after, and its digest section records, the txn before (zxid and digest).
   */
  async inFlightSnapshot(): Promise<{ name: string; zxid: bigint; bytes: Buffer }> {
    const before = this.txns[this.txns.length - 2];
    const tree = this.tree;
    tree.digest = () => before.digest!.value;
    try {
      return await this.write(before.header.zxid, before.header.zxid);
    } finally {
      delete (tree as Partial<DataTree>).digest; // back to the class's own method
    }
  }

  /** Frames txns with zxid in [from, to] as one log file named after its first zxid. */
  log(from: bigint, to: bigint): { name: string; zxid: bigint; bytes: Buffer } {
    const chosen = this.txns.filter((t) => t.header.zxid >= from && t.header.zxid <= to);
    const bytes = Buffer.concat([txnLogHeaderBytes(), ...chosen.map((t) => frameLogRecord(encodeTxn(t)))]);
    return { name: `log.${from.toString(16)}`, zxid: from, bytes };
  }
}
