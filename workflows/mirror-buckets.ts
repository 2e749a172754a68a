/**
 * mirrorBuckets: an incremental copy of each bucket from the source MinIO to the backup MinIO:
 * new and changed objects (compared by content, not name/size/time), content type and user
 * metadata preserved; objects gone from the source are deleted from the backup only when asked
 * (`delete`, default MIRROR_DELETE). Each bucket's copy is one resumable activity: a worker that
 * dies or a MinIO that goes away costs a retry that continues from the last checkpoint.
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { invalidInput } from './failures';
import type { Activities } from '../activities';
import type { MirrorSummary } from '../activities/minio';
import { checkBucketList } from './backup-buckets';
import { QUICK, UPLOAD } from './options';

export interface MirrorBucketsInput {
  /** Buckets to mirror; default BUCKETS_TO_BACKUP. */
  buckets?: string[];
  /** Delete backup objects whose source is gone; default MIRROR_DELETE. */
  delete?: boolean;
}

export interface MirrorBucketsResult {
  buckets: MirrorSummary[];
}

const planning = proxyActivities<Activities>(QUICK);

export async function mirrorBuckets(input: MirrorBucketsInput = {}): Promise<MirrorBucketsResult> {
  // 0. Refuse bad input before any side effect.
  const buckets = checkBucketList('buckets', input?.buckets);
  if (input?.delete !== undefined && typeof input.delete !== 'boolean') throw invalidInput('delete: must be true or false');

  // 1. Which buckets; there must be a backup MinIO to mirror to.
  const target = await planning.describeMinioTarget({ buckets });
  if (!target.backupServer) throw invalidInput('MINIO_BACKUP_ENDPOINT: is not set, so there is no backup MinIO to mirror to');
  // Resumable like uploads: retried (from the checkpoint) for as long as a server is away.
  const copy = proxyActivities<Activities>(UPLOAD(workflowInfo().taskQueue));

  // 2. One bucket after another; within a bucket MIRROR_CONCURRENCY objects at a time.
  const results: MirrorSummary[] = [];
  for (const bucket of target.buckets) {
    setCurrentDetails(`**mirror** \`${bucket}\` (${results.length + 1} of ${target.buckets.length})`);
    results.push(await copy.mirrorBucket({ bucket, direction: 'backup', delete: input?.delete ?? target.mirrorDelete }));
  }
  setCurrentDetails(`**done**: ${results.reduce((n, r) => n + r.copied, 0)} objects copied, ${results.reduce((n, r) => n + r.deleted, 0)} deleted`);
  return { buckets: results };
}
