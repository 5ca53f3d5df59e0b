// The line diff behind `diff`'s text output (minimal edit scripts, unified hunks), what counts as text,
// and the human rendering: groups, text diff, binary summary, ACL and type before → after, no colour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Chalk } from 'chalk';
import { dataAsText, diffTrees, lineEdits, splitLines, textHunks, toHunks, type LineEdit } from '../../src/core/diff.js';
import type { AclEntry, NodeRecord, NodeStat } from '../../src/core/node-record.js';
import { chalkStderr } from 'chalk';
import { diffChalk, formatAcl, renderDiff, stderrChalk } from '../../src/output/diff.js';
import type { DiffResult, DiffSide } from '../../src/services/diff.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

function lcsLength(a: string[], b: string[]): number {
  const dp = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) dp[i][j] = a[i - 1] === b[j - 1] ? dp[i - 1][j - 1] + 1 : Math.max(dp[i - 1][j], dp[i][j - 1]);
  return dp[a.length][b.length];
}

const sideA = (e: LineEdit[]) => e.filter((x) => x.op !== '+').map((x) => x.text);
const sideB = (e: LineEdit[]) => e.filter((x) => x.op !== '-').map((x) => x.text);

test('lineEdits gives a minimal script that rebuilds both sides (random cases checked against LCS)', () => {
  const rand = rng(7);
  for (let round = 0; round < 400; round++) {
    const alphabet = 1 + Math.floor(rand() * 5);
    const gen = () => Array.from({ length: Math.floor(rand() * 14) }, () => String.fromCharCode(97 + Math.floor(rand() * alphabet)));
    const a = gen();
    const b = gen();
    const edits = lineEdits(a, b)!;
    assert.deepEqual(sideA(edits), a);
    assert.deepEqual(sideB(edits), b);
    const changed = edits.filter((e) => e.op !== ' ').length;
    assert.equal(changed, a.length + b.length - 2 * lcsLength(a, b), `minimal for ${a.join('')} → ${b.join('')}`);
  }
});

test('lineEdits gives up past maxEdits, but a small change in a long text stays cheap', () => {
  const a = Array.from({ length: 100 }, (_, i) => `a${i}`);
  const b = Array.from({ length: 100 }, (_, i) => `b${i}`);
  assert.equal(lineEdits(a, b, 50), null);
  assert.notEqual(lineEdits(a, b, 200), null);
  const long = Array.from({ length: 200_000 }, (_, i) => `line ${i}`);
  const edited = [...long];
  edited[100_000] = 'changed';
  const edits = lineEdits(long, edited, 10)!;
  assert.deepEqual(
    edits.filter((e) => e.op !== ' '),
    [
      { op: '-', text: 'line 100000' },
      { op: '+', text: 'changed' },
    ],
  );
});

test('unified hunks: numbering, context, merging of nearby changes, pure inserts', () => {
  const a = Array.from({ length: 20 }, (_, i) => `l${i + 1}`).join('\n') + '\n';
  const b = a.replace('l2\n', 'L2\n').replace('l5\n', 'L5\n').replace('l18\n', 'L18\n');
  const hunks = textHunks(a, b)!;
  assert.equal(hunks.length, 2, 'l2 and l5 share a hunk; l18 has its own');
  assert.deepEqual([hunks[0].aStart, hunks[0].aLines, hunks[0].bStart, hunks[0].bLines], [1, 8, 1, 8]);
  assert.deepEqual([hunks[1].aStart, hunks[1].aLines, hunks[1].bStart, hunks[1].bLines], [15, 6, 15, 6]);
  assert.deepEqual(
    hunks[1].lines.map((l) => l.op + l.text),
    [' l15', ' l16', ' l17', '-l18', '+L18', ' l19', ' l20'],
  );
  const ins = textHunks('', 'x\ny')!;
  assert.deepEqual([ins[0].aStart, ins[0].aLines, ins[0].bStart, ins[0].bLines], [0, 0, 1, 2]);
  assert.deepEqual(toHunks([{ op: ' ', text: 'same' }]), []);
  assert.deepEqual(splitLines('a\nb\n'), ['a', 'b']);
  assert.deepEqual(splitLines(''), []);
  assert.deepEqual(splitLines('a\n\n'), ['a', '']);
});

test('dataAsText: UTF-8 text with tabs and newlines is text; invalid UTF-8, NUL and escapes are binary', () => {
  assert.equal(dataAsText(Buffer.from('host=a\tport=1\r\n東京')), 'host=a\tport=1\r\n東京');
  assert.equal(dataAsText(Buffer.alloc(0)), '');
  assert.equal(dataAsText(null), null);
  assert.equal(dataAsText(Buffer.from([0xff, 0xfe])), null);
  assert.equal(dataAsText(Buffer.from([0x61, 0x00, 0x62])), null);
  assert.equal(dataAsText(Buffer.from('\u001b[31mred')), null);
});

const OPEN: AclEntry[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];
function stat(over: Partial<NodeStat> = {}): NodeStat {
  return { czxid: 1n, mzxid: 1n, pzxid: 1n, ctime: 0n, mtime: 0n, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n, ...over };
}
function rec(path: string, data: Uint8Array | string | null, acl = OPEN, over: Partial<NodeStat> = {}): NodeRecord {
  return { path, data: typeof data === 'string' ? Buffer.from(data) : data, acl, stat: stat(over) };
}
function side(ref: string, over: Partial<DiffSide> = {}): DiffSide {
  return { ref, kind: 'backup', id: ref, backupKind: 'logical', zxid: '0x10', root: '/', clientView: true, nodes: 0, ...over };
}

