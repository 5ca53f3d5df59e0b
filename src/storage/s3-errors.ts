// How the AWS SDK's failures become zkvault's errors (auth, not found, transient, connection), with
// every secret scrubbed from what is kept: keys, signatures and presigned URLs never reach a message.
import { AuthError, CancelledError, ConnectionError, NotFoundError, UserError, ZkvaultError } from '../errors.js';
import { joinLocation, StorageTransientError } from './storage.js';

/** Where a failed request was aimed, for messages. */
export interface S3ErrorContext {
  /** The repository location (redacted). */
  describe: string;
  /** The endpoint, as printed. */
  endpoint: string;
  bucket: string;
}

const AUTH_CODES = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'AccountProblem',
  'ExpiredToken',
  'InvalidAccessKeyId',
  'InvalidClientTokenId',
  'InvalidToken',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
  'UnrecognizedClientException',
  'RequestTimeTooSkewed',
  'CredentialsProviderError',
]);
const TRANSIENT_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'ConditionalRequestConflict',
  'OperationAborted',
]);
/** Network failures worth another attempt. ENOTFOUND (no such host) is not one of them. */
const TRANSIENT_NET = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const NET_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  ENOTFOUND: 'no such host (DNS)',
  EAI_AGAIN: 'DNS lookup failed for now',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed early',
};

const AUTH_HINT =
  'S3 credentials come only from the standard AWS chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ' +
  '(and AWS_SESSION_TOKEN), or AWS_PROFILE and ~/.aws/credentials, or an instance or task role; ' +
  'check them and that they may read, write, list and delete under the repository prefix';

interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

export function sdkStatus(err: unknown): number | undefined {
  return (err as SdkErrorLike | undefined)?.$metadata?.httpStatusCode;
}

export function sdkName(err: unknown): string {
  const e = err as SdkErrorLike | undefined;
  return e?.Code ?? e?.name ?? '';
}

/** The errno-style code of a network failure, looking inside AggregateError (IPv4 and IPv6 both refused). */
function netCode(err: unknown): string | undefined {
  const e = err as SdkErrorLike | undefined;
  if (typeof e?.code === 'string') return e.code;
  const inner = e?.errors?.[0] as SdkErrorLike | undefined;
  if (typeof inner?.code === 'string') return inner.code;
  return undefined;
}

/**
 * Removes what must never be printed: query-string secrets (presigned URLs), credentials in URLs,
 * access key ids, and the values of the AWS secret environment variables should a server echo them.
 */
