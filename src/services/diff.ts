// Diff: two trees (a backup, a backup at a zxid, or a live ensemble's tree) compared node by node.
// Each side is resolved cheaply first (so a bad ref fails before anything is loaded), then read in
// path order and merged by core/diff.
//
// Paths are absolute server paths on both sides. `zk://CONNECT[/path]` walks /path on a session
// without a chroot; a logical backup taken through a chroot has its paths put back under that chroot.
import { UsageError, UserError, throwIfAborted } from '../errors.js';
import { diffTrees, type DiffCounts, type NodeChange } from '../core/diff.js';
import { clientCversion, type NodeRecord } from '../core/node-record.js';
import { displayPath, OPEN_ACL_UNSAFE, treeKey, type DataTree } from '../core/tree.js';
import { formatZxid, parseZxid } from '../core/zxid.js';
import { hasRedactedDigest, isSystemPath, isWithin, znodePathProblem } from '../core/znode-path.js';
import type { Repository } from '../repository/types.js';
import type { ZkAccess } from '../zk/client.js';
import { openSortedBackup, unknownSubtrees } from '../sources/backup-tree.js';
import { readLiveTree } from '../sources/live.js';
import { loadTree, parseTreeRef, requireWholeLogical, resolveTreeSource, type TreeSource } from '../sources/tree-source.js';

export interface DiffServiceOptions {
  /** `ID`, `ID@ZXID`, `latest` or `zk://CONNECT[/path]`. */
  a: string;
  b: string;
  /** Opens the repository holding the backups named (called only when a side is a backup). */
  repo: () => Promise<Repository>;
  /** Compare only this znode and its descendants. */
  path?: string;
  /** Also compare every stat field. */
  stat?: boolean;
  /** Credentials, TLS and SASL for live (zk://) sessions. Never printed. */
  access?: ZkAccess;
  signal?: AbortSignal;
  warn?: (message: string) => void;
  /** Told what is being read, for a progress line. */
  onProgress?: (message: string) => void;
}

/** One side of a diff, as the result describes it. */
export interface DiffSide {
  /** The argument as given. */
  ref: string;
  kind: 'backup' | 'live';
  /** Backup sides: the resolved id and its kind. */
  id?: string;
  backupKind?: 'logical' | 'physical';
  /** Backups: the zxid of the tree. Live: the server's zxid after the walk. `0x…` hex. */
  zxid: string;
  /** Live: the server's zxid before the walk (the walk is fuzzy between the two). */
  zxidBefore?: string;
  /** Live: the connect string (hosts only). */
  connect?: string;
  /** The subtree this side holds (a backup of --path P holds P; zk://h/P walks P). */
  root: string;
  /** A logical backup taken through a chroot: its paths are shown under it. */
  chroot?: string;
  /** True when read through the client API (live, logical backup): container/TTL show as persistent. */
  clientView: boolean;
  /** Nodes read from this side within the compared subtree. */
  nodes: number;
}

export interface DiffResult {
  /** No changes, and every node was readable. */
  same: boolean;
  changes: NodeChange[];
  a: DiffSide;
  b: DiffSide;
  /** The subtree compared. */
  path: string;
  /** Whether stat fields were compared. */
  stat: boolean;
  /** True when types (and ephemeralOwner) were compared as a client sees them. */
  clientView: boolean;
  counts: DiffCounts;
  /**
   * Subtrees left out of the comparison on both sides, and why; `unread` when a side could not read
   * it (live now, or when a backup was taken), which makes the comparison partial.
   */
  excluded: Array<{ path: string; reason: string; unread?: boolean }>;
  /** What a reader of the result should know (client view, narrowed scope, hidden ACLs). */
  notes: string[];
  /** Set when nothing could be compared: everything asked for was left out on a side (exit 3). */
  uncomparable?: { message: string; hint: string };
}

/** `/c` + `/x` → `/c/x`; `/c` + `/` → `/c`. */
function underChroot(chroot: string, path: string): string {
  if (chroot === '') return path;
  return path === '/' ? chroot : chroot + path;
}

/** The inverse of underChroot for a path inside the chroot. */
function insideChroot(chroot: string, path: string): string {
  if (chroot === '') return path;
  return path === chroot ? '/' : path.slice(chroot.length);
}

