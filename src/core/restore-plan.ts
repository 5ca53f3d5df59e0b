// Planning a logical restore: a pure function from (the backup's nodes, the target's nodes, the
// options) to the list of changes and the reason for every node left alone. Applying is separate,
// so --dry-run prints exactly what a real run would do.
import { createHash } from 'node:crypto';
import { nodeTypeOf, sameAcl, sameData, storedCversion, type AclEntry, type NodeRecord, type NodeType } from './node-record.js';
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
  /** Its data and ACL could not be read (NoAuth): counted as differing from the backup's. */
  unreadable?: boolean;
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

export function isUnder(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(root + '/');
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
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

/** What restoring one backed-up node asks of the target (bits). */
export const ACTION = {
  /** Create it (its data, its create ACL). */
  CREATE: 1,
  /** Set its data. */
  DATA: 2,
  /** Set its ACL at the end. */
  ACL: 4,
  /** Bring its sequential counter up to the backup's. */
  CVERSION: 8,
  /** Read it back at the end and compare. */
  VERIFY: 16,
} as const;

/** How one backed-up node is restored, decided against what the target has at its path. */
export interface NodeDecision {
  /** Its path in the target. */
  path: string;
  type: NodeType;
  /** ACTION bits. */
  actions: number;
  /** The ACL it ends with; null when an existing node keeps its own. */
  acl: AclEntry[] | null;
  /** Not restored, and why (its subtree neither, when `skipSubtree`). `identical` is restored already. */
  skipped?: string;
  skipSubtree?: boolean;
  /** A backup ephemeral: mirror leaves a target node at its path alone. */
  ephemeral?: boolean;
  /** create mode: the node exists in the target. */
  conflict?: boolean;
  /** For an update: what differs. */
  fields?: string[];
  aclNotRestored?: string;
  warning?: string;
}

/** The choices a plan is made with. */
export interface PlanChoices {
  sourceRoot: string;
  targetRoot: string;
  mode: RestoreMode;
  ephemeralsAsPersistent?: boolean;
  sequentialCounters?: boolean;
  digestIds?: Map<string, string>;
}

export const PARENT_NOT_RESTORED = 'its parent is not restored';
const EPHEMERAL_SKIPPED = "ephemeral: it belongs to a session of the backup's time; --ephemerals-as-persistent restores it as persistent";

/**
 * How one node is restored. `existing` is the target's node at its path (undefined: absent);
 * `parentSkipped` says its parent is not restored (so neither is it).
 */
export function decideNode(node: SourceNode, existing: TargetNode | undefined, parentSkipped: boolean, c: PlanChoices): NodeDecision {
  const path = mapPath(node.path, c.sourceRoot, c.targetRoot);
  const type = nodeTypeOf(node.stat.ephemeralOwner);
  if (parentSkipped) return { path, type, actions: 0, acl: null, skipped: PARENT_NOT_RESTORED, skipSubtree: true };
  if (type === 'ephemeral' && !c.ephemeralsAsPersistent)
    return { path, type, actions: 0, acl: null, skipped: EPHEMERAL_SKIPPED, skipSubtree: true, ephemeral: true };
  const d: NodeDecision = { path, type, actions: 0, acl: null };
  if (type === 'ephemeral') d.warning = `${path} was an ephemeral node; it is restored as persistent (--ephemerals-as-persistent)`;
  const restorable = restorableAcl(node.acl, c.digestIds);
  // null: the node's ACL cannot be restored as it was, and an existing node keeps its own.
  let acl: AclEntry[] | null = restorable.acl;
  if (restorable.missing.length > 0) {
    const users = [...new Set(restorable.missing)];
    const how = `give --auth ${users.map((u) => `digest:${u}:PASSWORD`).join(' --auth ')} to restore it exactly`;
    if (existing && c.mode !== 'create') {
      acl = null;
      d.aclNotRestored = `its ACL is left as it is: the backup holds digest ACL entries whose hashes the server hid (${users.join(', ')}); ${how}`;
    } else if (!existing && restorable.acl.length === 0) {
      return {
        path,
        type,
        actions: 0,
        acl: null,
        skipped: `not created: its only ACL entries are digest entries whose hashes the server hid when the backup was taken (${users.join(', ')}); ${how}`,
        skipSubtree: true,
        aclNotRestored: 'not created: no ACL entry of it could be restored',
      };
    } else if (!existing) {
      d.aclNotRestored = `created without the digest ACL entries whose hashes the server hid (${users.join(', ')}); ${how}`;
    }
  }
  d.acl = acl;
  if (existing) {
    if (c.mode === 'create') {
      if (path === '/') d.skipped = 'the root always exists; create mode leaves it as it is';
      else d.conflict = true;
    } else {
      const fields: string[] = [];
      if (existing.unreadable || !sameData(existing.data, node.data)) {
        d.actions |= ACTION.DATA;
        fields.push('data');
      }
      if (acl && (existing.unreadable || !sameAcl(existing.acl, acl))) {
        d.actions |= ACTION.ACL;
        fields.push('acl');
      }
      if (nodeTypeOf(existing.stat.ephemeralOwner) === 'ephemeral')
        d.warning = `${path} exists as an ephemeral node in the target; it is updated, not re-created`;
      if (fields.length > 0) d.fields = fields;
      else d.skipped = 'identical';
    }
  } else {
    d.actions |= ACTION.CREATE;
    if (!sameAcl(acl!, OPEN_ACL)) d.actions |= ACTION.ACL;
  }
  if (c.sequentialCounters !== false && node.storedCversion > 0) d.actions |= ACTION.CVERSION;
  if ((d.skipped === undefined || d.skipped === 'identical') && !(path === '/' && c.mode === 'create')) d.actions |= ACTION.VERIFY;
  return d;
}

/** The TTL a node of the backup is created with (TTL nodes only). */
export function ttlOf(node: SourceNode): bigint | undefined {
  return nodeTypeOf(node.stat.ephemeralOwner) === 'ttl' ? BigInt.asUintN(40, node.stat.ephemeralOwner) : undefined;
}

/** Why mirror leaves a target node the backup lacks alone, or null when it deletes it. */
export function mirrorKeeps(path: string, isBackupEphemeral: boolean, unknown: readonly string[]): string | null {
  if (isBackupEphemeral) return 'not deleted: the backup holds it too, as an ephemeral node (the node here may belong to a live session)';
  if (unknown.some((u) => isUnder(path, u)))
    return 'not deleted: the backup does not know this subtree (it was unreadable or excluded when the backup was taken)';
  return null;
}

/** The backup's unknown subtrees (backup paths) that touch the restored one, as target paths. */
export function unknownInTarget(unknown: readonly string[], sourceRoot: string, targetRoot: string): string[] {
  return unknown
    .filter((u) => isUnder(u, sourceRoot) || isUnder(sourceRoot, u))
    .map((u) => (isUnder(sourceRoot, u) ? targetRoot : mapPath(u, sourceRoot, targetRoot)));
}

/** Mirror deletes in the order they can run: children before parents. */
export function deletionOrder(paths: string[]): string[] {
  return paths.sort((a, b) => depth(b) - depth(a) || (a < b ? 1 : a > b ? -1 : 0));
}

/** The missing ancestors of `targetRoot` (top first), given which paths exist. */
export function missingAncestors(targetRoot: string, exists: (path: string) => boolean): string[] {
  const missing: string[] = [];
  for (let p = parentOf(targetRoot); targetRoot !== '/' && p !== '/' && !exists(p); p = parentOf(p)) missing.unshift(p);
  return missing;
}

export function ancestorWarning(path: string): string {
  return `${path} does not exist in the target; it is created empty (world:anyone) to hold the restore`;
}

/** A plan made in memory from every source node and the target's nodes (the unit tests' view of the rules). */
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
  const skippedSources = new Set<string>();
  /** Backup ephemerals (skipped): mirror leaves a target node at their path alone, often a live one. */
  const ephemeralPaths = new Set<string>();
  for (const p of missingAncestors(targetRoot, (p) => target.has(p))) {
    plan.creates.push({ path: p, data: null, acl: OPEN_ACL, sourceType: 'persistent', ancestor: true });
    plan.warnings.push(ancestorWarning(p));
  }
  const sorted = [...input.source]
    .filter((n) => isUnder(n.path, sourceRoot))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const node of sorted) {
    const d = decideNode(node, target.get(mapPath(node.path, sourceRoot, targetRoot)), skippedSources.has(parentOf(node.path)), input);
    if (d.skipSubtree) skippedSources.add(node.path);
    if (d.ephemeral) ephemeralPaths.add(d.path);
    if (d.warning) plan.warnings.push(d.warning);
    if (d.aclNotRestored) plan.aclsNotRestored.push({ path: d.path, reason: d.aclNotRestored });
    if (d.skipped) plan.skipped.push({ path: d.path, reason: d.skipped });
    if (d.skipSubtree) continue;
    wanted.add(d.path);
    if (d.conflict) plan.conflicts.push(d.path);
    if (d.actions & ACTION.CREATE) {
      const ttlMs = ttlOf(node);
      plan.creates.push({ path: d.path, data: node.data, acl: d.acl!, sourceType: d.type, ...(ttlMs !== undefined ? { ttlMs } : {}) });
    }
    if (d.fields) {
      const u: PlannedUpdate = { path: d.path, fields: d.fields };
      if (d.actions & ACTION.DATA) u.data = node.data;
      if (d.actions & ACTION.ACL) u.acl = d.acl!;
      plan.updates.push(u);
    }
    if (d.actions & ACTION.ACL) plan.acls.push({ path: d.path, acl: d.acl! });
    if (d.actions & ACTION.CVERSION) plan.cversions.push({ path: d.path, storedCversion: node.storedCversion });
  }

  if (mode === 'mirror') {
    const unknown = unknownInTarget(input.unknown ?? [], sourceRoot, targetRoot);
    for (const path of target.keys()) {
      if (!isUnder(path, targetRoot) || wanted.has(path) || path === '/' || isSystemPath(path)) continue;
      const kept = mirrorKeeps(path, ephemeralPaths.has(path), unknown);
      if (kept) plan.skipped.push({ path, reason: kept });
      else plan.deletes.push(path);
    }
    deletionOrder(plan.deletes);
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
