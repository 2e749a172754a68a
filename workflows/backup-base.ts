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
  const { workflowId, runId } = workflowInfo();
  const stamp = formatStamp(new Date());
  const pg = input?.target?.postgres;
  if (pg !== undefined && (typeof pg.host !== 'string' || !/^(?!-)[A-Za-z0-9.:-]{1,253}$/.test(pg.host) || !Number.isInteger(pg.port) || pg.port < 1 || pg.port > 65535)) {
    throw invalidInput('target.postgres: must be { host, port } (credentials come from the worker\'s DB_USER / PGPASSWORD)');
  }

  // 1. Where BACKUP_ROOT lives and whether there is an off-site copy.
  const target = await planning.describeBackupTarget();
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  const upload = proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue));

  // 2. pg_basebackup, streamed, compressed, encrypted; then its metadata record.
  const base = await host.takeBaseBackup({ stamp, workflowId, runId, ...(pg ? { target: { host: pg.host, port: pg.port } } : {}) });
  await hostLocal.recordBackup({ record: base, workflowId, runId });

  // 3. Off-site: the base backup, then every WAL file archived so far.
  let walShipped = 0;
  if (target.remote) {
    await upload.uploadArtifact({ key: base.key });
    walShipped = (await upload.shipWal({})).shipped.length;
  }
  return { key: base.key, sha256: base.sha256, bytes: base.bytes, startLsn: base.startLsn ?? '', stopLsn: base.stopLsn ?? '', timeline: base.timeline ?? 0, uploaded: target.remote, walShipped };
}
