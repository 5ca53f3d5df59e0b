// Planning a restore from a stream of the backup's nodes (parents before children, the same order
// every time the stream is read), asking the target about a node only when its parent exists there,
// a window of lookups in flight. What the plan keeps is a byte of actions per node, 64-bit path hashes
// (core/path-set.ts) and capped samples for the report: memory stays flat in the tree's size, and the
// sink replays the stream against the action table to carry the plan out.
import { IntegrityError, throwIfAborted } from '../errors.js';
import { PathSet } from './path-set.js';
import {
  ACTION,
  ancestorWarning,
  decideNode,
  deletionOrder,
  mapPath,
  mirrorKeeps,
  parentOf,
  unknownInTarget,
  type PlanChoices,
  type RestoreMode,
  type SourceNode,
  type TargetNode,
} from './restore-plan.js';
import { isSystemPath } from './znode-path.js';

/** How many of each kind of change a plan lists by path (the counts are always whole). */
export const PLAN_SAMPLE = 1000;
/** Lookups in flight, and the bytes of backup data they may hold. */
const LOOKUP_WINDOW = 512;
const LOOKUP_BYTES = 16 << 20;

/** What a plan may ask of the target. */
export interface TargetLookup {
  /** The node at `path`: with its data and ACL when `content`, else its stat; undefined when absent. */
  get(path: string, content: boolean): Promise<TargetNode | undefined>;
  /** Every node at and under `root`, each after its parent (mirror's deletions). */
  walk(root: string, onNode: (path: string) => void, signal?: AbortSignal): Promise<void>;
}

/** A growable byte per node of the source, in stream order. */
export class ActionTable {
  private bytes = new Uint8Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.bytes.length) {
      const next = new Uint8Array(this.bytes.length * 2);
      next.set(this.bytes);
      this.bytes = next;
    }
    this.bytes[this.length++] = v;
  }

  get(i: number): number {
    return i < this.length ? this.bytes[i] : 0;
  }
}

/** A capped list with its whole count. */
export class Sample<T> {
  readonly items: T[] = [];
  count = 0;

  constructor(private readonly cap = PLAN_SAMPLE) {}

  add(item: T): void {
    this.count++;
    if (this.items.length < this.cap) this.items.push(item);
  }
}

export interface StreamPlan {
  sourceRoot: string;
  targetRoot: string;
  mode: RestoreMode;
  /** Missing ancestors of the target root, top first: created empty, world-open. */
  ancestors: string[];
  /** ACTION bits per source node, in stream order. */
  actions: ActionTable;
  creates: Sample<string>;
  updates: Sample<{ path: string; fields: string[] }>;
  acls: Sample<string>;
  cversions: Sample<string>;
  /** Nodes read back at the end. */
  verify: number;
  /** Identical nodes: restored already. */
  identical: number;
  /** Nodes not restored (and target nodes mirror leaves alone), with why; identical ones are not listed. */
  skipped: Sample<{ path: string; reason: string }>;
  aclsNotRestored: Sample<{ path: string; reason: string }>;
  /** create mode: target nodes in the way. */
  conflicts: Sample<string>;
  warnings: Sample<string>;
  /** mirror: target nodes to delete, children first (all of them). */
  deletes: string[];
  /** Target paths of the nodes the restore writes or finds identical. */
  wanted: PathSet;
  /** Target paths mirror leaves alone where the backup holds an ephemeral. */
  keep: PathSet;
  /** Target paths of the subtrees the backup does not know: mirror leaves them alone. */
  unknown: string[];
  /** Whether the stream held the source root at all. */
  sourceRootFound: boolean;
}

export interface StreamPlanOptions extends PlanChoices {
  /** Subtrees the backup does not know (backup paths): mirror never deletes in them. */
  unknown?: string[];
  /** Names the source in an error about its order. */
  sourceName?: string;
  /** Called as nodes are planned: how many so far. */
  onProgress?: (nodes: number) => void;
}

