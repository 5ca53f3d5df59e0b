// Opening an encrypted repository: the password unlocks the data key from the marker's key slots, the
// marker's mac is checked with it, and the storage is wrapped so that every archive, manifest and
// history record is encrypted on the way out and authenticated on the way in. Fails closed: a missing or
// wrong password, a marker altered or stripped of its header, stop the command before any data is used.
import { AuthError, IntegrityError, UsageError } from '../errors.js';
import { EncryptedStorage } from '../storage/encrypted.js';
import { joinLocation, type Storage } from '../storage/storage.js';
import { markerMac, newEncryption, unlock, type EncryptionHeader, type KeySlot } from './keyslots.js';
import { REPOSITORY_MARKER_KEY, REPOSITORY_VERSION, stableStringify, type RepositoryMarker } from './manifest.js';

/** What is encrypted: everything that holds data or describes it. The marker and locks are not. */
const ENCRYPTED_PREFIXES = ['archives/', 'manifests/', 'history/'];

export interface EncryptionOptions {
  /** Reads the password; called only when one is needed. */
  password?: () => string;
  /** Where the password comes from (a flag or variable name), for messages. */
  passwordFrom?: string;
  /** A new repository is created encrypted. */
  encrypt?: boolean;
  /** Chunk size of new encrypted repositories (tests use small ones). */
  chunkBytes?: number;
  now?: () => Date;
}

/** An unlocked repository key: the header it came from and the slot the password opened. */
export interface Unlocked {
  header: EncryptionHeader;
  key: Buffer;
  slot: KeySlot;
}

const PASSWORD_HINT = 'set ZKVAULT_PASSWORD, or give --password-file FILE or --password-command CMD';

/** The marker as stored: its mac covers every other field. */
export function sealMarker(marker: Omit<RepositoryMarker, 'mac'>, key: Buffer): RepositoryMarker {
  const { mac: _drop, ...rest } = marker as RepositoryMarker;
  return { ...rest, mac: markerMac(key, stableStringify(rest)) };
}

function markerMacMatches(marker: RepositoryMarker, key: Buffer): boolean {
  const { mac, ...rest } = marker;
  return mac === markerMac(key, stableStringify(rest));
}

/** A new encrypted repository's marker fields and its key, for the first backup (or init) to write. */
async function createKey(opts: EncryptionOptions, location: string): Promise<Unlocked> {
  if (!opts.password) {
    throw new UsageError(`--encrypt needs a password for the new repository ${location}`, { hint: PASSWORD_HINT });
  }
  const { header, key } = await newEncryption(opts.password(), (opts.now ?? (() => new Date()))(), opts.chunkBytes ?? 1024 * 1024);
  return { header, key, slot: header.keys[0] };
}

/**
 * The storage a repository uses (wrapped when it is encrypted) and its unlocked key. `marker` is null
 * for a repository that does not exist yet.
 */
export async function openEncryption(
  storage: Storage,
  location: string,
  marker: RepositoryMarker | null,
  opts: EncryptionOptions,
): Promise<{ storage: Storage; unlocked: Unlocked | null }> {
  const where = joinLocation(storage.describe(), REPOSITORY_MARKER_KEY);
  if (marker === null) {
    if (!opts.encrypt) {
      if (opts.password) {
        throw new UsageError(`a password is given (${opts.passwordFrom}) but the new repository ${location} would not be encrypted`, {
          hint: 'add --encrypt to create it encrypted, or unset the password',
        });
      }
      return { storage, unlocked: null };
    }
    const unlocked = await createKey(opts, location);
    return { storage: wrap(storage, unlocked), unlocked };
  }
  if (!marker.encryption) {
    if (opts.encrypt) {
      throw new UsageError(`repository ${location} exists and is not encrypted; --encrypt only applies to a new repository`, {
        hint: 'back up into a new, encrypted repository (--repo elsewhere --encrypt)',
      });
    }
    if (opts.password) {
      throw new IntegrityError(
        'malformed',
        where,
        undefined,
        `the repository is not encrypted, yet a password is given (${opts.passwordFrom}): if it was created encrypted, its encryption header has been removed and nothing in it can be trusted`,
        { hint: 'if this repository was never encrypted, unset the password for it' },
      );
    }
    return { storage, unlocked: null };
  }
  if (!opts.password) {
    throw new AuthError(`repository ${location} is encrypted: its password is needed`, { hint: PASSWORD_HINT });
  }
  const { key, slot } = await unlock(marker.encryption, opts.password(), location);
  if (!markerMacMatches(marker, key)) {
    throw new IntegrityError('checksum', where, undefined, 'the marker was altered: its mac does not match its fields', {
      hint: 'restore zkvault-repository.json from a copy; do not trust the repository until then',
    });
  }
  const unlocked = { header: marker.encryption, key, slot };
  return { storage: wrap(storage, unlocked), unlocked };
}

function wrap(storage: Storage, unlocked: Unlocked): Storage {
  return new EncryptedStorage(storage, { key: unlocked.key, prefixes: ENCRYPTED_PREFIXES, chunkBytes: unlocked.header.chunkBytes });
}

/** The marker of a new repository: plain (version 1) or encrypted (version 2, sealed). */
export function newMarker(createdAt: string, unlocked: Unlocked | null, plainVersion: number): RepositoryMarker {
  if (!unlocked) return { format: 'zkvault-repository', version: plainVersion, createdAt };
  return sealMarker({ format: 'zkvault-repository', version: REPOSITORY_VERSION, createdAt, encryption: unlocked.header }, unlocked.key);
}

/** The error for an encrypted object met in a repository whose marker says it is not encrypted. */
export function strippedHeaderError(storage: Storage, key: string): IntegrityError {
  return new IntegrityError(
    'malformed',
    joinLocation(storage.describe(), key),
    undefined,
    'is encrypted, but the repository marker has no encryption header: the marker was replaced or its header removed',
    { hint: 'restore zkvault-repository.json from a copy (and give the password); do not trust this repository until then' },
  );
}
