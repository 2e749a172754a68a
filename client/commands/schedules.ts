/**
 * `lifeboat schedules apply|list|pause|unpause|trigger|backfill`: Temporal Schedules as code. A
 * schedule named on the command line must be one Lifeboat declares (or one it still owns on the
 * server): anything else is refused with the list of names before any schedule is touched.
 */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../../lib/config/load';
import { InputInvalid } from '../../lib/errors';
import { DEFAULT_SCHEDULE_PREFIX, declaredSchedules } from '../../lib/schedules/declared';
import type { SchedulePlan } from '../../lib/schedules/plan';
import type { CommandSpec } from '../command-table';
import { loadCliContext, withClient } from '../context';
import { printJson, table } from '../format';
import { applySchedules, namespaceRetentionSeconds, ownedScheduleIds, retentionWarning, scheduleNote } from '../schedules';

export function describePlan(plan: SchedulePlan, dryRun = false): string {
  const verb = dryRun ? 'would ' : '';
  const lines = [
    ...plan.create.map((d) => `${verb}create  ${d.id}  ${d.cron ?? `every ${d.intervalSeconds} s`} ${d.cron ? d.timeZone : ''}`.trimEnd()),
    ...plan.update.map((d) => `${verb}update  ${d.id}  ${d.cron ?? `every ${d.intervalSeconds} s`} ${d.cron ? d.timeZone : ''}`.trimEnd()),
    ...plan.delete.map((id) => `${verb}delete  ${id}  (no longer declared)`),
  ];
  return `${lines.join('\n')}${lines.length ? '\n' : ''}${plan.create.length} created, ${plan.update.length} updated, ${plan.unchanged.length} unchanged, ${plan.delete.length} deleted${dryRun ? ' (dry run)' : ''}\n`;
}

/** Full schedule id from a short name (`postgres-daily`) or an id. */
function scheduleId(name: string | undefined): string {
  if (!name) throw new InputInvalid('name', 'is required', 'give a schedule name from `lifeboat schedules list`, e.g. postgres-daily');
  return name.startsWith(DEFAULT_SCHEDULE_PREFIX) ? name : `${DEFAULT_SCHEDULE_PREFIX}${name}`;
}

const shortName = (id: string): string => (id.startsWith(DEFAULT_SCHEDULE_PREFIX) ? id.slice(DEFAULT_SCHEDULE_PREFIX.length) : id);

/** The schedule names this configuration declares, for hints. */
export function declaredScheduleNames(config: Config): string[] {
  return declaredSchedules(config).map((d) => d.name);
}

/**
 * The id of the schedule `name` designates, checked before anything is touched: declared by this
 * configuration, else still owned by Lifeboat on the server (visibility listing). Unknown names are
 * refused (exit 2) with the known names in the hint.
 */
async function knownScheduleId(client: Client, config: Config, name: string | undefined): Promise<string> {
  const id = scheduleId(name);
  if (declaredSchedules(config).some((d) => d.id === id)) return id;
  const owned = await ownedScheduleIds(client, DEFAULT_SCHEDULE_PREFIX).catch(() => [] as string[]);
  if (owned.includes(id)) return id;
  const names = [...new Set([...declaredScheduleNames(config), ...owned.map(shortName)])].sort();
  throw new InputInvalid('name', `no schedule "${name}"`, `known schedules: ${names.join(', ')} (see \`lifeboat schedules list\`)`);
}

/**
 * Run `action` on the schedule `name`: an unknown name is refused before any call that changes
 * something, and a declared schedule missing on the server says to apply first.
 */
async function onSchedule(name: string | undefined, action: (client: Client, id: string) => Promise<void>): Promise<void> {
  const { config } = loadCliContext();
  await withClient(async (client) => {
    const id = await knownScheduleId(client, config, name);
    try {
      await action(client, id);
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError) && !/workflow not found for id/i.test((error as Error).message ?? '')) throw error;
      throw new InputInvalid('name', `schedule ${id} is declared but does not exist on the server yet`, 'create it: `lifeboat schedules apply`');
    }
  });
}


function parseTime(field: string, text: unknown): Date {
  const date = new Date(String(text));
  if (text === undefined || Number.isNaN(date.getTime())) throw new InputInvalid(field, `"${String(text)}" is not a date-time`, 'use ISO 8601, e.g. 2025-10-17T00:00:00Z');
  return date;
}

