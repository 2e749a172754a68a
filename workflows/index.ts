/** Every workflow the worker registers; one file per runbook. */
export { health } from './health';
export { backupDatabase } from './backup-database';
export { backupBase } from './backup-base';
export { shipWal } from './ship-wal';
export { restoreDatabase } from './restore-database';
export { verifyBackups } from './verify-backups';
export { pruneBackups } from './prune-backups';
export { monitorBackups } from './monitor-backups';
export { restorePointInTime } from './restore-point-in-time';
export { backupBuckets } from './backup-buckets';
export { mirrorBuckets } from './mirror-buckets';
export { replicateBuckets } from './replicate-buckets';
export { verifyBuckets } from './verify-buckets';
export { restoreBucket } from './restore-bucket';
export { disasterRecovery } from './disaster-recovery';
export { backupConfigFiles } from './backup-config-files';
export { restoreConfigFiles } from './restore-config-files';
