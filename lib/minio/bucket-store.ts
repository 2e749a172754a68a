/**
 * One MinIO server's buckets, as the mirror, snapshot, verify and restore code needs them: listings
 * sorted by key (resumable with `startAfter`), objects with their content type and user metadata,
 * streamed reads and writes (memory stays bounded for any object size), and errors classified:
 * an unreachable server is ServiceUnavailable (retryable), refused keys AuthenticationFailed, an
 * unknown bucket InputInvalid naming it (neither is retried). Uses the S3 API (path-style).
 */
import {
  CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command,
  PutObjectCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { MinioEndpointConfig } from '../config/load';
import { InputInvalid, type LifeboatError } from '../errors';
import { classifyObjectStoreError } from '../storage/minio';
import { createS3Client, isNotFound } from '../storage/s3-store';
import type { ListedObject } from './plan';

export interface ObjectFacts extends ListedObject {
  contentType: string;
  /** User metadata (x-amz-meta-*), keys lower-case. */
  metadata: Record<string, string>;
}

export interface ObjectBody extends ObjectFacts {
  body: Readable;
}

export interface WriteOptions {
  contentType: string;
  metadata: Record<string, string>;
  signal?: AbortSignal;
}

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/"/g, '');
const lowerKeys = (m: Record<string, string> | undefined): Record<string, string> => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

export class BucketStore {
  readonly client: S3Client;

  /** `role` names the server in messages: "source" or "backup". */
  constructor(
    readonly endpoint: MinioEndpointConfig,
    readonly role: 'source' | 'backup',
  ) {
    this.client = createS3Client({ endpoint: endpoint.endpoint, region: 'us-east-1', bucket: '-', accessKeyId: endpoint.accessKey, secretAccessKey: endpoint.secretKey });
  }

  /** `the source MinIO (http://...)`, for messages. */
  get label(): string {
    return `the ${this.role} MinIO (${this.endpoint.endpoint})`;
  }

  /** Map an SDK error; a missing bucket is named as input, not retried. */
  fail(error: unknown, bucket?: string): LifeboatError {
    const e = error as { name?: string; Code?: string };
    if (bucket !== undefined && (e.name === 'NoSuchBucket' || e.Code === 'NoSuchBucket')) {
      return new InputInvalid('bucket', `${bucket} does not exist on ${this.label}`, 'check BUCKETS_TO_BACKUP or the bucket named on the command line');
    }
    return classifyObjectStoreError(error, this.label);
  }

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw this.fail(error);
    }
  }

  /** Create the bucket unless it exists (idempotent). */
  async ensureBucket(bucket: string): Promise<boolean> {
    if (await this.bucketExists(bucket)) return false;
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
      return true;
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return false;
      throw this.fail(error, bucket);
    }
  }

  /** Every object of `bucket` in key order, after `startAfter` when given. */
  async *list(bucket: string, startAfter?: string): AsyncGenerator<ListedObject> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, StartAfter: token ? undefined : startAfter }));
      } catch (error) {
        throw this.fail(error, bucket);
      }
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield { key: item.Key, size: item.Size ?? 0, etag: unquote(item.ETag), modified: item.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async isEmpty(bucket: string): Promise<boolean> {
    for await (const _ of this.list(bucket)) return false;
    return true;
  }

  /** Facts of one object, or undefined when it does not exist. */
  async head(bucket: string, key: string): Promise<ObjectFacts | undefined> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { key, size: h.ContentLength ?? 0, etag: unquote(h.ETag), modified: h.LastModified?.getTime() ?? 0, contentType: h.ContentType ?? 'application/octet-stream', metadata: lowerKeys(h.Metadata) };
    } catch (error) {
      if (isNotFound(error) && (error as { name?: string }).name !== 'NoSuchBucket') return undefined;
      throw this.fail(error, bucket);
    }
  }

  /** The object's bytes as a stream, with its facts; undefined when it vanished since the listing. */
  async get(bucket: string, key: string, signal?: AbortSignal): Promise<ObjectBody | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      return {
        key, body: r.Body as Readable, size: r.ContentLength ?? 0, etag: unquote(r.ETag), modified: r.LastModified?.getTime() ?? 0,
        contentType: r.ContentType ?? 'application/octet-stream', metadata: lowerKeys(r.Metadata),
      };
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey' || (isNotFound(error) && name !== 'NoSuchBucket')) return undefined;
      throw this.fail(error, bucket);
    }
  }

  /** Write a small object from memory, with Content-MD5 so the server rejects damaged bytes. Returns the ETag. */
  async putBuffer(bucket: string, key: string, body: Buffer, options: WriteOptions): Promise<string> {
    try {
      const r = await this.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: createHash('md5').update(body).digest('base64'), ContentType: options.contentType, Metadata: options.metadata }),
        { abortSignal: options.signal },
      );
      return unquote(r.ETag);
    } catch (error) {
      throw this.fail(error, bucket);
    }
  }

  /**
   * Write an object from a stream of exactly `size` bytes in one PUT (up to 5 GiB). When the stream
   * fails, the request is aborted and no object is created; the stream's own error is thrown.
   */
  async putStream(bucket: string, key: string, body: Readable, size: number, options: WriteOptions): Promise<string> {
    const abort = new AbortController();
    let bodyError: unknown;
    const onError = (error: unknown): void => {
      bodyError ??= error;
      abort.abort(error);
    };
    body.on('error', onError);
    const stop = (): void => abort.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      const r = await this.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: size, ContentType: options.contentType, Metadata: options.metadata }),
        { abortSignal: abort.signal },
      );
      return unquote(r.ETag);
    } catch (error) {
      if (bodyError !== undefined) throw bodyError;
      throw this.fail(error, bucket);
    } finally {
      body.off('error', onError);
      options.signal?.removeEventListener('abort', stop);
    }
  }

  /**
   * Replace an object's metadata in place (server-side copy onto itself; MinIO keeps the bytes and
   * the ETag). Only if the object still has `etag`, so a concurrent overwrite is never relabelled.
   */
  async replaceMetadata(bucket: string, key: string, etag: string, options: WriteOptions): Promise<void> {
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: bucket, Key: key, CopySource: `${bucket}/${encodeURIComponent(key)}`, CopySourceIfMatch: `"${etag}"`,
          MetadataDirective: 'REPLACE', ContentType: options.contentType, Metadata: options.metadata,
        }),
        { abortSignal: options.signal },
      );
    } catch (error) {
      throw this.fail(error, bucket);
    }
  }

  /** Idempotent: deleting a missing object succeeds. */
  async delete(bucket: string, key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (!isNotFound(error) || (error as { name?: string }).name === 'NoSuchBucket') throw this.fail(error, bucket);
    }
  }
}
