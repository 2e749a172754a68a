/**
 * verifyBackups: the seed's `verify-backups.sh --latest | --all | --backup-file`. For each backup:
 * checksum of the local and the remote copy against the metadata, decryption and decompression
 * integrity, and (with `restore`) a test restore into a temporary database. One result per backup
 * with reasons; each is recorded beside the backup, and each failure raised through `notify`.
 */
import { ApplicationFailure, executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { VerificationResult } from '../lib/verify/artifact';
import { raiseAlert } from './alerting';
import { LOCAL, QUICK, STREAMING } from './options';
import { restoreDatabase } from './restore-database';

export interface VerifyBackupsInput {
  scope: 'latest' | 'all' | 'one';
  /** With scope 'one': key, file name or path under BACKUP_ROOT. */
  backup?: string;
  /** Also test-restore database dumps into a temporary database. */
  restore?: boolean;
}

export interface VerifyBackupsResult {
  verified: number;
  failed: number;
  results: VerificationResult[];
}

const planning = proxyActivities<Activities>(QUICK);

export async function verifyBackups(input: VerifyBackupsInput): Promise<VerifyBackupsResult> {
  // 0. Refuse bad input before any side effect.
  if (!input || !['latest', 'all', 'one'].includes(input.scope)) {
    throw ApplicationFailure.nonRetryable(`scope: must be latest, all or one (got ${JSON.stringify(input?.scope)})`, 'InputInvalid');
  }
  if (input.scope === 'one' && !input.backup) throw ApplicationFailure.nonRetryable('backup: required with scope "one"', 'InputInvalid');
  const target = await planning.describeBackupTarget();
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));

  // 1. Which backups.
  const keys = input.scope === 'one' ? [(await hostLocal.findBackup({ backup: input.backup! })).key] : await hostLocal.listBackupKeys({ scope: input.scope });

  const results: VerificationResult[] = [];
  for (const key of keys) {
    // 2. Checksums of every copy, then decrypt + decompress the verified one.
    const result = await host.verifyStoredBackup({ key });
    result.workflowId = workflowInfo().workflowId;
    // 3. Optionally a test restore (database dumps only; base backups are tested by PITR).
    if (input.restore && /^(daily|weekly|monthly)\//.test(key) && !/\/globals_/.test(key)) {
      try {
        const restored = await executeChild(restoreDatabase, { args: [{ backup: key, verifyOnly: true }], workflowId: `${workflowInfo().workflowId}-restore-${results.length}` });
        result.checks.push({ name: 'test-restore', ok: restored.check.ok, detail: restored.check.ok ? `${restored.check.tables} tables, ${restored.check.rows} rows match` : restored.check.problems.join('; ') });
      } catch (error) {
        result.checks.push({ name: 'test-restore', ok: false, detail: error instanceof Error ? error.message : String(error) });
      }
    }
    result.ok = result.checks.every((c) => c.ok);
    // 4. Record it where `backups list` and monitoring read it; raise failures.
    await hostLocal.recordVerification({ result });
    if (!result.ok) {
      const reasons = result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      await raiseAlert(target.backupHostTaskQueue, { severity: 'critical', condition: `verify:${key}`, summary: `backup ${key} failed verification: ${reasons.join('; ')}`, details: { key, checks: result.checks } });
    }
    results.push(result);
  }
  return { verified: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length, results };
}
