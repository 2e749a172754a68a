/**
 * The archive_command / restore_command contract for the local WAL archive.
 *
 * archive: check that %p is what %f claims (a segment: exactly the segment size its own long page
 * header gives, a known WAL page magic, the timeline and address of its name; a `.history` or
 * `.backup` file: short text), then copy it to $BACKUP_ROOT/wal-archive/%f durably (temp file, fsync,
 * link into place, fsync directory). Success only when the file is safely there. An identical file already archived is
 * success (PostgreSQL retries after crashes); a different file under the same name is a loud failure
 * and the archived one is never overwritten.
 * fetch (local part): copy an archived file to the path PostgreSQL asked for.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { WAL_FILE_PATTERN } from '../catalog/names';
import { diskFullError } from '../disk-full';
import { ConflictingArtifact, InputInvalid } from '../errors';
import { commitFile, commitFileNoReplace, tempPathFor } from '../pipeline/atomic-file';
import { WAL_LONG_HEADER_BYTES, WAL_TEXT_FILE_MAX_BYTES, walFileKind, walSegmentProblem, walTextFileProblem } from './segment';

export type ArchiveOutcome = 'archived' | 'already-archived';

export function checkWalName(name: string): void {
  if (!WAL_FILE_PATTERN.test(name)) {
    throw new InputInvalid('%f', `"${name}" is not a WAL file name`, 'archive_command must pass %p %f, restore_command %f %p');
  }
}

/** Refuse a source that is not the WAL file its name says (read-only: the first bytes, or a text file). */
export async function checkWalContent(source: string, name: string, size: number): Promise<void> {
  const kind = walFileKind(name);
  const text = kind === 'history' || kind === 'backup';
  const handle = await open(source, 'r');
  let head: Buffer;
  try {
    const want = text ? Math.min(size, WAL_TEXT_FILE_MAX_BYTES) : WAL_LONG_HEADER_BYTES;
    const buffer = Buffer.alloc(want);
    const { bytesRead } = await handle.read(buffer, 0, want, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const problem = text ? walTextFileProblem(name, head, size) : walSegmentProblem(name, head, size);
  if (problem) {
    throw new InputInvalid(
      '%p',
      `${source} ${problem}; refusing to archive it as ${name}`,
      kind === 'segment' || kind === 'partial'
        ? 'archive_command must pass %p %f of a WAL segment PostgreSQL wrote (pg_wal/<segment>); a truncated or foreign file must never enter the archive'
        : 'archive_command must pass %p %f exactly as PostgreSQL gives them',
    );
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function archiveWalFile(sourcePath: string, name: string, archiveDir: string, cwd = process.cwd()): Promise<ArchiveOutcome> {
  checkWalName(name);
  const source = isAbsolute(sourcePath) ? sourcePath : resolve(cwd, sourcePath);
  const info = await stat(source).catch(() => undefined);
  if (!info?.isFile()) throw new InputInvalid('%p', `source ${source} does not exist`, 'archive_command must pass %p (path relative to the data directory)');
  await checkWalContent(source, name, info.size);
  await mkdir(archiveDir, { recursive: true }).catch((error: unknown) => {
    throw diskFullError(error, archiveDir) ?? error;
  });
  const target = join(archiveDir, name);

  const compareExisting = async (): Promise<ArchiveOutcome> => {
    const [a, b] = await Promise.all([sha256File(source), sha256File(target)]);
    if (a === b) return 'already-archived';
    throw new ConflictingArtifact(
      `${target} already exists with different content (sha256 ${b.slice(0, 16)}..., new ${a.slice(0, 16)}...); refusing to overwrite`,
      'two clusters may be archiving into the same directory, or the archive was restored from elsewhere: investigate before removing anything',
    );
  };

  if (await stat(target).catch(() => undefined)) return compareExisting();
  const temp = tempPathFor(target);
  try {
    await pipeline(createReadStream(source, { highWaterMark: 1 << 20 }), createWriteStream(temp, { mode: 0o640 }));
    if (commitFileNoReplace(temp, target)) return 'archived';
  } catch (error) {
    const full = diskFullError(error, target); // the free space as it was, before the temp file goes
    await rm(temp, { force: true });
    throw full ?? error;
  }
  // Lost a race with a concurrent archiver of the same file: the same rules apply.
  return compareExisting();
}

/** Copy `name` from the local archive to `destination`; false when the archive does not have it. */
export async function fetchWalLocal(name: string, archiveDir: string, destination: string, cwd = process.cwd()): Promise<boolean> {
  checkWalName(name);
  const source = join(archiveDir, name);
  if (!(await stat(source).catch(() => undefined))) return false;
  const target = isAbsolute(destination) ? destination : resolve(cwd, destination);
  const temp = tempPathFor(target);
  try {
    await pipeline(createReadStream(source, { highWaterMark: 1 << 20 }), createWriteStream(temp, { mode: 0o600 }));
    commitFile(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return true;
}
