/**
 * The programs PostgreSQL runs as archive_command and restore_command, referenced by absolute path:
 * this checkout's `bin/lifeboat.js` (found from the running module, sources or dist/), and the
 * compiled archive_command built from `tools/wal-archive` (client/stack/tools.ts builds it).
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PrerequisiteMissing } from './errors';
import { defaultToolsDir } from './servers/binaries';

export function findLifeboatBin(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'bin', 'lifeboat.js'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new PrerequisiteMissing(`cannot find bin/lifeboat.js above ${from}`, 'run the worker from a Lifeboat checkout or install');
    dir = parent;
  }
  return join(dir, 'bin', 'lifeboat.js');
}

/** The Go source of the compiled archive_command in this checkout. */
export function walArchiverSourceDir(): string {
  return join(dirname(dirname(findLifeboatBin())), 'tools', 'wal-archive');
}

/**
 * The compiled archive_command's file name for the source in `sourceDir`:
 * `lifeboat-wal-archive-<12 hex digits of a SHA-256 over go.mod and the non-test .go files>`, so a
 * changed source is a new binary (built once) and a built one is never stale. Undefined when the
 * source is not there (an install without tools/).
 */
export function walArchiverBinaryName(sourceDir?: string): string | undefined {
  let files: string[];
  let dir: string;
  try {
    dir = sourceDir ?? walArchiverSourceDir();
    files = readdirSync(dir).filter((f) => f === 'go.mod' || (f.endsWith('.go') && !f.endsWith('_test.go'))).sort();
  } catch {
    return undefined;
  }
  if (!files.includes('go.mod')) return undefined;
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(dir, file))).update('\0');
  return `lifeboat-wal-archive-${hash.digest('hex').slice(0, 12)}`;
}

/** Root-owned programs that other OS users (postgres) run: outside any clone and any home. */
export const SHARED_TOOLS_DIR = '/usr/local/lib/lifeboat';

/**
 * Where the compiled archive_command lives for the clusters of this machine. As root the cluster
 * runs as `postgres`, which cannot traverse /root (0700) to the tool cache, so a root-owned copy
 * (mode 0755: postgres runs it and cannot replace it) goes into /usr/local/lib/lifeboat, shared by
 * every stack and by a re-protected primary; otherwise the cluster runs as ourselves and the tool
 * cache ($LIFEBOAT_TOOLS_DIR, ~/.cache/lifeboat/bin) is the place.
 */
export function walArchiverDir(env: NodeJS.ProcessEnv = process.env): string {
  return process.getuid?.() === 0 ? SHARED_TOOLS_DIR : defaultToolsDir(env);
}

/** The built compiled archive_command of this checkout's source, or undefined when it is not built. */
export function findWalArchiver(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = walArchiverBinaryName();
  if (!name) return undefined;
  const path = join(walArchiverDir(env), name);
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

const quote = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * archive_command for a cluster whose WAL goes into `archiveDir`: Lifeboat's own `wal archive`
 * (checked, durable, never overwrites a different file). It runs as `postgres`, which cannot read
 * the worker's configuration, so the archive directory is passed on the command line.
 *
 * The compiled one (tools/wal-archive: about the CPU of `cp` + `sync` for the same 16 MB segment,
 * bench/wal-archive.js) when `lifeboat tools ensure` / `stack up` has built it for this checkout's
 * source; otherwise, as a fallback, the Node verb `node bin/lifeboat.js wal archive` (~0.2 s of CPU
 * per segment, for starting Node), which obeys the same contract. Both take the same arguments, so
 * the command reads the same either way.
 */
export function walArchiveCommand(archiveDir: string): string {
  const compiled = findWalArchiver();
  const program = compiled ? quote(compiled) : `${quote(process.execPath)} ${quote(findLifeboatBin())}`;
  return `${program} wal archive --archive-dir ${quote(archiveDir)} %p %f`;
}
