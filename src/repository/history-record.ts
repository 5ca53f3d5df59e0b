// History records (history/<id>.json): what one backup learned of the ensemble's committed history,
// read back as untrusted input.
import { factsFromJson } from '../core/committed.js';
import { isBackupId } from './ids.js';
import type { HistoryRecord } from './types.js';

export function historyKey(id: string): string {
  return `history/${id}.json`;
}

/** A history record read from storage (untrusted), or why it cannot be used. */
export function parseHistoryRecord(bytes: Buffer, key: string): HistoryRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  const o = v as Partial<HistoryRecord> | null;
  if (typeof o !== 'object' || o === null || o.format !== 'zkvault-history') return 'not a zkvault history record';
  if (o.version !== 1) return `history record version ${JSON.stringify(o.version)} is not one this zkvault reads (1)`;
  if (typeof o.recordedBy !== 'string' || !isBackupId(o.recordedBy) || key !== historyKey(o.recordedBy))
    return `it names ${JSON.stringify(o.recordedBy)}, not the run its key names`;
  if (typeof o.recordedAt !== 'string' || Number.isNaN(Date.parse(o.recordedAt))) return 'recordedAt is not a time';
  if (typeof o.source !== 'object' || o.source === null) return 'source is missing';
  if (!factsFromJson(o.facts)) return 'facts are not well formed (epoch ends and cuts as 0x… zxids)';
  return o as HistoryRecord;
}
