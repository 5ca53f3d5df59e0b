// Records shared by snapshots, transaction logs and the client wire protocol (zookeeper.jute):
// an ACL entry (perms + Id) and a node's persisted stat, longs as bigint.

export interface AclEntry {
  perms: number;
  scheme: string;
  id: string;
}

/**
 * Every persisted stat field, with longs as bigint. In a NodeRecord, `cversion` is the value clients
 * see (what `stat` prints): ZooKeeper stores a count of child creations and reports
 * `2 × stored − numChildren` (DataNode.copyStat). See clientCversion / storedCversion.
 */
export interface NodeStat {
  czxid: bigint;
  mzxid: bigint;
  pzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
}
