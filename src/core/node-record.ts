// The portable description of one znode, as `export` prints it (NDJSON) and as tests compare trees.
// Field names and encodings are fixed by the CLI contract.

export type NodeType = 'persistent' | 'ephemeral' | 'container' | 'ttl';

import type { AclEntry, NodeStat } from '../formats/records.js';

export type { AclEntry, NodeStat } from '../formats/records.js';

/** One znode with bytes and bigints: what trees are compared on. */
export interface NodeRecord {
  path: string;
  data: Uint8Array | null;
  acl: AclEntry[];
  stat: NodeStat;
}

/** The JSON line `export` prints for one node. */
export interface ExportLine {
  path: string;
  data: string | null;
  acl: AclEntry[];
  stat: {
    czxid: string;
    mzxid: string;
    pzxid: string;
    ctime: number;
    mtime: number;
    version: number;
    cversion: number;
    aversion: number;
    ephemeralOwner: string;
  };
  type: NodeType;
}

const MASK64 = (1n << 64n) - 1n;
export const CONTAINER_OWNER = -0x8000000000000000n;
const TTL_MASK = 0xff00000000000000n;

function hex(value: bigint): string {
  return '0x' + (value & MASK64).toString(16);
}

/** How many znodes a tree holds, by type, and their data bytes (`/zookeeper` and its subtree left out). */
export interface NodeCounts {
  nodes: number;
  persistent: number;
  ephemeral: number;
  container: number;
  ttl: number;
  /** Total bytes of znode data. */
  dataBytes: number;
}

export function zeroCounts(): NodeCounts {
  return { nodes: 0, persistent: 0, ephemeral: 0, container: 0, ttl: 0, dataBytes: 0 };
}

/** Data compares byte for byte; null and empty are different values in ZooKeeper. */
export function sameData(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** ACLs compare as ordered lists: ZooKeeper keeps (and a restore writes back) the order it was given. */
export function sameAcl(a: readonly AclEntry[], b: readonly AclEntry[]): boolean {
  return a.length === b.length && a.every((x, i) => x.perms === b[i].perms && x.scheme === b[i].scheme && x.id === b[i].id);
}

/** Adds one node to `counts`. */
export function countNode(counts: NodeCounts, ephemeralOwner: bigint, dataBytes: number): void {
  countNodeOfType(counts, nodeTypeOf(ephemeralOwner), dataBytes);
}

/** Adds one node of a known type to `counts`. */
export function countNodeOfType(counts: NodeCounts, type: NodeType, dataBytes: number): void {
  counts.nodes++;
  counts[type]++;
  counts.dataBytes += Math.max(0, dataBytes);
}

/** Node type from `ephemeralOwner`, per ZooKeeper's EphemeralType (extended types enabled). */
export function nodeTypeOf(ephemeralOwner: bigint): NodeType {
  if (ephemeralOwner === 0n) return 'persistent';
  const u = ephemeralOwner & MASK64;
  if (u === 0x8000000000000000n) return 'container';
  if ((u & TTL_MASK) === TTL_MASK && (u & 0x00ffff0000000000n) === 0n) return 'ttl';
  return 'ephemeral';
}

export function ttlOwner(ttlMs: bigint): bigint {
  return BigInt.asIntN(64, TTL_MASK | (ttlMs & 0xffffffffffn));
}

export function toExportLine(rec: NodeRecord): ExportLine {
  const s = rec.stat;
  return {
    path: rec.path,
    data: rec.data === null ? null : Buffer.from(rec.data.buffer, rec.data.byteOffset, rec.data.byteLength).toString('base64'),
    acl: rec.acl.map((a) => ({ perms: a.perms, scheme: a.scheme, id: a.id })),
    stat: {
      czxid: hex(s.czxid),
      mzxid: hex(s.mzxid),
      pzxid: hex(s.pzxid),
      ctime: Number(s.ctime),
      mtime: Number(s.mtime),
      version: s.version,
      cversion: s.cversion,
      aversion: s.aversion,
      ephemeralOwner: hex(s.ephemeralOwner),
    },
    type: nodeTypeOf(s.ephemeralOwner),
  };
}

/** Plain string comparison, as the contract orders export lines. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The cversion a client sees for a node whose stored cversion is `stored`. */
export function clientCversion(stored: number, numChildren: number): number {
  return stored * 2 - numChildren;
}

/** The cversion ZooKeeper stores, from the one a client sees (always an exact inverse). */
export function storedCversion(client: number, numChildren: number): number {
  return (client + numChildren) / 2;
}
