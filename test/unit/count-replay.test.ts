// The counting replay a physical backup records its node count with (core/count-replay.ts, read from
// files by datadir/count.ts) must agree with the tree a restore builds (core/replay.ts): over a random
// history of every txn kind (ephemerals of sessions that close, containers, TTLs, multis whole and
// failed, data that grows and shrinks) with a fuzzy snapshot, at many zxids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Leader } from '../support/history.js';
import { makeTempDir } from '../support/tmp.js';
import { replayToZxid } from '../../src/core/replay.js';
import { countFilesAt } from '../../src/datadir/count.js';
import { listDataDir } from '../../src/datadir/listing.js';
import { OpCode } from '../../src/formats/txn.js';

function prng(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
}

test('the counting replay gives the node counts of the replayed tree at every zxid asked', async () => {
  const rand = prng(7);
  const L = new Leader();
  const sessions = [0xa1n, 0xb2n, 0xc3n];
  for (const s of sessions) L.createSession(s);
  const live: string[] = [];
  L.create('/app');
  const step = () => {
    const r = rand();
    const parent = live.length > 0 && rand() < 0.3 ? live[Math.floor(rand() * live.length)] : '/app';
    // Some names are not ASCII: the counting replay keys paths by their bytes, the replay by strings.
    const path = `${parent}/${rand() < 0.2 ? 'ü' : 'n'}${L.zxid}`;
    const data = Buffer.alloc(Math.floor(rand() * 50), 1);
    if (r < 0.3) {
      L.create(path, data);
      live.push(path);
    } else if (r < 0.4) {
      L.create(`/app/e${L.zxid}`, data, { ephemeral: sessions[Math.floor(rand() * sessions.length)] });
    } else if (r < 0.45) {
      L.createContainer(`/app/c${L.zxid}`);
    } else if (r < 0.5) {
      L.createTTL(`/app/t${L.zxid}`, 60_000n);
    } else if (r < 0.7 && live.length > 0) {
      L.setData(live[Math.floor(rand() * live.length)], Buffer.alloc(Math.floor(rand() * 80), 2));
    } else if (r < 0.85 && live.length > 0) {
      // Leaves only (a delete of a node with children is refused by the leader, never logged).
      const i = Math.floor(rand() * live.length);
      const victim = live[i];
      if (!live.some((p) => p.startsWith(victim + '/')) && (L.tree.get(victim)?.numChildren ?? 1) === 0) {
        L.delete(victim);
        live.splice(i, 1);
      } else L.setData(victim, data);
    } else if (r < 0.9) {
      const s = sessions[Math.floor(rand() * sessions.length)];
      L.closeSession(s);
      L.createSession(s);
    } else if (r < 0.95) {
      L.failedMulti('/never');
    } else {
      L.multi([
        {
          type: OpCode.create,
          body: { kind: 'create', path: `/app/m${L.zxid}`, data: Buffer.from('m'), acl: null, ephemeral: false, parentCVersion: -1 },
        },
        { type: OpCode.delete, body: { kind: 'delete', path: `/app/m${L.zxid}` } },
      ]);
    }
  };
  for (let i = 0; i < 400; i++) step();
  const fuzzyAt = L.zxid;
  for (let i = 0; i < 20; i++) step();
  const settled = L.zxid;
  const snap = await L.snapshot(fuzzyAt); // named at fuzzyAt, holding the txns up to `settled`: a fuzzy snapshot
  for (let i = 0; i < 600; i++) step();
  const end = L.zxid;

  const dir = await makeTempDir('zkvault-count-');
  mkdirSync(join(dir, 'version-2'));
  writeFileSync(join(dir, 'version-2', snap.name), snap.bytes);
  const logs = [L.log(1n, fuzzyAt + 100n), L.log(fuzzyAt + 101n, end)];
  for (const l of logs) writeFileSync(join(dir, 'version-2', l.name), l.bytes);
  const listing = listDataDir(dir);
  const src = (f: { name: string; zxid: bigint; bytes: Buffer }) => ({ name: f.name, zxid: f.zxid, read: () => Buffer.from(f.bytes) });
  let checked = 0;
  for (let z = settled; z <= end; z += 37n) {
    const expected = replayToZxid([src(snap)], logs.map(src), { targetZxid: z }).tree.counts();
    const got = countFilesAt(listing, z);
    assert.ok('counts' in got, `${z}: ${'problem' in got ? got.problem : ''}`);
    assert.deepEqual(got.counts, expected, `counts at ${z.toString(16)}`);
    checked++;
  }
  assert.ok(checked > 10);
  const last = countFilesAt(listing, end);
  assert.ok('counts' in last && last.counts.ephemeral > 0 && last.counts.container > 0 && last.counts.ttl > 0, JSON.stringify(last));
  const early = countFilesAt(listing, settled - 1n);
  assert.ok('problem' in early && /holds txns up to/.test(early.problem), 'a fuzzy snapshot is no base before its digest');
  const past = countFilesAt(listing, end + 5n);
  assert.ok('problem' in past && /reach/.test(past.problem), 'a zxid the files do not reach is said to be out of reach');
});
