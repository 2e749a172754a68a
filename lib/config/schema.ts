/**
 * The configuration schema: the single source of truth for every setting Lifeboat reads.
 *
 * Each setting is declared once with its environment variable (the seed's names where the seed
 * has one), its type, default, description, a hint for fixing a bad value and whether it is secret.
 * `loadConfig` (load.ts) validates an environment against this table and `renderConfigDocs`
 * (docs.ts) generates docs/configuration.md from it; a unit test fails when that file drifts.
 */
import { z } from 'zod';
import { ENVIRONMENT_KINDS } from '../environment/kinds';
import { inZone, isDnsName, parseHostPort } from '../dns/records';
import { DEFAULT_ALERT_ROUTES, parseAlertRoutes } from '../notify/routes';
import { parseScheduleOverrides } from '../schedules/cron';
import { SCHEDULE_NAMES } from '../schedules/names';
import { rpoTargetProblem } from '../wal/rpo';
import { parsePayloadKeys } from '../codec/keys';

/** What a setting's value is; decides parsing, validation and the docs' "type" column. */
export type SettingKind =
  | { type: 'string' }
  | { type: 'host' }
  | { type: 'port' }
  | { type: 'int'; min: number; max: number }
  | { type: 'bool' }
  | { type: 'url'; protocols: readonly string[] }
  | { type: 'path' }
  | { type: 'list' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'email-list' }
  | { type: 'timezone' };

export interface SettingSpec {
  /** Environment variable name (also the key in the env file). */
  env: string;
  kind: SettingKind;
  /** Default as the raw string an operator would write; undefined = no default. */
  default?: string;
  /** Required unconditionally (conditional requirements live in `crossFieldRules`). */
  required?: boolean;
  /** Secret values are never logged, never put in workflow payloads and shown as *** in docs. */
  secret?: boolean;
  group: string;
  description: string;
  /** How to fix a bad or missing value; printed after `hint:`. */
  hint: string;
}

const s = (spec: SettingSpec): SettingSpec => spec;

