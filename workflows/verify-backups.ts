/**
 * verifyBackups: the seed's `verify-backups.sh --latest | --all | --backup-file`, over every kind of
 * artifact. For each backup (database dump, globals, base backup): checksum of the local and the
 * remote copy against the metadata, decryption and decompression integrity, what the content must
 * be for its kind, and (with `restore`) a test restore of dumps into a temporary database. Then the
 * local WAL archive (size and page header of each segment, sha256 where recorded) and the MinIO
 * snapshots (their tar listing against the manifest). `latest` covers the newest of each kind. One
 * result per artifact with reasons; each is recorded beside it (per copy), each failure raised
 * through `notify`. A backup with one bad copy and one good one is repaired from the good one
 * (repairBackup, as a child) and the alert says what was repaired.
 */
import { ChildWorkflowFailure, executeChild, patched, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { invalidInput } from './failures';
import type { Activities } from '../activities';
import type { VerifyTarget } from '../activities/verify';
import type { RepairOutcome, VerificationResult } from '../lib/verify/artifact';
import { repairableCopy } from '../lib/verify/repair';
import { raiseAlert } from './alerting';
import { LOCAL, QUICK, STREAMING } from './options';
import { repairBackup } from './repair-backup';
import { restoreDatabase } from './restore-database';

export interface VerifyBackupsInput {
  scope: 'latest' | 'all' | 'one';
  /** With scope 'one': key, file name or path under BACKUP_ROOT. */
  backup?: string;
  /** Also test-restore database dumps into a temporary database. */
  restore?: boolean;
  /**
   * Repair a backup whose verification finds exactly one bad copy from the good one. Default: on for
   * `latest` and `all` (the schedule, `verify --latest|--all`), off for `one` (an operator inspecting
   * one backup, told to run `lifeboat repair`).
   */
  repair?: boolean;
}

export interface VerifyBackupsResult {
  verified: number;
  /** Failed and not repaired. */
  failed: number;
  /** Failed with one bad copy, repaired from the good one (absent when none). */
  repaired?: number;
  results: VerificationResult[];
}

const planning = proxyActivities<Activities>(QUICK);

export async function verifyBackups(input: VerifyBackupsInput): Promise<VerifyBackupsResult> {
  // 0. Refuse bad input before any side effect.
  if (!input || !['latest', 'all', 'one'].includes(input.scope)) {
    throw invalidInput(`scope: must be latest, all or one (got ${JSON.stringify(input?.scope)})`);
  }
  if (input.scope === 'one' && !input.backup) throw invalidInput('backup: required with scope "one"');
  const repair = input.repair ?? input.scope !== 'one';
  const backupTarget = await planning.describeBackupTarget();
  const host = proxyActivities<Activities>(STREAMING(backupTarget.backupHostTaskQueue));
  const hostLocal = proxyActivities<Activities>(LOCAL(backupTarget.backupHostTaskQueue));

  // 1. What to verify: one backup, or backups, the WAL archive and snapshots (histories from before
  //    every kind was covered list backup keys only).
  const targets: VerifyTarget[] =
    input.scope === 'one'
      ? [{ kind: 'backup', key: (await hostLocal.findBackup({ backup: input.backup! })).key }]
      : patched('verify-every-kind')
        ? await hostLocal.listVerifyTargets({ scope: input.scope })
        : (await hostLocal.listBackupKeys({ scope: input.scope })).map((key): VerifyTarget => ({ kind: 'backup', key }));

  const results: VerificationResult[] = [];
  const show = (head: string): void => setCurrentDetails(verifyDetails(input.scope, targets.length, head, results));
  for (const target of targets) {
    show(`**verify** ${results.length + 1} of ${targets.length}: \`${targetName(target)}\`${input.restore && target.kind === 'backup' ? ' (with a test restore of dumps)' : ''}`);
    // 2. Checksums of every copy, then decode the verified one and check what it holds.
    const result =
      target.kind === 'wal' ? await host.verifyWalArchive({ scope: target.scope }) : target.kind === 'snapshot' ? await host.verifyStoredSnapshot({ key: target.key }) : await host.verifyStoredBackup({ key: target.key });
    const key = result.key;
    result.workflowId = workflowInfo().workflowId;
    // 3. Optionally a test restore (database dumps only; base backups are tested by PITR).
    if (input.restore && target.kind === 'backup' && /^(daily|weekly|monthly)\//.test(key) && !/\/globals_/.test(key)) {
      try {
        const restored = await executeChild(restoreDatabase, { args: [{ backup: key, verifyOnly: true }], workflowId: `${workflowInfo().workflowId}-restore-${results.length}` });
        result.checks.push({ name: 'test-restore', ok: restored.check.ok, detail: restored.check.ok ? `${restored.check.tables} tables, ${restored.check.rows} rows match` : restored.check.problems.join('; ') });
      } catch (error) {
        result.checks.push({ name: 'test-restore', ok: false, detail: error instanceof Error ? error.message : String(error) });
      }
    }
    result.ok = result.checks.every((c) => c.ok);
    // 4. Record it (merged per copy) where the listings and monitoring read it.
    await hostLocal.recordVerification({ result });
    const reasons = result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    // 5. One copy bad, the other good: repair it from the good one and say what was repaired
    //    (runs from before repairs existed raise the failure alone).
    const badCopy = !result.ok && target.kind === 'backup' ? repairableCopy(result.checks) : undefined;
    if (badCopy && repair && patched('verify-repairs')) {
      result.repair = await repairCopy(key, results.length, backupTarget.backupHostTaskQueue, reasons);
    } else if (!result.ok) {
      const hint = badCopy ? `; the ${badCopy === 'local' ? 'remote' : 'local'} copy is good: \`lifeboat repair ${key}\` replaces the ${badCopy} one` : '';
      await raiseAlert(backupTarget.backupHostTaskQueue, { severity: 'critical', condition: `verify:${key}`, summary: `backup ${key} failed verification: ${reasons.join('; ')}${hint}`, details: { key, checks: result.checks } });
    }
    results.push(result);
  }
  const repaired = results.filter((r) => r.repair?.ok).length;
  show(`**done**: ${results.length} verified`);
  return { verified: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok && !r.repair?.ok).length, ...(repaired > 0 ? { repaired } : {}), results };
}

