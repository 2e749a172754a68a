/**
 * The disaster-recovery runbook's plan and report (workflows/disaster-recovery.ts): plain JSON that
 * travels in workflow history and is written to dr-reports/<id>.json, and the report rendered for
 * people (`renderDrReport`, pure: the seed's table with each step's real time against its estimate).
 */
import type { EnvironmentKind } from '../environment/kinds';
import type { ProvisionedEnvironment } from '../environment/provider';

/** Everything the runbook decided before its first side effect (names and facts, no secrets). */
export interface DrPlan {
  mode: 'failover' | 'drill';
  pitrTarget: string;
  environment: EnvironmentKind;
  /** The name the environment provider knows this run's environment by. */
  environmentName: string;
  autoApprove: boolean;
  /** Point-in-time recovery from a base backup + shipped WAL, or the newest logical dump. */
  postgresPath: 'pitr' | 'dump';
  base?: { key: string; finishedAt: string; bytes: number; segments: number };
  /** `globalsKey`: the same run's globals off-site, applied to the new cluster before the dump (its owners and grants name those roles). */
  dump?: { key: string; finishedAt: string; bytes: number; database: string; globalsKey?: string };
  /** Why the dump path was taken, when it was. */
  fallbackReason?: string;
  /** The production database name (restored under the same name). */
  database: string;
  buckets: { bucket: string; from: 'replica' | 'snapshot'; snapshot?: string; objects?: number }[];
  configBackup?: string;
  dns?: { provider: string; target: string; record: string };
  rtoSeconds: number;
  backupHostTaskQueue: string;
  uiUrl: string;
  /** What step 3 downloads: the off-site key and its size. */
  artifacts: { kind: 'base' | 'logical' | 'globals' | 'snapshot' | 'config'; key: string; bytes: number }[];
  warnings: string[];
}

export interface DrStepReport {
  name: string;
  action: string;
  estimateSeconds?: number;
  seconds: number;
  state: string;
  detail?: string;
  startedAt: string;
  endedAt?: string;
}

export interface RestoredDataCheck {
  ok: boolean;
  problems: string[];
  summary: string;
  postgres: { database: string; tables: number; rows: number; comparedWith?: string };
  minio: { bucket: string; objects: number; expected: number; sampled: number }[];
}

export interface DrReport {
  id: string;
  runId: string;
  mode: 'failover' | 'drill';
  outcome: 'recovered' | 'failed' | 'aborted';
  error?: string;
  incident?: string;
  declaredBy?: string;
  reason?: string;
  declaredAt: string;
  endedAt: string;
  /** Declaration to the end of the run (a drill's cleanup or a failover's re-protection included). */
  totalSeconds: number;
  /** Declaration to the end of step 10: the recovery time measured against the RTO objective. */
  recoverySeconds: number;
  /** Sum of the ten steps' times (without a drill's cleanup). */
  stepSeconds: number;
  rtoObjectiveSeconds: number;
  rtoMet: boolean;
  estimateSeconds: number;
  rpo: { disasterAt: string; lastTransactionAt?: string; seconds?: number };
  steps: DrStepReport[];
  environment: ProvisionedEnvironment | null;
  restored: {
    download?: { artifacts: number; bytes: number };
    postgres?: { path: 'pitr' | 'dump'; host: string; port: number; backup: string; dataDir?: string; lastTransactionAt?: string; databases: { name: string; tables: number; rows: number }[]; seconds: number };
    minio?: { endpoint: string; buckets: { bucket: string; from: string; source: string; objects: number; bytes: number }[] };
    config?: { backup?: string; targetDir?: string; files?: number; skipped?: string };
    verify?: RestoredDataCheck;
    dns?: { record?: string; value?: string; old?: string[]; approvedBy?: string; skipped?: string };
    checks?: SmokeChecks;
    /** After a failover: the new primary's WAL archived and its first base backup. */
    reprotect?: { envFile: string; restarted: boolean; baseBackup: string; uploaded: boolean };
  };
  approvals: { step: string; approvedBy: string; comment?: string; at: string }[];
  aborted?: { reason: string; by?: string; at: string };
  plan: DrPlan;
}

export interface SmokeChecks {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string; ms: number }[];
}

const minutes = (s: number | undefined): string => (s === undefined ? '-' : s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);

