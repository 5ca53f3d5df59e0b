// Applies one logged transaction to a DataTree exactly as ZooKeeper's DataTree.processTxn does on
// replay: failures (NoNode, NodeExists) are results, not exceptions, because fuzzy snapshots make them
// expected; a multi with any failed op is a no-op; a type-1 create that finds its node already there
// still advances the parent's cversion/pzxid.
import { OpCode, type SubTxn, type Txn, type TxnBody, type TxnHeader } from '../formats/txn.js';
import { CONTAINER_OWNER, ttlOwner } from './node-record.js';
import { DataTree, NoNodeError, NodeExistsError, parentKey, treeKey } from './tree.js';

const RUNTIME_INCONSISTENCY = -2;

/** The ZooKeeper error code of applying a txn: 0 for success. */
export type ApplyResult = number;

function applyBody(tree: DataTree, header: TxnHeader, type: number, body: TxnBody): ApplyResult {
  try {
    switch (body.kind) {
      case 'create':
        tree.createNode(
          body.path,
          body.data,
          body.acl,
          body.ephemeral ? header.clientId : 0n,
          body.parentCVersion,
          header.zxid,
          header.time,
        );
        return 0;
      case 'createContainer':
        tree.createNode(body.path, body.data, body.acl, CONTAINER_OWNER, body.parentCVersion, header.zxid, header.time);
        return 0;
      case 'createTTL':
        tree.createNode(body.path, body.data, body.acl, ttlOwner(body.ttl), body.parentCVersion, header.zxid, header.time);
        return 0;
      case 'delete':
        tree.deleteNode(body.path, header.zxid);
        return 0;
      case 'setData':
        tree.setData(body.path, body.data, body.version, header.zxid, header.time);
        return 0;
      case 'setACL':
        tree.setAcl(body.path, body.acl, body.version);
        return 0;
      case 'closeSession':
        tree.killSession(header.clientId, header.zxid, body.paths2Delete);
        return 0;
      case 'error':
        return body.err;
      case 'check':
      case 'createSession':
        return 0;
      case 'multi':
        return applyMulti(tree, header, body.txns);
    }
  } catch (err) {
    if (err instanceof NoNodeError || err instanceof NodeExistsError) {
      if (type === OpCode.create && err instanceof NodeExistsError && body.kind === 'create') {
        // The node was deleted and re-created inside the fuzzy window: bring the parent up anyway.
        try {
          tree.setCversionPzxid(parentKey(treeKey(body.path)), body.parentCVersion, header.zxid);
        } catch (e) {
          if (e instanceof NoNodeError) return e.code;
          throw e;
        }
      }
      return err.code;
    }
    throw err;
  }
}

function applyMulti(tree: DataTree, header: TxnHeader, txns: SubTxn[]): ApplyResult {
  if (txns.some((t) => t.type === OpCode.error)) {
    // A failed multi changed nothing at the leader; ZooKeeper turns every op into an error.
    const first = txns.find((t) => t.type === OpCode.error)!;
    return first.body.kind === 'error' && first.body.err !== 0 ? first.body.err : RUNTIME_INCONSISTENCY;
  }
  let rc = 0;
  for (const sub of txns) {
    const r = applyBody(tree, { ...header, type: sub.type }, sub.type, sub.body);
    if (r !== 0 && rc === 0) rc = r;
  }
  return rc;
}

/**
 * Applies `txn` and the session bookkeeping around it (createSession adds, closeSession removes), then
 * advances lastProcessedZxid. Returns the ZooKeeper error code (0 on success).
 */
export function applyTxn(tree: DataTree, txn: Txn): ApplyResult {
  const { header, body } = txn;
  if (body.kind === 'createSession') tree.sessions.set(header.clientId, body.timeOut);
  else if (body.kind === 'closeSession') tree.sessions.delete(header.clientId);
  const rc = applyBody(tree, header, header.type, body);
  if (header.zxid > tree.lastProcessedZxid) tree.lastProcessedZxid = header.zxid;
  return rc;
}
