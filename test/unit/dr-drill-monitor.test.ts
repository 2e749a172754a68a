/**
 * Monitoring of disaster-recovery drills: the drill summary read from dr-reports/*.json, the
 * `dr-drill-age` and `dr-drill-rto` conditions (fire, stay quiet, resolve), the metrics JSON and
 * Prometheus figures, and the `backups list` line.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDrills, recoverySeconds, summarizeDrills } from '../../lib/dr/drills';
import { readDrillSummary } from '../../lib/dr/drill-reports';
import type { DrReport } from '../../lib/dr/report';
import { evaluateMonitor, seedMetrics, type MonitorFacts, type Thresholds } from '../../lib/monitor/evaluate';
import { renderPrometheus } from '../../lib/monitor/prometheus';
import { alertTransitions } from '../../lib/notify/state';

const T: Thresholds = { maxBackupAgeHours: 24, sizeMinPercent: 50, sizeMaxPercent: 200, diskWarnPercent: 80, diskCriticalPercent: 90, successRatePercent: 95, walMaxAgeMinutes: 120, drillMaxAgeDays: 8 };
const NOW = '2025-10-17T02:00:00.000Z';
const daysAgo = (d: number, plusSeconds = 0): string => new Date(Date.parse(NOW) - d * 86_400_000 + plusSeconds * 1000).toISOString();

/** A report as publishDrReport writes it: the ten steps, and a drill's cleanup after them. */
function report(id: string, over: { mode?: DrReport['mode']; outcome?: DrReport['outcome']; days?: number; recovery?: number; cleanup?: number; objective?: number; error?: string } = {}): DrReport {
  const declaredAt = daysAgo(over.days ?? 1);
  const recovery = over.recovery ?? 600;
  const cleanup = over.cleanup ?? 30;
  const mode = over.mode ?? 'drill';
  const steps = [
    { name: 'communicate', action: 'Communicate resolution', estimateSeconds: 300, seconds: 1, state: 'done', startedAt: daysAgo(over.days ?? 1, recovery - 1), endedAt: daysAgo(over.days ?? 1, recovery) },
    ...(mode === 'drill' ? [{ name: 'cleanup', action: 'Clean up the drill', seconds: cleanup, state: 'done', startedAt: daysAgo(over.days ?? 1, recovery), endedAt: daysAgo(over.days ?? 1, recovery + cleanup) }] : []),
  ];
  const total = recovery + (mode === 'drill' ? cleanup : 0);
  return {
    id, runId: 'r', mode, outcome: over.outcome ?? 'recovered', ...(over.error ? { error: over.error } : {}), declaredAt, endedAt: daysAgo(over.days ?? 1, total), totalSeconds: total, recoverySeconds: recovery, stepSeconds: recovery,
    rtoObjectiveSeconds: over.objective ?? 3600, rtoMet: total <= (over.objective ?? 3600), estimateSeconds: 4200, rpo: { disasterAt: declaredAt }, steps, environment: null, restored: {}, approvals: [],
    plan: {} as DrReport['plan'],
  };
}

function facts(drills: unknown[] | undefined): MonitorFacts {
  return {
    now: NOW,
    backups: [{ key: 'daily/db_daily_0', tier: 'daily', finishedAt: daysAgo(0.2), bytes: 1_310_720_000, remote: true }],
    disk: { usedPercent: 45.2, freeBytes: 1e12, totalBytes: 2e12 },
    workflows: { completed: 40, closed: 40 },
    remoteEnabled: true,
    verification: { latestFailed: [] },
    ...(drills ? { drill: summarizeDrills(drills) } : {}),
  };
}

const firing = (f: MonitorFacts): string[] => evaluateMonitor(f, T).filter((e) => e.firing).map((e) => `${e.severity}:${e.condition}`);
const evaluation = (f: MonitorFacts, condition: string) => evaluateMonitor(f, T).find((e) => e.condition === condition);

