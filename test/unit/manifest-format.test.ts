// What each manifest format version must hold (repository/manifest.ts): format 1 records the whole
// archive's sha256; format 2 does not, and records where every member lies instead; a later version
// is "newer", not damage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest } from '../../src/repository/manifest.js';

const ID = '20261206T120000000Z-abcd';
const HASH = 'a'.repeat(64);

function manifest(formatVersion: number, archive: Record<string, unknown>, member: Record<string, unknown> = { offset: 512 }): string {
  return JSON.stringify({
    format: 'zkvault-backup',
    formatVersion,
    tool: { name: 'zkvault', version: '0.1.0' },
    id: ID,
    kind: 'physical',
    createdAt: '2026-12-06T12:00:00.000Z',
    completedAt: '2026-12-06T12:00:01.000Z',
    source: {},
    zxid: { from: '0x1', to: '0x2' },
    partial: false,
    unreadable: [],
    counts: { nodes: 1, persistent: 1, ephemeral: 0, container: 0, ttl: 0, dataBytes: 0 },
    members: [{ name: 'snapshot.1', size: 10, sha256: HASH, role: 'snapshot', ...member }],
    archive: { key: `archives/${ID}.tar`, size: 2048, ...archive },
  });
}

test('format 1 needs the archive sha256; format 2 needs none, but every member offset', () => {
  assert.equal(parseManifest(manifest(1, { sha256: HASH }, {})).ok, true, 'format 1 as written before');
  const v1 = parseManifest(manifest(1, {}));
  assert.ok(!v1.ok && /archive must be \{key, size, sha256\}/.test(v1.reason), JSON.stringify(v1));
  assert.equal(parseManifest(manifest(2, {})).ok, true);
  const noOffset = parseManifest(manifest(2, {}, {}));
  assert.ok(!noOffset.ok && /offset is missing/.test(noOffset.reason), JSON.stringify(noOffset));
  const badHash = parseManifest(manifest(2, { sha256: 'xyz' }));
  assert.ok(!badHash.ok && !badHash.newer, JSON.stringify(badHash));
  const later = parseManifest(manifest(3, {}));
  assert.ok(!later.ok && later.newer, 'a later format is newer than this build, not damage');
});
