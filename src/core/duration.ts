// Durations as users write them (`7d`, `36h`, `90min`, `500ms`, `1y6mo`), for retention rules, grace
// periods and intervals; and ages as messages print them.
import { UsageError } from '../errors.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A duration with calendar parts (years, months) kept apart: their length depends on the date. */
export interface RetentionDuration {
  text: string;
  years: number;
  months: number;
  days: number;
  ms: number;
}

/**
 * Parses one or more `<n><unit>` with units `y`, `mo`, `w`, `d`, `h`, `min`, `s`, `ms` (e.g. `7d`,
 * `1y6mo`, `36h`, `90min`, `500ms`). A bare `m` is refused: restic reads it as months, other tools as
 * minutes, and guessing wrong deletes backups.
 */
export function parseRetentionDuration(text: string, flag = '--keep-within'): RetentionDuration {
  const t = text.trim();
  const d: RetentionDuration = { text: t, years: 0, months: 0, days: 0, ms: 0 };
  const re = /(\d+)(ms|y|mo|w|d|h|min|s|m)/gy;
  let consumed = 0;
  let any = false;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const n = Number(m[1]);
    switch (m[2]) {
      case 'y':
        d.years += n;
        break;
      case 'mo':
        d.months += n;
        break;
      case 'w':
        d.days += 7 * n;
        break;
      case 'd':
        d.days += n;
        break;
      case 'h':
        d.ms += n * HOUR_MS;
        break;
      case 'min':
        d.ms += n * 60_000;
        break;
      case 's':
        d.ms += n * 1000;
        break;
      case 'ms':
        d.ms += n;
        break;
      case 'm':
        throw new UsageError(`${flag} "${text}": "m" is ambiguous`, { hint: `write ${n}min for minutes or ${n}mo for months` });
    }
    consumed = re.lastIndex;
    any = true;
  }
  if (!any || consumed !== t.length) {
    throw new UsageError(`${flag} "${text}" is not a duration`, {
      hint: 'e.g. 7d, 36h, 2w, 6mo, 1y, 90min, 30s (units can be combined: 1d12h)',
    });
  }
  return d;
}

/** A duration of fixed length (no years or months), in milliseconds. */
export function parseFixedDuration(text: string, flag: string): number {
  const d = parseRetentionDuration(text, flag);
  if (d.years !== 0 || d.months !== 0) throw new UsageError(`${flag} "${text}": give days or less (w, d, h, min, s, ms)`);
  return d.days * DAY_MS + d.ms;
}

/** `t` minus the duration, months and years by the UTC calendar. */
export function subtractDuration(t: number, d: RetentionDuration): number {
  const date = new Date(t);
  if (d.years !== 0 || d.months !== 0) date.setUTCMonth(date.getUTCMonth() - d.months - 12 * d.years);
  return date.getTime() - d.days * DAY_MS - d.ms;
}

/** An age as messages print it: `3d4h`, `2h05m`, `4m09s`, `12s`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}
