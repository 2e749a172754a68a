import { describe, expect, it } from 'vitest';
import type { BaseMetadata } from '../../lib/catalog/metadata';
import type { MonitorFacts, Thresholds } from '../../lib/monitor/evaluate';
import type { ArchivedWalFile } from '../../lib/pitr/plan';
import { evaluateStatus, type StatusReport } from '../../lib/status/evaluate';
import type { HostStatusFacts, StatusFacts } from '../../lib/status/facts';
import { pitrWindow } from '../../lib/status/pitr-window';
import { statusExitCode } from '../../client/commands/status';

const NOW = '2025-10-17T02:00:00.000Z';
const ago = (seconds: number): string => new Date(Date.parse(NOW) - seconds * 1000).toISOString();
const H = 3600;
const T: Thresholds = { maxBackupAgeHours: 25, sizeMinPercent: 50, sizeMaxPercent: 200, diskWarnPercent: 80, diskCriticalPercent: 90, successRatePercent: 95, walMaxAgeMinutes: 120, drillMaxAgeDays: 8, rpoTargetSeconds: 300 };
const seg = (n: number): string => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;

function base(key: string, finishedAt: string, start: number, stop = start): BaseMetadata {
  return {
    format: 'lifeboat/1', key, file: key.split('/').pop()!, sha256: 'a'.repeat(64), bytes: 30_000_000, compression: { algorithm: 'zstd', level: 3 }, encryption: { enabled: false },
    startedAt: finishedAt, finishedAt, durationSeconds: 12, lifeboatVersion: 'test', kind: 'base', label: key, startLsn: '0/0', stopLsn: '0/0', timeline: 1, startWal: seg(start), stopWal: seg(stop),
  };
}
const wal = (from: number, to: number, at: (n: number) => string): ArchivedWalFile[] => Array.from({ length: to - from + 1 }, (_, i) => ({ name: seg(from + i), archivedAt: at(from + i), source: 'local' as const }));

function monitor(over: Partial<MonitorFacts> = {}): MonitorFacts {
  return {
    now: NOW,
    backups: [{ key: 'daily/db_daily_1', tier: 'daily', finishedAt: ago(2 * H), bytes: 5_000_000, remote: true, durationSeconds: 9, good: true, verifiedAt: ago(H) }],
    disk: { usedPercent: 40, freeBytes: 6e10, totalBytes: 1e11 },
    workflows: { completed: 10, closed: 10 },
    remoteEnabled: true,
    database: { host: '127.0.0.1', port: 5432, reachable: true },
    wal: { newestArchivedName: seg(0x12), newestArchivedAgeSeconds: 60, archiverFailedCount: 0, failingNow: false, readyFiles: 0, unshipped: 0, lastArchivedAt: ago(60) },
    verification: { latestFailed: [], newestAt: ago(H) },
    config: { newestKey: 'config/config_x.tar.zst.gpg', newestAt: ago(3 * H), newestOutcome: 'archived', newestWarnings: 0, workflows: { completed: 2, closed: 2 } },
    drill: { count: 1, last: { id: 'drill-1', outcome: 'recovered', endedAt: ago(24 * H), rtoSeconds: 240, rtoObjectiveSeconds: 3600 }, lastSuccessful: { id: 'drill-1', outcome: 'recovered', endedAt: ago(24 * H), rtoSeconds: 240, rtoObjectiveSeconds: 3600 } },
    rpo: { targetSeconds: 300, exposureSeconds: 0, basis: 'caught-up', newestShipped: seg(0x12), newestShippedArchivedAt: ago(60) },
    ...over,
  };
}

function host(over: Partial<HostStatusFacts> = {}): HostStatusFacts {
  return {
    host: 'backup-1',
    backupRoot: '/var/backups/postgresql',
    monitor: monitor(),
    thresholds: T,
    stores: [
      { name: 'offsite', location: 'http://minio-b:9000 (s3://offsite)', reachable: true },
      { name: 'minio-source', location: 'http://minio-a:9000', reachable: true },
      { name: 'minio-backup', location: 'http://minio-b:9000', reachable: true },
    ],
    bases: [{ key: 'base/20251016-020000', finishedAt: ago(24 * H), bytes: 30_000_000, durationSeconds: 12, copies: ['local', 'remote'] }],
    pitr: { bases: 1, oldest: ago(24 * H), newest: ago(60), oldestBase: 'base/20251016-020000', newestBase: 'base/20251016-020000' },
    snapshots: [{ bucket: 'company-data', newest: { file: 'company-data_20251017-010000.tar.zst.gpg', finishedAt: ago(H), bytes: 1000, objects: 10, local: true, remote: true } }],
    alerts: {},
    ...over,
  };
}

