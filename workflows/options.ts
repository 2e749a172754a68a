/** Activity options shared by the runbooks: how long each kind of step may take and how it retries. */
import { msToNumber } from '@temporalio/common/lib/time';
import type { ActivityOptions } from '@temporalio/workflow';

/** Quick, read-only steps on the general queue (planning, listing). */
export const QUICK: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
};

/**
 * Long steps that stream data (dumps, base backups, restores). They heartbeat every few seconds, so
 * a dead worker is noticed within the heartbeat timeout and the step retried on another one.
 */
export const STREAMING = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 8 },
});

/**
 * Uploads: resumable, so they may retry for as long as the remote is down (up to 12 h), quickly at
 * first. A 30 s heartbeat timeout means a killed worker's upload resumes on a new one within ~30 s.
 */
export const UPLOAD = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  scheduleToCloseTimeout: '12 hours',
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Small local steps on the backup host (metadata writes). */
export const LOCAL = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/** Applying a globals backup (restoreGlobals, restoreDatabase withGlobals): a few KB, three tries. */
export const GLOBALS = (taskQueue: string): ActivityOptions => ({
  ...STREAMING(taskQueue),
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '10 seconds', maximumAttempts: 3 },
});

/**
 * The longest any activity attempt (or its retries) may run, from the options above. A hidden
 * `.partial` temp file older than this has no live writer any more, so prune may remove it.
 */
export function longestActivityTimeoutMs(): number {
  const q = 'any';
  const timeouts = [QUICK, STREAMING(q), UPLOAD(q), LOCAL(q), GLOBALS(q)].flatMap((o) => [o.startToCloseTimeout, o.scheduleToCloseTimeout, o.scheduleToStartTimeout]);
  return Math.max(...timeouts.filter((t) => t !== undefined).map((t) => msToNumber(t)));
}
