// Planning a logical restore: a pure function from (the backup's nodes, the target's nodes, the
// options) to the list of changes and the reason for every node left alone. Applying is separate,
// so --dry-run prints exactly what a real run would do.
import { createHash } from 'node:crypto';
import { nodeTypeOf, storedCversion, type AclEntry, type NodeRecord, type NodeType } from './node-record.js';
import { OPEN_ACL_UNSAFE as OPEN_ACL } from './tree.js';
import { isRedactedDigest, isSystemPath } from './znode-path.js';

export type RestoreMode = 'create' | 'overwrite' | 'mirror';

/** A backed-up node with what the plan needs beyond the record. */
export interface SourceNode extends NodeRecord {
  /** The stored (server-internal) cversion the backup recorded: what sequential names count from. */
  storedCversion: number;
}

/** A node as the target has it now. */
export interface TargetNode extends NodeRecord {
  numChildren: number;
}

export interface PlannedCreate {
  path: string;
  data: Uint8Array | null;
  /** The ACL the node must end with. */
  acl: readonly AclEntry[];
  /** The type in the backup; an ephemeral (with --ephemerals-as-persistent) is created persistent. */
  sourceType: NodeType;
  /** For a TTL node: its time to live in milliseconds. */
  ttlMs?: bigint;
  /** Missing ancestors of the restore root, created empty so the tree can hang from them. */
  ancestor?: boolean;
}

export interface PlannedUpdate {
  path: string;
  data?: Uint8Array | null;
  acl?: AclEntry[];
  fields: string[];
}

export interface CversionTarget {
  path: string;
  /** The stored cversion the backup had. */
  storedCversion: number;
}

export interface RestorePlan {
  sourceRoot: string;
  targetRoot: string;
  mode: RestoreMode;
  creates: PlannedCreate[];
  updates: PlannedUpdate[];
  /** Children before parents. */
  deletes: string[];
  /** ACLs to set after all writes, deepest first (creates included). */
  acls: Array<{ path: string; acl: AclEntry[] }>;
  /** Parents whose sequential counter must be brought up to the backup's. */
  cversions: CversionTarget[];
  skipped: Array<{ path: string; reason: string }>;
  /**
   * Nodes whose backed-up ACL cannot be restored as it was (digest hashes the server hid when the
   * backup was taken): each keeps its ACL (an existing node) or gets only the entries that could be
   * restored (a new one). A restore that has any is partial.
   */
  aclsNotRestored: Array<{ path: string; reason: string }>;
  /** create mode: target nodes that already exist (nothing is changed when there are any). */
  conflicts: string[];
  warnings: string[];
}

export interface PlanRestoreInput {
  source: SourceNode[];
  /** The path in the backup to restore (its subtree). */
  sourceRoot: string;
  /** Where it goes in the target (default: the same path). */
  targetRoot: string;
  /** The target's nodes at and under targetRoot, and its ancestors that exist. */
  target: Map<string, TargetNode>;
  mode: RestoreMode;
  /** Restore ephemeral nodes as persistent instead of skipping them. */
  ephemeralsAsPersistent?: boolean;
  /** Bring parents' sequential counters up to the backup's (default true). */
  sequentialCounters?: boolean;
  /**
   * Subtrees the backup does not know (unreadable when it was taken, or excluded), as backup paths:
   * mirror never deletes what is in them.
   */
  unknown?: string[];
  /**
   * Digest ids (`user:base64 hash`) by user name, from the restorer's own digest credentials: a
   * backed-up digest entry whose hash the server hid ('user:x') is restored exactly when its user is
   * here.
   */
  digestIds?: Map<string, string>;
}

/** world:anyone with every permission: for nodes created before their own ACL is set. */
export { OPEN_ACL };

export function mapPath(path: string, from: string, to: string): string {
  if (from === to) return path;
  const rest = from === '/' ? path : path.slice(from.length);
  if (to === '/') return rest === '' ? '/' : rest;
  return rest === '/' ? to : to + rest;
}

