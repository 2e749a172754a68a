/**
 * restoreBucket: the seed's "MinIO Object Restoration", as a runbook. Either from a snapshot
 * (`tar -xzf` + `mc mirror` in the seed): the archive is checked against its metadata and every
 * entry proven safe before anything is written (a missing target bucket is created only then, so a
 * refusal leaves none behind), then streamed into the target bucket with content types and user
 * metadata from the manifest. Or from the replica (`mc mirror backup-minio/<bucket>
 * source-minio/<bucket>`): an incremental mirror from the backup MinIO back to the source.
 * The target bucket must be new or empty unless `overwrite` (same-key objects are then replaced).
 * A snapshot restore may name the copy to read (`source`); a snapshot or replica restore may write to
 * another MinIO (`target.minio`, an endpoint only: the worker uses the source MinIO's keys).
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { checkSource, invalidInput, permanentFailure } from './failures';
import { BackupNotFound } from '../lib/errors';
import type { Activities } from '../activities';
import type { MinioEndpointTarget } from '../activities/minio';
import type { CopySource } from '../lib/restore/fetch';
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
  /**
   * Which copy of the snapshot to read: `local` (MINIO_BACKUP_ROOT only), `remote` (the off-site
   * S3_BUCKET only) or `auto` (local first, then off-site; the default). Snapshots only.
   */
  source?: CopySource;
  /**
   * Restore a snapshot into another MinIO (e.g. the new one of the DR runbook) instead of `server`:
   * an endpoint URL only. The worker connects with the source MinIO's keys (MINIO_SOURCE_ACCESS_KEY /
   * MINIO_SOURCE_SECRET_KEY), so the new server must accept them. Not with `server`.
   */
  target?: { minio?: MinioEndpointTarget };
}

export interface RestoreBucketResult {
  from: 'snapshot' | 'replica';
  source: string;
  targetBucket: string;
  server: 'source' | 'backup';
  /** The MinIO restored into, when not a configured one. */
  target?: { minio: MinioEndpointTarget };
  /** Which copy of the snapshot was read (snapshots). */
  copy?: 'local' | 'remote';
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
  const source = checkSource(input.source);
  const minioTarget = checkMinioTarget(input.target);
  if (source !== undefined && input.fromReplica !== undefined) invalid('source: applies to snapshots only; a replica is read from the backup MinIO');
  if (minioTarget && input.server !== undefined) invalid('target: give either server or target.minio, not both');
  // Only set when asked for, so activity inputs of runs without them are as they were.
  const sourceArg = source ? { source } : {};
  const targetArg = minioTarget ? { target: minioTarget } : {};
  // (The source may have lost its buckets: that is why we restore. Their existence is not checked.)
  const target = await planning.describeMinioTarget({ checkExists: false });
  const hostLocal = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  const server = input.server ?? 'source';

