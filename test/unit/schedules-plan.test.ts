import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load';
import { cronProblems, parseScheduleOverrides } from '../../lib/schedules/cron';
import { declaredSchedules, scheduleHash } from '../../lib/schedules/declared';
import { SCHEDULE_NAMES } from '../../lib/schedules/names';
import { planScheduleChanges } from '../../lib/schedules/plan';
import { checkDrInput } from '../../workflows/disaster-recovery';

const config = parseConfig({ DB_HOST: 'h', ENCRYPT_BACKUPS: 'false' }).config!;

describe('cron validation', () => {
  it.each([['0 2 * * *'], ['*/15 0-6 1,15 JAN-MAR MON-FRI'], ['0 3 * * 0'], ['0 3 * * 7'], ['5 */6 * * *']])('accepts %s', (spec) => {
    expect(cronProblems(spec)).toEqual([]);
  });
  it.each([
    ['0 2 * *', 'has 4 fields; a cron spec has 5 (minute hour day-of-month month day-of-week)'],
    ['61 2 * * *', 'minute "61" is outside 0-59'],
    ['0 24 * * *', 'hour "24" is outside 0-23'],
    ['0 2 0 * *', 'day of month "0" is outside 1-31'],
    ['0 2 * 13 *', 'month "13" is outside 1-12'],
    ['0 2 * * FUNDAY', 'day of week "FUNDAY" is not a number, name, range or *'],
    ['*/0 2 * * *', 'minute "*/0": step must be a positive integer'],
    ['5-1 2 * * *', 'minute "5-1" is outside 0-59'],
  ])('refuses %s', (spec, problem) => {
    expect(cronProblems(spec)).toEqual([problem]);
  });
  it('parses overrides by name and refuses unknown names', () => {
    expect(parseScheduleOverrides('postgres-daily=30 2 * * *; verify=0 */4 * * *', SCHEDULE_NAMES)).toEqual({ 'postgres-daily': '30 2 * * *', verify: '0 */4 * * *' });
    expect(() => parseScheduleOverrides('nightly=0 2 * * *', SCHEDULE_NAMES)).toThrow(/unknown schedule "nightly"/);
  });
  it('reports bad schedule settings as configuration problems before anything is applied', () => {
    const { problems } = parseConfig({ DB_HOST: 'h', ENCRYPT_BACKUPS: 'false', SCHEDULE_TIME_ZONE: 'Mars/Olympus', SCHEDULE_OVERRIDES: 'monitor=0 25 * * *', RETENTION_DAILY: '0', ALERT_ROUTES: 'critical=slack,teams' });
    expect(problems.map((p) => `${p.env}: ${p.message}`)).toEqual([
      'SCHEDULE_TIME_ZONE: is not an IANA time zone (got "Mars/Olympus")',
      'RETENTION_DAILY: must be at least 1 (got "0")',
      'SCHEDULE_OVERRIDES: monitor: "0 25 * * *" hour "25" is outside 0-23',
      'ALERT_ROUTES: unknown channel "teams" (known: slack, email, pagerduty)',
    ]);
  });
});

describe('planScheduleChanges', () => {
  const declared = declaredSchedules(config, 'lb-');
  const existing = declared.map((d) => ({ id: d.id, hash: scheduleHash(d) }));

  it('leaves a matching set unchanged', () => {
    const plan = planScheduleChanges(declared, existing, 'lb-');
    expect([plan.create, plan.update, plan.delete]).toEqual([[], [], []]);
    expect(plan.unchanged).toHaveLength(declared.length);
  });
  it('creates missing, updates drifted, deletes undeclared owned schedules and ignores others', () => {
    const drifted = existing.map((e) => (e.id === 'lb-verify' ? { ...e, hash: 'old' } : e)).filter((e) => e.id !== 'lb-monitor');
    const plan = planScheduleChanges(declared, [...drifted, { id: 'lb-retired' }, { id: 'someone-elses' }], 'lb-');
    expect(plan.create.map((d) => d.id)).toEqual(['lb-monitor']);
    expect(plan.update.map((d) => d.id)).toEqual(['lb-verify']);
    expect(plan.delete).toEqual(['lb-retired']);
  });
  it('leaves out WAL shipping and the DR drill without remote storage, and replication without a backup MinIO', () => {
    expect(declared.map((d) => d.name)).not.toContain('wal-ship');
    expect(declared.map((d) => d.name)).not.toContain('dr-drill');
    expect(declared.map((d) => d.name)).not.toContain('minio-replicate');
  });
});

describe('the weekly disaster-recovery drill', () => {
  const remote = { DB_HOST: 'h', ENCRYPT_BACKUPS: 'false', REMOTE_STORAGE: 'true', S3_BUCKET: 'corporate-intel-backups' };
  const drill = (raw: Record<string, string>, prefix?: string) => declaredSchedules(parseConfig(raw).config!, prefix).find((d) => d.name === 'dr-drill');

  it('runs disasterRecovery weekly as an auto-approved drill, named after its schedule', () => {
    expect(drill(remote)).toEqual({
      id: 'lifeboat-dr-drill',
      name: 'dr-drill',
      description: expect.stringContaining('drill'),
      cron: '0 6 * * 3',
      timeZone: 'UTC',
      workflowType: 'disasterRecovery',
      args: [{ mode: 'drill', autoApprove: true, declaredBy: 'schedule lifeboat-dr-drill', reason: 'weekly drill' }],
      taskQueue: 'lifeboat',
      overlap: 'SKIP',
      catchupWindowSeconds: 86_400,
      replaces: 'no seed line: added by Lifeboat (weekly disaster-recovery drill)',
    });
    expect(drill(remote, 'lb-')?.args).toEqual([expect.objectContaining({ declaredBy: 'schedule lb-dr-drill' })]);
  });
  it('passes the workflow\'s own input checks', () => {
    expect(checkDrInput(drill(remote)!.args[0])).toEqual(drill(remote)!.args[0]);
  });
  it('is overridable by SCHEDULE_OVERRIDES like the others, in SCHEDULE_TIME_ZONE', () => {
    expect(drill({ ...remote, SCHEDULE_OVERRIDES: 'dr-drill=30 7 * * 1', SCHEDULE_TIME_ZONE: 'Europe/Berlin' })).toMatchObject({ cron: '30 7 * * 1', timeZone: 'Europe/Berlin' });
    expect(parseConfig({ ...remote, SCHEDULE_OVERRIDES: 'dr-drill=0 6 * * WEDNESDAY' }).problems.map((p) => p.env)).toEqual(['SCHEDULE_OVERRIDES']);
  });
});
