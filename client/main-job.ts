/**
 * Lifeboat's main job, run by `npm start` once the stack and the worker are up: a sequence of
 * steps, each starting a workflow and returning one summary line. Later runbooks add their steps here.
 * It ends with one disaster-recovery drill end to end (its steps and RTO in the summary), after the
 * steps that give it something to recover: a base backup, the WAL after it archived and shipped,
 * the buckets mirrored and snapshotted, the configuration files backed up.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../lib/config/load';
import { describeBaseBackup, describeDatabaseBackup, shipWalLabel, startBackupBase, startBackupDatabase } from './commands/backup';
import { describeConfigBackup, startBackupConfigFiles } from './commands/config-files';
import { formatHealth, runHealthWorkflow } from './commands/health';
import { describeMinioBackup, describeMinioMirror, startMinioBackup, startMinioMirror } from './commands/minio';
import { describePlan } from './commands/schedules';
import { applySchedules } from './schedules';
import { DEFAULT_SCHEDULE_PREFIX, declaredSchedules } from '../lib/schedules/declared';
import { describeRestore, startRestore } from './commands/restore';
import { monitorBackups } from '../workflows/monitor-backups';
import { shipWal } from '../workflows/ship-wal';
import { disasterRecovery } from '../workflows/disaster-recovery';
import { recoverySeconds } from '../lib/dr/drills';
import type { DrReport } from '../lib/dr/report';
import { formatStamp } from '../lib/catalog/names';
import { switchWalAndWaitArchived } from '../lib/postgres/switch-wal';
import { startedByThisProcess, uiStartOptions } from './start-options';

/** Who the UI says started the main job's runs. */
const MAIN_JOB = (): string => `${startedByThisProcess()}: the main job (\`npm start\`)`;

export interface MainJobContext {
  client: Client;
  config: Config;
  taskQueue: string;
  hostTaskQueue: string;
  /** Facts earlier steps hand to later ones (e.g. the key of the backup just made). */
  made: { dailyBackup?: string };
}

export interface MainJobStep {
  name: string;
  run(ctx: MainJobContext): Promise<string>;
}

