/**
 * Copy one object between MinIO servers (or buckets), hashing the bytes as they pass: small objects
 * are read into memory, hashed, then written with Content-MD5 and their sha256 in the metadata;
 * large ones stream straight through (memory stays bounded) and get their sha256 recorded after
 * the write by a server-side metadata update. Either way the ETag the server returns must be the MD5
 * we computed, so a damaged transfer fails instead of leaving a wrong copy. Idempotent: copying
 * again writes the same bytes under the same key.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ChecksumMismatch, isLifeboatError } from '../errors';
import type { BucketStore, ObjectBody } from './bucket-store';
import { isPlainMd5Etag, LIFEBOAT_META, withoutLifeboatMetadata } from './names';

/** Objects up to this size are copied through memory (bounded by the mirror's concurrency). */
export const SMALL_OBJECT_BYTES = 8 * 1024 * 1024;

export interface CopyResult {
  key: string;
  bytes: number;
  sha256: string;
  md5: string;
  etag: string;
  /** The source vanished between listing and copying (nothing was written). */
  vanished?: boolean;
}

export interface CopyOptions {
  from: BucketStore;
  to: BucketStore;
  fromBucket: string;
  toBucket: string;
  key: string;
  /**
   * 'record': the copy carries the source's metadata plus Lifeboat's sha256 and source ETag (backups).
   * 'original': the copy carries only the metadata the object had before it was backed up (restores).
   */
  labels: 'record' | 'original';
  signal?: AbortSignal;
  onBytes?: (n: number) => void;
}

/** md5 + sha256 + byte count of everything that flows through. */
export class ContentHasher extends Transform {
  private readonly md5Hash = createHash('md5');
  private readonly shaHash = createHash('sha256');
  bytes = 0;

  constructor(private readonly onBytes?: (n: number) => void) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.md5Hash.update(chunk);
    this.shaHash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    callback(null, chunk);
  }

  /** Call once, after the stream ended. */
  digests(): { md5: string; sha256: string } {
    return { md5: this.md5Hash.digest('hex'), sha256: this.shaHash.digest('hex') };
  }
}

export async function readAll(object: ObjectBody): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function labelsFor(object: ObjectBody, labels: CopyOptions['labels'], sha256?: string): Record<string, string> {
  const base = withoutLifeboatMetadata(object.metadata);
  if (labels === 'original') return base;
  return { ...base, [LIFEBOAT_META.sourceEtag]: object.etag, ...(sha256 ? { [LIFEBOAT_META.sha256]: sha256 } : {}) };
}

function checkEtag(where: string, etag: string, md5: string): void {
  if (isPlainMd5Etag(etag) && etag !== md5) throw new ChecksumMismatch(`${where}: the server stored ETag ${etag} but the bytes sent have MD5 ${md5}`);
}

export async function copyObject(options: CopyOptions): Promise<CopyResult> {
  const { from, to, fromBucket, toBucket, key, signal } = options;
  const object = await from.get(fromBucket, key, signal);
  if (!object) return { key, bytes: 0, sha256: '', md5: '', etag: '', vanished: true };
  const where = `${toBucket}/${key} on ${to.label}`;
  try {
    if (object.size <= SMALL_OBJECT_BYTES) {
      const body = await readAll(object);
      if (body.length !== object.size) throw new ChecksumMismatch(`${fromBucket}/${key} on ${from.label}: read ${body.length} bytes, the server announced ${object.size}`);
      const md5 = createHash('md5').update(body).digest('hex');
      const sha256 = createHash('sha256').update(body).digest('hex');
      const etag = await to.putBuffer(toBucket, key, body, { contentType: object.contentType, metadata: labelsFor(object, options.labels, sha256), signal });
      checkEtag(where, etag, md5);
      options.onBytes?.(body.length);
      return { key, bytes: body.length, sha256, md5, etag };
    }
    const hasher = new ContentHasher(options.onBytes);
    object.body.on('error', (error) => hasher.destroy(error));
    const etag = await to.putStream(toBucket, key, object.body.pipe(hasher), object.size, { contentType: object.contentType, metadata: labelsFor(object, options.labels), signal });
    const { md5, sha256 } = hasher.digests();
    if (hasher.bytes !== object.size) throw new ChecksumMismatch(`${fromBucket}/${key} on ${from.label}: read ${hasher.bytes} bytes, the server announced ${object.size}`);
    checkEtag(where, etag, md5);
    if (options.labels === 'record') {
      await to.replaceMetadata(toBucket, key, etag, { contentType: object.contentType, metadata: labelsFor(object, 'record', sha256), signal });
    }
    return { key, bytes: hasher.bytes, sha256, md5, etag };
  } catch (error) {
    object.body.destroy();
    // A failure while reading the source is the source's failure (usually: it went away).
    if (!isLifeboatError(error) && (error as { code?: string }).code !== undefined) throw from.fail(error, fromBucket);
    throw error;
  }
}
