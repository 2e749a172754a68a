/**
 * Durable, atomic file creation: write to a hidden temporary file in the same directory, fsync it,
 * rename it into place, fsync the directory. A reader (or a crash) sees the whole file or none of it.
 * Temporary names start with `.` and end with `.partial`, so listings ignore them and a later run
 * can sweep them.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.partial`);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Move a finished temp file into place (replacing), durably. */
export function commitFile(temp: string, target: string): void {
  fsyncFile(temp);
  renameSync(temp, target);
  fsyncDir(dirname(target));
}

/**
 * Move a finished temp file into place only if `target` does not exist (link(2) refuses to
 * overwrite), durably. Returns false when the target already existed (temp is removed either way).
 */
export function commitFileNoReplace(temp: string, target: string): boolean {
  fsyncFile(temp);
  try {
    linkSync(temp, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  fsyncDir(dirname(target));
  return true;
}

/** Write a small file (metadata) atomically and durably. */
export function writeFileAtomic(target: string, content: string | Buffer, mode = 0o644): void {
  const temp = tempPathFor(target);
  writeFileSync(temp, content, { mode });
  commitFile(temp, target);
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Remove temp files (`.*.partial`) older than `minAgeMs` left behind by killed runs. */
export async function sweepPartials(dir: string, minAgeMs: number): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith('.') || !name.endsWith('.partial')) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs >= minAgeMs) {
      await rm(path, { force: true });
      removed.push(name);
    }
  }
  return removed;
}

