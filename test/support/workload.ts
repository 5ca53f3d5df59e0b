// A realistic ZooKeeper workload for integration tests: every transaction type a backup must carry
// (creates of every kind, setData, delete, setACL, multi that commits and multi that fails, session
// create/close with ephemerals, container and TTL nodes), long enough that a server with snapCount=100
// rolls its logs and takes several (fuzzy) snapshots, with checkpoints where a test captures the tree.
import { createHash } from 'node:crypto';

import type { AclEntry, NodeRecord } from '../../src/core/node-record.js';
import { openSession, serverZxid, ZK_ERROR, ZkOpError, type ZkSession } from '../../src/zk/client.js';
import { readLiveTree } from '../../src/zk/live-tree.js';

export interface Checkpoint {
  label: string;
  /** The last zxid the server had applied when the tree was read (its `srvr` Zxid after a sync). */
  zxid: bigint;
  /** Date.now() at that moment. */
  time: number;
  /** readLiveTree of the whole tree, read with WORKLOAD_AUTH. */
  tree: NodeRecord[];
}

const USER = 'zkvault';
const PASSWORD = 'secret';

/** Credentials that can read (and administer) everything the workload creates. */
export const WORKLOAD_AUTH: string[] = [`digest:${USER}:${PASSWORD}`];

/** ZooKeeper's digest ACL id for user:password: `user:base64(sha1(user:password))`. */
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

const PERM = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;
const OPEN: AclEntry[] = [{ perms: PERM.ALL, scheme: 'world', id: 'anyone' }];
const OWNER: AclEntry = { perms: PERM.ALL, scheme: 'digest', id: digestId(USER, PASSWORD) };
const READER: AclEntry = { perms: PERM.READ, scheme: 'digest', id: digestId('reader', 'reader-pw') };

/**
 * Size of WORKLOAD_NODES.big: 519 bytes under the most jute.maxbuffer lets a client create there, and
 * still readable by ZooKeeper's Java client, whose default jute.maxbuffer caps a getData reply at
 * 1,048,487 data bytes (reply header 16 + length 4 + data + stat 68 ≤ 1,048,575).
 */
export const BIG_NODE_BYTES = 1_048_000;

/** The nodes tests look for in checkpoint trees. */
export const WORKLOAD_NODES = {
  deep: '/app/deep/l01/l02/l03/l04/l05/l06/l07/l08/l09/l10/l11/l12',
  config: '/app/config',
  counter: '/app/counter',
  unicode: '/ünïcödé/日本',
  nullData: '/data/null',
  emptyData: '/data/empty',
  binary: '/data/binary',
  big: '/data/big',
  sequentialParent: '/queue',
  /** Ephemeral of a session closed between the first and second checkpoints. */
  ephemeralGone: '/live/short-1',
  /** Ephemeral of a session open through the last checkpoint (closed when the workload ends). */
  ephemeralKept: '/live/long-1',
  ephemeralSequentialParent: '/locks',
  /** Made by ZooKeeper's own shell (`create -c`), given a child right after. */
  container: '/containers/jobs',
  containerChild: '/containers/jobs/job-1',
  /** Made by this project's client (mode 'container'), never given a child. */
  containerByClient: '/containers/by-client',
  /** Made by ZooKeeper's own shell (`create -t`). */
  ttl: '/ttl/cache',
  ttlByClient: '/ttl/by-client',
  /** digest ACLs (owner + read-only reader), changed twice. */
  secure: '/secure',
  /** Readable only with WORKLOAD_AUTH: reading it without gives NoAuth. */
  private: '/secure/private',
  /** An ip ACL (127.0.0.1 read) next to the owner's digest. */
  ipAcl: '/secure/ip-only',
  /** Created by the multi that commits. */
  multiCreated: '/txn/a',
  /** Would have been created by the multi that fails; never exists. */
  multiNeverCreated: '/txn/never',
} as const;

/** TTL long enough that nothing expires while tests run. */
const TTL_MS = 3_600_000;

/** Deterministic bytes (xorshift32), so runs are comparable. */
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Runs `count` calls of `op` with up to `width` in flight (one session keeps them in order). */
async function pipelined(count: number, width: number, op: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += width) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(count, start + width); i++) batch.push(op(i));
    await Promise.all(batch);
  }
}

