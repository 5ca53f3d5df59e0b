// Diff: two trees (a backup, a backup at a zxid, or a live ensemble's tree) compared node by node.
// Each side is resolved cheaply first (so a bad ref fails before anything is loaded), then read in
// path order and merged by core/diff.
//
// Paths are absolute server paths on both sides. `zk://CONNECT[/path]` walks /path on a session
// without a chroot; a logical backup taken through a chroot has its paths put back under that chroot.
import { AuthError, UsageError, UserError, throwIfAborted } from '../errors.js';
import { diffTrees, type DiffCounts, type NodeChange } from '../core/diff.js';
import { clientCversion, type NodeRecord } from '../core/node-record.js';
import { displayPath, OPEN_ACL_UNSAFE, treeKey, type DataTree } from '../core/tree.js';
import { formatZxid } from '../core/zxid.js';
import { parseConnectString } from '../core/connect-string.js';
import { hasRedactedDigest, isSystemPath, isWithin, znodePathProblem } from '../core/znode-path.js';
import type { BackupManifest, Repository } from '../repository/types.js';
import type { PointInTime } from './pitr.js';
import { unknownSubtrees } from './backup-tree.js';

export interface DiffServiceOptions {
  /** `ID`, `ID@ZXID`, `latest` or `zk://CONNECT[/path]`. */
  a: string;
  b: string;
  /** Repository holding the backups named (opened only when a side is a backup). */
  repo: string;
  /** Compare only this znode and its descendants. */
  path?: string;
  /** Also compare every stat field. */
  stat?: boolean;
  /** `scheme:credentials` for live sessions. Never printed. */
  auth?: string[];
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
}

type ParsedRef = { kind: 'live'; ref: string; connect: string; path: string } | { kind: 'backup'; ref: string };

/**
 * Splits `zk://CONNECT[/path]`: CONNECT is `host:port[,host:port…]`; everything from the first `/`
 * after it is the subtree to walk (default `/`) on a session without a chroot.
 */
