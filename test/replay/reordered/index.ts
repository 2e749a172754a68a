/**
 * A deliberately broken `health` for the replay test: the same activities as workflows/health.ts,
 * scheduled in another order (the MinIO probes before PostgreSQL). Replaying a real `health`
 * history against it must fail with a DeterminismViolationError — proof the replay test would
 * catch such a change in a real workflow.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../../activities';
import type { HealthInput } from '../../../workflows/health';

const probes = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { initialInterval: '1 second', maximumAttempts: 5 } });

export async function health(input: HealthInput = {}) {
  const [minioSource, minioBackup, postgres] = await Promise.all([probes.probeMinio('source'), probes.probeMinio('backup'), probes.probePostgres()]);
  const local = input.hostTaskQueue ? await proxyActivities<Activities>({ taskQueue: input.hostTaskQueue, startToCloseTimeout: '30 seconds' }).probeLocalDisk() : undefined;
  return { workflowId: workflowInfo().workflowId, postgres, minioSource, minioBackup, local };
}