/**
 * Replace the bad copy of `key` from its good one (the repairBackup runbook as a child, which checks
 * the good copy's sha256 against the metadata first) and raise an alert saying what was repaired,
 * or, when the repair fails, the verification failure with the repair's reason.
 */
async function repairCopy(key: string, index: number, alertQueue: string, reasons: string[]): Promise<RepairOutcome> {
  try {
    const repaired = await executeChild(repairBackup, { args: [{ backup: key }], workflowId: `${workflowInfo().workflowId}-repair-${index}` });
    const outcome: RepairOutcome = { ok: true, copy: repaired.copy, from: repaired.from, detail: repaired.summary };
    await raiseAlert(alertQueue, { severity: 'warning', condition: `repair:${key}`, summary: `backup ${key} failed verification (${reasons.join('; ')}); repaired: ${repaired.summary}`, details: { key, ...outcome } });
    return outcome;
  } catch (error) {
    const detail = error instanceof ChildWorkflowFailure && error.cause ? error.cause.message : error instanceof Error ? error.message : String(error);
    await raiseAlert(alertQueue, { severity: 'critical', condition: `verify:${key}`, summary: `backup ${key} failed verification: ${reasons.join('; ')}; repair failed: ${detail}`, details: { key, repair: detail } });
    return { ok: false, detail };
  }
}

function targetName(target: VerifyTarget): string {
  return target.kind === 'wal' ? `the WAL archive (${target.scope})` : target.key;
}

/**
 * The UI's current details: what runs now, the tally, and the newest results (bad ones first), so a
 * long `--all` run says where it is. Not a command: changing it never changes a history.
 */
function verifyDetails(scope: string, total: number, head: string, results: readonly VerificationResult[]): string {
  const bad = results.filter((r) => !r.ok);
  const repaired = bad.filter((r) => r.repair?.ok).length;
  const tally = `${results.length} of ${total} done: ${results.length - bad.length} ok, ${bad.length - repaired} failed${repaired ? `, ${repaired} repaired` : ''}`;
  const line = (r: VerificationResult): string => `- ${r.ok ? 'ok' : r.repair?.ok ? 'repaired' : '**FAILED**'} \`${r.key}\`${r.ok ? '' : `: ${r.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}`}`;
  const recent = [...bad.slice(-5), ...results.filter((r) => r.ok).slice(-5)];
  return [`Verification (${scope})`, '', head, '', tally, ...(recent.length ? ['', ...recent.map(line)] : [])].join('\n');
}
