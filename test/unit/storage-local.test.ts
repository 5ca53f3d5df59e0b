// LocalStorage: the shared conformance suite on a real temp directory, plus what only a directory can show
// (no temp files left behind, a root that does not exist yet, foreign files ignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { runStorageConformance } from '../support/storage-conformance.js';
import { makeTempDir, removeTempDir } from '../support/tmp.js';
import { LocalStorage } from '../../src/storage/local.js';

runStorageConformance('local', async () => {
  const dir = await makeTempDir('zkvault-storage-local-');
  return { storage: new LocalStorage(path.join(dir, 'repo')), cleanup: () => removeTempDir(dir) };
});

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

test('local: a failed put and putIfAbsent leave no temp file on disk', async () => {
  const dir = await makeTempDir('zkvault-storage-local-');
  const s = new LocalStorage(dir);
  let sent = 0;
  const failing = new Readable({
    read() {
      if (sent++ > 3) this.destroy(new Error('boom'));
      else this.push(Buffer.alloc(4096));
    },
  });
  await assert.rejects(s.put('a/b', failing), /boom/);
  assert.equal(await s.putIfAbsent('locks/x.json', Buffer.from('{}')), true);
  assert.equal(await s.putIfAbsent('locks/x.json', Buffer.from('{}')), false);
  await s.put('a/c', Buffer.from('ok'));
  assert.deepEqual(await allFiles(dir), ['a/c', 'locks/x.json']);
  await removeTempDir(dir);
});

test('local: a root that does not exist lists nothing and is created by the first put', async () => {
  const dir = await makeTempDir('zkvault-storage-local-');
  const root = path.join(dir, 'not', 'yet');
  const s = new LocalStorage(root);
  assert.equal(s.describe(), root);
  assert.equal(await s.stat('x'), null);
  const listed = [];
  for await (const o of s.list('')) listed.push(o);
  assert.deepEqual(listed, []);
  await s.put('x', Buffer.from('1'));
  assert.deepEqual(await allFiles(root), ['x']);
  await removeTempDir(dir);
});

test('local: files no key can name (dot-files, spaces) are not listed', async () => {
  const dir = await makeTempDir('zkvault-storage-local-');
  const s = new LocalStorage(dir);
  await mkdir(path.join(dir, 'manifests'), { recursive: true });
  await writeFile(path.join(dir, 'manifests', '.DS_Store'), 'x');
  await writeFile(path.join(dir, 'manifests', 'copy of x.json'), 'x');
  await writeFile(path.join(dir, 'manifests', 'x.json'), 'x');
  const keys = [];
  for await (const o of s.list('manifests/')) keys.push(o.key);
  assert.deepEqual(keys, ['manifests/x.json']);
  await removeTempDir(dir);
});

test('local: a relative root is resolved against the working directory', () => {
  assert.equal(new LocalStorage('rel/repo').describe(), path.resolve('rel/repo'));
});
