// What S3Storage decides without a server: how AWS SDK and network failures map to zkvault's errors
// (exit 12 auth, 13 connection, 10 missing bucket) with secrets scrubbed, and how S3 settings are read
// from ZKVAULT_S3_* and checked. The behaviour against a real server is in test/integration/s3-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { AuthError, ConnectionError, NotFoundError, UsageError, UserError } from '../../src/errors.js';
import { S3Storage } from '../../src/storage/s3.js';
import { scrubSecrets } from '../../src/storage/s3-errors.js';
import { checkS3Settings, s3SettingsFromEnv } from '../../src/storage/location.js';
import { StorageTransientError } from '../../src/storage/storage.js';
import { isTransient } from '../../src/storage/retry.js';

const storage = new S3Storage({
  bucket: 'backups',
  prefix: 'zk/prod',
  endpoint: 'http://minio.internal:9000',
  forcePathStyle: true,
  region: 'us-east-1',
});

function s3Error(name: string, status: number, message = name): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: 'REQ1' },
    message,
  });
}

function netError(code: string, message = `connect ${code} 10.0.0.1:9000`): Error {
  return Object.assign(new Error(message), { code });
}

test('403, AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch → AuthError (exit 12) with the AWS chain as hint', () => {
  for (const [name, status] of [
    ['AccessDenied', 403],
    ['InvalidAccessKeyId', 403],
    ['SignatureDoesNotMatch', 403],
    ['ExpiredToken', 400],
    ['Unknown', 403], // a HEAD answer has no body to name the error
  ] as const) {
    const err = storage.mapError(s3Error(name, status), 'read', 'manifests/x.json');
    assert.ok(err instanceof AuthError, name);
    assert.equal(err.exitCode, 12);
    assert.match(err.message, /^s3:\/\/backups\/zk\/prod\/manifests\/x\.json: http:\/\/minio\.internal:9000 refused to read: 403|400/);
    assert.match(err.hint ?? '', /AWS_ACCESS_KEY_ID.*AWS_SECRET_ACCESS_KEY.*AWS_PROFILE/);
    assert.ok(!(err.cause instanceof S3ServiceException), 'the cause is a scrubbed stand-in');
  }
  const creds = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
  const noCreds = storage.mapError(creds, 'list');
  assert.ok(noCreds instanceof AuthError);
  assert.match(noCreds.message, /no usable AWS credentials/);
  const skew = storage.mapError(s3Error('RequestTimeTooSkewed', 403), 'write', 'x');
  assert.ok(skew instanceof AuthError);
  assert.match(skew.hint ?? '', /clock/);
});

test('NoSuchBucket → NotFoundError (exit 10) naming bucket and endpoint', () => {
  const err = storage.mapError(s3Error('NoSuchBucket', 404, 'The specified bucket does not exist'), 'list');
  assert.ok(err instanceof NotFoundError);
  assert.equal(err.exitCode, 10);
  assert.equal(err.message, 's3://backups/zk/prod: the bucket backups does not exist at http://minio.internal:9000');
  assert.match(err.hint ?? '', /--s3-endpoint/);
});

test('throttling and 5xx → a transient ConnectionError (exit 13), retried by the wrapper', () => {
  for (const [name, status] of [
    ['SlowDown', 503],
    ['ServiceUnavailable', 503],
    ['InternalError', 500],
    ['Unknown', 502],
    ['TooManyRequestsException', 429],
    ['RequestTimeout', 400],
    ['ConditionalRequestConflict', 409],
  ] as const) {
    const err = storage.mapError(s3Error(name, status), 'upload', 'archives/x.tar');
    assert.ok(err instanceof StorageTransientError, name);
    assert.ok(err instanceof ConnectionError);
    assert.equal(err.exitCode, 13);
    assert.ok(isTransient(err));
    assert.match(err.message, new RegExp(`answered ${status}`));
  }
});

test('refused, reset and timed-out connections → ConnectionError (exit 13) naming the endpoint; no such host is not retried', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN']) {
    const err = storage.mapError(netError(code), 'read', 'repository.json');
    assert.ok(err instanceof StorageTransientError, code);
    assert.equal(err.exitCode, 13);
    assert.match(
      err.message,
      /^cannot reach the S3 endpoint http:\/\/minio\.internal:9000 to read s3:\/\/backups\/zk\/prod\/repository\.json: /,
    );
  }
  const refused = storage.mapError(netError('ECONNREFUSED'), 'read');
  assert.match(refused.message, /connection refused$/);
  // Node 20 tries IPv6 and IPv4: both refusals come wrapped in an AggregateError.
  const both = storage.mapError(new AggregateError([netError('ECONNREFUSED'), netError('ECONNREFUSED')]), 'read');
  assert.ok(both instanceof StorageTransientError);
  const dns = storage.mapError(netError('ENOTFOUND', 'getaddrinfo ENOTFOUND minio.internal'), 'read');
  assert.ok(dns instanceof ConnectionError);
  assert.equal(isTransient(dns), false);
  assert.match(dns.message, /no such host/);
  const timeout = storage.mapError(Object.assign(new Error('Connection timed out after 10000 ms'), { name: 'TimeoutError' }), 'read');
  assert.ok(timeout instanceof StorageTransientError);
});