async function mkdirs(s: ZkSession, path: string, data: Uint8Array | null = null): Promise<void> {
  let current = '';
  for (const part of path.split('/').slice(1)) {
    current += `/${part}`;
    if ((await s.exists(current)) === null) await s.create(current, data, OPEN);
  }
}

/**
 * Drives ~550 transactions against `connectString` (the server should start empty). Calls
 * `opts.checkpoint` at four quiet points (every write before it has completed, none runs during it):
 * 'base', 'churn', 'rolled', 'final'. `opts.zkCli` runs ZooKeeper's own shell with WORKLOAD_AUTH, for
 * the container and TTL nodes made the way operators make them.
 */
export async function runWorkload(
  connectString: string,
  opts: { checkpoint: (label: string) => Promise<void>; zkCli: (cmds: string[]) => Promise<string> },
): Promise<void> {
  const N = WORKLOAD_NODES;
  const s = await openSession({ connectString, auth: WORKLOAD_AUTH });
  const shortLived = await openSession({ connectString });
  const longLived = await openSession({ connectString });
  try {
    // ---- base: one of everything ------------------------------------------------------------
    await s.create('/app', text('app root'), OPEN);
    await s.create(N.config, text(JSON.stringify({ version: 0, flags: [] })), OPEN);
    await mkdirs(s, N.deep);
    await s.setData(N.deep, text('bottom of a deep path'));
    await s.create('/ünïcödé', text('ünïcödé'), OPEN);
    await s.create(N.unicode, text('日本語のデータ'), OPEN);
    await s.create('/ünïcödé/Ελληνικά', null, OPEN);

    await s.create('/data', null, OPEN);
    await s.create(N.nullData, null, OPEN);
    await s.create(N.emptyData, new Uint8Array(0), OPEN);
    const allBytes = new Uint8Array(512);
    for (let i = 0; i < allBytes.length; i++) allBytes[i] = i & 0xff; // every byte value, twice; not UTF-8
    await s.create(N.binary, allBytes, OPEN);
    await s.create(N.big, bytes(BIG_NODE_BYTES, 1), OPEN);

    await s.create(N.sequentialParent, null, OPEN);
    await pipelined(8, 8, (i) => s.create(`${N.sequentialParent}/item-`, text(`item ${i}`), OPEN, 'persistent_sequential'));

    await s.create('/live', null, OPEN);
    await s.create(N.ephemeralSequentialParent, null, OPEN);
    await shortLived.create(N.ephemeralGone, text('short'), OPEN, 'ephemeral');
    await shortLived.create('/live/short-2', null, OPEN, 'ephemeral');
    await longLived.create(N.ephemeralKept, text('long'), OPEN, 'ephemeral');
    await longLived.create(`${N.ephemeralSequentialParent}/lock-`, null, OPEN, 'ephemeral_sequential');
    await shortLived.create(`${N.ephemeralSequentialParent}/lock-`, null, OPEN, 'ephemeral_sequential');

    await s.create('/containers', null, OPEN);
    await s.create('/ttl', null, OPEN);
    await opts.zkCli([`create -c ${N.container} job-queue`, `create -t ${TTL_MS} ${N.ttl} cached-value`]);
    await s.create(N.containerChild, text('job one'), OPEN);
    await s.create(N.containerByClient, null, OPEN, 'container');
    await s.create(N.ttlByClient, text('ttl by client'), OPEN, 'ttl', { ttlMs: TTL_MS });
    await opts.checkpoint('base');

    // ---- churn: data versions, deletes, ACLs, multi, a session ending ------------------------
    await pipelined(12, 4, (i) => s.setData(N.config, text(JSON.stringify({ version: i + 1, flags: ['a'.repeat(i)] }))));
    await s.create(N.counter, text('0'), OPEN);
    await pipelined(40, 10, (i) => s.setData(N.counter, text(String(i + 1))));
    await s.create('/app/items', null, OPEN);
    await pipelined(40, 10, (i) => s.create(`/app/items/item-${String(i).padStart(3, '0')}`, bytes(64 + i, i + 100), OPEN));
    await pipelined(20, 10, (i) => s.delete(`/app/items/item-${String(i * 2).padStart(3, '0')}`));

    await s.create(N.secure, text('secure'), OPEN);
    await s.create(N.private, text('owner only'), [OWNER]);
    await s.create(N.ipAcl, text('ip'), OPEN);
    await s.setAcl(N.secure, [OWNER, READER]);
    await s.setAcl(N.ipAcl, [{ perms: PERM.READ, scheme: 'ip', id: '127.0.0.1' }, OWNER]);
    await s.setAcl(N.secure, [OWNER, { ...READER, perms: PERM.READ | PERM.WRITE }], 1);

    await s.create('/txn', null, OPEN);
    const counter = await s.exists(N.counter);
    await s.multi([
      { type: 'create', path: N.multiCreated, data: text('from a multi'), acl: OPEN },
      { type: 'create', path: '/txn/b', data: null, acl: [OWNER] },
      { type: 'check', path: N.counter, version: counter!.version },
      { type: 'setData', path: N.config, data: text('{"version":"multi"}') },
      { type: 'delete', path: '/app/items/item-001' },
    ]);
    // Fails on its second op: nothing of it applies, yet the server logs it (an error txn, one zxid).
    try {
      await s.multi([
        { type: 'create', path: N.multiNeverCreated, data: null, acl: OPEN },
        { type: 'create', path: N.multiCreated, data: null, acl: OPEN },
        { type: 'setData', path: N.counter, data: text('never') },
      ]);
      throw new Error('the multi meant to fail committed');
    } catch (error) {
      if (!(error instanceof ZkOpError && error.code === ZK_ERROR.NodeExists && error.index === 1)) throw error;
    }
    await shortLived.close(); // closeSession deletes its ephemerals in the same txn
    await opts.checkpoint('churn');

    // ---- rolled: enough txns for several logs and snapshots at snapCount=100 ------------------
    await pipelined(200, 20, (i) => s.setData(N.counter, text(String(1000 + i).repeat(1 + (i % 7)))));
    await pipelined(60, 20, (i) => s.create(`/app/items/batch-${String(i).padStart(3, '0')}`, bytes(i, i + 7), OPEN));
    await pipelined(30, 15, (i) => s.delete(`/app/items/batch-${String(i * 2 + 1).padStart(3, '0')}`));
    await s.delete(N.deep);
    await s.delete(N.deep.slice(0, N.deep.lastIndexOf('/')));
    await s.setData(N.big, bytes(BIG_NODE_BYTES, 2)); // one ~1 MB txn in a log
    await s.setData(N.nullData, null); // null stays null through a setData
    await pipelined(6, 6, (i) => s.create(`${N.sequentialParent}/item-`, text(`late ${i}`), OPEN, 'persistent_sequential'));
    const queued = (await s.getChildren(N.sequentialParent))!.children.sort();
    await s.delete(`${N.sequentialParent}/${queued[0]}`);
    await s.delete(`${N.sequentialParent}/${queued[3]}`);
    await opts.checkpoint('rolled');

    // ---- final: a few more of each, then the last checkpoint with the long session still open --
    await s.setData(N.unicode, text('日本語のデータ v2'));
    await s.setAcl(N.unicode, [OWNER, { perms: PERM.READ, scheme: 'world', id: 'anyone' }]);
    await s.create('/ünïcödé/日本/子', text('child'), OPEN);
    await opts.zkCli([`create ${N.container}/job-2 from-shell`]);
    await pipelined(20, 10, (i) => s.setData(N.config, text(JSON.stringify({ version: 100 + i }))));
    await s.multi([
      { type: 'setData', path: N.emptyData, data: new Uint8Array(0) },
      { type: 'delete', path: '/txn/b' },
    ]);
    await opts.checkpoint('final');
  } finally {
    await Promise.allSettled([longLived.close(), shortLived.close()]);
    await s.close();
  }
}

/**
 * Reads the whole tree at a quiet moment: syncs, takes the connected server's last applied zxid,
 * walks the tree, and checks that zxid did not move meanwhile (else the tree would be fuzzy).
 */
export async function captureCheckpoint(connectString: string, label: string, auth: string[]): Promise<Checkpoint> {
  const session = await openSession({ connectString, auth });
  try {
    await session.sync('/');
    const server = session.server;
    if (server === undefined) throw new Error(`checkpoint ${label}: the session lost its server`);
    const zxid = await serverZxid(server);
    const time = Date.now();
    const tree = await readLiveTree(session, '/');
    const after = await serverZxid(server);
    if (after !== zxid)
      throw new Error(`checkpoint ${label}: the tree changed while it was read (zxid 0x${zxid.toString(16)} → 0x${after.toString(16)})`);
    return { label, zxid, time, tree };
  } finally {
    await session.close();
  }
}
