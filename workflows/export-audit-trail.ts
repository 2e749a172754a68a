/**
 * exportAuditTrail: keep every Lifeboat run's history beyond the namespace's retention. On the
 * backup host, the runs that closed since the last export are written to
 * `$BACKUP_ROOT/audit/<YYYY-MM-DD>/<workflowType>/<workflowId>__<runId>.json.zst[.gpg]` (Temporal's
 * JSON history format, compressed, encrypted, proven), copied off-site under `audit/` (Object Lock
 * where the bucket has it), then a manifest chained to the previous one, then the cursor. One step:
 * the activity is exactly-once by construction (lib/audit/export.ts), so a retry redoes the window.
 * Input is one object so on-call can start it from the Temporal UI: `{}` or `{"since": "2026-01-01"}`.
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ExportSummary } from '../lib/audit/export';
import { invalidInput } from './failures';
import { QUICK, STREAMING } from './options';

export interface ExportAuditTrailInput {
  /** Where the FIRST export's window starts (ISO date/time); ignored once an export exists. */
  since?: string;
  /** Runs closed less than this many seconds ago wait for the next export (default 60: visibility settles). */
  settleSeconds?: number;
}

export type ExportAuditTrailResult = ExportSummary;

const planning = proxyActivities<Activities>(QUICK);

export async function exportAuditTrail(input: ExportAuditTrailInput = {}): Promise<ExportAuditTrailResult> {
  // 0. Refuse bad input before any side effect.
  const { since, settleSeconds = 60 } = input ?? {};
  if (since !== undefined && (typeof since !== 'string' || Number.isNaN(Date.parse(since)))) throw invalidInput(`since: "${String(since)}" is not a date (e.g. 2026-01-31)`);
  if (!Number.isInteger(settleSeconds) || settleSeconds < 0 || settleSeconds > 86_400) throw invalidInput('settleSeconds: a whole number of seconds between 0 and 86400');
  const { workflowId, runId } = workflowInfo();

  // 1. Where BACKUP_ROOT is.
  const target = await planning.describeAuditExport();
  const host = proxyActivities<Activities>(STREAMING(target.hostTaskQueue));

  // 2. Closed runs since the last export -> history files, off-site copies, the chained manifest, the cursor.
  setCurrentDetails('**export** closed runs since the last export');
  const summary = await host.exportAuditHistories({ workflowId, runId, ...(since ? { since } : {}), settleSeconds });
  setCurrentDetails(summary.manifest ? `**done**: ${summary.files} history file(s), \`${summary.manifest}\`` : '**done**: no run closed since the last export');
  return summary;
}
