/** The S3/MinIO driver of Store (path-style addressing, so MinIO on any host name works). */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Config } from '../config/load';
import { BackupNotFound, InputInvalid } from '../errors';

// We pin @aws-sdk 3.1175, which supports Node 20; its notice about future releases is not actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { classifyObjectStoreError } from './minio';
import type { ObjectInfo, Store } from './store';

export interface S3Settings {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  storageClass?: string;
}

export function s3SettingsFromConfig(remote: Config['remote']): S3Settings {
  if (!remote.bucket) throw new InputInvalid('S3_BUCKET', 'is not set', 'set S3_BUCKET (and REMOTE_STORAGE=true)');
  return { endpoint: remote.endpoint, region: remote.region, bucket: remote.bucket, accessKeyId: remote.accessKeyId, secretAccessKey: remote.secretAccessKey, storageClass: remote.storageClass };
}

export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: true,
    // Temporal owns retries: one quick SDK retry for a dropped connection, then fail the attempt.
    maxAttempts: 2,
    credentials: settings.accessKeyId && settings.secretAccessKey ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } : undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const unquote = (etag: string | undefined): string | undefined => etag?.replace(/"/g, '');

export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export class S3Store implements Store {
  readonly location: string;
  readonly client: S3Client;

  constructor(readonly settings: S3Settings, client?: S3Client) {
    this.location = `s3://${settings.bucket}`;
    this.client = client ?? createS3Client(settings);
  }

  private fail(error: unknown, key?: string): never {
    if (key !== undefined && isNotFound(error)) throw new BackupNotFound(`${key} does not exist in ${this.location}`);
    throw classifyObjectStoreError(error, `${this.settings.endpoint} (${this.location})`);
  }

  async put(key: string, body: Buffer, options: { metadata?: Record<string, string>; contentType?: string } = {}): Promise<ObjectInfo> {
    try {
      const result = await this.client.send(
        new PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentMD5: createHash('md5').update(body).digest('base64'),
          ContentType: options.contentType ?? 'application/octet-stream',
          Metadata: options.metadata,
          StorageClass: this.settings.storageClass as never,
        }),
      );
      return { key, size: body.length, modified: new Date(), etag: unquote(result.ETag) };
    } catch (error) {
      this.fail(error);
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      return result.Body as Readable;
    } catch (error) {
      this.fail(error, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      return { key, size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0), etag: unquote(head.ETag), metadata: head.Metadata };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      this.fail(error);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token }));
      } catch (error) {
        this.fail(error);
      }
      for (const item of page.Contents ?? []) {
        if (!item.Key) continue;
        yield { key: item.Key, size: item.Size ?? 0, modified: item.LastModified ?? new Date(0), etag: unquote(item.ETag) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
    } catch (error) {
      if (!isNotFound(error)) this.fail(error);
    }
  }
}
