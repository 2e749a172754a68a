/**
 * Schedules as code: the seed's crontab (MinIO snapshot 01:00, PostgreSQL daily 02:00, weekly
 * Sunday 03:00, monthly on the 1st 04:00, verification every 6 hours, monitoring hourly) plus what
 * Lifeboat adds (a daily base backup, WAL shipping every fifth of RPO_TARGET (10 s to 5 min; 1 min by default), daily retention pruning, MinIO
 * replication at REPLICATION_INTERVAL_SECONDS, a daily configuration file backup at 02:30, and a weekly
 * disaster-recovery drill on Wednesdays at 06:00, after the night's backups and pruning, early in a
 * staffed week so a failed drill is seen). Times are in SCHEDULE_TIME_ZONE; SCHEDULE_OVERRIDES
 * replaces calendar specs by name. Pure: config in, declaration out.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config/load';
import { shipIntervalSeconds } from '../wal/rpo';
import type { ScheduleName } from './names';

export const DEFAULT_SCHEDULE_PREFIX = 'lifeboat-';

export interface DeclaredSchedule {
  id: string;
  name: ScheduleName;
  description: string;
  /** 5-field cron in `timeZone`, or a fixed interval. */
  cron?: string;
  intervalSeconds?: number;
  timeZone: string;
  workflowType: string;
  args: unknown[];
  taskQueue: string;
  /** SKIP: a run still going makes the next one skip. BUFFER_ONE: it runs right after (missed runs matter). */
  overlap: 'SKIP' | 'BUFFER_ONE';
  /** After an outage of Temporal, runs missed within this window are still taken. */
  catchupWindowSeconds: number;
  /**
   * The seed's crontab line this schedule replaces (SEED_CRONTAB), or what it stands for when the
   * seed had no cron line for it. The schedule's note and `schedules list` show it.
   */
  replaces: string;
  /** The buckets a MinIO schedule's runs work on (BUCKETS_TO_BACKUP), for the UI's label and filter. */
  buckets?: string[];
}

/** Where the seed's crontab lived and its scripts (seed/backup-restore.md, "Backup Scheduling"). */
export const SEED_CRONTAB = '/opt/corporate-intel/config/production/backups/crontab';
const SCRIPTS = '/opt/corporate-intel/scripts/backup';

/**
 * The seed's crontab lines, as its "Schedule Overview" and script usage describe them (the crontab
 * file itself is not in the seed document), and what stands in for the rest.
 */
export const SEED_LINES: Record<ScheduleName, string> = {
  'minio-snapshot': `0 1 * * * ${SCRIPTS}/minio-backup.sh backup`,
  'postgres-daily': `0 2 * * * ${SCRIPTS}/postgres-backup.sh daily`,
  'postgres-weekly': `0 3 * * 0 ${SCRIPTS}/postgres-backup.sh weekly`,
  'postgres-monthly': `0 4 1 * * ${SCRIPTS}/postgres-backup.sh monthly`,
  verify: `0 */6 * * * ${SCRIPTS}/verify-backups.sh --latest`,
  monitor: `0 * * * * ${SCRIPTS}/monitor-backups.sh`,
  'minio-replicate': `no cron line: the seed ran \`${SCRIPTS}/minio-backup.sh replicate\` once to set up replication`,
  'wal-ship': `no cron line: the seed's archive_command \`${SCRIPTS}/postgres-backup.sh archive-wal %p %f\` copied WAL off-site itself`,
  'base-backup': 'no seed line: added by Lifeboat (point-in-time recovery needs a base backup)',
  prune: 'no seed line: the seed pruned by hand (`find /var/backups/postgres/daily -name "*.sql.*" -mtime +7 -delete`)',
  'audit-export': 'no seed line: added by Lifeboat (audit trail)',
  'config-backup': 'no seed line: added by Lifeboat (configuration files)',
  'dr-drill': 'no seed line: added by Lifeboat (weekly disaster-recovery drill)',
};

const HOUR = 3600;

