/**
 * Repairing a backup from its good copy, planned in pure code: which copy to replace, judged by each
 * copy's checksum (sha256 and size) against the metadata. The activities in activities/repair.ts
 * carry the plan out; workflows/repair-backup.ts and the scheduled verification ask this module.
 *
 * A copy is good only when its bytes match the metadata; a missing copy (no file, no object, or an
 * off-site object without its metadata object) is bad. With no off-site store configured there is
 * only the local copy, and nothing to repair it from.
 */
import type { CheckResult, CopyName } from './artifact';

/** One copy's state from a checksum pass. */
export interface CopyCheck {
  ok: boolean;
  /** What was found: `N bytes, sha256 matches`, the mismatch, or why the copy is missing. */
  detail: string;
}

/** Both copies of one backup (`remote` absent when REMOTE_STORAGE is off). */
export interface BackupCopies {
  key: string;
  sha256: string;
  bytes: number;
  local: CopyCheck;
  remote?: CopyCheck;
}

export type RepairPlan =
  | { action: 'none'; reason: string }
  | { action: 'refuse'; reason: string }
  | { action: 'replace'; copy: CopyName; from: CopyName; reason: string };

const other = (copy: CopyName): CopyName => (copy === 'local' ? 'remote' : 'local');

/** `local: <state>; remote: <state>`, as a refusal names them. */
export function describeCopies(copies: Pick<BackupCopies, 'local' | 'remote'>): string {
  const state = (c: CopyCheck | undefined, none: string): string => (c ? `${c.ok ? 'ok' : 'BAD'} (${c.detail})` : none);
  return `local: ${state(copies.local, 'unknown')}; remote: ${state(copies.remote, 'none (REMOTE_STORAGE is off)')}`;
}

/** What a repair of `copies` does: nothing (both good), refuse (no good copy), or replace the bad copy from the good one. */
export function planRepair(copies: BackupCopies): RepairPlan {
  const { key, local, remote } = copies;
  if (!remote) {
    return local.ok
      ? { action: 'none', reason: `${key}: the local copy matches its metadata and there is no off-site copy to repair (REMOTE_STORAGE is off)` }
      : { action: 'refuse', reason: `cannot repair ${key}: no good copy to repair from (${describeCopies(copies)})` };
  }
  if (local.ok && remote.ok) return { action: 'none', reason: `${key}: both copies match the metadata (sha256 and size); nothing to repair` };
  if (!local.ok && !remote.ok) return { action: 'refuse', reason: `cannot repair ${key}: no good copy to repair from (${describeCopies(copies)})` };
  const copy: CopyName = local.ok ? 'remote' : 'local';
  return { action: 'replace', copy, from: other(copy), reason: `${key}: the ${copy} copy is bad (${(local.ok ? remote : local).detail}); the ${other(copy)} copy matches the metadata` };
}

/**
 * The copy a verification run's checks say a repair would replace: exactly one checksum check
 * failed, the other copy's passed, and nothing else failed (a failed decode, content check or test
 * restore is about the bytes both copies share, which no copy can fix). Undefined otherwise.
 */
export function repairableCopy(checks: readonly CheckResult[]): CopyName | undefined {
  const local = checks.find((c) => c.name === 'local-checksum');
  const remote = checks.find((c) => c.name === 'remote-checksum');
  if (!local || !remote || local.ok === remote.ok) return undefined;
  if (checks.some((c) => c !== local && c !== remote && !c.ok)) return undefined;
  return local.ok ? 'remote' : 'local';
}
