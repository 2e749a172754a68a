/** Shared parts of the MinIO integration tests: own buckets with varied objects, comparisons, cleanup. */
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteBucketCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { WorkflowHandle } from '@temporalio/client';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../../lib/config/load';
import { BucketStore } from '../../lib/minio/bucket-store';
import { readAll } from '../../lib/minio/copy';

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A bucket name of this test run: `lbt-<what>-<id>`. */
export const testBucket = (what: string): string => `lbt-${what}-${randomUUID().slice(0, 8)}`;

export function stores(config: Config): { source: BucketStore; backup: BucketStore } {
  return { source: new BucketStore(config.minio.source, 'source'), backup: new BucketStore(config.minio.backup!, 'backup') };
}

export interface SampleObject {
  key: string;
  body: Buffer;
  contentType: string;
  metadata: Record<string, string>;
}

/** Objects with content types and user metadata, awkward keys, an empty one, a folder marker and (optionally) a multipart one. */
export function sampleObjects(options: { multipartBytes?: number } = {}): SampleObject[] {
  const objects: SampleObject[] = [
    { key: 'profiles/company-1.json', body: Buffer.from(JSON.stringify({ id: 1, name: 'Company 1' })), contentType: 'application/json', metadata: { source: 'crm', 'company-id': '1' } },
    { key: 'reports/2025/q1/report 1.csv', body: Buffer.from('quarter,revenue\nQ1,1000\n'), contentType: 'text/csv', metadata: { generator: 'finance-export' } },
    { key: 'users/1001/avatar.png', body: randomBytes(20_000), contentType: 'image/png', metadata: { 'uploaded-by': 'user-1001' } },
    { key: 'users/1001/docs/contract ü 1.pdf', body: randomBytes(8_000), contentType: 'application/pdf', metadata: { 'original-name': 'contract-1.pdf' } },
    { key: 'empty.txt', body: Buffer.alloc(0), contentType: 'text/plain', metadata: {} },
    { key: 'folder-marker/', body: Buffer.alloc(0), contentType: 'application/x-directory', metadata: {} },
    { key: `deep/${'segment/'.repeat(20)}long-name-${'x'.repeat(60)}.bin`, body: randomBytes(1_000), contentType: 'application/octet-stream', metadata: { note: 'a key longer than 100 bytes' } },
  ];
  for (let i = 0; i < 20; i++) objects.push({ key: `vectors/batch-${String(i).padStart(4, '0')}.f32`, body: randomBytes(1_000 + i * 97), contentType: 'application/octet-stream', metadata: { dims: '64', batch: String(i) } });
  if (options.multipartBytes) objects.push({ key: 'big/multipart.bin', body: randomBytes(options.multipartBytes), contentType: 'application/x-big', metadata: { kind: 'big' } });
  return objects;
}

/** Upload as a multipart upload in 5 MiB parts, so the object gets a multipart (`-N`) ETag. */
export async function putMultipart(store: BucketStore, bucket: string, o: SampleObject): Promise<void> {
  const part = 5 * 1024 * 1024;
  const { UploadId } = await store.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: o.key, ContentType: o.contentType, Metadata: o.metadata }));
  const parts: { PartNumber: number; ETag?: string }[] = [];
  for (let n = 1; (n - 1) * part < o.body.length; n++) {
    const r = await store.client.send(new UploadPartCommand({ Bucket: bucket, Key: o.key, UploadId, PartNumber: n, Body: o.body.subarray((n - 1) * part, n * part) }));
    parts.push({ PartNumber: n, ETag: r.ETag });
  }
  await store.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: o.key, UploadId, MultipartUpload: { Parts: parts } }));
}

/** Create `bucket` on the source and upload `objects` (those over 5 MiB as multipart uploads). */
export async function seedBucket(config: Config, bucket: string, objects: SampleObject[]): Promise<void> {
  const { source } = stores(config);
  await source.ensureBucket(bucket);
  const queue = [...objects];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let o = queue.shift(); o; o = queue.shift()) {
        if (o.body.length > 5 * 1024 * 1024) await putMultipart(source, bucket, o);
        else await source.putBuffer(bucket, o.key, o.body, { contentType: o.contentType, metadata: o.metadata });
      }
    }),
  );
}

export interface StoredObject {
  sha256: string;
  size: number;
  contentType: string;
  metadata: Record<string, string>;
}

/** Every object of a bucket, read in full and hashed, with its content type and user metadata. */
export async function readBucket(store: BucketStore, bucket: string): Promise<Map<string, StoredObject>> {
  const out = new Map<string, StoredObject>();
  for await (const listed of store.list(bucket)) {
    const object = (await store.get(bucket, listed.key))!;
    const body = await readAll(object);
    out.set(listed.key, { sha256: sha256(body), size: body.length, contentType: object.contentType, metadata: object.metadata });
  }
  return out;
}

export function expected(objects: SampleObject[]): Map<string, StoredObject> {
  return new Map(objects.map((o) => [o.key, { sha256: sha256(o.body), size: o.body.length, contentType: o.contentType, metadata: o.metadata }]));
}

/** Remove a test bucket and everything in it (missing buckets are fine). */
export async function dropBucket(store: BucketStore, bucket: string): Promise<void> {
  if (!(await store.bucketExists(bucket))) return;
  const keys: string[] = [];
  for await (const o of store.list(bucket)) keys.push(o.key);
  const queue = [...keys];
  await Promise.all(Array.from({ length: 16 }, async () => { for (let k = queue.shift(); k !== undefined; k = queue.shift()) await store.delete(bucket, k); }));
  await store.client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** Poll until `probe` gives a value (no fixed sleeps). */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The pending activity of a type: its attempt and last failure. */
export async function pendingActivity(handle: WorkflowHandle, type: string): Promise<{ attempt: number; lastFailure?: string } | undefined> {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  const activity = pending.find((a) => a.activityType?.name === type);
  return activity ? { attempt: activity.attempt ?? 0, lastFailure: activity.lastFailure?.message ?? undefined } : undefined;
}

/** The failure type (ApplicationFailure type) and message of a failed workflow. */
export async function failureOf(result: Promise<unknown>): Promise<{ type?: string; message: string }> {
  try {
    await result;
  } catch (error) {
    let cause: unknown = error;
    const messages: string[] = [];
    while (cause && typeof cause === 'object') {
      const c = cause as { type?: string; message?: string; cause?: unknown };
      if (c.message) messages.push(c.message);
      if (typeof c.type === 'string') return { type: c.type, message: messages.join(': ') };
      cause = c.cause;
    }
    return { message: messages.join(': ') };
  }
  throw new Error('the workflow succeeded, a failure was expected');
}
