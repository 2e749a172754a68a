/**
 * Applying the declared schedules to Temporal. Idempotent: a second apply changes nothing. Each
 * declared schedule is described directly (strongly consistent); the visibility listing is used only
 * to find schedules Lifeboat owns (id prefix) that are no longer declared, which are deleted.
 * An update keeps the pause state and the note that on-call set; a note Lifeboat wrote is rewritten.
 * Each schedule's note names the seed crontab line it replaces; each run it starts carries the UI
 * label of its runbook (summary, details naming the schedule, search attributes).
 */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { scheduleHash, type DeclaredSchedule } from '../lib/schedules/declared';
import { uiStartOptions, type UiLabel } from './start-options';
import { planScheduleChanges, type ExistingSchedule, type SchedulePlan } from '../lib/schedules/plan';

const HASH_MEMO = 'lifeboatScheduleHash';

/** The note Lifeboat gives a schedule: the seed line it replaces. Pure. */
export function scheduleNote(d: DeclaredSchedule): string {
  return `lifeboat: ${d.replaces.startsWith('no ') ? d.replaces : `replaces seed crontab line "${d.replaces}"`}`;
}

/** A note Lifeboat wrote (rewritten by apply), not on-call's. */
function isLifeboatNote(note: string | undefined): boolean {
  return !note || note.startsWith('lifeboat: ') || note.startsWith('managed by lifeboat schedules apply');
}

/** What each kind of scheduled run is called in the UI (LifeboatKind) and where the CLI shows it. */
const KINDS: Record<string, { kind: string; show: string }> = {
  backupDatabase: { kind: 'backup', show: 'lifeboat backups list' },
  backupBase: { kind: 'base-backup', show: 'lifeboat backups list' },
  backupBuckets: { kind: 'minio-backup', show: 'lifeboat minio restore --list' },
  replicateBuckets: { kind: 'minio-replicate', show: 'lifeboat status' },
  shipWal: { kind: 'wal-ship', show: 'lifeboat wal status' },
  verifyBackups: { kind: 'verify', show: 'lifeboat backups list' },
  monitorBackups: { kind: 'monitor', show: 'lifeboat status' },
  pruneBackups: { kind: 'prune', show: 'lifeboat backups list' },
  exportAuditTrail: { kind: 'audit-export', show: 'lifeboat audit verify' },
  backupConfigFiles: { kind: 'config-backup', show: 'lifeboat backups list' },
  disasterRecovery: { kind: 'dr-drill', show: 'lifeboat dr list' },
};

/** The UI label of the runs a declared schedule starts. Pure. */
export function scheduledRunLabel(d: DeclaredSchedule): UiLabel {
  const known = KINDS[d.workflowType] ?? { kind: d.name, show: 'lifeboat schedules list' };
  const tier = (d.args[0] as { tier?: string } | undefined)?.tier;
  const when = d.cron ? `\`${d.cron}\` (${d.timeZone})` : `every ${d.intervalSeconds} s`;
  return {
    kind: known.kind,
    summary: d.description,
    what: `${d.description}. Started by schedule \`${d.id}\` ${when}; ${d.replaces.startsWith('no ') ? d.replaces : `replaces the seed's crontab line \`${d.replaces}\``}.`,
    show: known.show,
    ...(d.buckets ? { buckets: d.buckets } : {}),
    attributes: { ...(tier ? { LifeboatTier: tier } : {}) },
    startedBy: `schedule \`${d.id}\` (\`lifeboat schedules list\`)`,
  };
}

async function options(client: Client, d: DeclaredSchedule): Promise<Omit<ScheduleOptions, 'scheduleId'>> {
  const ui = await uiStartOptions(client, scheduledRunLabel(d));
  return {
    spec: d.cron ? { cronExpressions: [d.cron], timezone: d.timeZone } : { intervals: [{ every: (d.intervalSeconds ?? 3600) * 1000 }] },
    action: {
      type: 'startWorkflow',
      workflowType: d.workflowType,
      args: d.args,
      taskQueue: d.taskQueue,
      workflowId: d.id,
      memo: { ...ui.memo, [HASH_MEMO]: scheduleHash(d), lifeboatSchedule: d.name },
      staticSummary: ui.staticSummary,
      staticDetails: ui.staticDetails,
      typedSearchAttributes: ui.typedSearchAttributes,
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
    await client.schedule.create({ scheduleId: d.id, ...(await options(client, d)), state: { note: scheduleNote(d) } });
  }
  for (const d of plan.update) {
    const next = await options(client, d);
    await client.schedule.getHandle(d.id).update((previous) => ({
      ...next,
      // On-call's pause (and its note) survive an apply; a note Lifeboat wrote is brought up to date.
      state: { paused: previous.state.paused, note: isLifeboatNote(previous.state.note) ? scheduleNote(d) : previous.state.note, remainingActions: undefined },
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
export function retentionWarning(retentionSeconds: number | undefined, declared: readonly DeclaredSchedule[], namespace: string, address?: string): string | undefined {
  const exporting = declared.find((d) => d.name === 'audit-export');
  if (!exporting || retentionSeconds === undefined || retentionSeconds <= 0) return undefined;
  const intervalSeconds = exporting.intervalSeconds ?? 24 * 3600;
  if (retentionSeconds >= 2 * intervalSeconds) return undefined;
  const hours = (s: number): string => `${Math.round((s / 3600) * 10) / 10} h`;
  return `namespace ${namespace} keeps closed histories for ${hours(retentionSeconds)}, less than twice the audit export interval (${hours(intervalSeconds)}): a history can be deleted before it is exported; raise it, e.g. temporal operator namespace update${address ? ` --address ${address}` : ''} --namespace ${namespace} --retention 30d`;
}

/** The namespace's workflow execution retention in seconds (undefined when the server does not say). */
export async function namespaceRetentionSeconds(client: Client, namespace: string): Promise<number | undefined> {
  const described = await client.workflowService.describeNamespace({ namespace });
  const ttl = described.config?.workflowExecutionRetentionTtl;
  return ttl?.seconds !== undefined && ttl.seconds !== null ? Number(ttl.seconds) : undefined;
}
