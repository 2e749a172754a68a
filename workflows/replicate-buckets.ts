/**
 * replicateBuckets: continuous replication source -> backup, the seed's `minio-backup.sh replicate`.
 * MinIO's server-side bucket replication needs a remote target ARN from the admin API, which the
 * SDKs cannot configure, so replication is this short incremental mirror, started every
 * REPLICATION_INTERVAL_SECONDS by the `lifeboat-minio-replicate` Schedule (overlap: skip). Each run
 * reports the replication lag: how many source changes the backup did not have yet and the age of
 * the oldest and newest of them.
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { invalidInput } from './failures';
import type { Activities } from '../activities';
import type { LagFacts } from '../lib/minio/plan';
import { checkBucketList } from './backup-buckets';
import { QUICK, UPLOAD } from './options';

export interface ReplicateBucketsInput {
  /** Buckets to replicate; default BUCKETS_TO_BACKUP. */
  buckets?: string[];
}

export interface BucketReplication extends LagFacts {
  bucket: string;
  copied: number;
  deleted: number;
  sourceObjects: number;
  bytesCopied: number;
}

export interface ReplicateBucketsResult {
  buckets: BucketReplication[];
  /** The largest lag over all buckets, in seconds, when this run started (0: nothing was pending). */
  lagSeconds: number;
  pendingChanges: number;
  finishedAt: string;
}

const planning = proxyActivities<Activities>(QUICK);

export async function replicateBuckets(input: ReplicateBucketsInput = {}): Promise<ReplicateBucketsResult> {
  // 0. Refuse bad input before any side effect.
  const buckets = checkBucketList('buckets', input?.buckets);

  // 1. Which buckets; there must be a backup MinIO to replicate to.
  const target = await planning.describeMinioTarget({ buckets });
  if (!target.backupServer) throw invalidInput('MINIO_BACKUP_ENDPOINT: is not set, so there is no backup MinIO to replicate to');
  const copy = proxyActivities<Activities>(UPLOAD(workflowInfo().taskQueue));

  // 2. An incremental mirror per bucket (deletions as MIRROR_DELETE says); its pending changes are the lag.
  const results: BucketReplication[] = [];
  for (const bucket of target.buckets) {
    setCurrentDetails(`**replicate** \`${bucket}\` (${results.length + 1} of ${target.buckets.length}): source -> backup MinIO`);
    const r = await copy.mirrorBucket({ bucket, direction: 'backup', delete: target.mirrorDelete });
    results.push({ bucket, copied: r.copied, deleted: r.deleted, sourceObjects: r.sourceObjects, bytesCopied: r.bytesCopied, ...r.lag });
  }
  const lagSeconds = Math.max(0, ...results.map((r) => r.lagSeconds));
  const pendingChanges = results.reduce((n, r) => n + r.pendingChanges + r.pendingDeletes, 0);
  setCurrentDetails(`**replicated**: ${pendingChanges} pending change(s), lag ${lagSeconds} s`);
  return { buckets: results, lagSeconds, pendingChanges, finishedAt: new Date().toISOString() };
}
