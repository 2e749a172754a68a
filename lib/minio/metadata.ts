/**
 * The record written beside every bucket snapshot (`<file>.metadata.json`), last, after the archive
 * is durable: the archive's sha256 and size, how it is encoded, and the manifest of every object in
 * it (key, size, ETag, sha256, content type, user metadata). A snapshot without a valid record is
 * not a backup: it is never listed, uploaded or restored. Same `lifeboat/1` envelope as the
 * PostgreSQL artifacts (lib/catalog/metadata.ts), with its own kind.
 */
import { z } from 'zod';
import { compressionFacts, encryptionFacts, parseJsonWith, runFacts } from '../catalog/metadata';
import type { EncryptionKey } from '../crypto/openpgp';
import { LIFEBOAT_VERSION } from '../version';
import type { SnapshotName } from './names';
import type { SnapshotResult } from './snapshot';

export const manifestEntry = z.object({
  key: z.string().min(1),
  size: z.number().int().nonnegative(),
  etag: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  contentType: z.string(),
  metadata: z.record(z.string(), z.string()),
  modified: z.string(),
});
export type ManifestEntry = z.infer<typeof manifestEntry>;

export const snapshotMetadata = z.object({
  format: z.literal('lifeboat/1'),
  kind: z.literal('minio-snapshot'),
  /** Key below MINIO_BACKUP_ROOT: `snapshots/<file>`. */
  key: z.string(),
  file: z.string(),
  bucket: z.string(),
  stamp: z.string(),
  /** The directory every archive entry lives under: `<bucket>_<stamp>`. */
  root: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  /** Bytes of the tar stream before compression. */
  rawBytes: z.number().int().nonnegative(),
  objects: z.number().int().nonnegative(),
  objectBytes: z.number().int().nonnegative(),
  compression: compressionFacts,
  encryption: encryptionFacts,
  source: z.object({ endpoint: z.string() }),
  ...runFacts,
  manifest: z.array(manifestEntry),
});
export type SnapshotMetadata = z.infer<typeof snapshotMetadata>;

export function parseSnapshotMetadata(text: string): SnapshotMetadata | undefined {
  return parseJsonWith(snapshotMetadata, text);
}

/** What a finished snapshot run knows; `snapshotMetadataOf` turns it into the record. */
export interface SnapshotRun {
  key: string;
  name: SnapshotName;
  result: SnapshotResult;
  compression: SnapshotMetadata['compression'];
  encryptionKey?: EncryptionKey;
  sourceEndpoint: string;
  startedAt: Date;
  finishedAt: Date;
  workflowId: string;
  runId: string;
}

/** The record written beside a snapshot, last. */
export function snapshotMetadataOf(run: SnapshotRun): SnapshotMetadata {
  const { name, result, encryptionKey } = run;
  return {
    format: 'lifeboat/1',
    kind: 'minio-snapshot',
    key: run.key,
    file: name.file,
    bucket: name.bucket,
    stamp: name.stamp,
    root: name.root,
    sha256: result.sha256,
    bytes: result.bytes,
    rawBytes: result.rawBytes,
    objects: result.manifest.length,
    objectBytes: result.objectBytes,
    compression: run.compression,
    encryption: encryptionKey ? { enabled: true, recipient: encryptionKey.recipient, fingerprint: encryptionKey.fingerprint, encryptionSubkey: encryptionKey.encryptionSubkey } : { enabled: false },
    source: { endpoint: run.sourceEndpoint },
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationSeconds: (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000,
    lifeboatVersion: LIFEBOAT_VERSION,
    workflowId: run.workflowId,
    runId: run.runId,
    manifest: result.manifest,
  };
}
