/**
 * The steps of a runbook, for the people watching it: each step's state, start, end and estimate,
 * rendered as the UI's current details (Temporal UI, "Current details") and answered by the `status`
 * query. Workflows name their steps up front (so pending ones show too), then mark them as they go.
 *
 * Replay-safe by construction: the tracker only keeps memory, registers a query handler and sets the
 * current details, none of which is a command or a history event. Adding, renaming or re-estimating
 * steps therefore never breaks the replay of a running workflow. Times come from the workflow clock
 * (deterministic). Live progress inside a step (bytes, percent) is not tracked here: long activities
 * put it in their heartbeat details, which clients read from the pending activity.
 */
import { defineQuery, setCurrentDetails, setHandler } from '@temporalio/workflow';

export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepStatus {
  name: string;
  state: StepState;
  /** Expected duration in seconds, when the runbook knows one (e.g. from an RTO budget). */
  estimateSeconds?: number;
  /** ISO timestamps from the workflow clock. */
  startedAt?: string;
  endedAt?: string;
  /** Seconds from start to end, once the step has ended. */
  seconds?: number;
  /** One line: what the step worked on, why it was skipped, or why it failed. */
  detail?: string;
}

export interface RunbookStatus {
  runbook: string;
  /** 'failed' as soon as a step failed; 'done' once the workflow said so. */
  state: 'running' | 'done' | 'failed';
  /** The running step, if any. */
  current?: string;
  steps: StepStatus[];
}

/** Every runbook's `status` query: `handle.query(statusQuery)`. */
export const statusQuery = defineQuery<RunbookStatus>('status');

export interface StepPlan {
  name: string;
  estimateSeconds?: number;
}

export interface StepTrackerOptions {
  /** The runbook's own summary, rendered above the steps (markdown paragraphs). */
  summary?: () => string;
  /**
   * Render the steps as a markdown table (step, action, state, started, took, estimate, detail),
   * like a runbook's table; `actions` gives each step's action text. Default: one line per step.
   */
  table?: { actions: Record<string, string> };
}

export class StepTracker {
  private readonly steps: (StepStatus & { startedMs?: number; endedMs?: number })[];
  private state: RunbookStatus['state'] = 'running';

  /** Registers the `status` query and renders the (all pending) steps at once. */
  constructor(
    readonly runbook: string,
    plan: (StepPlan | string)[],
    private readonly options: StepTrackerOptions = {},
  ) {
    this.steps = plan.map((p) => (typeof p === 'string' ? { name: p, state: 'pending' } : { name: p.name, state: 'pending', ...(p.estimateSeconds !== undefined ? { estimateSeconds: p.estimateSeconds } : {}) }));
    setHandler(statusQuery, () => this.status());
    this.render();
  }

  /** Add steps the runbook learned it needs (after the ones planned), or re-estimate known ones. */
  plan(steps: (StepPlan | string)[]): void {
    for (const p of steps) {
      const { name, estimateSeconds } = typeof p === 'string' ? { name: p, estimateSeconds: undefined } : p;
      const known = this.steps.find((s) => s.name === name);
      if (!known) this.steps.push({ name, state: 'pending', ...(estimateSeconds !== undefined ? { estimateSeconds } : {}) });
      else if (estimateSeconds !== undefined) known.estimateSeconds = estimateSeconds;
    }
    this.render();
  }

  start(name: string, detail?: string): void {
    const step = this.step(name);
    step.state = 'running';
    step.startedMs = Date.now();
    delete step.endedMs;
    if (detail !== undefined) step.detail = detail;
    this.render();
  }

  done(name: string, detail?: string): void {
    this.end(name, 'done', detail);
  }

  skip(name: string, detail?: string): void {
    this.end(name, 'skipped', detail);
  }

  /** The step failed, and with it the runbook. */
  fail(name: string, detail?: string): void {
    this.state = 'failed';
    this.end(name, 'failed', detail);
  }

  /** Fail whichever step is running (or only the runbook, when none is): for a catch-all handler. */
  failRunning(detail?: string): void {
    const running = this.steps.find((s) => s.state === 'running');
    if (running) this.fail(running.name, detail);
    else {
      this.state = 'failed';
      this.render();
    }
  }

  /** The runbook ended (a step marked failed keeps it 'failed'): steps never started are marked skipped. */
  finish(): void {
    for (const s of this.steps) if (s.state === 'pending') s.state = 'skipped';
    if (this.state === 'running') this.state = 'done';
    this.render();
  }

