/**
 * MinIO activities: thin adapters over lib/minio that heartbeat progress (checkpoints where a retry
 * can resume), respect cancellation and make retries safe. Inputs and results carry bucket and
 * snapshot names and counts, never credentials or object contents.
 *
 *  describeMinioTarget  (any queue)    which buckets, which host owns MINIO_BACKUP_ROOT; checks names
 *  snapshotBucket       (backup host)  bucket -> tar -> compress -> encrypt -> file, metadata last
 *  uploadSnapshot       (backup host)  resumable off-site copy under minio-snapshots/, metadata last
 *  mirrorBucket         (any queue)    incremental copy, resumable from the heartbeat cursor
 *  verifyBucket         (backup host)  source vs backup by content (uses the snapshot manifests)
 *  findSnapshot / prepareRestoreTarget / restoreSnapshot   restore from a snapshot
 */
import { Context } from '@temporalio/activity';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactMetadata } from '../lib/catalog/metadata';
import {
  newestLocalSnapshotMetadata, readLocalSnapshotMetadata, readRemoteSnapshotMetadata, remoteSnapshotStore, snapshotDirOf, snapshotFileOf, type SnapshotInfo,
} from '../lib/catalog/snapshots';
import type { Deps } from '../lib/deps';
import { BackupNotFound, ConflictingArtifact, InputInvalid, OperationRefused } from '../lib/errors';
import { checkSnapshotArchive, restoreSnapshotArchive, type RestoreCheckpoint } from '../lib/minio/archive-restore';
import type { BucketStore } from '../lib/minio/bucket-store';
import { snapshotMetadataOf, type SnapshotMetadata } from '../lib/minio/metadata';
import { mirrorBucket as runMirror, type MirrorCheckpoint, type MirrorResult } from '../lib/minio/mirror';
import { bucketNameProblem, localSnapshotKey, parseSnapshotFile, REMOTE_SNAPSHOT_PREFIX, remoteSnapshotKey, SNAPSHOT_METADATA_SUFFIX, snapshotName } from '../lib/minio/names';
import { writeSnapshot } from '../lib/minio/snapshot';
import { verifyBucketContent, type ManifestHashes, type VerifyReport } from '../lib/minio/verify';
import { sweepPartials, writeFileAtomic } from '../lib/pipeline/atomic-file';
import { ensureLocalCopy, type CopySource } from '../lib/restore/fetch';
import { startHeartbeats, withHeartbeats } from './heartbeat';
import { uploadWithMetadata, type UploadResultSummary } from './upload';

export type { SnapshotInfo } from '../lib/catalog/snapshots';
export type { VerifyReport } from '../lib/minio/verify';

export interface MinioTarget {
  buckets: string[];
  /** The pinned queue of the host that owns MINIO_BACKUP_ROOT. */
  backupHostTaskQueue: string;
  remote: boolean;
  encrypted: boolean;
  compression: 'gzip' | 'zstd';
  /** A backup MinIO is configured (mirror, replication, verification need one). */
  backupServer: boolean;
  mirrorDelete: boolean;
}

export interface SnapshotSummary {
  bucket: string;
  key: string;
  file: string;
  sha256: string;
  bytes: number;
  objects: number;
  objectBytes: number;
  alreadyRecorded?: boolean;
}

export interface MirrorSummary extends Omit<MirrorResult, 'pending'> {
  bucket: string;
  targetBucket: string;
  from: string;
  to: string;
  /** The target bucket did not exist and this run (or an earlier attempt of it) created it. */
  createdBucket?: boolean;
}

const PARTIAL_MAX_AGE_MS = 6 * 3600 * 1000;
/** Levels: gzip's default (what `tar -czf` writes), zstd's default. */
const SNAPSHOT_LEVEL = { gzip: 6, zstd: 3 } as const;

/** A MinIO to restore into other than the configured ones: an endpoint only (the worker uses the source MinIO's keys). */
export interface MinioEndpointTarget {
  endpoint: string;
}

