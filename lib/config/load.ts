/**
 * Loading configuration: the env file (shell `export KEY=value` syntax, as the seed's
 * /etc/default/corporate-intel-backup) overlaid by the process environment, validated against
 * SETTINGS in one pass. Every problem is collected and reported at once as `NAME: message` with a
 * hint; nothing is connected, created or written before this succeeds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { EnvironmentKind } from '../environment/kinds';
import { parseHostPort } from '../dns/records';
import { ConfigInvalid, type ConfigProblem } from '../errors';
import type { Thresholds } from '../monitor/evaluate';
import type { Severity } from '../notify/alert';
import { parseAlertRoutes, type Channel } from '../notify/routes';
import { parseScheduleOverrides } from '../schedules/cron';
import { SCHEDULE_NAMES } from '../schedules/names';
import { parseDurationSeconds } from '../wal/rpo';
import { CROSS_FIELD_RULES, DEFAULT_COMPRESSION_LEVEL, SETTINGS, valueSchema, type SettingName } from './schema';

export const DEFAULT_ENV_FILE = '/etc/default/corporate-intel-backup';

export type RawEnv = Record<string, string | undefined>;

export interface MinioEndpointConfig {
  endpoint: string;
  accessKey: string;
  secretKey: string | undefined;
}

/** The validated, typed configuration. Secrets are plain fields here and must stay in the worker. */
export interface Config {
  db: { host: string; port: number; name: string; user: string; password: string | undefined; binDir: string | undefined };
  backupRoot: string;
  restore: { timeZone: string; dataRoot: string; port: number };
  /** CONFIG_BACKUP_PATHS / CONFIG_BACKUP_EXCLUDE: what backupConfigFiles archives. */
  configBackup: { paths: string[]; exclude: string[] };
  compression: { algorithm: 'zstd' | 'gzip'; level: number };
  dumpFormat: 'plain' | 'custom';
  encryption: {
    enabled: boolean;
    recipient: string | undefined;
    publicKeyFile: string | undefined;
    privateKeyFile: string | undefined;
    passphrase: string | undefined;
    gnupgHome: string | undefined;
  };
  remote: {
    enabled: boolean;
    bucket: string | undefined;
    endpoint: string;
    region: string;
    storageClass: string;
    partSizeBytes: number;
    uploadConcurrency: number;
    rateLimitBytesPerSecond: number | undefined;
    accessKeyId: string | undefined;
    secretAccessKey: string | undefined;
  };
  alerts: {
    slackWebhook: string | undefined;
    email: string[];
    smtpUrl: string | undefined;
    emailFrom: string;
    pagerdutyRoutingKey: string | undefined;
    pagerdutyEventsUrl: string;
    routes: Record<Severity, Channel[]>;
  };
  schedules: { timeZone: string; overrides: Record<string, string> };
  retention: { daily: number; weekly: number; monthly: number; walLocalDays: number; walRemoteDays: number; snapshotDays: number; archiveStorageClass: string | undefined; archiveAfterDays: number };
  /** Thresholds, the metrics port and RPO_TARGET in seconds. */
  monitor: Thresholds & { metricsPort: number | undefined; rpoTargetSeconds: number };
  minio: {
    source: MinioEndpointConfig;
    backup: MinioEndpointConfig | undefined;
    buckets: string[];
    backupRoot: string;
    snapshotCompression: 'gzip' | 'zstd';
    mirrorConcurrency: number;
    mirrorDelete: boolean;
    replicationIntervalSeconds: number;
  };
  temporal: {
    address: string;
    namespace: string;
    apiKey: string | undefined;
    taskQueue: string;
    host: string;
    /** This worker's pinned queue. */
    hostTaskQueue: string;
    /** The pinned queue of the host that owns BACKUP_ROOT (where dumps, uploads and WAL work run). */
    backupHostTaskQueue: string;
  };
  /** Runbook step 2: where a disaster recovery restores to (DR_ENVIRONMENT*, DR_TARGET_*). */
  environment: {
    kind: EnvironmentKind;
    /** local: one directory per environment below it (DR_ENVIRONMENT_ROOT, default <RESTORE_DATA_ROOT>/environments). */
    root: string;
    minioBinary: string | undefined;
    provisionCommand: string | undefined;
    teardownCommand: string | undefined;
    describeCommand: string | undefined;
    commandTimeoutSeconds: number;
    /** existing: the standby's endpoints. */
    target: { postgres?: { host: string; port: number }; minio?: { endpoint: string }; configDir?: string };
  };
  /** Runbook step 8: the DNS switch (DR_DNS_*). Names are lower case without the trailing dot. */
  dns: {
    provider: 'none' | 'rfc2136' | 'command';
    /** rfc2136: the zone's primary. */
    server: { host: string; port: number } | undefined;
    zone: string | undefined;
    /** The production name a failover switches. */
    record: string | undefined;
    /** The name a drill switches and removes (default drill.<zone>). */
    drillRecord: string | undefined;
    ttl: number;
    /** rfc2136: path of the TSIG key file (the secret stays in the file). */
    tsigKeyFile: string | undefined;
    command: string | undefined;
    timeoutSeconds: number;
  };
  /** The disaster-recovery runbook (DR_MODE, DR_PITR_TARGET, DR_AUTO_APPROVE, DR_RTO_MINUTES, DR_CHECK_*, DR_UI_URL). */
  dr: {
    mode: 'drill' | 'failover';
    pitrTarget: string;
    autoApprove: boolean;
    rtoMinutes: number;
    httpChecks: string[];
    sqlChecks: string[];
    uiUrl: string;
    drillMaxAgeDays: number;
  };
  /** The audit trail's off-site Object Lock (AUDIT_RETENTION_DAYS, AUDIT_LOCK_MODE). */
  audit: { retentionDays: number; lockMode: 'COMPLIANCE' | 'GOVERNANCE' };
  /** Payload encryption (LIFEBOAT_PAYLOAD_KEY, LIFEBOAT_PAYLOAD_KEYS) and the codec server's token; see lib/codec/. */
  payloadEncryption: { key: string | undefined; oldKeys: string[]; codecServerToken: string | undefined };
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  metricsPort: number | undefined;
  /** Values of every secret setting that is set, for scrubbing text before it leaves the worker. */
  secretValues: string[];
}