describe('the drill summary', () => {
  it('takes the newest drill and the newest successful one, ignoring failovers and junk', () => {
    const s = summarizeDrills([
      report('old-ok', { days: 9 }),
      report('new-failed', { days: 1, outcome: 'failed', error: 'step postgres: no base backup' }),
      report('ok', { days: 3, recovery: 420 }),
      report('failover', { mode: 'failover', days: 0.5 }),
      { mode: 'drill', id: 'broken' },
      null,
      'text',
    ]);
    expect(s).toEqual({
      count: 3,
      last: { id: 'new-failed', outcome: 'failed', endedAt: expect.any(String), rtoSeconds: 600, rtoObjectiveSeconds: 3600, error: 'step postgres: no base backup' },
      lastSuccessful: { id: 'ok', outcome: 'recovered', endedAt: daysAgo(3, 450), rtoSeconds: 420, rtoObjectiveSeconds: 3600 },
    });
    expect(summarizeDrills([])).toEqual({ count: 0 });
  });
  it('measures the RTO up to the cleanup (a drill\'s report is written again after it)', () => {
    expect(recoverySeconds(report('d', { recovery: 500, cleanup: 200 }))).toBe(500);
    expect(recoverySeconds(report('f', { mode: 'failover', recovery: 500 }))).toBe(500);
    const reprotected = report('f', { mode: 'failover', recovery: 500 });
    reprotected.steps.push({ name: 'reprotect', action: 'Re-protect the new primary', seconds: 300, state: 'done', startedAt: reprotected.endedAt, endedAt: daysAgo(1, 800) });
    expect(recoverySeconds({ ...reprotected, totalSeconds: 800 })).toBe(500);
  });
  it('reads dr-reports/*.json, skipping what is not a report', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lifeboat-drills-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    expect(await readDrillSummary(root)).toEqual({ count: 0 });
    mkdirSync(join(root, 'dr-reports'));
    writeFileSync(join(root, 'dr-reports', 'lifeboat-dr-drill-2025-10-15T06-00-00Z.json'), JSON.stringify(report('lifeboat-dr-drill-2025-10-15T06:00:00Z', { days: 2 })));
    writeFileSync(join(root, 'dr-reports', 'lifeboat-dr-drill-2025-10-15T06-00-00Z.md'), '# not json');
    writeFileSync(join(root, 'dr-reports', 'torn.json'), '{"mode": "dri');
    writeFileSync(join(root, 'dr-reports', '.x.json.1234.partial'), '{}');
    expect(await readDrillSummary(root)).toMatchObject({ count: 1, lastSuccessful: { id: 'lifeboat-dr-drill-2025-10-15T06:00:00Z', rtoSeconds: 600 } });
  });
});

describe('dr-drill-age and dr-drill-rto', () => {
  it('are quiet after a recent drill within its RTO', () => {
    expect(firing(facts([report('ok', { days: 2 })]))).toEqual([]);
  });
  it.each([
    ['no drill at all', facts([]), ['warning:dr-drill-age']],
    ['only failed drills', facts([report('f', { outcome: 'failed', error: 'boom' })]), ['warning:dr-drill-age']],
    ['a successful drill 9 days old', facts([report('old', { days: 9 })]), ['warning:dr-drill-age']],
    ['a drill over its RTO', facts([report('slow', { recovery: 4000 })]), ['warning:dr-drill-rto']],
    ['an old and slow drill', facts([report('old-slow', { days: 10, recovery: 4000 })]), ['warning:dr-drill-age', 'warning:dr-drill-rto']],
  ])('fire for %s', (_what, f, expected) => {
    expect(firing(f)).toEqual(expected);
  });
  it('are not evaluated without drill facts (a worker of an older version)', () => {
    expect(evaluation(facts(undefined), 'dr-drill-age')).toBeUndefined();
    expect(evaluation(facts(undefined), 'dr-drill-rto')).toBeUndefined();
  });
  it('honour DR_DRILL_MAX_AGE_DAYS, 8 days when an older worker sends none', () => {
    const f = facts([report('ok', { days: 5 })]);
    expect(evaluateMonitor(f, { ...T, drillMaxAgeDays: 3 }).find((e) => e.condition === 'dr-drill-age')?.firing).toBe(true);
    const { drillMaxAgeDays: _d, ...older } = T;
    expect(evaluateMonitor(f, older).find((e) => e.condition === 'dr-drill-age')?.firing).toBe(false);
    expect(evaluateMonitor(facts([report('old', { days: 8.5 })]), older).find((e) => e.condition === 'dr-drill-age')?.firing).toBe(true);
  });
  it('does not count the cleanup against the RTO', () => {
    expect(evaluation(facts([report('d', { recovery: 3500, cleanup: 600, objective: 3600 })]), 'dr-drill-rto')?.firing).toBe(false);
  });
  it('say what is wrong, naming the drills', () => {
    expect(evaluation(facts([]), 'dr-drill-age')?.summary).toBe('no DR drill has recovered yet (lifeboat dr start --drill --auto-approve; the dr-drill schedule runs one weekly)');
    expect(evaluation(facts([report('old', { days: 9 }), report('new', { outcome: 'aborted', error: 'operator' })]), 'dr-drill-age')?.summary)
      .toBe('newest successful DR drill old ended 9.0 days ago (limit 8 days); the newest drill new aborted: operator');
    expect(evaluation(facts([report('slow', { recovery: 4500 })]), 'dr-drill-rto')).toMatchObject({
      summary: 'newest successful DR drill slow recovered in 75.0 min against an RTO objective of 60.0 min (NOT met)',
      details: { drill: 'slow', rtoSeconds: 4500, rtoObjectiveSeconds: 3600 },
    });
  });
  it('resolve when a new drill is recent and fast again', () => {
    const t0 = new Date(NOW);
    const bad = alertTransitions({ firing: {} }, evaluateMonitor(facts([report('old-slow', { days: 10, recovery: 4000 })]), T), t0);
    expect(bad.send.map((a) => a.condition)).toEqual(['dr-drill-age', 'dr-drill-rto']);
    const good = alertTransitions(bad.next, evaluateMonitor(facts([report('old-slow', { days: 10, recovery: 4000 }), report('fresh', { days: 0.1, recovery: 500 })]), T), new Date(t0.getTime() + 3600_000));
    expect(good.send.map((a) => [a.condition, a.resolved])).toEqual([['dr-drill-age', true], ['dr-drill-rto', true]]);
    expect(good.next.firing).toEqual({});
  });
});