function checkBucketName(field: string, name: unknown): string {
  const problem = bucketNameProblem(name);
  if (problem) throw new InputInvalid(field, `${problem}: not a valid bucket name`, 'bucket names are 3-63 lower-case letters, digits, "." and "-"');
  return name as string;
}

export function createMinioActivities({ config, logger, stores, keys }: Pick<Deps, 'config' | 'logger' | 'stores' | 'keys'>) {
  const root = stores.snapshots.root;
  const snapshotDir = snapshotDirOf(stores.snapshots);
  const source = (): BucketStore => stores.minioSource;
  const backup = (): BucketStore => {
    if (!stores.minioBackup) throw new InputInvalid('MINIO_BACKUP_ENDPOINT', 'is not set: there is no backup MinIO', 'set MINIO_BACKUP_ENDPOINT and its keys');
    return stores.minioBackup;
  };
  const server = (name: 'source' | 'backup'): BucketStore => (name === 'source' ? source() : backup());
  /** The server a restore writes to: `target.minio` (an endpoint, the source MinIO's keys) when given, else `name`. */
  const restoreServer = (name: 'source' | 'backup', target: MinioEndpointTarget | undefined): BucketStore => (target ? stores.minioAt(target.endpoint) : server(name));
  const readLocalMetadata = (file: string): SnapshotMetadata | undefined => readLocalSnapshotMetadata(snapshotDir, file);

  /** The snapshot's metadata: local first, else the off-site copy's. */
  const locateSnapshot = async (file: string): Promise<{ metadata: SnapshotMetadata; local: boolean; remote: boolean }> => {
    const local = readLocalMetadata(file);
    const { remote } = stores;
    const remoteMetadata = remote ? await readRemoteSnapshotMetadata(remote, file) : undefined;
    const metadata = local ?? remoteMetadata;
    if (!metadata || metadata.file !== file) throw new BackupNotFound(`snapshot ${file} is not in ${snapshotDir}${remote ? ` or ${remote.location}/${REMOTE_SNAPSHOT_PREFIX}` : ''} (or has no metadata)`, 'see `lifeboat minio restore --list`');
    return { metadata, local: local !== undefined && existsSync(join(snapshotDir, file)), remote: remoteMetadata !== undefined };
  };

  /** sha256 per key from the newest local snapshot of `bucket` (for objects without a plain MD5 ETag). */
  const manifestHashes = async (bucket: string): Promise<ManifestHashes> => {
    const out: ManifestHashes = new Map();
    for (const e of (await newestLocalSnapshotMetadata(snapshotDir, bucket))?.manifest ?? []) out.set(e.key, { etag: e.etag, size: e.size, sha256: e.sha256 });
    return out;
  };

  return {
    /**
     * What to back up and where, from this worker's configuration; refuses bad bucket names and
     * (unless `checkExists` is false, as for restores into a source that lost them) unknown buckets.
     */
    async describeMinioTarget(input: { buckets?: string[]; checkExists?: boolean } = {}): Promise<MinioTarget> {
      const buckets = input.buckets && input.buckets.length > 0 ? input.buckets : config.minio.buckets;
      buckets.forEach((b, i) => checkBucketName(input.buckets?.length ? `buckets[${i}]` : 'BUCKETS_TO_BACKUP', b));
      const src = source();
      for (const bucket of input.checkExists === false ? [] : buckets) {
        if (!(await src.bucketExists(bucket))) throw new InputInvalid('bucket', `${bucket} does not exist on ${src.label}`, 'check BUCKETS_TO_BACKUP or the bucket named on the command line');
      }
      return {
        buckets,
        backupHostTaskQueue: config.temporal.backupHostTaskQueue,
        remote: config.remote.enabled,
        encrypted: config.encryption.enabled,
        compression: config.minio.snapshotCompression,
        backupServer: config.minio.backup !== undefined,
        mirrorDelete: config.minio.mirrorDelete,
      };
    },

    /** Stream one bucket into `<bucket>_<stamp>.tar.gz[.gpg]`; its metadata (with the manifest) is written last. */
    async snapshotBucket(input: { bucket: string; stamp: string; workflowId: string; runId: string }): Promise<SnapshotSummary> {
      const bucket = checkBucketName('bucket', input.bucket);
      const name = snapshotName(bucket, input.stamp, { compression: config.minio.snapshotCompression, encrypted: config.encryption.enabled });
      const summaryOf = (m: SnapshotMetadata, alreadyRecorded?: boolean): SnapshotSummary => ({
        bucket, key: m.key, file: m.file, sha256: m.sha256, bytes: m.bytes, objects: m.objects, objectBytes: m.objectBytes, ...(alreadyRecorded ? { alreadyRecorded } : {}),
      });
      // Retry safety: this run already finished it, or another run owns the name (never overwritten).
      const existing = readLocalMetadata(name.file);
      if (existing) {
        if (existing.runId === input.runId) return summaryOf(existing, true);
        throw new ConflictingArtifact(`${name.file} already exists and belongs to another run (${existing.workflowId ?? 'unknown'})`, 'start the snapshot again; names are unique per second');
      }
      await sweepPartials(snapshotDir, PARTIAL_MAX_AGE_MS);
      const encryptionKey = config.encryption.enabled ? await keys.publicKey() : undefined;
      const compression = { algorithm: config.minio.snapshotCompression, level: SNAPSHOT_LEVEL[config.minio.snapshotCompression] };
      const startedAt = new Date();
      const key = localSnapshotKey(name.file);
      const result = await withHeartbeats({ bucket, objects: 0, objectBytes: 0, writtenBytes: 0 }, (beats) =>
        writeSnapshot({
          store: source(),
          name,
          target: join(root, key),
          compression,
          encryptionKey,
          prefetch: config.minio.mirrorConcurrency,
          onProgress: (p) => beats.update({ bucket, ...p }),
          signal: Context.current().cancellationSignal,
        }),
      );
      const finishedAt = new Date();
      const metadata = snapshotMetadataOf({
        key, name, result, compression, encryptionKey, sourceEndpoint: config.minio.source.endpoint, startedAt, finishedAt, workflowId: input.workflowId, runId: input.runId,
      });
      // Last: only now is the archive a snapshot.
      writeFileAtomic(join(root, `${key}${SNAPSHOT_METADATA_SUFFIX}`), `${JSON.stringify(metadata, null, 1)}\n`);
      logger.info({ bucket, file: name.file, objects: metadata.objects, bytes: metadata.bytes }, 'bucket snapshot written');
      return summaryOf(metadata);
    },

    /** Copy a snapshot off-site (minio-snapshots/<file>): resumable, verified; the metadata object last. */
    async uploadSnapshot(input: { file: string }): Promise<UploadResultSummary> {
      const file = snapshotFileOf(input.file, snapshotDir);
      const metadata = readLocalMetadata(file);
      if (!metadata) throw new InputInvalid('file', `${file} has no metadata in ${snapshotDir}: it is not a snapshot and is not uploaded`);
      const key = remoteSnapshotKey(file);
      const result = await uploadWithMetadata(config, stores.offsite(), {
        file: join(snapshotDir, file),
        key,
        sha256: metadata.sha256,
        bytes: metadata.bytes,
        metadataKey: `${key}${SNAPSHOT_METADATA_SUFFIX}`,
        metadataBody: readFileSync(join(snapshotDir, `${file}${SNAPSHOT_METADATA_SUFFIX}`)),
        contentType: 'application/octet-stream',
      });
      logger.info({ key, parts: result.parts, resumedParts: result.resumedParts }, 'snapshot uploaded');
      return result;
    },

    /**
     * Incremental mirror of one bucket. 'backup': source MinIO -> backup MinIO (copies labelled with
     * their sha256 and source ETag). 'restore': backup MinIO -> source MinIO, or the MinIO at `target`
     * (original metadata only, never deletes). Resumes from the cursor in the last heartbeat.
     */
    async mirrorBucket(input: { bucket: string; targetBucket?: string; direction: 'backup' | 'restore'; delete?: boolean; target?: MinioEndpointTarget }): Promise<MirrorSummary> {
      const ctx = Context.current();
      const bucket = checkBucketName('bucket', input.bucket);
      const targetBucket = checkBucketName('targetBucket', input.targetBucket ?? bucket);
      const restore = input.direction === 'restore';
      if (input.target && !restore) throw new InputInvalid('target', 'only a restore mirrors into another MinIO', 'drop target, or mirror with direction restore');
      // A restore writes to the source MinIO, or to `target` (the DR runbook's new MinIO).
      const [from, to] = restore ? [backup(), restoreServer('source', input.target)] : [source(), backup()];
      if (!(await from.bucketExists(bucket))) throw new InputInvalid('bucket', `${bucket} does not exist on ${from.label}`, 'check the bucket name');
      const checkpoint = ctx.info.heartbeatDetails as Partial<MirrorCheckpoint & { createdBucket: boolean }> | undefined;
      // Created only once the source bucket is known to exist (a refused mirror leaves no empty bucket).
      const createdBucket = checkpoint?.createdBucket === true || (await to.ensureBucket(targetBucket));
      if (createdBucket) logger.info({ bucket: targetBucket, server: to.role }, 'bucket created');
      if (checkpoint?.cursor) logger.info({ bucket, cursor: checkpoint.cursor, attempt: ctx.info.attempt }, 'mirror resumes after the checkpoint');
      const beats = startHeartbeats<Partial<MirrorCheckpoint & { createdBucket: boolean }>>({ ...checkpoint, createdBucket }, 1000);
      let result: MirrorResult;
      try {
        result = await runMirror({
          from, to, fromBucket: bucket, toBucket: targetBucket,
          delete: restore ? false : (input.delete ?? config.minio.mirrorDelete),
          concurrency: config.minio.mirrorConcurrency,
          labels: restore ? 'original' : 'record',
          checkpoint,
          onProgress: (cp) => beats.update({ ...cp, pending: { ...cp.pending }, createdBucket }),
          signal: ctx.cancellationSignal,
        });
      } finally {
        beats.stop();
      }
      logger.info({ bucket, targetBucket, direction: input.direction, copied: result.copied, skipped: result.skipped, deleted: result.deleted, attempts: result.attempts }, 'bucket mirrored');
      const { pending: _pending, ...rest } = result;
      return { ...rest, bucket, targetBucket, from: from.label, to: to.label, createdBucket };
    },

    /** Compare a bucket on the source and the backup MinIO by content; lists what is missing, extra or different. */
    async verifyBucket(input: { bucket: string }): Promise<VerifyReport> {
      const bucket = checkBucketName('bucket', input.bucket);
      const [src, dst] = [source(), backup()];
      if (!(await src.bucketExists(bucket))) throw new InputInvalid('bucket', `${bucket} does not exist on ${src.label}`);
      const beats = startHeartbeats({ bucket, compared: 0 }, 1000);
      let report: VerifyReport;
      try {
        report = await verifyBucketContent({
          source: src, backup: dst, bucket,
          manifestHashes: () => manifestHashes(bucket),
          onProgress: (compared) => beats.update({ bucket, compared }),
          signal: Context.current().cancellationSignal,
        });
      } finally {
        beats.stop();
      }
      logger.info({ bucket, matched: report.matched, missing: report.missing, extra: report.extra, different: report.different }, 'bucket verified');
      return report;
    },

    /** Resolve a snapshot name to its recorded facts (refuses unknown names). */
    async findSnapshot(input: { snapshot: string }): Promise<SnapshotInfo> {
      const file = snapshotFileOf(input.snapshot, snapshotDir);
      const { metadata, local, remote } = await locateSnapshot(file);
      return { file, bucket: metadata.bucket, stamp: metadata.stamp, objects: metadata.objects, bytes: metadata.bytes, local, remote };
    },

    /**
     * Make sure a restore may write into `bucket` on `server`: an existing bucket that holds objects
     * is refused unless `overwrite` (objects with the same key are then replaced, others kept). A
     * missing bucket is created here unless `create: false` (a snapshot restore creates it only
     * after the archive passed every check, so a refused restore leaves no empty bucket behind).
     * Runs once, before the (retryable) restore step.
     */
    async prepareRestoreTarget(input: { server: 'source' | 'backup'; bucket: string; overwrite?: boolean; create?: boolean; target?: MinioEndpointTarget }): Promise<{ created: boolean; hadObjects: boolean }> {
      const bucket = checkBucketName('targetBucket', input.bucket);
      const store = restoreServer(input.server, input.target);
      const exists = await store.bucketExists(bucket);
      const hadObjects = exists && !(await store.isEmpty(bucket));
      if (hadObjects && !input.overwrite) {
        throw new OperationRefused(`targetBucket: ${bucket} on ${store.label} already holds objects`, 'restore into an empty or new bucket (--target-bucket NAME), or add --overwrite to replace objects with the same key (others are kept)');
      }
      const created = exists || input.create === false ? false : await store.ensureBucket(bucket);
      return { created, hadObjects };
    },

    /**
     * Restore a snapshot into a bucket: verified local copy, safety pass, then (only then) the target
     * bucket is created when missing and the objects written (resumable). Every refusal (checksum,
     * hostile entry, manifest mismatch) is decided before the first write, so it leaves no bucket.
     */
    async restoreSnapshot(input: { snapshot: string; targetBucket: string; server: 'source' | 'backup'; source?: CopySource; target?: MinioEndpointTarget }): Promise<{ file: string; targetBucket: string; objects: number; restored: number; bytes: number; copy: 'local' | 'remote'; resumedEntries: number; createdBucket: boolean }> {
      const ctx = Context.current();
      const file = snapshotFileOf(input.snapshot, snapshotDir);
      const targetBucket = checkBucketName('targetBucket', input.targetBucket);
      const store = restoreServer(input.server, input.target);
      const { metadata } = await locateSnapshot(file);
      const name = parseSnapshotFile(file)!;
      const { remote } = stores;
      const checkpoint = ctx.info.heartbeatDetails as Partial<RestoreCheckpoint & { stage: string; createdBucket: boolean }> | undefined;
      const beats = startHeartbeats<Record<string, unknown>>({ ...checkpoint, stage: 'fetching' }, 1000);
      try {
        // 1. A local copy whose sha256 matches the metadata (ensureLocalCopy reads only key, sha256, bytes).
        const copy = await ensureLocalCopy(root, metadata as unknown as ArtifactMetadata, remote ? remoteSnapshotStore(remote) : undefined, (n, total) =>
          beats.update({ ...checkpoint, stage: 'fetching', bytesDone: n, bytesTotal: total }),
          input.source ?? 'auto',
        );
        const privateKeys = name.encoding.encrypted ? await keys.privateKeys() : undefined;
        const archive = { file: copy.path, metadata, encoding: name.encoding, privateKeys };
        // 2. Every entry safe and as recorded, before anything is written.
        await checkSnapshotArchive(archive, (n) => beats.update({ ...checkpoint, stage: 'checking', bytesDone: n, bytesTotal: metadata.bytes }));
        // 3. The target bucket, created only now that the archive is accepted (an earlier attempt may have).
        const createdBucket = checkpoint?.createdBucket === true || (await store.ensureBucket(targetBucket));
        if (createdBucket) logger.info({ bucket: targetBucket, server: store.role }, 'bucket created');
        beats.update({ ...checkpoint, stage: 'restoring', createdBucket });
        // 4. The objects, resuming after the entries an earlier attempt settled.
        const result = await restoreSnapshotArchive({
          source: archive,
          to: store,
          bucket: targetBucket,
          concurrency: config.minio.mirrorConcurrency,
          checkpoint,
          onProgress: (cp) => beats.update({ ...cp, stage: 'restoring', createdBucket }),
          signal: ctx.cancellationSignal,
        });
        logger.info({ file, targetBucket, restored: result.restored, resumedEntries: result.skippedOnResume }, 'snapshot restored');
        return { file, targetBucket, objects: metadata.objects, restored: result.restored, bytes: result.bytes, copy: copy.source, resumedEntries: result.skippedOnResume, createdBucket };
      } finally {
        beats.stop();
      }
    },
  };
}
