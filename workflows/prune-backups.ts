/**
 * pruneBackups: retention as a runbook. Local disk first, then S3, each planned and applied in one
 * step (7 daily, 4 weekly, 12 monthly, WAL 7 days local / 30 days remote by default; the newest good
 * backup of each tier and all WAL a kept base backup needs are never removed). Hidden `.partial`
 * temp files that killed runs left on the backup host are swept once older than the longest activity
 * timeout. Then the archive tier for remote monthly backups is (re)applied where the target supports it.
 */
import { patched, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PartialsSweep, PruneResult } from '../activities/retention';
import { LOCAL, longestActivityTimeoutMs, QUICK, STREAMING } from './options';

export interface PruneBackupsInput {
  /** Plan only: report what would be removed. */
  dryRun?: boolean;
}

export interface PruneBackupsResult {
  local: PruneResult;
  /** Stale `.partial` temp files removed (listed on a dry run). */
  partials: PartialsSweep;
  remote?: PruneResult;
  archiveTier?: { configured: boolean; detail: string };
}

const planning = proxyActivities<Activities>(QUICK);

export async function pruneBackups(input: PruneBackupsInput = {}): Promise<PruneBackupsResult> {
  const target = await planning.describeBackupTarget();
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
  const mode = input.dryRun ? ' (dry run: nothing is removed)' : '';
  // 1. Local disk (BACKUP_ROOT, the WAL archive, MinIO snapshots).
  setCurrentDetails(`**1 local**: retention on BACKUP_ROOT, the WAL archive and MinIO snapshots${mode}`);
  const local = await host.pruneBackups({ location: 'local', dryRun: input.dryRun });
  // 2. Temp files of killed runs: untouched for longer than any activity may run, so no live writer.
  //    (patched: runs started before this step existed replay without it.)
  setCurrentDetails(`**2 partials**: temp files of killed runs${mode}`);
  const partials = patched('sweep-stale-partials')
    ? await proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue)).sweepStalePartials({ minAgeMs: longestActivityTimeoutMs(), dryRun: input.dryRun })
    : { dryRun: Boolean(input.dryRun), minAgeSeconds: 0, files: [], bytesFreed: 0 };
  if (!target.remote) {
    setCurrentDetails(`**done**: local retention applied${mode}; no off-site store`);
    return { local, partials };
  }
  // 3. The off-site copies, with the longer WAL window.
  setCurrentDetails(`**3 off-site**: retention on the remote copies${mode}`);
  const remote = await host.pruneBackups({ location: 'remote', dryRun: input.dryRun });
  // 4. Monthly backups to the archive storage class (hot copies stay local).
  const archiveTier = input.dryRun ? undefined : await proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue)).ensureArchiveTier();
  setCurrentDetails(`**done**: local and off-site retention applied${mode}`);
  return { local, partials, remote, archiveTier };
}
