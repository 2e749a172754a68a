/**
 * Resumable, verified upload of a local file to S3/MinIO.
 *
 * The server is the truth for what was uploaded: on a retry (say, after the worker was killed) the
 * upload id comes from the checkpoint, or else from the key's in-progress uploads (one whose first
 * part is other bytes belongs to another file and is aborted); ListParts says which parts arrived,
 * each is re-checked against the local file's MD5 for that range, and only the missing ones are sent.
 * Every part carries Content-MD5, so the server rejects a corrupted part.
 * The file is read once, in order, and its sha256 must equal the one recorded for it (which becomes
 * the object's `x-amz-meta-sha256`) before the upload is completed; a file that changed is a
 * ChecksumMismatch and its unfinished upload is aborted. After completion the object is checked
 * (size, multipart ETag recomputed locally, sha256 metadata) and any other in-progress upload of the
 * same key is aborted, so no partial or duplicate object is left behind.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand,
  ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { ChecksumMismatch } from '../errors';
import { classifyObjectStoreError } from './minio';
import { isNotFound } from './s3-store';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export interface UploadCheckpoint {
  uploadId: string;
  partSize: number;
  partsDone: number;
  partsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface UploadFileOptions {
  client: S3Client;
  bucket: string;
  key: string;
  file: string;
  /** sha256 of the file, recorded as `x-amz-meta-sha256` and checked after completion. */
  sha256: string;
  storageClass?: string;
  contentType?: string;
  partSize?: number;
  /** Checkpoint from a previous attempt (heartbeat details). */
  checkpoint?: Partial<UploadCheckpoint>;
  /** Called after every part (the activity heartbeats it). */
  onProgress?: (checkpoint: UploadCheckpoint) => void;
  /** Bandwidth cap in bytes per second. */
  rateLimit?: number;
  /** Parts sent at the same time (default 3); memory is about (concurrency + 1) x partSize. */
  concurrency?: number;
  signal?: AbortSignal;
  endpointForMessages: string;
}

export interface UploadResult {
  key: string;
  bytes: number;
  etag: string;
  parts: number;
  /** Parts found already uploaded by an earlier attempt. */
  resumedParts: number;
  /** True when the complete object was already there. */
  alreadyPresent: boolean;
}

