/**
 * `lifeboat prune [--dry-run]` and `lifeboat monitor [--json]`: retention and monitoring on demand.
 * Both runbooks work on the backup host's disk, so both refuse at once (exit 3) when no worker polls
 * the general queue or the backup host's queue, and both carry their UI label.
 */
import { formatStamp } from '../../lib/catalog/names';
import type { Config } from '../../lib/config/load';
import { monitorBackups } from '../../workflows/monitor-backups';
import { pruneBackups } from '../../workflows/prune-backups';
import type { PartialsSweep, PruneResult } from '../../activities/retention';
import type { CommandSpec } from '../command-table';
import { connectClient, loadCliContext } from '../context';
import { formatBytes, printJson } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import { uiStartOptions, type UiLabel } from '../start-options';

/** The UI label of a `prune` run. Pure. */
export function pruneLabel(config: Pick<Config, 'remote'>, dryRun: boolean): UiLabel {
  const where = config.remote.enabled ? 'BACKUP_ROOT and the off-site bucket' : 'BACKUP_ROOT';
  return {
    kind: 'prune',
    summary: `Retention ${dryRun ? 'plan (dry run, nothing removed)' : 'applied'}: ${where}`,
    what: `Retention as a runbook (the seed cleans up by hand with \`find ... -mtime +7 -delete\`): the policy (daily, weekly and monthly tiers; WAL and MinIO snapshots by age) planned over ${where}, each removal with its reason, never the newest good backup of a tier nor WAL a kept base backup needs${dryRun ? '. A dry run only reports what would go' : '; then removed, with the temp files interrupted runs left behind'}.`,
    show: 'lifeboat backups list',
  };
}

/** The UI label of a `monitor` run (the main job's own is in client/main-job.ts). Pure. */
export function monitorLabel(): UiLabel {
  return {
    kind: 'monitor',
    summary: 'Backup monitoring: metrics and alerts',
    what: 'The seed\'s `monitor-backups.sh`: facts from the backup host and Temporal, the seed\'s metrics JSON, one evaluation per condition, alerts for what started or cleared.',
    show: 'lifeboat status',
  };
}

function describePrune(r: PruneResult): string {
  const lines = r.removed.map((d) => `  ${r.dryRun ? 'would remove' : 'removed'} ${d.key}: ${d.reason}`);
  return `${r.location}: ${r.kept} kept, ${r.removed.length} ${r.dryRun ? 'to remove' : `removed (${formatBytes(r.bytesFreed)} freed)`}\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
}

function describePartials(p: PartialsSweep): string {
  if (p.files.length === 0) return '';
  const lines = p.files.map((f) => `  ${p.dryRun ? 'would remove' : 'removed'} ${f.path}: temp file of an interrupted run, ${formatBytes(f.bytes)}, untouched for ${Math.round(f.ageSeconds / 3600)} h`);
  return `stale temp files (untouched > ${Math.round(p.minAgeSeconds / 3600)} h): ${p.files.length} ${p.dryRun ? 'to remove' : `removed (${formatBytes(p.bytesFreed)} freed)`}\n${lines.join('\n')}\n`;
}

export const maintenanceCommands: CommandSpec[] = [
  {
    name: 'prune',
    summary: 'apply the retention policy locally and on S3 (--dry-run prints the plan with reasons)',
    options: [{ flags: '--dry-run', description: 'plan only' }, { flags: '--json', description: 'machine-readable output' }],
    async run(_args, opts) {
      const { config } = loadCliContext();
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const result = await awaitResult(await client.workflow.start(pruneBackups, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `prune-backups-${opts.dryRun ? 'dry-run-' : ''}${formatStamp(new Date())}`,
          args: [{ dryRun: Boolean(opts.dryRun) }],
          ...(await uiStartOptions(client, pruneLabel(config, Boolean(opts.dryRun)))),
        }));
        if (opts.json) {
          printJson(result);
        } else {
          process.stdout.write(describePrune(result.local));
          if (result.partials) process.stdout.write(describePartials(result.partials));
          if (result.remote) process.stdout.write(describePrune(result.remote));
          if (result.archiveTier) process.stdout.write(`archive tier: ${result.archiveTier.detail}\n`);
        }
      } finally {
        await client.connection.close();
      }
    },
  },
  {
    name: 'monitor',
    summary: 'run the monitoring workflow now: metrics JSON, firing conditions, alerts sent',
    options: [{ flags: '--json', description: 'machine-readable output' }],
    async run(_args, opts) {
      const { config } = loadCliContext();
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const result = await awaitResult(await client.workflow.start(monitorBackups, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `monitor-backups-${formatStamp(new Date())}`,
          args: [{}],
          ...(await uiStartOptions(client, monitorLabel())),
        }));
        if (opts.json) {
          printJson(result);
        } else {
          process.stdout.write(`${JSON.stringify(result.metrics, null, 2)}\nwritten to ${result.metricsFile}\n`);
          for (const e of result.firing) process.stdout.write(`FIRING ${e.severity} ${e.condition}: ${e.summary}\n`);
          for (const s of result.sent) process.stdout.write(`sent ${s.resolved ? 'resolve' : s.severity} for ${s.condition}\n`);
        }
        return result.firing.some((e) => e.severity === 'critical') ? 1 : 0;
      } finally {
        await client.connection.close();
      }
    },
  },
];