function isUnder(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(root + '/');
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

export function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b; // null and empty are different values in ZooKeeper
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

export function sameAcl(a: readonly AclEntry[], b: readonly AclEntry[]): boolean {
  return a.length === b.length && a.every((x, i) => x.perms === b[i].perms && x.scheme === b[i].scheme && x.id === b[i].id);
}

/**
 * The ACL a node is restored with: redacted digest entries replaced by the restorer's own id for that
 * user, or left out (never replaced by something more open). `missing` names the users left out.
 */
export function restorableAcl(
  acl: readonly AclEntry[],
  digestIds: ReadonlyMap<string, string> = new Map(),
): { acl: AclEntry[]; missing: string[] } {
  const out: AclEntry[] = [];
  const missing: string[] = [];
  for (const a of acl) {
    if (!isRedactedDigest(a)) out.push(a);
    else {
      const user = a.id.slice(0, -2);
      const id = digestIds.get(user);
      if (id) out.push({ ...a, id });
      else missing.push(user);
    }
  }
  return { acl: out, missing };
}

export function planRestore(input: PlanRestoreInput): RestorePlan {
  const { sourceRoot, targetRoot, mode, target } = input;
  const plan: RestorePlan = {
    sourceRoot,
    targetRoot,
    mode,
    creates: [],
    updates: [],
    deletes: [],
    acls: [],
    cversions: [],
    skipped: [],
    aclsNotRestored: [],
    conflicts: [],
    warnings: [],
  };
  const wanted = new Set<string>();
  const skippedSubtrees: string[] = [];
  /** Backup ephemerals (skipped): mirror leaves a target node at their path alone, often a live one. */
  const ephemeralPaths = new Set<string>();

  // Ancestors of the target root that do not exist yet.
  const missing: string[] = [];
  for (let p = parentOf(targetRoot); targetRoot !== '/' && !target.has(p); p = parentOf(p)) {
    missing.unshift(p);
    if (p === '/') break;
  }
  for (const p of missing) {
    if (p === '/') continue;
    plan.creates.push({ path: p, data: null, acl: OPEN_ACL, sourceType: 'persistent', ancestor: true });
    plan.warnings.push(`${p} does not exist in the target; it is created empty (world:anyone) to hold the restore`);
  }

  const sorted = [...input.source]
    .filter((n) => isUnder(n.path, sourceRoot))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const node of sorted) {
    if (skippedSubtrees.some((s) => isUnder(node.path, s))) {
      plan.skipped.push({ path: mapPath(node.path, sourceRoot, targetRoot), reason: 'its parent is not restored' });
      continue;
    }
    const path = mapPath(node.path, sourceRoot, targetRoot);
    const type = nodeTypeOf(node.stat.ephemeralOwner);
    if (type === 'ephemeral' && !input.ephemeralsAsPersistent) {
      plan.skipped.push({
        path,
        reason: "ephemeral: it belongs to a session of the backup's time; --ephemerals-as-persistent restores it as persistent",
      });
      skippedSubtrees.push(node.path);
      ephemeralPaths.add(path);
      continue;
    }
    if (type === 'ephemeral')
      plan.warnings.push(`${path} was an ephemeral node; it is restored as persistent (--ephemerals-as-persistent)`);
    wanted.add(path);
    const existing = target.get(path);
    const restorable = restorableAcl(node.acl, input.digestIds);
    // null: the node's ACL cannot be restored as it was, and an existing node keeps its own.
    let acl: AclEntry[] | null = restorable.acl;
    if (restorable.missing.length > 0) {
      const users = [...new Set(restorable.missing)];
      const how = `give --auth ${users.map((u) => `digest:${u}:PASSWORD`).join(' --auth ')} to restore it exactly`;
      if (existing && mode !== 'create') {
        acl = null;
        plan.aclsNotRestored.push({
          path,
          reason: `its ACL is left as it is: the backup holds digest ACL entries whose hashes the server hid (${users.join(', ')}); ${how}`,
        });
      } else if (!existing && restorable.acl.length === 0) {
        plan.skipped.push({
          path,
          reason: `not created: its only ACL entries are digest entries whose hashes the server hid when the backup was taken (${users.join(', ')}); ${how}`,
        });
        plan.aclsNotRestored.push({ path, reason: 'not created: no ACL entry of it could be restored' });
        skippedSubtrees.push(node.path);
        wanted.delete(path);
        continue;
      } else if (!existing) {
        plan.aclsNotRestored.push({
          path,
          reason: `created without the digest ACL entries whose hashes the server hid (${users.join(', ')}); ${how}`,
        });
      }
    }
    if (existing) {
      if (mode === 'create') {
        if (path === '/') plan.skipped.push({ path, reason: 'the root always exists; create mode leaves it as it is' });
        else plan.conflicts.push(path);
      } else {
        const fields: string[] = [];
        const u: PlannedUpdate = { path, fields };
        if (!sameBytes(existing.data, node.data)) {
          u.data = node.data;
          fields.push('data');
        }
        if (acl && !sameAcl(existing.acl, acl)) {
          u.acl = acl;
          fields.push('acl');
          plan.acls.push({ path, acl });
        }
        if (nodeTypeOf(existing.stat.ephemeralOwner) === 'ephemeral')
          plan.warnings.push(`${path} exists as an ephemeral node in the target; it is updated, not re-created`);
        if (fields.length > 0) plan.updates.push(u);
        else plan.skipped.push({ path, reason: 'identical' });
      }
    } else {
      const ttlMs = type === 'ttl' ? BigInt.asUintN(40, node.stat.ephemeralOwner) : undefined;
      plan.creates.push({ path, data: node.data, acl: acl!, sourceType: type, ...(ttlMs !== undefined ? { ttlMs } : {}) });
      if (!sameAcl(acl!, OPEN_ACL)) plan.acls.push({ path, acl: acl! });
    }
    if (input.sequentialCounters !== false && node.storedCversion > 0) {
      plan.cversions.push({ path, storedCversion: node.storedCversion });
    }
  }

  if (mode === 'mirror') {
    const unknown = (input.unknown ?? [])
      .filter((u) => isUnder(u, sourceRoot) || isUnder(sourceRoot, u))
      .map((u) => (isUnder(sourceRoot, u) ? targetRoot : mapPath(u, sourceRoot, targetRoot)));
    for (const path of target.keys()) {
      if (!isUnder(path, targetRoot) || wanted.has(path) || path === '/') continue;
      if (isSystemPath(path)) continue;
      if (ephemeralPaths.has(path)) {
        plan.skipped.push({
          path,
          reason: 'not deleted: the backup holds it too, as an ephemeral node (the node here may belong to a live session)',
        });
        continue;
      }
      if (unknown.some((u) => isUnder(path, u))) {
        plan.skipped.push({
          path,
          reason: 'not deleted: the backup does not know this subtree (it was unreadable or excluded when the backup was taken)',
        });
        continue;
      }
      plan.deletes.push(path);
    }
    plan.deletes.sort((a, b) => depth(b) - depth(a) || (a < b ? 1 : -1));
  }
  plan.acls.sort((a, b) => depth(b.path) - depth(a.path));
  if (mode === 'create' && plan.conflicts.length > 0) {
    // Create mode changes nothing when anything is in the way.
    plan.creates = [];
    plan.updates = [];
    plan.acls = [];
    plan.cversions = [];
  }
  return plan;
}

/** Stored cversion of a target node, from what a client sees. */
export function targetStoredCversion(node: TargetNode): number {
  return storedCversion(node.stat.cversion, node.numChildren);
}

/**
 * The digest ids (`user:base64(sha1(user:password))`, as ZooKeeper's digest provider makes them) of
 * the restorer's own `digest:user:password` credentials, by user.
 */
export function digestIdsOf(auth: readonly string[]): Map<string, string> {
  const ids = new Map<string, string>();
  for (const a of auth) {
    if (!a.startsWith('digest:')) continue;
    const credentials = a.slice('digest:'.length);
    const colon = credentials.indexOf(':');
    if (colon <= 0) continue;
    ids.set(credentials.slice(0, colon), `${credentials.slice(0, colon)}:${createHash('sha1').update(credentials).digest('base64')}`);
  }
  return ids;
}
