// The retention policy over synthetic histories: hourly backups over a year, chains of incrementals,
// partial and broken backups, keep-within, series — asserting the exact kept set and the reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/errors.js';
import { isoWeek, planLeftovers, planRetention, type RetentionCandidate, type RetentionPlan } from '../../src/core/retention.js';
import { parseFixedDuration, parseRetentionDuration, subtractDuration } from '../../src/core/duration.js';
import { newBackupId } from '../../src/repository/ids.js';
import { policy } from '../support/retention-policy.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let serial = 0;
/** A unique id for a time (the random suffix is a counter, so ids stay distinct and deterministic). */
function idAt(t: number): string {
  return newBackupId(new Date(t), () => (serial++ % 0x10000).toString(16).padStart(4, '0'));
}

function logical(t: number | string, o: { partial?: boolean; zk?: string; path?: string; size?: number } = {}): RetentionCandidate {
  const time = typeof t === 'string' ? Date.parse(t) : t;
  return {
    id: idAt(time),
    kind: 'logical',
    createdAt: new Date(time).toISOString(),
    partial: o.partial ?? false,
    source: { zk: o.zk ?? '10.0.0.1:2181', path: o.path ?? '/' },
    archive: { size: o.size ?? 100 },
  };
}

/** A physical chain: one backup per time, a full one every `fullEvery`. */
function physicalChain(times: number[], fullEvery: number, dataDir = '/var/lib/zookeeper'): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  let base = '';
  let parent: string | null = null;
  let depth = 0;
  times.forEach((time, i) => {
    const id = idAt(time);
    if (i % fullEvery === 0) {
      base = id;
      parent = null;
      depth = 0;
    } else depth++;
    out.push({
      id,
      kind: 'physical',
      createdAt: new Date(time).toISOString(),
      partial: false,
      source: { dataDir },
      extra: { chain: { base, parent, depth } },
      archive: { size: 1000 },
    });
    parent = id;
  });
  return out;
}

function kept(plan: RetentionPlan): Map<string, string[]> {
  return new Map(plan.keep.map((d) => [d.id, d.reasons]));
}

function keptTimes(plan: RetentionPlan): string[] {
  return plan.keep.map((d) => d.createdAt).sort();
}

test('hourly backups over a year: hourly 24, daily 7, weekly 4, monthly 12 keep exactly the newest of each bucket', () => {
  const start = Date.parse('2025-01-01T00:30:00Z');
  const backups = Array.from({ length: 365 * 24 }, (_, i) => logical(start + i * HOUR));
  const plan = planRetention({ backups, policy: policy({ hourly: 24, daily: 7, weekly: 4, monthly: 12 }) });

  const at = (iso: string) => new Date(iso).toISOString();
  const expected = [
    // hourly: the 24 hours of 2025-12-31
    ...Array.from({ length: 24 }, (_, h) => at(`2025-12-31T${String(h).padStart(2, '0')}:30:00Z`)),
    // daily: the last backup of Dec 25..30 (Dec 31's is already kept)
    ...[25, 26, 27, 28, 29, 30].map((d) => at(`2025-12-${d}T23:30:00Z`)),
    // weekly (ISO): 2026-W01 (Dec 29..Jan 4) and 2025-W52 are kept already; W51 ends Dec 21, W50 Dec 14
    at('2025-12-21T23:30:00Z'),
    at('2025-12-14T23:30:00Z'),
    // monthly: the last backup of each month (December's is kept already)
    ...['01-31', '02-28', '03-31', '04-30', '05-31', '06-30', '07-31', '08-31', '09-30', '10-31', '11-30'].map((d) =>
      at(`2025-${d}T23:30:00Z`),
    ),
  ].sort();
  assert.deepEqual(keptTimes(plan), expected);
  assert.equal(plan.keep.length, 43);
  assert.equal(plan.remove.length, 365 * 24 - 43);
  assert.deepEqual(plan.warnings, []);

  const reasonsAt = (iso: string) => plan.keep.find((d) => d.createdAt === at(iso))!.reasons;
  assert.deepEqual(reasonsAt('2025-12-31T23:30:00Z'), ['hourly 2025-12-31T23', 'daily 2025-12-31', 'weekly 2026-W01', 'monthly 2025-12']);
  assert.deepEqual(reasonsAt('2025-12-31T00:30:00Z'), ['hourly 2025-12-31T00']);
  assert.deepEqual(reasonsAt('2025-12-28T23:30:00Z'), ['daily 2025-12-28', 'weekly 2025-W52']);
  assert.deepEqual(reasonsAt('2025-12-14T23:30:00Z'), ['weekly 2025-W50']);
  assert.deepEqual(reasonsAt('2025-02-28T23:30:00Z'), ['monthly 2025-02']);
  assert.deepEqual(plan.remove[0].reasons, ['no rule (hourly 24, daily 7, weekly 4, monthly 12) keeps it']);
  // Oldest first, like list.
  assert.ok(plan.keep.every((d, i) => i === 0 || plan.keep[i - 1].createdAt <= d.createdAt));
});

