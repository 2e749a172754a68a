/**
 * Applying the declared schedules to Temporal. Idempotent: a second apply changes nothing. Each
 * declared schedule is described directly (strongly consistent); the visibility listing is used only
 * to find schedules Lifeboat owns (id prefix) that are no longer declared, which are deleted.
 * An update keeps the pause state and note that on-call set.
 */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { scheduleHash, type DeclaredSchedule } from '../lib/schedules/declared';
import { planScheduleChanges, type ExistingSchedule, type SchedulePlan } from '../lib/schedules/plan';

const HASH_MEMO = 'lifeboatScheduleHash';

function options(d: DeclaredSchedule): Omit<ScheduleOptions, 'scheduleId'> {
  return {
    spec: d.cron ? { cronExpressions: [d.cron], timezone: d.timeZone } : { intervals: [{ every: (d.intervalSeconds ?? 3600) * 1000 }] },
    action: {
      type: 'startWorkflow',
      workflowType: d.workflowType,
      args: d.args,
      taskQueue: d.taskQueue,
      workflowId: d.id,
      memo: { [HASH_MEMO]: scheduleHash(d), lifeboatSchedule: d.name },
      staticSummary: d.description,
    },
    policies: { overlap: ScheduleOverlapPolicy[d.overlap], catchupWindow: `${d.catchupWindowSeconds} seconds`, pauseOnFailure: false },
  };
}

/** The fingerprint recorded on an existing schedule, or null when there is no such schedule. */
async function existingHash(client: Client, id: string): Promise<string | undefined | null> {
  try {
    const description = await client.schedule.getHandle(id).describe();
    const action = description.action as { memo?: Record<string, unknown> };
    return (action.memo?.[HASH_MEMO] as string | undefined) ?? undefined;
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return null;
    throw error;
  }
}

/** Ids of schedules Lifeboat owns (by prefix), from visibility. */
export async function ownedScheduleIds(client: Client, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId);
  return ids;
}

export async function planApply(client: Client, declared: readonly DeclaredSchedule[], prefix: string): Promise<SchedulePlan> {
  const existing: ExistingSchedule[] = [];
  for (const d of declared) {
    const hash = await existingHash(client, d.id);
    if (hash !== null) existing.push({ id: d.id, hash });
  }
  const declaredIds = new Set(declared.map((d) => d.id));
  for (const id of await ownedScheduleIds(client, prefix)) {
    if (!declaredIds.has(id) && (await existingHash(client, id)) !== null) existing.push({ id });
  }
  return planScheduleChanges(declared, existing, prefix);
}

export async function applySchedules(client: Client, declared: readonly DeclaredSchedule[], prefix: string, dryRun = false): Promise<SchedulePlan> {
  const plan = await planApply(client, declared, prefix);
  if (dryRun) return plan;
  for (const d of plan.create) {
    await client.schedule.create({ scheduleId: d.id, ...options(d), state: { note: `managed by lifeboat schedules apply: ${d.description}` } });
  }
  for (const d of plan.update) {
    await client.schedule.getHandle(d.id).update((previous) => ({
      ...options(d),
      // On-call's pause (and its note) survive an apply.
      state: { paused: previous.state.paused, note: previous.state.note, remainingActions: undefined },
    }));
  }
  for (const id of plan.delete) await client.schedule.getHandle(id).delete();
  return plan;
}

/**
 * The audit trail needs closed histories to outlive the time between exports: warn when the
 * namespace's retention is shorter than twice the export interval (the `audit-export` schedule runs
 * daily). Pure, for tests. Undefined when retention is long enough or nothing exports.
 */
export function retentionWarning(retentionSeconds: number | undefined, declared: readonly DeclaredSchedule[], namespace: string): string | undefined {
  const exporting = declared.find((d) => d.name === 'audit-export');
  if (!exporting || retentionSeconds === undefined || retentionSeconds <= 0) return undefined;
  const intervalSeconds = exporting.intervalSeconds ?? 24 * 3600;
  if (retentionSeconds >= 2 * intervalSeconds) return undefined;
  const hours = (s: number): string => `${Math.round((s / 3600) * 10) / 10} h`;
  return `namespace ${namespace} keeps closed histories for ${hours(retentionSeconds)}, less than twice the audit export interval (${hours(intervalSeconds)}): a history can be deleted before it is exported; raise it, e.g. temporal operator namespace update --namespace ${namespace} --retention 30d`;
}

/** The namespace's workflow execution retention in seconds (undefined when the server does not say). */
export async function namespaceRetentionSeconds(client: Client, namespace: string): Promise<number | undefined> {
  const described = await client.workflowService.describeNamespace({ namespace });
  const ttl = described.config?.workflowExecutionRetentionTtl;
  return ttl?.seconds !== undefined && ttl.seconds !== null ? Number(ttl.seconds) : undefined;
}
