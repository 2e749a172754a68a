import { describe, expect, it } from 'vitest';
import { evaluateMonitor, seedMetrics, type MonitorFacts, type Thresholds } from '../../lib/monitor/evaluate';
import { renderPrometheus } from '../../lib/monitor/prometheus';
import { pagerdutyPayload, slackPayload } from '../../lib/notify/channels';
import { alertTransitions } from '../../lib/notify/state';

const T: Thresholds = { maxBackupAgeHours: 24, sizeMinPercent: 50, sizeMaxPercent: 200, diskWarnPercent: 80, diskCriticalPercent: 90, successRatePercent: 95, walMaxAgeMinutes: 120 };
const NOW = '2025-10-17T02:00:00.000Z';
const hoursAgo = (h: number): string => new Date(Date.parse(NOW) - h * 3600_000).toISOString();

function facts(over: Partial<MonitorFacts> = {}): MonitorFacts {
  return {
    now: NOW,
    backups: [10, 34, 58, 82].map((h, i) => ({ key: `daily/db_daily_${i}`, tier: 'daily' as const, finishedAt: hoursAgo(h), bytes: 1_310_720_000, remote: true })),
    disk: { usedPercent: 45.2, freeBytes: 1e12, totalBytes: 2e12 },
    workflows: { completed: 40, closed: 40 },
    remoteEnabled: true,
    wal: { newestArchivedAgeSeconds: 600, newestArchivedName: '000000010000000000000042' },
    verification: { latestFailed: [] },
    ...over,
  };
}

const firing = (f: MonitorFacts): string[] => evaluateMonitor(f, T).filter((e) => e.firing).map((e) => `${e.severity}:${e.condition}`);

describe('monitoring evaluation', () => {
  it('writes the seed metrics JSON field for field', () => {
    const weekly = { key: 'weekly/w', tier: 'weekly' as const, finishedAt: hoursAgo(100), bytes: 1 };
    expect(seedMetrics(facts({ backups: [...facts().backups, weekly] }))).toEqual({
      timestamp: '2025-10-17T02:00:00Z',
      metrics: { last_backup_age_hours: 10, last_backup_size_mb: 1250, disk_usage_percent: 45, success_rate_percent: 100, daily_backup_count: 4, weekly_backup_count: 1, monthly_backup_count: 0 },
    });
  });
  it('is quiet when all is well', () => {
    expect(firing(facts())).toEqual([]);
  });
  it.each([
    ['a stale backup', facts({ backups: facts().backups.map((b) => ({ ...b, finishedAt: hoursAgo(30) })) }), 'critical:stale-backup'],
    ['no backup at all', facts({ backups: [] }), 'critical:stale-backup'],
    ['a backup much smaller than the median', facts({ backups: [{ ...facts().backups[0]!, bytes: 1000 }, ...facts().backups.slice(1)] }), 'warning:backup-size:daily'],
    ['a disk at 85%', facts({ disk: { usedPercent: 85, freeBytes: 1, totalBytes: 2 } }), 'warning:disk-usage'],
    ['a disk at 93%', facts({ disk: { usedPercent: 93, freeBytes: 1, totalBytes: 2 } }), 'critical:disk-usage'],
    ['a success rate of 90%', facts({ workflows: { completed: 36, closed: 40 } }), 'warning:success-rate'],
    ['a backup without off-site copy', facts({ backups: [{ ...facts().backups[0]!, remote: false }, ...facts().backups.slice(1)] }), 'warning:remote-sync'],
    ['failing WAL archiving', facts({ wal: { failingNow: true, lastFailedWal: '000000010000000000000043', archiverFailedCount: 3, newestArchivedAgeSeconds: 600 } }), 'critical:archiver-failing'],
    ['archiver failures since the last run', facts({ wal: { archiverFailedCount: 5, previousArchiverFailedCount: 3, newestArchivedAgeSeconds: 600 } }), 'warning:archiver-failing'],
    ['an unreachable database', facts({ database: { host: '127.0.0.1', port: 1, reachable: false, error: 'postgresql at 127.0.0.1:1 is unavailable: ECONNREFUSED' } }), 'critical:database-unreachable'],
    ['WAL archiving stalled', facts({ wal: { newestArchivedAgeSeconds: 3 * 3600 } }), 'critical:wal-archiving'],
    ['a failed verification', facts({ verification: { latestFailed: ['daily/x'] } }), 'critical:verification'],
  ])('fires for %s', (_what, f, expected) => {
    expect(firing(f)).toEqual([expected]);
  });
  it('serves the same figures to Prometheus', () => {
    const m = seedMetrics(facts());
    const text = renderPrometheus(m, facts());
    for (const [k, v] of Object.entries(m.metrics)) expect(text).toContain(`\nlifeboat_${k} ${v}\n`);
    expect(text).toContain('lifeboat_wal_newest_archived_age_seconds 600');
  });
});