test('last N and yearly: the N newest, and the newest backup of each year', () => {
  const start = Date.parse('2023-06-01T00:00:00Z');
  const backups = Array.from({ length: 3 * 365 }, (_, i) => logical(start + i * DAY));
  const plan = planRetention({ backups, policy: policy({ last: 3, yearly: 5 }) });
  const newest = backups.slice(-3).map((b) => b.id);
  const r = kept(plan);
  assert.deepEqual(r.get(newest[2]), ['last 1 of 3', 'yearly 2026']);
  assert.deepEqual(r.get(newest[1]), ['last 2 of 3']);
  assert.deepEqual(r.get(newest[0]), ['last 3 of 3']);
  assert.deepEqual(keptTimes(plan), [
    '2023-12-31T00:00:00.000Z',
    '2024-12-31T00:00:00.000Z',
    '2025-12-31T00:00:00.000Z',
    ...backups.slice(-3).map((b) => b.createdAt),
  ]);
  assert.deepEqual(r.get(backups.find((b) => b.createdAt.startsWith('2024-12-31'))!.id), ['yearly 2024']);
});

test('keep-within counts back from the newest backup, not from now: backups that stopped coming never age out', () => {
  const start = Date.parse('2024-01-01T00:00:00Z');
  const backups = Array.from({ length: 30 }, (_, i) => logical(start + i * DAY));
  const plan = planRetention({ backups, policy: policy({ within: '7d' }) });
  // Newest: Jan 30. Within 7 days of it: Jan 23 00:00 (exactly 7 days) .. Jan 30.
  assert.deepEqual(
    keptTimes(plan),
    backups.slice(-8).map((b) => b.createdAt),
  );
  assert.deepEqual(plan.keep[0].reasons, ['within 7d of the newest backup']);
  assert.equal(plan.remove.length, 22);
  // Calendar months: 1mo back from Mar 31 is Mar 3 (Feb 31 rolls over), as Date.UTC does it.
  const within = planRetention({ backups, policy: policy({ within: '1mo' }) });
  assert.equal(within.keep.length, 30, 'Jan 30 minus one month is Dec 30: every backup');
});

test('a kept incremental keeps its whole chain: the base and every parent, with the reason', () => {
  // 3 days of hourly physical backups, a full one every 6 hours.
  const start = Date.parse('2026-11-18T00:10:00Z');
  const backups = physicalChain(
    Array.from({ length: 72 }, (_, i) => start + i * HOUR),
    6,
  );
  const plan = planRetention({ backups, policy: policy({ last: 1 }) });
  const newest = backups[71]; // depth 5 of the chain started at hour 66
  const chain = backups.slice(66, 72);
  assert.deepEqual(
    plan.keep.map((d) => d.id),
    chain.map((b) => b.id),
  );
  const r = kept(plan);
  assert.deepEqual(r.get(newest.id), ['last 1 of 1']);
  assert.deepEqual(r.get(chain[0].id), [`base of kept incremental ${newest.id}`]);
  for (const b of chain.slice(1, 5)) assert.deepEqual(r.get(b.id), [`in the chain of kept incremental ${newest.id}`]);
  assert.equal(plan.remove.length, 66);

  // daily 2: the newest of Nov 20 (hour 71, depth 5) and of Nov 19 (hour 47, depth 5 of the chain at 42).
  const daily = planRetention({ backups, policy: policy({ daily: 2 }) });
  assert.deepEqual(
    daily.keep.map((d) => d.id),
    [...backups.slice(42, 48), ...backups.slice(66, 72)].map((b) => b.id),
  );
  assert.deepEqual(kept(daily).get(backups[42].id), [`base of kept incremental ${backups[47].id}`]);
  assert.deepEqual(kept(daily).get(backups[47].id), ['daily 2026-11-19']);
});

