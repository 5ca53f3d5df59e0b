// Comparing two trees: one sorted merge of two path-ordered record streams (linear, nothing held but
// the changes), the per-node comparison behind it, and a small line diff for showing changed text.
import { InternalError } from '../errors.js';
import { comparePaths, nodeTypeOf, sameAcl, sameData, type NodeRecord, type NodeType } from './node-record.js';

export type ChangeKind = 'added' | 'removed' | 'modified';

/** The stat fields `--stat` compares, in the order they are reported. */
export const STAT_FIELDS = ['czxid', 'mzxid', 'pzxid', 'ctime', 'mtime', 'version', 'cversion', 'aversion', 'ephemeralOwner'] as const;
export type StatField = (typeof STAT_FIELDS)[number];
export type DiffField = 'data' | 'acl' | 'type' | StatField;

export interface DiffOptions {
  /** Also compare every stat field (default: data, ACL and type only). */
  stat?: boolean;
  /**
   * Compare as a ZooKeeper client sees nodes: container and TTL nodes count as persistent, with an
   * ephemeralOwner of 0. Needed when one side was read through the client API (a live tree, a logical
   * backup), because the server reports those types that way to clients.
   */
  clientView?: boolean;
}

export interface NodeChange {
  path: string;
  change: ChangeKind;
  /** What differs, for `modified` (data, acl, type, then stat fields in STAT_FIELDS order); else empty. */
  fields: DiffField[];
  /** The node in A (removed, modified). */
  a?: NodeRecord;
  /** The node in B (added, modified). */
  b?: NodeRecord;
}

export interface DiffCounts {
  /** Nodes read from each side. */
  a: number;
  b: number;
  added: number;
  removed: number;
  modified: number;
  unchanged: number;
  /** Container and TTL nodes read as persistent on each side because of `clientView`. */
  clientViewed: { a: number; b: number };
}

/** The type a node is compared as: its own, or its client-view type with `clientView`. */
export function comparedType(rec: NodeRecord, clientView: boolean): NodeType {
  const t = nodeTypeOf(rec.stat.ephemeralOwner);
  return clientView && (t === 'container' || t === 'ttl') ? 'persistent' : t;
}

function comparedOwner(rec: NodeRecord, clientView: boolean): bigint {
  if (!clientView) return rec.stat.ephemeralOwner;
  const t = nodeTypeOf(rec.stat.ephemeralOwner);
  return t === 'container' || t === 'ttl' ? 0n : rec.stat.ephemeralOwner;
}

/** What differs between two versions of one node (empty when they compare equal). */
export function compareNodes(a: NodeRecord, b: NodeRecord, options: DiffOptions = {}): DiffField[] {
  const clientView = options.clientView ?? false;
  const fields: DiffField[] = [];
  if (!sameData(a.data, b.data)) fields.push('data');
  if (!sameAcl(a.acl, b.acl)) fields.push('acl');
  if (comparedType(a, clientView) !== comparedType(b, clientView)) fields.push('type');
  if (options.stat) {
    for (const f of STAT_FIELDS) {
      const same = f === 'ephemeralOwner' ? comparedOwner(a, clientView) === comparedOwner(b, clientView) : a.stat[f] === b.stat[f];
      if (!same) fields.push(f);
    }
  }
  return fields;
}

/** Reads one side in order, refusing a stream that is not strictly sorted (the merge relies on it). */
class SortedCursor {
  private readonly it: Iterator<NodeRecord>;
  current: NodeRecord | undefined;
  count = 0;

  constructor(
    source: Iterable<NodeRecord>,
    private readonly side: 'A' | 'B',
  ) {
    this.it = source[Symbol.iterator]();
    this.advance();
  }

  advance(): void {
    const prev = this.current;
    const next = this.it.next();
    this.current = next.done ? undefined : next.value;
    if (this.current === undefined) return;
    this.count++;
    if (prev !== undefined && comparePaths(prev.path, this.current.path) >= 0) {
      throw new InternalError(`side ${this.side} of a diff is not sorted by path: ${prev.path} came before ${this.current.path}`);
    }
  }
}

/**
 * The changes from A to B, in path order: a sorted merge of two streams sorted by path (plain string
 * comparison, as DataTree.records and readLiveTree give them). One pass, constant memory beyond what
 * the caller keeps; each side is read exactly once. Returns the counts when done.
 */
export function* diffRecords(
  a: Iterable<NodeRecord>,
  b: Iterable<NodeRecord>,
  options: DiffOptions = {},
): Generator<NodeChange, DiffCounts, void> {
  const clientView = options.clientView ?? false;
  const counts: DiffCounts = { a: 0, b: 0, added: 0, removed: 0, modified: 0, unchanged: 0, clientViewed: { a: 0, b: 0 } };
  const viewed = (rec: NodeRecord): boolean => clientView && comparedType(rec, false) !== comparedType(rec, true);
  const ca = new SortedCursor(a, 'A');
  const cb = new SortedCursor(b, 'B');
  for (;;) {
    const x = ca.current;
    const y = cb.current;
    if (x === undefined && y === undefined) break;
    const order = x === undefined ? 1 : y === undefined ? -1 : comparePaths(x.path, y.path);
    if (order < 0) {
      if (viewed(x!)) counts.clientViewed.a++;
      counts.removed++;
      yield { path: x!.path, change: 'removed', fields: [], a: x };
      ca.advance();
    } else if (order > 0) {
      if (viewed(y!)) counts.clientViewed.b++;
      counts.added++;
      yield { path: y!.path, change: 'added', fields: [], b: y };
      cb.advance();
    } else {
      if (viewed(x!)) counts.clientViewed.a++;
      if (viewed(y!)) counts.clientViewed.b++;
      const fields = compareNodes(x!, y!, options);
      if (fields.length > 0) {
        counts.modified++;
        yield { path: x!.path, change: 'modified', fields, a: x, b: y };
      } else counts.unchanged++;
      ca.advance();
      cb.advance();
    }
  }
  counts.a = ca.count;
  counts.b = cb.count;
  return counts;
}