/** Every setting, in documentation order. */
export const SETTINGS = [
  // --- PostgreSQL (the seed's names) ---
  s({ env: 'DB_HOST', kind: { type: 'host' }, required: true, group: 'PostgreSQL', description: 'Host of the PostgreSQL server to back up.', hint: 'set DB_HOST to a host name or IP address, e.g. DB_HOST=localhost' }),
  s({ env: 'DB_PORT', kind: { type: 'port' }, default: '5432', group: 'PostgreSQL', description: 'Port of the PostgreSQL server.', hint: 'set DB_PORT to a TCP port between 1 and 65535' }),
  s({ env: 'DB_NAME', kind: { type: 'string' }, default: 'corporate_intel', group: 'PostgreSQL', description: 'Database to back up and restore.', hint: 'set DB_NAME to an existing database name' }),
  s({ env: 'DB_USER', kind: { type: 'string' }, default: 'postgres', group: 'PostgreSQL', description: 'Role used by pg_dump, pg_basebackup and psql (needs REPLICATION for base backups).', hint: 'set DB_USER to a PostgreSQL role name' }),
  s({ env: 'PGPASSWORD', kind: { type: 'string' }, secret: true, group: 'PostgreSQL', description: 'Password of DB_USER; passed to the PostgreSQL tools through their environment, never argv.', hint: 'set PGPASSWORD, or leave it unset to use ~/.pgpass or trust/peer authentication' }),
  s({ env: 'PG_BIN_DIR', kind: { type: 'path' }, group: 'PostgreSQL', description: 'Directory holding pg_dump, pg_basebackup, psql of the server\'s major version; empty = search PATH and /usr/lib/postgresql/<major>/bin.', hint: 'set PG_BIN_DIR to an absolute directory such as /usr/lib/postgresql/15/bin' }),

  // --- Backup storage ---
  s({ env: 'BACKUP_ROOT', kind: { type: 'path' }, default: '/var/backups/postgres', group: 'Backup storage', description: 'Root of the local backup tree (daily/, weekly/, monthly/, base/, wal-archive/, logs/, metrics/).', hint: 'set BACKUP_ROOT to an absolute directory path, e.g. /var/backups/postgres' }),
  s({ env: 'COMPRESSION', kind: { type: 'enum', values: ['zstd', 'gzip'] }, default: 'zstd', group: 'Backup storage', description: 'Compression of dumps and base backups; the file name always says which (.zst or .gz).', hint: 'set COMPRESSION to zstd (fast, default) or gzip (seed-compatible)' }),
  s({ env: 'COMPRESSION_LEVEL', kind: { type: 'int', min: 1, max: 19 }, group: 'Backup storage', description: 'Compression level; default 1 for zstd (on the benchmark data it is both faster and smaller than 3, and smaller than gzip -6), 6 for gzip (gzip accepts 1-9).', hint: 'set COMPRESSION_LEVEL to an integer, 1-19 for zstd or 1-9 for gzip' }),
  s({ env: 'DUMP_FORMAT', kind: { type: 'enum', values: ['plain', 'custom'] }, default: 'plain', group: 'Backup storage', description: 'pg_dump format: plain SQL as in the seed (.sql...) or custom (.dump..., restored with pg_restore).', hint: 'set DUMP_FORMAT to plain or custom' }),

  // --- Configuration files (the seed's third backup component) ---
  s({ env: 'CONFIG_BACKUP_PATHS', kind: { type: 'list' }, default: '/etc/default/corporate-intel-backup,/etc/postgresql/14/main/postgresql.conf,/etc/postgresql/14/main/pg_hba.conf,/opt/corporate-intel/config/production/backups/crontab', group: 'Configuration files', description: 'Comma-separated absolute files and directories (directories with everything below them) that `backupConfigFiles` archives into `$BACKUP_ROOT/config/config_<stamp>.tar.zst[.gpg]` on the backup host; the default is the seed\'s list (env file, PostgreSQL config, crontab). A path that does not exist is a warning in the result and the metadata; files that are not regular files, directories or symbolic links (FIFOs, sockets, devices) and unreadable files fail the run.', hint: 'set CONFIG_BACKUP_PATHS to absolute paths separated by commas, e.g. /etc/default/corporate-intel-backup,/etc/postgresql/15/main' }),
  s({ env: 'CONFIG_BACKUP_EXCLUDE', kind: { type: 'list' }, group: 'Configuration files', description: 'Comma-separated globs left out of configuration backups: a pattern without `/` matches a name anywhere (`*.swp`), one with `/` matches the absolute path (`/etc/postgresql/*/main/conf.d/*.bak`); `*` and `?` stay within a path segment, `**` crosses segments.', hint: 'set CONFIG_BACKUP_EXCLUDE to globs separated by commas, e.g. *.swp,*~,/etc/app/cache/**' }),

  // --- Restore ---
  s({ env: 'RESTORE_TIME_ZONE', kind: { type: 'timezone' }, default: 'UTC', group: 'Restore', description: 'IANA time zone for PITR target times written without an offset; times that are ambiguous or skipped in this zone (DST changes) are refused.', hint: 'set RESTORE_TIME_ZONE to an IANA zone such as UTC or Europe/Berlin' }),
  s({ env: 'RESTORE_DATA_ROOT', kind: { type: 'path' }, default: '/var/lib/lifeboat/restore', group: 'Restore', description: 'Where point-in-time recovery creates new data directories (one per run); must be reachable by the postgres OS user.', hint: 'set RESTORE_DATA_ROOT to an absolute directory on a disk with room for the cluster' }),
  s({ env: 'RESTORE_PORT', kind: { type: 'port' }, default: '55432', group: 'Restore', description: 'Default port of the cluster a point-in-time recovery starts.', hint: 'set RESTORE_PORT to a free TCP port' }),

  // --- Encryption ---
  s({ env: 'ENCRYPT_BACKUPS', kind: { type: 'bool' }, default: 'true', group: 'Encryption', description: 'Encrypt every artifact with OpenPGP to GPG_RECIPIENT (decryptable with plain gpg).', hint: 'set ENCRYPT_BACKUPS to true or false' }),
  s({ env: 'GPG_RECIPIENT', kind: { type: 'string' }, group: 'Encryption', description: 'User id or fingerprint of the recipient key (required when ENCRYPT_BACKUPS=true).', hint: 'set GPG_RECIPIENT to the e-mail or fingerprint of the backup key, e.g. backup@corporate-intel.local' }),
  s({ env: 'GPG_PUBLIC_KEY_FILE', kind: { type: 'path' }, group: 'Encryption', description: 'Armored public key file; when unset the key is exported from the local GnuPG keyring.', hint: 'set GPG_PUBLIC_KEY_FILE to an absolute path of an armored public key (gpg --export --armor)' }),
  s({ env: 'GPG_PRIVATE_KEY_FILE', kind: { type: 'path' }, group: 'Encryption', description: 'Armored private key file used by restore and verification; when unset the local GnuPG keyring is used.', hint: 'set GPG_PRIVATE_KEY_FILE to an absolute path of an armored private key' }),
  s({ env: 'GPG_PASSPHRASE', kind: { type: 'string' }, secret: true, group: 'Encryption', description: 'Passphrase of the private key, if it has one.', hint: 'set GPG_PASSPHRASE or use a key without passphrase on the restore host' }),
  s({ env: 'GNUPGHOME', kind: { type: 'path' }, group: 'Encryption', description: 'GnuPG home directory used when keys come from a keyring.', hint: 'set GNUPGHOME to an absolute directory path' }),

  // --- Remote storage (S3) ---
  s({ env: 'REMOTE_STORAGE', kind: { type: 'bool' }, default: 'false', group: 'Remote storage', description: 'Copy every artifact off-site to S3_BUCKET.', hint: 'set REMOTE_STORAGE to true or false' }),
  s({ env: 'S3_BUCKET', kind: { type: 'string' }, group: 'Remote storage', description: 'Bucket for off-site copies (required when REMOTE_STORAGE=true).', hint: 'set S3_BUCKET to a bucket name, e.g. corporate-intel-backups' }),
  s({ env: 'S3_ENDPOINT', kind: { type: 'url', protocols: ['http', 'https'] }, default: 'https://s3.amazonaws.com', group: 'Remote storage', description: 'S3-compatible endpoint URL.', hint: 'set S3_ENDPOINT to an http(s) URL, e.g. https://s3.amazonaws.com or http://127.0.0.1:9000' }),
  s({ env: 'S3_REGION', kind: { type: 'string' }, default: 'us-east-1', group: 'Remote storage', description: 'Region passed to the S3 client.', hint: 'set S3_REGION, e.g. us-east-1' }),
  s({ env: 'S3_STORAGE_CLASS', kind: { type: 'string' }, default: 'STANDARD', group: 'Remote storage', description: 'Storage class of uploaded objects (STANDARD, STANDARD_IA, ...).', hint: 'set S3_STORAGE_CLASS to a class your provider supports' }),
  s({ env: 'S3_PART_SIZE_MB', kind: { type: 'int', min: 5, max: 5120 }, default: '16', group: 'Remote storage', description: 'Part size of multipart uploads; a resumed upload re-sends at most one part per worker crash.', hint: 'set S3_PART_SIZE_MB between 5 and 5120' }),
  s({ env: 'S3_UPLOAD_CONCURRENCY', kind: { type: 'int', min: 1, max: 16 }, default: '3', group: 'Remote storage', description: 'Parts of one upload sent at the same time; memory is about (N + 1) x S3_PART_SIZE_MB.', hint: 'set S3_UPLOAD_CONCURRENCY between 1 and 16' }),
  s({ env: 'UPLOAD_RATE_LIMIT_MBPS', kind: { type: 'int', min: 1, max: 100000 }, group: 'Remote storage', description: 'Cap on upload bandwidth in MB/s per upload; unset = no cap.', hint: 'set UPLOAD_RATE_LIMIT_MBPS to a whole number of MB/s, or unset it' }),
  s({ env: 'AWS_ACCESS_KEY_ID', kind: { type: 'string' }, group: 'Remote storage', description: 'Access key for S3_ENDPOINT.', hint: 'set AWS_ACCESS_KEY_ID' }),
  s({ env: 'AWS_SECRET_ACCESS_KEY', kind: { type: 'string' }, secret: true, group: 'Remote storage', description: 'Secret key for S3_ENDPOINT.', hint: 'set AWS_SECRET_ACCESS_KEY' }),

  // --- Alerting ---
  s({ env: 'SLACK_WEBHOOK', kind: { type: 'url', protocols: ['http', 'https'] }, secret: true, group: 'Alerting', description: 'Slack incoming-webhook URL (the URL is a credential).', hint: 'set SLACK_WEBHOOK to https://hooks.slack.com/services/...' }),
  s({ env: 'EMAIL_ALERTS', kind: { type: 'email-list' }, group: 'Alerting', description: 'Comma-separated addresses that receive alert e-mails.', hint: 'set EMAIL_ALERTS to one or more addresses separated by commas' }),
  s({ env: 'SMTP_URL', kind: { type: 'url', protocols: ['smtp', 'smtps'] }, secret: true, group: 'Alerting', description: 'SMTP server for alert e-mails, e.g. smtp://user:pass@mail:587.', hint: 'set SMTP_URL to smtp://host:port or smtps://user:pass@host:465' }),
  s({ env: 'ALERT_ROUTES', kind: { type: 'string' }, default: DEFAULT_ALERT_ROUTES, group: 'Alerting', description: 'Channels per severity, `severity=channel,channel;...`; channels: slack, email, pagerduty (PagerDuty gets critical alerts only). Unconfigured channels are skipped.', hint: 'write e.g. critical=slack,email,pagerduty;warning=slack,email;info=slack' }),
  s({ env: 'ALERT_EMAIL_FROM', kind: { type: 'string' }, default: 'lifeboat@localhost', group: 'Alerting', description: 'Sender address of alert e-mails.', hint: 'set ALERT_EMAIL_FROM to an address your SMTP server accepts' }),
  s({ env: 'PAGERDUTY_EVENTS_URL', kind: { type: 'url', protocols: ['http', 'https'] }, default: 'https://events.pagerduty.com/v2/enqueue', group: 'Alerting', description: 'PagerDuty Events API v2 endpoint.', hint: 'leave PAGERDUTY_EVENTS_URL at its default unless you proxy PagerDuty' }),
  s({ env: 'PAGERDUTY_ROUTING_KEY', kind: { type: 'string' }, secret: true, group: 'Alerting', description: 'PagerDuty Events API v2 routing key; critical alerts page on-call.', hint: 'set PAGERDUTY_ROUTING_KEY to the integration key of your service' }),

  // --- Schedules, retention, monitoring ---
  s({ env: 'SCHEDULE_TIME_ZONE', kind: { type: 'timezone' }, default: 'UTC', group: 'Schedules', description: 'Time zone of the schedules\' calendar specs (the seed\'s crontab times are local times of this zone).', hint: 'set SCHEDULE_TIME_ZONE to an IANA zone such as UTC or Europe/Berlin' }),
  s({ env: 'SCHEDULE_OVERRIDES', kind: { type: 'string' }, group: 'Schedules', description: 'Replace calendar specs of declared schedules: `name=cron;name=cron` (names: postgres-daily, postgres-weekly, postgres-monthly, base-backup, minio-snapshot, verify, monitor, prune, config-backup, dr-drill).', hint: 'write e.g. postgres-daily=30 2 * * *;verify=0 */4 * * *' }),
  s({ env: 'RETENTION_DAILY', kind: { type: 'int', min: 1, max: 10000 }, default: '7', group: 'Retention', description: 'Daily logical backups kept (the newest N).', hint: 'set RETENTION_DAILY to 1 or more' }),
  s({ env: 'RETENTION_WEEKLY', kind: { type: 'int', min: 1, max: 10000 }, default: '4', group: 'Retention', description: 'Weekly logical backups kept.', hint: 'set RETENTION_WEEKLY to 1 or more' }),
  s({ env: 'RETENTION_MONTHLY', kind: { type: 'int', min: 1, max: 10000 }, default: '12', group: 'Retention', description: 'Monthly logical backups kept.', hint: 'set RETENTION_MONTHLY to 1 or more' }),
  s({ env: 'RETENTION_WAL_LOCAL_DAYS', kind: { type: 'int', min: 1, max: 3650 }, default: '7', group: 'Retention', description: 'PITR window kept on local disk: base backups and WAL covering the last N days.', hint: 'set RETENTION_WAL_LOCAL_DAYS to 1 or more' }),
  s({ env: 'RETENTION_WAL_REMOTE_DAYS', kind: { type: 'int', min: 1, max: 3650 }, default: '30', group: 'Retention', description: 'PITR window kept on S3.', hint: 'set RETENTION_WAL_REMOTE_DAYS to 1 or more' }),
  s({ env: 'RETENTION_SNAPSHOT_DAYS', kind: { type: 'int', min: 1, max: 3650 }, default: '7', group: 'Retention', description: 'MinIO snapshots kept (days); the newest of each bucket is always kept.', hint: 'set RETENTION_SNAPSHOT_DAYS to 1 or more' }),
  s({ env: 'ARCHIVE_STORAGE_CLASS', kind: { type: 'string' }, group: 'Retention', description: 'When set, a lifecycle rule moves remote monthly backups to this storage class (e.g. GLACIER, DEEP_ARCHIVE, or a MinIO tier name) after ARCHIVE_AFTER_DAYS; the local copy stays hot.', hint: 'set ARCHIVE_STORAGE_CLASS to a class or tier your S3 target supports, or unset it' }),
  s({ env: 'ARCHIVE_AFTER_DAYS', kind: { type: 'int', min: 1, max: 3650 }, default: '35', group: 'Retention', description: 'Age at which remote monthly backups move to ARCHIVE_STORAGE_CLASS (the newest monthly stays hot).', hint: 'set ARCHIVE_AFTER_DAYS to 1 or more' }),
  s({ env: 'MONITOR_MAX_BACKUP_AGE_HOURS', kind: { type: 'int', min: 1, max: 8760 }, default: '24', group: 'Monitoring', description: 'Alert when the newest good logical backup is older than this.', hint: 'set MONITOR_MAX_BACKUP_AGE_HOURS to 1 or more' }),
  s({ env: 'MONITOR_SIZE_MIN_PERCENT', kind: { type: 'int', min: 1, max: 100 }, default: '50', group: 'Monitoring', description: 'Alert when the newest backup is smaller than this percentage of the median of the previous ones of its tier.', hint: 'set MONITOR_SIZE_MIN_PERCENT between 1 and 100' }),
  s({ env: 'MONITOR_SIZE_MAX_PERCENT', kind: { type: 'int', min: 100, max: 10000 }, default: '200', group: 'Monitoring', description: 'Alert when the newest backup is larger than this percentage of that median.', hint: 'set MONITOR_SIZE_MAX_PERCENT to 100 or more' }),
  s({ env: 'MONITOR_DISK_WARN_PERCENT', kind: { type: 'int', min: 1, max: 100 }, default: '80', group: 'Monitoring', description: 'Warn when BACKUP_ROOT\'s file system is this full.', hint: 'set MONITOR_DISK_WARN_PERCENT between 1 and 100' }),
  s({ env: 'MONITOR_DISK_CRITICAL_PERCENT', kind: { type: 'int', min: 1, max: 100 }, default: '90', group: 'Monitoring', description: 'Critical alert when BACKUP_ROOT\'s file system is this full.', hint: 'set MONITOR_DISK_CRITICAL_PERCENT between 1 and 100' }),
  s({ env: 'MONITOR_SUCCESS_RATE_PERCENT', kind: { type: 'int', min: 1, max: 100 }, default: '95', group: 'Monitoring', description: 'Alert when fewer of Lifeboat\'s workflows of the last 7 days succeeded (Temporal visibility).', hint: 'set MONITOR_SUCCESS_RATE_PERCENT between 1 and 100' }),
  s({ env: 'RPO_TARGET', kind: { type: 'string' }, default: '5m', group: 'Monitoring', description: 'Recovery point objective: how much committed work a loss of the database host may take (e.g. `5m`, `300s`, `1h`). WAL is shipped off-site every fifth of it (10 s to 5 min); set PostgreSQL\'s `archive_timeout` to at most half of it (worst case = archive_timeout + ship interval + one ship). Monitoring warns when the exposure (`lifeboat wal status`) exceeds it and is critical at three times it.', hint: 'set RPO_TARGET to a duration between 30s and 7 days, e.g. 5m' }),
  s({ env: 'MONITOR_WAL_MAX_AGE_MINUTES', kind: { type: 'int', min: 1, max: 100000 }, default: '120', group: 'Monitoring', description: 'Alert when the newest archived WAL file is older than this (archiving stalled).', hint: 'set MONITOR_WAL_MAX_AGE_MINUTES to 1 or more' }),
  s({ env: 'BACKUP_METRICS_PORT', kind: { type: 'port' }, group: 'Monitoring', description: 'When set, the worker serves the monitoring figures (the metrics JSON) as Prometheus metrics on 127.0.0.1:<port>/metrics.', hint: 'set BACKUP_METRICS_PORT to a free TCP port, or unset it' }),

  // --- MinIO (the seed's names) ---
  s({ env: 'MINIO_SOURCE_ENDPOINT', kind: { type: 'url', protocols: ['http', 'https'] }, default: 'http://localhost:9000', group: 'MinIO', description: 'Production MinIO whose buckets are backed up.', hint: 'set MINIO_SOURCE_ENDPOINT to an http(s) URL, e.g. http://localhost:9000' }),
  s({ env: 'MINIO_SOURCE_ACCESS_KEY', kind: { type: 'string' }, default: 'minioadmin', group: 'MinIO', description: 'Access key of the source MinIO.', hint: 'set MINIO_SOURCE_ACCESS_KEY' }),
  s({ env: 'MINIO_SOURCE_SECRET_KEY', kind: { type: 'string' }, secret: true, group: 'MinIO', description: 'Secret key of the source MinIO.', hint: 'set MINIO_SOURCE_SECRET_KEY' }),
  s({ env: 'MINIO_BACKUP_ENDPOINT', kind: { type: 'url', protocols: ['http', 'https'] }, group: 'MinIO', description: 'Separate MinIO that receives mirrors and replication (optional).', hint: 'set MINIO_BACKUP_ENDPOINT to an http(s) URL, e.g. http://backup-minio:9000' }),
  s({ env: 'MINIO_BACKUP_ACCESS_KEY', kind: { type: 'string' }, default: 'minioadmin', group: 'MinIO', description: 'Access key of the backup MinIO.', hint: 'set MINIO_BACKUP_ACCESS_KEY' }),
  s({ env: 'MINIO_BACKUP_SECRET_KEY', kind: { type: 'string' }, secret: true, group: 'MinIO', description: 'Secret key of the backup MinIO.', hint: 'set MINIO_BACKUP_SECRET_KEY' }),
  s({ env: 'BUCKETS_TO_BACKUP', kind: { type: 'list' }, default: 'company-data,embeddings,user-uploads', group: 'MinIO', description: 'Comma-separated buckets to snapshot, mirror and verify.', hint: 'set BUCKETS_TO_BACKUP to bucket names separated by commas' }),
  s({ env: 'SNAPSHOT_COMPRESSION', kind: { type: 'enum', values: ['gzip', 'zstd'] }, default: 'gzip', group: 'MinIO', description: 'Compression of bucket snapshots: gzip as in the seed (`<bucket>_<stamp>.tar.gz[.gpg]`, `tar -xzf`), or zstd (`.tar.zst[.gpg]`, much faster).', hint: 'set SNAPSHOT_COMPRESSION to gzip or zstd' }),
  s({ env: 'MIRROR_CONCURRENCY', kind: { type: 'int', min: 1, max: 64 }, default: '4', group: 'MinIO', description: 'Objects copied in parallel by mirror, replication and restore.', hint: 'set MIRROR_CONCURRENCY between 1 and 64' }),
  s({ env: 'MIRROR_DELETE', kind: { type: 'bool' }, default: 'false', group: 'MinIO', description: 'Propagate deletions: remove objects from the backup MinIO that are gone from the source (also `lifeboat minio mirror --delete`).', hint: 'set MIRROR_DELETE to true or false' }),
  s({ env: 'REPLICATION_INTERVAL_SECONDS', kind: { type: 'int', min: 10, max: 86400 }, default: '60', group: 'MinIO', description: 'Interval of the scheduled incremental mirror that replicates source to backup.', hint: 'set REPLICATION_INTERVAL_SECONDS between 10 and 86400' }),
  s({ env: 'MINIO_BACKUP_ROOT', kind: { type: 'path' }, default: '/var/backups/minio', group: 'MinIO', description: 'Local root for MinIO snapshots (snapshots/ below it).', hint: 'set MINIO_BACKUP_ROOT to an absolute directory path' }),

  // --- Disaster recovery: DNS switch (runbook step 8) ---
  s({ env: 'DR_DNS_PROVIDER', kind: { type: 'enum', values: ['none', 'rfc2136', 'command'] }, default: 'none', group: 'DR DNS', description: 'How step 8 of the DR runbook points clients at the restored endpoints: `rfc2136` (dynamic update with TSIG to the zone\'s primary, e.g. BIND 9; needs nsupdate and dig from bind9-dnsutils), `command` (DR_DNS_COMMAND), or `none` (the step is done by hand).', hint: 'set DR_DNS_PROVIDER to none, rfc2136 or command' }),
  s({ env: 'DR_DNS_SERVER', kind: { type: 'string' }, group: 'DR DNS', description: '`host[:port]` of the primary server of DR_DNS_ZONE that accepts dynamic updates (rfc2136); port 53 by default, IPv6 as `[addr]:port`.', hint: 'set DR_DNS_SERVER to host:port of the zone\'s primary, e.g. ns1.example.com:53 or 127.0.0.1:15353' }),
  s({ env: 'DR_DNS_ZONE', kind: { type: 'string' }, group: 'DR DNS', description: 'Zone that holds DR_DNS_RECORD and DR_DRILL_DNS_RECORD, e.g. example.com; names outside it are refused.', hint: 'set DR_DNS_ZONE to the zone name, e.g. example.com' }),
  s({ env: 'DR_DNS_RECORD', kind: { type: 'string' }, group: 'DR DNS', description: 'The production name a failover switches to the new database endpoint (an IPv4 address makes an A record, IPv6 AAAA, a host name a CNAME); its old value is recorded for rollback.', hint: 'set DR_DNS_RECORD to a name below DR_DNS_ZONE, e.g. db.example.com' }),
  s({ env: 'DR_DRILL_DNS_RECORD', kind: { type: 'string' }, group: 'DR DNS', description: 'The name a drill switches instead (a drill never touches DR_DNS_RECORD) and removes in its cleanup; default `drill.<DR_DNS_ZONE>`.', hint: 'set DR_DRILL_DNS_RECORD to a name below DR_DNS_ZONE other than DR_DNS_RECORD, e.g. drill.example.com' }),
  s({ env: 'DR_DNS_TTL', kind: { type: 'int', min: 1, max: 86400 }, default: '60', group: 'DR DNS', description: 'TTL in seconds of the records a switch writes; clients may keep the old address this long after a failover.', hint: 'set DR_DNS_TTL between 1 and 86400, e.g. 60' }),
  s({ env: 'DR_DNS_TSIG_KEY_FILE', kind: { type: 'path' }, group: 'DR DNS', description: 'BIND key file (`key "name" { algorithm hmac-sha256; secret "..."; };`, as written by `tsig-keygen`) that signs the updates (rfc2136). The secret stays in this file: it is passed to nsupdate as `-k <file>` and never read into a workflow.', hint: 'set DR_DNS_TSIG_KEY_FILE to the absolute path of a key file written by `tsig-keygen -a hmac-sha256 <name>`' }),
  s({ env: 'DR_DNS_COMMAND', kind: { type: 'path' }, group: 'DR DNS', description: 'Executable run by the `command` provider as `<command> check|get|set|delete <record> ...`; prints what the name holds afterwards as JSON (contract in docs/dns-switch.md).', hint: 'set DR_DNS_COMMAND to the absolute path of an executable script' }),
  s({ env: 'DR_DNS_TIMEOUT_SECONDS', kind: { type: 'int', min: 1, max: 600 }, default: '10', group: 'DR DNS', description: 'Deadline of one DNS update, query or DR_DNS_COMMAND run.', hint: 'set DR_DNS_TIMEOUT_SECONDS between 1 and 600' }),

  // --- Disaster recovery: the new environment (runbook step 2) ---
  s({ env: 'DR_ENVIRONMENT', kind: { type: 'enum', values: ENVIRONMENT_KINDS }, default: 'local', group: 'DR environment', description: 'Where a disaster recovery restores to (a DR run\'s `environment` input overrides it): `local` starts a new PostgreSQL 15 cluster and a new MinIO on this machine on free loopback ports (drills, tests); `command` runs DR_ENVIRONMENT_PROVISION_COMMAND / _TEARDOWN_COMMAND; `existing` uses the DR_TARGET_* endpoints.', hint: 'set DR_ENVIRONMENT to local, command or existing' }),
  s({ env: 'DR_ENVIRONMENT_ROOT', kind: { type: 'path' }, group: 'DR environment', description: '`local`: directory holding one directory per environment (data, logs, restored configuration files); default `<RESTORE_DATA_ROOT>/environments`. Must be reachable by the postgres OS user.', hint: 'set DR_ENVIRONMENT_ROOT to an absolute directory on a disk with room for a restored database and its objects' }),
  s({ env: 'DR_ENVIRONMENT_MINIO_BIN', kind: { type: 'path' }, group: 'DR environment', description: '`local`: the MinIO server binary; default `minio` in the tool cache (`$LIFEBOAT_TOOLS_DIR`, `~/.cache/lifeboat/bin`), then PATH. PostgreSQL comes from PG_BIN_DIR when it has initdb, else /usr/lib/postgresql/15/bin.', hint: 'set DR_ENVIRONMENT_MINIO_BIN to the absolute path of a minio server binary' }),
  s({ env: 'DR_ENVIRONMENT_PROVISION_COMMAND', kind: { type: 'path' }, group: 'DR environment', description: '`command`: executable run with the environment name as its only argument; prints the endpoints as one JSON object on stdout, e.g. `{"postgres":{"host":"10.0.0.5","port":5432},"minio":{"endpoint":"http://10.0.0.6:9000"},"configDir":"/srv/dr/config"}` (no secrets: other fields are refused). Must be idempotent: run again for the same name it prints the same endpoints.', hint: 'set DR_ENVIRONMENT_PROVISION_COMMAND to the absolute path of an executable script' }),
  s({ env: 'DR_ENVIRONMENT_TEARDOWN_COMMAND', kind: { type: 'path' }, group: 'DR environment', description: '`command`: executable run with the environment name to remove it (drill cleanup); exit 0 also when it is already gone.', hint: 'set DR_ENVIRONMENT_TEARDOWN_COMMAND to the absolute path of an executable script' }),
  s({ env: 'DR_ENVIRONMENT_DESCRIBE_COMMAND', kind: { type: 'path' }, group: 'DR environment', description: '`command` (optional): executable run with the environment name that prints its endpoints as the provision command does, or `null` when it does not exist; lets status and recovery after a worker crash look an environment up without creating it.', hint: 'set DR_ENVIRONMENT_DESCRIBE_COMMAND to the absolute path of an executable script, or unset it' }),
  s({ env: 'DR_ENVIRONMENT_COMMAND_TIMEOUT_SECONDS', kind: { type: 'int', min: 1, max: 86400 }, default: '1800', group: 'DR environment', description: '`command`: a script still running after this long is killed and the call fails (retryably).', hint: 'set DR_ENVIRONMENT_COMMAND_TIMEOUT_SECONDS between 1 and 86400' }),
  s({ env: 'DR_TARGET_DB_HOST', kind: { type: 'host' }, group: 'DR environment', description: '`existing`: host of the standby PostgreSQL to restore into (reached with DB_USER / PGPASSWORD).', hint: 'set DR_TARGET_DB_HOST to the standby database host' }),
  s({ env: 'DR_TARGET_DB_PORT', kind: { type: 'port' }, default: '5432', group: 'DR environment', description: '`existing`: port of that PostgreSQL.', hint: 'set DR_TARGET_DB_PORT to a TCP port between 1 and 65535' }),
  s({ env: 'DR_TARGET_MINIO_ENDPOINT', kind: { type: 'url', protocols: ['http', 'https'] }, group: 'DR environment', description: '`existing`: the standby MinIO to restore objects into (reached with the MINIO_SOURCE keys); no credentials in the URL.', hint: 'set DR_TARGET_MINIO_ENDPOINT to an http(s) URL, e.g. http://standby-minio:9000' }),
  s({ env: 'DR_TARGET_CONFIG_DIR', kind: { type: 'path' }, group: 'DR environment', description: '`existing` (optional): directory where the runbook restores the configuration files for the standby.', hint: 'set DR_TARGET_CONFIG_DIR to an absolute directory, or unset it' }),

  // --- Disaster recovery: the runbook itself ---
  s({ env: 'DR_MODE', kind: { type: 'enum', values: ['drill', 'failover'] }, default: 'drill', group: 'DR runbook', description: 'Mode of a `disasterRecovery` run whose input names none: `drill` (own environment and DNS name, production untouched, cleaned up afterwards) or `failover`.', hint: 'set DR_MODE to drill or failover' }),
  s({ env: 'DR_PITR_TARGET', kind: { type: 'string' }, default: 'latest', group: 'DR runbook', description: 'Where step 4 recovers the database to when the input names no `pitrTarget`: `latest` (the end of the WAL shipped off-site) or a time such as `2025-10-17 14:30:00+00`.', hint: 'set DR_PITR_TARGET to latest or a time with its offset' }),
  s({ env: 'DR_AUTO_APPROVE', kind: { type: 'bool' }, default: 'false', group: 'DR runbook', description: 'Drills only: approve the DNS gate (step 8) without a human when the input says nothing (the weekly drill schedule passes autoApprove itself). A failover always waits for an approval.', hint: 'set DR_AUTO_APPROVE to true or false' }),
  s({ env: 'DR_RTO_MINUTES', kind: { type: 'int', min: 1, max: 10080 }, default: '60', group: 'DR runbook', description: 'Recovery time objective the DR report measures against (the seed: one hour); monitoring alerts when the last drill exceeded it.', hint: 'set DR_RTO_MINUTES between 1 and 10080' }),
  s({ env: 'DR_CHECK_HTTP', kind: { type: 'list' }, group: 'DR runbook', description: 'Step 9: comma-separated HTTP checks, each `URL` or `URL|STATUS` or `URL|STATUS|TEXT` (GET must answer STATUS, default 200, and its body contain TEXT).', hint: 'e.g. DR_CHECK_HTTP=http://app.internal/health|200|ok' }),
  s({ env: 'DR_CHECK_SQL', kind: { type: 'string' }, default: 'SELECT 1', group: 'DR runbook', description: 'Step 9: read-only SQL smoke queries, separated by `;`, run against the restored DB_NAME (in a read-only transaction); each must return at least one row.', hint: 'e.g. DR_CHECK_SQL=SELECT count(*) FROM companies; SELECT max(id) FROM filings' }),
  s({ env: 'DR_UI_URL', kind: { type: 'url', protocols: ['http', 'https'] }, default: 'http://localhost:8233', group: 'DR runbook', description: 'Base URL of the Temporal UI, for the link in the "DR started" notification.', hint: 'set DR_UI_URL to the Temporal UI address, e.g. http://temporal-ui:8080' }),
  s({ env: 'DR_DRILL_MAX_AGE_DAYS', kind: { type: 'int', min: 1, max: 365 }, default: '8', group: 'DR runbook', description: 'Monitoring warns (`dr-drill-age`) when the last successful DR drill is older than this, or none has succeeded yet (the `dr-drill` schedule runs one weekly).', hint: 'set DR_DRILL_MAX_AGE_DAYS between 1 and 365' }),

  // --- Audit trail ---
  s({ env: 'AUDIT_RETENTION_DAYS', kind: { type: 'int', min: 0, max: 36500 }, default: '365', group: 'Audit trail', description: 'Exported histories and manifests are written off-site with an S3 Object Lock retention of this many days when S3_BUCKET was created with Object Lock (0: no retention); other buckets get plain objects.', hint: 'set AUDIT_RETENTION_DAYS between 0 and 36500' }),
  s({ env: 'AUDIT_LOCK_MODE', kind: { type: 'enum', values: ['COMPLIANCE', 'GOVERNANCE'] }, default: 'COMPLIANCE', group: 'Audit trail', description: 'Object Lock mode of the audit objects: COMPLIANCE (nobody can delete them before the retention ends) or GOVERNANCE (holders of s3:BypassGovernanceRetention can).', hint: 'set AUDIT_LOCK_MODE to COMPLIANCE or GOVERNANCE' }),

  // --- Payload encryption (issue 13) ---
  s({ env: 'LIFEBOAT_PAYLOAD_KEY', kind: { type: 'string' }, secret: true, group: 'Payload encryption', description: 'When set, every payload Temporal stores for Lifeboat (inputs, results, heartbeats, signal/update arguments, memos, failure messages and details) is encrypted with AES-256-GCM by the CLI and the workers: `<key id>:<32 bytes in base64>`. The id is written beside each payload, so the key can rotate; every client, worker, `lifeboat codec-server` and `audit show/replay` needs the same keys.', hint: 'set LIFEBOAT_PAYLOAD_KEY=<id>:<base64>, e.g. k2026:$(openssl rand -base64 32), or leave it unset (payloads in clear)' }),
  s({ env: 'LIFEBOAT_PAYLOAD_KEYS', kind: { type: 'list' }, secret: true, group: 'Payload encryption', description: 'Older payload keys, comma-separated `<id>:<base64>`: they only decode (histories written before a rotation); LIFEBOAT_PAYLOAD_KEY encodes.', hint: 'set LIFEBOAT_PAYLOAD_KEYS to the previous keys, e.g. k2025:<base64>,k2024:<base64>' }),
  s({ env: 'LIFEBOAT_CODEC_TOKEN', kind: { type: 'string' }, secret: true, group: 'Payload encryption', description: '`lifeboat codec-server`: the bearer token the Temporal UI must send (Settings -> Codec Server -> "Pass access token"; the UI forwards the user\'s own token, so put the same value in the UI\'s auth or use a proxy). Unset: the codec server refuses to start unless given --no-auth.', hint: 'set LIFEBOAT_CODEC_TOKEN to a long random string, e.g. $(openssl rand -hex 24)' }),

  // --- Temporal and the worker ---
  s({ env: 'TEMPORAL_ADDRESS', kind: { type: 'string' }, default: 'localhost:7233', group: 'Temporal', description: 'Temporal frontend host:port (same name as @temporalio/envconfig).', hint: 'set TEMPORAL_ADDRESS to host:port, e.g. localhost:7233' }),
  s({ env: 'TEMPORAL_NAMESPACE', kind: { type: 'string' }, default: 'default', group: 'Temporal', description: 'Temporal namespace.', hint: 'set TEMPORAL_NAMESPACE to an existing namespace' }),
  s({ env: 'TEMPORAL_API_KEY', kind: { type: 'string' }, secret: true, group: 'Temporal', description: 'API key for Temporal Cloud (enables TLS).', hint: 'set TEMPORAL_API_KEY or leave it unset for a local server' }),
  s({ env: 'LIFEBOAT_TASK_QUEUE', kind: { type: 'string' }, default: 'lifeboat', group: 'Temporal', description: 'General task queue; host-pinned work uses `<queue>@<LIFEBOAT_HOST>`.', hint: 'set LIFEBOAT_TASK_QUEUE to a queue name' }),
  s({ env: 'LIFEBOAT_HOST', kind: { type: 'string' }, group: 'Temporal', description: 'Name of this host for the host-pinned task queue; default the OS host name.', hint: 'set LIFEBOAT_HOST to a short host name' }),
  s({ env: 'LIFEBOAT_BACKUP_HOST', kind: { type: 'string' }, group: 'Temporal', description: 'Host whose pinned queue runs work on BACKUP_ROOT and the database host\'s disk (dumps, uploads, WAL); default LIFEBOAT_HOST.', hint: 'set LIFEBOAT_BACKUP_HOST to the LIFEBOAT_HOST of the backup host\'s worker' }),
  s({ env: 'LOG_LEVEL', kind: { type: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] }, default: 'info', group: 'Temporal', description: 'Log level of the JSON logs (pino) and of the Temporal SDK core.', hint: 'set LOG_LEVEL to one of trace, debug, info, warn, error, fatal' }),
  s({ env: 'METRICS_PORT', kind: { type: 'port' }, group: 'Temporal', description: 'When set, the worker serves the Temporal SDK\'s Prometheus metrics on 127.0.0.1:<port>/metrics.', hint: 'set METRICS_PORT to a free TCP port, or leave it unset' }),
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]['env'];