test("pruning a chain's base while an incremental on it is kept is refused: the base is kept, with the reason", () => {
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  // One chain: full on Nov 1, incrementals on Nov 15 and Nov 20. keep-daily 1 selects only the newest;
  // keep-within 3d reaches nothing older either: by the rules alone the base would go.
  const [base, mid, newest] = physicalChain([t0, t0 + 14 * DAY, t0 + 19 * DAY], 10);
  const plan = planRetention({ backups: [base, mid, newest], policy: policy({ daily: 1, within: '3d' }) });
  assert.equal(plan.remove.length, 0);
  const r = kept(plan);
  assert.deepEqual(r.get(newest.id), ['daily 2026-11-20', 'within 3d of the newest backup']);
  assert.deepEqual(r.get(base.id), [`base of kept incremental ${newest.id}`]);
  assert.deepEqual(r.get(mid.id), [`in the chain of kept incremental ${newest.id}`]);

  // Two kept incrementals on one base: both are named.
  const plan2 = planRetention({ backups: [base, mid, newest], policy: policy({ last: 2 }) });
  assert.deepEqual(kept(plan2).get(base.id), [`base of kept incrementals ${mid.id}, ${newest.id}`]);
  assert.deepEqual(kept(plan2).get(mid.id), ['last 2 of 2', `in the chain of kept incremental ${newest.id}`]);
});

test('an older chain goes whole once nothing kept needs it; a full backup kept by a rule needs no chain', () => {
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const backups = physicalChain(
    Array.from({ length: 8 }, (_, i) => t0 + i * DAY),
    4,
  );
  const plan = planRetention({ backups, policy: policy({ last: 1 }) });
  // Newest: depth 3 of the chain starting at day 4 → days 4..7 stay, days 0..3 go.
  assert.deepEqual(
    plan.keep.map((d) => d.id),
    backups.slice(4).map((b) => b.id),
  );
  assert.deepEqual(
    plan.remove.map((d) => d.id),
    backups.slice(0, 4).map((b) => b.id),
  );
  const fullOnly = planRetention({ backups: backups.slice(0, 5), policy: policy({ last: 1 }) });
  assert.deepEqual(
    fullOnly.keep.map((d) => d.id),
    [backups[4].id],
  );
  assert.deepEqual(fullOnly.keep[0].reasons, ['last 1 of 1']);
});

test("partial backups are not restore points: they never take a rule's place, and go once superseded", () => {
  const d = (day: number, hour: number) => Date.parse(`2026-11-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00Z`);
  const b1 = logical(d(1, 10));
  const b2 = logical(d(2, 10));
  const p2 = logical(d(2, 12), { partial: true }); // newer than b2 on the same day
  const b3 = logical(d(3, 10));
  const p3 = logical(d(3, 12), { partial: true }); // the newest backup of all
  const plan = planRetention({ backups: [b1, b2, p2, b3, p3], policy: policy({ daily: 2 }) });
  const r = kept(plan);
  assert.deepEqual(r.get(b3.id), ['daily 2026-11-03'], "the day's complete backup, not the newer partial one");
  assert.deepEqual(r.get(b2.id), ['daily 2026-11-02']);
  assert.deepEqual(r.get(p3.id), ['newest backup of its series, partial: kept until a complete backup follows it']);
  assert.deepEqual(
    plan.remove.map((x) => x.id),
    [b1.id, p2.id],
  );
  assert.deepEqual(plan.remove.find((x) => x.id === p2.id)!.reasons, ['partial, not a restore point, and no rule (daily 2) needs it']);

  // Once a complete backup follows it, the partial one goes.
  const b4 = logical(d(4, 10));
  const later = planRetention({ backups: [b1, b2, p2, b3, p3, b4], policy: policy({ daily: 2 }) });
  assert.deepEqual(
    later.keep.map((x) => x.id),
    [b3.id, b4.id],
  );
});

