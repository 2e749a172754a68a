/**
 * The off-site copy of one local file, shared by every activity that uploads (backups, snapshots):
 * resumable multipart upload checkpointed in the heartbeat details, verified against the recorded
 * sha256 and size, then the metadata object last: a remote artifact without it is not a backup.
 */
import { Context } from '@temporalio/activity';
import type { Config } from '../lib/config/load';
import { ChecksumMismatch } from '../lib/errors';
import { uploadFileResumable, type UploadCheckpoint, type UploadResult } from '../lib/storage/multipart';
import type { S3Store } from '../lib/storage/s3-store';
import { withHeartbeats } from './heartbeat';

export interface UploadResultSummary {
  key: string;
  bytes: number;
  parts: number;
  resumedParts: number;
  alreadyPresent: boolean;
  location: string;
}

export interface UploadInput {
  /** Absolute path of the local file. */
  file: string;
  key: string;
  sha256: string;
  bytes: number;
  metadataKey: string;
  metadataBody: Buffer;
  contentType?: string;
}

/** `remote` is the off-site store (Stores.offsite()). */
export async function uploadWithMetadata(config: Config, remote: S3Store, input: UploadInput): Promise<UploadResultSummary> {
  const ctx = Context.current();
  const { settings } = remote;
  const checkpoint = ctx.info.heartbeatDetails as Partial<UploadCheckpoint> | undefined;
  const result = await withHeartbeats<Partial<UploadCheckpoint>, UploadResult>(checkpoint ?? {}, (beats) =>
    uploadFileResumable({
      client: remote.client,
      bucket: settings.bucket,
      key: input.key,
      file: input.file,
      sha256: input.sha256,
      storageClass: settings.storageClass,
      contentType: input.contentType,
      partSize: config.remote.partSizeBytes,
      concurrency: config.remote.uploadConcurrency,
      rateLimit: config.remote.rateLimitBytesPerSecond,
      checkpoint,
      onProgress: (cp) => beats.update(cp),
      signal: ctx.cancellationSignal,
      endpointForMessages: `${settings.endpoint} (${remote.location})`,
    }),
  );
  if (result.bytes !== input.bytes) throw new ChecksumMismatch(`${input.key} is ${result.bytes} bytes but its metadata says ${input.bytes}`);
  await remote.put(input.metadataKey, input.metadataBody, { contentType: 'application/json' });
  return { key: input.key, bytes: result.bytes, parts: result.parts, resumedParts: result.resumedParts, alreadyPresent: result.alreadyPresent, location: remote.location };
}
