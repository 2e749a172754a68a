/**
 * The storage interface every backup location implements: the local BACKUP_ROOT and S3/MinIO.
 * Keys are relative paths with `/` separators (the same key names the same artifact everywhere).
 *
 * Contracts:
 *  - put: atomic (readers see the old object, or the whole new one) and idempotent: putting the same
 *    bytes twice is harmless. Overwrites an existing key.
 *  - get: a stream of the whole object; a missing key is BackupNotFound (permanent).
 *  - stat: undefined for a missing key, never an error for it.
 *  - list: every object whose key starts with `prefix`, in no particular order; temporary files
 *    (`.name.*.partial`) are never listed.
 *  - delete: idempotent; deleting a missing key succeeds.
 * Unreachable servers raise ServiceUnavailable (retryable); refused credentials AuthenticationFailed.
 */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  modified: Date;
  /** S3 ETag without quotes (plain MD5 for single-part uploads, `md5-N` for multipart). */
  etag?: string;
  /** User metadata (S3 `x-amz-meta-*`), when the driver has it. */
  metadata?: Record<string, string>;
}

export interface Store {
  /** Where this store is, for messages: `local:/var/backups/postgres` or `s3://bucket`. */
  readonly location: string;
  put(key: string, body: Buffer, options?: { metadata?: Record<string, string>; contentType?: string }): Promise<ObjectInfo>;
  get(key: string): Promise<Readable>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(key: string): Promise<void>;
}

/** Read a whole (small) object into memory. */
export async function getBuffer(store: Store, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function listAll(store: Store, prefix: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of store.list(prefix)) out.push(info);
  return out;
}