test('a series that is always partial still keeps a history: rules fall back to partial backups', () => {
  const t0 = Date.parse('2026-11-01T06:00:00Z');
  const backups = Array.from({ length: 10 }, (_, i) => logical(t0 + i * DAY, { partial: true }));
  const plan = planRetention({ backups, policy: policy({ daily: 3, within: '1d' }) });
  assert.deepEqual(
    plan.keep.map((x) => x.id),
    backups.slice(-3).map((b) => b.id),
  );
  assert.deepEqual(kept(plan).get(backups[9].id), [
    'daily 2026-11-10 (partial: the rule ran out of complete backups)',
    'within 1d of the newest backup (partial: no complete backup in the window)',
    'newest backup of its series, partial: kept until a complete backup follows it',
  ]);
  assert.deepEqual(kept(plan).get(backups[7].id), ['daily 2026-11-08 (partial: the rule ran out of complete backups)']);
  // With some complete backups, a rule takes them first and only then partial ones.
  const mixed = [...backups.slice(0, 8), logical(t0 + 8 * DAY), logical(t0 + 9 * DAY)];
  const plan2 = planRetention({ backups: mixed, policy: policy({ daily: 3 }) });
  assert.deepEqual(
    plan2.keep.map((x) => x.id),
    mixed.slice(-3).map((b) => b.id),
  );
  assert.deepEqual(kept(plan2).get(mixed[7].id), ['daily 2026-11-08 (partial: the rule ran out of complete backups)']);
});

test('broken backups are not restore points and are left alone, with a warning', () => {
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const [full, inc1, inc2] = physicalChain([t0, t0 + HOUR, t0 + 2 * HOUR], 10);
  const older = logical(t0 - DAY);
  const newer = logical(t0 + DAY);
  const present = new Set([full.id, inc2.id, older.id]); // inc1's and newer's archives are gone
  const plan = planRetention({ backups: [older, full, inc1, inc2, newer], policy: policy({ last: 1 }), archivesPresent: present });
  const r = kept(plan);
  // The logical series: `newer` is broken, so `older` is its newest restore point.
  assert.deepEqual(r.get(older.id), ['last 1 of 1']);
  assert.match(r.get(newer.id)![0], /^broken, not a restore point: its archive is missing/);
  // The physical chain: inc2 runs through inc1 → broken; full is the newest restore point.
  assert.deepEqual(r.get(full.id), ['last 1 of 1']);
  assert.match(r.get(inc1.id)![0], /its archive is missing/);
  assert.match(r.get(inc2.id)![0], new RegExp(`its chain runs through ${inc1.id}, which cannot be restored`));
  assert.equal(plan.remove.length, 0);
  assert.equal(plan.warnings.length, 3);
  // An incremental whose parent is not in the repository at all.
  const orphanInc = planRetention({ backups: [inc2], policy: policy({ last: 1 }) });
  assert.match(orphanInc.keep[0].reasons[0], new RegExp(`continues ${inc1.id}, which is missing from the repository`));
});

test('series: each kind and source is counted apart unless --group-by none', () => {
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const a = Array.from({ length: 4 }, (_, i) => logical(t0 + i * 2 * HOUR, { path: '/app-a' }));
  const b = Array.from({ length: 4 }, (_, i) => logical(t0 + (i * 2 + 1) * HOUR, { path: '/app-b' }));
  const p = physicalChain([t0 + 30 * 60_000], 1);
  const all = [...a, ...b, ...p];
  const bySeries = planRetention({ backups: all, policy: policy({ last: 2 }) });
  assert.deepEqual(new Set(bySeries.keep.map((x) => x.id)), new Set([a[2].id, a[3].id, b[2].id, b[3].id, p[0].id]));
  assert.deepEqual([...new Set(bySeries.keep.map((x) => x.series))].sort(), [
    'logical 10.0.0.1:2181 /app-a',
    'logical 10.0.0.1:2181 /app-b',
    'physical /var/lib/zookeeper',
  ]);
  const together = planRetention({ backups: all, policy: policy({ last: 2, groupBy: 'none' }) });
  assert.deepEqual(
    together.keep.map((x) => x.id),
    [a[3].id, b[3].id],
  );
  assert.ok(together.keep.every((x) => x.series === 'all'));
});

