/**
 * Progress of a running workflow in the terminal: a bar redrawn in place on a TTY, plain lines
 * otherwise (one per stage change or every 10 s), read from the workflow's `progress` query.
 */
import type { WorkflowHandle } from '@temporalio/client';
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

/** Follow `handle` until it completes; returns its result. */
export async function followProgress<T>(handle: WorkflowHandle, out: NodeJS.WriteStream = process.stderr, onState?: (p: ProgressState) => Promise<void>): Promise<T> {
  const tty = Boolean(out.isTTY);
  let finished = false;
  let lastLine = '';
  let lastStage = '';
  let lastPrint = 0;
  const result = handle.result().finally(() => {
    finished = true;
  });
  const poll = (async () => {
    while (!finished) {
      try {
        const state = await handle.query<ProgressState>('progress');
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
    return (await result) as T;
  } finally {
    await poll;
    if (tty && lastLine) out.write('\n');
  }
}
