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
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { walArchiveDir } from '../../lib/catalog/paths';
import type { Config } from '../../lib/config/load';
import { buildStores } from '../../lib/deps';
import { humanUtc, parseTargetTime, type PitrTarget } from '../../lib/pitr/plan';
import { planRecovery } from '../../lib/pitr/plan-recovery';
import { runDirOf } from '../../lib/pitr/recovery-dir';
import { locateBackup } from '../../lib/restore/locate';
import { planQuery, progressQuery, restorePointInTime, type RestorePointInTimeResult } from '../../workflows/restore-point-in-time';
import { connectClient, loadCliContext } from '../context';
import { formatBytes, printJson, startedJson, table } from '../format';
import { awaitResult, followProgress, requireWorkers } from '../progress';
import type { CommandSpec } from '../command-table';
import type { RecoveredCluster } from '../../lib/pitr/recovered-clusters';
import { listRecoveredClusters } from '../../workflows/list-recovered-clusters';
import { removeRecoveredCluster, type RemoveRecoveredClusterResult } from '../../workflows/remove-recovered-cluster';
import { uiStartOptions, type UiLabel } from '../start-options';
import { temporalHint } from './temporal';

/** The UI label of a point-in-time recovery to `target` (from `base` when named). Pure. */
export function pitrLabel(config: Pick<Config, 'db'>, target: PitrTarget, options: { base?: string; port?: number; source?: CopySource } = {}): UiLabel {
  const to = target.latest ? 'the end of the archived WAL' : humanUtc(target.epochMicros);
  const copies = options.source === 'remote' ? 'off-site copies only' : options.source === 'local' ? 'local copies only' : 'local copies, else off-site';
  return {
    kind: 'pitr',
    summary: `Point-in-time recovery of ${config.db.name} to ${to} into a new cluster`,
    what: `The seed's \`restore-database.sh --pitr\`: ${options.base ? `base backup \`${options.base}\`` : 'the newest base backup before the target'} (${copies}) restored into a new data directory, archived WAL replayed to ${to}, then the cluster started on ${options.port !== undefined ? `127.0.0.1:${options.port}` : 'the worker\'s RESTORE_PORT'} and checked. Production is not touched; \`lifeboat pitr remove\` stops and deletes the cluster.`,
    show: 'lifeboat pitr list',
    ...(options.base !== undefined ? { backup: options.base } : {}),
    attributes: { LifeboatDatabase: config.db.name },
  };
}

/** The UI label of `pitr list`. Pure. */
export function pitrListLabel(config: Pick<Config, 'db' | 'temporal'>): UiLabel {
  return {
    kind: 'pitr-list',
    summary: 'List the clusters point-in-time recovery left on the backup host',
    what: `Reads the recovery directories on \`${config.temporal.backupHostTaskQueue}\`: each cluster's state (running, stopped, failed), port, size, target and base backup. Changes nothing.`,
    show: 'lifeboat pitr list',
    attributes: { LifeboatDatabase: config.db.name },
  };
}

/** The UI label of `pitr remove ID`. Pure. */
export function pitrRemoveLabel(config: Pick<Config, 'db' | 'temporal'>, id: string): UiLabel {
  return {
    kind: 'pitr-remove',
    summary: `Remove recovered cluster ${id}`,
    what: `Stops the cluster point-in-time recovery left as \`${id}\` on \`${config.temporal.backupHostTaskQueue}\` (\`pg_ctl stop\` as the postgres OS user) and deletes its data directory. Production is not touched.`,
    show: 'lifeboat pitr list',
    attributes: { LifeboatDatabase: config.db.name },
  };
}

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
    `cluster: 127.0.0.1:${r.port}, data directory ${r.dataDir} (it keeps running; stop and remove it with: lifeboat pitr remove ${recoveryIdOf(r.dataDir)})`,
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

/** The id `lifeboat pitr list|remove` use for a recovered data directory: its run directory's name. */
export function recoveryIdOf(dataDir: string): string {
  return basename(runDirOf(dataDir));
}

/**
 * Refuse here, before any workflow starts, what the planner would refuse: an unknown or unusable
 * named base backup, a target before every base backup, a WAL gap, WAL in which no transaction ended
 * after the target (recovery would stop short). Runs only where BACKUP_ROOT is readable (the backup
 * host); anything that is not a refusal (an unreachable S3, a missing tool) leaves the decision to
 * the workflow, which plans again. Returns the named base backup's key.
 */
async function refuseUnreachableTarget(config: Config, target: PitrTarget, options: { base?: string; source?: CopySource }): Promise<string | undefined> {
  if (!existsSync(config.backupRoot)) return options.base;
  const { local, remote } = buildStores(config);
  let baseKey = options.base;
  try {
    if (options.base !== undefined) {
      const found = await locateBackup(options.base, local, remote);
      if (found.metadata.kind !== 'base') {
        throw new InputInvalid('backup', `${found.key} is a ${found.metadata.kind} backup, not a base backup: point-in-time recovery starts from a base backup`, 'name a base backup (base/<stamp>/...) from `lifeboat restore --list`, or leave the backup out to use the newest before the target');
      }
      baseKey = found.key;
    }
    await planRecovery({ config, local, remote, archiveDir: walArchiveDir(config.backupRoot), target, source: options.source ?? 'auto', ...(baseKey !== undefined ? { baseKey } : {}) });
  } catch (error) {
    if (error instanceof InputInvalid || error instanceof BackupNotFound || error instanceof OperationRefused) throw error;
  }
  return baseKey;
}

