/**
 * Audit trail activities (lib/audit/):
 *  describeAuditExport   (any queue)      where the export runs (the backup host: BACKUP_ROOT)
 *  exportAuditHistories  (backup host)    closed runs since the last export -> files, off-site copy, manifest, cursor
 * Histories are read with the worker's own Temporal client (deps.temporal); the result names files
 * and counts only, never history contents.
 */
import { Context } from '@temporalio/activity';
import { exportAuditTrail, type ClosedRun, type ExportSummary, type HistorySource } from '../lib/audit/export';
import type { Deps } from '../lib/deps';
import { InputInvalid } from '../lib/errors';

export interface ExportAuditInput {
  workflowId: string;
  runId: string;
  /** ISO time: where the first export's window starts (ignored once a manifest exists). */
  since?: string;
  settleSeconds: number;
}

export function createAuditActivities(deps: Deps) {
  const { config, stores } = deps;
  return {
    async describeAuditExport(): Promise<{ hostTaskQueue: string; remote: boolean }> {
      return { hostTaskQueue: config.temporal.backupHostTaskQueue, remote: config.remote.enabled };
    },

    async exportAuditHistories(input: ExportAuditInput): Promise<ExportSummary> {
      const since = input.since === undefined ? undefined : new Date(input.since);
      if (since && Number.isNaN(since.getTime())) throw new InputInvalid('since', `"${input.since}" is not a date`, 'e.g. 2026-01-31 or 2026-01-31T00:00:00Z');
      const client = await deps.temporal.client();
      const source: HistorySource = {
        async *listClosed(query) {
          for await (const w of client.workflow.list({ query })) {
            if (!w.closeTime) continue;
            yield { workflowType: w.type, workflowId: w.workflowId, runId: w.runId, closeTime: w.closeTime, status: w.status.name } satisfies ClosedRun;
          }
        },
        fetchHistory: (run) => client.workflow.getHandle(run.workflowId, run.runId).fetchHistory(),
      };
      const ctx = Context.current();
      return exportAuditTrail({
        local: stores.local,
        remote: stores.remote,
        source,
        taskQueue: config.temporal.taskQueue,
        encryptionKey: config.encryption.enabled ? await deps.keys.publicKey() : undefined,
        compressionLevel: config.compression.algorithm === 'zstd' ? config.compression.level : 9,
        retention: { days: config.audit.retentionDays, mode: config.audit.lockMode },
        exporter: { workflowId: input.workflowId, runId: input.runId },
        since,
        settleSeconds: input.settleSeconds,
        onProgress: (done, total) => ctx.heartbeat({ done, total }),
      });
    },
  };
}