/** Plans the restore of `source` (the nodes at and under the source root) into what `target` holds. */
export async function planStream(
  source: Iterable<SourceNode>,
  target: TargetLookup,
  o: StreamPlanOptions,
  signal?: AbortSignal,
): Promise<StreamPlan> {
  const plan: StreamPlan = {
    sourceRoot: o.sourceRoot,
    targetRoot: o.targetRoot,
    mode: o.mode,
    ancestors: [],
    actions: new ActionTable(),
    creates: new Sample(),
    updates: new Sample(),
    acls: new Sample(),
    cversions: new Sample(),
    verify: 0,
    identical: 0,
    skipped: new Sample(),
    aclsNotRestored: new Sample(),
    conflicts: new Sample(),
    warnings: new Sample(100),
    deletes: [],
    wanted: new PathSet(),
    keep: new PathSet(),
    unknown: unknownInTarget(o.unknown ?? [], o.sourceRoot, o.targetRoot),
    sourceRootFound: false,
  };
  for (let p = parentOf(o.targetRoot); o.targetRoot !== '/' && p !== '/'; p = parentOf(p)) {
    if (await target.get(p, false)) break;
    plan.ancestors.unshift(p);
  }
  for (const p of plan.ancestors) plan.warnings.add(ancestorWarning(p));

  /** Target paths that exist there; the children of any other path cannot. */
  const present = new PathSet();
  const pending = new Set<string>();
  const skippedSources = new PathSet();
  const keep = plan.keep;
  const content = o.mode !== 'create';
  const queue: Array<{ node: SourceNode; path: string; existing: Promise<TargetNode | undefined> }> = [];
  let queuedBytes = 0;

  const settle = async (): Promise<void> => {
    const { node, path, existing: lookup } = queue.shift()!;
    queuedBytes -= node.data?.length ?? 0;
    const existing = await lookup;
    pending.delete(path);
    if (existing) present.add(path);
    const isRoot = node.path === o.sourceRoot;
    if (isRoot) plan.sourceRootFound = true;
    else if (!plan.wanted.has(parentOf(path)) && !skippedSources.has(parentOf(node.path))) {
      throw new IntegrityError(
        'malformed',
        o.sourceName ?? 'the backup',
        undefined,
        `malformed tree: node ${node.path} comes before its parent`,
      );
    }
    const d = decideNode(node, existing, !isRoot && skippedSources.has(parentOf(node.path)), o);
    plan.actions.push(d.actions);
    o.onProgress?.(plan.actions.length);
    if (d.skipSubtree) skippedSources.add(node.path);
    if (d.ephemeral) keep.add(d.path);
    if (d.warning) plan.warnings.add(d.warning);
    if (d.aclNotRestored) plan.aclsNotRestored.add({ path: d.path, reason: d.aclNotRestored });
    if (d.skipped === 'identical') plan.identical++;
    else if (d.skipped) plan.skipped.add({ path: d.path, reason: d.skipped });
    if (d.skipSubtree) return;
    plan.wanted.add(d.path);
    if (d.conflict) plan.conflicts.add(d.path);
    if (d.actions & ACTION.CREATE) plan.creates.add(d.path);
    if (d.fields) plan.updates.add({ path: d.path, fields: d.fields });
    if (d.actions & ACTION.ACL) plan.acls.add(d.path);
    if (d.actions & ACTION.CVERSION) plan.cversions.add(d.path);
    if (d.actions & ACTION.VERIFY) plan.verify++;
  };

  let n = 0;
  for (const node of source) {
    if ((++n & 1023) === 0) throwIfAborted(signal);
    const path = mapPath(node.path, o.sourceRoot, o.targetRoot);
    const parent = parentOf(path);
    // The root of the restore is looked up; below it, only a node whose parent is (or may be) there.
    const ask = node.path === o.sourceRoot || present.has(parent) || pending.has(parent);
    if (ask) pending.add(path);
    queue.push({ node, path, existing: ask ? target.get(path, content) : Promise.resolve(undefined) });
    queuedBytes += node.data?.length ?? 0;
    while (queue.length >= LOOKUP_WINDOW || queuedBytes > LOOKUP_BYTES) await settle();
  }
  while (queue.length > 0) await settle();

  if (o.mode === 'mirror') {
    const unknown = plan.unknown;
    await target.walk(
      o.targetRoot,
      (path) => {
        if (plan.wanted.has(path) || path === '/' || isSystemPath(path)) return;
        const kept = mirrorKeeps(path, keep.has(path), unknown);
        if (kept) plan.skipped.add({ path, reason: kept });
        else plan.deletes.push(path);
      },
      signal,
    );
    deletionOrder(plan.deletes);
  }
  return plan;
}
