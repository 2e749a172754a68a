/**
 * "Did the policy hold?" for a period: every run the schedules should have started vs. the runs
 * that exist, backups taken, verified and pruned, failed runs, DR runs and drills with their RTO.
 * Pure: the CLI (client/commands/audit.ts) gathers the schedules' expected times (the server's
 * ListScheduleMatchingTimes over each schedule's spec) and the runs (visibility, results of the
 * runs whose numbers count), and this module judges them.
 *
 * A scheduled run is matched to its expected time by the schedule id and nominal time Temporal
 * records on every run a schedule starts (TemporalScheduledById, TemporalScheduledStartTime).
 */

export interface ReportRun {
  workflowType: string;
  workflowId: string;
  runId: string;
  /** Temporal's status name: COMPLETED, FAILED, TIMED_OUT, TERMINATED, CANCELLED, RUNNING, CONTINUED_AS_NEW. */
  status: string;
  startTime: string;
  closeTime?: string;
  /** The schedule that started it, and the nominal time it was started for. */
  scheduleId?: string;
  scheduledFor?: string;
  /** Results of verifyBackups, pruneBackups and disasterRecovery runs (others are not needed). */
  result?: unknown;
}

export interface ReportSchedule {
  name: string;
  id: string;
  workflowType: string;
  /** Nominal start times in the period; undefined when the schedule does not exist on the server. */
  expected?: string[];
}

export interface ScheduleVerdict {
  name: string;
  id: string;
  workflowType: string;
  expected: number | null;
  present: number;
  /** Expected times with no run. */
  missing: string[];
  failed: number;
}

export interface DrVerdict {
  workflowId: string;
  status: string;
  mode?: string;
  outcome?: string;
  recoverySeconds?: number;
  rtoObjectiveSeconds?: number;
  rtoMet?: boolean;
}

export interface AuditReport {
  period: { from: string; to: string };
  schedules: ScheduleVerdict[];
  backups: { taken: number; failed: number; byType: Record<string, { completed: number; failed: number }> };
  verification: { runs: number; verified: number; failed: number };
  pruning: { runs: number; removed: number; bytesFreed: number };
  failedRuns: { workflowType: string; workflowId: string; runId: string; status: string; closeTime?: string }[];
  dr: DrVerdict[];
  /** Everything that breaks the policy, one line each; empty = the policy held. */
  problems: string[];
  policyHeld: boolean;
}

const BACKUP_TYPES = ['backupDatabase', 'backupBase', 'backupBuckets', 'backupConfigFiles', 'shipWal'];
const FAILED = new Set(['FAILED', 'TIMED_OUT', 'TERMINATED', 'CANCELLED']);

