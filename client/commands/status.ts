/**
 * `lifeboat status [--json]`: one screen that answers "are we protected?" (like `pgbackrest info`
 * and `barman status`). The backup host's facts come from the reportStatus workflow, whose activity
 * runs on the backup host's pinned queue: BACKUP_ROOT, the WAL archive, the DR reports and the
 * stores' credentials live there, so status works the same from any host with the CLI. What
 * Temporal itself knows (workers polling, schedules, the last replication run) is read here.
 * Before starting anything it asks Temporal whether workers poll the queues the run needs; when none
 * does, it says so at once instead of waiting. Exit codes: 0 ok, 7 degraded (something to act on),
 * 3 the status could not be judged (Temporal unreachable, no worker, the backup host did not answer).
 */
import type { Client, WorkflowExecutionStatusName } from '@temporalio/client';
import type { Config } from '../../lib/config/load';
import { DEFAULT_SCHEDULE_PREFIX } from '../../lib/schedules/declared';
import type { HostStatusFacts, QueueFact, ReplicationFact, RunResult, ScheduleFact, TemporalStatusFacts } from '../../lib/status/facts';
import { evaluateStatus, type StatusReport } from '../../lib/status/evaluate';
import type { ReplicateBucketsResult } from '../../workflows/replicate-buckets';
import { reportStatus } from '../../workflows/report-status';
import type { CommandSpec } from '../command-table';
import { withClient } from '../context';
import { EXIT } from '../exit-codes';
import { formatAge, formatBytes, table } from '../format';
import { awaitResult, livePollers } from '../progress';
import { ownedScheduleIds } from '../schedules';
import { uiStartOptions, type UiLabel } from '../start-options';

/** The UI label of the reportStatus run `lifeboat status` starts. Pure. */
export function statusLabel(backupHostTaskQueue: string): UiLabel {
  return {
    kind: 'status',
    summary: 'lifeboat status: the backup host\'s facts',
    what: `Reads, on \`${backupHostTaskQueue}\`, what \`lifeboat status\` judges: the newest backups per tier and their verification, base backups and the PITR window, WAL archiving and RPO exposure, MinIO snapshots, configuration backups, firing alerts, the last DR drill, disk use, and whether PostgreSQL and the stores answer. Changes nothing.`,
    show: 'lifeboat status',
  };
}

export interface StatusOptions {
  taskQueue?: string;
  backupHostTaskQueue?: string;
  /** Schedules whose id starts with this are Lifeboat's (tests use their own). */
  schedulePrefix?: string;
}

const RESULTS: Partial<Record<WorkflowExecutionStatusName, RunResult>> = {
  RUNNING: 'running', COMPLETED: 'completed', FAILED: 'failed', CANCELLED: 'canceled', TERMINATED: 'terminated', CONTINUED_AS_NEW: 'continued-as-new', TIMED_OUT: 'timed-out',
};
const resultOf = (name: WorkflowExecutionStatusName): RunResult => RESULTS[name] ?? 'unknown';
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

async function queueFacts(client: Client, general: string, backupHost: string): Promise<QueueFact[]> {
  return Promise.all([
    livePollers(client, general, 'workflow').then((pollers): QueueFact => ({ name: general, role: 'general', type: 'workflow', pollers })),
    livePollers(client, backupHost, 'activity').then((pollers): QueueFact => ({ name: backupHost, role: 'backup-host', type: 'activity', pollers })),
  ]);
}

async function scheduleFacts(client: Client, prefix: string): Promise<ScheduleFact[]> {
  const facts: ScheduleFact[] = [];
  for (const id of (await ownedScheduleIds(client, prefix)).sort()) {
    const d = await client.schedule.getHandle(id).describe();
    const last = d.info.recentActions.at(-1);
    let lastResult: RunResult | undefined;
    if (last) {
      const run = await client.workflow.getHandle(last.action.workflow.workflowId, last.action.workflow.firstExecutionRunId).describe().catch(() => undefined);
      lastResult = run ? resultOf(run.status.name) : 'unknown';
    }
    facts.push({
      id,
      paused: d.state.paused,
      ...(d.state.note ? { note: d.state.note } : {}),
      ...(d.info.nextActionTimes[0] ? { nextRunAt: d.info.nextActionTimes[0].toISOString() } : {}),
      ...(last ? { lastRunAt: last.takenAt.toISOString(), lastResult, lastWorkflowId: last.action.workflow.workflowId } : {}),
    });
  }
  return facts;
}

