/**
 * The seed's per-run log (`$BACKUP_ROOT/logs/backup-<stamp>.log`: what ran, how long, result) for the
 * backup runbooks, for people who grep logs. `withRunLog` runs a runbook's steps and, at the end,
 * success or failure, has the backup host append the run's block (activity writeRunLog). A run that
 * failed before it knew the backup host (bad input, no configuration) ran nothing and logs nothing;
 * a log that cannot be written never fails the backup. Histories from before the log replay as they
 * were (`patched('run-log')`).
 */
import { CancellationScope, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { formatStamp } from '../lib/catalog/names';
import { LOCAL } from './options';

/** What the steps tell the log as they go: the backup host's queue, and the backup's stamp once chosen. */
export interface RunLogState {
  hostQueue?: string;
  stamp?: string;
}

/** A failure and its causes as one line (ActivityFailure's own message says only which activity). */
function reason(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 4; e = e.cause) if (e.message && !parts.includes(e.message)) parts.push(e.message);
  return parts.join(': ') || String(error);
}

export async function withRunLog<R>(what: string, steps: (log: RunLogState) => Promise<R>, made: (result: R) => string[]): Promise<R> {
  const { workflowId, runId } = workflowInfo();
  const started = new Date();
  const log: RunLogState = {};
  let ok = false;
  let lines: string[] = [];
  try {
    const result = await steps(log);
    ok = true;
    lines = made(result);
    return result;
  } catch (error) {
    lines = [`error: ${reason(error)}`];
    throw error;
  } finally {
    const hostQueue = log.hostQueue;
    if (hostQueue && patched('run-log')) {
      const entry = { stamp: log.stamp ?? formatStamp(started), what, workflowId, runId, startedAt: started.toISOString(), finishedAt: new Date().toISOString(), ok, lines };
      // Written even when the run is being cancelled; a failure to write is the log's problem, not the backup's.
      await CancellationScope.nonCancellable(() => proxyActivities<Activities>(LOCAL(hostQueue)).writeRunLog(entry)).catch(() => undefined);
    }
  }
}
