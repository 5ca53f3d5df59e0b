// Reading and writing backup manifests and the repository marker: shape checks on everything read (a
// manifest from disk is untrusted input), a stable serialization, and the format versions this build reads.
import { memberNameProblem } from '../archive/members.js';
import type { BackupManifest } from './types.js';
import { isBackupId } from './ids.js';
import { encryptionProblem, type EncryptionHeader } from './keyslots.js';

export const MANIFEST_FORMAT = 'zkvault-backup';
/**
 * The newest manifest format this build reads and the one it writes. Version 2 drops the whole
 * archive's sha256 (one hash pass per member is the integrity root) and records every member's offset.
 */
export const MANIFEST_VERSION = 2;

export const REPOSITORY_MARKER_KEY = 'zkvault-repository.json';
export const REPOSITORY_FORMAT = 'zkvault-repository';
/** Plain repositories are written as version 1 (older zkvaults read them); encrypted ones as 2. */
export const REPOSITORY_VERSION = 2;
export const PLAIN_REPOSITORY_VERSION = 1;

export interface RepositoryMarker {
  format: typeof REPOSITORY_FORMAT;
  version: number;
  createdAt: string;
  /** Version 2: the repository's key slots; every archive, manifest and history record is encrypted. */
  encryption?: EncryptionHeader;
  /** Version 2: HMAC-SHA256 (by a key derived from the data key) of the rest of the marker. */
  mac?: string;
}

export type ManifestParse =
  | { ok: true; manifest: BackupManifest }
  | { ok: false; reason: string; /** Written by a newer zkvault: not damage, just unreadable here. */ newer: boolean };