/** The newest replicateBuckets run on the general queue, and its lag when it completed. */
async function replicationFacts(client: Client, config: Config, taskQueue: string, prefix: string): Promise<ReplicationFact | undefined> {
  if (!config.minio.backup) return undefined;
  const fact: ReplicationFact = { intervalSeconds: config.minio.replicationIntervalSeconds };
  const schedule = await client.schedule.getHandle(`${prefix}minio-replicate`).describe().catch(() => undefined);
  if (schedule) fact.scheduleCreatedAt = schedule.info.createdAt.toISOString();
  let newest: { workflowId: string; runId: string; startTime: Date; closeTime?: Date; status: WorkflowExecutionStatusName } | undefined;
  // Visibility lists the newest first (running ones before closed ones); a run every minute makes a
  // long list, so only the first one is read.
  for await (const w of client.workflow.list({ query: `WorkflowType = 'replicateBuckets' AND TaskQueue = '${taskQueue}'`, pageSize: 1 })) {
    newest = { workflowId: w.workflowId, runId: w.runId, startTime: w.startTime, closeTime: w.closeTime, status: w.status.name };
    break;
  }
  if (!newest) return fact;
  const result = resultOf(newest.status);
  const output = result === 'completed' ? ((await client.workflow.getHandle(newest.workflowId, newest.runId).result().catch(() => undefined)) as ReplicateBucketsResult | undefined) : undefined;
  fact.last = {
    workflowId: newest.workflowId,
    startedAt: newest.startTime.toISOString(),
    ...(newest.closeTime ? { closedAt: newest.closeTime.toISOString() } : {}),
    result,
    ...(output ? { lagSeconds: output.lagSeconds, pendingChanges: output.pendingChanges } : {}),
  };
  return fact;
}

/** Gather every fact (Temporal's here, the backup host's through reportStatus) and evaluate them. */
export async function collectStatus(client: Client, config: Config, options: StatusOptions = {}): Promise<StatusReport> {
  const taskQueue = options.taskQueue ?? config.temporal.taskQueue;
  const backupHostTaskQueue = options.backupHostTaskQueue ?? config.temporal.backupHostTaskQueue;
  const prefix = options.schedulePrefix ?? DEFAULT_SCHEDULE_PREFIX;
  // 1. Who polls: without workers on both queues the run would only wait, so it is not started.
  const queues = await queueFacts(client, taskQueue, backupHostTaskQueue);
  const temporal: TemporalStatusFacts = { namespace: config.temporal.namespace, queues };
  // 2. Schedules and replication, from Temporal.
  try {
    temporal.schedules = await scheduleFacts(client, prefix);
  } catch (error) {
    temporal.schedulesError = message(error);
  }
  temporal.replication = await replicationFacts(client, config, taskQueue, prefix).catch(() => undefined);
  // 3. The backup host's facts.
  let host: HostStatusFacts | undefined;
  let hostError: string | undefined;
  if (queues.every((q) => q.pollers.length > 0)) {
    try {
      // A worker stopped less than a minute ago still looks alive to DescribeTaskQueue: awaitResult
      // gives up (and says so) when no worker picks the run up within seconds, instead of waiting.
      const handle = await client.workflow.start(reportStatus, {
        taskQueue,
        workflowId: `status-${new Date().toISOString().replace(/[:.]/g, '-')}`,
        args: [{}],
        workflowExecutionTimeout: '3 minutes',
        ...(await uiStartOptions(client, statusLabel(backupHostTaskQueue))),
      });
      host = await awaitResult(handle);
    } catch (error) {
      let cause: unknown = error;
      while ((cause as { cause?: unknown }).cause) cause = (cause as { cause?: unknown }).cause;
      hostError = message(cause);
    }
  }
  return evaluateStatus({ now: new Date().toISOString(), temporal, ...(host ? { host } : {}), ...(hostError ? { hostError } : {}) });
}

