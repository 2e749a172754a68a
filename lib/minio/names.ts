/**
 * MinIO snapshot names and object-name rules, seed-compatible and pure (workflows import this):
 *   <MINIO_BACKUP_ROOT>/snapshots/company-data_20251017-010000.tar.gz.gpg   (+ .metadata.json)
 *   s3://$S3_BUCKET/minio-snapshots/company-data_20251017-010000.tar.gz.gpg (+ .metadata.json)
 * Inside the archive every object is `company-data_20251017-010000/<object key>`, so the seed's
 * `tar -xzf <file>` then `mc mirror company-data_20251017-010000/ minio/company-data/` still works.
 * The extension names the real encoding: `.tar.gz` (gzip, default) or `.tar.zst`, plus `.gpg`.
 */

import { REMOTE_SNAPSHOT_PREFIX, SNAPSHOT_DIR, SNAPSHOT_FILE_PATTERN } from '../catalog/layout';

export { REMOTE_SNAPSHOT_PREFIX, SNAPSHOT_DIR } from '../catalog/layout';
export const SNAPSHOT_METADATA_SUFFIX = '.metadata.json';

/** User metadata Lifeboat adds to the copies it writes on the backup MinIO (x-amz-meta-lifeboat-*). */
export const LIFEBOAT_META = {
  /** sha256 of the object's content, computed while copying. */
  sha256: 'lifeboat-sha256',
  /** The source object's ETag when it was copied (a multipart ETag identifies content too). */
  sourceEtag: 'lifeboat-source-etag',
} as const;
const LIFEBOAT_META_PREFIX = 'lifeboat-';

export interface SnapshotEncoding {
  compression: 'gzip' | 'zstd';
  encrypted: boolean;
}

export interface SnapshotName {
  bucket: string;
  stamp: string;
  encoding: SnapshotEncoding;
  /** File name, e.g. `company-data_20251017-010000.tar.gz.gpg`. */
  file: string;
  /** Directory every entry of the archive lives under: `company-data_20251017-010000`. */
  root: string;
}

/**
 * Why `name` is not a bucket name MinIO accepts (S3 rules), or undefined when it is one:
 * 3-63 characters, lower-case letters, digits, `.` and `-`, starting and ending with a letter or a
 * digit, no `..`, not shaped like an IP address.
 */
export function bucketNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'is empty';
  if (name.length < 3 || name.length > 63) return `"${name}" must be 3-63 characters long`;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return `"${name}" may only hold lower-case letters, digits, "." and "-", and must start and end with a letter or digit`;
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) return `"${name}" must not contain "..", ".-" or "-."`;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return `"${name}" must not look like an IP address`;
  return undefined;
}

export function snapshotSuffix(encoding: SnapshotEncoding): string {
  return `.tar${encoding.compression === 'zstd' ? '.zst' : '.gz'}${encoding.encrypted ? '.gpg' : ''}`;
}

export function snapshotName(bucket: string, stamp: string, encoding: SnapshotEncoding): SnapshotName {
  const root = `${bucket}_${stamp}`;
  return { bucket, stamp, encoding, root, file: `${root}${snapshotSuffix(encoding)}` };
}

/** Parse a snapshot file name (no directory); undefined when it is not one. */
export function parseSnapshotFile(file: string): SnapshotName | undefined {
  const m = SNAPSHOT_FILE_PATTERN.exec(file);
  if (!m) return undefined;
  const [, bucket, stamp, compression, gpg] = m as unknown as [string, string, string, 'gz' | 'zst', string | undefined];
  if (bucketNameProblem(bucket)) return undefined;
  return snapshotName(bucket, stamp, { compression: compression === 'zst' ? 'zstd' : 'gzip', encrypted: gpg !== undefined });
}

/** Key of a snapshot below MINIO_BACKUP_ROOT. */
export function localSnapshotKey(file: string): string {
  return `${SNAPSHOT_DIR}/${file}`;
}

/** Key of a snapshot's off-site copy in S3_BUCKET. */
export function remoteSnapshotKey(file: string): string {
  return `${REMOTE_SNAPSHOT_PREFIX}${file}`;
}

/** An S3 ETag without quotes is the MD5 of the content only for single-part, unencrypted uploads. */
export function isPlainMd5Etag(etag: string | undefined): etag is string {
  return typeof etag === 'string' && /^[0-9a-f]{32}$/.test(etag);
}

/** User metadata without Lifeboat's own keys (what the object carried on the source). */
export function withoutLifeboatMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata ?? {})) if (!k.toLowerCase().startsWith(LIFEBOAT_META_PREFIX)) out[k.toLowerCase()] = v;
  return out;
}

/**
 * Why an archive entry may not be restored, or undefined when it is safe: only regular files (and
 * directories) under `<root>/`, never an absolute path, a `..` or `.` segment, an empty segment, a
 * NUL or a backslash; never a link, device or FIFO. `name` is the entry path as the archive says.
 */
export function archiveEntryProblem(entry: { name: string; type?: string | null }, root: string): string | undefined {
  const { name } = entry;
  const type = entry.type ?? 'file';
  if (type !== 'file' && type !== 'directory') return `${JSON.stringify(name)} is a ${type}; only regular files are restored`;
  if (name.includes('\0')) return `${JSON.stringify(name)} contains a NUL byte`;
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return `${JSON.stringify(name)} is an absolute path`;
  if (name.includes('\\')) return `${JSON.stringify(name)} contains a backslash`;
  const segments = (type === 'directory' ? name.replace(/\/$/, '') : name).split('/');
  if (segments.some((s) => s === '..')) return `${JSON.stringify(name)} has a ".." segment`;
  if (segments.some((s) => s === '.' || s === '')) return `${JSON.stringify(name)} has an empty or "." segment`;
  if (segments[0] !== root || segments.length < 2) return `${JSON.stringify(name)} is not under ${root}/`;
  return undefined;
}

/** The object key an archive entry restores to (`<root>/a/b.txt` -> `a/b.txt`). */
export function entryObjectKey(name: string, root: string): string {
  return name.slice(root.length + 1);
}
