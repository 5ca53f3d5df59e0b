// Four-letter words (`srvr`, `mntr`, …): a server's state over plain TCP, outside any session.
import net from 'node:net';
import { CancelledError, ConnectionError, UsageError, UserError } from '../errors.js';
import { connectHint } from './errors.js';

/**
 * Sends a four-letter word to one server (`host:port`) over plain TCP and returns its whole answer.
 * Servers answer only the words in their 4lw.commands.whitelist (by default just `srvr`).
 */
export function fourLetterWord(
  hostPort: string,
  word: 'srvr' | 'stat' | 'mntr' | 'ruok' | 'conf' | 'cons' | 'dump' | 'envi',
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<string> {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(hostPort) ?? /^([^:/,]+):(\d{1,5})$/.exec(hostPort);
  if (!m) throw new UsageError(`"${hostPort}" is not HOST:PORT`);
  const hostText = hostPort;
  const host = m[1];
  const port = Number(m[2]);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise<string>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new CancelledError());
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) return reject(error);
      const text = Buffer.concat(chunks).toString('utf8');
      if (/is not executed because it is not in the whitelist/.test(text))
        return reject(
          new UserError(`ZooKeeper at ${hostText} refuses the four-letter word "${word}"`, {
            hint: `add ${word} to 4lw.commands.whitelist in the server's zoo.cfg`,
          }),
        );
      resolve(text);
    };
    const onAbort = () => finish(new CancelledError());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () =>
        finish(
          new ConnectionError(`ZooKeeper at ${hostText} did not answer "${word}" within ${timeoutMs} ms`, { hint: connectHint(hostText) }),
        ),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (error) =>
      finish(new ConnectionError(`cannot reach ZooKeeper at ${hostText}: ${error.message}`, { hint: connectHint(hostText), cause: error })),
    );
  });
}

/** The `Zxid: 0x…` line of a `srvr` or `stat` answer: the last zxid the server applied. */
export function parseSrvrZxid(text: string): bigint {
  const m = /^Zxid:\s*(0x[0-9a-fA-F]+)\s*$/m.exec(text);
  if (!m) throw new UserError('the ZooKeeper server did not report its zxid (no "Zxid:" line in its srvr answer)');
  return BigInt.asIntN(64, BigInt(m[1]));
}

/** The last zxid one server (`host:port`) has applied, from its `srvr` answer. */
export async function serverZxid(hostPort: string, opts: { signal?: AbortSignal } = {}): Promise<bigint> {
  return parseSrvrZxid(await fourLetterWord(hostPort, 'srvr', opts));
}
