/**
 * `lifeboat status`, decided purely: from the facts (./facts.ts) to one report with a section per
 * concern and a verdict. The backup host's conditions are monitoring's own (evaluateMonitor, the
 * same thresholds and wording as the hourly alerts); status adds what only a whole view can see:
 * workers not polling, stores not answering, no point-in-time recovery window, MinIO buckets
 * without a recent snapshot, replication behind, schedules paused or whose last run failed.
 *
 * Verdict: `ok` (nothing to act on), `degraded` (warnings only), `critical` (at least one critical
 * problem), `unknown` (the backup host could not be asked, so protection cannot be judged).
 */
import { evaluateMonitor, type BackupFact } from '../monitor/evaluate';
import type { Severity } from '../notify/alert';
import { exposureSeverity } from '../wal/rpo';
import type { HostStatusFacts, QueueFact, ReplicationFact, ScheduleFact, SnapshotFact, StatusFacts, StoreProbe } from './facts';
import type { PitrWindow } from './pitr-window';

export const STATUS_FORMAT = 'lifeboat-status/1';

export type Verdict = 'ok' | 'degraded' | 'critical' | 'unknown';

export interface StatusProblem {
  /** Monitoring's condition name (e.g. stale-backup), or status's own (worker:<queue>, store:<name>, ...). */
  condition: string;
  severity: 'warning' | 'critical';
  summary: string;
  /** The command or setting that fixes it, when there is an obvious one. */
  hint?: string;
}

export interface TierStatus {
  tier: BackupFact['tier'];
  /** Backups of this tier. */
  count: number;
  newest?: { key: string; finishedAt: string; ageSeconds: number; bytes: number; durationSeconds?: number; verifiedAt?: string; verified: 'passed' | 'failed' | 'never'; offsite?: boolean };
}

export interface StatusReport {
  format: typeof STATUS_FORMAT;
  now: string;
  verdict: Verdict;
  problems: StatusProblem[];
  /** Where the facts came from: the backup host's worker, and the Temporal namespace. */
  host: { name: string; backupRoot: string } | null;
  backups: TierStatus[] | null;
  base: { count: number; newest?: HostStatusFacts['bases'][number] & { ageSeconds: number }; pitr: PitrWindow } | null;
  wal: {
    lastArchived?: { name: string; ageSeconds?: number; at?: string };
    failingNow: boolean;
    readyFiles?: number;
    unshipped?: number;
    lastShipped?: { name: string; archivedAt?: string };
    rpo?: { exposureSeconds?: number; targetSeconds: number; basis: string; state: 'ok' | 'warning' | 'critical' };
  } | null;
  database: { host: string; port: number; reachable: boolean; error?: string } | null;
  stores: StoreProbe[] | null;
  minio: { snapshots: (SnapshotFact & { ageSeconds?: number })[]; replication: ReplicationFact | null } | null;
  config: { newestKey?: string; newestAt?: string; ageSeconds?: number; outcome?: 'archived' | 'unchanged' } | null;
  schedules: ScheduleFact[] | null;
  alerts: { condition: string; severity: Severity; since: string; summary: string }[] | null;
  drill: { last?: { id: string; outcome: string; endedAt: string; rtoSeconds: number; rtoObjectiveSeconds: number }; lastSuccessful?: { id: string; endedAt: string; rtoSeconds: number; rtoObjectiveSeconds: number }; count: number } | null;
  workers: QueueFact[];
  disk: { backupRoot: string; usedPercent: number; freeBytes: number; totalBytes: number } | null;
}

/** Hints for monitoring's conditions, by name (prefix before `:`). */
const MONITOR_HINTS: Record<string, string> = {
  'stale-backup': 'lifeboat backup postgres daily --wait; check `lifeboat schedules list`',
  'backup-size': 'compare with `lifeboat backups list`; a sudden change may be data loss or a bloat',
  'disk-usage': 'lifeboat prune --dry-run, or give BACKUP_ROOT more space',
  'success-rate': 'find the failed runs in the Temporal UI (ExecutionStatus = "Failed")',
  'remote-sync': 'check the off-site store; the next backup retries the copy',
  'database-unreachable': 'check PostgreSQL and DB_HOST/DB_PORT: lifeboat health',
  'archiver-failing': 'check archive_command and the PostgreSQL log; lifeboat wal status',
  'wal-archiving': 'check archive_mode/archive_command and archive_timeout; SELECT pg_switch_wal()',
  'rpo-exposure': 'lifeboat wal ship --wait; check the wal-ship schedule',
  verification: 'lifeboat verify --latest; restore from a good copy',
  'config-backup-age': 'lifeboat backup config --wait',
  'config-backup-success-rate': 'find the failed backupConfigFiles runs in the Temporal UI',
  'dr-drill-age': 'lifeboat dr start --drill --auto-approve',
  'dr-drill-rto': 'see the drill report in $BACKUP_ROOT/dr-reports and docs/disaster-recovery.md',
};