/** The report for people: the seed's table with each step's real time against its estimate. Pure. */
export function renderDrReport(r: DrReport): string {
  const lines = [
    `# Disaster recovery ${r.mode}: ${r.outcome}`,
    '',
    `- Run: \`${r.id}\` (run ${r.runId})${r.incident ? `, incident ${r.incident}` : ''}`,
    `- Declared by ${r.declaredBy ?? 'unknown'} at ${r.declaredAt}${r.reason ? `: ${r.reason}` : ''}`,
    `- Recovered in **${minutes(r.recoverySeconds)}** (declaration to step 10) against an RTO objective of ${minutes(r.rtoObjectiveSeconds)} (${r.rtoMet ? 'met' : 'NOT met'}); the seed's estimate is ${minutes(r.estimateSeconds)}; the whole run took ${minutes(r.totalSeconds)}`,
    `- RPO: ${r.rpo.lastTransactionAt ? `last transaction recovered committed at ${r.rpo.lastTransactionAt}, ${minutes(r.rpo.seconds)} before the disaster (${r.rpo.disasterAt})` : 'no transaction time known'}`,
    ...(r.error ? [`- Error: ${r.error}`] : []),
    ...(r.aborted ? [`- Aborted by ${r.aborted.by ?? 'someone'} at ${r.aborted.at}: ${r.aborted.reason}`] : []),
    '',
    '| Step | Action | Estimate | Took | State | Detail |',
    '|------|--------|----------|------|-------|--------|',
    ...r.steps.map((s, i) => `| ${s.name === 'cleanup' || s.name === 'reprotect' ? '-' : i + 1} | ${s.action} | ${minutes(s.estimateSeconds)} | ${minutes(s.seconds)}${s.estimateSeconds !== undefined && s.seconds > s.estimateSeconds ? ' (over)' : ''} | ${s.state} | ${(s.detail ?? '').replace(/\|/g, '\\|')} |`),
    '',
    '## What was restored',
    '',
    ...(r.restored.postgres ? [`- PostgreSQL: ${r.restored.postgres.path === 'pitr' ? 'point-in-time recovery' : 'logical dump'} from \`${r.restored.postgres.backup}\` to ${r.restored.postgres.host}:${r.restored.postgres.port}; ${r.restored.postgres.databases.map((d) => `${d.name} (${d.tables} tables, ${d.rows} rows)`).join(', ')}`] : []),
    ...(r.restored.minio ? r.restored.minio.buckets.map((b) => `- MinIO ${b.bucket}: ${b.objects} objects from the ${b.from} (${b.source}) into ${r.restored.minio!.endpoint}`) : []),
    ...(r.restored.config ? [`- Configuration: ${r.restored.config.skipped ? `skipped (${r.restored.config.skipped})` : `${r.restored.config.files ?? '?'} files from \`${r.restored.config.backup}\` into ${r.restored.config.targetDir}`}`] : []),
    ...(r.restored.verify ? [`- Verified: ${r.restored.verify.summary}`] : []),
    ...(r.restored.dns ? [`- DNS: ${r.restored.dns.skipped ? `skipped (${r.restored.dns.skipped})` : `${r.restored.dns.record} -> ${r.restored.dns.value} (was ${(r.restored.dns.old ?? []).join(', ') || 'absent'})`}`] : []),
    ...(r.restored.checks ? r.restored.checks.checks.map((c) => `- Check ${c.name}: ${c.ok ? 'ok' : 'FAILED'}, ${c.detail}`) : []),
    ...(r.restored.reprotect ? [`- Re-protected: WAL archived from the new primary${r.restored.reprotect.restarted ? ' (restarted for archive_mode)' : ''}, first base backup \`${r.restored.reprotect.baseBackup}\`; point Lifeboat at it with ${r.restored.reprotect.envFile}`] : []),
    '',
    '## Approvals',
    '',
    ...(r.approvals.length ? r.approvals.map((a) => `- ${a.step}: ${a.approvedBy} at ${a.at}${a.comment ? ` (${a.comment})` : ''}`) : ['- none']),
    ...(r.plan.warnings.length ? ['', '## Warnings', '', ...r.plan.warnings.map((w) => `- ${w}`)] : []),
    '',
  ];
  return lines.join('\n');
}
