/** lib/audit/report.ts: expected vs. present scheduled runs, counts, DR RTO, the verdict. */
import { describe, expect, it } from 'vitest';
import { buildAuditReport, formatAuditReport, type ReportRun } from '../../lib/audit/report';

const run = (over: Partial<ReportRun>): ReportRun => ({ workflowType: 'backupDatabase', workflowId: 'w', runId: Math.random().toString(36), status: 'COMPLETED', startTime: '2026-12-01T02:00:01Z', ...over });
const daily = { name: 'postgres-daily', id: 'lifeboat-postgres-daily', workflowType: 'backupDatabase', expected: ['2026-12-01T02:00:00Z', '2026-12-02T02:00:00Z', '2026-12-03T02:00:00Z'] };

describe('audit report (lib/audit/report.ts)', () => {
  it('the policy held: every expected run present, nothing failed, the drill met its RTO', () => {
    const r = buildAuditReport({
      from: '2026-12-01T00:00:00Z', to: '2026-12-04T00:00:00Z',
      schedules: [daily],
      runs: [
        ...daily.expected.map((t) => run({ scheduleId: daily.id, scheduledFor: t, startTime: t })),
        run({ workflowType: 'verifyBackups', result: { verified: 3, failed: 0, results: [] } }),
        run({ workflowType: 'pruneBackups', result: { local: { removed: [{}, {}], bytesFreed: 2e6 }, remote: { removed: [{}], bytesFreed: 1e6 } } }),
        run({ workflowType: 'disasterRecovery', workflowId: 'dr-drill-1', result: { mode: 'drill', outcome: 'recovered', recoverySeconds: 600, rtoObjectiveSeconds: 3600, rtoMet: true } }),
      ],
    });
    expect(r.policyHeld).toBe(true);
    expect(r.schedules).toEqual([{ name: 'postgres-daily', id: daily.id, workflowType: 'backupDatabase', expected: 3, present: 3, missing: [], failed: 0 }]);
    expect(r.backups).toEqual({ taken: 3, failed: 0, byType: { backupDatabase: { completed: 3, failed: 0 } } });
    expect(r.verification).toEqual({ runs: 1, verified: 3, failed: 0 });
    expect(r.pruning).toEqual({ runs: 1, removed: 3, bytesFreed: 3e6 });
    expect(r.dr).toEqual([{ workflowId: 'dr-drill-1', status: 'COMPLETED', mode: 'drill', outcome: 'recovered', recoverySeconds: 600, rtoObjectiveSeconds: 3600, rtoMet: true }]);
    expect(formatAuditReport(r)).toMatch(/the policy held[\s\S]*DR {9}drill dr-drill-1: recovered, recovered in 10\.0 min of 60 \(RTO met\)/);
  });

  it('did not hold: a missing and a failed scheduled run, a failed verification, a missed RTO, a schedule never applied', () => {
    const r = buildAuditReport({
      from: '2026-12-01T00:00:00Z', to: '2026-12-04T00:00:00Z',
      schedules: [daily, { name: 'prune', id: 'lifeboat-prune', workflowType: 'pruneBackups' }],
      runs: [
        run({ scheduleId: daily.id, scheduledFor: daily.expected[0] }),
        run({ scheduleId: daily.id, scheduledFor: daily.expected[2], status: 'FAILED' }),
        run({ workflowType: 'verifyBackups', result: { verified: 2, failed: 1 } }),
        run({ workflowType: 'disasterRecovery', workflowId: 'dr-failover-INC-1', result: { mode: 'failover', outcome: 'recovered', recoverySeconds: 5400, rtoObjectiveSeconds: 3600, rtoMet: false } }),
        run({ workflowType: 'restoreDatabase', workflowId: 'manual-restore', status: 'TERMINATED' }),
      ],
    });
    expect(r.policyHeld).toBe(false);
    expect(r.schedules[0]).toMatchObject({ expected: 3, present: 2, missing: ['2026-12-02T02:00:00Z'], failed: 1 });
    expect(r.schedules[1]).toMatchObject({ expected: null, present: 0 });
    expect(r.backups).toMatchObject({ taken: 1, failed: 1 });
    expect(r.failedRuns.map((f) => f.workflowId)).toEqual(['w', 'manual-restore']);
    expect(r.problems).toEqual([
      'schedule postgres-daily: 1 of 3 expected run(s) missing, first 2026-12-02T02:00:00Z',
      'schedule postgres-daily: 1 run(s) failed',
      'schedule lifeboat-prune does not exist on the server (run lifeboat schedules apply)',
      'verification: 1 backup(s) failed verification',
      '1 run(s) not started by a schedule failed: restoreDatabase manual-restore',
      'DR failover dr-failover-INC-1: recovered in 5400 s, RTO objective 3600 s NOT met',
    ]);
  });
});
