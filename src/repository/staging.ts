// Where a backup run stages its files before they are packed and stored: a directory in the temp
// directory named for the run, with its owner (host and pid) inside, so that a later run removes what
// a killed one (SIGKILL, so it never cleaned up) left behind.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

const STAGING_PREFIX = 'zkvault-staging-';
/** Names the run a staging directory belongs to, so that a later run can remove it once that run is gone. */
const STAGING_OWNER = '.zkvault-owner.json';

/**
 * Removes staging directories (under `tempDir`) of backup runs on this host that are gone (killed
 * with SIGKILL, so they never cleaned up); directories of older zkvaults, with no owner recorded, once
 * a day old.
 */
async function removeDeadStaging(
  tempDir: string,
  host: string,
  isAlive: (pid: number) => boolean,
  warn: (m: string) => void,
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(tempDir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const dir = path.join(tempDir, name);
    let dead: boolean;
    try {
      const owner = JSON.parse(await readFile(path.join(dir, STAGING_OWNER), 'utf8')) as { host?: unknown; pid?: unknown };
      dead = owner.host === host && typeof owner.pid === 'number' && !isAlive(owner.pid);
    } catch {
      const st = await stat(dir).catch(() => null);
      dead = st !== null && st.isDirectory() && Date.now() - st.mtimeMs > 24 * 3_600_000;
    }
    if (!dead) continue;
    await rm(dir, { recursive: true, force: true }).then(
      () => warn(`removed ${dir}, left by a backup run that was killed`),
      () => {},
    );
  }
}

/**
 * A new staging directory for backup `id` under `tempDir`, after removing those of this host's runs
 * that are gone.
 */
export async function makeStagingDir(
  tempDir: string,
  id: string,
  owner: { host: string; pid: number; isAlive: (pid: number) => boolean; warn: (m: string) => void },
): Promise<string> {
  await removeDeadStaging(tempDir, owner.host, owner.isAlive, owner.warn);
  const dir = await mkdtemp(path.join(tempDir, `${STAGING_PREFIX}${id}-`));
  await writeFile(path.join(dir, STAGING_OWNER), JSON.stringify({ host: owner.host, pid: owner.pid }));
  return dir;
}
