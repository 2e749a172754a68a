/**
 * health: proves the whole path in one run. The worker picks the workflow up from the general queue,
 * probes PostgreSQL and both MinIO servers, and checks BACKUP_ROOT on the host-pinned queue.
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface HealthInput {
  /** Host-pinned task queue (`lifeboat@<host>`) whose worker should check its local disk. */
  hostTaskQueue?: string;
}

const probes = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});

export async function health(input: HealthInput = {}) {
  // 1. The three servers, in parallel: each probe is one connection and one query.
  setCurrentDetails('**1 probe** PostgreSQL, the source MinIO and the backup MinIO');
  const [postgres, minioSource, minioBackup] = await Promise.all([
    probes.probePostgres(),
    probes.probeMinio('source'),
    probes.probeMinio('backup'),
  ]);
  // 2. The host-pinned queue: only a worker on the backup host can answer for its disk.
  setCurrentDetails(input.hostTaskQueue ? `**2 disk**: BACKUP_ROOT on \`${input.hostTaskQueue}\`` : '**done**');
  const local = input.hostTaskQueue
    ? await proxyActivities<Activities>({
        taskQueue: input.hostTaskQueue,
        startToCloseTimeout: '30 seconds',
        scheduleToStartTimeout: '1 minute',
        retry: { maximumAttempts: 3 },
      }).probeLocalDisk()
    : undefined;
  setCurrentDetails(`**done**: PostgreSQL ${postgres.version}, ${minioSource.endpoint ?? 'no source MinIO'}, ${minioBackup.endpoint ?? 'no backup MinIO'}${local ? `, ${local.host}: ${local.backupRoot}` : ''}`);
  return { workflowId: workflowInfo().workflowId, postgres, minioSource, minioBackup, local };
}

export type HealthReport = Awaited<ReturnType<typeof health>>;