function facts(over: Partial<StatusFacts> = {}, hostOver: Partial<HostStatusFacts> = {}): StatusFacts {
  return {
    now: NOW,
    temporal: {
      namespace: 'default',
      queues: [{ name: 'lifeboat', role: 'general', type: 'workflow', pollers: ['w@a'] }, { name: 'lifeboat@backup-1', role: 'backup-host', type: 'activity', pollers: ['w@a'] }],
      schedules: [{ id: 'lifeboat-postgres-daily', paused: false, nextRunAt: '2025-10-18T02:00:00.000Z', lastRunAt: ago(24 * H), lastResult: 'completed', lastWorkflowId: 'lifeboat-postgres-daily-x' }],
      replication: { intervalSeconds: 60, last: { workflowId: 'r', startedAt: ago(70), closedAt: ago(65), result: 'completed', lagSeconds: 5, pendingChanges: 1 } },
    },
    host: host(hostOver),
    ...over,
  };
}

const conditions = (r: StatusReport): string[] => r.problems.map((p) => `${p.severity}:${p.condition}`);

describe('status evaluation', () => {
  it('reads clean when all is well, with every section filled', () => {
    const r = evaluateStatus(facts());
    expect(conditions(r)).toEqual([]);
    expect(r.verdict).toBe('ok');
    expect(statusExitCode(r)).toBe(0);
    for (const key of ['host', 'backups', 'base', 'wal', 'database', 'stores', 'minio', 'config', 'schedules', 'alerts', 'drill', 'workers', 'disk'] as const) expect(r[key], key).not.toBeNull();
    expect(r.backups![0]).toMatchObject({ tier: 'daily', count: 1, newest: { key: 'daily/db_daily_1', ageSeconds: 2 * H, durationSeconds: 9, verified: 'passed', offsite: true } });
    expect(r.backups![1]).toEqual({ tier: 'weekly', count: 0 });
    expect(r.wal).toMatchObject({ lastArchived: { name: seg(0x12) }, lastShipped: { name: seg(0x12) }, rpo: { exposureSeconds: 0, targetSeconds: 300, state: 'ok' } });
    expect(r.drill?.lastSuccessful?.rtoSeconds).toBe(240);
  });

  it.each<[string, StatusFacts, string[]]>([
    ['the backup MinIO (and the off-site store on it) down', facts({}, { stores: [{ name: 'offsite', location: 'x', reachable: false, error: 'ECONNREFUSED' }, { name: 'minio-source', location: 'y', reachable: true }, { name: 'minio-backup', location: 'x', reachable: false, error: 'ECONNREFUSED' }] }), ['critical:store:offsite', 'critical:store:minio-backup']],
    ['a stale backup (monitoring\'s own rule)', facts({}, { monitor: monitor({ backups: [{ key: 'daily/old', tier: 'daily', finishedAt: ago(30 * H), bytes: 1 }] }) }), ['critical:stale-backup']],
    ['RPO exposure over the target', facts({}, { monitor: monitor({ rpo: { targetSeconds: 300, exposureSeconds: 600, basis: 'newest-shipped', newestShipped: seg(0x10), newestShippedArchivedAt: ago(600) } }) }), ['warning:rpo-exposure']],
    ['no PITR window', facts({}, { pitr: { bases: 0, problem: 'there is no base backup' } }), ['warning:pitr-window']],
    ['a bucket without a snapshot', facts({}, { snapshots: [{ bucket: 'embeddings' }] }), ['warning:minio-snapshot:embeddings']],
    ['a paused schedule', facts({ temporal: { ...facts().temporal, schedules: [{ id: 'lifeboat-postgres-daily', paused: true, note: 'maintenance' }] } }), ['warning:schedule:lifeboat-postgres-daily']],
    ['a schedule whose last run failed', facts({ temporal: { ...facts().temporal, schedules: [{ id: 'lifeboat-verify', paused: false, lastResult: 'failed', lastWorkflowId: 'v', lastRunAt: ago(H) }] } }), ['warning:schedule:lifeboat-verify']],
    ['no schedules at all', facts({ temporal: { ...facts().temporal, schedules: [] } }), ['warning:schedules']],
    ['replication behind', facts({ temporal: { ...facts().temporal, replication: { intervalSeconds: 60, last: { workflowId: 'r', startedAt: ago(2 * H), closedAt: ago(2 * H), result: 'completed', lagSeconds: 0 } } } }), ['warning:replication']],
    ['the last replication failed', facts({ temporal: { ...facts().temporal, replication: { intervalSeconds: 60, last: { workflowId: 'r', startedAt: ago(60), result: 'failed' } } } }), ['warning:replication']],
  ])('names %s', (_what, f, expected) => {
    const r = evaluateStatus(f);
    expect(conditions(r)).toEqual(expected);
    expect(r.verdict).toBe(expected.some((c) => c.startsWith('critical')) ? 'critical' : 'degraded');
    expect(statusExitCode(r)).toBe(7);
    for (const p of r.problems) expect(p.hint, p.condition).toBeTruthy();
  });

  it('says which queue nobody polls, and cannot judge without the backup host', () => {
    const f = facts({ temporal: { ...facts().temporal, queues: [{ name: 'lifeboat', role: 'general', type: 'workflow', pollers: [] }, { name: 'lifeboat@backup-1', role: 'backup-host', type: 'activity', pollers: [] }] } });
    delete f.host;
    const r = evaluateStatus(f);
    expect(conditions(r)).toEqual(['critical:worker:lifeboat', 'critical:worker:lifeboat@backup-1']);
    expect(r.problems[0]!.summary).toMatch(/no worker polls the general task queue lifeboat/);
    expect(r.verdict).toBe('unknown');
    expect(statusExitCode(r)).toBe(3);
    expect(r.backups).toBeNull();
    expect(r.workers).toHaveLength(2);
  });

  it('lists what monitoring recorded as firing', () => {
    const r = evaluateStatus(facts({}, { alerts: { 'disk-usage': { severity: 'warning', since: ago(H), lastSent: ago(H), summary: 'BACKUP_ROOT file system is 85% full' } } }));
    expect(r.alerts).toEqual([{ condition: 'disk-usage', severity: 'warning', since: ago(H), summary: 'BACKUP_ROOT file system is 85% full' }]);
  });
});

