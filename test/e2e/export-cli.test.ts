// `zkvault export --data-dir` end to end on files a real ZooKeeper wrote, and on damaged copies of them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync, truncateSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStandalone, stopAll, requireZooKeeper } from '../support/zk-harness.js';
import { makeTempDir } from '../support/tmp.js';
import { runCli } from '../support/cli.js';
import { openSession } from '../../src/zk/client.js';
import { iterateTxnLog } from '../../src/formats/txn-log.js';

requireZooKeeper();
after(stopAll);

let pristine = '';
let work = '';

before(async () => {
  const server = await startStandalone({ snapCount: 40, preAllocSizeKb: 64 });
  const s = await openSession({ connectString: server.connectString });
  const open = [{ perms: 31, scheme: 'world', id: 'anyone' }];
  await s.create('/app', Buffer.from('a'), open);
  for (let i = 0; i < 60; i++) await s.create(`/app/n${String(i).padStart(2, '0')}`, Buffer.from([i, 0, 255]), open);
  for (let i = 0; i < 20; i++) await s.setData('/app/n00', Buffer.from(`v${i}`));
  await s.create('/other', null, open);
  await s.close();
  await server.stop();
  work = await makeTempDir('zkvault-e2e-export-');
  pristine = join(work, 'pristine');
  cpSync(server.dataDir, pristine, { recursive: true });
  await server.destroy();
});

function copy(name: string): { dir: string; v2: string; snaps: string[]; logs: string[] } {
  const dir = join(work, name);
  cpSync(pristine, dir, { recursive: true });
  const v2 = join(dir, 'version-2');
  const names = readdirSync(v2);
  const hex = (n: string) => BigInt('0x' + n.split('.')[1]);
  const byZxid = (a: string, b: string) => (hex(a) < hex(b) ? -1 : 1);
  return {
    dir,
    v2,
    snaps: names.filter((n) => n.startsWith('snapshot.')).sort(byZxid),
    logs: names.filter((n) => n.startsWith('log.')).sort(byZxid),
  };
}

