/**
 * restoreDatabase: the seed's `restore-database.sh` (full restore and `--verify-only`) as a runbook.
 *
 * The backup is always restored into a NEW database first and checked against its metadata. Only
 * then, and only when asked (`replaceProduction`) AND approved through the `approveReplace` Update
 * naming the production database, is the checked copy swapped in; production is kept under another
 * name, never dropped. `verifyOnly` restores into a temporary database, checks, drops it and records
 * the result. The stage is in the `progress` query, the steps in the `status` query and the UI's current
 * details; live bytes, percent and ETA of the fetch and the load are their activities' heartbeat details
 * (the CLI reads them from the pending activity), so progress adds no events to the history.
 * `source` picks the copy read (local, off-site, or local-then-off-site, the default) and
 * `target.postgres` another server to restore into (the DR runbook's new cluster): an address only,
 * the worker connects with its own DB_USER / PGPASSWORD. Neither changes what a run without them does.
 */
import {
  ActivityCancellationType, CancellationScope, condition, defineQuery, defineUpdate, isCancellation, log, patched, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import { checkSource, invalidInput, permanentFailure } from './failures';
import type { Activities } from '../activities';
import type { ComparisonResult } from '../lib/restore/compare';
import type { CopySource } from '../lib/restore/fetch';
import type { PostgresTarget, RestoreProgress } from '../lib/restore/load';
import type { CheckResult, VerificationResult } from '../lib/verify/artifact';
import type { RestoreGlobalsResult } from './restore-globals';
import { formatStamp } from '../lib/catalog/names';
import { BackupNotFound, ChecksumMismatch, OperationRefused } from '../lib/errors';
import { keptDatabaseName, stagedDatabaseName } from '../lib/restore/staged-name';
import { raiseAlert } from './alerting';
import { GLOBALS, LOCAL, QUICK, STREAMING } from './options';
import { errorLine, StepTracker } from './step-tracker';

export interface RestoreDatabaseInput {
  /** Key, file name or path under BACKUP_ROOT (`lifeboat restore --list`). */
  backup: string;
  /** New database to restore into; default `<db>_restored_<stamp>`. Never an existing database. */
  targetDatabase?: string;
  /** Restore into a temporary database, check, drop it and record the result. */
  verifyOnly?: boolean;
  /** After the check, wait for `approveReplace` and swap the copy in under the production name. */
  replaceProduction?: boolean;
  /**
   * Which copy to read: `local` (BACKUP_ROOT only), `remote` (the off-site S3_BUCKET only) or
   * `auto` (local first, then off-site; the default).
   */
  source?: CopySource;
  /**
   * Restore into another PostgreSQL server (e.g. a new cluster of the DR runbook) instead of the
   * configured DB_HOST/DB_PORT. An address only: the worker connects with its own DB_USER and
   * PGPASSWORD, so the target must accept that role and password. Not with replaceProduction.
   */
  target?: { postgres?: PostgresTarget };
  /**
   * Apply the globals backup of the same run (roles, memberships, tablespaces) to the target server
   * before the load, as the seed's runbook does by hand with psql: existing roles are skipped and
   * reported (restoreGlobals' rules). Not with verifyOnly, which leaves the server as it was.
   */
  withGlobals?: boolean;
}

export interface RestoreState extends Partial<RestoreProgress> {
  stage: 'locating' | 'checking' | 'loading' | 'comparing' | 'awaiting-approval' | 'replacing' | 'dropping' | 'done' | 'failed';
  backup?: string;
  database?: string;
}

export interface RestoreDatabaseResult {
  backup: string;
  database: string;
  source: 'local' | 'remote';
  /** The server restored into, when not the configured one. */
  target?: { postgres: PostgresTarget };
  check: ComparisonResult;
  restoreSeconds: number;
  verified: boolean;
  replaced?: { production: string; keptAs: string };
  /** With `withGlobals`: what the globals step created, skipped or could not apply. */
  globals?: RestoreGlobalsResult;
}

export const progressQuery = defineQuery<RestoreState>('progress');
/** `confirm` names production; `approvedBy` (optional) names the approver, recorded in the history beside the caller's identity. */
export const approveReplaceUpdate = defineUpdate<string, [{ confirm: string; approvedBy?: string }]>('approveReplace');

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const planning = proxyActivities<Activities>(QUICK);

function invalid(message: string): never {
  throw invalidInput(message);
}

/** What a replace (or verify-only) run has staged, so a failure or cancellation before the swap can drop it. */
interface Staging {
  database?: string;
  kind?: 'staged' | 'verify';
  hostQueue?: string;
  /** The server the staged database is on, when not the configured one. */
  target?: PostgresTarget;
  /** The swap was asked for: from here the staged name may already be production's, so keep hands off. */
  swapping?: boolean;
  /** The run is failing or cancelled: approvals are refused from now on. */
  closing?: boolean;
  /** The run's steps, so the failure path can mark the running one failed. */
  steps?: StepTracker;
}

export async function restoreDatabase(input: RestoreDatabaseInput): Promise<RestoreDatabaseResult> {
  const staging: Staging = {};
  try {
    return await restoreSteps(input, staging);
  } catch (error) {
    // A replace (or verify-only) run that failed or was cancelled before the swap drops the database
    // it restored into, even when cancelled (the cleanup is shielded from the cancellation);
    // production is untouched then.
    staging.closing = true;
    staging.steps?.failRunning(errorLine(error));
    // (patched: histories of runs that failed before this cleanup existed replay without it.)
    if (staging.database && staging.kind && staging.hostQueue && !staging.swapping && patched('drop-staged-on-failure')) await dropStaged(staging.hostQueue, staging.kind, staging.database, staging.target);
    throw error;
  }
}

async function dropStaged(hostQueue: string, kind: 'staged' | 'verify', database: string, target?: PostgresTarget): Promise<void> {
  const cleanup = proxyActivities<Activities>(LOCAL(hostQueue));
  try {
    await CancellationScope.nonCancellable(async () => {
      if (kind === 'staged') await cleanup.dropStagedDatabase({ database });
      else await cleanup.dropVerifyDatabase({ database, ...(target ? { target } : {}) });
    });
  } catch (cleanupError) {
    // Report, but keep the original failure as the run's outcome.
    log.warn('could not drop the staged restore database', { database, error: String(cleanupError) });
  }
}

async function restoreSteps(input: RestoreDatabaseInput, staging: Staging): Promise<RestoreDatabaseResult> {
  let state: RestoreState = { stage: 'locating' };
  // The UI's current details: the stage (as the `progress` query has it), then the steps.
  const steps = new StepTracker('restoreDatabase', restoreStepNames(input), {
    summary: () => {
      const pct = state.percent !== undefined ? ` ${state.percent}%` : '';
      const eta = state.etaSeconds !== undefined ? `, ETA ${state.etaSeconds} s` : '';
      return `**${state.stage}**${pct}${eta}${state.backup ? `\n\nbackup: \`${state.backup}\`` : ''}${state.database ? `\n\ninto database: \`${state.database}\`` : ''}`;
    },
  });
  staging.steps = steps;
  const show = (next: RestoreState): void => {
    state = next;
    steps.render();
  };
  setHandler(progressQuery, () => state);
  let approved: string | undefined;

  // 0. Refuse bad input before any side effect.
  if (!input || typeof input.backup !== 'string' || input.backup.trim() === '') invalid('backup: name a backup (see `lifeboat restore --list`)');
  if (input.targetDatabase !== undefined && !NAME.test(input.targetDatabase)) invalid(`targetDatabase: "${input.targetDatabase}" is not a plain database name (lower-case letters, digits, _)`);
  if (input.verifyOnly && input.replaceProduction) invalid('verifyOnly and replaceProduction exclude each other');
  if (input.withGlobals !== undefined && typeof input.withGlobals !== 'boolean') invalid(`withGlobals: must be true or false (got ${JSON.stringify(input.withGlobals)})`);
  if (input.withGlobals && input.verifyOnly) invalid('withGlobals: a verify-only restore leaves the server as it was; drop withGlobals (or verifyOnly)');
  const source = checkSource(input.source);
  const pgTarget = checkPostgresTarget(input.target);
  if (pgTarget && input.replaceProduction) invalid('target: replaceProduction only replaces the configured production database; drop target.postgres or replaceProduction');
  // Only set when asked for, so activity inputs of runs without them are as they were.
  const sourceArg = source ? { source } : {};
  const targetArg = pgTarget ? { target: pgTarget } : {};
  steps.start('locate', input.backup);
  const target = await planning.describeBackupTarget();
  const production = target.database;
  if (!pgTarget && input.targetDatabase === production && !input.replaceProduction) {
    invalid(`targetDatabase: "${production}" is the production database; restoring over it needs replaceProduction and an approval`);
  }
  // A cancelled load finishes (dropping its half-loaded database) before the cleanup below runs.
  const host = proxyActivities<Activities>({ ...STREAMING(target.backupHostTaskQueue), cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED });
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  const stamp = formatStamp(new Date());

  // 1. Which backup; only database dumps restore this way.
  const found = await hostLocal.findBackup({ backup: input.backup });
  if (found.kind !== 'logical') invalid(`backup: ${found.key} is a ${found.kind} backup; use point-in-time recovery for base backups`);
  if (source === 'local' && !found.local) throw permanentFailure(BackupNotFound, `source: ${found.key} has no local copy in BACKUP_ROOT; use source remote or auto for the off-site copy`);
  if (source === 'remote' && !found.remote) throw permanentFailure(BackupNotFound, `source: ${found.key} has no off-site copy (or REMOTE_STORAGE is off); use source local or auto`);
  if (input.withGlobals && !found.globalsKey) throw permanentFailure(BackupNotFound, `withGlobals: ${found.key} names no globals backup in its metadata; restore roles with restoreGlobals and a globals_<stamp> backup, or drop withGlobals`);
  // Generated names carry the stamp and a piece of the run id, so concurrent runs never collide.
  const suffix = `${stamp.replace('-', '_')}_${workflowInfo().runId.replace(/-/g, '').slice(-6)}`;
  const database = input.verifyOnly
    ? `lifeboat_verify_${suffix}`
    : input.replaceProduction
      ? stagedDatabaseName(production, suffix)
      : (input.targetDatabase ?? `${(found.database ?? production).slice(0, 32)}_restored_${suffix}`);
  steps.done('locate', found.key);
  show({ stage: 'checking', backup: found.key, database });
  if (input.replaceProduction || input.verifyOnly) Object.assign(staging, { database, kind: input.replaceProduction ? 'staged' : 'verify', hostQueue: target.backupHostTaskQueue, ...targetArg });

  // 2. A local copy whose sha256 matches the metadata (downloaded from S3 when needed).
  let copy: FetchedCopy;
  try {
    steps.start('fetch');
    copy = await host.fetchBackup({ key: found.key, ...sourceArg });
    steps.done('fetch', `${copy.source} copy, sha256 matches`);
  } catch (error) {
    // No copy could be used: each copy there is failed (a verify-only run records that too).
    const failed = (name: CheckResult['name']): CheckResult => ({ name, ok: false, detail: failureDetail(error) });
    if (input.verifyOnly) await recordFailure(hostLocal, target.backupHostTaskQueue, found.key, error, [...(found.local ? [failed('local-checksum')] : []), ...(found.remote ? [failed('remote-checksum')] : [])]);
    throw error;
  }

  // 2b. With globals: roles and tablespaces first, as the seed's runbook orders it (the dump's
  // owners and grants name them). Same activity and rules as restoreGlobals.
  let globals: RestoreGlobalsResult | undefined;
  if (input.withGlobals && found.globalsKey) {
    steps.start('globals', found.globalsKey);
    const globalsHost = proxyActivities<Activities>(GLOBALS(target.backupHostTaskQueue));
    const applied = await globalsHost.applyGlobalsBackup({ backup: found.globalsKey, ...sourceArg, ...targetArg });
    globals = applied;
    const count = (state: string): number => applied.roles.filter((r) => r.state === state).length;
    steps.done('globals', `roles: ${count('created')} created, ${count('skipped')} skipped, ${count('failed')} failed`);
  }

  // 3. Decrypt, decompress, load into the new database (one transaction).
  steps.start('load', `into ${database}`);
  show({ ...state, stage: 'loading', percent: 0 });
  let restored;
  try {
    restored = await host.restoreBackup({ key: found.key, path: copy.path, database, ...targetArg });
  } catch (error) {
    if (input.verifyOnly) await recordFailure(hostLocal, target.backupHostTaskQueue, found.key, error, copyChecks(copy));
    throw error;
  }

  // 4. Compare with the metadata: tables, row counts, row fingerprints.
  steps.done('load');
  show({ ...state, ...loadedProgress(restored), stage: 'comparing' });
  steps.start('compare');
  let check: ComparisonResult;
  try {
    check = await hostLocal.checkRestoredDatabase({ key: found.key, database, tables: restored.tables, ...targetArg });
  } catch (error) {
    if (input.verifyOnly) await recordFailure(hostLocal, target.backupHostTaskQueue, found.key, error, copyChecks(copy));
    throw error;
  }
  if (check.ok) steps.done('compare', `${check.tables} tables, ${check.rows} rows match the metadata`);
  else steps.fail('compare', check.problems.join('; '));
  const result: RestoreDatabaseResult = {
    backup: found.key, database, source: copy.source, ...(pgTarget ? { target: { postgres: pgTarget } } : {}), check, restoreSeconds: restored.seconds, verified: check.ok, ...(globals ? { globals } : {}),
  };

  if (input.verifyOnly) {
    // 5a. Verify-only: drop the temporary database, record and report the result.
    steps.start('drop', database);
    show({ ...state, stage: 'dropping' });
    await hostLocal.dropVerifyDatabase({ database, ...targetArg });
    steps.done('drop');
    steps.start('record');
    const verification: VerificationResult = {
      key: found.key,
      ok: check.ok,
      verifiedAt: new Date().toISOString(),
      workflowId: workflowInfo().workflowId,
      // Only the copies this run judged: a restore from the remote copy leaves the local copy's state alone
      // (unless it found the local copy damaged), and the record keeps each copy's own state.
      checks: [
        ...copyChecks(copy),
        { name: 'test-restore', ok: check.ok, detail: check.ok ? `${check.tables} tables, ${check.rows} rows match the metadata (restored in ${restored.seconds.toFixed(1)} s)` : check.problems.join('; ') },
      ],
    };
    await hostLocal.recordVerification({ result: verification });
    if (!check.ok) {
      await raiseAlert(target.backupHostTaskQueue, { severity: 'critical', condition: `verify:${found.key}`, summary: `test restore of ${found.key} does not match its metadata: ${check.problems.slice(0, 3).join('; ')}` });
    }
    steps.done('record');
    show({ ...state, stage: check.ok ? 'done' : 'failed' });
    steps.finish();
    return result;
  }

  if (!check.ok) {
    show({ ...state, stage: 'failed' });
    throw permanentFailure(ChecksumMismatch, `restored database ${database} does not match the backup's metadata: ${check.problems.join('; ')}`);
  }

  if (input.replaceProduction) {
    // 5b. Replace production only after an explicit approval naming it.
    setHandler(
      approveReplaceUpdate,
      (approval) => {
        approved = approval.confirm;
        return `approved: ${database} will replace ${production}`;
      },
      {
        validator: (approval) => {
          if (staging.closing) throw new Error('the restore failed or was cancelled; nothing will be replaced');
          if (state.stage !== 'awaiting-approval') throw new Error(`not waiting for approval (stage: ${state.stage})`);
          if (!approval || approval.confirm !== production) throw new Error(`confirm must be the production database name "${production}"`);
        },
      },
    );
    steps.start('approval', `an approveReplace Update naming ${production}`);
    show({ ...state, stage: 'awaiting-approval' });
    if (!(await condition(() => approved !== undefined, '24 hours'))) {
      show({ ...state, stage: 'failed' });
      throw permanentFailure(OperationRefused, `no approval within 24 h; ${production} is unchanged, the restored copy ${database} is dropped`);
    }
    steps.done('approval');
    steps.start('replace', `${database} becomes ${production}`);
    show({ ...state, stage: 'replacing' });
    staging.swapping = true;
    result.replaced = await hostLocal.replaceDatabase({ restored: database, keepAs: keptDatabaseName(production, suffix) });
    steps.done('replace', `the previous ${production} is kept as ${result.replaced.keptAs}`);
  }
  show({ ...state, stage: 'done' });
  steps.finish();
  return result;
}

/** `target.postgres`, checked: a host name or address and a TCP port, nothing else (no credentials). */
function checkPostgresTarget(target: unknown): PostgresTarget | undefined {
  if (target === undefined) return undefined;
  if (typeof target !== 'object' || target === null || Array.isArray(target)) invalid('target: must be an object like { postgres: { host, port } }');
  const extra = Object.keys(target).filter((k) => k !== 'postgres');
  if (extra.length > 0) invalid(`target: unknown field ${extra.map((k) => `target.${k}`).join(', ')}; restoreDatabase takes target.postgres only`);
  const pg = (target as { postgres?: unknown }).postgres;
  if (pg === undefined) return undefined;
  if (typeof pg !== 'object' || pg === null || Array.isArray(pg)) invalid('target.postgres: must be { host, port }');
  const { host, port, ...rest } = pg as Record<string, unknown>;
  const unknownFields = Object.keys(rest);
  if (unknownFields.length > 0) invalid(`target.postgres: unknown field ${unknownFields.map((k) => `target.postgres.${k}`).join(', ')} (only host and port; credentials come from the worker's DB_USER / PGPASSWORD)`);
  if (typeof host !== 'string' || !/^(?!-)[A-Za-z0-9.:-]{1,253}$/.test(host)) invalid(`target.postgres.host: ${JSON.stringify(host)} is not a host name or IP address`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) invalid(`target.postgres.port: ${JSON.stringify(port)} is not a TCP port (1-65535)`);
  return { host, port };
}

/** The steps a run takes, by its input (an input too broken for any step still gets the first ones). */
function restoreStepNames(input: RestoreDatabaseInput | undefined): string[] {
  const names = input?.withGlobals ? ['locate', 'fetch', 'globals', 'load', 'compare'] : ['locate', 'fetch', 'load', 'compare'];
  if (input?.verifyOnly) names.push('drop', 'record');
  else if (input?.replaceProduction) names.push('approval', 'replace');
  return names;
}

/**
 * The `progress` fields once the load finished, as its last heartbeat had them: all bytes done, the
 * mean rate (measured after half a second, as the load's own progress does) and nothing left.
 */
function loadedProgress(restored: { bytes: number; seconds: number }): Partial<RestoreProgress> {
  const rate = restored.seconds > 0.5 ? restored.bytes / restored.seconds : undefined;
  return {
    bytesDone: restored.bytes,
    bytesTotal: restored.bytes,
    percent: 100,
    ...(rate ? { bytesPerSecond: Math.round(rate), etaSeconds: 0 } : {}),
  };
}

type FetchedCopy = Awaited<ReturnType<Activities['fetchBackup']>>;

/** The checksum checks a fetched copy stands for: the copy used, and a damaged local copy passed over. */
function copyChecks(copy: FetchedCopy): CheckResult[] {
  if (copy.source === 'local') return [{ name: 'local-checksum', ok: true, detail: 'sha256 matches' }];
  return [
    ...(copy.localProblem ? [{ name: 'local-checksum' as const, ok: false, detail: copy.localProblem }] : []),
    { name: 'remote-checksum', ok: true, detail: 'sha256 matches (downloaded for the test restore)' },
  ];
}

function failureDetail(error: unknown): string {
  return error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}` : String(error);
}

/** Record a failed verify-only run against the copies it used (not when the run was cancelled). */
async function recordFailure(hostLocal: ReturnType<typeof proxyActivities<Activities>>, hostQueue: string, key: string, error: unknown, copies: CheckResult[]): Promise<void> {
  if (isCancellation(error)) return;
  const detail = failureDetail(error);
  const checks: CheckResult[] = copies.some((c) => !c.ok) ? copies : [...copies, { name: 'test-restore', ok: false, detail }];
  await hostLocal.recordVerification({ result: { key, ok: false, verifiedAt: new Date().toISOString(), workflowId: workflowInfo().workflowId, checks } });
  await raiseAlert(hostQueue, { severity: 'critical', condition: `verify:${key}`, summary: `test restore of ${key} failed: ${detail}` });
}
