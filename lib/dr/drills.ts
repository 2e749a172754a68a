/**
 * What monitoring and `backups list` need to know about disaster-recovery drills, from the reports
 * the runbook writes (dr-reports/<id>.json): the newest drill of any outcome, the newest one that
 * recovered, and the recovery time it measured. Pure (monitoring evaluates it inside a workflow);
 * reading the files is ./drill-reports.ts.
 */
import type { DrReport } from './report';

/** One drill, as monitoring sees it. */
export interface DrillFact {
  id: string;
  outcome: DrReport['outcome'];
  /** When the run ended (the report's endedAt). */
  endedAt: string;
  /** Declaration to recovery: the report's total without a drill's cleanup (see recoverySeconds). */
  rtoSeconds: number;
  rtoObjectiveSeconds: number;
  /** The failure, for a drill that did not recover. */
  error?: string;
}

export interface DrillSummary {
  /** Drill reports found. */
  count: number;
  /** The newest drill, whatever its outcome. */
  last?: DrillFact;
  /** The newest drill whose outcome is `recovered`: the RTO Lifeboat has actually shown. */
  lastSuccessful?: DrillFact;
}

/** Steps that run after recovery is complete: a drill's cleanup, a failover's re-protection. */
const AFTER_RECOVERY = new Set(['cleanup', 'reprotect']);

/**
 * Seconds from declaration to recovery. The report is written once more after a drill's cleanup (or
 * a failover's re-protection), and its totalSeconds then includes that step, which is not part of
 * recovering: the RTO ends where the first such step began.
 */
export function recoverySeconds(r: Pick<DrReport, 'declaredAt' | 'totalSeconds' | 'steps'> & { recoverySeconds?: number }): number {
  if (typeof r.recoverySeconds === 'number') return r.recoverySeconds;
  const after = r.steps.find((s) => AFTER_RECOVERY.has(s.name));
  const end = after ? Date.parse(after.startedAt) : Number.NaN;
  const declared = Date.parse(r.declaredAt);
  if (!Number.isFinite(end) || !Number.isFinite(declared)) return r.totalSeconds;
  return Math.max(0, Math.min(r.totalSeconds, (end - declared) / 1000));
}

export function drillFact(r: DrReport): DrillFact {
  return {
    id: r.id,
    outcome: r.outcome,
    endedAt: r.endedAt,
    rtoSeconds: Math.round(recoverySeconds(r) * 10) / 10,
    rtoObjectiveSeconds: r.rtoObjectiveSeconds,
    ...(r.outcome !== 'recovered' && r.error ? { error: r.error } : {}),
  };
}

/** Is this parsed JSON a report the summary can use (a drill with the fields it reads)? */
export function isDrillReport(value: unknown): value is DrReport {
  const r = value as Partial<DrReport> | null;
  return Boolean(
    r && typeof r === 'object' && r.mode === 'drill' && typeof r.id === 'string' && typeof r.endedAt === 'string' && !Number.isNaN(Date.parse(r.endedAt))
      && typeof r.declaredAt === 'string' && typeof r.totalSeconds === 'number' && typeof r.rtoObjectiveSeconds === 'number' && Array.isArray(r.steps)
      && (r.outcome === 'recovered' || r.outcome === 'failed' || r.outcome === 'aborted'),
  );
}

/** The newest drill and the newest successful one, from any reports (failovers and junk are ignored). */
export function summarizeDrills(reports: readonly unknown[]): DrillSummary {
  const drills = reports.filter(isDrillReport).sort((a, b) => Date.parse(b.endedAt) - Date.parse(a.endedAt));
  const successful = drills.find((r) => r.outcome === 'recovered');
  return {
    count: drills.length,
    ...(drills[0] ? { last: drillFact(drills[0]) } : {}),
    ...(successful ? { lastSuccessful: drillFact(successful) } : {}),
  };
}

const minutes = (s: number): string => (s < 120 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);
const ago = (at: string, now: number): string => {
  const s = Math.max(0, (now - Date.parse(at)) / 1000);
  return s < 5400 ? `${Math.round(s / 60)} min ago` : s < 129_600 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86400)} days ago`;
};

/** One line for `lifeboat backups list`: the last drill's RTO against the objective. */
export function describeDrills(summary: DrillSummary, now = Date.now()): string {
  const ok = summary.lastSuccessful;
  if (!summary.last) return 'last DR drill: none yet (run one: lifeboat dr start --drill --auto-approve)';
  const measured = ok
    ? `last DR drill ${ok.id}: RTO ${minutes(ok.rtoSeconds)} against an objective of ${minutes(ok.rtoObjectiveSeconds)} (${ok.rtoSeconds <= ok.rtoObjectiveSeconds ? 'met' : 'NOT met'}), ${ago(ok.endedAt, now)}`
    : 'last DR drill: none has recovered yet';
  const failed = summary.last.outcome !== 'recovered' ? `; the newest drill ${summary.last.id} ${summary.last.outcome} ${ago(summary.last.endedAt, now)}${summary.last.error ? `: ${summary.last.error}` : ''}` : '';
  return `${measured}${failed}`;
}
