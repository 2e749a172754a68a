/**
 * Lifeboat's main job, run by `npm start` once the stack and the worker are up: a sequence of
 * steps, each starting a workflow and returning one summary line. Later runbooks add their steps here.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../lib/config/load';
import { describeBaseBackup, describeDatabaseBackup, startBackupBase, startBackupDatabase } from './commands/backup';
import { formatHealth, runHealthWorkflow } from './commands/health';
import { describeMinioBackup, describeMinioMirror, startMinioBackup, startMinioMirror } from './commands/minio';
import { describePlan } from './commands/schedules';
import { applySchedules } from './schedules';
import { DEFAULT_SCHEDULE_PREFIX, declaredSchedules } from '../lib/schedules/declared';
import { describeRestore, startRestore } from './commands/restore';
import { monitorBackups } from '../workflows/monitor-backups';

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
      const report = await runHealthWorkflow(ctx.client, ctx.config, ctx.taskQueue, ctx.hostTaskQueue);
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
      const handle = await startBackupDatabase(ctx.client, ctx.config, 'daily', { taskQueue: ctx.taskQueue });
      const result = await handle.result();
      ctx.made.dailyBackup = result.key;
      return `${handle.workflowId}: ${describeDatabaseBackup(result)}`;
    },
  },
  {
    name: 'base backup',
    async run(ctx) {
      const handle = await startBackupBase(ctx.client, ctx.config, { taskQueue: ctx.taskQueue });
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
    name: 'monitor',
    async run(ctx) {
      const result = await ctx.client.workflow.execute(monitorBackups, { taskQueue: ctx.taskQueue, workflowId: `monitor-backups-main-${Date.now()}`, args: [{}] });
      const firing = result.firing.map((e) => `${e.severity} ${e.condition}`).join(', ');
      return `metrics ${result.metricsFile}: ${JSON.stringify(result.metrics.metrics)}${firing ? `; firing: ${firing}` : '; no alert firing'}`;
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
];

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
