/** Small formatting helpers for CLI tables. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value >= 100 || unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatAge(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

/** How long a backup took: its metadata's durationSeconds, else finished - started. */
export function backupDurationSeconds(m: { durationSeconds?: number; startedAt?: string; finishedAt?: string }): number | undefined {
  if (typeof m.durationSeconds === 'number') return m.durationSeconds;
  const took = (Date.parse(m.finishedAt ?? '') - Date.parse(m.startedAt ?? '')) / 1000;
  return Number.isFinite(took) && took >= 0 ? took : undefined;
}

/** A duration for tables: `42s`, `3m 05s`, `1h 02m`. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * `--json` output: one JSON document on stdout, two-space indented, newline-terminated. Each verb's
 * shape is documented in docs/cli.md; human progress and notes go to stderr meanwhile.
 */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** What `--json` prints for a verb that started a workflow: its ids, and its result once waited for. */
export interface StartedJson<R> {
  workflowId: string;
  runId: string | undefined;
  result?: R;
}

export function startedJson<R>(handle: { workflowId: string; firstExecutionRunId?: string }, result?: R): StartedJson<R> {
  return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, ...(result !== undefined ? { result } : {}) };
}