  /** Run `fn` as step `name`: started before, done after, failed (and rethrown) on error. */
  async run<T>(name: string, fn: () => Promise<T>, detail?: string): Promise<T> {
    this.start(name, detail);
    try {
      const result = await fn();
      this.done(name);
      return result;
    } catch (error) {
      this.fail(name, errorLine(error));
      throw error;
    }
  }

  /** Seconds the step took (start to end), or undefined while it has not ended. */
  seconds(name: string): number | undefined {
    const s = this.step(name);
    return s.startedMs !== undefined && s.endedMs !== undefined ? (s.endedMs - s.startedMs) / 1000 : undefined;
  }

  status(): RunbookStatus {
    const current = this.steps.find((s) => s.state === 'running')?.name;
    return {
      runbook: this.runbook,
      state: this.state,
      ...(current ? { current } : {}),
      steps: this.steps.map(({ startedMs, endedMs, ...s }) => ({
        ...s,
        ...(startedMs !== undefined ? { startedAt: new Date(startedMs).toISOString() } : {}),
        ...(endedMs !== undefined ? { endedAt: new Date(endedMs).toISOString() } : {}),
        ...(startedMs !== undefined && endedMs !== undefined ? { seconds: (endedMs - startedMs) / 1000 } : {}),
      })),
    };
  }

  /** Set the UI's current details: the runbook's summary, then one line per step. */
  render(): void {
    const status = this.status();
    const summary = this.options.summary?.();
    setCurrentDetails(this.options.table ? renderTable(status, this.options.table.actions, summary) : renderDetails(status, summary));
  }

  private end(name: string, state: StepState, detail?: string): void {
    const step = this.step(name);
    step.state = state;
    step.endedMs = Date.now();
    step.startedMs ??= step.endedMs;
    if (detail !== undefined) step.detail = detail;
    this.render();
  }

  private step(name: string) {
    const step = this.steps.find((s) => s.name === name);
    // A programming error in the workflow (an unplanned step), not a runtime condition.
    if (!step) throw new TypeError(`step tracker of ${this.runbook}: no step named "${name}"`);
    return step;
  }
}

const MARK: Record<StepState, string> = { pending: '·', running: '▶', done: '✓', failed: '✗', skipped: '–' };

/** Markdown for the UI: the summary, then `✓ 2. fetch — 1.2 s` lines. Pure, for tests. */
export function renderDetails(status: RunbookStatus, summary?: string): string {
  const lines = status.steps.map((s, i) => {
    const took = s.seconds !== undefined ? ` — ${formatSeconds(s.seconds)}` : s.state === 'running' && s.startedAt ? ` — since ${s.startedAt.slice(11, 19)} UTC` : '';
    const estimate = s.estimateSeconds !== undefined && s.state !== 'skipped' ? ` (estimate ${formatSeconds(s.estimateSeconds)})` : '';
    const detail = s.detail ? `: ${s.detail}` : '';
    return `${MARK[s.state]} ${i + 1}. ${s.name}${took}${estimate}${detail}`;
  });
  return [...(summary ? [summary] : []), lines.join('\n\n')].join('\n\n');
}

/**
 * Markdown for the UI as a table: `| # | step | action | state | started | took | estimate | detail |`,
 * an overrun marked. Pure, for tests.
 */
export function renderTable(status: RunbookStatus, actions: Record<string, string>, summary?: string, now = Date.now()): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = status.steps.map((s, i) => {
    const running = s.state === 'running' && s.startedAt ? (now - Date.parse(s.startedAt)) / 1000 : undefined;
    const took = s.seconds ?? running;
    const over = took !== undefined && s.estimateSeconds !== undefined && took > s.estimateSeconds ? ' **over**' : '';
    const tookText = took === undefined ? '' : `${formatSeconds(took)}${running !== undefined ? ' so far' : ''}${over}`;
    return `| ${i + 1} | ${s.name} | ${cell(actions[s.name] ?? '')} | ${MARK[s.state]} ${s.state} | ${s.startedAt ? `${s.startedAt.slice(11, 19)} UTC` : ''} | ${tookText} | ${s.estimateSeconds !== undefined ? formatSeconds(s.estimateSeconds) : ''} | ${cell(s.detail ?? '')} |`;
  });
  const table = ['| # | Step | Action | State | Started | Took | Estimate | Detail |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
  return [...(summary ? [summary] : []), table].join('\n\n');
}

function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

/** The line a failed step shows: the cause's message when there is one (an activity's own error). */
export function errorLine(error: unknown): string {
  return error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
}
