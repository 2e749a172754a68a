/**
 * Monitoring, decided purely (no I/O, safe inside workflows): from the facts collected on the backup
 * host, the seed's metrics JSON (field for field) and one evaluation per condition (firing or not),
 * which alerting turns into triggers and resolves.
 */
import type { DrillSummary } from '../dr/drills';
import type { Evaluation } from '../notify/state';
import { rpoExposureEvaluation, type RpoExposure } from '../wal/rpo';

export interface BackupFact {
  key: string;
  tier: 'daily' | 'weekly' | 'monthly';
  finishedAt: string;
  bytes: number;
  /** false when its last verification failed. */
  good?: boolean;
  remote?: boolean;
  /** How long the backup took (absent in facts of older versions). */
  durationSeconds?: number;
  /** When it was last verified (absent when never, or in facts of older versions). */
  verifiedAt?: string;
}

export interface MonitorFacts {
  now: string;
  backups: BackupFact[];
  disk: { usedPercent: number; freeBytes: number; totalBytes: number };
  /** Lifeboat's workflows closed in the last 7 days (Temporal visibility). */
  workflows: { completed: number; closed: number };
  remoteEnabled: boolean;
  /** Whether PostgreSQL accepted a connection from the backup host (absent in facts of older versions). */
  database?: { host: string; port: number; reachable: boolean; error?: string };
  wal?: {
    newestArchivedName?: string;
    newestArchivedAgeSeconds?: number;
    /** pg_stat_archiver.failed_count now (absent while the database is unreachable). */
    archiverFailedCount?: number;
    /** failed_count at the last run that could read it. */
    previousArchiverFailedCount?: number;
    lastFailedWal?: string;
    lastFailedAt?: string;
    lastArchivedAt?: string;
    /** last_failed_time is newer than last_archived_time. */
    failingNow?: boolean;
    readyFiles?: number;
    unshipped?: number;
  };
  verification: { latestFailed: string[]; newestAt?: string };
  /**
   * Configuration file backups (absent in facts of older versions): the newest run (an archive or an
   * unchanged record) and backupConfigFiles workflows closed in the last 7 days.
   */
  config?: { newestKey?: string; newestAt?: string; newestOutcome?: 'archived' | 'unchanged'; newestWarnings?: number; workflows: { completed: number; closed: number } };
  /** Disaster-recovery drills from $BACKUP_ROOT/dr-reports (absent in facts of older versions). */
  drill?: DrillSummary;
  /** What a loss of the database host would take: the RPO exposure (absent without REMOTE_STORAGE or in facts of older versions). */
  rpo?: RpoExposure;
}

export interface Thresholds {
  maxBackupAgeHours: number;
  sizeMinPercent: number;
  sizeMaxPercent: number;
  diskWarnPercent: number;
  diskCriticalPercent: number;
  successRatePercent: number;
  walMaxAgeMinutes: number;
  /** DR_DRILL_MAX_AGE_DAYS (absent in answers of older workers: DEFAULT_DRILL_MAX_AGE_DAYS). */
  drillMaxAgeDays?: number;
  /** RPO_TARGET in seconds (absent in answers of older workers: the exposure's own target). */
  rpoTargetSeconds?: number;
}

export const DEFAULT_DRILL_MAX_AGE_DAYS = 8;

/**
 * The seed's metrics JSON: exactly the seed's seven fields, then Lifeboat's additions, present only
 * once there is something to report (so the seed's readers see the seed's file until then).
 */
