import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load';
import { evaluateMonitor, seedMetrics, type MonitorFacts, type Thresholds } from '../../lib/monitor/evaluate';
import { renderPrometheus } from '../../lib/monitor/prometheus';
import { declaredSchedules } from '../../lib/schedules/declared';
import { exposureSeverity, measureExposure, parseDurationSeconds, parseLsn, recommendedArchiveTimeoutSeconds, rpoTargetProblem, segmentEndLsn, shipIntervalSeconds } from '../../lib/wal/rpo';

const MiB16 = 16 * 1024 * 1024;
const base = { DB_HOST: 'localhost', GPG_RECIPIENT: 'backup@corporate-intel.local', REMOTE_STORAGE: 'true', S3_BUCKET: 'b' };

describe('RPO_TARGET', () => {
  it.each([
    ['5m', 300], ['300s', 300], ['300', 300], ['1h', 3600], ['2min', 120], ['90 seconds', 90], ['1.5m', 90],
  ])('parses %s as %i s', (text, seconds) => expect(parseDurationSeconds(text)).toBe(seconds));

  it.each(['', 'five minutes', '-5m', '5d', '0'])('refuses %j', (text) => expect(parseDurationSeconds(text)).toBeUndefined());

  it('defaults to 5 minutes and names the variable when wrong', () => {
    expect(parseConfig(base).config?.monitor.rpoTargetSeconds).toBe(300);
    expect(parseConfig({ ...base, RPO_TARGET: '2m' }).config?.monitor.rpoTargetSeconds).toBe(120);
    expect(parseConfig({ ...base, RPO_TARGET: 'soon' }).problems).toEqual([expect.objectContaining({ env: 'RPO_TARGET', message: expect.stringContaining('is not a duration') })]);
    expect(parseConfig({ ...base, RPO_TARGET: '10s' }).problems).toEqual([expect.objectContaining({ env: 'RPO_TARGET', message: expect.stringContaining('between 30 s and 7 days') })]);
    expect(rpoTargetProblem('5m')).toBeUndefined();
  });

  it('splits the target: archive_timeout half, ship interval a fifth (10 s to 5 min), so the worst case stays under it', () => {
    expect(recommendedArchiveTimeoutSeconds(300)).toBe(150);
    expect(shipIntervalSeconds(300)).toBe(60);
    expect(shipIntervalSeconds(30)).toBe(10);
    expect(shipIntervalSeconds(86_400)).toBe(300);
    for (const target of [30, 60, 300, 900, 3600]) expect(recommendedArchiveTimeoutSeconds(target) + shipIntervalSeconds(target)).toBeLessThan(target);
  });

  it('derives the wal-ship schedule interval from it', () => {
    const ship = (env: Record<string, string>) => declaredSchedules(parseConfig({ ...base, ...env }).config!).find((s) => s.name === 'wal-ship')!;
    expect(ship({})).toMatchObject({ intervalSeconds: 60, catchupWindowSeconds: 60, overlap: 'SKIP' });
    expect(ship({ RPO_TARGET: '1h' }).intervalSeconds).toBe(300);
    expect(ship({ RPO_TARGET: '1m' }).intervalSeconds).toBe(12);
  });
});