/**
 * Parse an env file. Accepts `KEY=value`, `export KEY=value`, single or double quotes, blank lines
 * and `#` comments; anything else is reported with its line number.
 */
export function parseEnvFile(text: string, fileName: string): { values: RawEnv; problems: ConfigProblem[] } {
  const values: RawEnv = {};
  const problems: ConfigProblem[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    if (!match) {
      problems.push({ env: `${fileName}:${index + 1}`, message: 'is not a KEY=value line', hint: 'write lines as `export KEY=value`' });
      return;
    }
    const [, key, rest] = match as unknown as [string, string, string];
    values[key] = unquote(rest);
  });
  return { values, problems };
}

function unquote(rest: string): string {
  const value = rest.trim();
  if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) {
    return value.slice(1, -1);
  }
  // Unquoted: a trailing comment starts at ` #`.
  const comment = value.search(/\s#/);
  return (comment >= 0 ? value.slice(0, comment) : value).trim();
}

export interface LoadOptions {
  /** Environment to read; default process.env. */
  env?: RawEnv;
  /** Env file to read first; default $LIFEBOAT_ENV_FILE or /etc/default/corporate-intel-backup when it exists. */
  envFile?: string;
}

/** Merge the env file and the environment (the environment wins), as raw strings. */
export function readRawEnv(options: LoadOptions = {}): { raw: RawEnv; problems: ConfigProblem[] } {
  const env = options.env ?? process.env;
  const explicit = options.envFile ?? env.LIFEBOAT_ENV_FILE;
  const file = explicit ?? DEFAULT_ENV_FILE;
  let fromFile: RawEnv = {};
  const problems: ConfigProblem[] = [];
  if (existsSync(file)) {
    const parsed = parseEnvFile(readFileSync(file, 'utf8'), file);
    fromFile = parsed.values;
    problems.push(...parsed.problems);
  } else if (explicit) {
    problems.push({ env: 'LIFEBOAT_ENV_FILE', message: `file ${file} does not exist`, hint: 'point LIFEBOAT_ENV_FILE at an existing env file or unset it' });
  }
  const raw: RawEnv = { ...fromFile };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) raw[key] = value;
  return { raw, problems };
}

