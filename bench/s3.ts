// `node dist/bench/s3.js [MB]`: memory of a backup into S3. A child process commits one archive of
// ≥ 500 MB (default 520 MB of random bytes, one member) through the repository to s3:// on s3rver
// (started in this process), and its peak RSS is measured; the same into a local directory is the
// baseline. The archive streams in 8 MiB parts, 4 in flight: the target is a peak RSS under 200 MB.
//   node dist/bench/s3.js           # 520 MB
//   node dist/bench/s3.js 2048      # a 2 GB archive
// `node dist/bench/s3.js commit LOCATION FILE` is the child: one backup of FILE into LOCATION.
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, linkSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureProcess, fmtMB, MB } from './measure.js';

const here = fileURLToPath(import.meta.url);

async function commitChild(location: string, file: string): Promise<void> {
  const { openRepository } = await import('../src/repository/repository.js');
  const repo = await openRepository(location, { create: true, warn: (m) => process.stderr.write(`warning: ${m}\n`) });
  const writer = await repo.beginBackup('physical');
  const staged = join(writer.stagingDir, 'snapshot.1');
  try {
    linkSync(file, staged); // the bench measures the upload, not a copy into staging
  } catch {
    copyFileSync(file, staged);
  }
  const size = statSync(file).size;
  await writer.addMember('snapshot.1', 'snapshot', { zxid: '0x1' });
  const m = await writer.commit({
    kind: 'physical',
    createdAt: new Date().toISOString(),
    source: { dataDir: '/bench', host: 'bench' },
    zxid: { from: '0x1', to: '0x1' },
    partial: false,
    unreadable: [],
    counts: { nodes: 1, persistent: 1, ephemeral: 0, container: 0, ttl: 0, dataBytes: size },
  });
  process.stdout.write(`id=${m.id} archiveBytes=${m.archive?.size} peakRssBytes=${process.resourceUsage().maxRSS * 1024}\n`);
}

async function main(): Promise<void> {
  const sizeMb = Number(process.argv[2] ?? '520');
  if (!Number.isFinite(sizeMb) || sizeMb < 1) throw new Error(`not a size in MB: ${process.argv[2]}`);
  const { makeTempDir, removeTempDir } = await import('../test/support/tmp.js');
  const { startS3Server } = await import('../test/support/s3-server.js');
  const work = await makeTempDir('zkvault-bench-s3-');
  const file = join(work, 'member.bin');
  const fd = openSync(file, 'w');
  for (let left = sizeMb * MB; left > 0; left -= MB) writeSync(fd, randomBytes(Math.min(MB, left)));
  closeSync(fd);

  const server = await startS3Server({ bucket: 'bench' });
  Object.assign(process.env, server.env, server.zkvaultEnv);
  try {
    console.log(`## backup of a ${fmtMB(sizeMb * MB)} archive (one member) through the repository`);
    const s3 = await measureProcess(process.execPath, [here, 'commit', `s3://${server.bucket}/bench`, file]);
    if (s3.code !== 0) throw new Error(`the S3 backup failed (exit ${s3.code}): ${s3.stderr}`);
    const local = await measureProcess(process.execPath, [here, 'commit', join(work, 'repo'), file]);
    if (local.code !== 0) throw new Error(`the local backup failed (exit ${local.code}): ${local.stderr}`);
    const archive = Number(/archiveBytes=(\d+)/.exec(s3.stdout)?.[1]);
    const row = (name: string, m: typeof s3) =>
      `${name.padEnd(22)} ${(m.wallMs / 1000).toFixed(1).padStart(6)} s  ${(archive / MB / (m.wallMs / 1000)).toFixed(0).padStart(4)} MB/s  peak RSS ${fmtMB(m.peakRssBytes)}`;
    console.log(row('s3:// (s3rver)', s3));
    console.log(row('local directory', local));
    const verdict = s3.peakRssBytes < 200 * MB ? 'under' : 'OVER';
    console.log(`archive ${fmtMB(archive)}; S3 peak RSS ${fmtMB(s3.peakRssBytes)}: ${verdict} the 200 MB target`);
    if (s3.stderr.trim()) console.log(`(the S3 run said: ${s3.stderr.trim()})`);
  } finally {
    await server.stop();
    await removeTempDir(work);
  }
}

if (process.argv[2] === 'commit') await commitChild(process.argv[3], process.argv[4]);
else await main();
