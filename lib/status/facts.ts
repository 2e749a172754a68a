/**
 * What `lifeboat status` looks at, as plain data (JSON through Temporal): the facts the backup host
 * collects (lib/status/collect.ts, in the reportStatus workflow's activity) and the facts the CLI
 * reads from Temporal itself (schedules, workers polling, the last replication run).
 * lib/status/evaluate.ts turns them into the report; nothing here does I/O.
 */
import type { MonitorFacts, Thresholds } from '../monitor/evaluate';
import type { AlertState } from '../notify/state';
import type { PitrWindow } from './pitr-window';

/** One store the backup host depends on, and whether it answered. */
export interface StoreProbe {
  /** offsite: S3_BUCKET; minio-source / minio-backup: the MinIO servers. */
  name: 'offsite' | 'minio-source' | 'minio-backup';
  location: string;
  reachable: boolean;
  error?: string;
}

export interface BaseBackupFact {
  key: string;
  finishedAt: string;
  bytes: number;
  durationSeconds: number;
  copies: ('local' | 'remote')[];
}

export interface SnapshotFact {
  bucket: string;
  /** The newest snapshot of the bucket (absent when it has none). */
  newest?: { file: string; finishedAt: string; bytes: number; objects: number; local: boolean; remote: boolean };
}

/** Collected on the backup host (the worker of LIFEBOAT_BACKUP_HOST's pinned queue). */
export interface HostStatusFacts {
  /** The worker's host name and BACKUP_ROOT. */
  host: string;
  backupRoot: string;
  /** The monitoring collector's facts (catalog, WAL, RPO, config backups, drills, disk, database). */
  monitor: MonitorFacts;
  /** The worker's monitoring thresholds (its configuration, not the CLI's). */
  thresholds: Thresholds;
  stores: StoreProbe[];
  /** Base backups, newest first. */
  bases: BaseBackupFact[];
  pitr: PitrWindow;
  /** One entry per bucket of BUCKETS_TO_BACKUP (empty without a backup MinIO). */
  snapshots: SnapshotFact[];
  /** Conditions monitoring recorded as firing at its last run (metrics/alert-state.json). */
  alerts: AlertState['firing'];
}

export interface QueueFact {
  name: string;
  /** general: workflows and work that runs anywhere; backup-host: work on BACKUP_ROOT. */
  role: 'general' | 'backup-host';
  /** Which task type must be polled for Lifeboat to work. */
  type: 'workflow' | 'activity';
  /** Identities of the workers seen polling recently. */
  pollers: string[];
}

export type RunResult = 'completed' | 'failed' | 'running' | 'timed-out' | 'terminated' | 'canceled' | 'continued-as-new' | 'unknown';

export interface ScheduleFact {
  id: string;
  paused: boolean;
  note?: string;
  nextRunAt?: string;
  lastRunAt?: string;
  lastResult?: RunResult;
  lastWorkflowId?: string;
}

export interface ReplicationFact {
  /** REPLICATION_INTERVAL_SECONDS. */
  intervalSeconds: number;
  /** The newest replicateBuckets run, when there is one. */
  last?: { workflowId: string; startedAt: string; closedAt?: string; result: RunResult; lagSeconds?: number; pendingChanges?: number };
  /** When the minio-replicate schedule was created (undefined: no such schedule). */
  scheduleCreatedAt?: string;
}

/** Read by the CLI from Temporal. */
export interface TemporalStatusFacts {
  namespace: string;
  queues: QueueFact[];
  /** Lifeboat's schedules (undefined when they could not be listed: `schedulesError`). */
  schedules?: ScheduleFact[];
  schedulesError?: string;
  /** Replication to the backup MinIO (undefined without MINIO_BACKUP_ENDPOINT). */
  replication?: ReplicationFact;
}

export interface StatusFacts {
  now: string;
  temporal: TemporalStatusFacts;
  /** Undefined when the backup host could not be asked (no worker polls, or the run failed: `hostError`). */
  host?: HostStatusFacts;
  hostError?: string;
}
