/**
 * Waiting for a workflow in the terminal, never silently:
 *  - before a command starts anything, `requireWorkers` asks Temporal (DescribeTaskQueue) whether a
 *    worker polls the task queues it needs, and refuses at once (exit 3) when none does;
 *  - while it waits, each pending activity that is being retried is reported on stderr once per
 *    attempt, with the reason (its last failure), and a workflow task nobody picks up is named;
 *  - `followProgress` also draws the workflow's progress: a bar redrawn in place on a TTY, plain
 *    lines otherwise (one per stage change or every 10 s), read from the workflow's progress query
 *    (the stage) and its running activity's heartbeat details (bytes, percent, ETA: activities
 *    report live progress there, not to the workflow, so it costs no history events).
 */
import type { Client, QueryDefinition, Workflow, WorkflowHandle, WorkflowResultType } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { ServiceUnavailable } from '../lib/errors';
import { formatBytes } from './format';

export interface ProgressState {
  stage: string;
  bytesDone?: number;
  bytesTotal?: number;
  percent?: number;
  etaSeconds?: number;
  bytesPerSecond?: number;
}

export function renderProgress(p: ProgressState, width = 30): string {
  if (p.percent === undefined || p.bytesTotal === undefined) return p.stage;
  const filled = Math.round((Math.min(100, p.percent) / 100) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const rate = p.bytesPerSecond ? `, ${formatBytes(p.bytesPerSecond)}/s` : '';
  const eta = p.etaSeconds !== undefined ? `, ETA ${p.etaSeconds} s` : '';
  return `${p.stage.padEnd(9)} ${bar} ${p.percent.toFixed(1)}% ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}${rate}${eta}`;
}

const LIVE_FIELDS = ['bytesDone', 'bytesTotal', 'percent', 'etaSeconds', 'bytesPerSecond'] as const;
type LiveProgress = Pick<ProgressState, (typeof LIVE_FIELDS)[number]>;
type Description = Awaited<ReturnType<WorkflowHandle['describe']>>;
type PendingActivity = NonNullable<Description['raw']['pendingActivities']>[number];

/** TASK_QUEUE_TYPE_WORKFLOW / _ACTIVITY and PENDING_WORKFLOW_TASK_STATE_SCHEDULED of temporal.api.enums.v1. */
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;
const WORKFLOW_TASK_SCHEDULED = 1;

/**
 * A poller counts as a worker when it polled within this many seconds. Workers long-poll for about
 * a minute and poll again at once, while Temporal lists a poller for minutes after its process is
 * gone: the last access time, not the listing, says who is there.
 */
export const POLLER_FRESH_SECONDS = 75;

/** A workflow task still unstarted after this long is reported (no worker picks it up). */
const UNPICKED_WORKFLOW_TASK_SECONDS = 10;

/**
 * A workflow whose first task nobody picked up within this long is given up: terminated (it has run
 * no code, so nothing is undone) and reported as unreachable. A live worker picks a task up within a
 * second; this catches a worker that stopped less than POLLER_FRESH_SECONDS ago, which still looks alive.
 */
export const NO_WORKER_GIVE_UP_SECONDS = 20;

/** The byte progress in pending activities' heartbeat details: the first that carries `bytesDone`, `bytesTotal` and `percent`. */
function liveProgressOf(pending: readonly PendingActivity[]): LiveProgress | undefined {
  for (const activity of pending) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    const details = defaultPayloadConverter.fromPayload<Record<string, unknown> | undefined>(payload);
    if (typeof details?.bytesDone !== 'number' || typeof details.bytesTotal !== 'number' || typeof details.percent !== 'number') continue;
    const live: LiveProgress = {};
    for (const field of LIVE_FIELDS) if (typeof details[field] === 'number') live[field] = details[field];
    return live;
  }
  return undefined;
}

/**
 * The byte progress in a pending activity's heartbeat details: those that carry `bytesDone`,
 * `bytesTotal` and `percent` (restoreBackup, fetchBackup). Undefined when no activity reports any.
 */
export async function heartbeatProgress(handle: WorkflowHandle): Promise<LiveProgress | undefined> {
  return liveProgressOf((await handle.describe()).raw.pendingActivities ?? []);
}

/** A failure and its causes as one line: `message: cause: cause`. */
function failureText(failure: PendingActivity['lastFailure']): string {
  const parts: string[] = [];
  for (let f = failure; f && parts.length < 5; f = f.cause) if (f.message && !parts.includes(f.message)) parts.push(f.message);
  return parts.join(': ') || 'no reason given';
}