describe('RPO exposure', () => {
  const now = '2026-12-03T12:00:00.000Z';
  const shipped = { name: '000000010000000000000005', archivedAt: '2026-12-03T11:58:00.000Z' };

  it('reads LSNs and segment ends', () => {
    expect(parseLsn('0/5000000')).toBe(0x5000000n);
    expect(parseLsn('1/A0')).toBe(0x1_0000_00a0n);
    expect(parseLsn('nope')).toBeUndefined();
    expect(segmentEndLsn('000000010000000000000005', MiB16)).toBe(0x6000000n);
    expect(segmentEndLsn('0000000100000001000000FF', MiB16)).toBe(0x2_0000_0000n);
    expect(segmentEndLsn('00000001.history', MiB16)).toBeUndefined();
  });

  it('is now minus the archive time of the newest shipped segment while WAL was written after it', () => {
    expect(measureExposure({ now, rpoTargetSeconds: 300, newestShipped: shipped, currentLsn: '0/6000100', segmentSize: MiB16 })).toEqual({
      targetSeconds: 300, exposureSeconds: 120, basis: 'newest-shipped', newestShipped: shipped.name, newestShippedArchivedAt: shipped.archivedAt,
    });
    // Database not asked (down): time-based, never less.
    expect(measureExposure({ now, rpoTargetSeconds: 300, newestShipped: shipped, segmentSize: MiB16 }).exposureSeconds).toBe(120);
  });

  it('is 0 when nothing was written after the newest shipped segment (a quiet database does not alarm)', () => {
    expect(measureExposure({ now, rpoTargetSeconds: 300, newestShipped: shipped, currentLsn: '0/6000000', segmentSize: MiB16 })).toMatchObject({ exposureSeconds: 0, basis: 'caught-up' });
  });

  it('counts from the oldest local file when nothing is shipped, and is unknown without any WAL', () => {
    expect(measureExposure({ now, rpoTargetSeconds: 300, oldestLocalArchivedAt: '2026-12-03T11:00:00.000Z', segmentSize: MiB16 })).toEqual({ targetSeconds: 300, exposureSeconds: 3600, basis: 'nothing-shipped' });
    expect(measureExposure({ now, rpoTargetSeconds: 300, segmentSize: MiB16 }).exposureSeconds).toBeUndefined();
  });

  it.each([
    [0, 'ok'], [300, 'ok'], [301, 'warning'], [900, 'warning'], [901, 'critical'],
  ] as const)('%i s against 300 s is %s', (seconds, state) => expect(exposureSeverity({ exposureSeconds: seconds, targetSeconds: 300 })).toBe(state));
});

describe('RPO exposure in monitoring', () => {
  const T: Thresholds = { maxBackupAgeHours: 24, sizeMinPercent: 50, sizeMaxPercent: 200, diskWarnPercent: 80, diskCriticalPercent: 90, successRatePercent: 95, walMaxAgeMinutes: 120, rpoTargetSeconds: 300 };
  const facts = (exposureSeconds?: number): MonitorFacts => ({
    now: '2026-12-03T12:00:00.000Z',
    backups: [],
    disk: { usedPercent: 10, freeBytes: 1, totalBytes: 2 },
    workflows: { completed: 1, closed: 1 },
    remoteEnabled: true,
    verification: { latestFailed: [] },
    ...(exposureSeconds === undefined ? {} : { rpo: { targetSeconds: 300, exposureSeconds, basis: 'newest-shipped' as const, newestShipped: '000000010000000000000005', newestShippedArchivedAt: '2026-12-03T11:58:00.000Z' } }),
  });
  const rpo = (f: MonitorFacts) => evaluateMonitor(f, T).find((e) => e.condition === 'rpo-exposure');

  it('warns over the target, is critical at three times it, and resolves under it', () => {
    expect(rpo(facts(120))).toMatchObject({ firing: false });
    expect(rpo(facts(400))).toMatchObject({ firing: true, severity: 'warning', summary: expect.stringContaining('RPO exposure 400 s against a target of 300 s (over the target)') });
    expect(rpo(facts(1000))).toMatchObject({ firing: true, severity: 'critical', details: expect.objectContaining({ exposureSeconds: 1000, targetSeconds: 300 }) });
    expect(rpo(facts())).toBeUndefined();
  });

  it('adds rpo_exposure_seconds to the seed JSON (after the seed\'s fields) and a Prometheus gauge', () => {
    const m = seedMetrics(facts(42));
    expect(Object.keys(m.metrics).slice(0, 7)).toEqual(['last_backup_age_hours', 'last_backup_size_mb', 'disk_usage_percent', 'success_rate_percent', 'daily_backup_count', 'weekly_backup_count', 'monthly_backup_count']);
    expect(m.metrics.rpo_exposure_seconds).toBe(42);
    expect(seedMetrics(facts()).metrics).not.toHaveProperty('rpo_exposure_seconds');
    const text = renderPrometheus(m, facts(42));
    expect(text).toContain('# TYPE lifeboat_rpo_exposure_seconds gauge\nlifeboat_rpo_exposure_seconds 42');
    expect(text).toContain('lifeboat_rpo_target_seconds 300');
  });
});
