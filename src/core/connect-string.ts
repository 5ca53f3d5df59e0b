// ZooKeeper connect strings: `host[:port][,host[:port]…][/chroot]`, parsed once, with the default port
// filled in, and a normalised form (hosts sorted) so that `h` and `h:2181` name one ensemble.
import { UsageError } from '../errors.js';
import { znodePathProblem } from './znode-path.js';

export interface ConnectString {
  /** `host:port`, in the order given. */
  hosts: string[];
  /** '' for none. */
  chroot: string;
}

/**
 * Splits `h1:2181,h2/app` into hosts (with the default port 2181 filled in) and the chroot ('' for
 * none): the chroot starts at the first '/'; a lone trailing '/' is no chroot.
 */
export function parseConnectString(s: string): ConnectString {
  const text = s.trim();
  if (text === '') throw new UsageError('the ZooKeeper connect string is empty', { hint: 'e.g. --zk 127.0.0.1:2181' });
  const slash = text.indexOf('/');
  const hostPart = slash === -1 ? text : text.slice(0, slash);
  const chroot = slash === -1 || slash === text.length - 1 ? '' : text.slice(slash);
  if (chroot !== '') {
    const problem = znodePathProblem(chroot);
    if (problem !== undefined) throw new UsageError(`connect string "${s}": chroot ${problem}`);
  }
  const hosts = hostPart
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '')
    .map((h) => {
      if (h.startsWith('[') || (h.match(/:/g) ?? []).length > 1)
        throw new UsageError(`connect string "${s}": IPv6 address "${h}" is not supported`, {
          hint: 'zkvault does not take IPv6 literals in connect strings; use a host name',
        });
      const [host, port] = h.split(':');
      if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) throw new UsageError(`connect string "${s}": "${h}" has no valid port`);
      return `${host}:${port ?? '2181'}`;
    });
  if (hosts.length === 0) throw new UsageError(`connect string "${s}" names no server`, { hint: 'e.g. --zk 127.0.0.1:2181' });
  return { hosts, chroot };
}

/** One spelling per ensemble: hosts with their ports, lower-cased and sorted, then the chroot. */
export function normalizeConnectString(s: string): string {
  const { hosts, chroot } = parseConnectString(s);
  return [...new Set(hosts.map((h) => h.toLowerCase()))].sort().join(',') + chroot;
}

/** Sessions a logical backup reads with by default: one per server of the connect string, up to this many. */
export const DEFAULT_MAX_SESSIONS = 3;