test('export prints the tree as sorted NDJSON with every contract field', () => {
  const r = runCli(['export', '--data-dir', pristine]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const paths = lines.map((l) => l.path);
  assert.deepEqual(paths, [...paths].sort());
  assert.equal(paths[0], '/');
  assert.ok(!paths.some((p: string) => p.startsWith('/zookeeper')));
  assert.equal(lines.length, 1 + 1 + 60 + 1);
  const n00 = lines.find((l) => l.path === '/app/n00');
  assert.deepEqual(Object.keys(n00).sort(), ['acl', 'data', 'path', 'stat', 'type']);
  assert.deepEqual(Object.keys(n00.stat).sort(), [
    'aversion',
    'ctime',
    'cversion',
    'czxid',
    'ephemeralOwner',
    'mtime',
    'mzxid',
    'pzxid',
    'version',
  ]);
  assert.equal(Buffer.from(n00.data, 'base64').toString(), 'v19');
  assert.equal(n00.stat.version, 20);
  assert.match(n00.stat.czxid, /^0x[0-9a-f]+$/);
  assert.equal(typeof n00.stat.ctime, 'number');
  assert.equal(lines.find((l) => l.path === '/other').data, null);
  assert.deepEqual(n00.acl, [{ perms: 31, scheme: 'world', id: 'anyone' }]);
  assert.equal(n00.type, 'persistent');
  assert.match(r.stderr, /exported 63 nodes at 0x[0-9a-f]+/);
});

test('--path limits the export to a subtree; --to-zxid goes back in time', () => {
  const sub = runCli(['export', '--data-dir', pristine, '--path', '/app']);
  assert.equal(sub.code, 0, sub.stderr);
  assert.equal(sub.stdout.trim().split('\n').length, 61);
  const early = runCli(['export', '--data-dir', pristine, '--to-zxid', '0x5']);
  assert.equal(early.code, 0, early.stderr);
  const lines = early.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  // zxid 1 created the session, 2 created /app, 3..5 its first three children.
  assert.deepEqual(
    lines.map((l) => l.path),
    ['/', '/app', '/app/n00', '/app/n01', '/app/n02'],
  );
  const env = runCli(['export', '--path', '/other'], { env: { ZKVAULT_DATA_DIR: pristine } });
  assert.equal(env.code, 0, env.stderr);
  assert.equal(env.stdout.trim().split('\n').length, 1);
});

test('bad arguments: not a data dir, missing dir, bad zxid, zxid out of range → exit 2 with the reason', async () => {
  const empty = join(work, 'empty');
  mkdirSync(empty, { recursive: true });
  let r = runCli(['export', '--data-dir', empty]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not a ZooKeeper data directory/);
  r = runCli(['export', '--data-dir', join(work, 'nope')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /does not exist/);
  r = runCli(['export', '--data-dir', pristine, '--to-zxid', 'yesterday']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--to-zxid "yesterday" is not a zxid/);
  r = runCli(['export', '--data-dir', pristine, '--to-zxid', '0xffffff']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /past the last complete txn .* cover 0x0 to 0x[0-9a-f]+/);
  r = runCli(['export', '--data-dir', pristine, '--bogus']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
});

test('a flipped byte in a snapshot is an integrity failure (exit 4) naming file and offset', () => {
  const c = copy('flip-snap');
  const newest = join(c.v2, c.snaps[c.snaps.length - 1]);
  const buf = readFileSync(newest);
  buf[Math.floor(buf.length / 2)] ^= 0x01;
  writeFileSync(newest, buf);
  const r = runCli(['export', '--data-dir', c.dir]);
  assert.equal(r.code, 4, r.stderr);
  assert.ok(r.stderr.includes(c.snaps[c.snaps.length - 1]));
  assert.match(r.stderr, /at byte \d+|malformed|checksum/);
  assert.equal(r.stdout, '', 'nothing printed from a damaged snapshot');
});

test('a snapshot cut short is passed over for an older one, as ZooKeeper does; a wrong magic is an integrity failure', () => {
  const t = copy('trunc-snap');
  const name = t.snaps[t.snaps.length - 1];
  const newest = join(t.v2, name);
  truncateSync(newest, Math.floor(readFileSync(newest).length * 0.6));
  let r = runCli(['export', '--data-dir', t.dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: ${name.replace('.', '\\.')} is cut short, .*truncated.*; trying an older snapshot`));
  assert.doesNotMatch(r.stderr, new RegExp(`\\(${name.replace('.', '\\.')} \\+`), 'the export names the older base');
  assert.equal(r.stdout, runCli(['export', '--data-dir', pristine]).stdout, 'the same tree, from the older snapshot and the logs');
  const m = copy('magic-snap');
  const f = join(m.v2, m.snaps[m.snaps.length - 1]);
  const buf = readFileSync(f);
  buf.write('ZKLG', 0);
  writeFileSync(f, buf);
  r = runCli(['export', '--data-dir', m.dir]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /not a ZooKeeper snapshot: magic/);
});

test('log damage: a flipped payload byte is a checksum failure, a bad length is malformed', () => {
  const c = copy('flip-log');
  const last = join(c.v2, c.logs[c.logs.length - 1]);
  const buf = readFileSync(last);
  const recs = [...iterateTxnLog(buf, 'x')];
  assert.ok(recs.length > 0);
  const rec = recs[recs.length - 1];
  buf[rec.offset + 12 + 10] ^= 0x40; // inside the txn header of the last record
  writeFileSync(last, buf);
  let r = runCli(['export', '--data-dir', c.dir]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, new RegExp(`${c.logs[c.logs.length - 1].replace('.', '\\.')} at byte ${rec.offset}: checksum mismatch`));
  const l = copy('len-log');
  const last2 = join(l.v2, l.logs[l.logs.length - 1]);
  const buf2 = readFileSync(last2);
  buf2.writeInt32BE(0x7ffffff0, 16 + 8);
  writeFileSync(last2, buf2);
  r = runCli(['export', '--data-dir', l.dir]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /malformed record: unreasonable payload length/);
});

test('a torn tail on the live log is where reading stops: a warning, and the state before it', () => {
  const c = copy('torn-log');
  const last = join(c.v2, c.logs[c.logs.length - 1]);
  const buf = readFileSync(last);
  const recs = [...iterateTxnLog(buf, 'x')];
  const lastRec = recs[recs.length - 1];
  writeFileSync(last, buf.subarray(0, lastRec.end - 5));
  const r = runCli(['export', '--data-dir', c.dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /file ends inside a record .* reading stops there/);
  const zxid = recs.length > 1 ? recs[recs.length - 2].txn.header.zxid : null;
  if (zxid !== null) assert.match(r.stderr, new RegExp(`at 0x${zxid.toString(16)} `));
});
