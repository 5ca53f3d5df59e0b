// `--auth SCHEME:CREDENTIALS` entries, as a session adds them (ZooKeeper's addauth) on every connect.
import { UsageError } from '../errors.js';

export interface ParsedAuth {
  scheme: string;
  credentials: Buffer;
}

export function parseAuth(auth: string[]): ParsedAuth[] {
  return auth.map((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1)
      // The entry itself may be a secret: name it by position only.
      throw new UsageError(`--auth #${i + 1} is not SCHEME:CREDENTIALS`, { hint: 'e.g. --auth digest:alice:secret' });
    return { scheme: entry.slice(0, colon), credentials: Buffer.from(entry.slice(colon + 1), 'utf8') };
  });
}
