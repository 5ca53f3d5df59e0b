// The archive format: a plain tar that GNU tar reads, manifest.json last, exact member offsets, and a strict
// reader for which every truncation and damaged header is an IntegrityError naming the archive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { create as createTar } from 'tar';
import { IntegrityError, UsageError } from '../../src/errors.js';
import { ArchivePacker, type PackSource } from '../../src/archive/tar-writer.js';
import { extractArchiveMember, listArchive, readArchive, readArchiveManifest } from '../../src/archive/tar-reader.js';
import { hashFile, memberNameProblem } from '../../src/archive/members.js';
import { makeTempDir } from '../support/tmp.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
// Fits ustar's prefix + name fields; the second needs a pax header.
const LONG_NAME = 'logs/' + 'x'.repeat(120) + '/log.100000001';
const PAX_NAME = 'y'.repeat(200);

async function collect(stream: Readable): Promise<{ bytes: Buffer; maxChunk: number }> {
  const chunks: Buffer[] = [];
  let maxChunk = 0;
  for await (const c of stream) {
    chunks.push(c as Buffer);
    maxChunk = Math.max(maxChunk, (c as Buffer).length);
  }
  return { bytes: Buffer.concat(chunks), maxChunk };
}

function chunked(buf: Buffer, size = 7000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

/** A staging dir with a few members of awkward sizes, and the archive packed from it. */
async function fixture() {
  const dir = await makeTempDir('zkvault-archive-');
  const files: Record<string, Buffer> = {
    'snapshot.100000040': randomBytes(300_001),
    'empty.bin': Buffer.alloc(0),
    'exact-block': Buffer.alloc(1024, 0x42),
    [LONG_NAME]: Buffer.from('a member whose name fills the ustar prefix field'),
    [PAX_NAME]: Buffer.from('a member whose name needs a pax header'),
  };
  const sources: PackSource[] = [];
  for (const [name, data] of Object.entries(files)) {
    const file = path.join(dir, 'staging', ...name.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data);
    sources.push({ name, path: file, expected: await hashFile(file) });
  }
  let seenEntries: string[] = [];
  const packer = new ArchivePacker(sources, (entries) => {
    seenEntries = entries.map((e) => e.name);
    return Buffer.from(JSON.stringify({ members: entries }) + '\n');
  });
  const { bytes, maxChunk } = await collect(packer.stream());
  return { dir, files, sources, packer, archive: bytes, maxChunk, seenEntries };
}

test('pack: members in order then manifest.json, with exact offsets, sizes and hashes', async () => {
  const { files, packer, archive, seenEntries } = await fixture();
  const { entries, size } = packer.summary;
  assert.equal(size, archive.length);
  assert.equal(archive.length % 512, 0);
  assert.deepEqual(seenEntries, Object.keys(files), 'manifest builder sees every member before it');
  assert.deepEqual(
    entries.map((e) => e.name),
    [...Object.keys(files), 'manifest.json'],
  );
  for (const e of entries.slice(0, -1)) {
    const data = files[e.name];
    assert.equal(e.size, data.length);
    assert.equal(e.sha256, sha(data));
    assert.ok(archive.subarray(e.offset, e.offset + e.size).equals(data), `bytes of ${e.name} at ${e.offset}`);
  }
  const m = entries.at(-1)!;
  assert.deepEqual(JSON.parse(archive.subarray(m.offset, m.offset + m.size).toString()).members.length, 5);
  assert.ok(archive.subarray(archive.length - 1024).equals(Buffer.alloc(1024)), 'ends with two zero blocks');
});

test('pack: GNU tar lists and extracts the archive byte for byte', async () => {
  const { dir, files, archive } = await fixture();
  const tarFile = path.join(dir, 'backup.tar');
  await writeFile(tarFile, archive);
  const listed = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(listed, [...Object.keys(files), 'manifest.json']);
  const out = path.join(dir, 'out');
  await mkdir(out);
  execFileSync('tar', ['-xf', tarFile, '-C', out]);
  for (const [name, data] of Object.entries(files)) assert.ok((await readFile(path.join(out, name))).equals(data), name);
});

test('read: entries with offsets; extract one member with its hash; read the manifest', async () => {
  const { dir, files, archive, packer } = await fixture();
  const listed = await listArchive(chunked(archive), 'fixture.tar');
  assert.equal(listed.complete, true);
  assert.equal(listed.size, archive.length);
  assert.equal(listed.sha256, undefined, 'the whole archive is hashed only when asked');
  assert.equal((await readArchive(chunked(archive), 'fixture.tar', () => {}, { sha256: true })).sha256, sha(archive));
  assert.deepEqual(
    listed.entries.map((e) => [e.name, e.offset, e.size]),
    packer.summary.entries.map((e) => [e.name, e.offset, e.size]),
  );
  const dest = path.join(dir, 'x', 'snap');
  const got = await extractArchiveMember(chunked(archive), 'fixture.tar', 'snapshot.100000040', dest);
  assert.ok(got);
  assert.equal(got.sha256, sha(files['snapshot.100000040']));
  assert.ok((await readFile(dest)).equals(files['snapshot.100000040']));
  const long = await extractArchiveMember(chunked(archive, 512), 'fixture.tar', LONG_NAME, path.join(dir, 'x', 'long'));
  assert.equal(long?.size, files[LONG_NAME].length);
  const pax = await extractArchiveMember(chunked(archive, 512), 'fixture.tar', PAX_NAME, path.join(dir, 'x', 'pax'));
  assert.equal(pax?.sha256, sha(files[PAX_NAME]));
  assert.equal(pax.entry.offset - pax.entry.headerOffset, 3 * 512, 'pax header, its record, then the ustar header');
  assert.equal(await extractArchiveMember(chunked(archive), 'fixture.tar', 'no-such-member', path.join(dir, 'x', 'none')), null);
  const manifest = await readArchiveManifest(chunked(archive, 100_000), 'fixture.tar');
  assert.equal(JSON.parse(manifest!.toString()).members.length, 5);
});

test('read: an accept callback that refuses the digest leaves no file behind', async () => {
  const { dir, archive } = await fixture();
  const dest = path.join(dir, 'refused', 'member');
  await assert.rejects(
    extractArchiveMember(chunked(archive), 'fixture.tar', 'exact-block', dest, {
      accept: () => {
        throw new IntegrityError('checksum', 'fixture.tar', undefined, 'refused');
      },
    }),
    IntegrityError,
  );
  assert.deepEqual(await readdir(path.dirname(dest)), []);
});

test('read: an archive written by node-tar reads too', async () => {
  const dir = await makeTempDir('zkvault-archive-');
  await writeFile(path.join(dir, 'a.txt'), 'alpha');
  await writeFile(path.join(dir, 'b.bin'), randomBytes(5000));
  const { bytes } = await collect(Readable.from(createTar({ cwd: dir, portable: true }, ['a.txt', 'b.bin'])));
  const seen: Array<[string, string]> = [];
  await readArchive(chunked(bytes), 'node-tar.tar', async (entry, body) => {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c);
    seen.push([entry.name, sha(Buffer.concat(parts))]);
  });
  assert.deepEqual(seen, [
    ['a.txt', sha(Buffer.from('alpha'))],
    ['b.bin', sha(await readFile(path.join(dir, 'b.bin')))],
  ]);
});

