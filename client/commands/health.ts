/** `lifeboat health`: run the health workflow and print what each server reported. */
import { health, type HealthReport } from '../../workflows/health';
import { connectClient, loadCliContext } from '../context';
import type { CommandSpec } from '../command-table';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config/load';

export async function runHealthWorkflow(client: Client, config: Config, taskQueue = config.temporal.taskQueue, hostTaskQueue = config.temporal.hostTaskQueue): Promise<HealthReport> {
  return client.workflow.execute(health, {
    taskQueue,
    workflowId: `health-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    args: [{ hostTaskQueue }],
    workflowExecutionTimeout: '5 minutes',
  });
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
        const report = await runHealthWorkflow(client, config);
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatHealth(report));
      } finally {
        await client.connection.close();
      }
    },
  },
];
