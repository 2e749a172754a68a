/**
 * reportStatus: what `lifeboat status` asks the backup host. Read-only and quick: the worker's own
 * monitoring thresholds and backup host queue (general queue), then one activity on the backup
 * host's pinned queue that collects the facts (lib/status/collect.ts). The CLI adds what Temporal
 * knows (schedules, workers polling) and evaluates the whole in pure code (lib/status/evaluate.ts).
 * A status check must answer promptly, so nothing here waits long or retries much.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { HostStatusFacts } from '../lib/status/facts';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ReportStatusInput {}

const planning = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToStartTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

export async function reportStatus(_input: ReportStatusInput = {}): Promise<HostStatusFacts> {
  // 1. Where the backup host is and the thresholds its monitoring uses.
  const target = await planning.describeMonitoring();
  // 2. The facts, on the backup host (the store probes inside bound every call to the stores).
  const host = proxyActivities<Activities>({
    taskQueue: target.backupHostTaskQueue,
    startToCloseTimeout: '2 minutes',
    scheduleToStartTimeout: '30 seconds',
    retry: { initialInterval: '2 seconds', maximumAttempts: 2 },
  });
  return host.collectHostStatus({ thresholds: target.thresholds });
}