/** One line per activity that failed at least once and is being retried: what, which attempt, when next, and why. */
export function describeRetries(pending: readonly PendingActivity[], now = Date.now()): { key: string; line: string }[] {
  return pending.flatMap((a) => {
    if (!a.lastFailure || (a.attempt ?? 1) < 2) return [];
    const type = a.activityType?.name ?? 'activity';
    const next = optionalTsToMs(a.nextAttemptScheduleTime);
    const when = next !== undefined && next > now ? `, next in ${Math.ceil((next - now) / 1000)} s` : '';
    const of = a.maximumAttempts ? `/${a.maximumAttempts}` : '';
    return [{ key: `${a.activityId}#${a.attempt}`, line: `retrying ${type} (attempt ${a.attempt}${of}${when}): ${failureText(a.lastFailure)}` }];
  });
}

/**
 * What a waiting command tells the operator besides progress, from one describe(): activities being
 * retried (once per attempt) and a workflow task nobody has picked up (once). Returns 'no-worker'
 * when the workflow's first task has waited NO_WORKER_GIVE_UP_SECONDS with nothing run yet.
 */
function waitReporter(out: NodeJS.WritableStream): (d: Description) => 'no-worker' | undefined {
  const said = new Set<string>();
  return (d) => {
    const say = (key: string, line: string): void => {
      if (said.has(key)) return;
      said.add(key);
      out.write(`${line}\n`);
    };
    for (const r of describeRetries(d.raw.pendingActivities ?? [])) say(r.key, r.line);
    const task = d.raw.pendingWorkflowTask;
    const scheduled = optionalTsToMs(task?.scheduledTime);
    if (task?.state === WORKFLOW_TASK_SCHEDULED && scheduled !== undefined && Date.now() - scheduled > UNPICKED_WORKFLOW_TASK_SECONDS * 1000) {
      say(`task#${task.attempt}`, `waiting: no worker has picked up the workflow task on ${d.taskQueue} for ${Math.round((Date.now() - scheduled) / 1000)} s (is \`lifeboat worker\` running?)`);
      // Started + first task scheduled, nothing else: no workflow code has run.
      const untouched = task.attempt === 1 && d.historyLength <= 2;
      if (untouched && Date.now() - scheduled > NO_WORKER_GIVE_UP_SECONDS * 1000) return 'no-worker';
    }
    return undefined;
  };
}

/**
 * Giving up on a workflow no worker ever picked up (it ran nothing): `error` is what the command
 * ends with (ServiceUnavailable, exit 3), and `terminate` ends the run. The error is set before the
 * run is terminated, so the terminated run's own failure never becomes the story.
 */
function giveUp(handle: WorkflowHandle): { error?: ServiceUnavailable; abandon(d: Description): Promise<never> } {
  const state: { error?: ServiceUnavailable; abandon(d: Description): Promise<never> } = {
    async abandon(d) {
      state.error = new ServiceUnavailable(
        `no worker picked up workflow ${handle.workflowId} on task queue ${d.taskQueue} within ${NO_WORKER_GIVE_UP_SECONDS} s; it was terminated before it did anything`,
        'start a worker on this host: `npx lifeboat worker` (or `npm start`), then run the command again',
      );
      await handle.terminate(`no worker picked up the first workflow task on ${d.taskQueue} within ${NO_WORKER_GIVE_UP_SECONDS} s`).catch(() => undefined);
      throw state.error;
    },
  };
  return state;
}

/** `result`, or the give-up error when the watch gave up on the run (whichever settles first). */
async function settle<T>(result: Promise<T>, watch: Promise<void>, gave: { error?: ServiceUnavailable }): Promise<T> {
  try {
    await Promise.race([result, watch]);
    return await result;
  } catch (error) {
    throw gave.error ?? error;
  }
}

/**
 * Wait for `handle`'s result, reporting retried activities and unpicked workflow tasks on `out` as
 * they happen (describe() every 2 s). For commands that show no progress bar.
 */
export async function awaitResult<H extends WorkflowHandle>(handle: H, out: NodeJS.WritableStream = process.stderr): Promise<Awaited<ReturnType<H['result']>>> {
  let finished = false;
  const report = waitReporter(out);
  const result = (handle.result() as Promise<Awaited<ReturnType<H['result']>>>).finally(() => {
    finished = true;
  });
  // Handled here too: when the watch gives up first, the terminated run's failure is not the story.
  result.catch(() => undefined);
  const gave = giveUp(handle);
  const watch = (async () => {
    while (!finished) {
      await new Promise((r) => setTimeout(r, 2000));
      if (finished) break;
      // Describe can fail while the workflow closes; the result says how it ended.
      const described = await handle.describe().catch(() => undefined);
      if (described && report(described) === 'no-worker' && !finished) await gave.abandon(described);
    }
  })();
  return settle(result, watch, gave);
}

