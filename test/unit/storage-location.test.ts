// Repository locations: one registry parses --repo; anything it does not accept is a usage error that names
// the location (redacted) and the forms it accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { UsageError } from '../../src/errors.js';
import { openStorage, parseLocation } from '../../src/storage/location.js';
import { redactLocation } from '../../src/storage/redact.js';
import { LocalStorage } from '../../src/storage/local.js';

test('a plain path, relative or absolute, is a local directory', async () => {
  assert.deepEqual(parseLocation('./zkvault-repo'), {
    scheme: 'file',
    path: path.resolve('zkvault-repo'),
    redacted: path.resolve('zkvault-repo'),
  });
  assert.deepEqual(parseLocation('/srv/backups/zk'), { scheme: 'file', path: '/srv/backups/zk', redacted: '/srv/backups/zk' });
  const s = await openStorage('/srv/backups/zk');
  assert.ok(s instanceof LocalStorage);
  assert.equal(s.describe(), '/srv/backups/zk');
});

test('file:///abs is a local directory; file URLs with a host or a query are refused', () => {
  assert.deepEqual(parseLocation('file:///srv/backups/zk'), { scheme: 'file', path: '/srv/backups/zk', redacted: '/srv/backups/zk' });
  assert.equal((parseLocation('file://localhost/srv/x') as { path: string }).path, '/srv/x');
  assert.equal((parseLocation('file:///srv/with%20space') as { path: string }).path, '/srv/with space');
  assert.throws(() => parseLocation('file://otherhost/srv/x'), UsageError);
  assert.throws(
    () => parseLocation('file:///srv/x?token=abc'),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.doesNotMatch(err.message, /abc/);
      return true;
    },
  );
});

test('s3://bucket/prefix parses and opens an S3 storage (no request is made until it is used)', async () => {
  assert.deepEqual(parseLocation('s3://my-bucket/team/zk/'), {
    scheme: 's3',
    bucket: 'my-bucket',
    prefix: 'team/zk',
    redacted: 's3://my-bucket/team/zk',
  });
  assert.deepEqual(parseLocation('s3://my-bucket'), { scheme: 's3', bucket: 'my-bucket', prefix: '', redacted: 's3://my-bucket' });
  const s = await openStorage('s3://my-bucket/zk', { env: {}, s3: { region: 'eu-west-1' } });
  assert.equal(s.describe(), 's3://my-bucket/zk');
  assert.throws(
    () => parseLocation('s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/x'),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.doesNotMatch(err.message, /wJalrXUtnFEMI|AKIAEXAMPLE/);
      assert.match(err.hint ?? '', /AWS/);
      return true;
    },
  );
  assert.throws(() => parseLocation('s3://Bad_Bucket/x'), UsageError);
});

test('other schemes and empty locations are usage errors naming the location and the accepted forms', () => {
  for (const loc of ['http://example.com/repo', 'ftp://host/x', 'sftp://u@h/x', 'HTTPS://example.com']) {
    assert.throws(
      () => parseLocation(loc),
      (err: unknown) => {
        assert.ok(err instanceof UsageError, loc);
        assert.equal(err.exitCode, 2);
        assert.ok(err.message.includes(redactLocation(loc)), err.message);
        assert.match(err.hint ?? '', /file:\/\/\/.*s3:\/\/bucket\/prefix/);
        return true;
      },
    );
  }
  assert.throws(
    () => parseLocation('ftp://bob:hunter2@host/x'),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.doesNotMatch(err.message, /hunter2|bob/);
      return true;
    },
  );
  for (const empty of ['', '   ']) assert.throws(() => parseLocation(empty), UsageError);
});

test('redactLocation strips user info, query values and fragments, and leaves paths alone', () => {
  assert.equal(redactLocation('/srv/backups'), '/srv/backups');
  assert.equal(redactLocation('./rel?not=a-url'), './rel?not=a-url');
  assert.equal(redactLocation('s3://bucket/prefix'), 's3://bucket/prefix');
  assert.equal(redactLocation('s3://AKIA:secret@bucket/prefix'), 's3://***@bucket/prefix');
  assert.equal(
    redactLocation('https://user:pw@host/p?X-Amz-Signature=abc&X-Amz-Credential=def#frag'),
    'https://***@host/p?X-Amz-Signature=***&X-Amz-Credential=***',
  );
  assert.equal(redactLocation('s3://bucket/p?token=t0p'), 's3://bucket/p?token=***');
  // Strings that are not valid URLs are still scrubbed.
  assert.equal(redactLocation('http://us er:pa ss@ho st/x?sig=1'), 'http://***@ho st/x?sig=***');
});
