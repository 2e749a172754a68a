/**
 * Measuring the RPO exposure on the backup host (see rpo.ts for the definition): the newest shipped
 * segment from the off-site listing, its archive time from the local archive (the file's mtime, set
 * when `wal archive` wrote it) or, once pruned locally, from when its metadata object was written.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/load';
import { withPg } from '../postgres/connection';
import { archivedSegmentSize, listRemoteWal, localWalFiles } from '../catalog/wal';
import type { Store } from '../storage/store';
import { measureExposure, type RpoExposure } from './rpo';

const SEGMENT = /^[0-9A-F]{24}$/;

export async function readRpoExposure(archiveDir: string, remote: Store, rpoTargetSeconds: number, currentLsn?: string, now = new Date()): Promise<RpoExposure> {
  const local = await localWalFiles(archiveDir);
  let newest: { name: string; modified: Date } | undefined;
  for await (const record of listRemoteWal(remote)) {
    if (SEGMENT.test(record.name) && (!newest || record.name > newest.name)) newest = { name: record.name, modified: record.modified };
  }
  const mtime = async (name: string): Promise<string | undefined> => (await stat(join(archiveDir, name)).catch(() => undefined))?.mtime.toISOString();
  const firstLocal = local.find((n) => SEGMENT.test(n));
  return measureExposure({
    now: now.toISOString(),
    rpoTargetSeconds,
    newestShipped: newest ? { name: newest.name, archivedAt: (await mtime(newest.name)) ?? newest.modified.toISOString() } : undefined,
    oldestLocalArchivedAt: firstLocal ? await mtime(firstLocal) : undefined,
    currentLsn,
    segmentSize: await archivedSegmentSize(archiveDir, local),
  });
}

/** pg_current_wal_lsn() of the database, or undefined when it does not answer (the exposure then stays time-based). */
export async function currentWalLsn(db: Config['db']): Promise<string | undefined> {
  return withPg(db, async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn).catch(() => undefined);
}