/**
 * Start point-in-time recovery to `targetTime`; with `wait` (the default in the CLI), follow it and
 * print the plan and the result. Throws classified errors (exit codes in client/exit-codes.ts).
 */
export async function runPitrRestore(targetTime: string, options: { port?: number; wait?: boolean; source?: CopySource; json?: boolean; base?: string }): Promise<void> {
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
  const base = await refuseUnreachableTarget(config, target, options);
  const client = await connectClient(config);
  try {
    await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
    const handle = await client.workflow.start(restorePointInTime, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `restore-pitr-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
      // The instant as resolved here, in UTC: the operator's reading of a zone-less time is the one
      // shown above, whatever zone the worker is configured with.
      args: [{ targetTime: target.latest ? 'latest' : target.utc, ...(base !== undefined ? { base } : {}), ...(options.port !== undefined ? { port: options.port } : {}), ...(options.source ? { source: options.source } : {}) }],
      ...(await uiStartOptions(client, pitrLabel(config, target, { base, port: options.port, source: options.source }))),
    });
    process.stderr.write(`started workflow ${handle.workflowId} (${temporalHint(config, `workflow show --workflow-id ${handle.workflowId}`)})\n`);
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

/** One row of `pitr list --json` (docs/cli.md). */
export type RecoveredClusterJson = RecoveredCluster;

export function describeRecoveredClusters(clusters: RecoveredCluster[]): string {
  if (clusters.length === 0) return 'no recovered clusters\n';
  const rows = [['ID', 'STATE', 'PORT', 'SIZE', 'TARGET (UTC)', 'CREATED (UTC)', 'BASE']];
  const when = (at: string | null): string => (at ? at.slice(0, 19).replace('T', ' ') : '-');
  for (const c of clusters) rows.push([c.id, c.state, c.port === null ? '-' : String(c.port), formatBytes(c.bytes), when(c.target), when(c.createdAt), c.baseKey ?? '-']);
  const failed = clusters.filter((c) => c.state === 'failed' || c.state === 'incomplete');
  const notes = failed.map((c) => `${c.id}: ${c.state}${c.error ? ` (${c.error})` : ''}; log ${c.logFile}`);
  return `${table(rows)}${notes.length > 0 ? `${notes.join('\n')}\n` : ''}`;
}

export const pitrCommands: CommandSpec[] = [
  {
    name: 'pitr list',
    summary: 'clusters point-in-time recovery left on the backup host: port, state (running/stopped/failed), size, target, created',
    options: [{ flags: '--json', description: 'machine-readable output: {clusters: [...]} (docs/cli.md)' }],
    async run(_args, opts) {
      const { config } = loadCliContext();
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await client.workflow.start(listRecoveredClusters, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `pitr-list-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
          args: [],
          ...(await uiStartOptions(client, pitrListLabel(config))),
        });
        const result = await awaitResult(handle);
        if (opts.json) printJson(result);
        else process.stdout.write(describeRecoveredClusters(result.clusters));
      } finally {
        await client.connection.close();
      }
    },
  },
  {
    name: 'pitr remove',
    summary: 'stop a recovered cluster (pg_ctl as the postgres OS user) and delete its data directory',
    args: [{ name: 'id', description: 'pitr-YYYYMMDD-HHMMSS, as `lifeboat pitr list` shows it' }],
    options: [{ flags: '--json', description: 'machine-readable output: {workflowId, runId, result: {id, wasRunning, freedBytes, port}}' }],
    async run([id], opts) {
      const text = String(id ?? '').trim();
      if (!/^(pitr-)?\d{8}-\d{6}(-[a-z0-9]+)?$/.test(text)) throw new InputInvalid('id', `"${text}" is not a recovered cluster id (pitr-YYYYMMDD-HHMMSS)`, 'see `lifeboat pitr list`');
      const { config } = loadCliContext();
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await client.workflow.start(removeRecoveredCluster, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `pitr-remove-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
          args: [{ id: text }],
          ...(await uiStartOptions(client, pitrRemoveLabel(config, text))),
        });
        let result: RemoveRecoveredClusterResult;
        try {
          result = await awaitResult(handle);
        } catch (error) {
          throw pitrFailure(error);
        }
        if (opts.json) printJson(startedJson(handle, result));
        else process.stdout.write(`removed ${result.id}${result.wasRunning ? ` (stopped the cluster on 127.0.0.1:${result.port})` : ''}; ${formatBytes(result.freedBytes)} freed\n`);
      } finally {
        await client.connection.close();
      }
    },
  },
];
