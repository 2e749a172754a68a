/**
 * backupBase: a physical base backup (pg_basebackup), the starting point of point-in-time recovery.
 * Recorded with its start/stop LSN and timeline, copied off-site, then the WAL archive is shipped so
 * the remote copy can be rolled forward too.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { formatStamp } from '../lib/catalog/names';
import { LOCAL, QUICK, STREAMING, UPLOAD } from './options';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface BackupBaseInput {}

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

export async function backupBase(_input: BackupBaseInput = {}): Promise<BackupBaseResult> {
  const { workflowId, runId } = workflowInfo();
  const stamp = formatStamp(new Date());

  // 1. Where BACKUP_ROOT lives and whether there is an off-site copy.
  const target = await planning.describeBackupTarget();
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  const upload = proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue));

  // 2. pg_basebackup, streamed, compressed, encrypted; then its metadata record.
  const base = await host.takeBaseBackup({ stamp, workflowId, runId });
  await hostLocal.recordBackup({ record: base, workflowId, runId });

  // 3. Off-site: the base backup, then every WAL file archived so far.
  let walShipped = 0;
  if (target.remote) {
    await upload.uploadArtifact({ key: base.key });
    walShipped = (await upload.shipWal({})).shipped.length;
  }
  return { key: base.key, sha256: base.sha256, bytes: base.bytes, startLsn: base.startLsn ?? '', stopLsn: base.stopLsn ?? '', timeline: base.timeline ?? 0, uploaded: target.remote, walShipped };
}
