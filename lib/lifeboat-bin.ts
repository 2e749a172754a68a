/**
 * This checkout's `bin/lifeboat.js`, found from the running module (sources or dist/). PostgreSQL
 * runs it as archive_command and restore_command, so it is referenced by absolute path.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PrerequisiteMissing } from './errors';

export function findLifeboatBin(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'bin', 'lifeboat.js'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new PrerequisiteMissing(`cannot find bin/lifeboat.js above ${from}`, 'run the worker from a Lifeboat checkout or install');
    dir = parent;
  }
  return join(dir, 'bin', 'lifeboat.js');
}

/**
 * archive_command for a cluster whose WAL goes into `archiveDir`: Lifeboat's own `wal archive`
 * (durable, never overwrites a different segment). It runs as `postgres`, which cannot read the
 * worker's configuration, so the archive directory is passed on the command line.
 */
export function walArchiveCommand(archiveDir: string): string {
  const q = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;
  return `${q(process.execPath)} ${q(findLifeboatBin())} wal archive --archive-dir ${q(archiveDir)} %p %f`;
}