const HEX64 = /^[0-9a-f]{64}$/;
const ZXID = /^0x[0-9a-f]{1,16}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and checks a manifest (sidecar or the archive's manifest.json). `expectedId`, when given, must
 * be the manifest's id. Never throws: returns why a manifest cannot be used.
 */
export function parseManifest(bytes: Buffer | string, expectedId?: string): ManifestParse {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not valid JSON (${(err as Error).message})`, newer: false };
  }
  const bad = (reason: string): ManifestParse => ({ ok: false, reason, newer: false });
  if (!isObject(value)) return bad('not a JSON object');
  if (value.format !== MANIFEST_FORMAT) return bad(`format is ${JSON.stringify(value.format)}, not "${MANIFEST_FORMAT}"`);
  if (typeof value.formatVersion !== 'number' || !Number.isInteger(value.formatVersion) || value.formatVersion < 1) {
    return bad(`formatVersion ${JSON.stringify(value.formatVersion)} is not a version number`);
  }
  if (value.formatVersion > MANIFEST_VERSION) {
    return {
      ok: false,
      reason: `manifest format version ${value.formatVersion} is newer than this zkvault reads (${MANIFEST_VERSION})`,
      newer: true,
    };
  }
  if (typeof value.id !== 'string' || !isBackupId(value.id)) return bad(`id ${JSON.stringify(value.id)} is not a backup id`);
  if (expectedId !== undefined && value.id !== expectedId) return bad(`it names backup ${value.id}, not ${expectedId}`);
  if (value.kind !== 'logical' && value.kind !== 'physical') return bad(`kind ${JSON.stringify(value.kind)} is unknown`);
  for (const field of ['createdAt', 'completedAt'] as const) {
    if (typeof value[field] !== 'string' || Number.isNaN(Date.parse(value[field]))) return bad(`${field} is not a time`);
  }
  if (!isObject(value.tool) || typeof value.tool.version !== 'string') return bad('tool is missing');
  if (!isObject(value.source)) return bad('source is missing');
  if (
    !isObject(value.zxid) ||
    typeof value.zxid.from !== 'string' ||
    !ZXID.test(value.zxid.from) ||
    typeof value.zxid.to !== 'string' ||
    !ZXID.test(value.zxid.to)
  ) {
    return bad('zxid must be {from, to} as 0x… hex');
  }
  if (typeof value.partial !== 'boolean') return bad('partial is not a boolean');
  if (value.consistent !== undefined && typeof value.consistent !== 'boolean') return bad('consistent is not a boolean');
  if (
    !Array.isArray(value.unreadable) ||
    !value.unreadable.every((u) => isObject(u) && typeof u.path === 'string' && typeof u.reason === 'string')
  ) {
    return bad('unreadable must be a list of {path, reason}');
  }
  const c = value.counts;
  if (!isObject(c) || !(['nodes', 'persistent', 'ephemeral', 'container', 'ttl', 'dataBytes'] as const).every((k) => isCount(c[k]))) {
    return bad('counts must hold nodes, persistent, ephemeral, container, ttl and dataBytes');
  }
  if (!Array.isArray(value.members)) return bad('members is not a list');
  const names = new Set<string>();
  for (const [i, m] of value.members.entries()) {
    if (!isObject(m)) return bad(`members[${i}] is not an object`);
    if (typeof m.name !== 'string') return bad(`members[${i}] has no name`);
    const nameProblem = memberNameProblem(m.name);
    if (nameProblem) return bad(nameProblem);
    if (names.has(m.name)) return bad(`member ${m.name} is listed twice`);
    names.add(m.name);
    if (!isCount(m.size)) return bad(`member ${m.name}: size is not a byte count`);
    if (typeof m.sha256 !== 'string' || !HEX64.test(m.sha256)) return bad(`member ${m.name}: sha256 is not 64 lowercase hex digits`);
    if (typeof m.role !== 'string') return bad(`member ${m.name}: role is missing`);
    if (m.offset !== undefined && !isCount(m.offset)) return bad(`member ${m.name}: offset is not a byte offset`);
    // Format 2 checks the archive member by member: where each one lies is part of what is checked.
    if (value.formatVersion >= 2 && m.offset === undefined) return bad(`member ${m.name}: offset is missing (format 2 records every one)`);
  }
  if (value.archive !== undefined) {
    const a = value.archive;
    const v1 = value.formatVersion === 1;
    if (!isObject(a) || typeof a.key !== 'string' || !isCount(a.size)) return bad(`archive must be {key, size${v1 ? ', sha256' : ''}}`);
    if (
      v1
        ? typeof a.sha256 !== 'string' || !HEX64.test(a.sha256)
        : a.sha256 !== undefined && (typeof a.sha256 !== 'string' || !HEX64.test(a.sha256))
    )
      return bad(v1 ? 'archive must be {key, size, sha256}' : 'archive.sha256 is not 64 lowercase hex digits');
  }
  return { ok: true, manifest: value as unknown as BackupManifest };
}

/** The bytes a manifest is stored as: indented JSON, one trailing newline. */
export function serializeManifest(manifest: BackupManifest): Buffer {
  return Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
}

/** JSON with object keys sorted, for comparing two manifests regardless of key order. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}

/** Top-level fields whose values differ between two manifests (ignoring the sidecar-only `archive`). */
export function manifestDifferences(sidecar: BackupManifest, inner: BackupManifest): string[] {
  const a = sidecar as unknown as Record<string, unknown>;
  const b = inner as unknown as Record<string, unknown>;
  const fields = new Set([...Object.keys(a), ...Object.keys(b)]);
  fields.delete('archive');
  return [...fields].sort().filter((f) => stableStringify(a[f]) !== stableStringify(b[f]));
}

export function parseMarker(bytes: Buffer): { ok: true; marker: RepositoryMarker } | { ok: false; reason: string; newer: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not valid JSON (${(err as Error).message})`, newer: false };
  }
  if (!isObject(value) || value.format !== REPOSITORY_FORMAT) {
    return { ok: false, reason: `it is not a zkvault repository marker`, newer: false };
  }
  if (typeof value.version !== 'number' || !Number.isInteger(value.version) || value.version < 1) {
    return { ok: false, reason: `version ${JSON.stringify(value.version)} is not a version number`, newer: false };
  }
  if (value.version > REPOSITORY_VERSION) {
    return {
      ok: false,
      reason: `repository format version ${value.version} is newer than this zkvault reads (${REPOSITORY_VERSION})`,
      newer: true,
    };
  }
  if (value.version >= 2 || value.encryption !== undefined) {
    const problem = encryptionProblem(value.encryption);
    if (problem) return { ok: false, reason: problem, newer: false };
    if (value.version < 2) return { ok: false, reason: 'an encryption header in a version 1 marker', newer: false };
    if (typeof value.mac !== 'string' || !HEX64.test(value.mac)) return { ok: false, reason: 'the marker has no mac', newer: false };
  }
  return { ok: true, marker: value as unknown as RepositoryMarker };
}
