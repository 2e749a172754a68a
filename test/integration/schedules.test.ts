/**
 * Schedules as code on the real Temporal server: apply is idempotent, a changed spec is updated, a
 * pause survives apply, undeclared owned schedules are removed, and a triggered schedule runs the
 * backup workflow to completion on a real worker.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchedules, namespaceRetentionSeconds, ownedScheduleIds, retentionWarning } from '../../client/schedules';
import { declaredSchedules, type DeclaredSchedule } from '../../lib/schedules/declared';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import { startTestWorker, testConfig, type TestWorkerHandle } from './helpers';

describe('lifeboat schedules apply', () => {
  const prefix = `test-${randomUUID().slice(0, 6)}-`;
  let worker: TestWorkerHandle;
  let declared: DeclaredSchedule[];
  beforeAll(async () => {
    worker = await startTestWorker();
    // Interval schedules (WAL shipping, MinIO replication) are left out: they would fire on their own
    // during the test; the calendar ones only fire when triggered.
    declared = declaredSchedules(worker.config, prefix).filter((d) => d.cron !== undefined);
  });
  afterAll(async () => {
    // Leave nothing scheduled behind on the shared test server.
    for (const d of declared ?? []) await worker.env.client.schedule.getHandle(d.id).delete().catch(() => undefined);
    await worker?.stop();
  });

  it('declares the seed\'s crontab in the configured zone, with explicit overlap and catch-up', () => {
    const all = declaredSchedules(worker.config, prefix);
    const byName = Object.fromEntries(all.map((d) => [d.name, d]));
    // A fifth of RPO_TARGET (5 minutes by default): shipping fast enough for the recovery point objective.
    expect(byName['wal-ship']).toMatchObject({ intervalSeconds: 60, overlap: 'SKIP' });
    expect(byName['minio-replicate']).toMatchObject({ intervalSeconds: 60, workflowType: 'replicateBuckets' });
    expect(byName['minio-snapshot']?.cron).toBe('0 1 * * *');
    expect(byName['postgres-daily']).toMatchObject({ cron: '0 2 * * *', args: [{ tier: 'daily' }], overlap: 'BUFFER_ONE', timeZone: 'UTC' });
    expect(byName['postgres-weekly']?.cron).toBe('0 3 * * 0');
    expect(byName['postgres-monthly']?.cron).toBe('0 4 1 * *');
    expect(byName.verify?.cron).toBe('15 */6 * * *');
    expect(byName.monitor).toMatchObject({ cron: '5 * * * *', overlap: 'SKIP' });
    expect(byName.prune?.workflowType).toBe('pruneBackups');
    expect(byName['dr-drill']).toMatchObject({ cron: '0 6 * * 3', workflowType: 'disasterRecovery', args: [{ mode: 'drill', autoApprove: true, declaredBy: `schedule ${prefix}dr-drill`, reason: 'weekly drill' }], overlap: 'SKIP' });
    expect(byName['audit-export']).toMatchObject({ cron: '15 4 * * *', workflowType: 'exportAuditTrail', args: [{}], overlap: 'SKIP' });
    for (const d of all) expect(d.catchupWindowSeconds).toBeGreaterThan(0);
    const berlin = declaredSchedules(testConfig({ SCHEDULE_TIME_ZONE: 'Europe/Berlin', SCHEDULE_OVERRIDES: 'verify=0 */4 * * *' }), prefix);
    expect(berlin.find((d) => d.name === 'verify')).toMatchObject({ cron: '0 */4 * * *', timeZone: 'Europe/Berlin' });
  });

  it('creates, then changes nothing on a second apply; updates a changed spec; keeps a pause; removes undeclared', async () => {
    const client = worker.env.client;
    const first = await applySchedules(client, declared, prefix);
    expect(first.create.length).toBe(declared.length);
    const second = await applySchedules(client, declared, prefix);
    expect({ create: second.create.length, update: second.update.length, delete: second.delete.length, unchanged: second.unchanged.length }).toEqual({ create: 0, update: 0, delete: 0, unchanged: declared.length });

    // On-call pauses the daily backup; then the spec changes and is applied.
    const daily = declared.find((d) => d.name === 'postgres-daily')!;
    await client.schedule.getHandle(daily.id).pause('maintenance window, ticket OPS-42');
    const changed = declared.map((d) => (d.name === 'postgres-daily' ? { ...d, cron: '30 2 * * *' } : d));
    const third = await applySchedules(client, changed, prefix);
    expect(third.update.map((d) => d.id)).toEqual([daily.id]);
    const described = await client.schedule.getHandle(daily.id).describe();
    expect(described.state).toMatchObject({ paused: true, note: 'maintenance window, ticket OPS-42' });
    expect(described.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 2, end: 2, step: 1 }], minute: [{ start: 30, end: 30, step: 1 }] });
    expect((await applySchedules(client, changed, prefix)).update).toEqual([]);

    // A schedule no longer declared is removed (ours only: by prefix).
    const fewer = changed.filter((d) => d.name !== 'prune');
    const fourth = await applySchedules(client, fewer, prefix);
    expect(fourth.delete).toEqual([`${prefix}prune`]);
    await expect(client.schedule.getHandle(`${prefix}prune`).describe()).rejects.toThrow(/not found/i);
    // The dry run reports and changes nothing.
    const dry = await applySchedules(client, changed, prefix, true);
    expect(dry.create.map((d) => d.id)).toEqual([`${prefix}prune`]);
    await expect(client.schedule.getHandle(`${prefix}prune`).describe()).rejects.toThrow(/not found/i);
  });

  it('warns when the namespace keeps closed histories for less than twice the audit export interval', async () => {
    const config = worker.config;
    const declared = declaredSchedules(config, prefix);
    // The rule, against a daily export.
    expect(retentionWarning(24 * 3600, declared, 'ns')).toMatch(/^namespace ns keeps closed histories for 24 h, less than twice the audit export interval \(24 h\): .* --retention 30d$/);
    expect(retentionWarning(48 * 3600, declared, 'ns')).toBeUndefined();
    expect(retentionWarning(24 * 3600, declared.filter((d) => d.name !== 'audit-export'), 'ns')).toBeUndefined();
    // The real server's answer for the test namespace, read the way `schedules apply` reads it.
    const retention = await namespaceRetentionSeconds(worker.env.client, config.temporal.namespace);
    expect(retention).toBeGreaterThan(0);
    const warning = retentionWarning(retention, declared, config.temporal.namespace);
    if (retention! < 48 * 3600) expect(warning).toContain(`namespace ${config.temporal.namespace} keeps closed histories for`);
    else expect(warning).toBeUndefined();
  });

  it('a triggered schedule runs the backup workflow', async () => {
    const client = worker.env.client;
    const weekly = declared.find((d) => d.name === 'postgres-weekly')!;
    await applySchedules(client, declared, prefix);
    const handle = client.schedule.getHandle(weekly.id);
    await handle.trigger();
    let workflowId: string | undefined;
    for (let i = 0; i < 100 && !workflowId; i++) {
      workflowId = (await handle.describe()).info.recentActions.at(-1)?.action.workflow.workflowId;
      if (!workflowId) await new Promise((r) => setTimeout(r, 200));
    }
    expect(workflowId).toMatch(new RegExp(`^${weekly.id}`));
    const result = (await client.workflow.getHandle(workflowId!).result()) as BackupDatabaseResult;
    expect(result.key).toMatch(/^weekly\/corporate_intel_weekly_/);
    expect(await ownedScheduleIds(client, prefix)).toEqual(expect.arrayContaining([weekly.id]));
  });
});
