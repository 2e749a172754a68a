/**
 * Alert state for conditions that are evaluated repeatedly (monitoring): which are firing, since
 * when, and when they were last sent. From it, pure `alertTransitions` decides what to send: a
 * trigger when a condition starts (or changes severity, or is still firing after `renotifyHours`),
 * a resolve when it clears. Repeats in between are deduplicated.
 */
import { readFile } from 'node:fs/promises';
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
