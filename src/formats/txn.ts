// Transaction records: the TxnHeader, one body per opcode, and the optional 3.6+ TxnDigest trailer.
//
//   payload = TxnHeader(32) | body (by type; some types have none) | [TxnDigest(12)]
//   TxnHeader = long clientId, int cxid, long zxid, long time, int type
//   TxnDigest = int version, long treeDigest       (detected only by "bytes remain after the body")
//
// Bodies follow zookeeper.jute. The leader writes results, not preconditions: SetDataTxn.version is the
// new version, CreateTxn.parentCVersion the parent's new cversion.
import { IntegrityError } from '../errors.js';
import type { AclEntry } from './records.js';
import { JuteReader, JuteWriter } from './jute.js';

export const OpCode = {
  error: -1,
  create: 1,
  delete: 2,
  setData: 5,
  setACL: 7,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  createSession: -10,
  closeSession: -11,
} as const;

export interface TxnHeader {
  clientId: bigint;
  cxid: number;
  zxid: bigint;
  time: bigint;
  type: number;
}

export type TxnBody =
  | { kind: 'create'; path: string; data: Uint8Array | null; acl: AclEntry[] | null; ephemeral: boolean; parentCVersion: number }
  | { kind: 'createContainer'; path: string; data: Uint8Array | null; acl: AclEntry[] | null; parentCVersion: number }
  | { kind: 'createTTL'; path: string; data: Uint8Array | null; acl: AclEntry[] | null; parentCVersion: number; ttl: bigint }
  | { kind: 'delete'; path: string }
  | { kind: 'setData'; path: string; data: Uint8Array | null; version: number }
  | { kind: 'setACL'; path: string; acl: AclEntry[] | null; version: number }
  | { kind: 'check'; path: string; version: number }
  | { kind: 'createSession'; timeOut: number }
  /** paths2Delete is null when the record has no body (3.4/3.5 logs, or the feature off). */
  | { kind: 'closeSession'; paths2Delete: string[] | null }
  | { kind: 'error'; err: number }
  | { kind: 'multi'; txns: SubTxn[] };

export interface SubTxn {
  type: number;
  body: TxnBody;
}

export interface TxnDigest {
  version: number;
  value: bigint;
}

export interface Txn {
  header: TxnHeader;
  body: TxnBody;
  digest: TxnDigest | null;
}

export const TXN_HEADER_SIZE = 32;
const DIGEST_SIZE = 12;

function readHeader(r: JuteReader): TxnHeader {
  return {
    clientId: r.long('txn clientId'),
    cxid: r.int('txn cxid'),
    zxid: r.long('txn zxid'),
    time: r.long('txn time'),
    type: r.int('txn type'),
  };
}

/**
 * Reads one body of `type` from `r`. Honours ZooKeeper's fallbacks: a create that ends early is a
 * CreateTxnV0 (parentCVersion -1); a closeSession with no bytes has no body.
 */