test('durations: units, combinations, calendar months; an ambiguous m is refused', () => {
  assert.deepEqual(parseRetentionDuration('1d12h'), { text: '1d12h', years: 0, months: 0, days: 1, ms: 12 * HOUR });
  assert.deepEqual(parseRetentionDuration('2w'), { text: '2w', years: 0, months: 0, days: 14, ms: 0 });
  assert.deepEqual(parseRetentionDuration('1y6mo'), { text: '1y6mo', years: 1, months: 6, days: 0, ms: 0 });
  assert.equal(parseFixedDuration('90min', '--x'), 90 * 60_000);
  assert.equal(parseFixedDuration('0s', '--x'), 0);
  assert.equal(parseFixedDuration('1s500ms', '--stop-grace'), 1500, 'milliseconds too, for --stop-grace');
  assert.throws(
    () => parseRetentionDuration('6m'),
    (e: unknown) => e instanceof UsageError && /ambiguous/.test(e.message) && /6min .* 6mo/.test(e.hint ?? ''),
  );
  for (const bad of ['', '7', 'd', '7 days', '-1d', '1d ', '1.5h']) {
    assert.throws(() => parseRetentionDuration(bad.trimEnd() === bad ? bad : bad + 'x'), UsageError, `"${bad}"`);
  }
  assert.throws(() => parseFixedDuration('1mo', '--stop-grace'), UsageError);
  assert.equal(
    new Date(subtractDuration(Date.parse('2026-03-15T00:00:00Z'), parseRetentionDuration('1mo'))).toISOString(),
    '2026-02-15T00:00:00.000Z',
  );
  assert.equal(
    new Date(subtractDuration(Date.parse('2026-03-15T00:00:00Z'), parseRetentionDuration('1y1d'))).toISOString(),
    '2025-03-14T00:00:00.000Z',
  );
});

test('ISO weeks at year ends', () => {
  assert.equal(isoWeek(Date.parse('2021-01-03T12:00:00Z')), '2020-W53');
  assert.equal(isoWeek(Date.parse('2021-01-04T00:00:00Z')), '2021-W01');
  assert.equal(isoWeek(Date.parse('2024-12-30T00:00:00Z')), '2025-W01');
  assert.equal(isoWeek(Date.parse('2026-11-20T23:59:59Z')), '2026-W47');
});

test('leftovers: archives without a manifest and unfinished uploads go once older than the grace', () => {
  const now = new Date('2026-11-20T12:00:00Z');
  const old = new Date(now.getTime() - 2 * HOUR);
  const young = new Date(now.getTime() - 5 * 60_000);
  const plan = planLeftovers({
    sidecarIds: new Set(['20261120T100000000Z-0001']),
    archives: [
      { id: '20261120T100000000Z-0001', key: 'archives/20261120T100000000Z-0001.tar', size: 10, modified: old },
      { id: '20261120T090000000Z-0002', key: 'archives/20261120T090000000Z-0002.tar', size: 20, modified: old },
      { id: '20261120T115500000Z-0003', key: 'archives/20261120T115500000Z-0003.tar', size: 30, modified: young },
    ],
    temporary: [{ key: 'archives/.20261120T080000000Z-0004.tar.0123456789ab.tmp', size: 40, modified: old }],
    now,
    graceMs: HOUR,
  });
  assert.deepEqual(
    plan.map((o) => [o.key, o.kind, o.remove]),
    [
      ['archives/.20261120T080000000Z-0004.tar.0123456789ab.tmp', 'temporary', true],
      ['archives/20261120T090000000Z-0002.tar', 'archive', true],
      ['archives/20261120T115500000Z-0003.tar', 'archive', false],
    ],
  );
  assert.match(plan[1].reason, /no manifest.*2h00m old/);
  assert.match(plan[2].reason, /only 5m00s old \(grace 1h00m\): it may belong to a run still in flight/);
});
