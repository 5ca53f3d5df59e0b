// Locations made safe to print: credentials and signatures never reach a message or a log.
export const URL_LIKE = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * A location string safe to print: URL user info (access keys, passwords) becomes `***`, every query
 * value becomes `***` (presigned signatures, tokens), fragments are dropped. Plain paths are returned
 * unchanged. Works on strings that do not parse as URLs too.
 */
export function redactLocation(location: string): string {
  if (!URL_LIKE.test(location)) return location;
  try {
    const url = new URL(location);
    if (url.username !== '' || url.password !== '') {
      url.username = '***';
      url.password = '';
    }
    const keys = [...new Set(url.searchParams.keys())];
    for (const key of keys) url.searchParams.set(key, '***');
    url.hash = '';
    // URLSearchParams percent-encodes `*`; keep the mask readable.
    return url.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return location
      .replace(/(:\/\/)[^/?#]*@/, '$1***@')
      .replace(/([?&][^=&#\s]*=)[^&#\s]*/g, '$1***')
      .replace(/#.*$/, '');
  }
}