function readBody(r: JuteReader, type: number, inMulti: boolean): TxnBody {
  switch (type) {
    case OpCode.create:
    case OpCode.create2: {
      const path = r.string('create path');
      const data = r.buffer('create data');
      const acl = r.aclList('create acl');
      const ephemeral = r.bool('create ephemeral');
      const parentCVersion = r.remaining >= 4 ? r.int('create parentCVersion') : -1;
      return { kind: 'create', path, data, acl, ephemeral, parentCVersion };
    }
    case OpCode.createContainer: {
      const path = r.string('createContainer path');
      const data = r.buffer('createContainer data');
      const acl = r.aclList('createContainer acl');
      return { kind: 'createContainer', path, data, acl, parentCVersion: r.int('createContainer parentCVersion') };
    }
    case OpCode.createTTL: {
      const path = r.string('createTTL path');
      const data = r.buffer('createTTL data');
      const acl = r.aclList('createTTL acl');
      const parentCVersion = r.int('createTTL parentCVersion');
      return { kind: 'createTTL', path, data, acl, parentCVersion, ttl: r.long('createTTL ttl') };
    }
    case OpCode.delete:
    case OpCode.deleteContainer:
      return { kind: 'delete', path: r.string('delete path') };
    case OpCode.setData:
    case OpCode.reconfig: {
      const path = r.string('setData path');
      const data = r.buffer('setData data');
      return { kind: 'setData', path, data, version: r.int('setData version') };
    }
    case OpCode.setACL: {
      const path = r.string('setACL path');
      const acl = r.aclList('setACL acl');
      return { kind: 'setACL', path, acl, version: r.int('setACL version') };
    }
    case OpCode.check: {
      const path = r.string('check path');
      return { kind: 'check', path, version: r.int('check version') };
    }
    case OpCode.createSession:
      return { kind: 'createSession', timeOut: r.int('createSession timeOut') };
    case OpCode.closeSession:
      if (inMulti || r.remaining === 0) return { kind: 'closeSession', paths2Delete: null };
      return { kind: 'closeSession', paths2Delete: r.stringList('closeSession paths2Delete') ?? [] };
    case OpCode.error:
      return { kind: 'error', err: r.int('error code') };
    case OpCode.multi: {
      if (inMulti) throw new IntegrityError('malformed', r.file, r.offset, 'malformed: multi nested inside multi');
      const n = r.vectorLength('multi txns');
      const txns: SubTxn[] = [];
      for (let i = 0; i < n; i++) {
        const subType = r.int('multi sub-txn type');
        const at = r.offset;
        const bytes = r.buffer('multi sub-txn data');
        if (bytes === null) throw new IntegrityError('malformed', r.file, at, 'malformed: null multi sub-txn');
        const sub = new JuteReader(bytes, r.file, { baseOffset: at + 4, maxLength: r.maxLength });
        txns.push({ type: subType, body: readBody(sub, subType, true) });
      }
      return { kind: 'multi', txns };
    }
    default:
      throw new IntegrityError('malformed', r.file, r.offset - 4, `malformed: unsupported txn type ${type}`);
  }
}

/** Decodes one log-record payload. `baseOffset` is where the payload starts in its file. */
export function decodeTxn(payload: Buffer, file: string, baseOffset: number): Txn {
  const r = new JuteReader(payload, file, { baseOffset });
  const header = readHeader(r);
  const body = readBody(r, header.type, false);
  let digest: TxnDigest | null = null;
  if (r.remaining >= DIGEST_SIZE) {
    digest = { version: r.int('digest version'), value: r.long('digest value') };
  }
  return { header, body, digest };
}

function writeBody(w: JuteWriter, body: TxnBody): void {
  switch (body.kind) {
    case 'create':
      w.ustring(body.path).buffer(body.data).aclList(body.acl).bool(body.ephemeral).int(body.parentCVersion);
      return;
    case 'createContainer':
      w.ustring(body.path).buffer(body.data).aclList(body.acl).int(body.parentCVersion);
      return;
    case 'createTTL':
      w.ustring(body.path).buffer(body.data).aclList(body.acl).int(body.parentCVersion).long(body.ttl);
      return;
    case 'delete':
      w.ustring(body.path);
      return;
    case 'setData':
      w.ustring(body.path).buffer(body.data).int(body.version);
      return;
    case 'setACL':
      w.ustring(body.path).aclList(body.acl).int(body.version);
      return;
    case 'check':
      w.ustring(body.path).int(body.version);
      return;
    case 'createSession':
      w.int(body.timeOut);
      return;
    case 'closeSession':
      if (body.paths2Delete !== null) w.stringList(body.paths2Delete);
      return;
    case 'error':
      w.int(body.err);
      return;
    case 'multi':
      w.int(body.txns.length);
      for (const t of body.txns) {
        const sub = new JuteWriter(256);
        writeBody(sub, t.body);
        w.int(t.type).buffer(sub.view());
      }
      return;
  }
}

/** Encodes a txn payload (header, body, optional digest), the inverse of decodeTxn. */
export function encodeTxn(txn: Txn): Buffer {
  const w = new JuteWriter(256);
  const h = txn.header;
  w.long(h.clientId).int(h.cxid).long(h.zxid).long(h.time).int(h.type);
  writeBody(w, txn.body);
  if (txn.digest) w.int(txn.digest.version).long(txn.digest.value);
  return w.take();
}
