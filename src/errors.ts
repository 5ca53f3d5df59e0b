// The error taxonomy: every failure zkvault reports is one of these, each with a stable exit code.
// Only cli.ts turns an error into an exit code; everything else throws.

export type ErrorKind =
  'usage' | 'user' | 'partial' | 'integrity' | 'differences' | 'not-found' | 'locked' | 'auth' | 'connection' | 'cancelled' | 'internal';

/** Exit codes fixed by the CLI contract. */
export const EXIT_CODES: Record<ErrorKind, number> = {
  usage: 2,
  user: 1,
  partial: 3,
  integrity: 4,
  differences: 5,
  'not-found': 10,
  locked: 11,
  auth: 12,
  connection: 13,
  cancelled: 130,
  internal: 1,
};

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class ZkvaultError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ZkvaultError';
    this.kind = kind;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export class UsageError extends ZkvaultError {
  constructor(message: string, options?: ErrorOptions) {
    super('usage', message, options);
    this.name = 'UsageError';
  }
}

export class UserError extends ZkvaultError {
  constructor(message: string, options?: ErrorOptions) {
    super('user', message, options);
    this.name = 'UserError';
  }
}

export class NotFoundError extends ZkvaultError {
  constructor(message: string, options?: ErrorOptions) {
    super('not-found', message, options);
    this.name = 'NotFoundError';
  }
}

export class ConnectionError extends ZkvaultError {
  constructor(message: string, options?: ErrorOptions) {
    super('connection', message, options);
    this.name = 'ConnectionError';
  }
}

export class AuthError extends ZkvaultError {
  constructor(message: string, options?: ErrorOptions) {
    super('auth', message, options);
    this.name = 'AuthError';
  }
}

export class LockedError extends ZkvaultError {
  constructor(message: string, options?: ErrorOptions) {
    super('locked', message, options);
    this.name = 'LockedError';
  }
}

export class CancelledError extends ZkvaultError {
  constructor(message = 'interrupted', options?: ErrorOptions) {
    super('cancelled', message, options);
    this.name = 'CancelledError';
  }
}

/** The three ways a ZooKeeper file can be damaged are told apart (they call for different actions). */
export type IntegrityProblem = 'truncated' | 'checksum' | 'malformed';

/**
 * A file that is corrupt, truncated or not what it claims to be. Always names the file and, where
 * there is one, the byte offset of the problem.
 */
export class IntegrityError extends ZkvaultError {
  readonly problem: IntegrityProblem;
  readonly file: string;
  readonly offset: number | undefined;

  constructor(problem: IntegrityProblem, file: string, offset: number | undefined, detail: string, options?: ErrorOptions) {
    const where = offset === undefined ? file : `${file} at byte ${offset}`;
    super('integrity', `${where}: ${detail}`, options);
    this.name = 'IntegrityError';
    this.problem = problem;
    this.file = file;
    this.offset = offset;
  }
}

export class InternalError extends ZkvaultError {
  constructor(message: string, options?: ErrorOptions) {
    super('internal', message, options);
    this.name = 'InternalError';
  }
}

/** Throws CancelledError if the signal has fired; call between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
