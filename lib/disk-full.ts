/**
 * Disk-full errors that say where and how much: an ENOSPC (or EDQUOT) from a write becomes DiskFull
 * naming the path and the space left on its file system. Node reports the path for open/mkdir but
 * not for write(), so callers that know the file pass it.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { DiskFull } from './errors';

const CODES = new Set(['ENOSPC', 'EDQUOT']);

/** The ENOSPC/EDQUOT error in `error` or its causes, if any. */
function findDiskFull(error: unknown): NodeJS.ErrnoException | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (CODES.has((e as NodeJS.ErrnoException).code ?? '')) return e as NodeJS.ErrnoException;
  }
  return undefined;
}

function binary(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Free and total bytes of the file system holding `path` (its nearest existing ancestor). */
export function freeSpace(path: string): { free: number; total: number; at: string } | undefined {
  for (let at = path; ; at = dirname(at)) {
    try {
      const fs = statfsSync(at);
      return { free: fs.bavail * fs.bsize, total: fs.blocks * fs.bsize, at };
    } catch {
      if (dirname(at) === at) return undefined;
    }
  }
}

/**
 * DiskFull for an ENOSPC/EDQUOT in `error` (or its causes), naming the path (the error's own, else
 * `knownPath`) and the free space there. When neither names a path, `likelyDir` (e.g. BACKUP_ROOT)
 * is reported as the likely place, saying so. Undefined for any other error, or when nothing names a
 * place. An error that already is DiskFull is returned as it is.
 */
export function diskFullError(error: unknown, knownPath?: string, likelyDir?: string): DiskFull | undefined {
  if (error instanceof DiskFull) return error;
  const found = findDiskFull(error);
  if (!found) return undefined;
  const path = found.path ?? knownPath;
  const place = path ?? likelyDir;
  if (!place) return undefined;
  const space = freeSpace(place);
  const what = found.code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device';
  const free = space ? `${binary(space.free)} free of ${binary(space.total)} on the file system of ${space.at}` : 'free space unknown';
  const message = path
    ? `${what} writing ${path} (${found.syscall ?? 'write'}): ${free}`
    : `${what} (${found.syscall ?? 'write'}; the system did not name the file, most likely under ${likelyDir}): ${free}`;
  return new DiskFull(message, 'free space on that file system (lifeboat prune, remove old files) or move the directory to a larger disk; the step is retried', { cause: error });
}
