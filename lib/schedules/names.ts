/** Short names of the schedules Lifeboat declares (used by SCHEDULE_OVERRIDES and the CLI). */
export const SCHEDULE_NAMES = [
  'minio-snapshot', 'postgres-daily', 'postgres-weekly', 'postgres-monthly', 'base-backup', 'wal-ship', 'verify', 'monitor', 'prune', 'minio-replicate', 'config-backup', 'dr-drill', 'audit-export',
] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];