export const scheduleCommands: CommandSpec[] = [
  {
    name: 'schedules apply',
    summary: 'create/update the declared schedules idempotently, keep pauses, remove undeclared ones',
    options: [{ flags: '--dry-run', description: 'print the plan, change nothing' }, { flags: '--json', description: 'print the plan as JSON' }],
    async run(_args, opts) {
      return withClient(async (client, config) => {
        const declared = declaredSchedules(config);
        const plan = await applySchedules(client, declared, DEFAULT_SCHEDULE_PREFIX, Boolean(opts.dryRun));
        if (opts.json) {
          printJson({ dryRun: Boolean(opts.dryRun), create: plan.create.map((d) => d.id), update: plan.update.map((d) => d.id), unchanged: plan.unchanged.map((d) => d.id), delete: plan.delete });
        } else {
          process.stdout.write(describePlan(plan, Boolean(opts.dryRun)));
        }
        const warning = retentionWarning(await namespaceRetentionSeconds(client, config.temporal.namespace).catch(() => undefined), declared, config.temporal.namespace, config.temporal.address);
        if (warning) process.stderr.write(`warning: ${warning}\n`);
      });
    },
  },
  {
    name: 'schedules list',
    summary: 'list Lifeboat\'s schedules: spec, state, next run, and the seed crontab line each replaces (its note)',
    options: [{ flags: '--json', description: 'machine-readable output' }],
    async run(_args, opts) {
      return withClient(async (client, config) => {
        const declared = new Map(declaredSchedules(config).map((d) => [d.id, d]));
        const rows = [['SCHEDULE', 'SPEC', 'STATE', 'NEXT RUN (UTC)', 'LAST RUN', 'NOTE']];
        const listed: Record<string, unknown>[] = [];
        for (const id of (await ownedScheduleIds(client, DEFAULT_SCHEDULE_PREFIX)).sort()) {
          const d = await client.schedule.getHandle(id).describe();
          const own = declared.get(id);
          // The declared cron text when this configuration declares the schedule (the server keeps calendars, not the text).
          const cron = own?.cron ? `${own.cron} (${own.timeZone})` : undefined;
          const spec = cron ?? (d.spec.calendars?.length ? (d.spec.calendars.map((c) => JSON.stringify(c)).join(' ') ?? '') : d.spec.intervals?.map((i) => `every ${Number(i.every) / 1000} s`).join(', ') ?? '');
          const last = d.info.recentActions.at(-1);
          listed.push({
            id,
            name: shortName(id),
            declared: own !== undefined,
            workflowType: d.action.type === 'startWorkflow' ? d.action.workflowType : null,
            cron: own?.cron ?? null,
            timeZone: own?.cron ? own.timeZone : null,
            intervalSeconds: d.spec.intervals?.length ? Number(d.spec.intervals[0]!.every) / 1000 : null,
            paused: d.state.paused,
            note: d.state.note ?? null,
            replaces: own?.replaces ?? null,
            nextRunAt: d.info.nextActionTimes[0]?.toISOString() ?? null,
            lastRunAt: last?.takenAt.toISOString() ?? null,
            lastWorkflowId: last?.action.type === 'startWorkflow' ? last.action.workflow.workflowId : null,
          });
          rows.push([id, spec.slice(0, 60), d.state.paused ? 'PAUSED' : 'active', d.info.nextActionTimes[0]?.toISOString().slice(0, 16).replace('T', ' ') ?? '-', last ? last.takenAt.toISOString().slice(0, 16).replace('T', ' ') : '-', d.state.note ?? (own ? scheduleNote(own) : '-')]);
        }
        if (opts.json) printJson(listed);
        else process.stdout.write(table(rows));
      });
    },
  },
  {
    name: 'schedules pause',
    summary: 'pause a schedule (kept across `schedules apply`)',
    args: [{ name: 'name', description: 'e.g. postgres-daily' }],
    options: [{ flags: '--note <text>', description: 'why (shown in the UI)' }],
    async run([name], opts) {
      await onSchedule(name, async (client, id) => {
        await client.schedule.getHandle(id).pause(String(opts.note ?? 'paused with lifeboat schedules pause'));
        process.stdout.write(`paused ${id}\n`);
      });
    },
  },
  {
    name: 'schedules unpause',
    summary: 'resume a paused schedule',
    args: [{ name: 'name', description: 'e.g. postgres-daily' }],
    async run([name]) {
      await onSchedule(name, async (client, id) => {
        await client.schedule.getHandle(id).unpause('unpaused with lifeboat schedules unpause');
        process.stdout.write(`unpaused ${id}\n`);
      });
    },
  },
  {
    name: 'schedules trigger',
    summary: 'run a schedule\'s action now',
    args: [{ name: 'name', description: 'e.g. postgres-daily' }],
    async run([name]) {
      await onSchedule(name, async (client, id) => {
        await client.schedule.getHandle(id).trigger(ScheduleOverlapPolicy.ALLOW_ALL);
        process.stdout.write(`triggered ${id}\n`);
      });
    },
  },
  {
    name: 'schedules backfill',
    summary: 'take the runs a schedule would have taken between two times',
    args: [{ name: 'name', description: 'e.g. postgres-daily' }],
    options: [{ flags: '--from <time>', description: 'start (ISO 8601)' }, { flags: '--to <time>', description: 'end (ISO 8601)' }],
    async run([name], opts) {
      const start = parseTime('--from', opts.from);
      const end = parseTime('--to', opts.to);
      if (end <= start) throw new InputInvalid('--to', 'must be after --from');
      if (end.getTime() > Date.now()) throw new InputInvalid('--to', 'is in the future', 'backfill only covers the past; use trigger for now');
      await onSchedule(name, async (client, id) => {
        await client.schedule.getHandle(id).backfill([{ start, end, overlap: ScheduleOverlapPolicy.BUFFER_ALL }]);
        process.stdout.write(`backfilling ${id} from ${start.toISOString()} to ${end.toISOString()}\n`);
      });
    },
  },
];