type ResolvedBackup = Extract<TreeSource, { kind: 'backup' }> & {
  chroot: string;
  root: string;
  excluded: Array<{ path: string; reason: string; unread?: boolean }>;
};
interface ResolvedLive {
  kind: 'live';
  ref: string;
  connect: string;
  root: string;
}
type Resolved = ResolvedBackup | ResolvedLive;

function asString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A backup source, checked against what the backup can give (nothing loaded). */
function resolvedBackup(repo: Repository, source: Extract<TreeSource, { kind: 'backup' }>): ResolvedBackup {
  const { manifest, point, ref } = source;
  if (point.zxid !== undefined) {
    if (manifest.kind === 'logical') {
      throw new UsageError(`backup ${manifest.id} is logical: it holds one tree (${manifest.zxid.to}), so ${ref} names no other point`, {
        hint: `use ${manifest.id} without @ZXID; ID@ZXID needs a physical backup`,
      });
    }
    if (point.zxid < parseZxid(manifest.zxid.from) || point.zxid > parseZxid(manifest.zxid.to)) {
      throw new UsageError(`backup ${manifest.id} covers ${manifest.zxid.from}..${manifest.zxid.to}, not ${formatZxid(point.zxid)}`, {
        hint: `zkvault list --repo ${repo.location} shows each backup's range`,
      });
    }
  }
  const chroot = manifest.kind === 'logical' ? (asString(manifest.extra?.chroot) ?? '') : '';
  const root = underChroot(chroot, manifest.source.path ?? '/');
  const excluded: ResolvedBackup['excluded'] = unknownSubtrees(manifest).map((u) =>
    u.unread
      ? { path: underChroot(chroot, u.path), reason: `unreadable when backup ${manifest.id} was taken`, unread: true }
      : { path: underChroot(chroot, u.path), reason: `left out of backup ${manifest.id} (--exclude)` },
  );
  return { ...source, chroot, root, excluded };
}

/**
 * The subtree both sides are compared under: the deepest of what A holds, what B holds and --path,
 * which must all lie on one line of descent (otherwise there is nothing in common to compare).
 */
export function commonRoot(a: { ref: string; root: string }, b: { ref: string; root: string }, path: string | undefined): string {
  const all = [a.root, b.root, ...(path !== undefined ? [path] : [])];
  let deepest = all[0];
  for (const p of all) if (p.length > deepest.length) deepest = p;
  if (!isWithin(deepest, a.root) || !isWithin(deepest, b.root)) {
    if (!isWithin(a.root, b.root) && !isWithin(b.root, a.root)) {
      throw new UsageError(`${a.ref} holds ${a.root} and ${b.ref} holds ${b.root}: they have no subtree in common`, {
        hint: 'compare trees of the same subtree (zk://HOST:PORT/path walks just /path)',
      });
    }
    const outside = !isWithin(path!, a.root) ? a : b;
    throw new UsageError(`--path ${path} is outside what ${outside.ref} holds (${outside.root})`, {
      hint: `give a --path at or under ${outside.root}`,
    });
  }
  return deepest;
}

/**
 * A tree's nodes at or under `root`, in path order, built one at a time (only the sorted key list is
 * held): the same records DataTree.records gives, without materialising them all. `chroot` puts each
 * path back under the chroot the backup was taken through.
 */
export function* treeRecords(tree: DataTree, root: string, chroot = ''): Generator<NodeRecord> {
  const key = treeKey(root);
  if (!tree.nodes.has(key)) return;
  for (const k of tree.sortedKeys(root)) {
    if (isSystemPath(k)) continue;
    const node = tree.nodes.get(k)!;
    const stat = { ...node.stat.toObject(), cversion: clientCversion(node.stat.cversion, node.numChildren) };
    yield { path: underChroot(chroot, displayPath(k)), data: node.data, acl: (node.acl ?? OPEN_ACL_UNSAFE) as NodeRecord['acl'], stat };
  }
}

function* without(records: Iterable<NodeRecord>, excluded: ReadonlyArray<{ path: string }>): Generator<NodeRecord> {
  if (excluded.length === 0) {
    yield* records;
    return;
  }
  for (const r of records) if (!excluded.some((e) => isWithin(r.path, e.path))) yield r;
}

interface LoadedSide {
  side: DiffSide;
  records: Iterable<NodeRecord>;
  unreadable: string[];
  hiddenAcls: number;
  /** Called once the records have been read (a logical backup's come from its extracted snapshot). */
  close?: () => Promise<void>;
}

