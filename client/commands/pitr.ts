/**
 * `lifeboat restore --pitr TIME [--port N] [--no-wait]` (the flag lives in restore.ts): point-in-time
 * recovery through the restorePointInTime workflow. The time is parsed here first, with the same
 * rules and zone the worker uses, so a malformed, ambiguous or future time exits 2 before any
 * connection; the worker then refuses a time before the oldest base backup, a WAL gap or WAL that
 * does not reach the target, before doing anything.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { PitrPlanSummary } from '../../activities/pitr';
import type { CopySource } from '../../lib/restore/fetch';
import { formatStamp } from '../../lib/catalog/names';
import {
  AuthenticationFailed, BackupNotFound, ChecksumMismatch, ConflictingArtifact, InputInvalid, KeyUnavailable, OperationRefused, PrerequisiteMissing, ServiceUnavailable,
  type LifeboatError,
} from '../../lib/errors';
import { humanUtc, parseTargetTime } from '../../lib/pitr/plan';
import { planQuery, progressQuery, restorePointInTime, type RestorePointInTimeResult } from '../../workflows/restore-point-in-time';
import { connectClient, loadCliContext } from '../context';
import { formatBytes, printJson, startedJson } from '../format';
import { followProgress, requireWorkers } from '../progress';
import { lifeboatSearchAttributes } from '../search-attributes';

export function describePitrPlan(plan: PitrPlanSummary): string {
  const from = plan.base.copies.includes('local') && plan.source !== 'remote' ? 'local copy' : 'downloaded from S3';
  const lines = [
    plan.target.latest
      ? `target:    the end of the archived WAL (${plan.source === 'remote' ? 'off-site copies only' : plan.source === 'local' ? 'local copies only' : 'local and off-site'})`
      : `target:    ${humanUtc(plan.target.epochMicros)}${plan.target.interpretedIn === 'offset' ? '' : ` (read in ${plan.target.interpretedIn})`}`,
    `base:      ${plan.base.key}, finished ${plan.base.finishedAt.slice(0, 19).replace('T', ' ')} UTC, start LSN ${plan.base.startLsn}, timeline ${plan.base.timeline} (${from})`,
    `WAL:       ${plan.segmentCount} segments ${plan.segmentRuns[0]?.first ?? ''}..${plan.segmentRuns[plan.segmentRuns.length - 1]?.last ?? ''}` +
      `${plan.remoteSegments > 0 ? `, ${plan.remoteSegments} from S3` : ''}; ${plan.reachedBy.segment} archived ${plan.reachedBy.archivedAt.slice(0, 19).replace('T', ' ')} UTC ${plan.target.latest ? 'is the newest archived' : 'reaches the target'}`,
    `cluster:   127.0.0.1:${plan.port}, new data directory under ${plan.dataRoot}`,
    ...plan.warnings.map((w) => `warning:   ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function describePitrResult(r: RestorePointInTimeResult): string {
  const point = r.recoveryPoint;
  const rows = r.databases.reduce((n, d) => n + d.rows, 0);
  const lines = [
    `recovered to ${r.targetLatest ? 'the end of the archived WAL' : `${r.target.replace('T', ' ').replace(/\.?0*Z$/, '')} UTC`} in ${r.seconds.toFixed(1)} s from ${r.baseKey} (${r.source} copies)`,
    `recovery point: last transaction replayed committed at ${point.lastTransactionAt ?? 'unknown (no transaction after the base backup)'}` +
      `${point.stoppedAt ? `; ${point.stoppedAt}` : ''}; replayed up to ${point.replayLsn ?? '?'}, now on timeline ${point.timeline ?? '?'}`,
    `WAL replayed: ${r.replayedSegments} segments from the archive${r.walBytesReplayed !== undefined ? `, ${formatBytes(r.walBytesReplayed)} since the base backup's start` : ''}`,
    `databases: ${r.databases.map((d) => `${d.name} (${d.tables} tables, ${d.rows} rows)`).join(', ')}; ${rows} rows in all`,
    `cluster: 127.0.0.1:${r.port}, data directory ${r.dataDir} (it keeps running; stop it with: sudo -u postgres pg_ctl -D ${r.dataDir} stop)`,
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** The failure types (class names) whose errors take a message and a hint, rebuilt as those classes. */
const FAILURE_CLASSES: ReadonlyMap<string, new (message: string, hint?: string) => LifeboatError> = new Map(
  [BackupNotFound, ChecksumMismatch, KeyUnavailable, ConflictingArtifact, OperationRefused, PrerequisiteMissing, ServiceUnavailable, AuthenticationFailed].map((c) => [c.name, c]),
);