/** The default of each setting that has one, as the raw string (from SETTINGS, nowhere else). */
const DEFAULTS: ReadonlyMap<string, string> = new Map(
  (SETTINGS as readonly SettingSpec[]).flatMap((spec) => (spec.default !== undefined ? [[spec.env, spec.default] as const] : [])),
);

/** The raw value of `name` in `raw`, or its SETTINGS default when it is not given at all. */
export function rawOrDefault(raw: Record<string, string | undefined>, name: SettingName): string | undefined {
  return raw[name] ?? DEFAULTS.get(name);
}

/** COMPRESSION_LEVEL's default depends on COMPRESSION (see its description), so it is not a plain default. */
export const DEFAULT_COMPRESSION_LEVEL = { zstd: 1, gzip: 6 } as const;

/** A rule that spans settings; returns the problem's variable and message, or nothing. */
export interface CrossFieldRule {
  /** The rule in one sentence, for the docs. */
  doc: string;
  check(raw: Record<string, string | undefined>): { env: string; message: string; hint: string } | undefined;
}

const isTrue = (v: string | undefined): boolean => v !== undefined && /^(true|1|yes|on)$/i.test(v.trim());

const dnsProvider = (raw: Record<string, string | undefined>): string => rawOrDefault(raw, 'DR_DNS_PROVIDER') ?? 'none';
const dnsName = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value.trim().toLowerCase().replace(/\.$/, ''));