/** Validate raw values; returns the config or every problem found. */
export function parseConfig(raw: RawEnv): { config?: Config; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const spec of SETTINGS) {
    const given = raw[spec.env];
    const text = given === undefined || given === '' ? (spec as { default?: string }).default : given;
    if (text === undefined) {
      if ((spec as { required?: boolean }).required) problems.push({ env: spec.env, message: 'is required', hint: spec.hint });
      continue;
    }
    const result = valueSchema(spec.kind).safeParse(text);
    if (result.success) {
      values[spec.env] = result.data;
    } else {
      const shown = (spec as { secret?: boolean }).secret ? '' : ` (got "${text}")`;
      problems.push({ env: spec.env, message: `${result.error.issues[0]?.message ?? 'is invalid'}${shown}`, hint: spec.hint });
    }
  }
  for (const rule of CROSS_FIELD_RULES) {
    const problem = rule.check(raw);
    if (problem && !problems.some((p) => p.env === problem.env)) problems.push(problem);
  }
  if (problems.length > 0) return { problems };
  return { config: toConfig(values), problems };
}

/** Load and validate; throws ConfigInvalid listing every problem. */
export function loadConfig(options: LoadOptions = {}): Config {
  const { raw, problems: fileProblems } = readRawEnv(options);
  const { config, problems } = parseConfig(raw);
  const all = [...fileProblems, ...problems];
  if (all.length > 0 || !config) throw new ConfigInvalid(all);
  return config;
}

