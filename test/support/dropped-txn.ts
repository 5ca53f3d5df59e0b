// What a server that logged a proposal and died before a quorum had it leaves on disk: one more valid
// record at the end of its newest txn log (the next zxid of its epoch, a correct Adler-32 and the
// tree digest after it), which the rest of the ensemble never saw. Written while the server is down.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { applyTxn } from '../../src/core/apply-txn.js';
import { listDataDir } from '../../src/datadir/listing.js';
import { encodeTxn, OpCode, type Txn } from '../../src/formats/txn.js';
import { frameLogRecord, verifyTxnLogFile } from '../../src/formats/txn-log.js';
import { replayDataDir } from '../../src/datadir/source.js';

export interface DroppedTxn {
  zxid: bigint;
  /** Milliseconds since the epoch, as stamped in the txn header. */
  time: number;
  /** The node the txn creates. */
  path: string;
  /** The log file the record was appended to. */
  log: string;
}

/**
 * Appends a create of `path` (under an existing parent) to the newest log of a stopped server, as the
 * txn right after the last one it logged. The tree it applies to is the server's own files replayed.
 */
export function appendDroppedTxn(server: { dataDir: string; dataLogDir: string }, path: string, time = Date.now()): DroppedTxn {
  const listing = listDataDir(server.dataDir, server.dataLogDir);
  const log = listing.logs[listing.logs.length - 1];
  if (!log) throw new Error(`${listing.logDir} holds no log to append to`);
  const fd = openSync(log.path, 'r+');
  try {
    const v = verifyTxnLogFile((into, position) => readSync(fd, into, 0, into.length, position), fstatSync(fd).size, log.path);
    if (!v.last) throw new Error(`${log.path} holds no txn`);
    const { tree, zxid } = replayDataDir(server.dataDir, server.dataLogDir, { verifyDigests: true });
    if (zxid !== v.last.txn.header.zxid)
      throw new Error(`${log.path} ends at 0x${v.last.txn.header.zxid.toString(16)}, the files replay to 0x${zxid.toString(16)}`);
    const parent = tree.get(path.slice(0, path.lastIndexOf('/')) || '/');
    if (!parent) throw new Error(`the parent of ${path} does not exist`);
    const txn: Txn = {
      header: { clientId: 0n, cxid: 0, zxid: zxid + 1n, time: BigInt(time), type: OpCode.create },
      body: {
        kind: 'create',
        path,
        data: Buffer.from('never committed'),
        acl: [{ perms: 31, scheme: 'world', id: 'anyone' }],
        ephemeral: false,
        parentCVersion: parent.stat.cversion + 1,
      },
      digest: null,
    };
    applyTxn(tree, txn);
    txn.digest = { version: 2, value: tree.digest() };
    writeSync(fd, frameLogRecord(encodeTxn(txn)), 0, undefined, v.end);
    return { zxid: txn.header.zxid, time, path, log: log.path };
  } finally {
    closeSync(fd);
  }
}
