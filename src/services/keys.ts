// `zkvault key …`: the passwords of an encrypted repository, each a key slot wrapping the one data key.
// Adding, removing or changing one rewrites only the repository marker, never an archive.
import { UsageError } from '../errors.js';
import { addSlot } from '../repository/keyslots.js';
import type { StorageRepository } from '../repository/repository.js';

export interface KeyInfo {
  id: string;
  createdAt: string;
  /** The slot the given password opened. */
  current: boolean;
}

function slotsOf(repo: StorageRepository): { slots: KeyInfo[]; opened: string } {
  const keys = repo.keys();
  if (!keys) {
    throw new UsageError(`repository ${repo.location} is not encrypted: it has no keys`, {
      hint: 'an encrypted repository is made new: zkvault init --encrypt --repo NEW (or a first backup with --encrypt)',
    });
  }
  return { slots: keys.slots.map((s) => ({ id: s.id, createdAt: s.createdAt, current: s.id === keys.opened })), opened: keys.opened };
}

export function listKeys(repo: StorageRepository): KeyInfo[] {
  return slotsOf(repo).slots;
}

/** Adds a slot for `password`; returns its id. */
export async function addKey(repo: StorageRepository, password: string, now: Date = new Date()): Promise<string> {
  slotsOf(repo);
  let id = '';
  await repo.replaceKeySlots(async (u) => {
    const added = await addSlot(u.header, u.key, password, now);
    id = added.slot.id;
    return added.header;
  });
  return id;
}

/** Removes slot `id`; the last slot is never removed (the repository would be unreadable). */
export async function removeKey(repo: StorageRepository, id: string): Promise<void> {
  const { slots } = slotsOf(repo);
  if (!slots.some((s) => s.id === id)) {
    throw new UsageError(`repository ${repo.location} has no key ${id}`, { hint: 'zkvault key list shows its keys' });
  }
  if (slots.length === 1) {
    throw new UsageError(`key ${id} is the repository's only key: removing it would leave nothing able to read it`, {
      hint: 'add another first (zkvault key add), or change its password (zkvault key passwd)',
    });
  }
  await repo.replaceKeySlots((u) => Promise.resolve({ ...u.header, keys: u.header.keys.filter((k) => k.id !== id) }));
}

/** Replaces the slot the current password opened with one for `password`; returns the new slot's id. */
export async function changePassword(
  repo: StorageRepository,
  password: string,
  now: Date = new Date(),
): Promise<{ removed: string; added: string }> {
  const { opened } = slotsOf(repo);
  let added = '';
  await repo.replaceKeySlots(async (u) => {
    const next = await addSlot(u.header, u.key, password, now);
    added = next.slot.id;
    return { ...next.header, keys: next.header.keys.filter((k) => k.id !== opened) };
  });
  return { removed: opened, added };
}
