/**
 * Stale temp files: every file Lifeboat writes goes through a hidden `.<name>.<hex>.partial` temp
 * file next to its target (lib/pipeline/atomic-file.ts), renamed into place when complete. A killed
 * run leaves its temp file behind; nothing lists it (hidden), so nothing else would ever remove it.
 * Prune finds them under every folder Lifeboat writes into (BACKUP_ROOT's tiers, base/, config/,
 * wal-archive/, audit/, metrics/, logs/, the restore cache, MINIO_BACKUP_ROOT/snapshots, ...) and
 * removes those untouched for longer than any activity may run, so a live writer's file is never hit.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sweepPartials } from '../pipeline/atomic-file';

export interface StalePartial {
  /** Absolute path of the temp file. */
  path: string;
  bytes: number;
  /** Seconds since it was last written. */
  ageSeconds: number;
}

/** The names atomic-file writes (and its sweepPartials removes): hidden, ending in `.partial`. */
export function isPartialName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.partial');
}

/** Deep enough for base/<stamp>/, audit/<date>/..., .restore-cache/<tier>/; a guard against odd trees. */
const MAX_DEPTH = 6;

async function* directories(dir: string, depth = 0): AsyncGenerator<{ dir: string; entries: Dirent[] }> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return; // missing or unreadable: nothing of ours to sweep there
  }
  // A PostgreSQL data directory (a PITR or scratch cluster someone put here) is not ours to touch.
  if (entries.some((e) => e.name === 'PG_VERSION')) return;
  yield { dir, entries };
  if (depth >= MAX_DEPTH) return;
  for (const e of entries) {
    // Symbolic links are not followed (isDirectory() is false for them).
    if (e.isDirectory()) yield* directories(join(dir, e.name), depth + 1);
  }
}

/** Distinct roots, dropping any that lies inside another (walked once). */
function distinctRoots(roots: string[]): string[] {
  const all = [...new Set(roots.map((r) => resolve(r)))].sort();
  return all.filter((r) => !all.some((o) => o !== r && r.startsWith(`${o}/`)));
}

/** Every `.partial` temp file under `roots` not written for at least `minAgeMs`, oldest first. */
export async function findStalePartials(roots: string[], minAgeMs: number, now = Date.now()): Promise<StalePartial[]> {
  const found: StalePartial[] = [];
  for (const root of distinctRoots(roots)) {
    for await (const { dir, entries } of directories(root)) {
      for (const e of entries) {
        if (!e.isFile() || !isPartialName(e.name)) continue;
        const path = join(dir, e.name);
        const info = await stat(path).catch(() => undefined);
        if (!info || now - info.mtimeMs < minAgeMs) continue;
        found.push({ path, bytes: info.size, ageSeconds: Math.round((now - info.mtimeMs) / 1000) });
      }
    }
  }
  return found.sort((a, b) => b.ageSeconds - a.ageSeconds || a.path.localeCompare(b.path));
}

/**
 * Remove the stale temp files under `roots` (or only list them when `dryRun`). The removal itself
 * is atomic-file's `sweepPartials`, per folder, which checks the age again right before removing.
 */
export async function sweepStalePartials(roots: string[], minAgeMs: number, dryRun: boolean): Promise<StalePartial[]> {
  const stale = await findStalePartials(roots, minAgeMs);
  if (dryRun) return stale;
  const byPath = new Map(stale.map((p) => [p.path, p]));
  const removed: StalePartial[] = [];
  for (const dir of [...new Set(stale.map((p) => join(p.path, '..')))]) {
    for (const name of await sweepPartials(dir, minAgeMs)) {
      const path = join(dir, name);
      removed.push(byPath.get(path) ?? { path, bytes: 0, ageSeconds: Math.round(minAgeMs / 1000) });
    }
  }
  return removed;
}
