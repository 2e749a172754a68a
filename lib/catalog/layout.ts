/**
 * The storage layout, in one place: every folder and fixed name under BACKUP_ROOT,
 * MINIO_BACKUP_ROOT and S3_BUCKET, and the patterns that recognise what lives there. Other code asks
 * these names instead of spelling them (the seed's runbooks rely on them, so they never change).
 * Pure (workflows import it through lib/minio/names.ts); paths on disk are built in ./paths.ts.
 *
 *   $BACKUP_ROOT/wal-archive/<segment>                 archived WAL (raw)
 *   s3://$S3_BUCKET/wal-archive/<segment>.<enc>        shipped WAL (+ .metadata.json)
 *   $BACKUP_ROOT/logs/                                  prune log, alert log
 *   $MINIO_BACKUP_ROOT/snapshots/<bucket>_<stamp>.tar.gz[.gpg]
 *   s3://$S3_BUCKET/minio-snapshots/<same file>
 *   $BACKUP_ROOT/config/config_<stamp>.tar.zst[.gpg]    configuration files (+ .metadata.json)
 *   $BACKUP_ROOT/config/config_<stamp>.unchanged.json   a run that found the same files as the last archive
 *   s3://$S3_BUCKET/config/<same names>
 *   $BACKUP_ROOT/dr-reports/<workflow id>.json + .md   disaster-recovery reports (and s3://$S3_BUCKET/dr-reports/)
 */
/** The WAL archive folder (local) and key prefix (S3). */
export const WAL_ARCHIVE = 'wal-archive';
export const WAL_ARCHIVE_PREFIX = `${WAL_ARCHIVE}/`;
/** Logs beside the backups (`prune.jsonl`, ...). */
export const LOGS_DIR = 'logs';
/** MinIO snapshots below MINIO_BACKUP_ROOT, and their prefix in S3_BUCKET. */
export const SNAPSHOT_DIR = 'snapshots';
export const REMOTE_SNAPSHOT_PREFIX = 'minio-snapshots/';

/**
 * A snapshot file name: `<bucket>_<YYYYMMDD-HHMMSS>.tar.(gz|zst)[.gpg]`. Groups: bucket, stamp,
 * compression, `.gpg`. The bucket part is checked separately (lib/minio/names.ts bucketNameProblem).
 */
export const SNAPSHOT_FILE_PATTERN = /^(.+)_(\d{8}-\d{6})\.tar\.(gz|zst)(\.gpg)?$/;

/** Disaster-recovery reports (`<workflow id>.json` + `.md`) below BACKUP_ROOT, and the same prefix in S3_BUCKET. */
export const DR_REPORTS_DIR = 'dr-reports';

/** Configuration file backups below BACKUP_ROOT, and the same prefix in S3_BUCKET. */
export const CONFIG_DIR = 'config';
export const CONFIG_PREFIX = `${CONFIG_DIR}/`;
/** A configuration archive: `config_<YYYYMMDD-HHMMSS>.tar.(gz|zst)[.gpg]`. Groups: stamp, compression, `.gpg`. */
export const CONFIG_FILE_PATTERN = /^config_(\d{8}-\d{6})\.tar\.(gz|zst)(\.gpg)?$/;
/** The record of a run that found the configuration unchanged: `config_<YYYYMMDD-HHMMSS>.unchanged.json`. */
export const CONFIG_UNCHANGED_PATTERN = /^config_(\d{8}-\d{6})\.unchanged\.json$/;

/**
 * The audit trail below BACKUP_ROOT and the same prefix in S3_BUCKET (lib/audit/):
 *   audit/<YYYY-MM-DD>/<workflowType>/<workflowId>__<runId>.json.zst[.gpg]   one closed run's history
 *   audit/manifests/manifest-<NNNNNN>.json                                   one export, chained by sha256
 *   audit/cursor.json                                                        where the next export starts
 */
export const AUDIT_DIR = 'audit';
export const AUDIT_PREFIX = `${AUDIT_DIR}/`;
