/**
 * The verification record written beside an artifact (`<key>.verification.json`): the latest run's
 * checks plus one state per copy (local, remote), each with its own result and time. A write merges
 * into the existing record, so a result for one copy never erases another copy's state: a verify-only
 * restore that used the remote copy leaves a FAILED local state in place.
 *
 * Compatibility: the top-level `ok` and `verifiedAt` keep their meaning for older readers (monitoring,
 * retention): `ok` is false while any copy's last known state is failed; `verifiedAt` is the newest
 * copy time. Records written before per-copy states existed still read: their copy states are derived
 * from their checks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VERIFICATION_SUFFIX, type CheckResult, type CopyName, type CopyState, type VerificationResult } from './artifact';

export type { CopyName, CopyState, VerificationResult } from './artifact';

export const COPY_NAMES: readonly CopyName[] = ['local', 'remote'];
const CHECKSUM_OF: Record<CopyName, CheckResult['name']> = { local: 'local-checksum', remote: 'remote-checksum' };

/**
 * Copy states implied by one run's checks. A copy is judged by its checksum check; every other check
 * (decoding, content, test restore) is about the bytes the metadata names, so it applies to every copy
 * whose checksum matched. A copy without a checksum check in this run gets no state.
 */
export function copiesFromChecks(checks: readonly CheckResult[], at: string, workflowId?: string): Partial<Record<CopyName, CopyState>> {
  const content = checks.filter((c) => c.name !== 'local-checksum' && c.name !== 'remote-checksum');
  const contentFailure = content.find((c) => !c.ok);
  const copies: Partial<Record<CopyName, CopyState>> = {};
  for (const copy of COPY_NAMES) {
    const checksum = checks.find((c) => c.name === CHECKSUM_OF[copy]);
    if (!checksum) continue;
    const state: CopyState = !checksum.ok
      ? { ok: false, at, detail: checksum.detail }
      : contentFailure
        ? { ok: false, at, detail: `${contentFailure.name}: ${contentFailure.detail}` }
        : { ok: true, at, detail: [checksum.detail, ...content.map((c) => c.name)].join('; ') };
    copies[copy] = workflowId ? { ...state, workflowId } : state;
  }
  return copies;
}

/** The copy states of a record, derived from its checks when it predates per-copy states. */
export function copiesOf(record: VerificationResult): Partial<Record<CopyName, CopyState>> {
  return record.copies ?? copiesFromChecks(record.checks ?? [], record.verifiedAt, record.workflowId);
}

/**
 * Merge a new result into the existing record. Copies the new result judged replace their states;
 * the others keep theirs. Overall: ok only when every known copy is ok (and, for a result that judged
 * no copy, when it passed itself).
 */
export function mergeVerification(existing: VerificationResult | undefined, incoming: VerificationResult): VerificationResult {
  const fresh = incoming.copies ?? copiesFromChecks(incoming.checks, incoming.verifiedAt, incoming.workflowId);
  const copies: Partial<Record<CopyName, CopyState>> = { ...(existing && existing.key === incoming.key ? copiesOf(existing) : {}), ...fresh };
  const states = COPY_NAMES.flatMap((c) => (copies[c] ? [copies[c]] : []));
  const judgedNoCopy = Object.keys(fresh).length === 0;
  const ok = states.every((s) => s.ok) && (!judgedNoCopy || incoming.checks.every((c) => c.ok));
  const verifiedAt = [incoming.verifiedAt, ...states.map((s) => s.at)].sort().pop()!;
  return { ...incoming, ok, verifiedAt, copies };
}

/** Where the record of `key` lives: beside the artifact (snapshots under MINIO_BACKUP_ROOT). */
export function verificationRecordPath(roots: { backupRoot: string; minioBackupRoot?: string }, key: string): string {
  const root = key.startsWith('snapshots/') && roots.minioBackupRoot ? roots.minioBackupRoot : roots.backupRoot;
  return join(root, `${key}${VERIFICATION_SUFFIX}`);
}

/** A record's text, copy states filled in; undefined when it does not parse as a record. */
export function parseVerificationRecord(text: string): VerificationResult | undefined {
  try {
    const record = JSON.parse(text) as VerificationResult;
    if (typeof record !== 'object' || record === null || typeof record.ok !== 'boolean') return undefined;
    return { ...record, checks: record.checks ?? [], copies: copiesOf({ ...record, checks: record.checks ?? [] }) };
  } catch {
    return undefined;
  }
}

/** The record at `path`, copy states filled in; undefined when there is none or it does not parse. */
export function readVerificationFile(path: string): VerificationResult | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return parseVerificationRecord(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The last verification recorded for a key, if any. */
export function readVerification(backupRoot: string, key: string, minioBackupRoot?: string): VerificationResult | undefined {
  return readVerificationFile(verificationRecordPath({ backupRoot, minioBackupRoot }, key));
}

/** `ok 3h ago` / `FAILED 2025-10-17 14:30` for one copy, `never` when it has no state. */
export function describeCopyState(state: CopyState | undefined, format: (at: string) => string): string {
  return state ? `${state.ok ? 'ok' : 'FAILED'} ${format(state.at)}` : 'never';
}
