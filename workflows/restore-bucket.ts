/**
 * restoreBucket: the seed's "MinIO Object Restoration", as a runbook. Either from a snapshot
 * (`tar -xzf` + `mc mirror` in the seed): the archive is checked against its metadata and every
 * entry proven safe before anything is written (a missing target bucket is created only then, so a
 * refusal leaves none behind), then streamed into the target bucket with content types and user
 * metadata from the manifest. Or from the replica (`mc mirror backup-minio/<bucket>
 * source-minio/<bucket>`): an incremental mirror from the backup MinIO back to the source.
 * The target bucket must be new or empty unless `overwrite` (same-key objects are then replaced).
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { invalidInput } from './failures';
import type { Activities } from '../activities';
import { bucketNameProblem } from '../lib/minio/names';
import { LOCAL, QUICK, UPLOAD } from './options';

export interface RestoreBucketInput {
  /** Snapshot to restore: file name (`company-data_20251017-010000.tar.gz.gpg`), key or path. */
  snapshot?: string;
  /** Or: restore this bucket from the backup MinIO (the replica). */
  fromReplica?: string;
  /** Bucket to restore into; default the snapshot's (or replica's) bucket. */
  targetBucket?: string;
  /** Server to restore a snapshot into; default the source MinIO. The replica always goes to the source. */
  server?: 'source' | 'backup';
  /** Allow a target bucket that already holds objects (same-key objects are replaced, others kept). */
  overwrite?: boolean;
}

export interface RestoreBucketResult {
  from: 'snapshot' | 'replica';
  source: string;
  targetBucket: string;
  server: 'source' | 'backup';
  restored: number;
  bytes: number;
  skipped: number;
  createdBucket: boolean;
}

function invalid(message: string): never {
  throw invalidInput(message);
}

const planning = proxyActivities<Activities>(QUICK);

export async function restoreBucket(input: RestoreBucketInput): Promise<RestoreBucketResult> {
  // 0. Refuse bad input before any side effect.
  if (!input || (input.snapshot === undefined) === (input.fromReplica === undefined)) invalid('give exactly one of snapshot or fromReplica');
  if (input.snapshot !== undefined && (typeof input.snapshot !== 'string' || input.snapshot.trim() === '')) invalid('snapshot: name a snapshot (see `lifeboat minio restore --list`)');
  if (input.fromReplica !== undefined && bucketNameProblem(input.fromReplica)) invalid(`fromReplica: ${bucketNameProblem(input.fromReplica)}: not a valid bucket name`);
  if (input.targetBucket !== undefined && bucketNameProblem(input.targetBucket)) invalid(`targetBucket: ${bucketNameProblem(input.targetBucket)}: not a valid bucket name`);
  if (input.server !== undefined && input.server !== 'source' && input.server !== 'backup') invalid('server: must be source or backup');
  if (input.fromReplica !== undefined && input.server === 'backup') invalid('server: a replica restores into the source MinIO');
  // (The source may have lost its buckets: that is why we restore. Their existence is not checked.)
  const target = await planning.describeMinioTarget({ checkExists: false });
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  const server = input.server ?? 'source';

  if (input.snapshot !== undefined) {
    // 1. Which snapshot (local, else off-site); unknown names are refused.
    const found = await hostLocal.findSnapshot({ snapshot: input.snapshot });
    const targetBucket = input.targetBucket ?? found.bucket;
    setCurrentDetails(`**preparing** \`${targetBucket}\` for \`${found.file}\``);
    // 2. The target: new, empty, or overwrite allowed. Checked once, before the retryable step; a
    //    missing bucket is created by the restore step only once the archive passed every check.
    const prepared = await hostLocal.prepareRestoreTarget({ server, bucket: targetBucket, overwrite: input.overwrite, create: false });
    // 3. Verified copy, safety pass over every entry, then the bucket and the objects (resumable).
    setCurrentDetails(`**restoring** \`${found.file}\` into \`${targetBucket}\` on the ${server} MinIO`);
    const restore = proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue));
    const r = await restore.restoreSnapshot({ snapshot: found.file, targetBucket, server });
    setCurrentDetails(`**done**: ${r.restored} objects restored into \`${targetBucket}\``);
    return { from: 'snapshot', source: found.file, targetBucket, server, restored: r.restored, bytes: r.bytes, skipped: r.resumedEntries, createdBucket: prepared.created || r.createdBucket === true };
  }

  // 1. From the replica: the backup MinIO's copy of the bucket, mirrored back to the source.
  if (!target.backupServer) invalid('MINIO_BACKUP_ENDPOINT: is not set, so there is no replica to restore from');
  const bucket = input.fromReplica!;
  const targetBucket = input.targetBucket ?? bucket;
  setCurrentDetails(`**preparing** \`${targetBucket}\` on the source MinIO`);
  // The target is checked here but created by the mirror, once the replica's bucket is known to exist.
  const prepared = await planning.prepareRestoreTarget({ server: 'source', bucket: targetBucket, overwrite: input.overwrite, create: false });
  setCurrentDetails(`**restoring** \`${bucket}\` from the backup MinIO into \`${targetBucket}\``);
  const copy = proxyActivities<Activities>(UPLOAD(workflowInfo().taskQueue));
  const r = await copy.mirrorBucket({ bucket, targetBucket, direction: 'restore' });
  setCurrentDetails(`**done**: ${r.copied} objects restored into \`${targetBucket}\``);
  return { from: 'replica', source: bucket, targetBucket, server: 'source', restored: r.copied, bytes: r.bytesCopied, skipped: r.skipped, createdBucket: prepared.created || r.createdBucket === true };
}