const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();
const unquote = (etag: string | undefined): string => (etag ?? '').replace(/"/g, '');

export async function uploadFileResumable(options: UploadFileOptions): Promise<UploadResult> {
  const { client, bucket, key } = options;
  const fail = (error: unknown): never => {
    throw classifyObjectStoreError(error, options.endpointForMessages);
  };
  const size = (await stat(options.file)).size;
  // S3 allows 10,000 parts: very large files get larger parts (rounded up to whole MiB).
  const minForSize = Math.ceil(size / MAX_PARTS / (1024 * 1024)) * 1024 * 1024;
  const partSize = Math.max(MIN_PART_SIZE, minForSize, options.checkpoint?.partSize ?? options.partSize ?? 16 * 1024 * 1024);

  // Already complete (an earlier attempt finished but did not get to report it)?
  const existing = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch((e: unknown) => (isNotFound(e) ? undefined : fail(e)));
  if (existing && existing.ContentLength === size && existing.Metadata?.sha256 === options.sha256) {
    await abortOtherUploads(client, bucket, key, undefined).catch(fail);
    return { key, bytes: size, etag: unquote(existing.ETag), parts: 0, resumedParts: 0, alreadyPresent: true };
  }

  const handle = await open(options.file, 'r');
  try {
    /** Part `index` of the file, read into `into` (reused) or a fresh buffer. */
    const readPart = async (index: number, into?: Buffer): Promise<Buffer> => {
      const start = index * partSize;
      const length = Math.min(partSize, size - start);
      const buffer = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, start);
      if (bytesRead !== length) throw new ChecksumMismatch(`${options.file} shrank while uploading (read ${bytesRead} of ${length} bytes at ${start})`);
      return buffer;
    };

    const wrongFile = (actual: string): ChecksumMismatch =>
      new ChecksumMismatch(`${options.file} no longer matches its recorded sha256 (file ${actual}, recorded ${options.sha256}); it was not uploaded as ${key}`);

    if (size <= partSize) {
      const body = await readPart(0);
      // The object's sha256 metadata must describe its bytes: check before sending anything.
      const actual = createHash('sha256').update(body).digest('hex');
      if (actual !== options.sha256) throw wrongFile(actual);
      const result = await client
        .send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: size, ContentMD5: md5(body).toString('base64'), Metadata: { sha256: options.sha256 }, StorageClass: options.storageClass as never, ContentType: options.contentType }))
        .catch(fail);
      await verifyObject(options, size, md5(body).toString('hex'));
      return { key, bytes: size, etag: unquote(result.ETag), parts: 1, resumedParts: 0, alreadyPresent: false };
    }

    const partsTotal = Math.ceil(size / partSize);
    let firstMd5: string | undefined;
    const firstPartMd5 = async (): Promise<string> => (firstMd5 ??= md5(await readPart(0)).toString('hex'));
    const uploadId = await findOrCreateUpload(options, partSize, firstPartMd5).catch((e: unknown) => {
      if (e instanceof ChecksumMismatch) throw e; // the local file, not the server
      return fail(e);
    });
    // What the server already holds; each part is re-checked against the local bytes before it counts.
    const onServer = new Map<number, { etag: string; size: number | undefined }>();
    for (const part of await listParts(client, bucket, key, uploadId).catch(fail)) {
      if (part.PartNumber && part.PartNumber <= partsTotal) onServer.set(part.PartNumber, { etag: unquote(part.ETag), size: part.Size });
    }
    const done = new Map<number, Buffer>();
    let resumedParts = 0;
    let bytesDone = 0;
    const report = (): void => options.onProgress?.({ uploadId, partSize, partsDone: done.size, partsTotal, bytesDone, bytesTotal: size });
    report();

    // One pass over the file in order: every part is read once, hashed into the whole file's sha256,
    // and either matched to the part the server holds or sent. Up to `concurrency` parts are in
    // flight; their buffers come from a pool, so memory stays at (concurrency + 1) parts.
    const whole = createHash('sha256');
    const started = Date.now();
    const concurrency = Math.max(1, options.concurrency ?? 3);
    const pool: Buffer[] = [];
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    let sentThisAttempt = 0;
    for (let n = 1; n <= partsTotal; n++) {
      options.signal?.throwIfAborted();
      if (failure !== undefined) break;
      const buffer = pool.pop() ?? Buffer.allocUnsafe(partSize);
      const body = await readPart(n - 1, buffer);
      whole.update(body);
      const digest = md5(body);
      const held = onServer.get(n);
      if (held && held.etag === digest.toString('hex') && held.size === body.length) {
        resumedParts++;
        done.set(n, digest);
        bytesDone += body.length;
        pool.push(buffer);
        report();
        continue;
      }
      while (inflight.size >= concurrency) await Promise.race(inflight);
      const part = n;
      const sending: Promise<void> = client
        .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: part, Body: body, ContentLength: body.length, ContentMD5: digest.toString('base64') }), { abortSignal: options.signal })
        .then((result) => {
          if (unquote(result.ETag) !== digest.toString('hex')) {
            throw new ChecksumMismatch(`part ${part} of ${key}: server ETag ${unquote(result.ETag)} is not the part's MD5 ${digest.toString('hex')}`);
          }
          done.set(part, digest);
          bytesDone += body.length;
          report();
        })
        .catch((error: unknown) => {
          failure ??= error;
        })
        .finally(() => {
          inflight.delete(sending);
          pool.push(buffer);
        });
      inflight.add(sending);
      sentThisAttempt += body.length;
      if (options.rateLimit) {
        const ahead = (sentThisAttempt / options.rateLimit) * 1000 - (Date.now() - started);
        if (ahead > 0) await delay(ahead, undefined, { signal: options.signal });
      }
    }
    await Promise.all(inflight);
    if (failure !== undefined) {
      if (failure instanceof ChecksumMismatch) throw failure;
      fail(failure);
    }

    // Never complete an object whose sha256 metadata would not describe its bytes: the parts are
    // of a file that changed after its sha256 was recorded, so they are of no use to any attempt.
    const actual = whole.digest('hex');
    if (actual !== options.sha256) {
      await abortOtherUploads(client, bucket, key, undefined).catch(() => 0);
      throw wrongFile(actual);
    }

    const parts = [...done.entries()].sort(([a], [b]) => a - b);
    const result = await client
      .send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts.map(([n, d]) => ({ PartNumber: n, ETag: `"${d.toString('hex')}"` })) } }))
      .catch(fail);
    const composite = `${md5(Buffer.concat(parts.map(([, d]) => d))).toString('hex')}-${parts.length}`;
    await verifyObject(options, size, composite);
    await abortOtherUploads(client, bucket, key, undefined).catch(fail);
    return { key, bytes: size, etag: unquote(result.ETag) || composite, parts: parts.length, resumedParts, alreadyPresent: false };
  } finally {
    await handle.close();
  }
}

