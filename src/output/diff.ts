// Human rendering of a diff: what was compared, then added, removed and modified nodes, with a unified
// text diff for changed UTF-8 data, a size and hash summary for binary data, and before → after for the
// rest. Colour only on a terminal (chalk decides from stdout), never with NO_COLOR set.
import { createHash } from 'node:crypto';
import chalk, { Chalk, chalkStderr, type ChalkInstance } from 'chalk';
import { dataAsText, textHunks, type DiffField, type NodeChange } from '../core/diff.js';
import { nodeTypeOf, type AclEntry, type NodeRecord } from '../core/node-record.js';
import { formatZxid } from '../core/zxid.js';
import type { DiffResult, DiffSide } from '../services/diff.js';
import { formatBytes } from './format.js';

/** Lines of text diff shown per node before the rest is summarised. */
const MAX_TEXT_DIFF_LINES = 200;
/** Beyond this many changed lines a text diff is replaced by the size and hash summary. */
const MAX_LINE_EDITS = 1000;

export interface RenderDiffOptions {
  /** The chalk to colour with; by default stdout's, switched off by a non-empty NO_COLOR. */
  chalk?: ChalkInstance;
}

/** The chalk diff output uses: chalk's own choice for stdout (TTY, FORCE_COLOR), off with NO_COLOR. */
export function diffChalk(env: NodeJS.ProcessEnv = process.env): ChalkInstance {
  return new Chalk({ level: noColor(env) ? 0 : chalk.level });
}

/** A non-empty NO_COLOR switches colour off (https://no-color.org), unless FORCE_COLOR asks for it. */
export function noColor(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '' && env.FORCE_COLOR === undefined;
}

/** The chalk for what goes to stderr: chalk's choice for stderr (not stdout's), off with NO_COLOR. */
export function stderrChalk(env: NodeJS.ProcessEnv = process.env): ChalkInstance {
  return new Chalk({ level: noColor(env) ? 0 : chalkStderr.level });
}

/** `world:anyone=cdrwa`, the letters in zkCli's order. */
export function formatAclEntry(a: AclEntry): string {
  let p = '';
  if (a.perms & 4) p += 'c';
  if (a.perms & 8) p += 'd';
  if (a.perms & 1) p += 'r';
  if (a.perms & 2) p += 'w';
  if (a.perms & 16) p += 'a';
  const extra = a.perms & ~31;
  if (extra) p += `+0x${extra.toString(16)}`;
  return `${a.scheme}:${a.id}=${p || '-'}`;
}

export function formatAcl(acl: readonly AclEntry[]): string {
  return acl.length === 0 ? '(empty)' : acl.map(formatAclEntry).join(', ');
}

/** `12 B sha256:1a2b3c4d5e6f`, or `null`. */
export function dataSummary(data: Uint8Array | null): string {
  if (data === null) return 'null';
  const hash = createHash('sha256').update(data).digest('hex').slice(0, 12);
  return `${formatBytes(data.length)} sha256:${hash}`;
}

function describeSide(s: DiffSide): string {
  if (s.kind === 'live') {
    const at = s.zxidBefore === s.zxid ? `at ${s.zxid}` : `between ${s.zxidBefore} and ${s.zxid} (changing while read)`;
    return `live tree at ${s.connect}, read ${at}`;
  }
  return `backup ${s.id} (${s.backupKind}) at ${s.zxid}${s.chroot ? `, taken through chroot ${s.chroot}` : ''}`;
}

function nodeSummary(rec: NodeRecord): string {
  const type = nodeTypeOf(rec.stat.ephemeralOwner);
  const data = rec.data === null ? 'null data' : formatBytes(rec.data.length);
  return `${type}, ${data}`;
}

function statValue(rec: NodeRecord, field: DiffField): string {
  const s = rec.stat;
  switch (field) {
    case 'czxid':
    case 'mzxid':
    case 'pzxid':
    case 'ephemeralOwner':
      return formatZxid(s[field]);
    case 'ctime':
    case 'mtime': {
      const ms = Number(s[field]);
      const d = new Date(ms);
      return Number.isNaN(d.getTime()) ? String(s[field]) : `${ms} (${d.toISOString()})`;
    }
    case 'version':
    case 'cversion':
    case 'aversion':
      return String(s[field]);
    default:
      return '';
  }
}