export function scrubSecrets(text: string): string {
  let out = text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, '$1***@')
    .replace(/\b(X-Amz-[A-Za-z-]+|Signature|AWSAccessKeyId|Credential|Expires|x-amz-security-token)=[^&\s"'<>]+/gi, '$1=***')
    .replace(/\b(AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b/g, '***')
    .replace(/\bSignature=[0-9a-f]{64}\b/gi, 'Signature=***');
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID']) {
    const value = process.env[name];
    if (value && value.length >= 4) out = out.split(value).join('***');
  }
  return out;
}

/** A stand-in for an SDK error, kept as `cause` (printed with ZKVAULT_DEBUG): its facts, scrubbed. */
export function sanitizedCause(err: unknown): Error | undefined {
  if (err === undefined || err === null) return undefined;
  const e = err as SdkErrorLike & { stack?: string };
  const out = new Error(
    scrubSecrets(typeof e.message === 'string' ? e.message : typeof err === 'string' ? err : 'an error without a message'),
  );
  out.name = e.name ?? 'Error';
  const facts: Record<string, unknown> = {};
  if (e.code) facts.code = e.code;
  if (e.$metadata?.httpStatusCode) facts.httpStatusCode = e.$metadata.httpStatusCode;
  if (e.$metadata?.requestId) facts.requestId = e.$metadata.requestId;
  Object.assign(out, facts);
  if (e.stack) out.stack = scrubSecrets(e.stack);
  return out;
}

/**
 * Turns an AWS SDK or network failure into zkvault's error for it; anything else (our own errors, a
 * failing upload body) is returned unchanged. `action` and `key` say what was being done.
 */
export function mapS3Error(err: unknown, action: string, at: S3ErrorContext, key?: string): Error {
  if (err instanceof ZkvaultError) return err;
  const where = key !== undefined ? joinLocation(at.describe, key) : at.describe;
  const endpoint = at.endpoint;
  const status = sdkStatus(err);
  const name = sdkName(err);
  const cause = sanitizedCause(err);
  const message = scrubSecrets(String((err as SdkErrorLike | undefined)?.message ?? ''));
  if (name === 'CredentialsProviderError') {
    return new AuthError(`${where}: cannot ${action}: no usable AWS credentials (${message})`, { hint: AUTH_HINT, cause });
  }
  if (name === 'RequestTimeTooSkewed') {
    return new AuthError(`${where}: ${endpoint} refused to ${action}: this host's clock is too far from the store's`, {
      hint: "signed requests are valid for 15 minutes around the store's time: fix this host's clock (NTP)",
      cause,
    });
  }
  if (name === 'InvalidObjectState') {
    return new UserError(`${where}: cannot ${action}: the object is in an archive storage class and must be restored first`, {
      hint: 'restore it with `aws s3api restore-object`, or keep archives in a storage class readable at once (--s3-storage-class)',
      cause,
    });
  }
  if (status === 401 || status === 403 || AUTH_CODES.has(name)) {
    const code = name && name !== 'Unknown' && name !== 'Error' ? ` ${name}` : '';
    return new AuthError(`${where}: ${endpoint} refused to ${action}: ${status ?? ''}${code}`.replace(/: $/, ''), {
      hint: AUTH_HINT,
      cause,
    });
  }
  if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
    return new UserError(`${where}: cannot ${action}: ${endpoint} says the bucket ${at.bucket} is in another region`, {
      hint: "give the bucket's region with --s3-region (ZKVAULT_S3_REGION) or AWS_REGION",
      cause,
    });
  }
  if (name === 'NoSuchBucket') {
    return new NotFoundError(`${at.describe}: the bucket ${at.bucket} does not exist at ${endpoint}`, {
      hint: 'create the bucket first, or check --repo, --s3-endpoint and --s3-region (ZKVAULT_REPO, ZKVAULT_S3_ENDPOINT, ZKVAULT_S3_REGION)',
      cause,
    });
  }
  if (status !== undefined && (status === 429 || status >= 500 || TRANSIENT_CODES.has(name))) {
    const code = name && name !== 'Unknown' && name !== 'Error' ? ` ${name}` : '';
    return new StorageTransientError(`${where}: cannot ${action}: ${endpoint} answered ${status}${code}`, {
      hint: 'the store is throttling or unavailable; zkvault retried with backoff; run the command again later',
      cause,
    });
  }
  const net = netCode(err);
  const timedOut = name === 'TimeoutError';
  if ((net !== undefined && (TRANSIENT_NET.has(net) || net === 'ENOTFOUND')) || timedOut) {
    const what = net !== undefined ? (NET_WORDS[net] ?? net) : timedOut ? 'timed out' : 'connection closed';
    const text = `cannot reach the S3 endpoint ${endpoint} to ${action} ${where}: ${what}`;
    const hint = 'check --s3-endpoint (ZKVAULT_S3_ENDPOINT), --s3-region, the network, and that the store is running';
    return net === 'ENOTFOUND' ? new ConnectionError(text, { hint, cause }) : new StorageTransientError(text, { hint, cause });
  }
  if (name === 'AbortError') return new CancelledError(undefined, { cause });
  if (status !== undefined) {
    const code = name && name !== 'Unknown' && name !== 'Error' ? ` ${name}` : '';
    return new UserError(
      `${where}: cannot ${action}: ${endpoint} answered ${status}${code}${message && message !== name ? `: ${message}` : ''}`,
      { cause },
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}
