/**
 * backupBuckets: the seed's `minio-backup.sh backup`, as a runbook. Each bucket of BUCKETS_TO_BACKUP
 * (or the buckets given) is streamed into `<bucket>_<YYYYMMDD-HHMMSS>.tar.gz[.gpg]` under
 * MINIO_BACKUP_ROOT/snapshots, recorded with its manifest, then copied off-site under
 * `minio-snapshots/`. Input is one object so on-call can start it from the Temporal UI.
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { invalidInput } from './failures';
import type { Activities } from '../activities';
import type { SnapshotSummary } from '../activities/minio';
import { formatStamp } from '../lib/catalog/names';
import { bucketNameProblem } from '../lib/minio/names';
import { QUICK, STREAMING, UPLOAD } from './options';

export interface BackupBucketsInput {
  /** Buckets to snapshot; default BUCKETS_TO_BACKUP from the worker's configuration. */
  buckets?: string[];
}

export interface BackupBucketsResult {
  stamp: string;
  snapshots: (SnapshotSummary & { remote?: { key: string; resumedParts: number } })[];
}

const planning = proxyActivities<Activities>(QUICK);

/** Refuse malformed bucket lists before any side effect (shared by the MinIO runbooks). */
export function checkBucketList(field: string, buckets: unknown): string[] | undefined {
  if (buckets === undefined) return undefined;
  if (!Array.isArray(buckets)) throw invalidInput(`${field}: must be a list of bucket names`);
  buckets.forEach((b, i) => {
    const problem = bucketNameProblem(b);
    if (problem) throw invalidInput(`${field}[${i}]: ${problem}: not a valid bucket name`);
  });
  return buckets as string[];
}

export async function backupBuckets(input: BackupBucketsInput = {}): Promise<BackupBucketsResult> {
  // 0. Refuse bad input before any side effect.
  const buckets = checkBucketList('buckets', input?.buckets);
  const { workflowId, runId } = workflowInfo();
  const stamp = formatStamp(new Date());

  // 1. Which buckets (each must exist on the source) and which host owns MINIO_BACKUP_ROOT.
  const target = await planning.describeMinioTarget({ buckets });
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));
  const upload = proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue));

  const snapshots: BackupBucketsResult['snapshots'] = [];
  for (const bucket of target.buckets) {
    // 2. The bucket streamed into its archive, object by object; the metadata record goes last.
    setCurrentDetails(`**snapshot** \`${bucket}\` (${snapshots.length + 1} of ${target.buckets.length})`);
    const snapshot = await host.snapshotBucket({ bucket, stamp, workflowId, runId });

    // 3. The off-site copy, verified, its metadata object last.
    let remote: { key: string; resumedParts: number } | undefined;
    if (target.remote) {
      setCurrentDetails(`**upload** \`${snapshot.file}\` (${snapshots.length + 1} of ${target.buckets.length})`);
      const uploaded = await upload.uploadSnapshot({ file: snapshot.file });
      remote = { key: uploaded.key, resumedParts: uploaded.resumedParts };
    }
    snapshots.push({ ...snapshot, ...(remote ? { remote } : {}) });
  }
  setCurrentDetails(`**done**: ${snapshots.length} snapshot(s) of ${stamp}`);
  return { stamp, snapshots };
}