describe('PITR window', () => {
  const at = (n: number): string => ago((0x40 - n) * 60);
  it('runs from the oldest base with unbroken WAL to the last archived segment', () => {
    const w = pitrWindow([base('base/a', ago(2 * H), 0x10), base('base/b', ago(H), 0x30)], wal(0x10, 0x3f, at), 16 * 1024 * 1024, new Date(NOW));
    expect(w).toEqual({ bases: 2, oldest: ago(2 * H), newest: at(0x3f), oldestBase: 'base/a', newestBase: 'base/b' });
  });
  it('starts after a gap: an older base behind it is no way back', () => {
    const files = [...wal(0x10, 0x1f, at), ...wal(0x21, 0x3f, at)];
    expect(pitrWindow([base('base/a', ago(2 * H), 0x10), base('base/b', ago(H), 0x30)], files, 16 * 1024 * 1024, new Date(NOW))).toMatchObject({ oldest: ago(H), oldestBase: 'base/b', newest: at(0x3f) });
  });
  it('has none without a base backup, or when the newest base cannot reach the end', () => {
    expect(pitrWindow([], wal(0x10, 0x12, at), 16 * 1024 * 1024, new Date(NOW)).problem).toMatch(/no base backup/);
    const w = pitrWindow([base('base/a', ago(2 * H), 0x10)], [...wal(0x10, 0x11, at), ...wal(0x14, 0x15, at)], 16 * 1024 * 1024, new Date(NOW));
    expect(w.oldest).toBeUndefined();
    expect(w.problem).toMatch(/missing/);
  });
});