/** The DR DNS settings' rules (runbook step 8): what each provider needs, and names inside the zone. */
const DNS_RULES: readonly CrossFieldRule[] = [
  ...(['DR_DNS_ZONE', 'DR_DNS_RECORD'] as const).map((env): CrossFieldRule => ({
    doc: `\`DR_DNS_PROVIDER=rfc2136\` or \`command\` requires \`${env}\`.`,
    check: (raw) =>
      dnsProvider(raw) !== 'none' && !raw[env]
        ? { env, message: `is required when DR_DNS_PROVIDER=${dnsProvider(raw)}`, hint: `${env === 'DR_DNS_ZONE' ? 'set DR_DNS_ZONE to the zone, e.g. example.com' : 'set DR_DNS_RECORD to the production name a failover switches, e.g. db.example.com'}, or set DR_DNS_PROVIDER=none` }
        : undefined,
  })),
  ...([['DR_DNS_SERVER', 'rfc2136', 'host:port of the zone\'s primary, e.g. ns1.example.com:53'], ['DR_DNS_TSIG_KEY_FILE', 'rfc2136', 'the key file written by `tsig-keygen -a hmac-sha256 <name>`'], ['DR_DNS_COMMAND', 'command', 'the absolute path of your DNS script']] as const).map(
    ([env, provider, what]): CrossFieldRule => ({
      doc: `\`DR_DNS_PROVIDER=${provider}\` requires \`${env}\`.`,
      check: (raw) =>
        dnsProvider(raw) === provider && !raw[env] ? { env, message: `is required when DR_DNS_PROVIDER=${provider}`, hint: `set ${env} to ${what}, or choose another DR_DNS_PROVIDER` } : undefined,
    }),
  ),
  {
    doc: '`DR_DNS_SERVER` is `host`, `host:port` or `[ipv6]:port`.',
    check: (raw) => {
      if (!raw.DR_DNS_SERVER) return undefined;
      try {
        parseHostPort(raw.DR_DNS_SERVER);
        return undefined;
      } catch (error) {
        return { env: 'DR_DNS_SERVER', message: (error as Error).message, hint: 'write host:port, e.g. ns1.example.com:53, 127.0.0.1:15353 or [::1]:53' };
      }
    },
  },
  {
    doc: '`DR_DNS_ZONE`, `DR_DNS_RECORD` and `DR_DRILL_DNS_RECORD` are DNS names.',
    check: (raw) => {
      for (const env of ['DR_DNS_ZONE', 'DR_DNS_RECORD', 'DR_DRILL_DNS_RECORD'] as const) {
        const name = dnsName(raw[env]);
        if (name !== undefined && !isDnsName(name)) return { env, message: `"${raw[env]}" is not a DNS name`, hint: 'use letters, digits, - and _ in dot-separated labels, e.g. db.example.com' };
      }
      return undefined;
    },
  },
  {
    doc: '`DR_DNS_RECORD` and `DR_DRILL_DNS_RECORD` are names below `DR_DNS_ZONE`, and differ: a drill never switches the production name.',
    check: (raw) => {
      const zone = dnsName(raw.DR_DNS_ZONE);
      if (zone === undefined || !isDnsName(zone)) return undefined;
      const record = dnsName(raw.DR_DNS_RECORD);
      const drill = dnsName(raw.DR_DRILL_DNS_RECORD) ?? `drill.${zone}`;
      for (const [env, name] of [['DR_DNS_RECORD', record], ['DR_DRILL_DNS_RECORD', drill]] as const) {
        if (name !== undefined && (name === zone || !inZone(name, zone))) {
          return { env, message: `${name} is not a name below DR_DNS_ZONE (${zone})`, hint: `use a name such as ${env === 'DR_DNS_RECORD' ? 'db' : 'drill'}.${zone}, or fix DR_DNS_ZONE` };
        }
      }
      return record !== undefined && record === drill
        ? { env: 'DR_DRILL_DNS_RECORD', message: `must differ from DR_DNS_RECORD (${record}): a drill never switches the production name`, hint: `set DR_DRILL_DNS_RECORD to another name, e.g. drill.${zone}` }
        : undefined;
    },
  },
];