describe('database and archiver conditions', () => {
  const evaluation = (f: MonitorFacts, condition: string) => evaluateMonitor(f, T).find((e) => e.condition === condition);
  const down = facts({ database: { host: 'db', port: 5432, reachable: false, error: 'postgresql at db:5432 is unavailable: ECONNREFUSED' }, wal: { newestArchivedAgeSeconds: 600, previousArchiverFailedCount: 2 } });
  const up = facts({ database: { host: 'db', port: 5432, reachable: true }, wal: { newestArchivedAgeSeconds: 600, archiverFailedCount: 2, previousArchiverFailedCount: 2 } });

  it('names the server and the reason when the database is unreachable, and resolves when it answers', () => {
    expect(evaluation(down, 'database-unreachable')).toMatchObject({ severity: 'critical', firing: true, summary: 'postgresql at db:5432 is unreachable: postgresql at db:5432 is unavailable: ECONNREFUSED' });
    const t0 = new Date(NOW);
    const fired = alertTransitions({ firing: {} }, evaluateMonitor(down, T), t0);
    expect(fired.send.map((a) => `${a.severity}:${a.condition}`)).toEqual(['critical:database-unreachable']);
    const back = alertTransitions(fired.next, evaluateMonitor(up, T), new Date(t0.getTime() + 3600_000));
    expect(back.send).toEqual([expect.objectContaining({ condition: 'database-unreachable', resolved: true, summary: 'resolved: postgresql at db:5432 accepts connections' })]);
  });
  it('leaves the archiver condition as it was while the database cannot be asked', () => {
    expect(evaluation(down, 'archiver-failing')).toBeUndefined();
    const failing = alertTransitions({ firing: {} }, evaluateMonitor(facts({ wal: { failingNow: true, archiverFailedCount: 3 } }), T), new Date(NOW));
    expect(alertTransitions(failing.next, evaluateMonitor(down, T), new Date(NOW)).next.firing['archiver-failing']).toBeDefined();
  });
  it('treats a lower failure count as a statistics reset, and an unchanged one as healthy', () => {
    expect(evaluation(facts({ wal: { archiverFailedCount: 0, previousArchiverFailedCount: 7 } }), 'archiver-failing')?.firing).toBe(false);
    expect(evaluation(up, 'archiver-failing')).toMatchObject({ firing: false, summary: 'wal archiving succeeds (2 failures in all, none new)' });
    expect(evaluation(facts({ wal: { archiverFailedCount: 4 } }), 'archiver-failing')?.firing).toBe(false);
  });
  it('says how many failures are new', () => {
    expect(evaluation(facts({ wal: { archiverFailedCount: 5, previousArchiverFailedCount: 3, lastFailedWal: '000000010000000000000043' } }), 'archiver-failing')).toMatchObject({
      severity: 'warning', firing: true, summary: 'wal archiving failed 2 time(s) since the last check (last 000000010000000000000043), and has succeeded since', details: expect.objectContaining({ newFailures: 2 }),
    });
  });
  it('keeps the seed metrics JSON unchanged by the new facts', () => {
    expect(seedMetrics(down)).toEqual(seedMetrics(facts()));
  });
});

describe('alert transitions', () => {
  const stale = { condition: 'stale-backup', severity: 'critical' as const, firing: true, summary: 'old' };
  it('triggers once, deduplicates, re-notifies after 24 h and resolves when cleared', () => {
    const t0 = new Date(NOW);
    const a = alertTransitions({ firing: {} }, [stale], t0);
    expect(a.send).toEqual([{ severity: 'critical', condition: 'stale-backup', summary: 'old', details: undefined }]);
    const b = alertTransitions(a.next, [stale], new Date(t0.getTime() + 3600_000));
    expect(b.send).toEqual([]);
    const c = alertTransitions(b.next, [stale], new Date(t0.getTime() + 25 * 3600_000));
    expect(c.send).toHaveLength(1);
    const d = alertTransitions(c.next, [{ ...stale, firing: false, summary: 'fresh' }], new Date(t0.getTime() + 26 * 3600_000));
    expect(d.send).toEqual([{ severity: 'critical', condition: 'stale-backup', summary: 'resolved: fresh', details: undefined, resolved: true }]);
    expect(d.next.firing).toEqual({});
  });
});

describe('alert payloads', () => {
  const alert = { severity: 'critical' as const, condition: 'verify:daily/x', summary: 'password hunter2-secret leaked into an error', details: { note: 'hunter2-secret' } };
  it('never carry a configured secret', () => {
    expect(JSON.stringify(slackPayload(alert, ['hunter2-secret']))).not.toContain('hunter2-secret');
    const pd = pagerdutyPayload(alert, 'routing', ['hunter2-secret']);
    expect(JSON.stringify(pd.payload)).not.toContain('hunter2-secret');
    expect(pd).toMatchObject({ event_action: 'trigger', dedup_key: 'lifeboat:verify:daily/x', payload: { severity: 'critical' } });
    expect(pagerdutyPayload({ ...alert, resolved: true }, 'routing', []).event_action).toBe('resolve');
  });
});
