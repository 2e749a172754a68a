/**
 * `audit report` on the real stack: a schedule of the test's own (the declared `monitor` name under
 * a unique prefix, running `health` every 3 s) starts runs; the report matches every nominal time
 * the server computes from the schedule's spec to the run it started, counts a failed run, and
 * names the declared schedules that do not exist on the server.
 */
import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherAuditReport } from '../../client/commands/audit';
import { formatAuditReport } from '../../lib/audit/report';
import { startTestWorker, type TestWorkerHandle } from './helpers';

describe('audit report (real Temporal schedules and visibility)', () => {
  let handle: TestWorkerHandle;
  const prefix = `lbt-report-${randomUUID().slice(0, 6)}-`;
  const scheduleId = `${prefix}monitor`;

  beforeAll(async () => {
    handle = await startTestWorker();
  });
  afterAll(async () => {
    await handle?.env.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    await handle?.stop();
  });

  it('expected vs. present runs of a schedule, a failed run, schedules not applied', async () => {
    const client = handle.env.client;
    const from = new Date();
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '3 seconds' }] },
      action: { type: 'startWorkflow', workflowType: 'health', args: [{ hostTaskQueue: handle.workers.hostTaskQueue }], taskQueue: handle.taskQueue, workflowId: `${prefix}health` },
      policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL },
    });
    // A run that fails (bad input), not started by a schedule.
    await client.workflow.execute('exportAuditTrail', { taskQueue: handle.taskQueue, workflowId: `${prefix}bad-export`, args: [{ settleSeconds: -1 }] }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 10_000));
    await client.schedule.getHandle(scheduleId).pause('report test');
    const to = new Date(Date.now() - 1000);
    await new Promise((r) => setTimeout(r, 3000)); // visibility catches up with the last runs
    const started = Date.now();
    const report = await gatherAuditReport(client, handle.config, from, to, handle.taskQueue, prefix);
    process.stdout.write(`audit report in ${Date.now() - started} ms:\n${formatAuditReport(report)}`);

    const monitor = report.schedules.find((s) => s.id === scheduleId)!;
    expect(monitor.expected).toBeGreaterThanOrEqual(2);
    expect(monitor.missing).toEqual([]);
    expect(monitor.present).toBeGreaterThanOrEqual(monitor.expected!);
    expect(monitor.failed).toBe(0);
    expect(report.failedRuns.map((f) => f.workflowId)).toEqual([`${prefix}bad-export`]);
    expect(report.schedules.filter((s) => s.id !== scheduleId).every((s) => s.expected === null)).toBe(true);
    expect(report.problems).toContain(`schedule ${prefix}postgres-daily does not exist on the server (run lifeboat schedules apply)`);
    expect(report.policyHeld).toBe(false);
  }, 60_000);
});
