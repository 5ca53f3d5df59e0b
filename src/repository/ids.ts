// Backup ids: `YYYYMMDDTHHMMSSmmmZ-xxxx` — UTC creation time to the millisecond, then 4 random hex digits,
// so that ids sort by time as plain strings and two runs in the same millisecond still differ.
import { randomBytes } from 'node:crypto';

export const BACKUP_ID = /^\d{8}T\d{9}Z-[0-9a-f]{4}$/;

/** A new id for a backup created at `now`. */
export function newBackupId(now: Date = new Date(), random: () => string = () => randomBytes(2).toString('hex')): string {
  const iso = now.toISOString(); // 2024-05-01T12:34:56.789Z
  const stamp =
    iso.slice(0, 4) +
    iso.slice(5, 7) +
    iso.slice(8, 10) +
    'T' +
    iso.slice(11, 13) +
    iso.slice(14, 16) +
    iso.slice(17, 19) +
    iso.slice(20, 23) +
    'Z';
  return `${stamp}-${random()}`;
}

export function isBackupId(text: string): boolean {
  return BACKUP_ID.test(text);
}

/** The creation time encoded in an id. */
export function backupIdTime(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  if (!m) throw new Error(`not a backup id: ${id}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]));
}
