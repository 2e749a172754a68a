/**
 * removeRecoveredCluster: stop a cluster point-in-time recovery left running and delete its run
 * directory (`lifeboat pitr remove <id>`), on the backup host where it lives. pg_ctl runs as the
 * cluster's OS user (never sudo). The id is checked before anything happens; removing an id that is
 * already gone fails as BackupNotFound.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { invalidInput } from './failures';
import { LOCAL, QUICK } from './options';

const general = proxyActivities<Activities>(QUICK);

export interface RemoveRecoveredClusterInput {
  /** `pitr-<YYYYMMDD-HHMMSS>` as `lifeboat pitr list` shows it (or the stamp alone). */
  id: string;
}

export interface RemoveRecoveredClusterResult {
  id: string;
  /** The cluster was running and was stopped first. */
  wasRunning: boolean;
  freedBytes: number;
  port: number | null;
}

export async function removeRecoveredCluster(input: RemoveRecoveredClusterInput): Promise<RemoveRecoveredClusterResult> {
  // 0. Refuse malformed input before anything runs.
  if (!input || typeof input.id !== 'string' || !/^(pitr-)?\d{8}-\d{6}(-[a-z0-9]+)?$/.test(input.id.trim())) {
    throw invalidInput(`id: ${JSON.stringify(input?.id)} is not a recovered cluster id (pitr-YYYYMMDD-HHMMSS); see lifeboat pitr list`);
  }
  const target = await general.describeBackupTarget();
  // 1. On the backup host: pg_ctl stop (fast, as the postgres OS user) if it runs, then delete the run directory.
  const host = proxyActivities<Activities>({ ...LOCAL(target.backupHostTaskQueue), startToCloseTimeout: '10 minutes', retry: { initialInterval: '5 seconds', maximumAttempts: 3 } });
  return host.removeRecoveryRun({ id: input.id.trim() });
}
