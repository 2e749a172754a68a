/**
 * restorePointInTime: point-in-time recovery (the seed's `restore-database.sh --pitr TIME`) as a
 * runbook. Everything is decided first, read-only, and bad input (a malformed, future or too-old
 * time, a WAL gap, WAL that does not reach the target yet, a taken port) fails here with nothing
 * created. Then a NEW data directory is built from the chosen base backup, a cluster is started on
 * the chosen port to replay WAL up to the target and promote, and what it holds is checked.
 * Production is never touched: the recovered cluster listens on loopback and never archives.
 *
 * The `progress` query shows the stage, the `status` query and the UI's current details the steps
 * (with their times, which the result's `stageSeconds` reports too); `plan` shows the plan.
 */
import {
  ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, patched, proxyActivities, setHandler, workflowInfo, type ActivityOptions,
} from '@temporalio/workflow';
import { checkSource, invalidInput } from './failures';
import type { CopySource } from '../lib/restore/fetch';
import type { Activities } from '../activities';
import type { PitrPlanSummary, PreparedRecovery, RecoveryPoint, VerifiedCluster } from '../activities/pitr';
import { formatStamp } from '../lib/catalog/names';
import { LOCAL, QUICK, STREAMING } from './options';
import { errorLine, StepTracker } from './step-tracker';

export interface RestorePointInTimeInput {
  /**
   * The moment to recover to, e.g. "2025-10-17 14:30:00+00"; without an offset, in RESTORE_TIME_ZONE.
   * `latest`: to the end of the archived WAL (the DR runbook's default).
   */
  targetTime: string;
  /**
   * The base backup to recover from (its key, file name or path under BACKUP_ROOT, as `restore`
   * takes it); default: the newest one finished at or before the target. Refused, before anything
   * is created, when it is not a base backup, cannot be read from `source`, or finished after the target.
   */
  base?: string;
  /** Port of the recovered cluster on 127.0.0.1; default RESTORE_PORT. Same as target.postgres.port. */
  port?: number;
  /**
   * Which copies to recover from: the local base backups and WAL archive, the off-site store only
   * (the DR runbook, when the database host is gone), or both (`auto`, the default).
   */
  source?: CopySource;
  /**
   * Where the recovered cluster listens: a NEW cluster built by this workflow under RESTORE_DATA_ROOT
   * on the backup host, on loopback, so only the port can be chosen.
   */
  target?: { postgres?: { host?: string; port?: number } };
}

export interface RestorePointInTimeResult {
  dataDir: string;
  port: number;
  /** The copies recovered from. */
  source: CopySource;
  baseKey: string;
  /** The target, in UTC (for `latest`: when the recovery was planned). */
  target: string;
  /** Recovered to the end of the archived WAL (`targetTime: latest`). */
  targetLatest?: boolean;
  recoveryPoint: RecoveryPoint;
  /** WAL segments restore_command delivered to the server. */
  replayedSegments: number;
  plannedSegments: number;
  walBytesReplayed?: number;
  databases: VerifiedCluster['databases'];
  warnings: string[];
  /** End to end, and per step (replay is most of `recover`). */
  seconds: number;
  stageSeconds: { plan: number; prepare: number; recover: number; verify: number };
}

export type PitrStage = 'planning' | 'preparing' | 'recovering' | 'verifying' | 'done' | 'failed';

export interface PitrState {
  stage: PitrStage;
  target?: string;
  base?: string;
  dataDir?: string;
  port?: number;
  error?: string;
}

export const progressQuery = defineQuery<PitrState>('progress');
export const planQuery = defineQuery<PitrPlanSummary | undefined>('plan');

const planning = proxyActivities<Activities>(QUICK);

/** Planning lists the archive locally and on S3: a few minutes at most, and a refusal is final. */
const PLAN = (taskQueue: string): ActivityOptions => ({ ...LOCAL(taskQueue), startToCloseTimeout: '10 minutes' });
/** Replay can take hours; it heartbeats, so a dead worker is noticed in a minute and the watch resumes. */
const RECOVER = (taskQueue: string): ActivityOptions => ({ ...STREAMING(taskQueue), startToCloseTimeout: '24 hours', retry: { initialInterval: '10 seconds', maximumAttempts: 3 } });
const VERIFY = (taskQueue: string): ActivityOptions => ({ ...STREAMING(taskQueue), startToCloseTimeout: '2 hours' });

