/**
 * Progress of a running workflow in the terminal: a bar redrawn in place on a TTY, plain lines
 * otherwise (one per stage change or every 10 s), read from the workflow's progress query (the
 * `defineQuery` handle the workflow module exports; the stage) and its running activity's heartbeat
 * details (bytes, percent, ETA: activities report live progress there, not to the workflow, so it
 * costs no history events).
 */
import type { QueryDefinition, Workflow, WorkflowHandle, WorkflowResultType } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
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

/**
 * The byte progress in a pending activity's heartbeat details: those that carry `bytesDone`,
 * `bytesTotal` and `percent` (restoreBackup, fetchBackup). Undefined when no activity reports any.
 */
export async function heartbeatProgress(handle: WorkflowHandle): Promise<LiveProgress | undefined> {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
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
  // Byte progress last seen in a heartbeat: kept across stages until the workflow's state says otherwise.
  let carried: LiveProgress = {};
  const result = handle.result().finally(() => {
    finished = true;
  });
  const poll = (async () => {
    while (!finished) {
      try {
        const queried = await handle.query(progress);
        const live = await heartbeatProgress(handle).catch(() => undefined);
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
    return await result;
  } finally {
    await poll;
    if (tty && lastLine) out.write('\n');
  }
}