export async function parseTreeRef(ref: string): Promise<ParsedRef> {
  if (ref.startsWith('zk://')) {
    const rest = ref.slice('zk://'.length);
    const slash = rest.indexOf('/');
    const hosts = slash < 0 ? rest : rest.slice(0, slash);
    let path = slash < 0 ? '/' : rest.slice(slash);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    if (hosts.trim() === '')
      throw new UsageError(`"${ref}" names no ZooKeeper server`, { hint: 'e.g. zk://127.0.0.1:2181 or zk://h1:2181,h2:2181/app' });
    if (hosts.includes('@'))
      throw new UsageError(`"${ref}": credentials do not go in a zk:// source`, { hint: 'pass them with --auth SCHEME:CREDENTIALS' });
    const problem = znodePathProblem(path);
    if (problem)
      throw new UsageError(`the path in "${ref}" ${problem}`, { hint: 'zk://HOST:PORT/path walks /path; e.g. zk://127.0.0.1:2181/app' });
    const parsed = parseConnectString(hosts); // validates hosts and ports (UsageError)
    return { kind: 'live', ref, connect: parsed.hosts.join(','), path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) {
    throw new UsageError(`"${ref}" is not a tree source`, { hint: 'give a backup id, ID@ZXID, latest, or zk://HOST:PORT[/path]' });
  }
  if (ref.trim() === '')
    throw new UsageError('an empty tree source was given', { hint: 'give a backup id, ID@ZXID, latest, or zk://HOST:PORT[/path]' });
  return { kind: 'backup', ref };
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

interface ResolvedBackup {
  kind: 'backup';
  ref: string;
  manifest: BackupManifest;
  point: PointInTime;
  chroot: string;
  root: string;
  excluded: Array<{ path: string; reason: string; unread?: boolean }>;
}
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

/** A backup ref → its manifest and point, checked against what the backup can give (nothing loaded). */
async function resolveBackup(repo: Repository, ref: string): Promise<ResolvedBackup> {
  const { resolveSource } = await import('./restore-offline.js');
  const { manifest, point } = await resolveSource(repo, { ref });
  if (point.zxid !== undefined) {
    if (manifest.kind === 'logical') {
      throw new UsageError(`backup ${manifest.id} is logical: it holds one tree (${manifest.zxid.to}), so ${ref} names no other point`, {
        hint: `use ${manifest.id} without @ZXID; ID@ZXID needs a physical backup`,
      });
    }
    const { parseZxid } = await import('../core/zxid.js');
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
  return { kind: 'backup', ref, manifest, point, chroot, root, excluded };
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
  if (excluded.length === 0) return yield* records;
  for (const r of records) if (!excluded.some((e) => isWithin(r.path, e.path))) yield r;
}


interface LoadedSide {
  side: DiffSide;
  records: Iterable<NodeRecord>;
  unreadable: string[];
  hiddenAcls: number;
}

async function loadBackup(repo: Repository, r: ResolvedBackup, root: string, o: DiffServiceOptions): Promise<LoadedSide> {
  const { treeAtPoint } = await import('./restore-offline.js');
  o.onProgress?.(`reading ${r.ref} (backup ${r.manifest.id})…`);
  const { tree, zxid } = await treeAtPoint(repo, r.manifest, r.point, { signal: o.signal, warn: o.warn });
  throwIfAborted(o.signal);
  // commonRoot keeps root within what the backup holds, so within its chroot too.
  const records = treeRecords(tree, insideChroot(r.chroot, root), r.chroot);
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
  return { side, records, unreadable: [], hiddenAcls: 0 };
}

async function loadLive(r: ResolvedLive, root: string, o: DiffServiceOptions): Promise<LoadedSide> {
  const { openSession } = await import('../zk/client.js');
  const { readLiveTree } = await import('../zk/live-tree.js');
  o.onProgress?.(`reading the live tree at ${r.connect}…`);
  const session = await openSession({ connectString: r.connect, auth: o.auth, signal: o.signal });
  try {
    await session.sync('/');
    await session.exists('/');
    const before = session.lastZxidSeen;
    const unreadable: string[] = [];
    let records: NodeRecord[] = [];
    if ((await session.exists(root)) !== null) {
      try {
        records = await readLiveTree(session, root, { signal: o.signal, onUnreadable: (p) => unreadable.push(p) });
      } catch (err) {
        // The walk reports an unreadable root as missing; say what really happened.
        if (unreadable.includes(root)) {
          throw new AuthError(`${root} on ${r.connect}: the credentials given cannot read it`, {
            hint: 'pass --auth SCHEME:CREDENTIALS for a user with READ on it',
            cause: err,
          });
        }
        throw err;
      }
    }
    await session.exists('/');
    const after = session.lastZxidSeen;
    let hiddenAcls = 0;
    for (const rec of records) if (hasRedactedDigest(rec.acl)) hiddenAcls++;
    const side: DiffSide = {
      ref: r.ref,
      kind: 'live',
      zxid: formatZxid(after),
      zxidBefore: formatZxid(before),
      connect: r.connect,
      root: r.root,
      clientView: true,
      nodes: records.length,
    };
    return { side, records, unreadable, hiddenAcls };
  } finally {
    await session.close().catch(() => {});
  }
}

export async function diffSources(o: DiffServiceOptions): Promise<DiffResult> {
  throwIfAborted(o.signal);
  if (o.path !== undefined) {
    const problem = znodePathProblem(o.path) ?? (o.path.length > 1 && o.path.endsWith('/') ? `"${o.path}" must not end with /` : undefined);
    if (problem) throw new UsageError(`--path ${problem}`, { hint: 'use an absolute znode path such as /app or /' });
  }
  const pa = await parseTreeRef(o.a);
  const pb = await parseTreeRef(o.b);

  let repo: Repository | undefined;
  const resolve = async (p: ParsedRef): Promise<Resolved> => {
    if (p.kind === 'live') return { kind: 'live', ref: p.ref, connect: p.connect, root: p.path };
    if (!repo) {
      const { openRepository } = await import('../repository/repository.js');
      repo = await openRepository(o.repo, { create: false, signal: o.signal });
    }
    return resolveBackup(repo, p.ref);
  };
  const ra = await resolve(pa);
  const rb = await resolve(pb);
  const root = commonRoot(ra, rb, o.path);
  const notes: string[] = [];
  if (root !== (o.path ?? '/')) {
    const narrower = [ra, rb].filter((r) => r.root === root).map((r) => r.ref);
    notes.push(`comparing ${root} only: that is what ${narrower.join(' and ')} hold${narrower.length === 1 ? 's' : ''}`);
  }

  const load = (r: Resolved) => (r.kind === 'live' ? loadLive(r, root, o) : loadBackup(repo!, r, root, o));
  const la = await load(ra);
  const lb = await load(rb);
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
  if (counts.a === 0 && counts.b === 0) {
    const cover = excluded.find((e) => isWithin(root, e.path));
    if (cover) {
      throw new UserError(`${root} cannot be compared: ${cover.path} and below were left out (${cover.reason})`, {
        hint: cover.unread ? 'compare with backups (or --auth credentials) that can read it' : 'choose a --path outside what was left out',
      });
    }
    throw new UserError(`${root} is in neither ${o.a} nor ${o.b}`, { hint: 'check --path and the path in a zk:// source' });
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
    same: changes.length === 0 && !excluded.some((e) => e.unread),
    changes,
    a: la.side,
    b: lb.side,
    path: root,
    stat: Boolean(o.stat),
    clientView,
    counts,
    excluded,
    notes,
  };
}

/** The `--json` document: the contract's `same` and `changes`, then descriptions of what was compared. */
export function diffJson(r: DiffResult): Record<string, unknown> {
  return {
    same: r.same,
    changes: r.changes.map((c) => ({ path: c.path, change: c.change, fields: c.fields })),
    a: r.a,
    b: r.b,
    path: r.path,
    compared: r.stat ? ['data', 'acl', 'type', 'stat'] : ['data', 'acl', 'type'],
    clientView: r.clientView,
    counts: { added: r.counts.added, removed: r.counts.removed, modified: r.counts.modified, unchanged: r.counts.unchanged },
    excluded: r.excluded,
    notes: r.notes,
  };
}

/** Exit status: 0 the same, 5 differences, 3 nothing differed but some nodes could not be read. */
export function diffExitCode(r: DiffResult): number {
  if (r.changes.length > 0) return 5;
  return r.same ? 0 : 3;
}