function* chrooted(records: Iterable<NodeRecord>, chroot: string): Generator<NodeRecord> {
  for (const rec of records) yield chroot === '' ? rec : { ...rec, path: underChroot(chroot, rec.path) };
}

async function loadBackup(repo: Repository, r: ResolvedBackup, root: string, o: DiffServiceOptions): Promise<LoadedSide> {
  o.onProgress?.(`reading ${r.ref} (backup ${r.manifest.id})…`);
  // commonRoot keeps root within what the backup holds, so within its chroot too.
  let records: Iterable<NodeRecord>;
  let zxid: bigint;
  let close: (() => Promise<void>) | undefined;
  if (r.manifest.kind === 'logical') {
    // Never loaded whole: read in path order from the snapshot file, as the comparison goes.
    requireWholeLogical(r);
    const s = await openSortedBackup(repo, r.manifest.id, insideChroot(r.chroot, root), o.signal);
    ({ zxid, close } = s);
    records = chrooted(s.sorted ? s.sorted.records() : [], r.chroot);
  } else {
    const loaded = await loadTree(r, { repo, signal: o.signal, warn: o.warn });
    zxid = loaded.zxid;
    records = treeRecords(loaded.tree, insideChroot(r.chroot, root), r.chroot);
  }
  throwIfAborted(o.signal);
  const side: DiffSide = {
    ref: r.ref,
    kind: 'backup',
    id: r.manifest.id,
    backupKind: r.manifest.kind,
    zxid: formatZxid(zxid),
    root: r.root,
    ...(r.chroot ? { chroot: r.chroot } : {}),
    clientView: r.manifest.kind === 'logical',
    nodes: 0,
  };
  return { side, records, unreadable: [], hiddenAcls: 0, ...(close ? { close } : {}) };
}

async function loadLive(r: ResolvedLive, root: string, o: DiffServiceOptions): Promise<LoadedSide> {
  o.onProgress?.(`reading the live tree at ${r.connect}…`);
  let shown = 0;
  const live = await readLiveTree(r.connect, root, {
    access: o.access,
    signal: o.signal,
    onNode: (n) => {
      // A message per thousand nodes: the printer redraws one line in place.
      if (n - shown < 1000) return;
      shown = n;
      o.onProgress?.(`reading the live tree at ${r.connect}: ${n.toLocaleString('en-US')} nodes`);
    },
  });
  let hiddenAcls = 0;
  for (const rec of live.records) if (hasRedactedDigest(rec.acl)) hiddenAcls++;
  const side: DiffSide = {
    ref: r.ref,
    kind: 'live',
    zxid: formatZxid(live.zxidAfter),
    zxidBefore: formatZxid(live.zxidBefore),
    connect: r.connect,
    root: r.root,
    clientView: true,
    nodes: live.records.length,
  };
  return { side, records: live.records, unreadable: live.unreadable, hiddenAcls };
}

export async function diffSources(o: DiffServiceOptions): Promise<DiffResult> {
  throwIfAborted(o.signal);
  if (o.path !== undefined) {
    const problem = znodePathProblem(o.path) ?? (o.path.length > 1 && o.path.endsWith('/') ? `"${o.path}" must not end with /` : undefined);
    if (problem) throw new UsageError(`--path ${problem}`, { hint: 'use an absolute znode path such as /app or /' });
  }
  // Both refs are checked before a repository is opened or anything is read.
  await parseTreeRef(o.a);
  await parseTreeRef(o.b);
  let repo: Repository | undefined;
  const openRepo = async () => (repo ??= await o.repo());
  const resolve = async (ref: string): Promise<Resolved> => {
    const source = await resolveTreeSource({ ref }, openRepo, { allowLive: true });
    if (source.kind === 'live') return { kind: 'live', ref, connect: source.connect, root: source.path };
    if (source.kind !== 'backup') throw new UsageError(`"${ref}" is not a tree source`);
    return resolvedBackup(await openRepo(), source);
  };
  const ra = await resolve(o.a);
  const rb = await resolve(o.b);
  const root = commonRoot(ra, rb, o.path);
  const notes: string[] = [];
  if (root !== (o.path ?? '/')) {
    const narrower = [ra, rb].filter((r) => r.root === root).map((r) => r.ref);
    notes.push(`comparing ${root} only: that is what ${narrower.join(' and ')} hold${narrower.length === 1 ? 's' : ''}`);
  }

  const load = (r: Resolved) => (r.kind === 'live' ? loadLive(r, root, o) : loadBackup(repo!, r, root, o));
  // A logical backup's side reads its extracted snapshot as the comparison goes: removed at the end.
  const closers: Array<() => Promise<void>> = [];
  try {
    const la = await load(ra);
    if (la.close) closers.push(la.close);
    const lb = await load(rb);
    if (lb.close) closers.push(lb.close);
    return compareSides(o, ra, rb, la, lb, root, notes);
  } finally {
    for (const close of closers) await close().catch(() => {});
  }
}

