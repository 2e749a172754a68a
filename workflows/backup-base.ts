/**
 * backupBase: a physical base backup (pg_basebackup), the starting point of point-in-time recovery.
 * Recorded with its start/stop LSN and timeline, copied off-site, then the WAL archive is shipped so
 * the remote copy can be rolled forward too.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { formatStamp } from '../lib/catalog/names';
import { invalidInput } from './failures';
import { LOCAL, QUICK, STREAMING, UPLOAD } from './options';
import { withRunLog, type RunLogState } from './run-log';
import { Progress, recordBackupKey } from './ui-labels';

export interface BackupBaseInput {
  /**
   * Another PostgreSQL server to back up (the DR runbook's new primary, re-protected after a
   * failover): an address only, reached with DB_USER / PGPASSWORD. Default the configured DB_HOST.
   */
  target?: { postgres?: { host: string; port: number } };
}

export interface BackupBaseResult {
  key: string;
  sha256: string;
  bytes: number;
  startLsn: string;
  stopLsn: string;
  timeline: number;
  uploaded: boolean;
  walShipped: number;
}

const planning = proxyActivities<Activities>(QUICK);

export async function backupBase(input: BackupBaseInput = {}): Promise<BackupBaseResult> {
  // What ran, how long, and the result, in the seed's logs/backup-<stamp>.log on the backup host.
  return withRunLog('backupBase', (log) => backupBaseSteps(input, log), (r) => [
    `base backup ${r.key}: ${r.bytes} bytes, LSN ${r.startLsn}..${r.stopLsn} timeline ${r.timeline}, sha256 ${r.sha256}`,
    r.uploaded ? `off-site: ${r.key}, ${r.walShipped} WAL file(s) shipped` : 'off-site: none (REMOTE_STORAGE is off)',
  ]);
}

async function backupBaseSteps(input: BackupBaseInput, log: RunLogState): Promise<BackupBaseResult> {
  const { workflowId, runId } = workflowInfo();
  const stamp = formatStamp(new Date());
  const pg = input?.target?.postgres;
  if (pg !== undefined && (typeof pg.host !== 'string' || !/^(?!-)[A-Za-z0-9.:-]{1,253}$/.test(pg.host) || !Number.isInteger(pg.port) || pg.port < 1 || pg.port > 65535)) {
    throw invalidInput('target.postgres: must be { host, port } (credentials come from the worker\'s DB_USER / PGPASSWORD)');
  }

  const progress = new Progress(`Base backup of ${pg ? `${pg.host}:${pg.port}` : 'the configured PostgreSQL'}`, ['plan', 'pg_basebackup', 'off-site']);

  // 1. Where BACKUP_ROOT lives and whether there is an off-site copy.
  progress.step('plan', 'which host holds BACKUP_ROOT, and whether there is an off-site store');
  const target = await planning.describeBackupTarget();
  log.hostQueue = target.backupHostTaskQueue;
  log.stamp = stamp;
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  const upload = proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue));

  // 2. pg_basebackup, streamed, compressed, encrypted; then its metadata record.
  progress.step('pg_basebackup', `streamed into \`base/${stamp}\` on \`${target.backupHostTaskQueue}\``);
  const base = await host.takeBaseBackup({ stamp, workflowId, runId, ...(pg ? { target: { host: pg.host, port: pg.port } } : {}) });
  await hostLocal.recordBackup({ record: base, workflowId, runId });
  recordBackupKey(base.key);
  progress.note(`base backup \`${base.key}\`: ${base.bytes} bytes, LSN ${base.startLsn ?? '?'}..${base.stopLsn ?? '?'}`);

  // 3. Off-site: the base backup, then every WAL file archived so far.
  let walShipped = 0;
  if (target.remote) {
    progress.step('off-site', `upload \`${base.key}\`, then ship the WAL archived so far`);
    await upload.uploadArtifact({ key: base.key });
    walShipped = (await upload.shipWal({})).shipped.length;
  }
  progress.finish(`\`${base.key}\`${target.remote ? `, copied off-site, ${walShipped} WAL file(s) shipped` : ''}`);
  return { key: base.key, sha256: base.sha256, bytes: base.bytes, startLsn: base.startLsn ?? '', stopLsn: base.stopLsn ?? '', timeline: base.timeline ?? 0, uploaded: target.remote, walShipped };
}