function result(a: NodeRecord[], b: NodeRecord[], stat = false): DiffResult {
  const { changes, counts } = diffTrees(a, b, { stat });
  return {
    same: changes.length === 0,
    changes,
    a: side('A1'),
    b: side('B1'),
    path: '/',
    stat,
    clientView: false,
    counts,
    excluded: [],
    notes: ['a note'],
  };
}

test('renderDiff: grouped output with a text diff, a binary summary, ACL and type before → after', () => {
  const a = [
    rec('/', ''),
    rec('/bin', Buffer.from([0, 1, 2, 3])),
    rec('/cfg', 'port=1\nhost=a\n'),
    rec('/eph', 'e'),
    rec('/gone', null),
    rec('/lock', 'l'),
  ];
  const b = [
    rec('/', ''),
    rec('/bin', Buffer.from([0, 1, 2, 4, 5])),
    rec('/cfg', 'port=2\nhost=a\n'),
    rec('/eph', 'e', OPEN, { ephemeralOwner: 0x42n }),
    rec('/lock', 'l', [
      { perms: 1, scheme: 'world', id: 'anyone' },
      { perms: 31, scheme: 'digest', id: 'admin:h=' },
    ]),
    rec('/new', 'twelve bytes'),
  ];
  const text = renderDiff(result(a, b), { chalk: new Chalk({ level: 0 }) });
  assert.doesNotMatch(text, /\x1b\[/, 'no colour codes at level 0');
  const lines = text.split('\n');
  const at = (s: string) => lines.findIndex((l) => l.includes(s));
  assert.ok(at('added: only in B (1)') < at('removed: only in A (1)') && at('removed: only in A (1)') < at('modified (4)'));
  assert.match(text, /^A {2}A1 /m);
  assert.match(text, /note: a note/);
  assert.match(text, /\+ \/new {2}persistent, 12 B/);
  assert.match(text, /- \/gone {2}persistent, null data/);
  assert.match(
    text,
    /~ \/cfg {2}\[data\]\n {6}data \(text\):\n {6}--- A\n {6}\+\+\+ B\n {6}@@ -1,2 \+1,2 @@\n {6}-port=1\n {6}\+port=2\n {6} host=a/,
  );
  assert.match(text, /~ \/bin {2}\[data\]\n {6}data: 4 B sha256:054edec1d021 → 5 B sha256:[0-9a-f]{12}/);
  assert.match(text, /~ \/lock {2}\[acl\]\n {6}acl: world:anyone=cdrwa → world:anyone=r, digest:admin:h==cdrwa/);
  assert.match(text, /~ \/eph {2}\[type\]\n {6}type: persistent → ephemeral/);
  assert.match(text, /different: 1 added, 1 removed, 4 modified \(6 node\(s\) in A, 6 in B\)$/);
});

test('renderDiff: --stat fields show before → after; the same trees say so', () => {
  const text = renderDiff(
    result([rec('/n', 'x')], [rec('/n', 'x', OPEN, { mzxid: 0x1_0000_0005n, version: 3, mtime: 1_700_000_000_000n })], true),
    { chalk: new Chalk({ level: 0 }) },
  );
  assert.match(text, /~ \/n {2}\[mzxid, mtime, version\]/);
  assert.match(text, /mzxid: 0x1 → 0x100000005/);
  assert.match(text, /mtime: 0 \(1970-01-01T00:00:00.000Z\) → 1700000000000 \(2023-11-14T22:13:20.000Z\)/);
  assert.match(text, /version: 0 → 3/);
  const same = renderDiff(result([rec('/n', 'x')], [rec('/n', 'x')]), { chalk: new Chalk({ level: 0 }) });
  assert.match(same, /same: no differences \(1 node\(s\) in A, 1 in B\)$/);
});

test('renderDiff: a long text diff is cut off with a count; colour codes appear when asked for', () => {
  const lines = (n: number, v: string) => Array.from({ length: n }, (_, i) => `k${i}=${v}`).join('\n');
  const text = renderDiff(result([rec('/big', lines(400, 'v'))], [rec('/big', lines(400, 'w'))]), { chalk: new Chalk({ level: 0 }) });
  assert.match(text, /… 601 more diff line\(s\)/);
  assert.ok(text.split('\n').length < 260);
  // Past 1000 changed lines a text diff says less than a summary.
  const huge = renderDiff(result([rec('/big', lines(600, 'v'))], [rec('/big', lines(600, 'w'))]), { chalk: new Chalk({ level: 0 }) });
  assert.match(huge, /data: 4\.0 KiB sha256:[0-9a-f]{12} → 4\.0 KiB sha256:[0-9a-f]{12} \(text; too many changed lines to show\)/);
  const coloured = renderDiff(result([rec('/x', 'a')], [rec('/x', 'b')]), { chalk: new Chalk({ level: 1 }) });
  assert.match(coloured, /\x1b\[31m {6}-a\x1b\[39m/);
  assert.match(coloured, /\x1b\[32m {6}\+b\x1b\[39m/);
});

test('diffChalk: NO_COLOR switches colour off; formatAcl spells permissions as zkCli does', () => {
  assert.equal(diffChalk({ NO_COLOR: '1' }).level, 0);
  assert.equal(stderrChalk({ NO_COLOR: '1' }).level, 0, 'warnings and errors too');
  // Colour on stderr follows stderr's terminal, not stdout's (chalk's default instance looks at stdout).
  assert.equal(stderrChalk({}).level, chalkStderr.level);
  assert.equal(formatAcl([{ perms: 5, scheme: 'ip', id: '10.0.0.1' }]), 'ip:10.0.0.1=cr');
  assert.equal(formatAcl([{ perms: 0, scheme: 'world', id: 'anyone' }]), 'world:anyone=-');
  assert.equal(formatAcl([]), '(empty)');
});
