/**
 * Measuring the RPO exposure on the backup host (see rpo.ts for the definition): the newest shipped
 * segment from the off-site listing, its archive time from the local archive (the file's mtime, set
 * when `wal archive` wrote it) or, once pruned locally, from when its metadata object was written.
 *
 * "Newest shipped" is honest about segments shipped out of order (shipping runs several uploads at
 * once): a segment counts only when no older segment of the local archive is still unshipped.
 *
 * When the off-site store does not answer, the exposure still grows and must still be reported:
 * every successful measurement records the newest shipped segment in
 * `$BACKUP_ROOT/metrics/wal-offsite-cursor.json`, and `readRpoExposureOrLastKnown` falls back to
 * it (what was off-site then is off-site now, barring pruning; the figure can only overstate).
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Config } from '../config/load';
import { writeFileAtomic } from '../pipeline/atomic-file';
import { withPg } from '../postgres/connection';
import { scrubSecrets } from '../secrets';
import { archivedSegmentSize, listRemoteWal, localWalFiles } from '../catalog/wal';
import type { Store } from '../storage/store';
import { measureExposure, type RpoExposure } from './rpo';

const SEGMENT = /^[0-9A-F]{24}$/;

const TIMELINE_HISTORY = /^[0-9A-F]{8}\.history$/;

/**
 * The newest segment in `shipped` (names with a metadata object off-site) that has no unshipped
 * predecessor in the local archive `local` (sorted names): neither an older segment nor the history
 * file of its timeline. Undefined when there is none. Pure; exported for tests.
 */
export function newestContiguousShipped(shipped: ReadonlySet<string>, local: readonly string[]): string | undefined {
  const firstPending = local.find((n) => (SEGMENT.test(n) || TIMELINE_HISTORY.test(n)) && !shipped.has(n));
  let newest: string | undefined;
  for (const name of shipped) {
    if (SEGMENT.test(name) && (firstPending === undefined || name < firstPending) && (newest === undefined || name > newest)) newest = name;
  }
  return newest;
}

export async function readRpoExposure(archiveDir: string, remote: Store, rpoTargetSeconds: number, currentLsn?: string, now = new Date()): Promise<RpoExposure> {
  const local = await localWalFiles(archiveDir);
  const shipped = new Map<string, Date>();
  for await (const record of listRemoteWal(remote)) shipped.set(record.name, record.modified);
  const newest = newestContiguousShipped(new Set(shipped.keys()), local);
  const mtime = async (name: string): Promise<string | undefined> => (await stat(join(archiveDir, name)).catch(() => undefined))?.mtime.toISOString();
  const firstLocal = local.find((n) => SEGMENT.test(n));
  return measureExposure({
    now: now.toISOString(),
    rpoTargetSeconds,
    newestShipped: newest ? { name: newest, archivedAt: (await mtime(newest)) ?? shipped.get(newest)!.toISOString() } : undefined,
    oldestLocalArchivedAt: firstLocal ? await mtime(firstLocal) : undefined,
    currentLsn,
    segmentSize: await archivedSegmentSize(archiveDir, local),
  });
}

/** Where the newest shipped segment of the last successful measurement is kept. */
export function offsiteCursorPath(backupRoot: string): string {
  return join(backupRoot, 'metrics', 'wal-offsite-cursor.json');
}

interface OffsiteCursor {
  name: string;
  archivedAt: string;
  listedAt: string;
}

/**
 * The exposure, and when the off-site store cannot be listed, the exposure from the newest shipped
 * segment the last successful listing found (`offsiteUnreachable` says why). Throws only when the
 * store does not answer and no listing ever succeeded on this host.
 */
export async function readRpoExposureOrLastKnown(
  backupRoot: string, archiveDir: string, remote: Store, rpoTargetSeconds: number, options: { currentLsn?: string; secretValues?: readonly string[]; now?: Date } = {},
): Promise<RpoExposure> {
  const now = options.now ?? new Date();
  const cursorPath = offsiteCursorPath(backupRoot);
  let exposure: RpoExposure;
  try {
    exposure = await readRpoExposure(archiveDir, remote, rpoTargetSeconds, options.currentLsn, now);
  } catch (error) {
    const cursor = await readFile(cursorPath, 'utf8').then((t) => JSON.parse(t) as OffsiteCursor).catch(() => undefined);
    if (!cursor?.name || !cursor.archivedAt) throw error;
    const reason = scrubSecrets(error instanceof Error ? error.message : String(error), options.secretValues ?? []);
    const local = await localWalFiles(archiveDir);
    return {
      ...measureExposure({ now: now.toISOString(), rpoTargetSeconds, newestShipped: { name: cursor.name, archivedAt: cursor.archivedAt }, currentLsn: options.currentLsn, segmentSize: await archivedSegmentSize(archiveDir, local) }),
      offsiteUnreachable: reason,
    };
  }
  if (exposure.newestShipped && exposure.newestShippedArchivedAt) {
    const cursor: OffsiteCursor = { name: exposure.newestShipped, archivedAt: exposure.newestShippedArchivedAt, listedAt: now.toISOString() };
    await mkdir(dirname(cursorPath), { recursive: true });
    writeFileAtomic(cursorPath, `${JSON.stringify(cursor, null, 2)}\n`);
  }
  return exposure;
}

/** pg_current_wal_lsn() of the database, or undefined when it does not answer (the exposure then stays time-based). */
export async function currentWalLsn(db: Config['db']): Promise<string | undefined> {
  return withPg(db, async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn).catch(() => undefined);
}