  if (input.snapshot !== undefined) {
    // 1. Which snapshot (local, else off-site); unknown names are refused.
    const found = await hostLocal.findSnapshot({ snapshot: input.snapshot });
    if (source === 'local' && !found.local) throw permanentFailure(BackupNotFound, `source: ${found.file} has no local copy in MINIO_BACKUP_ROOT; use source remote or auto for the off-site copy`);
    if (source === 'remote' && !found.remote) throw permanentFailure(BackupNotFound, `source: ${found.file} has no off-site copy (or REMOTE_STORAGE is off); use source local or auto`);
    const targetBucket = input.targetBucket ?? found.bucket;
    setCurrentDetails(`**preparing** \`${targetBucket}\` for \`${found.file}\``);
    // 2. The target: new, empty, or overwrite allowed. Checked once, before the retryable step; a
    //    missing bucket is created by the restore step only once the archive passed every check.
    const prepared = await hostLocal.prepareRestoreTarget({ server, bucket: targetBucket, overwrite: input.overwrite, create: false, ...targetArg });
    // 3. Verified copy, safety pass over every entry, then the bucket and the objects (resumable).
    setCurrentDetails(`**restoring** \`${found.file}\` into \`${targetBucket}\` on ${minioTarget ? `the MinIO at ${minioTarget.endpoint}` : `the ${server} MinIO`}`);
    const restore = proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue));
    const r = await restore.restoreSnapshot({ snapshot: found.file, targetBucket, server, ...sourceArg, ...targetArg });
    setCurrentDetails(`**done**: ${r.restored} objects restored into \`${targetBucket}\``);
    return { from: 'snapshot', source: found.file, targetBucket, server, ...(minioTarget ? { target: { minio: minioTarget } } : {}), copy: r.copy, restored: r.restored, bytes: r.bytes, skipped: r.resumedEntries, createdBucket: prepared.created || r.createdBucket === true };
  }

  // 1. From the replica: the backup MinIO's copy of the bucket, mirrored back to the source.
  if (!target.backupServer) invalid('MINIO_BACKUP_ENDPOINT: is not set, so there is no replica to restore from');
  const bucket = input.fromReplica!;
  const targetBucket = input.targetBucket ?? bucket;
  const where = minioTarget ? `the MinIO at ${minioTarget.endpoint}` : 'the source MinIO';
  setCurrentDetails(`**preparing** \`${targetBucket}\` on ${where}`);
  // The target is checked here but created by the mirror, once the replica's bucket is known to exist.
  const prepared = await planning.prepareRestoreTarget({ server: 'source', bucket: targetBucket, overwrite: input.overwrite, create: false, ...targetArg });
  setCurrentDetails(`**restoring** \`${bucket}\` from the backup MinIO into \`${targetBucket}\` on ${where}`);
  const copy = proxyActivities<Activities>(UPLOAD(workflowInfo().taskQueue));
  const r = await copy.mirrorBucket({ bucket, targetBucket, direction: 'restore', ...targetArg });
  setCurrentDetails(`**done**: ${r.copied} objects restored into \`${targetBucket}\``);
  return {
    from: 'replica', source: bucket, targetBucket, server: 'source', ...(minioTarget ? { target: { minio: minioTarget } } : {}),
    restored: r.copied, bytes: r.bytesCopied, skipped: r.skipped, createdBucket: prepared.created || r.createdBucket === true,
  };
}

/** `target.minio`, checked: an http(s) endpoint URL (scheme, host, port), no credentials, nothing else. */
function checkMinioTarget(target: unknown): MinioEndpointTarget | undefined {
  if (target === undefined) return undefined;
  if (typeof target !== 'object' || target === null || Array.isArray(target)) invalid('target: must be an object like { minio: { endpoint } }');
  const extra = Object.keys(target).filter((k) => k !== 'minio');
  if (extra.length > 0) invalid(`target: unknown field ${extra.map((k) => `target.${k}`).join(', ')}; restoreBucket takes target.minio only`);
  const minio = (target as { minio?: unknown }).minio;
  if (minio === undefined) return undefined;
  if (typeof minio !== 'object' || minio === null || Array.isArray(minio)) invalid('target.minio: must be { endpoint }');
  const { endpoint, ...rest } = minio as Record<string, unknown>;
  const unknownFields = Object.keys(rest);
  if (unknownFields.length > 0) invalid(`target.minio: unknown field ${unknownFields.map((k) => `target.minio.${k}`).join(', ')} (only endpoint; keys come from the worker's MINIO_SOURCE_ACCESS_KEY / MINIO_SOURCE_SECRET_KEY)`);
  if (typeof endpoint !== 'string' || !/^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?\/?$/.test(endpoint)) {
    invalid(`target.minio.endpoint: ${JSON.stringify(endpoint)} is not an endpoint URL like http://host:9000 (scheme, host, port; no credentials or path)`);
  }
  return { endpoint: endpoint.replace(/\/$/, '') };
}