/** diffRecords collected: every change, and the counts. */
export function diffTrees(
  a: Iterable<NodeRecord>,
  b: Iterable<NodeRecord>,
  options: DiffOptions = {},
): { changes: NodeChange[]; counts: DiffCounts } {
  const changes: NodeChange[] = [];
  const gen = diffRecords(a, b, options);
  for (;;) {
    const step = gen.next();
    if (step.done) return { changes, counts: step.value };
    changes.push(step.value);
  }
}

// ---------------------------------------------------------------------------------------------------
// Text data: deciding what is text, and a line diff (Myers' O(ND) with a cap on D) into unified hunks.

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The data as text when it is valid UTF-8 without control characters other than tab, CR and LF
 * (a NUL or an escape byte means binary, even where UTF-8 allows it); otherwise null.
 */
export function dataAsText(data: Uint8Array | null): string | null {
  if (data === null) return null;
  let text: string;
  try {
    text = UTF8.decode(data);
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text;
}

export interface LineEdit {
  op: ' ' | '-' | '+';
  text: string;
}

export interface Hunk {
  /** 1-based first line in A (the line before, when aLines is 0), as unified diffs number them. */
  aStart: number;
  aLines: number;
  bStart: number;
  bLines: number;
  lines: LineEdit[];
}

/** Splits text into lines as diff does ("a\n" is one line; "" is none). */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The shortest edit script from `a` to `b` (equal, delete and insert steps in order), or null when
 * more than `maxEdits` lines would have to change: a text diff that large says less than a summary.
 * Common leading and trailing lines are taken off first, so a small change in a long text is cheap.
 */
export function lineEdits(a: readonly string[], b: readonly string[], maxEdits = 1000): LineEdit[] | null {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const middle = myers(am, bm, maxEdits);
  if (middle === null) return null;
  const out: LineEdit[] = [];
  for (let i = 0; i < pre; i++) out.push({ op: ' ', text: a[i] });
  out.push(...middle);
  for (let i = a.length - suf; i < a.length; i++) out.push({ op: ' ', text: a[i] });
  return out;
}

function myers(a: readonly string[], b: readonly string[], maxEdits: number): LineEdit[] | null {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((text) => ({ op: '+', text }));
  if (m === 0) return a.map((text) => ({ op: '-', text }));
  const limit = Math.min(n + m, maxEdits);
  const off = limit + 1;
  const v = new Int32Array(2 * limit + 3);
  // trace[d] holds v (diagonals -d-1 … d+1) as it was before step d: what backtracking needs.
  const trace: Int32Array[] = [];
  let found = -1;
  v[off + 1] = 0;
  outer: for (let d = 0; d <= limit; d++) {
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break outer;
      }
    }
  }
  if (found < 0) return null;
  const rev: LineEdit[] = [];
  let x = n;
  let y = m;
  for (let d = found; d >= 0; d--) {
    const t = trace[d];
    const at = (k: number) => t[k + d + 1];
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      rev.push({ op: ' ', text: a[x - 1] });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) rev.push({ op: '+', text: b[prevY] });
      else rev.push({ op: '-', text: a[prevX] });
    }
    x = prevX;
    y = prevY;
  }
  return rev.reverse();
}

/** Groups an edit script into unified-diff hunks with `context` unchanged lines around each change. */
export function toHunks(edits: readonly LineEdit[], context = 3): Hunk[] {
  const hunks: Hunk[] = [];
  // Line numbers (0-based) in A and B before each edit.
  const aAt: number[] = [];
  const bAt: number[] = [];
  let ai = 0;
  let bi = 0;
  for (const e of edits) {
    aAt.push(ai);
    bAt.push(bi);
    if (e.op !== '+') ai++;
    if (e.op !== '-') bi++;
  }
  let i = 0;
  while (i < edits.length) {
    while (i < edits.length && edits[i].op === ' ') i++;
    if (i >= edits.length) break;
    const start = Math.max(0, i - context);
    // Extend while the next change lies within 2 × context unchanged lines.
    let end = i;
    let j = i;
    while (j < edits.length) {
      if (edits[j].op !== ' ') {
        end = j;
        j++;
        continue;
      }
      let run = 0;
      while (j + run < edits.length && edits[j + run].op === ' ') run++;
      if (j + run >= edits.length || run > 2 * context) break;
      j += run;
    }
    const stop = Math.min(edits.length, end + 1 + context);
    const lines = edits.slice(start, stop);
    const aLines = lines.filter((l) => l.op !== '+').length;
    const bLines = lines.filter((l) => l.op !== '-').length;
    hunks.push({
      aStart: aLines === 0 ? aAt[start] : aAt[start] + 1,
      aLines,
      bStart: bLines === 0 ? bAt[start] : bAt[start] + 1,
      bLines,
      lines,
    });
    i = stop;
  }
  return hunks;
}

/** Unified hunks between two texts, or null when the line diff would exceed `maxEdits`. */
export function textHunks(a: string, b: string, options: { context?: number; maxEdits?: number } = {}): Hunk[] | null {
  const edits = lineEdits(splitLines(a), splitLines(b), options.maxEdits);
  return edits === null ? null : toHunks(edits, options.context);
}