const age = (now: number, iso: string | undefined): number | undefined => (iso ? Math.max(0, Math.round((now - Date.parse(iso)) / 1000)) : undefined);

function workerProblems(queues: readonly QueueFact[]): StatusProblem[] {
  return queues
    .filter((q) => q.pollers.length === 0)
    .map((q) => ({
      condition: `worker:${q.name}`,
      severity: 'critical' as const,
      summary: `no worker polls the ${q.role === 'general' ? 'general' : 'backup host\'s'} task queue ${q.name} (${q.type} tasks): nothing runs${q.role === 'backup-host' ? ' on BACKUP_ROOT' : ''}`,
      hint: q.role === 'general' ? 'start one: lifeboat worker (or npm start)' : 'start lifeboat worker on the backup host, with LIFEBOAT_HOST set to its name in LIFEBOAT_BACKUP_HOST',
    }));
}

function storeProblems(stores: readonly StoreProbe[]): StatusProblem[] {
  const names = { offsite: 'the off-site store', 'minio-source': 'the source MinIO', 'minio-backup': 'the backup MinIO' } as const;
  return stores
    .filter((s) => !s.reachable)
    .map((s) => ({
      condition: `store:${s.name}`,
      severity: 'critical' as const,
      summary: `${names[s.name]} ${s.location} is unreachable from the backup host: ${s.error ?? 'no answer'}`,
      hint: s.name === 'offsite' ? 'check S3_ENDPOINT/S3_BUCKET and the server; nothing reaches the off-site copy meanwhile' : s.name === 'minio-backup' ? 'check MINIO_BACKUP_ENDPOINT and the server; snapshots, mirrors and replication stop meanwhile' : 'check MINIO_SOURCE_ENDPOINT; bucket backups stop meanwhile',
    }));
}

function pitrProblems(pitr: PitrWindow): StatusProblem[] {
  if (pitr.problem === undefined) return [];
  return [{ condition: 'pitr-window', severity: 'warning', summary: `no point-in-time recovery window: ${pitr.problem}`, hint: pitr.bases === 0 ? 'lifeboat backup base --wait' : 'take a new base backup: lifeboat backup base --wait' }];
}

function snapshotProblems(snapshots: readonly SnapshotFact[], now: number, maxAgeHours: number): StatusProblem[] {
  const problems: StatusProblem[] = [];
  for (const s of snapshots) {
    const seconds = age(now, s.newest?.finishedAt);
    if (seconds !== undefined && seconds <= maxAgeHours * 3600) continue;
    problems.push({
      condition: `minio-snapshot:${s.bucket}`,
      severity: 'warning',
      summary: s.newest ? `newest snapshot of bucket ${s.bucket} is ${(seconds! / 3600).toFixed(1)} h old (limit ${maxAgeHours} h)` : `bucket ${s.bucket} has no snapshot`,
      hint: 'lifeboat minio backup',
    });
  }
  return problems;
}

/** Replication is behind when its last run failed, or the last completed one is older than three intervals (at least 15 min). */
function replicationProblems(r: ReplicationFact | undefined, now: number): StatusProblem[] {
  if (!r) return [];
  const limit = Math.max(3 * r.intervalSeconds, 900);
  const hint = 'lifeboat minio replicate; check the minio-replicate schedule';
  if (!r.last) {
    const since = age(now, r.scheduleCreatedAt);
    return since !== undefined && since > limit ? [{ condition: 'replication', severity: 'warning', summary: `the minio-replicate schedule exists since ${r.scheduleCreatedAt} but no replication run is visible`, hint }] : [];
  }
  if (r.last.result === 'failed' || r.last.result === 'timed-out' || r.last.result === 'terminated') {
    return [{ condition: 'replication', severity: 'warning', summary: `the last replication run ${r.last.workflowId} ${r.last.result}`, hint }];
  }
  const behind = age(now, r.last.closedAt ?? r.last.startedAt)! + (r.last.lagSeconds ?? 0);
  if (r.last.result !== 'running' && behind > limit) return [{ condition: 'replication', severity: 'warning', summary: `the backup MinIO may be ${Math.round(behind / 60)} min behind the source (last replication ${r.last.workflowId}, limit ${Math.round(limit / 60)} min)`, hint }];
  return [];
}

function scheduleProblems(schedules: readonly ScheduleFact[] | undefined, error: string | undefined): StatusProblem[] {
  if (!schedules) return [{ condition: 'schedules', severity: 'warning', summary: `schedules could not be listed: ${error ?? 'unknown error'}` }];
  if (schedules.length === 0) return [{ condition: 'schedules', severity: 'warning', summary: 'no Lifeboat schedule exists: nothing runs backups automatically', hint: 'lifeboat schedules apply' }];
  const problems: StatusProblem[] = [];
  for (const s of schedules) {
    if (s.paused) problems.push({ condition: `schedule:${s.id}`, severity: 'warning', summary: `schedule ${s.id} is paused${s.note ? ` (${s.note})` : ''}`, hint: `lifeboat schedules unpause ${s.id.replace(/^lifeboat-/, '')}` });
    else if (s.lastResult === 'failed' || s.lastResult === 'timed-out' || s.lastResult === 'terminated') {
      problems.push({ condition: `schedule:${s.id}`, severity: 'warning', summary: `the last run of schedule ${s.id} (${s.lastWorkflowId}, ${s.lastRunAt}) ${s.lastResult}`, hint: `see why: lifeboat audit show --workflow-id ${s.lastWorkflowId}` });
    }
  }
  return problems;
}

