/**
 * The monitoring figures as Prometheus metrics: `/metrics` renders the latest metrics JSON (the
 * seed's seven figures, same values, and Lifeboat's additions such as the last drill's RTO) and the
 * extra facts of `lifeboat-status.json`. Read at every scrape, so the endpoint always serves what
 * the last monitoring run wrote.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigInvalid } from '../errors';
import { configSuccessRate, type MonitorFacts, type SeedMetrics } from './evaluate';

const HELP: Record<keyof SeedMetrics['metrics'], string> = {
  last_backup_age_hours: 'Hours since the newest good logical backup finished',
  last_backup_size_mb: 'Size of the newest good logical backup in MiB',
  disk_usage_percent: 'Used space of the BACKUP_ROOT file system, percent',
  success_rate_percent: "Share of Lifeboat's workflows of the last 7 days that succeeded, percent",
  daily_backup_count: 'Daily backups on local disk',
  weekly_backup_count: 'Weekly backups on local disk',
  monthly_backup_count: 'Monthly backups on local disk',
  last_drill_rto_seconds: 'Recovery time (declaration to recovery) the newest successful DR drill measured, seconds',
  last_drill_age_hours: 'Hours since the newest successful DR drill ended',
  rpo_exposure_seconds: 'Seconds of committed work not yet off-site: now minus the archive time of the newest shipped WAL segment (0 when nothing was written since)',
};

export function renderPrometheus(metrics: SeedMetrics, facts?: MonitorFacts): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, value: number | undefined): void => {
    if (value === undefined || !Number.isFinite(value)) return;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  };
  for (const [field, help] of Object.entries(HELP) as [keyof SeedMetrics['metrics'], string][]) gauge(`lifeboat_${field}`, help, metrics.metrics[field]);
  gauge('lifeboat_metrics_timestamp_seconds', 'When the monitoring run that wrote these figures ran', Date.parse(metrics.timestamp) / 1000);
  if (facts?.database) gauge('lifeboat_database_up', 'Whether PostgreSQL accepted a connection from the backup host (1) or not (0)', facts.database.reachable ? 1 : 0);
  if (facts?.wal) {
    gauge('lifeboat_wal_newest_archived_age_seconds', 'Age of the newest archived WAL file', facts.wal.newestArchivedAgeSeconds);
    gauge('lifeboat_wal_archiver_failed_total', 'pg_stat_archiver.failed_count', facts.wal.archiverFailedCount);
    gauge('lifeboat_wal_ready_files', 'WAL files waiting in pg_wal/archive_status', facts.wal.readyFiles);
    gauge('lifeboat_wal_unshipped_files', 'Archived WAL files not yet copied off-site', facts.wal.unshipped);
  }
  if (facts) {
    gauge('lifeboat_backups_without_remote_copy', 'Local backups without their off-site copy', facts.remoteEnabled ? facts.backups.filter((b) => b.remote === false).length : undefined);
    if (facts.config) {
      gauge('lifeboat_config_backup_age_seconds', 'Age of the newest configuration file backup (archive or unchanged record)', facts.config.newestAt ? Math.round((Date.parse(facts.now) - Date.parse(facts.config.newestAt)) / 1000) : undefined);
      gauge('lifeboat_config_backup_success_rate_percent', 'Share of configuration backups of the last 7 days that succeeded, percent', configSuccessRate(facts));
    }
    if (facts.drill) {
      const { last, lastSuccessful: ok } = facts.drill;
      gauge('lifeboat_dr_drill_age_seconds', 'Seconds since the newest successful DR drill ended', ok ? Math.round((Date.parse(facts.now) - Date.parse(ok.endedAt)) / 1000) : undefined);
      gauge('lifeboat_dr_drill_rto_seconds', 'Recovery time the newest successful DR drill measured, seconds', ok?.rtoSeconds);
      gauge('lifeboat_dr_drill_rto_objective_seconds', 'RTO objective the newest successful DR drill ran against (DR_RTO_MINUTES), seconds', ok?.rtoObjectiveSeconds);
      gauge('lifeboat_dr_last_drill_success', 'Whether the newest DR drill recovered (1) or failed or was aborted (0)', last ? (last.outcome === 'recovered' ? 1 : 0) : undefined);
    }
    gauge('lifeboat_rpo_target_seconds', 'The recovery point objective (RPO_TARGET), seconds', facts.rpo?.targetSeconds);
    gauge('lifeboat_latest_backups_failed_verification', 'Latest backups whose last verification failed', facts.verification.latestFailed.length);
  }
  return `${lines.join('\n')}\n`;
}

/** Serve `/metrics` from `<metricsDir>/latest.json` and `lifeboat-status.json` on host:port. */
export function startMetricsServer(metricsDir: string, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end('not found\n');
      return;
    }
    void (async () => {
      try {
        const metrics = JSON.parse(await readFile(join(metricsDir, 'latest.json'), 'utf8')) as SeedMetrics;
        const facts = await readFile(join(metricsDir, 'lifeboat-status.json'), 'utf8').then((t) => JSON.parse(t) as MonitorFacts, () => undefined);
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderPrometheus(metrics, facts));
      } catch {
        response.writeHead(503, { 'content-type': 'text/plain' }).end('# no monitoring run has written metrics yet\n');
      }
    })();
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      // Another worker on this machine (or any other process) holds the port: say which setting.
      if (error.code === 'EADDRINUSE') {
        reject(new ConfigInvalid([{ env: 'BACKUP_METRICS_PORT', message: `${host}:${port} is already in use (another worker on this machine?)`, hint: 'set BACKUP_METRICS_PORT to a free TCP port for each worker, or unset it to serve no /metrics' }]));
      } else {
        reject(error);
      }
    });
    server.listen(port, host, () => resolve(server));
  });
}
