// The encryption header of an encrypted repository's marker: one random data key, wrapped once per
// passphrase (a key slot), so that a passphrase is added, changed or removed without rewriting a byte of
// any archive. Each slot's key comes from its passphrase by scrypt; the wrap is AES-256-GCM with the
// slot's id and the repository's cipher parameters as associated data, so no field can be altered unseen.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { AuthError, UsageError } from '../errors.js';

export const CIPHER = 'aes-256-gcm';
const MAX_CHUNK = 64 * 1024 * 1024;

export interface KeySlot {
  id: string;
  createdAt: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  /** nonce (12) ‖ wrapped data key (32) ‖ tag (16), base64 */
  wrapped: string;
}

export interface EncryptionHeader {
  cipher: typeof CIPHER;
  chunkBytes: number;
  keys: KeySlot[];
}

/** scrypt's cost: about 32 MiB and a tenth of a second per unlock on a modest host. */
const KDF = { N: 2 ** 15, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, 32, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function slotAad(header: Pick<EncryptionHeader, 'cipher' | 'chunkBytes'>, slot: Pick<KeySlot, 'id' | 'kdf'>): Buffer {
  const k = slot.kdf;
  return Buffer.from(`zkvault key slot v1\0${slot.id}\0${header.cipher}\0${header.chunkBytes}\0${k.name}:${k.N}:${k.r}:${k.p}:${k.salt}`);
}

async function wrapKey(
  header: Pick<EncryptionHeader, 'cipher' | 'chunkBytes'>,
  dataKey: Buffer,
  password: string,
  now: Date,
): Promise<KeySlot> {
  checkPassword(password);
  const salt = randomBytes(16);
  const slot: Omit<KeySlot, 'wrapped'> = {
    id: randomBytes(4).toString('hex'),
    createdAt: now.toISOString(),
    kdf: { name: 'scrypt', ...KDF, salt: salt.toString('base64') },
  };
  const kek = await scrypt(password, salt, KDF);
  const iv = randomBytes(12);
  const cipher = createCipheriv(CIPHER, kek, iv);
  cipher.setAAD(slotAad(header, slot));
  const wrapped = Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return { ...slot, wrapped: wrapped.toString('base64') };
}

/** The data key, if `password` opens `slot`. */
async function unwrapKey(header: EncryptionHeader, slot: KeySlot, password: string): Promise<Buffer | null> {
  const wrapped = Buffer.from(slot.wrapped, 'base64');
  if (wrapped.length !== 12 + 32 + 16) return null;
  const kek = await scrypt(password, Buffer.from(slot.kdf.salt, 'base64'), slot.kdf).catch(() => null);
  if (!kek) return null;
  const decipher = createDecipheriv(CIPHER, kek, wrapped.subarray(0, 12));
  decipher.setAAD(slotAad(header, slot));
  decipher.setAuthTag(wrapped.subarray(12 + 32));
  try {
    return Buffer.concat([decipher.update(wrapped.subarray(12, 12 + 32)), decipher.final()]);
  } catch {
    return null;
  }
}

function checkPassword(password: string): void {
  if (password.length < 8) {
    throw new UsageError('a repository password must be at least 8 characters', { hint: 'choose a longer passphrase' });
  }
}

/** A new header with one key slot for `password`, and the data key it wraps. */
export async function newEncryption(password: string, now: Date, chunkBytes: number): Promise<{ header: EncryptionHeader; key: Buffer }> {
  const key = randomBytes(32);
  const base = { cipher: CIPHER, chunkBytes } as const;
  return { header: { ...base, keys: [await wrapKey(base, key, password, now)] }, key };
}

/** The data key and the slot that opened it; an AuthError (exit 12) when no slot opens with `password`. */
export async function unlock(header: EncryptionHeader, password: string, location: string): Promise<{ key: Buffer; slot: KeySlot }> {
  for (const slot of header.keys) {
    const key = await unwrapKey(header, slot, password);
    if (key) return { key, slot };
  }
  throw new AuthError(`repository ${location}: the password opens none of its ${header.keys.length} key slot(s)`, {
    hint: 'check ZKVAULT_PASSWORD, --password-file or --password-command; `zkvault key list` shows the slots',
  });
}

/** The header with one more slot, for `password`. */
export async function addSlot(
  header: EncryptionHeader,
  key: Buffer,
  password: string,
  now: Date,
): Promise<{ header: EncryptionHeader; slot: KeySlot }> {
  const slot = await wrapKey(header, key, password, now);
  return { header: { ...header, keys: [...header.keys, slot] }, slot };
}

/** Checks an encryption header read from a marker; the reason it cannot be used, or null. */
export function encryptionProblem(v: unknown): string | null {
  const o = v as Partial<EncryptionHeader> | null;
  if (typeof o !== 'object' || o === null) return 'encryption is not an object';
  if (o.cipher !== CIPHER) return `cipher ${JSON.stringify(o.cipher)} is not one this zkvault knows (${CIPHER})`;
  if (typeof o.chunkBytes !== 'number' || !Number.isInteger(o.chunkBytes) || o.chunkBytes < 1024 || o.chunkBytes > MAX_CHUNK) {
    return `chunkBytes ${JSON.stringify(o.chunkBytes)} is not a chunk size`;
  }
  if (!Array.isArray(o.keys) || o.keys.length === 0) return 'encryption has no key slots';
  for (const s of o.keys as unknown[]) {
    const slot = s as Partial<KeySlot> | null;
    const k = slot?.kdf;
    if (
      typeof slot !== 'object' ||
      slot === null ||
      typeof slot.id !== 'string' ||
      !/^[0-9a-f]{8}$/.test(slot.id) ||
      typeof slot.wrapped !== 'string' ||
      typeof slot.createdAt !== 'string' ||
      typeof k !== 'object' ||
      k === null ||
      k.name !== 'scrypt' ||
      ![k.N, k.r, k.p].every((n) => Number.isInteger(n) && n > 0) ||
      // scrypt's N is a power of two; the caps keep a doctored marker from costing more than 128 MiB.
      (k.N & (k.N - 1)) !== 0 ||
      k.N < 2 ||
      k.N > 2 ** 17 ||
      k.r > 8 ||
      k.p > 4 ||
      typeof k.salt !== 'string'
    ) {
      return 'a key slot is not well formed';
    }
  }
  return null;
}

/** HMAC-SHA256 of `text` under a key derived from the data key: what binds a marker's fields together. */
export function markerMac(key: Buffer, text: string): string {
  const macKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'zkvault marker mac v1', 32));
  return createHmac('sha256', macKey).update(text).digest('hex');
}