/** 0 all well; 7 (degraded) something to act on, warning or critical; 3 the status could not be judged. */
export function statusExitCode(report: StatusReport): number {
  if (report.verdict === 'ok') return EXIT.ok;
  if (report.verdict === 'unknown') return EXIT.unavailable;
  return EXIT.degraded;
}

const when = (iso: string | undefined): string => (iso ? iso.slice(0, 16).replace('T', ' ') : '-');
const ageText = (seconds: number | undefined): string => (seconds === undefined ? '-' : `${formatAge(seconds)} ago`);
const section = (title: string, body: string): string => `\n${title}\n${body}`;

/** The human screen: the verdict and problems first, then a compact table per section. */
export function formatStatus(r: StatusReport): string {
  const out: string[] = [];
  const where = r.host ? `backup host ${r.host.name} (${r.host.backupRoot})` : 'backup host not reached';
  out.push(`status: ${r.verdict.toUpperCase()}  (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}; ${where}; ${when(r.now)} UTC)\n`);
  for (const p of r.problems) out.push(`  ${p.severity === 'critical' ? 'CRITICAL' : 'WARNING '} ${p.summary}\n${p.hint ? `           hint: ${p.hint}\n` : ''}`);

  out.push(section('workers', table([['QUEUE', 'ROLE', 'TASKS', 'POLLERS'], ...r.workers.map((q) => [q.name, q.role, q.type, q.pollers.length === 0 ? 'NONE' : `${q.pollers.length} (${q.pollers.join(', ')})`])])));
  if (r.backups) {
    out.push(section('logical backups', table([['TIER', 'COUNT', 'NEWEST', 'AGE', 'SIZE', 'DURATION', 'OFF-SITE', 'VERIFIED'], ...r.backups.map((t) => {
      const n = t.newest;
      return n
        ? [t.tier, String(t.count), n.key, ageText(n.ageSeconds), formatBytes(n.bytes), n.durationSeconds === undefined ? '-' : `${Math.round(n.durationSeconds)}s`, n.offsite === undefined ? '-' : n.offsite ? 'yes' : 'NO', n.verified === 'never' ? 'never' : `${n.verified} ${ageText(Math.round((Date.parse(r.now) - Date.parse(n.verifiedAt!)) / 1000))}`]
        : [t.tier, '0', '(none)', '-', '-', '-', '-', '-'];
    })])));
  }
  if (r.base) {
    const b = r.base.newest;
    const pitr = r.base.pitr.problem ? `none: ${r.base.pitr.problem}` : `${when(r.base.pitr.oldest)} .. ${when(r.base.pitr.newest)} UTC`;
    out.push(section('base backups and PITR', table([['BASE BACKUPS', 'NEWEST', 'AGE', 'SIZE', 'DURATION', 'COPIES'], [String(r.base.count), b?.key ?? '(none)', ageText(b?.ageSeconds), formatBytes(b?.bytes), b ? `${Math.round(b.durationSeconds)}s` : '-', b?.copies.join('+') || '-']]) + `PITR window: ${pitr}\n`));
  }
  if (r.wal) {
    const w = r.wal;
    const rpo = w.rpo ? `${w.rpo.exposureSeconds === undefined ? 'unknown' : `${w.rpo.exposureSeconds}s`} / target ${w.rpo.targetSeconds}s (${w.rpo.state})` : '-';
    out.push(section('WAL archiving', table([['LAST ARCHIVED', 'AGE', 'ARCHIVER', 'READY', 'UNSHIPPED', 'LAST SHIPPED', 'RPO EXPOSURE'], [w.lastArchived?.name ?? '(none)', ageText(w.lastArchived?.ageSeconds), w.failingNow ? 'FAILING' : 'ok', w.readyFiles === undefined ? '-' : String(w.readyFiles), w.unshipped === undefined ? '-' : String(w.unshipped), w.lastShipped?.name ?? '(none)', rpo]])));
  }
  if (r.database || r.stores) {
    const rows = [['SERVICE', 'WHERE', 'STATE']];
    if (r.database) rows.push(['postgresql', `${r.database.host}:${r.database.port}`, r.database.reachable ? 'ok' : `UNREACHABLE: ${r.database.error ?? ''}`]);
    for (const s of r.stores ?? []) rows.push([s.name, s.location, s.reachable ? 'ok' : `UNREACHABLE: ${s.error ?? ''}`]);
    out.push(section('services (from the backup host)', table(rows)));
  }
  if (r.minio) {
    const rows = [['BUCKET', 'NEWEST SNAPSHOT', 'AGE', 'SIZE', 'OBJECTS', 'COPIES']];
    for (const s of r.minio.snapshots) rows.push([s.bucket, s.newest?.file ?? '(none)', ageText(s.ageSeconds), formatBytes(s.newest?.bytes), s.newest ? String(s.newest.objects) : '-', s.newest ? [s.newest.local ? 'local' : '', s.newest.remote ? 'remote' : ''].filter(Boolean).join('+') : '-']);
    const rep = r.minio.replication;
    const replication = !rep ? 'replication: no backup MinIO' : !rep.last ? 'replication: no run yet' : `replication: last run ${rep.last.result} ${ageText(Math.round((Date.parse(r.now) - Date.parse(rep.last.closedAt ?? rep.last.startedAt)) / 1000))}${rep.last.lagSeconds !== undefined ? `, lag ${formatAge(rep.last.lagSeconds)}, ${rep.last.pendingChanges} change(s) pending then` : ''} (every ${rep.intervalSeconds}s)`;
    out.push(section('MinIO', `${rows.length > 1 ? table(rows) : ''}${replication}\n`));
  }
  if (r.config) out.push(section('configuration files', `newest: ${r.config.newestKey ?? '(none)'}${r.config.newestAt ? `, ${ageText(r.config.ageSeconds)} (${r.config.outcome})` : ''}\n`));
  if (r.schedules) {
    out.push(section('schedules', r.schedules.length === 0 ? '(none: lifeboat schedules apply)\n' : table([['SCHEDULE', 'STATE', 'NEXT RUN (UTC)', 'LAST RUN (UTC)', 'LAST RESULT'], ...r.schedules.map((s) => [s.id, s.paused ? 'PAUSED' : 'active', when(s.nextRunAt), when(s.lastRunAt), s.lastResult ?? '-'])])));
  }
  if (r.alerts) out.push(section('firing alerts (last monitor run)', r.alerts.length === 0 ? '(none)\n' : table([['CONDITION', 'SEVERITY', 'SINCE (UTC)', 'SUMMARY'], ...r.alerts.map((a) => [a.condition, a.severity, when(a.since), a.summary])])));
  if (r.drill) {
    const ok = r.drill.lastSuccessful;
    const last = r.drill.last;
    const text = !last ? 'none yet' : `${ok ? `${ok.id}: RTO ${Math.round(ok.rtoSeconds)}s against ${Math.round(ok.rtoObjectiveSeconds)}s (${ok.rtoSeconds <= ok.rtoObjectiveSeconds ? 'met' : 'NOT met'}), ${ageText(Math.round((Date.parse(r.now) - Date.parse(ok.endedAt)) / 1000))}` : 'none has recovered'}${last.outcome !== 'recovered' ? `; newest ${last.id} ${last.outcome}` : ''}`;
    out.push(section('last DR drill', `${text}\n`));
  }
  if (r.disk) out.push(section('disk', `${r.disk.backupRoot}: ${Math.round(r.disk.usedPercent)}% used, ${formatBytes(r.disk.freeBytes)} free of ${formatBytes(r.disk.totalBytes)}\n`));
  return out.join('');
}

export const statusCommands: CommandSpec[] = [
  {
    name: 'status',
    summary: 'are we protected? newest backups per tier, PITR window, WAL and RPO exposure, MinIO, schedules, alerts, DR drill, workers, disk (exit 0 ok, 7 degraded, 3 unknown)',
    options: [{ flags: '--json', description: 'print the report as JSON (docs/status.md)' }],
    async run(_args, opts) {
      // Temporal unreachable is exit 3 through the usual mapping (exit-codes.ts).
      return withClient(async (client, config) => {
        const report = await collectStatus(client, config);
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
        return statusExitCode(report);
      });
    },
  },
];