/** The workers Temporal has seen polling `taskQueue` (of `type`) within POLLER_FRESH_SECONDS. */
export async function livePollers(client: Client, taskQueue: string, type: keyof typeof TASK_QUEUE_TYPE, now = Date.now()): Promise<string[]> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: TASK_QUEUE_TYPE[type],
  });
  return (response.pollers ?? [])
    .filter((p) => now - (optionalTsToMs(p.lastAccessTime) ?? 0) <= POLLER_FRESH_SECONDS * 1000)
    .map((p) => p.identity ?? 'unknown');
}

/**
 * Refuse at once (ServiceUnavailable, exit 3) when no worker polls a task queue the command needs:
 * workflow tasks on `workflowQueue`, activity tasks on each of `activityQueues`. Call it before
 * starting anything, so a command never waits on a queue nobody serves.
 */
export async function requireWorkers(client: Client, workflowQueue: string, activityQueues: readonly string[] = []): Promise<void> {
  const wanted: [string, keyof typeof TASK_QUEUE_TYPE][] = [[workflowQueue, 'workflow'], ...activityQueues.map((q): [string, 'activity'] => [q, 'activity'])];
  const missing: string[] = [];
  for (const [queue, type] of wanted) if ((await livePollers(client, queue, type)).length === 0) missing.push(type === 'workflow' ? queue : `${queue} (activities)`);
  if (missing.length === 0) return;
  throw new ServiceUnavailable(
    `no worker polls task queue ${missing.join(', ')} in namespace ${client.options.namespace} (none in the last ${POLLER_FRESH_SECONDS} s); nothing was started`,
    'start a worker on this host: `npx lifeboat worker` (or `npm start`), then run the command again',
  );
}

/** Follow `handle` through `progress` (and its activities' heartbeats) until it completes; returns its result. */
export async function followProgress<W extends Workflow, S extends ProgressState>(
  handle: WorkflowHandle<W>,
  progress: QueryDefinition<S>,
  out: NodeJS.WriteStream = process.stderr,
  onState?: (p: S) => Promise<void>,
): Promise<WorkflowResultType<W>> {
  const tty = Boolean(out.isTTY);
  let finished = false;
  let lastLine = '';
  let lastStage = '';
  let lastPrint = 0;
  // On a TTY a report replaces the bar's line; the bar is drawn again below it on the next poll.
  const report = waitReporter({
    write: (text: string) => {
      const written = out.write(tty && lastLine ? `\r\x1b[2K${text}` : text);
      if (tty) lastLine = '';
      return written;
    },
  } as NodeJS.WritableStream);
  // Byte progress last seen in a heartbeat: kept across stages until the workflow's state says otherwise.
  let carried: LiveProgress = {};
  const result = handle.result().finally(() => {
    finished = true;
  });
  result.catch(() => undefined);
  const gave = giveUp(handle);
  const poll = (async () => {
    while (!finished) {
      const described = await handle.describe().catch(() => undefined);
      if (described && report(described) === 'no-worker' && !finished) {
        if (tty && lastLine) out.write('\n');
        await gave.abandon(described);
      }
      // A query to a run no worker has picked up yet would block until it times out: describe again instead.
      const started = (described?.historyLength ?? 3) > 2;
      try {
        if (!started) throw new Error('not started yet');
        const queried = await handle.query(progress);
        const live = described ? liveProgressOf(described.raw.pendingActivities ?? []) : undefined;
        if (live) carried = live;
        const state: S = { ...carried, ...queried, ...live };
        await onState?.(state);
        const line = renderProgress(state);
        if (tty) {
          if (line !== lastLine) out.write(`\r\x1b[2K${line}`);
        } else if (state.stage !== lastStage || Date.now() - lastPrint > 10_000) {
          out.write(`${line}\n`);
          lastPrint = Date.now();
        }
        lastLine = line;
        lastStage = state.stage;
      } catch {
        // The query can fail while the workflow is between tasks or closing; keep polling.
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return await settle(result, poll, gave);
  } finally {
    if (!gave.error) await poll;
    if (tty && lastLine) out.write('\n');
  }
}
