/**
 * `lifeboat health`: run the health workflow and print what each server reported. It refuses at
 * once (exit 3) when no worker polls the general or this host's task queue, instead of waiting.
 */
import { health, type HealthReport } from '../../workflows/health';
import { connectClient, loadCliContext } from '../context';
import type { CommandSpec } from '../command-table';
import { printJson } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config/load';
import { declaredSchedules } from '../../lib/schedules/declared';
import { namespaceRetentionSeconds, retentionWarning } from '../schedules';
import { uiStartOptions } from '../start-options';

/** The audit trail's retention check (issue 13): a warning line, or undefined when retention is long enough or unknown. */
async function auditRetentionWarning(client: Client, config: Config): Promise<string | undefined> {
  const seconds = await namespaceRetentionSeconds(client, config.temporal.namespace).catch(() => undefined);
  return retentionWarning(seconds, declaredSchedules(config), config.temporal.namespace, config.temporal.address);
}

export async function runHealthWorkflow(client: Client, config: Config, taskQueue = config.temporal.taskQueue, hostTaskQueue = config.temporal.hostTaskQueue, out?: NodeJS.WritableStream, startedBy?: string): Promise<HealthReport> {
  const handle = await client.workflow.start(health, {
    taskQueue,
    workflowId: `health-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    args: [{ hostTaskQueue }],
    workflowExecutionTimeout: '5 minutes',
    ...(await uiStartOptions(client, {
      kind: 'health',
      summary: `Health check: PostgreSQL, both MinIO servers, BACKUP_ROOT on ${hostTaskQueue}`,
      what: `The worker on \`${taskQueue}\` reaches PostgreSQL (${config.db.host}:${config.db.port}/${config.db.name}) and both MinIO servers; the one on \`${hostTaskQueue}\` checks its disk. From the UI: start workflow type \`health\` on task queue \`${taskQueue}\` with input \`{"hostTaskQueue": "${hostTaskQueue}"}\`.`,
      show: 'lifeboat health',
      startedBy,
    })),
  });
  // Without `out` (the main job), wait quietly; the CLI reports retries on stderr.
  return out ? awaitResult(handle, out) : handle.result();
}

export function formatHealth(report: HealthReport): string {
  const minio = (r: HealthReport['minioSource']): string =>
    r.endpoint === null ? `not configured` : `${r.endpoint} version ${r.version}, buckets: ${r.buckets.join(', ') || '(none)'}`;
  const lines = [
    `postgresql   ${report.postgres.host}:${report.postgres.port}/${report.postgres.database} version ${report.postgres.version}, ${(report.postgres.databaseSizeBytes / 1e6).toFixed(1)} MB`,
    `minio source ${minio(report.minioSource)}`,
    `minio backup ${minio(report.minioBackup)}`,
  ];
  if (report.local) {
    lines.push(`backup host  ${report.local.host}: ${report.local.backupRoot} ${report.local.exists ? `${((report.local.freeBytes ?? 0) / 1e9).toFixed(1)} GB free` : 'does not exist yet'}`);
  }
  return `${lines.join('\n')}\n`;
}

export const healthCommands: CommandSpec[] = [
  {
    name: 'health',
    summary: 'run the health workflow: the worker reaches PostgreSQL, both MinIO servers and its disk',
    options: [{ flags: '--json', description: 'print the report as JSON' }],
    async run(_args, opts) {
      const { config } = loadCliContext();
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.hostTaskQueue]);
        const report = await runHealthWorkflow(client, config, undefined, undefined, process.stderr);
        if (opts.json) printJson(report);
        else process.stdout.write(formatHealth(report));
        const warning = await auditRetentionWarning(client, config);
        if (warning) process.stderr.write(`warning: ${warning}\n`);
      } finally {
        await client.connection.close();
      }
    },
  },
];