async function verifyObject(options: UploadFileOptions, size: number, expectedEtag: string): Promise<void> {
  const head = await options.client.send(new HeadObjectCommand({ Bucket: options.bucket, Key: options.key })).catch((e: unknown) => {
    throw classifyObjectStoreError(e, options.endpointForMessages);
  });
  const etag = unquote(head.ETag);
  if (head.ContentLength !== size || etag !== expectedEtag) {
    throw new ChecksumMismatch(`uploaded ${options.key} does not match the local file: size ${head.ContentLength} vs ${size}, etag ${etag} vs ${expectedEtag}`);
  }
  if (head.Metadata?.sha256 !== options.sha256) {
    // The bytes are right but the label is not: the resumed upload was started for another file that
    // shared its first part, and S3 fixes metadata when an upload is created. Remove the mislabeled
    // object; the retry (this error is retryable) uploads afresh with the right label.
    await options.client.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: options.key })).catch(() => undefined);
    throw new Error(`uploaded ${options.key} carried sha256 ${head.Metadata?.sha256 ?? '(none)'} of an earlier upload instead of ${options.sha256}; removed it to upload again`);
  }
}

async function findOrCreateUpload(options: UploadFileOptions, partSize: number, firstPartMd5: () => Promise<string>): Promise<string> {
  const { client, bucket, key } = options;
  const candidates: string[] = [];
  if (options.checkpoint?.uploadId && options.checkpoint.partSize === partSize) candidates.push(options.checkpoint.uploadId);
  const inProgress = await listUploads(client, bucket, key);
  // Newest first: the most recent attempt uploaded the most parts.
  candidates.push(...inProgress.sort((a, b) => b.initiated - a.initiated).map((u) => u.uploadId));
  for (const uploadId of candidates) {
    let first: { PartNumber?: number; ETag?: string } | undefined;
    try {
      first = (await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 1 }))).Parts?.[0];
    } catch (error) {
      if ((error as { name?: string }).name !== 'NoSuchUpload') throw error;
      continue;
    }
    // A first part of other bytes means the upload was started for another file (the artifact was
    // produced again, e.g. encrypted anew): it carries that file's sha256, so abort it, don't resume it.
    if (first?.PartNumber === 1 && unquote(first.ETag) !== (await firstPartMd5())) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch((error: unknown) => {
        if ((error as { name?: string }).name !== 'NoSuchUpload') throw error;
      });
      continue;
    }
    return uploadId;
  }
  const created = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: { sha256: options.sha256 }, StorageClass: options.storageClass as never, ContentType: options.contentType }),
  );
  if (!created.UploadId) throw new Error('CreateMultipartUpload returned no upload id');
  return created.UploadId;
}

async function listUploads(client: S3Client, bucket: string, key: string): Promise<{ uploadId: string; initiated: number }[]> {
  const out: { uploadId: string; initiated: number }[] = [];
  let keyMarker: string | undefined;
  let idMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
    for (const u of page.Uploads ?? []) if (u.Key === key && u.UploadId) out.push({ uploadId: u.UploadId, initiated: u.Initiated?.getTime() ?? 0 });
    if (!page.IsTruncated) return out;
    keyMarker = page.NextKeyMarker;
    idMarker = page.NextUploadIdMarker;
  }
}

async function listParts(client: S3Client, bucket: string, key: string, uploadId: string) {
  const parts: { PartNumber?: number; ETag?: string; Size?: number }[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
    parts.push(...(page.Parts ?? []));
    if (!page.IsTruncated) return parts;
    marker = page.NextPartNumberMarker;
  }
}

/** Abort every in-progress multipart upload of `key` except `keep`. */
export async function abortOtherUploads(client: S3Client, bucket: string, key: string, keep: string | undefined): Promise<number> {
  let aborted = 0;
  for (const upload of await listUploads(client, bucket, key)) {
    if (upload.uploadId === keep) continue;
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId })).catch((error: unknown) => {
      if ((error as { name?: string }).name !== 'NoSuchUpload') throw error;
    });
    aborted++;
  }
  return aborted;
}
