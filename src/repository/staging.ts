// Where a backup run stages its files before they are packed and stored: a directory in the temp
// directory named for the run, with its owner (host and pid) inside, so that a later run removes what
// a killed one (SIGKILL, so it never cleaned up) left behind.
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

const STAGING_PREFIX = 'zkvault-staging-';
const PREP_PREFIX = 'zkvault-prep-';
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
    const dir = path.join(tempDir, name);
    if (name.startsWith(PREP_PREFIX)) {
      // Never used for data: a run killed before it renamed it. An hour is ample for a live run's rename.
      const st = await stat(dir).catch(() => null);
      if (st?.isDirectory() && Date.now() - st.mtimeMs > 3_600_000) await rm(dir, { recursive: true, force: true }).catch(() => {});
      continue;
    }
    if (!name.startsWith(STAGING_PREFIX)) continue;
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
  // Made under another name and renamed once its owner is written, so that a staging directory never
  // exists without one (a run killed in between leaves an empty `zkvault-prep-` directory at most).
  const prep = await mkdtemp(path.join(tempDir, `${PREP_PREFIX}${id}-`));
  await writeFile(path.join(prep, STAGING_OWNER), JSON.stringify({ host: owner.host, pid: owner.pid }));
  const dir = path.join(tempDir, STAGING_PREFIX + path.basename(prep).slice(PREP_PREFIX.length));
  await rename(prep, dir);
  return dir;
}