function tiers(backups: readonly BackupFact[], now: number): TierStatus[] {
  return (['daily', 'weekly', 'monthly'] as const).map((tier) => {
    const list = backups.filter((b) => b.tier === tier).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
    const b = list[0];
    return {
      tier,
      count: list.length,
      ...(b
        ? { newest: { key: b.key, finishedAt: b.finishedAt, ageSeconds: age(now, b.finishedAt)!, bytes: b.bytes, durationSeconds: b.durationSeconds, verifiedAt: b.verifiedAt, verified: b.good === undefined ? 'never' as const : b.good ? 'passed' as const : 'failed' as const, offsite: b.remote } }
        : {}),
    };
  });
}

function verdictOf(problems: readonly StatusProblem[], hostKnown: boolean): Verdict {
  if (!hostKnown) return 'unknown';
  if (problems.some((p) => p.severity === 'critical')) return 'critical';
  return problems.length > 0 ? 'degraded' : 'ok';
}

export function evaluateStatus(facts: StatusFacts): StatusReport {
  const now = Date.parse(facts.now);
  const t = facts.temporal;
  const h = facts.host;
  const problems: StatusProblem[] = [...workerProblems(t.queues)];
  if (!h && facts.hostError) problems.push({ condition: 'backup-host', severity: 'critical', summary: `the backup host could not be asked: ${facts.hostError}`, hint: 'lifeboat health' });
  if (h) {
    problems.push(...storeProblems(h.stores));
    for (const e of evaluateMonitor(h.monitor, h.thresholds)) {
      if (e.firing) problems.push({ condition: e.condition, severity: e.severity === 'critical' ? 'critical' : 'warning', summary: e.summary, hint: MONITOR_HINTS[e.condition.split(':')[0]!] });
    }
    problems.push(...pitrProblems(h.pitr), ...snapshotProblems(h.snapshots, now, h.thresholds.maxBackupAgeHours));
  }
  problems.push(...replicationProblems(t.replication, now), ...scheduleProblems(t.schedules, t.schedulesError));
  problems.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));

  const m = h?.monitor;
  const newestBase = h?.bases[0];
  const rpo = m?.rpo;
  return {
    format: STATUS_FORMAT,
    now: facts.now,
    verdict: verdictOf(problems, Boolean(h)),
    problems,
    host: h ? { name: h.host, backupRoot: h.backupRoot } : null,
    backups: m ? tiers(m.backups, now) : null,
    base: h ? { count: h.bases.length, ...(newestBase ? { newest: { ...newestBase, ageSeconds: age(now, newestBase.finishedAt)! } } : {}), pitr: h.pitr } : null,
    wal: m
      ? {
          ...(m.wal?.newestArchivedName ? { lastArchived: { name: m.wal.newestArchivedName, ageSeconds: m.wal.newestArchivedAgeSeconds, at: m.wal.lastArchivedAt } } : {}),
          failingNow: Boolean(m.wal?.failingNow),
          readyFiles: m.wal?.readyFiles,
          unshipped: m.wal?.unshipped,
          ...(rpo?.newestShipped ? { lastShipped: { name: rpo.newestShipped, archivedAt: rpo.newestShippedArchivedAt } } : {}),
          ...(rpo ? { rpo: { exposureSeconds: rpo.exposureSeconds, targetSeconds: h!.thresholds.rpoTargetSeconds ?? rpo.targetSeconds, basis: rpo.basis, state: exposureSeverity({ ...rpo, targetSeconds: h!.thresholds.rpoTargetSeconds ?? rpo.targetSeconds }) } } : {}),
        }
      : null,
    database: m?.database ?? null,
    stores: h ? h.stores : null,
    minio: h ? { snapshots: h.snapshots.map((s) => ({ ...s, ageSeconds: age(now, s.newest?.finishedAt) })), replication: t.replication ?? null } : null,
    config: m?.config ? { newestKey: m.config.newestKey, newestAt: m.config.newestAt, ageSeconds: age(now, m.config.newestAt), outcome: m.config.newestOutcome } : null,
    schedules: t.schedules ?? null,
    alerts: h ? Object.entries(h.alerts).map(([condition, a]) => ({ condition, severity: a.severity, since: a.since, summary: a.summary })) : null,
    drill: m?.drill ? { count: m.drill.count, ...(m.drill.last ? { last: m.drill.last } : {}), ...(m.drill.lastSuccessful ? { lastSuccessful: m.drill.lastSuccessful } : {}) } : null,
    workers: t.queues,
    disk: m ? { backupRoot: h!.backupRoot, ...m.disk } : null,
  };
}