function toConfig(v: Partial<Record<SettingName, unknown>>): Config {
  const str = (k: SettingName): string | undefined => v[k] as string | undefined;
  const req = (k: SettingName): string => v[k] as string;
  const num = (k: SettingName): number | undefined => v[k] as number | undefined;
  // A setting with a default in SETTINGS always has a value here (parseConfig applied the default).
  const int = (k: SettingName): number => v[k] as number;
  const algorithm = req('COMPRESSION') as 'zstd' | 'gzip';
  const host = str('LIFEBOAT_HOST') ?? hostname().split('.')[0] ?? 'localhost';
  const taskQueue = req('LIFEBOAT_TASK_QUEUE');
  const backupEndpoint = str('MINIO_BACKUP_ENDPOINT');
  const rateLimit = num('UPLOAD_RATE_LIMIT_MBPS');
  const secretValues = SETTINGS.filter((spec) => (spec as { secret?: boolean }).secret)
    .flatMap((spec) => (Array.isArray(v[spec.env]) ? (v[spec.env] as unknown[]) : [v[spec.env]]))
    .filter((x): x is string => typeof x === 'string' && x.length >= 4);
  return {
    db: { host: req('DB_HOST'), port: int('DB_PORT'), name: req('DB_NAME'), user: req('DB_USER'), password: str('PGPASSWORD'), binDir: str('PG_BIN_DIR') },
    backupRoot: req('BACKUP_ROOT'),
    restore: { timeZone: req('RESTORE_TIME_ZONE'), dataRoot: req('RESTORE_DATA_ROOT'), port: int('RESTORE_PORT') },
    configBackup: { paths: v.CONFIG_BACKUP_PATHS as string[], exclude: (v.CONFIG_BACKUP_EXCLUDE as string[] | undefined) ?? [] },
    compression: { algorithm, level: num('COMPRESSION_LEVEL') ?? DEFAULT_COMPRESSION_LEVEL[algorithm] },
    dumpFormat: req('DUMP_FORMAT') as 'plain' | 'custom',
    encryption: {
      enabled: v.ENCRYPT_BACKUPS as boolean,
      recipient: str('GPG_RECIPIENT'),
      publicKeyFile: str('GPG_PUBLIC_KEY_FILE'),
      privateKeyFile: str('GPG_PRIVATE_KEY_FILE'),
      passphrase: str('GPG_PASSPHRASE'),
      gnupgHome: str('GNUPGHOME'),
    },
    remote: {
      enabled: v.REMOTE_STORAGE as boolean,
      bucket: str('S3_BUCKET'),
      endpoint: req('S3_ENDPOINT'),
      region: req('S3_REGION'),
      storageClass: req('S3_STORAGE_CLASS'),
      partSizeBytes: int('S3_PART_SIZE_MB') * 1024 * 1024,
      uploadConcurrency: int('S3_UPLOAD_CONCURRENCY'),
      rateLimitBytesPerSecond: rateLimit !== undefined ? rateLimit * 1024 * 1024 : undefined,
      accessKeyId: str('AWS_ACCESS_KEY_ID'),
      secretAccessKey: str('AWS_SECRET_ACCESS_KEY'),
    },
    alerts: {
      slackWebhook: str('SLACK_WEBHOOK'),
      email: (v.EMAIL_ALERTS as string[] | undefined) ?? [],
      smtpUrl: str('SMTP_URL'),
      emailFrom: req('ALERT_EMAIL_FROM'),
      pagerdutyRoutingKey: str('PAGERDUTY_ROUTING_KEY'),
      pagerdutyEventsUrl: req('PAGERDUTY_EVENTS_URL'),
      routes: parseAlertRoutes(req('ALERT_ROUTES')),
    },
    schedules: { timeZone: req('SCHEDULE_TIME_ZONE'), overrides: parseScheduleOverrides(str('SCHEDULE_OVERRIDES'), SCHEDULE_NAMES) },
    retention: {
      daily: int('RETENTION_DAILY'),
      weekly: int('RETENTION_WEEKLY'),
      monthly: int('RETENTION_MONTHLY'),
      walLocalDays: int('RETENTION_WAL_LOCAL_DAYS'),
      walRemoteDays: int('RETENTION_WAL_REMOTE_DAYS'),
      snapshotDays: int('RETENTION_SNAPSHOT_DAYS'),
      archiveStorageClass: str('ARCHIVE_STORAGE_CLASS'),
      archiveAfterDays: int('ARCHIVE_AFTER_DAYS'),
    },
    monitor: {
      maxBackupAgeHours: int('MONITOR_MAX_BACKUP_AGE_HOURS'),
      sizeMinPercent: int('MONITOR_SIZE_MIN_PERCENT'),
      sizeMaxPercent: int('MONITOR_SIZE_MAX_PERCENT'),
      diskWarnPercent: int('MONITOR_DISK_WARN_PERCENT'),
      diskCriticalPercent: int('MONITOR_DISK_CRITICAL_PERCENT'),
      successRatePercent: int('MONITOR_SUCCESS_RATE_PERCENT'),
      walMaxAgeMinutes: int('MONITOR_WAL_MAX_AGE_MINUTES'),
      // Checked by the RPO_TARGET cross-field rule before this runs.
      rpoTargetSeconds: parseDurationSeconds(req('RPO_TARGET'))!,
      metricsPort: num('BACKUP_METRICS_PORT'),
    },
    minio: {
      source: { endpoint: req('MINIO_SOURCE_ENDPOINT'), accessKey: req('MINIO_SOURCE_ACCESS_KEY'), secretKey: str('MINIO_SOURCE_SECRET_KEY') },
      backup: backupEndpoint
        ? { endpoint: backupEndpoint, accessKey: req('MINIO_BACKUP_ACCESS_KEY'), secretKey: str('MINIO_BACKUP_SECRET_KEY') }
        : undefined,
      buckets: v.BUCKETS_TO_BACKUP as string[],
      backupRoot: req('MINIO_BACKUP_ROOT'),
      snapshotCompression: req('SNAPSHOT_COMPRESSION') as 'gzip' | 'zstd',
      mirrorConcurrency: int('MIRROR_CONCURRENCY'),
      mirrorDelete: v.MIRROR_DELETE as boolean,
      replicationIntervalSeconds: int('REPLICATION_INTERVAL_SECONDS'),
    },
    temporal: {
      address: req('TEMPORAL_ADDRESS'),
      namespace: req('TEMPORAL_NAMESPACE'),
      apiKey: str('TEMPORAL_API_KEY'),
      taskQueue,
      host,
      hostTaskQueue: `${taskQueue}@${host}`,
      backupHostTaskQueue: `${taskQueue}@${str('LIFEBOAT_BACKUP_HOST') ?? host}`,
    },
    environment: {
      kind: req('DR_ENVIRONMENT') as EnvironmentKind,
      root: str('DR_ENVIRONMENT_ROOT') ?? join(req('RESTORE_DATA_ROOT'), 'environments'),
      minioBinary: str('DR_ENVIRONMENT_MINIO_BIN'),
      provisionCommand: str('DR_ENVIRONMENT_PROVISION_COMMAND'),
      teardownCommand: str('DR_ENVIRONMENT_TEARDOWN_COMMAND'),
      describeCommand: str('DR_ENVIRONMENT_DESCRIBE_COMMAND'),
      commandTimeoutSeconds: int('DR_ENVIRONMENT_COMMAND_TIMEOUT_SECONDS'),
      target: {
        postgres: str('DR_TARGET_DB_HOST') ? { host: req('DR_TARGET_DB_HOST'), port: int('DR_TARGET_DB_PORT') } : undefined,
        minio: str('DR_TARGET_MINIO_ENDPOINT') ? { endpoint: new URL(req('DR_TARGET_MINIO_ENDPOINT')).origin } : undefined,
        configDir: str('DR_TARGET_CONFIG_DIR'),
      },
    },
    dns: dnsConfig(str, int, req('DR_DNS_PROVIDER') as Config['dns']['provider']),
    dr: {
      mode: req('DR_MODE') as Config['dr']['mode'],
      pitrTarget: req('DR_PITR_TARGET'),
      autoApprove: v.DR_AUTO_APPROVE as boolean,
      rtoMinutes: int('DR_RTO_MINUTES'),
      httpChecks: (v.DR_CHECK_HTTP as string[] | undefined) ?? [],
      sqlChecks: req('DR_CHECK_SQL').split(';').map((q) => q.trim()).filter(Boolean),
      uiUrl: req('DR_UI_URL').replace(/\/$/, ''),
      drillMaxAgeDays: int('DR_DRILL_MAX_AGE_DAYS'),
    },
    audit: { retentionDays: int('AUDIT_RETENTION_DAYS'), lockMode: req('AUDIT_LOCK_MODE') as Config['audit']['lockMode'] },
    payloadEncryption: { key: str('LIFEBOAT_PAYLOAD_KEY'), oldKeys: (v.LIFEBOAT_PAYLOAD_KEYS as string[] | undefined) ?? [], codecServerToken: str('LIFEBOAT_CODEC_TOKEN') },
    logLevel: req('LOG_LEVEL') as Config['logLevel'],
    metricsPort: num('METRICS_PORT'),
    secretValues,
  };
}

function dnsConfig(str: (k: SettingName) => string | undefined, int: (k: SettingName) => number, provider: Config['dns']['provider']): Config['dns'] {
  const name = (k: SettingName): string | undefined => str(k)?.trim().toLowerCase().replace(/\.$/, '');
  const zone = name('DR_DNS_ZONE');
  const server = str('DR_DNS_SERVER');
  return {
    provider,
    server: server ? parseHostPort(server) : undefined,
    zone,
    record: name('DR_DNS_RECORD'),
    drillRecord: name('DR_DRILL_DNS_RECORD') ?? (zone ? `drill.${zone}` : undefined),
    ttl: int('DR_DNS_TTL'),
    tsigKeyFile: str('DR_DNS_TSIG_KEY_FILE'),
    command: str('DR_DNS_COMMAND'),
    timeoutSeconds: int('DR_DNS_TIMEOUT_SECONDS'),
  };
}
