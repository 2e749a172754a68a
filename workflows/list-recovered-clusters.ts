/**
 * listRecoveredClusters: what point-in-time recovery left on the backup host (`lifeboat pitr list`).
 * The run directories live under RESTORE_DATA_ROOT there, so the listing is one read-only activity
 * on the backup host's queue, like the restores that created them.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RecoveredCluster } from '../lib/pitr/recovered-clusters';
import { LOCAL, QUICK } from './options';

const general = proxyActivities<Activities>(QUICK);

export interface ListRecoveredClustersResult {
  clusters: RecoveredCluster[];
}

export async function listRecoveredClusters(): Promise<ListRecoveredClustersResult> {
  // 1. Where the backup host's worker listens.
  const target = await general.describeBackupTarget();
  // 2. Read RESTORE_DATA_ROOT there: every pitr-<stamp> directory, its marker, state and size.
  const host = proxyActivities<Activities>({ ...LOCAL(target.backupHostTaskQueue), startToCloseTimeout: '5 minutes' });
  return { clusters: await host.listRecoveryRuns() };
}