function renderData(a: NodeRecord, b: NodeRecord, c: ChalkInstance, indent: string): string[] {
  const ta = dataAsText(a.data);
  const tb = dataAsText(b.data);
  if (ta !== null && tb !== null) {
    const hunks = textHunks(ta, tb, { maxEdits: MAX_LINE_EDITS });
    if (hunks !== null) {
      const out = [c.dim(`${indent}data (text):`), c.red(`${indent}--- A`), c.green(`${indent}+++ B`)];
      let shown = 0;
      let total = 0;
      for (const h of hunks) total += 1 + h.lines.length;
      for (const h of hunks) {
        if (shown >= MAX_TEXT_DIFF_LINES) break;
        const range = (start: number, n: number) => (n === 1 ? `${start}` : `${start},${n}`);
        out.push(c.cyan(`${indent}@@ -${range(h.aStart, h.aLines)} +${range(h.bStart, h.bLines)} @@`));
        shown++;
        for (const l of h.lines) {
          if (shown >= MAX_TEXT_DIFF_LINES) break;
          const line = `${indent}${l.op}${l.text}`;
          out.push(l.op === '-' ? c.red(line) : l.op === '+' ? c.green(line) : line);
          shown++;
        }
      }
      if (total > shown) out.push(c.dim(`${indent}… ${total - shown} more diff line(s)`));
      return out;
    }
    return [`${indent}data: ${dataSummary(a.data)} → ${dataSummary(b.data)} ${c.dim('(text; too many changed lines to show)')}`];
  }
  return [`${indent}data: ${c.red(dataSummary(a.data))} → ${c.green(dataSummary(b.data))}`];
}

function renderModified(ch: NodeChange, r: DiffResult, c: ChalkInstance): string[] {
  const a = ch.a!;
  const b = ch.b!;
  const indent = '      ';
  const out = [`  ${c.yellow('~')} ${ch.path}  ${c.dim(`[${ch.fields.join(', ')}]`)}`];
  for (const f of ch.fields) {
    if (f === 'data') out.push(...renderData(a, b, c, indent));
    else if (f === 'acl') out.push(`${indent}acl: ${c.red(formatAcl(a.acl))} → ${c.green(formatAcl(b.acl))}`);
    else if (f === 'type') {
      out.push(`${indent}type: ${c.red(nodeTypeOf(a.stat.ephemeralOwner))} → ${c.green(nodeTypeOf(b.stat.ephemeralOwner))}`);
    } else {
      const note = f === 'ephemeralOwner' && r.clientView ? c.dim(' (as stored; compared in client view)') : '';
      out.push(`${indent}${f}: ${c.red(statValue(a, f))} → ${c.green(statValue(b, f))}${note}`);
    }
  }
  return out;
}

/** The whole human report. */
export function renderDiff(r: DiffResult, options: RenderDiffOptions = {}): string {
  const c = options.chalk ?? diffChalk();
  const out: string[] = [];
  out.push(`${c.bold('A')}  ${r.a.ref}  ${c.dim(describeSide(r.a))}`);
  out.push(`${c.bold('B')}  ${r.b.ref}  ${c.dim(describeSide(r.b))}`);
  out.push(c.dim(`compared under ${r.path}: data, ACL, type${r.stat ? ' and every stat field' : ''}`));
  for (const n of r.notes) out.push(`${c.yellow('note:')} ${n}`);

  const added = r.changes.filter((ch) => ch.change === 'added');
  const removed = r.changes.filter((ch) => ch.change === 'removed');
  const modified = r.changes.filter((ch) => ch.change === 'modified');
  if (added.length > 0) {
    out.push('', c.green.bold(`added: only in B (${added.length})`));
    for (const ch of added) out.push(`  ${c.green('+')} ${ch.path}  ${c.dim(nodeSummary(ch.b!))}`);
  }
  if (removed.length > 0) {
    out.push('', c.red.bold(`removed: only in A (${removed.length})`));
    for (const ch of removed) out.push(`  ${c.red('-')} ${ch.path}  ${c.dim(nodeSummary(ch.a!))}`);
  }
  if (modified.length > 0) {
    out.push('', c.yellow.bold(`modified (${modified.length})`));
    for (const ch of modified) out.push(...renderModified(ch, r, c));
  }
  out.push('');
  const nodes = `${r.counts.a.toLocaleString('en')} node(s) in A, ${r.counts.b.toLocaleString('en')} in B`;
  if (r.changes.length === 0) {
    out.push(
      r.same
        ? c.green(`same: no differences (${nodes})`)
        : c.yellow(`no differences among the nodes read, but some could not be read (${nodes})`),
    );
  } else {
    out.push(`${c.bold('different')}: ${added.length} added, ${removed.length} removed, ${modified.length} modified (${nodes})`);
  }
  return out.join('\n');
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
    ...(r.uncomparable ? { uncomparable: r.uncomparable } : {}),
  };
}