describe('the last drill in the metrics', () => {
  it('adds the RTO and age to the seed metrics JSON after its seven fields, only once a drill recovered', () => {
    const m = seedMetrics(facts([report('ok', { days: 2, recovery: 421.4 })]));
    expect(Object.keys(m.metrics)).toEqual(['last_backup_age_hours', 'last_backup_size_mb', 'disk_usage_percent', 'success_rate_percent', 'daily_backup_count', 'weekly_backup_count', 'monthly_backup_count', 'last_drill_rto_seconds', 'last_drill_age_hours']);
    expect(m.metrics).toMatchObject({ last_drill_rto_seconds: 421, last_drill_age_hours: 47 });
    expect(Object.keys(seedMetrics(facts([])).metrics)).toHaveLength(7);
    expect(Object.keys(seedMetrics(facts([report('f', { outcome: 'failed' })])).metrics)).toHaveLength(7);
  });
  it('serves them to Prometheus', () => {
    const f = facts([report('ok', { days: 2, recovery: 420 }), report('f', { days: 1, outcome: 'failed' })]);
    const text = renderPrometheus(seedMetrics(f), f);
    expect(text).toContain('\nlifeboat_last_drill_rto_seconds 420\n');
    expect(text).toContain(`\nlifeboat_dr_drill_age_seconds ${2 * 86_400 - 450}\n`);
    expect(text).toContain('\nlifeboat_dr_drill_rto_seconds 420\n');
    expect(text).toContain('\nlifeboat_dr_drill_rto_objective_seconds 3600\n');
    expect(text).toContain('\nlifeboat_dr_last_drill_success 0\n');
    expect(renderPrometheus(seedMetrics(facts([])), facts([]))).not.toContain('lifeboat_dr_drill_age_seconds');
  });
  it('ends `backups list` with one line', () => {
    const now = Date.parse(NOW);
    expect(describeDrills(summarizeDrills([]), now)).toBe('last DR drill: none yet (run one: lifeboat dr start --drill --auto-approve)');
    expect(describeDrills(summarizeDrills([report('lifeboat-dr-drill-1', { days: 2, recovery: 420 })]), now)).toBe('last DR drill lifeboat-dr-drill-1: RTO 7.0 min against an objective of 60.0 min (met), 2 days ago');
    expect(describeDrills(summarizeDrills([report('a', { days: 3, recovery: 4000 }), report('b', { days: 0.5, outcome: 'failed', error: 'verify: 3 rows missing' })]), now))
      .toBe('last DR drill a: RTO 66.7 min against an objective of 60.0 min (NOT met), 3 days ago; the newest drill b failed 12 h ago: verify: 3 rows missing');
  });
});
