/**
 * The pure parts of configuration file backups: exclusion globs, the manifest digest ("unchanged"),
 * the restore safety rules for tar entries, resolving a backup name, GFS retention of configuration
 * runs, the monitoring conditions, the schedule and the settings.
 */
import { describe, expect, it } from 'vitest';
import type { ConfigBackupEntry } from '../../lib/catalog/config';
import { resolveConfigBackup } from '../../lib/catalog/config';
import type { ConfigManifestEntry, ConfigMetadata } from '../../lib/catalog/metadata';
import { configArchiveKey, configUnchangedKey, formatStamp } from '../../lib/catalog/names';
import { parseConfig } from '../../lib/config/load';
import { linkDestination, manifestDigest, parentsOf } from '../../lib/config-files/collect';
import { excludeMatcher, globToRegExp } from '../../lib/config-files/exclude';
import { configEntryProblem } from '../../lib/config-files/restore';
import { evaluateMonitor, type MonitorFacts, type Thresholds } from '../../lib/monitor/evaluate';
import { isoWeek, planRetention, type InventoryItem } from '../../lib/retention/plan';
import { declaredSchedules } from '../../lib/schedules/declared';

const ROOT = 'config_20251017-023000';

describe('CONFIG_BACKUP_EXCLUDE globs', () => {
  it.each([
    ['*.swp', '/etc/app/.x.conf.swp', true],
    ['*.swp', '/etc/app/x.conf', false],
    ['*~', '/etc/app/x.conf~', true],
    ['/etc/app/cache/**', '/etc/app/cache', true],
    ['/etc/app/cache/**', '/etc/app/cache/a/b.bin', true],
    ['/etc/app/cache/**', '/etc/app/cachex', false],
    ['/etc/*/main/*.bak', '/etc/15/main/pg_hba.bak', true],
    ['/etc/*/main/*.bak', '/etc/15/other/main/pg_hba.bak', false],
    ['/etc/**/x.conf', '/etc/x.conf', true],
    ['/etc/**/x.conf', '/etc/a/b/x.conf', true],
    ['conf?.d', '/etc/app/conf1.d', true],
    ['(a).conf', '/etc/(a).conf', true],
  ])('%s against %s: %s', (glob, path, excluded) => {
    expect(excludeMatcher([glob])(path)).toBe(excluded);
  });

  it('escapes regular expression characters', () => {
    expect(globToRegExp('a+b.conf').test('a+b.conf')).toBe(true);
    expect(globToRegExp('a+b.conf').test('aab.conf')).toBe(false);
  });

  it('an empty list excludes nothing', () => {
    expect(excludeMatcher([])('/etc/anything')).toBe(false);
  });
});

const entry = (over: Partial<ConfigManifestEntry> & { path: string }): ConfigManifestEntry => ({
  type: 'file', size: 3, mode: 0o644, uid: 0, gid: 0, mtime: '2025-10-17T00:00:00.000Z', sha256: 'a'.repeat(64), ...over,
});

describe('manifest digest', () => {
  const base = [entry({ path: '/etc/a.conf' }), entry({ path: '/etc/b', type: 'directory', size: 0, sha256: undefined })];

  it('is the same for the same files in any order, touched or renamed owners aside', () => {
    const touched = [{ ...base[1]!, mtime: '2030-01-01T00:00:00.000Z' }, { ...base[0]!, owner: 'root' }];
    expect(manifestDigest(touched)).toBe(manifestDigest(base));
  });

  it.each([
    ['content', { sha256: 'b'.repeat(64) }],
    ['size', { size: 4 }],
    ['mode', { mode: 0o600 }],
    ['owner', { uid: 1000 }],
    ['group', { gid: 1000 }],
    ['path', { path: '/etc/c.conf' }],
  ])('changes with the %s', (_what, change) => {
    expect(manifestDigest([{ ...base[0]!, ...change }, base[1]!])).not.toBe(manifestDigest(base));
  });

  it('changes when a file appears or goes', () => {
    expect(manifestDigest(base.slice(0, 1))).not.toBe(manifestDigest(base));
  });
});