export const CROSS_FIELD_RULES: readonly CrossFieldRule[] = [
  ...DNS_RULES,
  {
    doc: '`RPO_TARGET` is a duration from 30 s to 7 days (`5m`, `300s`, `1h`; a bare number is seconds).',
    check: (raw) => {
      const text = rawOrDefault(raw, 'RPO_TARGET');
      const problem = text === undefined ? undefined : rpoTargetProblem(text);
      return problem ? { env: 'RPO_TARGET', message: `${problem} (got "${text}")`, hint: 'set RPO_TARGET to a duration between 30s and 7 days, e.g. 5m' } : undefined;
    },
  },
  {
    doc: '`LIFEBOAT_PAYLOAD_KEY` and each of `LIFEBOAT_PAYLOAD_KEYS` are `<id>:<32 bytes in base64>`, ids unique; `LIFEBOAT_PAYLOAD_KEYS` needs `LIFEBOAT_PAYLOAD_KEY`.',
    check: (raw) => {
      const older = (raw.LIFEBOAT_PAYLOAD_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);
      if (older.length > 0 && !raw.LIFEBOAT_PAYLOAD_KEY) return { env: 'LIFEBOAT_PAYLOAD_KEY', message: 'is required when LIFEBOAT_PAYLOAD_KEYS is set (old keys only decode)', hint: 'set LIFEBOAT_PAYLOAD_KEY to the current key, <id>:<base64>' };
      try {
        parsePayloadKeys(raw.LIFEBOAT_PAYLOAD_KEY, []);
      } catch (error) {
        return { env: 'LIFEBOAT_PAYLOAD_KEY', message: (error as Error).message, hint: 'generate one with: echo k$(date +%Y):$(openssl rand -base64 32)' };
      }
      try {
        parsePayloadKeys(raw.LIFEBOAT_PAYLOAD_KEY, older);
      } catch (error) {
        return { env: 'LIFEBOAT_PAYLOAD_KEYS', message: (error as Error).message, hint: 'list the previous keys as <id>:<base64>, separated by commas, each id once' };
      }
      return undefined;
    },
  },
  {
    doc: '`ENCRYPT_BACKUPS=true` requires `GPG_RECIPIENT`.',
    check: (raw) =>
      isTrue(rawOrDefault(raw, 'ENCRYPT_BACKUPS')) && !raw.GPG_RECIPIENT
        ? { env: 'GPG_RECIPIENT', message: 'is required when ENCRYPT_BACKUPS=true', hint: 'set GPG_RECIPIENT to the backup key\'s e-mail or fingerprint, or set ENCRYPT_BACKUPS=false' }
        : undefined,
  },
  {
    doc: '`REMOTE_STORAGE=true` requires `S3_BUCKET`.',
    check: (raw) =>
      isTrue(raw.REMOTE_STORAGE) && !raw.S3_BUCKET
        ? { env: 'S3_BUCKET', message: 'is required when REMOTE_STORAGE=true', hint: 'set S3_BUCKET to the off-site bucket, or set REMOTE_STORAGE=false' }
        : undefined,
  },
  {
    doc: '`SCHEDULE_OVERRIDES` names declared schedules and gives each a valid 5-field cron spec.',
    check: (raw) => {
      try {
        parseScheduleOverrides(raw.SCHEDULE_OVERRIDES, SCHEDULE_NAMES);
        return undefined;
      } catch (error) {
        return { env: 'SCHEDULE_OVERRIDES', message: (error as Error).message, hint: 'write name=minute hour day-of-month month day-of-week, separated by ;' };
      }
    },
  },
  {
    doc: '`ALERT_ROUTES` names only the channels slack, email and pagerduty.',
    check: (raw) => {
      try {
        parseAlertRoutes(rawOrDefault(raw, 'ALERT_ROUTES')!);
        return undefined;
      } catch (error) {
        return { env: 'ALERT_ROUTES', message: (error as Error).message, hint: 'write e.g. critical=slack,email,pagerduty;warning=slack,email;info=slack' };
      }
    },
  },
  {
    doc: '`MONITOR_DISK_WARN_PERCENT` is below `MONITOR_DISK_CRITICAL_PERCENT`.',
    check: (raw) =>
      Number(rawOrDefault(raw, 'MONITOR_DISK_WARN_PERCENT')) >= Number(rawOrDefault(raw, 'MONITOR_DISK_CRITICAL_PERCENT'))
        ? { env: 'MONITOR_DISK_WARN_PERCENT', message: 'must be below MONITOR_DISK_CRITICAL_PERCENT', hint: 'e.g. warn at 80, critical at 90' }
        : undefined,
  },
  {
    doc: '`CONFIG_BACKUP_PATHS` names absolute paths only.',
    check: (raw) => {
      const relative = (rawOrDefault(raw, 'CONFIG_BACKUP_PATHS') ?? '').split(',').map((p) => p.trim()).find((p) => p.length > 0 && !p.startsWith('/'));
      return relative !== undefined ? { env: 'CONFIG_BACKUP_PATHS', message: `"${relative}" is not an absolute path`, hint: 'write every path from the root, e.g. /etc/postgresql/15/main/postgresql.conf' } : undefined;
    },
  },
  {
    doc: '`COMPRESSION=gzip` accepts `COMPRESSION_LEVEL` 1-9 only.',
    check: (raw) =>
      rawOrDefault(raw, 'COMPRESSION') === 'gzip' && raw.COMPRESSION_LEVEL !== undefined && Number(raw.COMPRESSION_LEVEL) > 9
        ? { env: 'COMPRESSION_LEVEL', message: `must be 1-9 for gzip, got "${raw.COMPRESSION_LEVEL}"`, hint: 'set COMPRESSION_LEVEL between 1 and 9, or use COMPRESSION=zstd' }
        : undefined,
  },
  {
    doc: '`DR_ENVIRONMENT=command` requires `DR_ENVIRONMENT_PROVISION_COMMAND` and `DR_ENVIRONMENT_TEARDOWN_COMMAND`.',
    check: (raw) => {
      if (raw.DR_ENVIRONMENT !== 'command') return undefined;
      const missing = (['DR_ENVIRONMENT_PROVISION_COMMAND', 'DR_ENVIRONMENT_TEARDOWN_COMMAND'] as const).find((name) => !raw[name]);
      return missing ? { env: missing, message: 'is required when DR_ENVIRONMENT=command', hint: `set ${missing} to the absolute path of the script, or choose DR_ENVIRONMENT=local or existing` } : undefined;
    },
  },
  {
    doc: '`DR_ENVIRONMENT=existing` requires `DR_TARGET_DB_HOST` or `DR_TARGET_MINIO_ENDPOINT`.',
    check: (raw) =>
      raw.DR_ENVIRONMENT === 'existing' && !raw.DR_TARGET_DB_HOST && !raw.DR_TARGET_MINIO_ENDPOINT
        ? { env: 'DR_TARGET_DB_HOST', message: 'is required when DR_ENVIRONMENT=existing (or DR_TARGET_MINIO_ENDPOINT)', hint: 'set DR_TARGET_DB_HOST and/or DR_TARGET_MINIO_ENDPOINT to the standby servers, or choose DR_ENVIRONMENT=local or command' }
        : undefined,
  },
  {
    doc: '`DR_TARGET_MINIO_ENDPOINT` carries no credentials, path or query (it is recorded in workflow histories).',
    check: (raw) => {
      const value = raw.DR_TARGET_MINIO_ENDPOINT;
      if (!value || !URL.canParse(value)) return undefined;
      const url = new URL(value);
      if (url.username || url.password) return { env: 'DR_TARGET_MINIO_ENDPOINT', message: 'must not contain credentials', hint: 'write http(s)://host:port; the worker uses MINIO_SOURCE_ACCESS_KEY / _SECRET_KEY for the target' };
      return url.pathname !== '/' || url.search || url.hash ? { env: 'DR_TARGET_MINIO_ENDPOINT', message: 'must be scheme, host and port only', hint: 'write e.g. http://standby-minio:9000' } : undefined;
    },
  },
  {
    doc: '`DR_ENVIRONMENT=local` requires `PGPASSWORD` (the new cluster\'s DB_USER password) and a `MINIO_SOURCE_SECRET_KEY` of 8 or more characters (the new MinIO\'s root password).',
    check: (raw) => {
      if (raw.DR_ENVIRONMENT !== 'local') return undefined;
      if (!raw.PGPASSWORD) return { env: 'PGPASSWORD', message: 'is required when DR_ENVIRONMENT=local: the new cluster gets DB_USER with this password', hint: 'set PGPASSWORD, or choose DR_ENVIRONMENT=command or existing' };
      const secret = raw.MINIO_SOURCE_SECRET_KEY ?? '';
      return secret.length < 8 ? { env: 'MINIO_SOURCE_SECRET_KEY', message: 'must have 8 or more characters when DR_ENVIRONMENT=local: it becomes the new MinIO\'s root password', hint: 'set MINIO_SOURCE_SECRET_KEY (8+ characters), or choose DR_ENVIRONMENT=command or existing' } : undefined;
    },
  },
];