/** A workflow failure of a known type as the matching error (so the exit code and `hint:` line are right). */
export function pitrFailure(error: unknown): unknown {
  if (!(error instanceof WorkflowFailedError)) return error;
  let cause: unknown = error.cause;
  while (cause instanceof Error) {
    if (cause instanceof ApplicationFailure && cause.type) {
      const hint = (cause.details?.[0] as { hint?: string } | undefined)?.hint;
      if (cause.type === InputInvalid.name) {
        const m = /^(\S+): ([\s\S]*)$/.exec(cause.message);
        return m ? new InputInvalid(m[1]!, m[2]!, hint) : new InputInvalid('--pitr', cause.message, hint);
      }
      const Class = FAILURE_CLASSES.get(cause.type);
      if (Class) return new Class(cause.message, hint);
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return error;
}

/**
 * Start point-in-time recovery to `targetTime`; with `wait` (the default in the CLI), follow it and
 * print the plan and the result. Throws classified errors (exit codes in client/exit-codes.ts).
 */
export async function runPitrRestore(targetTime: string, options: { port?: number; wait?: boolean; source?: CopySource; json?: boolean }): Promise<void> {
  // With --json, stdout carries one document ({workflowId, runId, plan, result}); the story goes to stderr.
  const say = options.json ? process.stderr : process.stdout;
  const { config } = loadCliContext();
  // Flags first, before any connection: the worker applies the same rules again.
  const target = parseTargetTime(targetTime, config.restore.timeZone, new Date());
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)) {
    throw new InputInvalid('--port', `must be a TCP port between 1 and 65535 (got ${options.port})`);
  }
  const from = options.source && options.source !== 'auto' ? ` from the ${options.source === 'remote' ? 'off-site' : 'local'} copies only` : '';
  say.write(target.latest
    ? `point-in-time recovery to the end of the archived WAL${from}\n`
    : `point-in-time recovery to ${humanUtc(target.epochMicros)}${target.interpretedIn === 'offset' ? '' : ` (${target.input} in ${target.interpretedIn})`}${from}\n`);
  const client = await connectClient(config);
  try {
    await requireWorkers(client, config.temporal.taskQueue);
    const handle = await client.workflow.start(restorePointInTime, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `restore-pitr-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
      // The instant as resolved here, in UTC: the operator's reading of a zone-less time is the one
      // shown above, whatever zone the worker is configured with.
      args: [{ targetTime: target.latest ? 'latest' : target.utc, ...(options.port !== undefined ? { port: options.port } : {}), ...(options.source ? { source: options.source } : {}) }],
      typedSearchAttributes: await lifeboatSearchAttributes(client, { LifeboatKind: 'pitr', LifeboatDatabase: config.db.name }),
    });
    process.stderr.write(`started workflow ${handle.workflowId} (temporal workflow show --workflow-id ${handle.workflowId} --namespace ${config.temporal.namespace})\n`);
    if (options.wait === false) {
      if (options.json) printJson(startedJson(handle));
      return;
    }
    let planShown: PitrPlanSummary | undefined;
    const showPlan = async (): Promise<void> => {
      if (planShown) return;
      const plan = await handle.query(planQuery);
      if (!plan) return;
      planShown = plan;
      say.write(describePitrPlan(plan));
    };
    let result: RestorePointInTimeResult;
    try {
      result = await followProgress(handle, progressQuery, process.stderr, async (state) => {
        if (state.stage !== 'planning') await showPlan();
      });
    } catch (error) {
      throw pitrFailure(error);
    }
    await showPlan().catch(() => undefined);
    if (options.json) printJson({ ...startedJson(handle, result), plan: planShown ?? null });
    else process.stdout.write(describePitrResult(result));
  } finally {
    await client.connection.close();
  }
}
