/**
 * The CLI is one command table: each verb declares its arguments and options and has one handler.
 * main.ts turns the table into a commander program and maps every error to an exit code.
 */
export interface CommandSpec {
  /** Space-separated path, e.g. 'stack up'. */
  name: string;
  summary: string;
  args?: { name: string; description: string; optional?: boolean; variadic?: boolean }[];
  options?: { flags: string; description: string; default?: string | boolean }[];
  /**
   * Everything after the verb goes to `run` untouched, options included (`lifeboat temporal ...`):
   * no validation, no --help of ours.
   */
  passThrough?: boolean;
  /** Returns the exit code (default 0). Throw for failures; exit-codes.ts maps them. */
  run(args: string[], opts: Record<string, unknown>): Promise<number | void>;
}

/**
 * What each command group is for, shown by `lifeboat --help` and `lifeboat <group> --help`. Every
 * group of the table needs an entry (test/unit/cli-help.test.ts checks it).
 */
export const GROUP_DESCRIPTIONS: Record<string, string> = {
  backup: 'take a backup now: PostgreSQL (logical), base (physical, for PITR), configuration files',
  backups: 'what is stored: every backup with its age, size, duration, copies and verification',
  wal: 'WAL archiving for point-in-time recovery: archive_command, restore_command, shipping, status',
  restore: 'restore a backup (or its configuration files, or a point in time) into a database or directory',
  pitr: 'clusters recovered to a point in time: list them, stop and remove them',
  dr: 'disaster recovery: the ten-step runbook (drill or failover), its approval gate and reports',
  minio: 'MinIO buckets: snapshots, mirror and replication to the backup MinIO, verification, restore',
  schedules: 'Temporal Schedules as code: the seed\'s crontab and what Lifeboat adds',
  stack: 'the local stack: Temporal dev server and UI, PostgreSQL, two MinIO servers, DNS',
  tools: 'the binaries the stack needs (temporal, minio, PostgreSQL, gpg, zstd, bind9; chromium for UI tests)',
  config: 'configuration: check the settings, generate their reference',
  audit: 'the audit trail: export workflow histories, verify the manifest chain, replay, show, report',
};