/** Build the zod validator for one setting's raw string. */
export function valueSchema(kind: SettingKind): z.ZodType<unknown> {
  switch (kind.type) {
    case 'string':
      return z.string().min(1, 'must not be empty');
    case 'host':
      return z
        .string()
        .min(1, 'must not be empty')
        .regex(/^[A-Za-z0-9._:\-[\]%]+$/, 'must be a host name or IP address')
        .or(z.string().regex(/^\//, 'must be a host name, IP address or socket directory'));
    case 'port':
      return z
        .string()
        .regex(/^\d+$/, 'must be a whole number')
        .transform(Number)
        .pipe(z.number().int().min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535'));
    case 'int':
      return z
        .string()
        .regex(/^-?\d+$/, 'must be a whole number')
        .transform(Number)
        .pipe(z.number().int().min(kind.min, `must be at least ${kind.min}`).max(kind.max, `must be at most ${kind.max}`));
    case 'bool':
      return z
        .string()
        .transform((v) => v.trim().toLowerCase())
        .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { message: 'must be true or false' }))
        .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
    case 'url':
      return z.string().superRefine((v, ctx) => {
        let url: URL;
        try {
          url = new URL(v);
        } catch {
          ctx.addIssue({ code: 'custom', message: 'is not a valid URL' });
          return;
        }
        const protocol = url.protocol.replace(/:$/, '');
        if (!kind.protocols.includes(protocol)) {
          ctx.addIssue({ code: 'custom', message: `must use ${kind.protocols.join(' or ')}, not ${protocol}` });
        } else if (!url.hostname) {
          ctx.addIssue({ code: 'custom', message: 'has no host' });
        }
      });
    case 'path':
      return z.string().regex(/^\//, 'must be an absolute path');
    case 'list':
      return z
        .string()
        .transform((v) => v.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
        .pipe(z.array(z.string()).min(1, 'must name at least one item'));
    case 'enum':
      return z.enum(kind.values as [string, ...string[]], { message: `must be one of ${kind.values.join(', ')}` });
    case 'timezone':
      return z.string().refine((zone) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: zone });
          return true;
        } catch {
          return false;
        }
      }, 'is not an IANA time zone');
    case 'email-list':
      return z
        .string()
        .transform((v) => v.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
        .pipe(z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, 'must be e-mail addresses separated by commas')).min(1, 'must name at least one address'));
  }
}

/** Human description of a kind for the docs. */
export function kindLabel(kind: SettingKind): string {
  switch (kind.type) {
    case 'int':
      return `integer ${kind.min}-${kind.max}`;
    case 'url':
      return `${kind.protocols.join('/')} URL`;
    case 'enum':
      return kind.values.join(' \\| ');
    case 'list':
      return 'comma list';
    case 'email-list':
      return 'e-mail list';
    case 'bool':
      return 'true \\| false';
    case 'timezone':
      return 'IANA time zone';
    default:
      return kind.type;
  }
}