export const MAIN_JOB_STEPS: MainJobStep[] = [
  {
    name: 'health',
    async run(ctx) {
      const report = await runHealthWorkflow(ctx.client, ctx.config, ctx.taskQueue, ctx.hostTaskQueue, undefined, MAIN_JOB());
      return `health workflow ${report.workflowId} completed\n${formatHealth(report).replace(/^/gm, '    ').trimEnd()}`;
    },
  },
  {
    name: 'schedules apply',
    async run(ctx) {
      const plan = await applySchedules(ctx.client, declaredSchedules(ctx.config), DEFAULT_SCHEDULE_PREFIX);
      return describePlan(plan).trim().split('\n').pop() ?? '';
    },
  },
  {
    name: 'daily backup',
    async run(ctx) {
      const handle = await startBackupDatabase(ctx.client, ctx.config, 'daily', { taskQueue: ctx.taskQueue, startedBy: MAIN_JOB() });
      const result = await handle.result();
      ctx.made.dailyBackup = result.key;
      return `${handle.workflowId}: ${describeDatabaseBackup(result)}`;
    },
  },
  {
    name: 'base backup',
    async run(ctx) {
      const handle = await startBackupBase(ctx.client, ctx.config, { taskQueue: ctx.taskQueue, startedBy: MAIN_JOB() });
      return `${handle.workflowId}: ${describeBaseBackup(await handle.result())}`;
    },
  },
  {
    name: 'verify-only restore',
    async run(ctx) {
      if (!ctx.made.dailyBackup) throw new Error('no daily backup was made in this cycle');
      const handle = await startRestore(ctx.client, ctx.config, { backup: ctx.made.dailyBackup, verifyOnly: true, taskQueue: ctx.taskQueue });
      const result = await handle.result();
      if (!result.check.ok) throw new Error(`verify-only restore failed: ${describeRestore(result)}`);
      return `${handle.workflowId}: ${describeRestore(result)}`;
    },
  },
  {
    name: 'minio snapshot',
    async run(ctx) {
      const handle = await startMinioBackup(ctx.client, ctx.config, { taskQueue: ctx.taskQueue });
      return `${handle.workflowId}: ${describeMinioBackup(await handle.result())}`;
    },
  },
  {
    name: 'minio mirror',
    async run(ctx) {
      const handle = await startMinioMirror(ctx.client, ctx.config, { taskQueue: ctx.taskQueue });
      return `${handle.workflowId}: ${describeMinioMirror(await handle.result())}`;
    },
  },
  {
    name: 'config backup',
    async run(ctx) {
      const handle = await startBackupConfigFiles(ctx.client, ctx.config, { taskQueue: ctx.taskQueue, startedBy: MAIN_JOB() });
      return `${handle.workflowId}: ${describeConfigBackup(await handle.result())}`;
    },
  },
  {
    // The base backup shipped the WAL archived so far; the segment it ended in may not have been
    // archived yet. Close it, wait for the archiver, then ship: the drill recovers to this point.
    name: 'wal switch + ship',
    async run(ctx) {
      const switched = await switchWalAndWaitArchived(ctx.config.db);
      const workflowId = `ship-wal-main-${formatStamp(new Date())}`;
      const result = await ctx.client.workflow.execute(shipWal, { taskQueue: ctx.taskQueue, workflowId, args: [{}], ...(await shipWalLabel(ctx.client, MAIN_JOB())) });
      return `segment ${switched.segment} archived in ${switched.seconds.toFixed(1)} s; ${workflowId}: ${result.shipped.length} WAL files shipped off-site, ${result.backlog.pendingCount} left`;
    },
  },
  {
    // After every backup of the cycle, so the metrics and alerts include them (the drill follows).
    name: 'monitor',
    async run(ctx) {
      const result = await ctx.client.workflow.execute(monitorBackups, {
        taskQueue: ctx.taskQueue,
        workflowId: `monitor-backups-main-${Date.now()}`,
        args: [{}],
        ...(await uiStartOptions(ctx.client, {
          kind: 'monitor',
          summary: 'Backup monitoring: metrics and alerts',
          what: 'The seed\'s `monitor-backups.sh`: facts from the backup host and Temporal, the seed\'s metrics JSON, one evaluation per condition, alerts for what started or cleared.',
          show: 'lifeboat status',
          startedBy: MAIN_JOB(),
        })),
      });
      const firing = result.firing.map((e) => `${e.severity} ${e.condition}`).join(', ');
      return `metrics ${result.metricsFile}: ${JSON.stringify(result.metrics.metrics)}${firing ? `; firing: ${firing}` : '; no alert firing'}`;
    },
  },
  {
    name: 'dr drill',
    async run(ctx) {
      const handle = await ctx.client.workflow.start(disasterRecovery, {
        taskQueue: ctx.taskQueue,
        workflowId: `dr-drill-main-${formatStamp(new Date())}`,
        args: [{ mode: 'drill', autoApprove: true, declaredBy: 'npm start', reason: 'demo drill' }],
        ...(await uiStartOptions(ctx.client, {
          kind: 'dr-drill',
          summary: `DR drill of ${ctx.config.db.name}: the ten-step runbook into its own environment`,
          what: 'The disaster-recovery runbook end to end from the off-site copies into a drill environment, DNS gate approved automatically, cleaned up afterwards; measures the RTO.',
          show: 'lifeboat dr list',
          attributes: { LifeboatDatabase: ctx.config.db.name },
          startedBy: MAIN_JOB(),
        })),
      });
      const report = await handle.result();
      if (report.outcome !== 'recovered') throw new Error(`drill ${handle.workflowId} ${report.outcome}: ${report.error ?? 'see its report'}`);
      return `${handle.workflowId}: ${describeDrill(report).replace(/\n/g, '\n    ')}`;
    },
  },
];

/** One line per step of a drill's report, then its RTO against the objective. Pure. */
export function describeDrill(report: DrReport): string {
  const took = (s: number): string => (s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);
  const width = Math.max(...report.steps.map((s) => s.name.length));
  const steps = report.steps.map((s) => {
    const estimate = s.estimateSeconds !== undefined ? ` of ${took(s.estimateSeconds)}${s.seconds > s.estimateSeconds ? ' (over)' : ''}` : '';
    return `${s.name.padEnd(width)}  ${s.state.padEnd(4)} ${took(s.seconds).padStart(8)}${estimate}${s.detail ? `: ${s.detail}` : ''}`;
  });
  // The RTO ends where recovery ends (monitoring's definition): a drill's cleanup comes after it.
  const rto = recoverySeconds(report);
  const met = report.outcome === 'recovered' && rto <= report.rtoObjectiveSeconds;
  const line = `RTO ${rto.toFixed(1)} s against ${Math.round(report.rtoObjectiveSeconds / 60)} min (${met ? 'met' : 'NOT met'})`;
  return [`drill ${report.outcome}`, ...steps, line].join('\n');
}

export interface StepResult {
  name: string;
  ok: boolean;
  seconds: number;
  summary: string;
}

/** Run every step in order; a failed step is reported and stops the job. */
export async function runMainJob(ctx: MainJobContext, steps: MainJobStep[] = MAIN_JOB_STEPS): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const step of steps) {
    const started = Date.now();
    try {
      const summary = await step.run(ctx);
      results.push({ name: step.name, ok: true, seconds: (Date.now() - started) / 1000, summary });
    } catch (error) {
      const message = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}` : String(error);
      results.push({ name: step.name, ok: false, seconds: (Date.now() - started) / 1000, summary: message });
      break;
    }
  }
  return results;
}