export interface SeedMetrics {
  timestamp: string;
  metrics: {
    last_backup_age_hours: number;
    last_backup_size_mb: number;
    disk_usage_percent: number;
    success_rate_percent: number;
    daily_backup_count: number;
    weekly_backup_count: number;
    monthly_backup_count: number;
    /** Lifeboat: the RTO the newest successful DR drill measured, seconds (once a drill has recovered). */
    last_drill_rto_seconds?: number;
    /** Lifeboat: hours since the newest successful DR drill ended (once a drill has recovered). */
    last_drill_age_hours?: number;
    /** Lifeboat: seconds of committed work not yet off-site (the RPO exposure; with REMOTE_STORAGE, once any WAL is archived). */
    rpo_exposure_seconds?: number;
  };
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

function newestFirst(list: BackupFact[]): BackupFact[] {
  return [...list].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
}

export function successRate(facts: MonitorFacts): number {
  return facts.workflows.closed === 0 ? 100 : Math.round((facts.workflows.completed / facts.workflows.closed) * 1000) / 10;
}

export function seedMetrics(facts: MonitorFacts): SeedMetrics {
  const now = Date.parse(facts.now);
  const newest = newestFirst(facts.backups.filter((b) => b.good !== false))[0];
  const count = (tier: BackupFact['tier']): number => facts.backups.filter((b) => b.tier === tier).length;
  return {
    timestamp: `${facts.now.slice(0, 19)}Z`,
    metrics: {
      last_backup_age_hours: newest ? Math.floor((now - Date.parse(newest.finishedAt)) / HOUR) : -1,
      last_backup_size_mb: newest ? Math.round(newest.bytes / (1024 * 1024)) : 0,
      disk_usage_percent: Math.round(facts.disk.usedPercent),
      success_rate_percent: successRate(facts),
      daily_backup_count: count('daily'),
      weekly_backup_count: count('weekly'),
      monthly_backup_count: count('monthly'),
      ...drillMetrics(facts),
      ...(facts.rpo?.exposureSeconds !== undefined ? { rpo_exposure_seconds: facts.rpo.exposureSeconds } : {}),
    },
  };
}

function drillMetrics(facts: MonitorFacts): Pick<SeedMetrics['metrics'], 'last_drill_rto_seconds' | 'last_drill_age_hours'> {
  const ok = facts.drill?.lastSuccessful;
  if (!ok) return {};
  return { last_drill_rto_seconds: Math.round(ok.rtoSeconds), last_drill_age_hours: Math.floor((Date.parse(facts.now) - Date.parse(ok.endedAt)) / HOUR) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function evaluateMonitor(facts: MonitorFacts, t: Thresholds): Evaluation[] {
  const now = Date.parse(facts.now);
  const evaluations: Evaluation[] = [];
  const push = (condition: string, severity: Evaluation['severity'], firing: boolean, summary: string, details?: Record<string, unknown>): void =>
    void evaluations.push({ condition, severity, firing, summary, details });

  // Backup age: the newest good logical backup of any tier.
  const newest = newestFirst(facts.backups.filter((b) => b.good !== false))[0];
  const ageHours = newest ? (now - Date.parse(newest.finishedAt)) / HOUR : Infinity;
  push(
    'stale-backup',
    'critical',
    ageHours > t.maxBackupAgeHours,
    newest ? `newest good backup ${newest.key} is ${ageHours.toFixed(1)} h old (limit ${t.maxBackupAgeHours} h)` : 'there is no good backup at all',
    { newest: newest?.key ?? null, ageHours: Number.isFinite(ageHours) ? Math.round(ageHours * 10) / 10 : null },
  );

  // Size: the newest of each tier against the median of its previous (up to 7) backups.
  for (const tier of ['daily', 'weekly', 'monthly'] as const) {
    const list = newestFirst(facts.backups.filter((b) => b.tier === tier));
    const previous = list.slice(1, 8).map((b) => b.bytes);
    if (list.length === 0 || previous.length < 3) continue;
    const ratio = (list[0]!.bytes / median(previous)) * 100;
    const odd = ratio < t.sizeMinPercent || ratio > t.sizeMaxPercent;
    push(`backup-size:${tier}`, 'warning', odd, `newest ${tier} backup ${list[0]!.key} is ${Math.round(ratio)}% of the median of the previous ${previous.length} (allowed ${t.sizeMinPercent}-${t.sizeMaxPercent}%)`, { bytes: list[0]!.bytes, medianBytes: median(previous) });
  }

  // Disk usage of BACKUP_ROOT.
  const used = Math.round(facts.disk.usedPercent);
  const diskSeverity = used >= t.diskCriticalPercent ? 'critical' : 'warning';
  push('disk-usage', diskSeverity, used >= t.diskWarnPercent, `BACKUP_ROOT file system is ${used}% full (warn ${t.diskWarnPercent}%, critical ${t.diskCriticalPercent}%)`, { usedPercent: used, freeBytes: facts.disk.freeBytes });

  // Success rate of Lifeboat's own workflows (Temporal visibility, last 7 days).
  const rate = successRate(facts);
  push('success-rate', 'warning', facts.workflows.closed > 0 && rate < t.successRatePercent, `${rate}% of ${facts.workflows.closed} Lifeboat workflows in the last 7 days succeeded (alert under ${t.successRatePercent}%)`, facts.workflows);

  // Remote sync: local backups older than an hour without their off-site copy.
  if (facts.remoteEnabled) {
    const missing = facts.backups.filter((b) => b.remote === false && now - Date.parse(b.finishedAt) > HOUR).map((b) => b.key);
    push('remote-sync', 'warning', missing.length > 0, missing.length > 0 ? `${missing.length} backups have no off-site copy, e.g. ${missing[0]}` : 'every backup has its off-site copy', { missing: missing.slice(0, 20) });
  }

  // PostgreSQL itself: a server the backup host cannot reach gets no backups and archives no WAL.
  if (facts.database) {
    const d = facts.database;
    const where = `${d.host}:${d.port}`;
    push('database-unreachable', 'critical', !d.reachable, d.reachable ? `postgresql at ${where} accepts connections` : `postgresql at ${where} is unreachable: ${d.error ?? 'no answer'}`, { host: d.host, port: d.port, error: d.error ?? null });
  }

  // The archiver: failing now (critical), or failures since the last run that later succeeded
  // (warning). Not evaluated while the database cannot be asked, so its state stays as it was.
  const w = facts.wal;
  if (w?.archiverFailedCount !== undefined) {
    // A count lower than before means the statistics were reset: no growth to report.
    const newFailures = w.previousArchiverFailedCount !== undefined && w.archiverFailedCount > w.previousArchiverFailedCount ? w.archiverFailedCount - w.previousArchiverFailedCount : 0;
    const failing = Boolean(w.failingNow);
    const summary = failing
      ? `wal archiving is failing: last failed ${w.lastFailedWal ?? '?'} at ${w.lastFailedAt ?? '?'}, last success ${w.lastArchivedAt ?? 'never'} (${w.archiverFailedCount} failures in all)`
      : newFailures > 0
        ? `wal archiving failed ${newFailures} time(s) since the last check (last ${w.lastFailedWal ?? '?'}), and has succeeded since`
        : `wal archiving succeeds (${w.archiverFailedCount} failures in all, none new)`;
    push('archiver-failing', failing ? 'critical' : 'warning', failing || newFailures > 0, summary, {
      failedCount: w.archiverFailedCount, previousFailedCount: w.previousArchiverFailedCount ?? null, newFailures, lastFailedWal: w.lastFailedWal ?? null, lastFailedAt: w.lastFailedAt ?? null, lastArchivedAt: w.lastArchivedAt ?? null,
    });
  }

  // WAL archive freshness: nothing archived for too long (archiver failures are archiver-failing).
  if (w) {
    const tooOld = w.newestArchivedAgeSeconds !== undefined && w.newestArchivedAgeSeconds > t.walMaxAgeMinutes * 60;
    const summary = `newest archived WAL ${w.newestArchivedName ?? '(none)'} is ${Math.round((w.newestArchivedAgeSeconds ?? 0) / 60)} min old (limit ${t.walMaxAgeMinutes} min)`;
    push('wal-archiving', 'critical', tooOld, summary, { ...w });
  }

  // RPO exposure: committed work not yet off-site, warning over RPO_TARGET, critical over three times it
  // (the same evaluation every WAL shipping run makes, lib/wal/rpo.ts).
  const rpo = facts.rpo ? rpoExposureEvaluation(facts.rpo, t.rpoTargetSeconds ?? facts.rpo.targetSeconds) : undefined;
  if (rpo) evaluations.push(rpo);

  // Verification: any of the latest backups failed its last verification.
  push(
    'verification',
    'critical',
    facts.verification.latestFailed.length > 0,
    facts.verification.latestFailed.length > 0 ? `latest backups failed verification: ${facts.verification.latestFailed.join(', ')}` : 'latest backups passed verification',
    { failed: facts.verification.latestFailed, newestAt: facts.verification.newestAt ?? null },
  );

  // Configuration files: the newest backup (archive or "unchanged" record) and the runs' success rate.
  if (facts.config) {
    const c = facts.config;
    const configAge = c.newestAt ? (now - Date.parse(c.newestAt)) / HOUR : Infinity;
    push(
      'config-backup-age',
      'warning',
      configAge > t.maxBackupAgeHours,
      c.newestAt ? `newest configuration backup ${c.newestKey} is ${configAge.toFixed(1)} h old (limit ${t.maxBackupAgeHours} h)` : 'there is no configuration backup at all (lifeboat backup config)',
      { newest: c.newestKey ?? null, ageHours: Number.isFinite(configAge) ? Math.round(configAge * 10) / 10 : null, outcome: c.newestOutcome ?? null, warnings: c.newestWarnings ?? 0 },
    );
    const configRate = configSuccessRate(facts)!;
    push('config-backup-success-rate', 'warning', c.workflows.closed > 0 && configRate < t.successRatePercent, `${configRate}% of ${c.workflows.closed} configuration backups in the last 7 days succeeded (alert under ${t.successRatePercent}%)`, c.workflows);
  }

  // Disaster-recovery drills: the newest successful one is recent (none at all warns, as for the
  // configuration backup), and its recovery time met the objective it ran against.
  if (facts.drill) {
    const d = facts.drill;
    const ok = d.lastSuccessful;
    const maxDays = t.drillMaxAgeDays ?? DEFAULT_DRILL_MAX_AGE_DAYS;
    const ageDays = ok ? (now - Date.parse(ok.endedAt)) / DAY : Infinity;
    const failed = d.last && d.last.outcome !== 'recovered' ? d.last : undefined;
    const lastFailed = failed ? `; the newest drill ${failed.id} ${failed.outcome}${failed.error ? `: ${failed.error}` : ''}` : '';
    push(
      'dr-drill-age',
      'warning',
      ageDays > maxDays,
      `${ok ? `newest successful DR drill ${ok.id} ended ${ageDays.toFixed(1)} days ago (limit ${maxDays} days)` : `no DR drill has recovered yet (${facts.remoteEnabled ? 'lifeboat dr start --drill --auto-approve; the dr-drill schedule runs one weekly' : 'drills restore from the off-site copy: set REMOTE_STORAGE=true'})`}${lastFailed}`,
      { newest: ok?.id ?? null, ageDays: Number.isFinite(ageDays) ? Math.round(ageDays * 10) / 10 : null, lastDrill: d.last?.id ?? null, lastOutcome: d.last?.outcome ?? null, drills: d.count },
    );
    if (ok) {
      const over = ok.rtoSeconds > ok.rtoObjectiveSeconds;
      push(
        'dr-drill-rto',
        'warning',
        over,
        `newest successful DR drill ${ok.id} recovered in ${(ok.rtoSeconds / 60).toFixed(1)} min against an RTO objective of ${(ok.rtoObjectiveSeconds / 60).toFixed(1)} min (${over ? 'NOT met' : 'met'})`,
        { drill: ok.id, rtoSeconds: ok.rtoSeconds, rtoObjectiveSeconds: ok.rtoObjectiveSeconds },
      );
    }
  }
  return evaluations;
}

/** Share of configuration backup runs of the last 7 days that succeeded, percent (100 with none). */
export function configSuccessRate(facts: MonitorFacts): number | undefined {
  const w = facts.config?.workflows;
  if (!w) return undefined;
  return w.closed === 0 ? 100 : Math.round((w.completed / w.closed) * 1000) / 10;
}
