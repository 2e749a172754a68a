/**
 * repairBackup: the seed's "Restore Failed: Checksum Mismatch" fix (re-download the backup from S3,
 * `sha256sum` it, compare with the metadata), both ways. Each copy's checksum against the metadata;
 * when exactly one is good, the bad one is replaced from it with the proven writes of a backup:
 * a bad local file by a download hashed while it streams (temp file, fsync, rename), a bad off-site
 * copy by the backups' multipart upload (every part checked, metadata object last). Both copies are
 * checked again and the result recorded as their verification state. Refuses (ChecksumMismatch,
 * CLI exit 6) when no copy is good; does nothing when both are.
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ChecksumMismatch } from '../lib/errors';
import type { CheckResult, CopyName, VerificationResult } from '../lib/verify/artifact';
import { describeCopies, planRepair, type BackupCopies } from '../lib/verify/repair';
import { invalidInput, permanentFailure } from './failures';
import { LOCAL, QUICK, STREAMING, UPLOAD } from './options';

export interface RepairBackupInput {
  /** Key, file name or path under BACKUP_ROOT. */
  backup: string;
}

export interface RepairBackupResult {
  key: string;
  /** `none`: both copies were good; `replaced`: `copy` was replaced from `from`. */
  action: 'none' | 'replaced';
  copy?: CopyName;
  from?: CopyName;
  sha256: string;
  bytes: number;
  /** Each copy's state before the repair and, after one, again. */
  before: Pick<BackupCopies, 'local' | 'remote'>;
  after?: Pick<BackupCopies, 'local' | 'remote'>;
  summary: string;
}

const planning = proxyActivities<Activities>(QUICK);

/** The copies' states as a verification result (checksum checks only), for the record beside the backup. */
function asVerification(copies: BackupCopies, workflowId: string): VerificationResult {
  const checks: CheckResult[] = [{ name: 'local-checksum', ...copies.local }];
  if (copies.remote) checks.push({ name: 'remote-checksum', ...copies.remote });
  return { key: copies.key, ok: checks.every((c) => c.ok), verifiedAt: new Date().toISOString(), checks, workflowId };
}

export async function repairBackup(input: RepairBackupInput): Promise<RepairBackupResult> {
  // 0. Refuse bad input before any side effect.
  if (!input || typeof input.backup !== 'string' || input.backup.trim() === '') throw invalidInput('backup: required (a key, file name or path under BACKUP_ROOT)');
  const { workflowId } = workflowInfo();
  const target = await planning.describeBackupTarget();
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  const upload = proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue));

  // 1. Which backup.
  setCurrentDetails(`**1 locate** \`${input.backup.trim()}\``);
  const { key } = await hostLocal.findBackup({ backup: input.backup });
  setCurrentDetails(`**2 check** each copy of \`${key}\` against its metadata`);

  // 2. Each copy's sha256 and size against the metadata; record what was found.
  const before = await host.checkBackupCopies({ key });
  await hostLocal.recordVerification({ result: asVerification(before, workflowId) });
  const plan = planRepair(before);
  const result = { key, sha256: before.sha256, bytes: before.bytes, before: { local: before.local, remote: before.remote } };

  // 3. No good copy: nothing to repair from. Both good: nothing to do.
  if (plan.action === 'refuse') throw permanentFailure(ChecksumMismatch, plan.reason);
  if (plan.action === 'none') return { ...result, action: 'none', summary: plan.reason };

  // 4. Replace the bad copy from the good one, written as a backup is.
  setCurrentDetails(`**3 replace** the ${plan.copy} copy of \`${key}\` from the ${plan.from} copy`);
  if (plan.copy === 'local') {
    await host.replaceLocalCopy({ key });
  } else {
    await hostLocal.removeRemoteCopy({ key });
    await upload.uploadArtifact({ key });
  }

  // 5. Both copies again; recorded as their verification state.
  setCurrentDetails(`**4 recheck** both copies of \`${key}\``);
  const after = await host.checkBackupCopies({ key });
  await hostLocal.recordVerification({ result: asVerification(after, workflowId) });
  setCurrentDetails(`**done**: ${key}: ${after.local.ok && after.remote?.ok ? `the ${plan.copy} copy replaced, both copies match` : 'still not repaired'}`);
  if (!after.local.ok || !after.remote?.ok) throw permanentFailure(ChecksumMismatch, `${key}: still not repaired after replacing the ${plan.copy} copy (${describeCopies(after)})`);
  return {
    ...result,
    action: 'replaced',
    copy: plan.copy,
    from: plan.from,
    after: { local: after.local, remote: after.remote },
    summary: `${key}: replaced the ${plan.copy} copy from the ${plan.from} copy (sha256 ${before.sha256.slice(0, 12)}..., ${before.bytes} bytes, checked against the metadata); it was bad: ${(plan.copy === 'local' ? before.local : before.remote!).detail}`,
  };
}
