/**
 * backupDatabase: the seed's `postgres-backup.sh daily|weekly|monthly`, as a runbook.
 * Input is one object ({ tier }) so on-call can start it from the Temporal UI; the database and
 * every credential come from the worker's configuration.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import { invalidInput, withFreshStamp } from './failures';
import type { Activities } from '../activities';
import { isTier, type Tier } from '../lib/catalog/names';
import { LOCAL, QUICK, STREAMING, UPLOAD } from './options';
import { withRunLog, type RunLogState } from './run-log';
import { Progress, recordBackupKey } from './ui-labels';

export interface BackupDatabaseInput {
  tier: Tier;
  /** pg_dump format; default DUMP_FORMAT from the worker's configuration. */
  format?: 'plain' | 'custom';
}

export interface BackupDatabaseResult {
  key: string;
  sha256: string;
  bytes: number;
  tables: number;
  rows: number;
  globalsKey: string;
  remote: { key: string; resumedParts: number }[];
}

const planning = proxyActivities<Activities>(QUICK);

export async function backupDatabase(input: BackupDatabaseInput): Promise<BackupDatabaseResult> {
  // What ran, how long, and the result, in the seed's logs/backup-<stamp>.log on the backup host.
  return withRunLog(`backupDatabase ${input?.tier}`, (log) => backupDatabaseSteps(input, log), (r) => [
    `globals ${r.globalsKey}`,
    `dump ${r.key}: ${r.bytes} bytes, ${r.tables} tables / ${r.rows} rows, sha256 ${r.sha256}`,
    r.remote.length > 0 ? `off-site: ${r.remote.map((x) => x.key).join(', ')}` : 'off-site: none (REMOTE_STORAGE is off)',
  ]);
}

async function backupDatabaseSteps(input: BackupDatabaseInput, log: RunLogState): Promise<BackupDatabaseResult> {
  // 0. Refuse bad input before any side effect.
  if (!input || !isTier(input.tier)) {
    throw invalidInput(`tier: must be daily, weekly or monthly (got ${JSON.stringify(input?.tier)})`);
  }
  if (input.format !== undefined && input.format !== 'plain' && input.format !== 'custom') {
    throw invalidInput(`format: must be plain or custom (got ${JSON.stringify(input.format)})`);
  }
  const { workflowId, runId } = workflowInfo();
  const progress = new Progress(`PostgreSQL ${input.tier} backup`, ['plan', 'globals', 'dump', 'off-site']);

  // 1. What to back up, and which host owns BACKUP_ROOT (from the worker's config; no secrets).
  progress.step('plan', 'what to back up, and which host holds BACKUP_ROOT');
  const target = await planning.describeBackupTarget();
  log.hostQueue = target.backupHostTaskQueue;
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  const upload = proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue));

  // 2. Roles and tablespaces (pg_dumpall --globals-only), recorded. Its name takes this second's
  //    stamp, or the next free one when another run holds it.
  progress.step('globals', `roles and tablespaces (\`pg_dumpall --globals-only\`) on \`${target.backupHostTaskQueue}\``);
  const { stamp, result: globals } = await withFreshStamp((stamp) => host.dumpGlobals({ stamp, workflowId, runId, tier: input.tier }));
  log.stamp = stamp;
  const run = { stamp, workflowId, runId, tier: input.tier };
  await hostLocal.recordBackup({ record: globals, workflowId, runId });
  progress.note(`globals \`${globals.key}\``);

  // 3. The database, on one snapshot with exact row counts; recorded last: now it is a backup.
  progress.step('dump', `database \`${target.database}\` (\`pg_dump\` ${input.format ?? target.dumpFormat}, ${target.compression}${target.encrypted ? ', encrypted' : ''})`);
  const dump = await host.dumpDatabase({ ...run, format: input.format, globalsKey: globals.key });
  await hostLocal.recordBackup({ record: dump, workflowId, runId });
  recordBackupKey(dump.key);
  progress.note(`dump \`${dump.key}\`: ${dump.bytes} bytes, sha256 ${dump.sha256.slice(0, 12)}...`);

  // 4. Off-site copies: each artifact verified, its metadata object last.
  const remote: BackupDatabaseResult['remote'] = [];
  if (target.remote) {
    for (const key of [globals.key, dump.key]) {
      progress.step('off-site', `upload \`${key}\``);
      const uploaded = await upload.uploadArtifact({ key });
      remote.push({ key, resumedParts: uploaded.resumedParts });
      progress.note(`off-site \`${key}\``);
    }
  }
  const tables = dump.tables ?? [];
  progress.finish(`\`${dump.key}\`, ${tables.length} tables${target.remote ? ', copied off-site' : ''}`);
  return { key: dump.key, sha256: dump.sha256, bytes: dump.bytes, tables: tables.length, rows: tables.reduce((n, t) => n + t.rows, 0), globalsKey: globals.key, remote };
}