function invalid(message: string): never {
  throw invalidInput(message);
}

/** A refusal from planning becomes the workflow's own failure, with the activity's type and message. */
function asRefusal(error: unknown): unknown {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.nonRetryable) {
    return ApplicationFailure.create({ message: error.cause.message, type: error.cause.type ?? undefined, nonRetryable: true, details: error.cause.details as unknown[] | undefined });
  }
  return error;
}

export async function restorePointInTime(input: RestorePointInTimeInput): Promise<RestorePointInTimeResult> {
  const started = Date.now();
  const { workflowId, runId } = workflowInfo();
  const stamp = formatStamp(new Date());
  let state: PitrState = { stage: 'planning' };
  let plan: PitrPlanSummary | undefined;
  // The UI's current details: the stage and what it works on (as the `progress` query has them), then the steps.
  const steps = new StepTracker('restorePointInTime', ['plan', 'prepare', 'recover', 'verify'], {
    summary: () => {
      const lines = [`**${state.stage}**`];
      if (state.target) lines.push(`target: \`${state.target}\``);
      if (state.base) lines.push(`base backup: \`${state.base}\``);
      if (state.dataDir) lines.push(`data directory: \`${state.dataDir}\`, port ${state.port}`);
      if (state.error) lines.push(`error: ${state.error}`);
      return lines.join('\n\n');
    },
  });
  const show = (next: Partial<PitrState>): void => {
    state = { ...state, ...next };
    steps.render();
  };
  setHandler(progressQuery, () => state);
  setHandler(planQuery, () => plan);
  steps.start('plan');
  show({ stage: 'planning' });
  let prepared: PreparedRecovery | undefined;
  let cleanup: ReturnType<typeof proxyActivities<Activities>> | undefined;

  try {
    // 0. Refuse malformed input before anything runs.
    if (!input || typeof input.targetTime !== 'string' || input.targetTime.trim() === '') {
      invalid('--pitr: give the time to recover to, e.g. "2025-10-17 14:30:00+00"');
    }
    if (input.port !== undefined && (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535)) {
      invalid(`--port: must be a TCP port between 1 and 65535 (got ${JSON.stringify(input.port)})`);
    }
    if (input.base !== undefined && (typeof input.base !== 'string' || input.base.trim() === '')) {
      invalid('base: must name a base backup, e.g. base/20251017-020000/base.tar.zst.gpg (or be left out for the newest before the target)');
    }
    const source = checkSource(input.source);
    const port = checkRecoveryTarget(input.target, input.port);
    const target = await planning.describeBackupTarget();
    const hostPlan = proxyActivities<Activities>(PLAN(target.backupHostTaskQueue));
    const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
    cleanup = host;
    const recover = proxyActivities<Activities>(RECOVER(target.backupHostTaskQueue));
    const verify = proxyActivities<Activities>(VERIFY(target.backupHostTaskQueue));

    // 1. Plan, read-only: parse the time, choose the named base backup or the newest one finished
    //    before it, check the WAL is continuous from its start LSN and holds a transaction that ended
    //    after the target (else recovery would stop short), check the port is free.
    plan = await hostPlan.planPointInTimeRecovery({
      targetTime: input.targetTime, ...(input.base !== undefined ? { base: input.base } : {}), ...(port !== undefined ? { port } : {}), ...(source ? { source } : {}),
    }).catch((e: unknown) => {
      throw asRefusal(e);
    });
    steps.done('plan', `base backup ${plan.base.key}, ${plan.segmentCount} WAL segments`);
    steps.start('prepare');
    show({ stage: 'preparing', target: plan.target.utc, base: plan.base.key, port: plan.port });

    // 2. A new data directory: verified base backup streamed into tar as the postgres user, WAL that
    //    is only on S3 fetched, restore_command / recovery_target_time / promote, recovery.signal.
    prepared = await host.prepareRecoveryDataDir({ plan, stamp, workflowId, runId });
    steps.done('prepare', prepared.dataDir);
    steps.start('recover', `port ${prepared.port}`);
    show({ stage: 'recovering', dataDir: prepared.dataDir });

    // 3. Start the cluster; it replays WAL up to the target, then promotes.
    const run = await recover.startRecoveryCluster({ dataDir: prepared.dataDir, port: prepared.port, startLsn: plan.base.startLsn, serverMajor: plan.base.serverMajor });
    steps.done('recover', `${run.restoredSegments} WAL segments replayed`);

    // 4. Verify: out of recovery, a copy of the source, nothing after the target; list what it holds.
    steps.start('verify');
    show({ stage: 'verifying' });
    const verified = await verify.verifyRecoveredCluster({
      dataDir: prepared.dataDir, port: prepared.port, ...(plan.target.latest ? {} : { targetUtc: plan.target.utc }), lastTransactionAt: run.recoveryPoint.lastTransactionAt, systemIdentifier: plan.base.systemIdentifier,
    });
    steps.done('verify');

    // 5. Report the recovery point reached.
    show({ stage: 'done' });
    steps.finish();
    return {
      dataDir: prepared.dataDir,
      port: prepared.port,
      source: plan.source ?? 'auto',
      baseKey: plan.base.key,
      target: plan.target.utc,
      ...(plan.target.latest ? { targetLatest: true } : {}),
      recoveryPoint: run.recoveryPoint,
      replayedSegments: run.restoredSegments,
      plannedSegments: plan.segmentCount,
      walBytesReplayed: run.walBytesReplayed,
      databases: verified.databases,
      warnings: plan.warnings,
      seconds: (Date.now() - started) / 1000,
      stageSeconds: { plan: steps.seconds('plan')!, prepare: steps.seconds('prepare')!, recover: steps.seconds('recover')!, verify: steps.seconds('verify')! },
    };
  } catch (error) {
    steps.failRunning(errorLine(error));
    // A cluster that failed to recover or verify is of no use, and a failed run held ~240 MB: stop it
    // and remove its data, keeping the log and marker (`lifeboat pitr list` shows it as failed,
    // `lifeboat pitr remove` deletes the rest). Patched: older histories failed without this step.
    const discard = cleanup;
    if (prepared && discard && patched('pitr-discard-failed-cluster')) {
      const failed = prepared;
      await CancellationScope.nonCancellable(() => discard.discardFailedRecovery({ dataDir: failed.dataDir, runId, error: errorLine(error) })).catch(() => undefined);
    }
    show({ stage: 'failed', error: errorLine(error) });
    throw error;
  }
}