test("other 4xx answers are user errors (exit 1) with the store's message; errors that are not the store's pass through", () => {
  const err = storage.mapError(
    s3Error('InvalidStorageClass', 400, 'The storage class you specified is not valid'),
    'upload',
    'archives/x.tar',
  );
  assert.ok(err instanceof UserError);
  assert.match(err.message, /400 InvalidStorageClass: The storage class you specified is not valid$/);
  const wrongRegion = storage.mapError(s3Error('PermanentRedirect', 301), 'read', 'x');
  assert.ok(wrongRegion instanceof UserError);
  assert.match(wrongRegion.hint ?? '', /--s3-region/);
  const archived = storage.mapError(s3Error('InvalidObjectState', 403), 'read', 'archives/x.tar');
  assert.ok(archived instanceof UserError, 'an archived object is not an auth problem');
  const producer = new Error('producer failed midway');
  assert.equal(storage.mapError(producer, 'upload'), producer);
  const ours = new UsageError('bad key');
  assert.equal(storage.mapError(ours, 'write'), ours);
});

test('secrets never reach a message: signatures, credentials, access keys and the secret environment', () => {
  const saved = process.env.AWS_SECRET_ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  try {
    const presigned =
      'https://backups.s3.amazonaws.com/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=3f1a9b&X-Amz-Security-Token=tok';
    const text = scrubSecrets(
      `failed ${presigned} with key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY via http://user:pw@host/`,
    );
    assert.doesNotMatch(text, /AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI|3f1a9b|tok\b|user:pw/);
    assert.match(text, /X-Amz-Signature=\*\*\*/);
    const err = storage.mapError(s3Error('InvalidArgument', 400, `bad request for ${presigned}`), 'write', 'k');
    assert.doesNotMatch(`${err.message} ${(err.cause as Error).message} ${(err.cause as Error).stack}`, /AKIAIOSFODNN7EXAMPLE|3f1a9b/);
  } finally {
    if (saved === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved;
  }
});

test('describe() is s3://bucket/prefix, with no endpoint or credential in it', () => {
  assert.equal(storage.describe(), 's3://backups/zk/prod');
  assert.equal(new S3Storage({ bucket: 'b', prefix: '' }).describe(), 's3://b');
});

test('S3 settings: read from ZKVAULT_S3_*, checked, canonical', () => {
  assert.deepEqual(s3SettingsFromEnv({}), {
    endpoint: undefined,
    forcePathStyle: undefined,
    region: undefined,
    sse: undefined,
    sseKmsKeyId: undefined,
    storageClass: undefined,
  });
  const env = {
    ZKVAULT_S3_ENDPOINT: 'http://127.0.0.1:9000/',
    ZKVAULT_S3_FORCE_PATH_STYLE: 'true',
    ZKVAULT_S3_REGION: 'eu-west-1',
    ZKVAULT_S3_SSE: 'aws:kms',
    ZKVAULT_S3_SSE_KMS_KEY_ID: 'alias/zk',
    ZKVAULT_S3_STORAGE_CLASS: 'standard_ia',
  };
  assert.deepEqual(checkS3Settings(s3SettingsFromEnv(env)), {
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    region: 'eu-west-1',
    sse: 'aws:kms',
    sseKmsKeyId: 'alias/zk',
    storageClass: 'STANDARD_IA',
  });
  assert.equal(s3SettingsFromEnv({ ZKVAULT_S3_FORCE_PATH_STYLE: 'false' }).forcePathStyle, false);
  assert.equal(s3SettingsFromEnv({ ZKVAULT_S3_FORCE_PATH_STYLE: '1' }).forcePathStyle, true);
  assert.equal(checkS3Settings({ sse: 'aes256' }).sse, 'AES256');
  assert.throws(() => s3SettingsFromEnv({ ZKVAULT_S3_FORCE_PATH_STYLE: 'maybe' }), UsageError);
});

test('bad S3 settings are usage errors (exit 2), and an endpoint carrying credentials is refused without echoing them', () => {
  for (const bad of [
    { endpoint: 'minio:9000' },
    { endpoint: 'ftp://host' },
    { endpoint: 'http://host:9000?X-Amz-Signature=abc' },
    { sse: 'rot13' },
    { sseKmsKeyId: 'alias/zk' },
    { sse: 'AES256', sseKmsKeyId: 'alias/zk' },
    { region: 'EU WEST' },
    { storageClass: 'cold storage' },
  ]) {
    assert.throws(
      () => checkS3Settings(bad),
      (err: unknown) => err instanceof UsageError && err.exitCode === 2,
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () => checkS3Settings({ endpoint: 'http://AKIAEXAMPLE:s3cr3t@minio:9000' }),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.doesNotMatch(err.message, /AKIAEXAMPLE|s3cr3t/);
      assert.match(err.hint ?? '', /AWS chain/);
      return true;
    },
  );
});
