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