describe('paths and links', () => {
  it('resolves link destinations lexically and lists parents', () => {
    expect(linkDestination('/etc/nginx/sites-enabled/a', '../sites-available/a')).toBe('/etc/nginx/sites-available/a');
    expect(linkDestination('/etc/a', '../../../x')).toBe('/x');
    expect(parentsOf('/etc/postgresql/15/main/pg_hba.conf')).toEqual(['/etc', '/etc/postgresql', '/etc/postgresql/15', '/etc/postgresql/15/main']);
  });
});

describe('restore safety pass: tar entries', () => {
  const none = new Set<string>();
  it.each([
    [{ name: `${ROOT}/etc/app.conf`, type: 'file' as const }, 'new', undefined],
    [{ name: `${ROOT}/etc/app/`, type: 'directory' as const }, 'new', undefined],
    [{ name: `${ROOT}/etc/app/current`, type: 'symlink' as const, linkname: 'app.conf' }, 'new', undefined],
    [{ name: `${ROOT}/etc/app/up`, type: 'symlink' as const, linkname: '../../x' }, 'new', undefined],
    [{ name: `${ROOT}/etc/app/out`, type: 'symlink' as const, linkname: '../../../x' }, 'new', /out of the restore directory/],
    [{ name: `${ROOT}/etc/app/abs`, type: 'symlink' as const, linkname: '/etc/passwd' }, 'new', /absolute path \/etc\/passwd/],
    [{ name: `${ROOT}/etc/app/abs`, type: 'symlink' as const, linkname: '/etc/passwd' }, 'in-place', undefined],
    [{ name: `${ROOT}/../etc/x`, type: 'file' as const }, 'new', /".." segment/],
    [{ name: '/etc/x', type: 'file' as const }, 'new', /absolute path/],
    [{ name: 'elsewhere/etc/x', type: 'file' as const }, 'new', /is not under config_/],
    [{ name: `${ROOT}/dev/sda`, type: 'block-device' as const }, 'in-place', /is a block-device/],
    [{ name: `${ROOT}/dev/tty`, type: 'character-device' as const }, 'in-place', /character-device/],
    [{ name: `${ROOT}/run/pipe`, type: 'fifo' as const }, 'new', /is a fifo/],
    [{ name: `${ROOT}/etc/hard`, type: 'link' as const, linkname: `${ROOT}/etc/app.conf` }, 'new', /is a link; only regular files/],
  ] as const)('%j (%s)', (header, mode, problem) => {
    const found = configEntryProblem(header, ROOT, mode, none);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  it('refuses entries below a link', () => {
    expect(configEntryProblem({ name: `${ROOT}/etc/app/current/x.conf`, type: 'file' }, ROOT, 'in-place', new Set(['/etc/app/current']))).toMatch(/below the symbolic link \/etc\/app\/current/);
  });
});

describe('names and resolving a backup', () => {
  const metadata = (stamp: string): ConfigMetadata => ({ stamp, key: configArchiveKey(stamp, { compression: 'zstd', encrypted: true }) }) as ConfigMetadata;
  const archive = (stamp: string): ConfigBackupEntry => ({ kind: 'archive', key: metadata(stamp).key, stamp, finishedAt: '', metadata: metadata(stamp), local: true, remote: true });
  const unchanged = (stamp: string, sameAs: string): ConfigBackupEntry => ({
    kind: 'unchanged', key: configUnchangedKey(stamp), stamp, finishedAt: '', local: true, remote: false,
    record: { sameAs } as Extract<ConfigBackupEntry, { kind: 'unchanged' }>['record'],
  });
  const entries = [unchanged('20251018-023000', 'config/config_20251017-023000.tar.zst.gpg'), archive('20251017-023000'), archive('20251016-023000')];

  it('names archives and records', () => {
    expect(configArchiveKey('20251017-023000', { compression: 'zstd', encrypted: true })).toBe('config/config_20251017-023000.tar.zst.gpg');
    expect(configArchiveKey('20251017-023000', { compression: 'gzip', encrypted: false })).toBe('config/config_20251017-023000.tar.gz');
    expect(configUnchangedKey('20251017-023000')).toBe('config/config_20251017-023000.unchanged.json');
  });

  it('the newest run, an unchanged record, resolves to the archive it names', () => {
    expect(resolveConfigBackup(entries, undefined)).toMatchObject({ archive: { key: 'config/config_20251017-023000.tar.zst.gpg' }, requested: 'config/config_20251018-023000.unchanged.json' });
  });

  it('accepts a key, a file name or a metadata name', () => {
    for (const name of ['config/config_20251016-023000.tar.zst.gpg', 'config_20251016-023000.tar.zst.gpg', 'config_20251016-023000.tar.zst.gpg.metadata.json']) {
      expect(resolveConfigBackup(entries, name).archive.key).toBe('config/config_20251016-023000.tar.zst.gpg');
    }
  });

  it('refuses other names and unknown backups', () => {
    expect(() => resolveConfigBackup(entries, 'daily/x.sql.zst.gpg')).toThrow(/not a configuration backup name/);
    expect(() => resolveConfigBackup(entries, 'config_20200101-000000.tar.zst.gpg')).toThrow(/no configuration backup/);
    expect(() => resolveConfigBackup([], undefined)).toThrow(/there is no configuration backup/);
    expect(() => resolveConfigBackup([unchanged('20251018-023000', 'config/config_gone.tar.zst.gpg')], undefined)).toThrow(/there is no configuration backup/);
  });
});

describe('retention of configuration backups (GFS over the daily runs)', () => {
  const policy = { daily: 7, weekly: 4, monthly: 12, walDays: 7, snapshotDays: 7 };
  const now = new Date('2025-10-17T05:00:00Z');
  const DAY = 86_400_000;
  /** One run a day for `days` days; every 5th an archive, the others unchanged records naming the last archive. */
  const runs = (days: number): InventoryItem[] => {
    const items: InventoryItem[] = [];
    let archive = '';
    for (let d = days - 1; d >= 0; d--) {
      const at = new Date(Date.parse('2025-10-17T02:30:00Z') - d * DAY);
      const stamp = formatStamp(at);
      if (d % 5 === 0 || archive === '') {
        archive = configArchiveKey(stamp, { compression: 'zstd', encrypted: true });
        items.push({ key: archive, kind: 'config', stamp, finishedAt: at.toISOString() });
      } else {
        items.push({ key: configUnchangedKey(stamp), kind: 'config-unchanged', stamp, sameAs: archive, finishedAt: at.toISOString() });
      }
    }
    return items;
  };

  it('keeps the newest 7, one per week for 4 weeks, one per month for 12 months, and the archives kept records name', () => {
    const items = runs(400);
    const plan = planRetention(items, policy, now);
    const kept = new Set(plan.keep.map((d) => d.key));
    expect(plan.keep.length + plan.remove.length).toBe(items.length);
    const newestFirst = [...items].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
    for (const item of newestFirst.slice(0, 7)) expect(kept.has(item.key)).toBe(true);
    // Every kept unchanged record's archive is kept.
    for (const item of items) if (item.kind === 'config-unchanged' && kept.has(item.key)) expect(kept.has(item.sameAs!), `${item.key} -> ${item.sameAs}`).toBe(true);
    // One per distinct week among the newest 4 weeks, one per month among the newest 12 months.
    const weeks = new Set(plan.keep.map((d) => isoWeek(new Date(items.find((i) => i.key === d.key)!.finishedAt))));
    expect(weeks.size).toBeGreaterThanOrEqual(4);
    const months = new Set(plan.keep.map((d) => items.find((i) => i.key === d.key)!.finishedAt.slice(0, 7)));
    expect(months.size).toBe(12);
    expect(plan.remove.length).toBeGreaterThan(300);
    expect(plan.remove.every((d) => d.kind === 'config' || d.kind === 'config-unchanged')).toBe(true);
  });

  it('always keeps the newest good archive', () => {
    const items = runs(12).map((i) => (i.kind === 'config' ? { ...i, good: false } : i));
    const oldGood: InventoryItem = { key: 'config/config_20240101-023000.tar.zst.gpg', kind: 'config', stamp: '20240101-023000', finishedAt: '2024-01-01T02:30:00.000Z', good: true };
    const plan = planRetention([...items, oldGood], { ...policy, weekly: 1, monthly: 1 }, now);
    expect(plan.keep.find((d) => d.key === oldGood.key)?.reason).toBe('newest good configuration archive');
  });

  it('computes ISO weeks', () => {
    expect(isoWeek(new Date('2025-01-01T00:00:00Z'))).toBe('2025-W01');
    expect(isoWeek(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01');
    expect(isoWeek(new Date('2021-01-03T00:00:00Z'))).toBe('2020-W53');
    expect(isoWeek(new Date('2025-10-17T00:00:00Z'))).toBe('2025-W42');
  });
});

describe('monitoring of configuration backups', () => {
  const T: Thresholds = { maxBackupAgeHours: 24, sizeMinPercent: 50, sizeMaxPercent: 200, diskWarnPercent: 80, diskCriticalPercent: 90, successRatePercent: 95, walMaxAgeMinutes: 120 };
  const facts = (config: MonitorFacts['config']): MonitorFacts => ({
    now: '2025-10-17T12:00:00.000Z', backups: [], disk: { usedPercent: 10, freeBytes: 1, totalBytes: 2 }, workflows: { completed: 1, closed: 1 }, remoteEnabled: false, verification: { latestFailed: [] }, config,
  });
  const find = (f: MonitorFacts, condition: string) => evaluateMonitor(f, T).find((e) => e.condition === condition);

  it('warns when the newest configuration backup is too old, or there is none', () => {
    expect(find(facts({ newestKey: 'config/x', newestAt: '2025-10-17T02:30:00.000Z', workflows: { completed: 7, closed: 7 } }), 'config-backup-age')).toMatchObject({ firing: false, severity: 'warning' });
    expect(find(facts({ newestKey: 'config/x', newestAt: '2025-10-15T02:30:00.000Z', workflows: { completed: 7, closed: 7 } }), 'config-backup-age')).toMatchObject({ firing: true, summary: 'newest configuration backup config/x is 57.5 h old (limit 24 h)' });
    expect(find(facts({ workflows: { completed: 0, closed: 0 } }), 'config-backup-age')).toMatchObject({ firing: true, summary: expect.stringMatching(/no configuration backup at all/) });
  });

  it('warns when too few configuration backups succeeded', () => {
    expect(find(facts({ newestAt: '2025-10-17T02:30:00.000Z', workflows: { completed: 6, closed: 7 } }), 'config-backup-success-rate')).toMatchObject({ firing: true, summary: '85.7% of 7 configuration backups in the last 7 days succeeded (alert under 95%)' });
  });

  it('says nothing about configuration backups in facts of older versions', () => {
    expect(find(facts(undefined), 'config-backup-age')).toBeUndefined();
  });
});

describe('settings and schedule', () => {
  const raw = { DB_HOST: 'localhost', ENCRYPT_BACKUPS: 'false', DR_CHECK_HTTP: 'http://127.0.0.1/health' };

  it('defaults CONFIG_BACKUP_PATHS to the seed\'s configuration files', () => {
    const { config } = parseConfig(raw);
    expect(config?.configBackup).toEqual({ paths: ['/etc/default/corporate-intel-backup', '/etc/postgresql/14/main/postgresql.conf', '/etc/postgresql/14/main/pg_hba.conf', '/opt/corporate-intel/config/production/backups/crontab'], exclude: [] });
  });

  it('refuses relative paths, naming the variable', () => {
    expect(parseConfig({ ...raw, CONFIG_BACKUP_PATHS: '/etc/a,etc/b' }).problems).toContainEqual(expect.objectContaining({ env: 'CONFIG_BACKUP_PATHS', message: '"etc/b" is not an absolute path' }));
  });

  it('declares lifeboat-config-backup daily, overridable', () => {
    const { config } = parseConfig({ ...raw, SCHEDULE_OVERRIDES: 'config-backup=15 3 * * *' });
    const schedule = declaredSchedules(config!).find((s) => s.id === 'lifeboat-config-backup');
    expect(schedule).toMatchObject({ workflowType: 'backupConfigFiles', args: [{}], cron: '15 3 * * *', overlap: 'SKIP' });
    expect(declaredSchedules(parseConfig(raw).config!).find((s) => s.id === 'lifeboat-config-backup')?.cron).toBe('30 2 * * *');
  });
});
