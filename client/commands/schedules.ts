/** `lifeboat schedules apply|list|pause|unpause|trigger|backfill`: Temporal Schedules as code. */
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { InputInvalid } from '../../lib/errors';
import { DEFAULT_SCHEDULE_PREFIX, declaredSchedules } from '../../lib/schedules/declared';
import type { SchedulePlan } from '../../lib/schedules/plan';
import type { CommandSpec } from '../command-table';
import { withClient } from '../context';
import { table } from '../format';
import { applySchedules, namespaceRetentionSeconds, ownedScheduleIds, retentionWarning } from '../schedules';

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


function parseTime(field: string, text: unknown): Date {
  const date = new Date(String(text));
  if (text === undefined || Number.isNaN(date.getTime())) throw new InputInvalid(field, `"${String(text)}" is not a date-time`, 'use ISO 8601, e.g. 2025-10-17T00:00:00Z');
  return date;
}

export const scheduleCommands: CommandSpec[] = [
  {
    name: 'schedules apply',
    summary: 'create/update the declared schedules idempotently, keep pauses, remove undeclared ones',
    options: [{ flags: '--dry-run', description: 'print the plan, change nothing' }],
    async run(_args, opts) {
      return withClient(async (client, config) => {
        const declared = declaredSchedules(config);
        const plan = await applySchedules(client, declared, DEFAULT_SCHEDULE_PREFIX, Boolean(opts.dryRun));
        process.stdout.write(describePlan(plan, Boolean(opts.dryRun)));
        const warning = retentionWarning(await namespaceRetentionSeconds(client, config.temporal.namespace).catch(() => undefined), declared, config.temporal.namespace);
        if (warning) process.stderr.write(`warning: ${warning}\n`);
      });
    },
  },
  {
    name: 'schedules list',
    summary: 'list Lifeboat\'s schedules: spec, state, next run',
    async run() {
      return withClient(async (client) => {
        const rows = [['SCHEDULE', 'SPEC', 'STATE', 'NEXT RUN (UTC)', 'LAST RUN']];
        for (const id of (await ownedScheduleIds(client, DEFAULT_SCHEDULE_PREFIX)).sort()) {
          const d = await client.schedule.getHandle(id).describe();
          const spec = d.spec.calendars?.length ? (d.spec.calendars.map((c) => JSON.stringify(c)).join(' ') ?? '') : d.spec.intervals?.map((i) => `every ${Number(i.every) / 1000} s`).join(', ') ?? '';
          const last = d.info.recentActions.at(-1);
          rows.push([id, spec.slice(0, 60), d.state.paused ? `PAUSED${d.state.note ? ` (${d.state.note})` : ''}` : 'active', d.info.nextActionTimes[0]?.toISOString().slice(0, 16).replace('T', ' ') ?? '-', last ? last.takenAt.toISOString().slice(0, 16).replace('T', ' ') : '-']);
        }
        process.stdout.write(table(rows));
      });
    },
  },
  {
    name: 'schedules pause',
    summary: 'pause a schedule (kept across `schedules apply`)',
    args: [{ name: 'name', description: 'e.g. postgres-daily' }],
    options: [{ flags: '--note <text>', description: 'why (shown in the UI)' }],
    async run([name], opts) {
      return withClient(async (client) => {
        await client.schedule.getHandle(scheduleId(name)).pause(String(opts.note ?? 'paused with lifeboat schedules pause'));
        process.stdout.write(`paused ${scheduleId(name)}\n`);
      });
    },
  },
  {
    name: 'schedules unpause',
    summary: 'resume a paused schedule',
    args: [{ name: 'name', description: 'e.g. postgres-daily' }],
    async run([name]) {
      return withClient(async (client) => {
        await client.schedule.getHandle(scheduleId(name)).unpause('unpaused with lifeboat schedules unpause');
        process.stdout.write(`unpaused ${scheduleId(name)}\n`);
      });
    },
  },
  {
    name: 'schedules trigger',
    summary: 'run a schedule\'s action now',
    args: [{ name: 'name', description: 'e.g. postgres-daily' }],
    async run([name]) {
      return withClient(async (client) => {
        await client.schedule.getHandle(scheduleId(name)).trigger(ScheduleOverlapPolicy.ALLOW_ALL);
        process.stdout.write(`triggered ${scheduleId(name)}\n`);
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
      return withClient(async (client) => {
        await client.schedule.getHandle(scheduleId(name)).backfill([{ start, end, overlap: ScheduleOverlapPolicy.BUFFER_ALL }]);
        process.stdout.write(`backfilling ${scheduleId(name)} from ${start.toISOString()} to ${end.toISOString()}\n`);
      });
    },
  },
];
