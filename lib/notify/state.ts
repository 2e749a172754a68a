/**
 * Alert state for conditions that are evaluated repeatedly (monitoring): which are firing, since
 * when, and when they were last sent. From it, pure `alertTransitions` decides what to send: a
 * trigger when a condition starts (or changes severity, or is still firing after `renotifyHours`),
 * a resolve when it clears. Repeats in between are deduplicated.
 *
 * One state file per backup host (`$BACKUP_ROOT/metrics/alert-state.json`), updated by the hourly
 * monitor and by every WAL shipping run (the `rpo-exposure` condition); `updateAlertState` serialises
 * those updates within the worker process so neither overwrites the other's.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../pipeline/atomic-file';
import type { Alert, Severity } from './alert';

export interface Evaluation {
  condition: string;
  severity: Severity;
  firing: boolean;
  summary: string;
  details?: Record<string, unknown>;
}

export interface AlertState {
  firing: Record<string, { severity: Severity; since: string; lastSent: string; summary: string }>;
}

export function alertTransitions(state: AlertState, evaluations: readonly Evaluation[], now: Date, renotifyHours = 24): { send: Alert[]; next: AlertState } {
  const next: AlertState = { firing: { ...state.firing } };
  const send: Alert[] = [];
  for (const e of evaluations) {
    const known = next.firing[e.condition];
    if (e.firing) {
      const stale = known && now.getTime() - Date.parse(known.lastSent) >= renotifyHours * 3600_000;
      if (!known || known.severity !== e.severity || stale) {
        send.push({ severity: e.severity, condition: e.condition, summary: e.summary, details: e.details });
        next.firing[e.condition] = { severity: e.severity, since: known?.since ?? now.toISOString(), lastSent: now.toISOString(), summary: e.summary };
      }
    } else if (known) {
      send.push({ severity: known.severity, condition: e.condition, summary: `resolved: ${e.summary}`, details: e.details, resolved: true });
      delete next.firing[e.condition];
    }
  }
  return { send, next };
}

export async function readAlertState(path: string): Promise<AlertState> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as AlertState;
    return parsed && typeof parsed.firing === 'object' ? parsed : { firing: {} };
  } catch {
    return { firing: {} };
  }
}

export function writeAlertState(path: string, state: AlertState): void {
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`);
}

/** The alert state file of a backup host. */
export function alertStatePath(backupRoot: string): string {
  return join(backupRoot, 'metrics', 'alert-state.json');
}

const updating = new Map<string, Promise<unknown>>();

/**
 * Read the state at `path`, apply `evaluations` (only their conditions change) and write it back,
 * one update at a time per file in this process. Returns the alerts to send.
 */
export async function updateAlertState(path: string, evaluations: readonly Evaluation[], now = new Date()): Promise<Alert[]> {
  const previous = updating.get(path) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(async () => {
    const { send, next } = alertTransitions(await readAlertState(path), evaluations, now);
    await mkdir(dirname(path), { recursive: true });
    writeAlertState(path, next);
    return send;
  });
  updating.set(path, run);
  try {
    return await run;
  } finally {
    if (updating.get(path) === run) updating.delete(path);
  }
}
