/**
 * The record written beside every bucket snapshot (`<file>.metadata.json`), last, after the archive
 * is durable: the archive's sha256 and size, how it is encoded, and the manifest of every object in
 * it (key, size, ETag, sha256, content type, user metadata). A snapshot without a valid record is
 * not a backup: it is never listed, uploaded or restored. Same `lifeboat/1` envelope as the
 * PostgreSQL artifacts (lib/catalog/metadata.ts), with its own kind.
 */
import { z } from 'zod';
import { compressionFacts, encryptionFacts, parseJsonWith, runFacts } from '../catalog/metadata';

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