export function declaredSchedules(config: Config, prefix = DEFAULT_SCHEDULE_PREFIX): DeclaredSchedule[] {
  const base = { timeZone: config.schedules.timeZone, taskQueue: config.temporal.taskQueue };
  // Shipping fast enough for the recovery point objective (see lib/wal/rpo.ts for the budget).
  const shipEvery = shipIntervalSeconds(config.monitor.rpoTargetSeconds);
  const list: Omit<DeclaredSchedule, 'id' | 'timeZone' | 'taskQueue' | 'replaces'>[] = [
    { name: 'minio-snapshot', description: 'MinIO bucket snapshots (seed: 1:00 AM)', cron: '0 1 * * *', workflowType: 'backupBuckets', args: [{}], overlap: 'BUFFER_ONE', catchupWindowSeconds: 6 * HOUR },
    { name: 'postgres-daily', description: 'PostgreSQL daily backup (seed: 2:00 AM)', cron: '0 2 * * *', workflowType: 'backupDatabase', args: [{ tier: 'daily' }], overlap: 'BUFFER_ONE', catchupWindowSeconds: 6 * HOUR },
    { name: 'postgres-weekly', description: 'PostgreSQL weekly backup (seed: Sundays 3:00 AM)', cron: '0 3 * * 0', workflowType: 'backupDatabase', args: [{ tier: 'weekly' }], overlap: 'BUFFER_ONE', catchupWindowSeconds: 24 * HOUR },
    { name: 'postgres-monthly', description: 'PostgreSQL monthly backup (seed: 1st of month 4:00 AM)', cron: '0 4 1 * *', workflowType: 'backupDatabase', args: [{ tier: 'monthly' }], overlap: 'BUFFER_ONE', catchupWindowSeconds: 48 * HOUR },
    { name: 'base-backup', description: 'Physical base backup for point-in-time recovery', cron: '30 0 * * *', workflowType: 'backupBase', args: [{}], overlap: 'BUFFER_ONE', catchupWindowSeconds: 6 * HOUR },
    { name: 'wal-ship', description: `Ship archived WAL off-site (every ${shipEvery} s: a fifth of RPO_TARGET)`, intervalSeconds: shipEvery, workflowType: 'shipWal', args: [{}], overlap: 'SKIP', catchupWindowSeconds: shipEvery },
    { name: 'verify', description: 'Verify the latest backups (seed: every 6 hours)', cron: '15 */6 * * *', workflowType: 'verifyBackups', args: [{ scope: 'latest' }], overlap: 'SKIP', catchupWindowSeconds: HOUR },
    { name: 'monitor', description: 'Backup monitoring and metrics (seed: hourly)', cron: '5 * * * *', workflowType: 'monitorBackups', args: [{}], overlap: 'SKIP', catchupWindowSeconds: 1800 },
    { name: 'prune', description: 'Retention pruning (7 daily, 4 weekly, 12 monthly, WAL 7 days local / 30 days remote)', cron: '0 5 * * *', workflowType: 'pruneBackups', args: [{}], overlap: 'SKIP', catchupWindowSeconds: 6 * HOUR },
    { name: 'audit-export', description: 'Audit trail: the history of every run closed since the last export, encrypted, local and off-site, in the manifest chain', cron: '15 4 * * *', workflowType: 'exportAuditTrail', args: [{}], overlap: 'SKIP', catchupWindowSeconds: 6 * HOUR },
    { name: 'config-backup', description: 'Configuration files (CONFIG_BACKUP_PATHS): an archive, or an "unchanged" entry when nothing changed', cron: '30 2 * * *', workflowType: 'backupConfigFiles', args: [{}], overlap: 'SKIP', catchupWindowSeconds: 6 * HOUR },
    // The drill restores from the off-site store only, so it is declared only when there is one.
    {
      name: 'dr-drill',
      description: 'Disaster-recovery drill: the ten-step runbook into its own environment, DNS gate approved automatically, cleaned up; measures the RTO',
      cron: '0 6 * * 3',
      workflowType: 'disasterRecovery',
      args: [{ mode: 'drill', autoApprove: true, declaredBy: `schedule ${prefix}dr-drill`, reason: 'weekly drill' }],
      overlap: 'SKIP',
      catchupWindowSeconds: 24 * HOUR,
    },
    { name: 'minio-replicate', description: 'Replicate MinIO source -> backup (incremental mirror)', intervalSeconds: config.minio.replicationIntervalSeconds, workflowType: 'replicateBuckets', args: [{}], overlap: 'SKIP', catchupWindowSeconds: config.minio.replicationIntervalSeconds },
  ];
  return list
    .filter((s) => s.name !== 'minio-replicate' || config.minio.backup !== undefined)
    .filter((s) => (s.name !== 'wal-ship' && s.name !== 'dr-drill') || config.remote.enabled)
    .map((s) => ({ ...s, ...base, id: `${prefix}${s.name}`, replaces: SEED_LINES[s.name], ...(/Buckets$/.test(s.workflowType) ? { buckets: config.minio.buckets } : {}), ...(config.schedules.overrides[s.name] ? { cron: config.schedules.overrides[s.name], intervalSeconds: undefined } : {}) }));
}

/** A fingerprint of everything apply controls, stored with the schedule to detect drift. */
export function scheduleHash(schedule: DeclaredSchedule): string {
  return createHash('sha256').update(JSON.stringify(schedule)).digest('hex').slice(0, 16);
}