const LOOPBACK = ['127.0.0.1', 'localhost'];

/**
 * `target.postgres`, checked: the recovered cluster is built on the backup host and listens on
 * loopback, so a host other than 127.0.0.1 is refused; the port is the same as `port` (both may be
 * given only when they agree). Returns the port to use, if one was given.
 */
function checkRecoveryTarget(target: unknown, port: number | undefined): number | undefined {
  if (target === undefined) return port;
  if (typeof target !== 'object' || target === null || Array.isArray(target)) invalid('target: must be an object like { postgres: { port } }');
  const extra = Object.keys(target).filter((k) => k !== 'postgres');
  if (extra.length > 0) invalid(`target: unknown field ${extra.map((k) => `target.${k}`).join(', ')}; restorePointInTime takes target.postgres only`);
  const pg = (target as { postgres?: unknown }).postgres;
  if (pg === undefined) return port;
  if (typeof pg !== 'object' || pg === null || Array.isArray(pg)) invalid('target.postgres: must be { port } (and optionally host 127.0.0.1)');
  const { host, port: targetPort, ...rest } = pg as Record<string, unknown>;
  const unknownFields = Object.keys(rest);
  if (unknownFields.length > 0) invalid(`target.postgres: unknown field ${unknownFields.map((k) => `target.postgres.${k}`).join(', ')} (only host and port)`);
  if (host !== undefined && (typeof host !== 'string' || !LOOPBACK.includes(host))) {
    invalid(`target.postgres.host: ${JSON.stringify(host)}: point-in-time recovery builds a new cluster on the backup host, listening on 127.0.0.1; to restore into another server use restoreDatabase with target.postgres`);
  }
  if (targetPort === undefined) return port;
  if (typeof targetPort !== 'number' || !Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65535) invalid(`target.postgres.port: ${JSON.stringify(targetPort)} is not a TCP port (1-65535)`);
  if (port !== undefined && port !== targetPort) invalid(`target.postgres.port: ${targetPort} differs from port ${port}; give one of them`);
  return targetPort;
}