const second = (iso: string): number => Math.round(new Date(iso).getTime() / 1000);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function buildAuditReport(input: { from: string; to: string; schedules: readonly ReportSchedule[]; runs: readonly ReportRun[] }): AuditReport {
  const problems: string[] = [];
  const runs = input.runs;

  // 1. Each schedule: expected times vs. runs it started for them.
  const schedules = input.schedules.map((s): ScheduleVerdict => {
    const own = runs.filter((r) => r.scheduleId === s.id);
    const started = new Set(own.flatMap((r) => (r.scheduledFor ? [second(r.scheduledFor)] : [])));
    const missing = (s.expected ?? []).filter((t) => !started.has(second(t)));
    const failed = own.filter((r) => FAILED.has(r.status)).length;
    if (s.expected === undefined) problems.push(`schedule ${s.id} does not exist on the server (run lifeboat schedules apply)`);
    if (missing.length > 0) problems.push(`schedule ${s.name}: ${missing.length} of ${s.expected!.length} expected run(s) missing, first ${missing[0]}`);
    if (failed > 0) problems.push(`schedule ${s.name}: ${failed} run(s) failed`);
    return { name: s.name, id: s.id, workflowType: s.workflowType, expected: s.expected?.length ?? null, present: own.length, missing, failed };
  });

  // 2. Backups, verification, pruning.
  const byType: AuditReport['backups']['byType'] = {};
  for (const r of runs.filter((x) => BACKUP_TYPES.includes(x.workflowType))) {
    const t = (byType[r.workflowType] ??= { completed: 0, failed: 0 });
    if (r.status === 'COMPLETED') t.completed++;
    else if (FAILED.has(r.status)) t.failed++;
  }
  const total = (k: 'completed' | 'failed'): number => Object.values(byType).reduce((n, t) => n + t[k], 0);
  const verification = { runs: 0, verified: 0, failed: 0 };
  for (const r of runs.filter((x) => x.workflowType === 'verifyBackups' && x.status === 'COMPLETED')) {
    const v = (r.result ?? {}) as { verified?: unknown; failed?: unknown };
    verification.runs++;
    verification.verified += num(v.verified) ?? 0;
    verification.failed += num(v.failed) ?? 0;
  }
  if (verification.failed > 0) problems.push(`verification: ${verification.failed} backup(s) failed verification`);
  const pruning = { runs: 0, removed: 0, bytesFreed: 0 };
  for (const r of runs.filter((x) => x.workflowType === 'pruneBackups' && x.status === 'COMPLETED')) {
    pruning.runs++;
    const p = (r.result ?? {}) as Record<'local' | 'remote', { removed?: unknown[]; bytesFreed?: unknown; dryRun?: boolean } | undefined>;
    for (const side of [p.local, p.remote]) {
      if (!side || side.dryRun) continue;
      pruning.removed += Array.isArray(side.removed) ? side.removed.length : 0;
      pruning.bytesFreed += num(side.bytesFreed) ?? 0;
    }
  }

  // 3. Failed runs (any type), DR runs and drills with their RTO.
  const failedRuns = runs.filter((r) => FAILED.has(r.status)).map((r) => ({ workflowType: r.workflowType, workflowId: r.workflowId, runId: r.runId, status: r.status, closeTime: r.closeTime }));
  const unscheduledFailures = failedRuns.filter((f) => !runs.find((r) => r.runId === f.runId)?.scheduleId);
  if (unscheduledFailures.length > 0) problems.push(`${unscheduledFailures.length} run(s) not started by a schedule failed: ${unscheduledFailures.slice(0, 3).map((f) => `${f.workflowType} ${f.workflowId}`).join(', ')}`);
  const dr = runs
    .filter((r) => r.workflowType === 'disasterRecovery')
    .map((r): DrVerdict => {
      const d = (r.result ?? {}) as { mode?: string; outcome?: string; recoverySeconds?: unknown; rtoObjectiveSeconds?: unknown; rtoMet?: unknown };
      return { workflowId: r.workflowId, status: r.status, mode: d.mode, outcome: d.outcome, recoverySeconds: num(d.recoverySeconds), rtoObjectiveSeconds: num(d.rtoObjectiveSeconds), rtoMet: typeof d.rtoMet === 'boolean' ? d.rtoMet : undefined };
    });
  for (const d of dr) if (d.rtoMet === false) problems.push(`DR ${d.mode ?? 'run'} ${d.workflowId}: recovered in ${Math.round(d.recoverySeconds ?? 0)} s, RTO objective ${d.rtoObjectiveSeconds} s NOT met`);

  return {
    period: { from: input.from, to: input.to },
    schedules,
    backups: { taken: total('completed'), failed: total('failed'), byType },
    verification,
    pruning,
    failedRuns,
    dr,
    problems,
    policyHeld: problems.length === 0,
  };
}

export function formatAuditReport(r: AuditReport): string {
  const lines = [`audit report ${r.period.from} .. ${r.period.to}: ${r.policyHeld ? 'the policy held' : `the policy did NOT hold (${r.problems.length} problem(s))`}`, '', 'schedule                 expected  present  missing  failed'];
  for (const s of r.schedules) lines.push(`${s.name.padEnd(24)} ${String(s.expected ?? '-').padStart(8)} ${String(s.present).padStart(8)} ${String(s.missing.length).padStart(8)} ${String(s.failed).padStart(7)}`);
  lines.push('', `backups    ${r.backups.taken} taken, ${r.backups.failed} failed (${Object.entries(r.backups.byType).map(([t, c]) => `${t} ${c.completed}/${c.completed + c.failed}`).join(', ') || 'none'})`);
  lines.push(`verified   ${r.verification.verified} backup(s) verified, ${r.verification.failed} failed, in ${r.verification.runs} run(s)`);
  lines.push(`pruned     ${r.pruning.removed} artifact(s), ${(r.pruning.bytesFreed / 1e6).toFixed(1)} MB freed, in ${r.pruning.runs} run(s)`);
  lines.push(`failed     ${r.failedRuns.length} run(s)${r.failedRuns.length ? `: ${r.failedRuns.slice(0, 10).map((f) => `${f.workflowType} ${f.workflowId} (${f.status.toLowerCase()})`).join(', ')}` : ''}`);
  for (const d of r.dr) lines.push(`DR         ${d.mode ?? '?'} ${d.workflowId}: ${d.outcome ?? d.status.toLowerCase()}${d.recoverySeconds !== undefined ? `, recovered in ${(d.recoverySeconds / 60).toFixed(1)} min of ${((d.rtoObjectiveSeconds ?? 0) / 60).toFixed(0)} (${d.rtoMet ? 'RTO met' : 'RTO NOT met'})` : ''}`);
  if (r.dr.length === 0) lines.push('DR         no DR run or drill');
  if (r.problems.length) lines.push('', 'problems:', ...r.problems.map((p) => `  - ${p}`));
  return `${lines.join('\n')}\n`;
}