test('read: every kind of truncation is an IntegrityError (truncated) naming the archive', async () => {
  const { archive, packer } = await fixture();
  const first = packer.summary.entries[0];
  const cuts: Array<[number, RegExp]> = [
    [0, /without the end-of-archive marker/],
    [100, /inside a header/],
    [first.offset, /inside member snapshot\.100000040 \(0 of 300001/],
    [first.offset + 1000, /inside member snapshot\.100000040 \(1000 of/],
    [first.offset + first.size + 10, /inside the padding after member snapshot\.100000040/],
    [archive.length - 1024, /without the end-of-archive marker/],
    [archive.length - 512, /inside the end-of-archive marker/],
    [archive.length - 10, /inside the end-of-archive marker/],
  ];
  for (const [cut, why] of cuts) {
    await assert.rejects(listArchive(chunked(archive.subarray(0, cut)), '/repo/archives/b.tar'), (err: unknown) => {
      assert.ok(err instanceof IntegrityError, `cut at ${cut}: ${String(err)}`);
      assert.equal(err.problem, 'truncated', `cut at ${cut}`);
      assert.equal(err.file, '/repo/archives/b.tar');
      assert.equal(err.offset, cut);
      assert.match(err.message, why, `cut at ${cut}`);
      return true;
    });
  }
});

test('read: a damaged header, a lone zero block and data after the end are malformed, with offsets', async () => {
  const { archive, packer } = await fixture();
  const second = packer.summary.entries[1]; // empty.bin: its header is the block before its data
  const flipped = Buffer.from(archive);
  flipped[second.offset - 512 + 3] ^= 0x20;
  await assert.rejects(listArchive(chunked(flipped), 'b.tar'), (err: unknown) => {
    assert.ok(err instanceof IntegrityError);
    assert.equal(err.problem, 'malformed');
    assert.equal(err.offset, second.offset - 512);
    assert.match(err.message, /^b\.tar at byte \d+: tar header checksum mismatch/);
    return true;
  });
  const lone = Buffer.concat([archive.subarray(0, second.offset - 512), Buffer.alloc(512), archive.subarray(second.offset - 512)]);
  await assert.rejects(listArchive(chunked(lone), 'b.tar'), /lone zero block/);
  // Padding is framing, checked as such: one byte set in it is found, at its offset.
  const short = packer.summary.entries.find((e) => e.size % 512 !== 0)!;
  const dirty = Buffer.from(archive);
  dirty[short.offset + short.size + 7] = 1;
  await assert.rejects(listArchive(chunked(dirty), 'b.tar'), (err: unknown) => {
    assert.ok(err instanceof IntegrityError && err.problem === 'malformed');
    assert.equal(err.offset, short.offset + short.size);
    assert.match(err.message, new RegExp(`the padding after member ${short.name.replace(/\./g, '\\.')} is not zeros`));
    return true;
  });
  const trailing = Buffer.concat([archive, Buffer.from('garbage')]);
  await assert.rejects(listArchive(chunked(trailing), 'b.tar'), (err: unknown) => {
    assert.ok(err instanceof IntegrityError);
    assert.equal(err.offset, archive.length);
    assert.match(err.message, /data after the end-of-archive marker/);
    return true;
  });
  // Zero padding to a tar record size (as GNU tar writes) is fine.
  const padded = Buffer.concat([archive, Buffer.alloc(10240 - (archive.length % 10240))]);
  assert.equal((await listArchive(chunked(padded), 'b.tar')).complete, true);
});

test('pack: streams in bounded chunks, reader hands out bounded chunks', async () => {
  const dir = await makeTempDir('zkvault-archive-');
  const big = path.join(dir, 'big.bin');
  await writeFile(big, randomBytes(1024 * 1024));
  // 24 MiB from a 1 MiB pattern without building it in memory at once.
  const { open } = await import('node:fs/promises');
  const fh = await open(big, 'a');
  const pattern = await readFile(big);
  for (let i = 0; i < 23; i++) await fh.write(pattern);
  await fh.close();
  const packer = new ArchivePacker([{ name: 'big.bin', path: big }], () => Buffer.from('{}'));
  const stream = packer.stream();
  let maxOut = 0;
  let maxIn = 0;
  const wrapped = (async function* () {
    for await (const c of stream) {
      maxOut = Math.max(maxOut, (c as Buffer).length);
      yield c as Buffer;
    }
  })();
  const result = await readArchive(
    wrapped,
    'big.tar',
    async (_entry, body) => {
      for await (const c of body) maxIn = Math.max(maxIn, c.length);
    },
    { sha256: true },
  );
  assert.equal(result.entries[0].size, 24 * 1024 * 1024);
  assert.equal(result.size, packer.summary.size);
  assert.equal(result.sha256?.length, 64);
  assert.ok(maxOut <= 1024 * 1024 + 1024, `packer chunk ${maxOut}`);
  assert.ok(maxIn <= 1024 * 1024 + 1024, `reader chunk ${maxIn}`);
});

test('pack: a member that changed after it was hashed is refused; names are checked', async () => {
  const { sources } = await fixture();
  await writeFile(sources[0].path, 'different now');
  const packer = new ArchivePacker(sources, () => Buffer.from('{}'));
  await assert.rejects(collect(packer.stream()), (err: unknown) => {
    assert.ok(err instanceof IntegrityError);
    assert.match(err.message, /changed after it was added/);
    return true;
  });
  assert.throws(() => packer.summary);
  assert.throws(() => new ArchivePacker([{ name: 'manifest.json', path: '/x' }], () => Buffer.alloc(0)), UsageError);
  assert.throws(
    () =>
      new ArchivePacker(
        [
          { name: 'a', path: '/x' },
          { name: 'a', path: '/y' },
        ],
        () => Buffer.alloc(0),
      ),
    UsageError,
  );
  for (const bad of ['', '/abs', '../up', 'a/../b', '.hidden', 'a//b', 'sp ace', 'x'.repeat(256)]) {
    assert.ok(memberNameProblem(bad), `name ${JSON.stringify(bad)} should be refused`);
  }
  for (const good of ['snapshot.100000040', 'log.1', 'tree/part-0001.ndjson', 'a_b=c+d@e'])
    assert.equal(memberNameProblem(good), undefined);
});