function compareSides(
  o: DiffServiceOptions,
  ra: Resolved,
  rb: Resolved,
  la: LoadedSide,
  lb: LoadedSide,
  root: string,
  notes: string[],
): DiffResult {
  throwIfAborted(o.signal);

  const excluded: DiffResult['excluded'] = [];
  for (const r of [ra, rb])
    if (r.kind === 'backup') excluded.push(...r.excluded.filter((e) => isWithin(e.path, root) || isWithin(root, e.path)));
  for (const [l, name] of [
    [la, 'A'],
    [lb, 'B'],
  ] as const) {
    for (const p of l.unreadable)
      excluded.push({ path: p, reason: `${name} (${l.side.ref}): NoAuth, the credentials given cannot read it`, unread: true });
  }
  const unreadable = la.unreadable.length + lb.unreadable.length;
  if (unreadable > 0)
    o.warn?.(
      `${unreadable} subtree(s) could not be read and were left out of the comparison on both sides; pass --auth SCHEME:CREDENTIALS to read them`,
    );

  const clientView = la.side.clientView !== lb.side.clientView;
  const { changes, counts } = diffTrees(without(la.records, excluded), without(lb.records, excluded), {
    stat: Boolean(o.stat),
    clientView,
  });
  la.side.nodes = counts.a;
  lb.side.nodes = counts.b;
  // Nothing to compare because what was asked for was left out on a side: a partial comparison (exit 3).
  let uncomparable: DiffResult['uncomparable'];
  if (counts.a === 0 && counts.b === 0) {
    const cover = excluded.find((e) => isWithin(root, e.path));
    if (!cover) throw new UserError(`${root} is in neither ${o.a} nor ${o.b}`, { hint: 'check --path and the path in a zk:// source' });
    uncomparable = {
      message: `${root} cannot be compared: ${cover.path} and below were left out (${cover.reason})`,
      hint: cover.unread ? 'compare with backups (or --auth credentials) that can read it' : 'choose a --path outside what was left out',
    };
  }
  if (clientView) {
    const [cv, other] = la.side.clientView ? ([la.side, lb.side] as const) : ([lb.side, la.side] as const);
    const mapped = la.side.clientView ? counts.clientViewed.b : counts.clientViewed.a;
    const how = cv.kind === 'live' ? 'is a live tree' : 'is a logical backup (read through the client API)';
    notes.push(
      `${cv.ref} ${how}, where container and TTL nodes show as persistent with ephemeralOwner 0; ` +
        `types${o.stat ? ' and ephemeralOwner' : ''} are compared that way, so ${mapped} container/TTL node(s) of ${other.ref} count as persistent`,
    );
  }
  const hidden = la.hiddenAcls + lb.hiddenAcls;
  if (hidden > 0) {
    notes.push(
      `${hidden} node(s) read live have digest ACLs whose hashes the server hid (reading them needs ADMIN): their ACLs may show as changed; --auth with ADMIN rights shows them in full`,
    );
  }
  for (const e of excluded) notes.push(`left out: ${e.path} and below (${e.reason})`);
  return {
    // Nothing differs, but what was not read is not known to be the same: exit 3, as for a live side.
    same: changes.length === 0 && !excluded.some((e) => e.unread) && !uncomparable,
    changes,
    a: la.side,
    b: lb.side,
    path: root,
    stat: Boolean(o.stat),
    clientView,
    counts,
    excluded,
    notes,
    ...(uncomparable ? { uncomparable } : {}),
  };
}

/** Exit status: 0 the same, 5 differences, 3 nothing differed but some nodes could not be read. */
export function diffExitCode(r: DiffResult): number {
  if (r.changes.length > 0) return 5;
  return r.same ? 0 : 3;
}
