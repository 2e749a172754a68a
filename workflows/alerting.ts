/**
 * raiseAlert: how every runbook raises an alert. Delivery is retried by Temporal (a channel that is
 * down gets a few tries over about half a minute); if it still fails, the alert is recorded locally
 * and the runbook carries on: an alerting problem never fails the backup that triggered it.
 */
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Alert } from '../lib/notify/alert';

export async function raiseAlert(taskQueue: string, alert: Alert): Promise<void> {
  const alerts = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '15 seconds', maximumAttempts: 4 },
  });
  try {
    await alerts.notify(alert);
  } catch (error) {
    const reason = error instanceof ActivityFailure && error.cause ? error.cause.message : error instanceof Error ? error.message : String(error);
    await proxyActivities<Activities>({ taskQueue, startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 5 } }).recordUndeliveredAlert({ alert, reason });
  }
}
