// The committed-txn rules (src/core/committed.ts) on histories written out by hand, as one server's
// files would show them: epoch ends, cuts by a leader's snapshot or missing txns, and what the merged
// boundaries let a restore replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addsToKnown,
  commitBoundaries,
  describeBoundary,
  factsFromJson,
  factsToJson,
  HistoryObserver,
  isReplayable,
  lastReplayable,
  observeHistory,
  pastBoundary,
} from '../../src/core/committed.js';

const z = (epoch: number, counter: number) => (BigInt(epoch) << 32n) | BigInt(counter);

test('a log running from one epoch straight into the next ends the old epoch exactly there', () => {
  const o = new HistoryObserver();
  o.snapshot(z(1, 0x10));
  o.txnRun(z(1, 0x11), z(1, 0x55));
  o.txnRun(z(2, 1), z(2, 0x30));
  assert.deepEqual(o.facts(), { ends: [{ epoch: 1n, last: z(1, 0x55) }], cuts: [] });
  const b = commitBoundaries([o.facts()]);
  assert.equal(isReplayable(z(1, 0x55), b), true);
  assert.equal(isReplayable(z(1, 0x56), b), false, 'a txn of epoch 1 another server logged past the end was dropped');
  assert.equal(isReplayable(z(2, 0x30), b), true);
  assert.equal(b.get(1n)!.exact, true);
});

test("a leader's snapshot in a new epoch cuts the history: the old epoch's txns past the last evidence are unconfirmed", () => {
  const o = new HistoryObserver();
  o.snapshot(z(1, 0x40));
  o.txnRun(z(1, 0x41), z(1, 0x56));
  // Rejoined from the new leader's snapshot, whose nodes carry zxids up to 0x1_00000052 of epoch 1.
  o.snapshot(z(2, 0x24), {
    digestZxid: z(2, 0x24),
    statMax: new Map([
      [1n, z(1, 0x52)],
      [2n, z(2, 0x20)],
    ]),
  });
  o.txnRun(z(2, 0x25), z(2, 0x44));
  const f = o.facts();
  assert.deepEqual(f.ends, []);
  assert.deepEqual(f.cuts, [{ epoch: 1n, lastLogged: z(1, 0x56), confirmed: z(1, 0x52), resumedAt: z(2, 0x24) }]);
  const b = commitBoundaries([f]);
  assert.equal(lastReplayable(z(1, 0x56), b), z(1, 0x52));
  assert.equal(b.get(1n)!.exact, false);
  assert.match(
    describeBoundary(b.get(1n)!),
    /^epoch 1 was cut .*txns 0x100000053\.\.0x100000056 are unconfirmed .*the last confirmed txn is 0x100000052; the ensemble went on in epoch 2 \(from 0x200000024\)$/,
  );
  assert.equal(pastBoundary(z(1, 0x52), b), null);
  const p = pastBoundary(z(1, 0x53), b)!;
  assert.match(p.message, /^zxid 0x100000053 is not restorable: epoch 1 was cut/);
  assert.match(
    p.hint,
    /choose 0x100000052 \(the last confirmed txn of epoch 1\) or earlier, or a zxid of the history that went on \(0x200000024 onwards\)/,
  );
});

test('an exact end seen on any server wins over a cut: the txns between its evidence and the end are committed after all', () => {
  const cut = { ends: [], cuts: [{ epoch: 1n, lastLogged: z(1, 0x56), confirmed: z(1, 0x50), resumedAt: z(2, 0x24) }] };
  const end = { ends: [{ epoch: 1n, last: z(1, 0x55) }], cuts: [] };
  const b = commitBoundaries([cut, end]);
  assert.deepEqual(
    { after: b.get(1n)!.after, exact: b.get(1n)!.exact, lastLogged: b.get(1n)!.lastLogged },
    { after: z(1, 0x55), exact: true, lastLogged: z(1, 0x56) },
  );
  // Evidence from elsewhere (a backed-up snapshot's name) moves an unconfirmed boundary, never past what was logged.
  assert.equal(commitBoundaries([cut], [z(1, 0x54)]).get(1n)!.after, z(1, 0x54));
  assert.equal(commitBoundaries([cut], [z(1, 0x60)]).has(1n), false, 'all that was logged is confirmed: no boundary');
});

test('missing txns at the start of a new epoch cut the history as a snapshot does', () => {
  const o = observeHistory([
    { kind: 'txns', first: z(2, 0x2c0), last: z(2, 0x2d0) },
    { kind: 'snapshot', zxid: z(1, 0x8) },
    { kind: 'txns', first: z(1, 1), last: z(1, 0xfd) },
  ]);
  assert.deepEqual(o.facts().cuts, [{ epoch: 1n, lastLogged: z(1, 0xfd), confirmed: z(1, 8), resumedAt: z(2, 0x2c0) }]);
});

test('a history that starts from a snapshot (a restored dataDir) claims nothing about the epoch before it', () => {
  for (const first of [z(1, 0x50), z(3, 0)]) {
    const o = new HistoryObserver();
    o.snapshot(first);
    o.txnRun(z(4, 1), z(4, 9));
    assert.deepEqual(o.facts(), { ends: [], cuts: [] }, `from ${first.toString(16)}`);
  }
});

test('a snapshot a new leader takes at election, in the old epoch, is no cut', () => {
  const o = observeHistory([
    { kind: 'txns', first: z(1, 1), last: z(1, 0x55) },
    { kind: 'snapshot', zxid: z(1, 0x55) },
    { kind: 'txns', first: z(2, 1), last: z(2, 0x10) },
  ]);
  assert.deepEqual(o.facts(), { ends: [{ epoch: 1n, last: z(1, 0x55) }], cuts: [] });
});

test('facts survive their JSON form; malformed records are refused; known facts are not recorded twice', () => {
  const f = { ends: [{ epoch: 1n, last: z(1, 0x55) }], cuts: [{ epoch: 2n, lastLogged: z(2, 9), confirmed: null, resumedAt: z(3, 4) }] };
  assert.deepEqual(factsFromJson(JSON.parse(JSON.stringify(factsToJson(f)))), f);
  assert.equal(factsFromJson({ ends: [{ epoch: '0x1', last: '0x200000001' }], cuts: [] }), null, 'an end outside its epoch');
  assert.equal(factsFromJson({ ends: [], cuts: [{ epoch: '0x1', lastLogged: 'nope', confirmed: null, resumedAt: '0x1' }] }), null);
  assert.equal(factsFromJson(null), null);
  assert.equal(addsToKnown(f, [f]), false);
  assert.equal(addsToKnown(f, [{ ends: f.ends, cuts: [] }]), true);
  // A cut with no evidence at all leaves nothing of its epoch restorable.
  const b = commitBoundaries([f]);
  assert.equal(isReplayable(z(2, 1), b), false);
  assert.match(describeBoundary(b.get(2n)!), /no txn of that epoch is confirmed/);
});
