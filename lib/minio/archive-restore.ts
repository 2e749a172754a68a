/**
 * Restoring a bucket snapshot into a bucket, in two passes over the archive, both streamed:
 *  1. check: the file's sha256 against its metadata, then decrypt + decompress + read every tar
 *     entry, refusing links, devices, absolute paths, `..` and anything outside `<bucket>_<stamp>/`,
 *     and checking each object against the manifest (size, sha256). Nothing is written in this pass,
 *     so an unsafe or damaged archive leaves every bucket untouched.
 *  2. restore: stream again and write each object with its content type and user metadata from the
 *     manifest; small objects upload in parallel (bounded), large ones stream straight through.
 *     Resumable: the checkpoint counts the entries settled in archive order; a retry skips them.
 */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { PrivateKey } from 'openpgp';
import * as tar from 'tar-stream';
import { ChecksumMismatch, OperationRefused } from '../errors';
import { decodeStream } from '../pipeline/codec';
import { HashCounter } from '../pipeline/hash';
import type { BucketStore } from './bucket-store';
import { ContentHasher, SMALL_OBJECT_BYTES } from './copy';
import type { ManifestEntry, SnapshotMetadata } from './metadata';
import { archiveEntryProblem, entryObjectKey, isPlainMd5Etag, type SnapshotEncoding } from './names';
import { OrderedProgress } from './plan';

export interface ArchiveSource {
  file: string;
  metadata: SnapshotMetadata;
  encoding: SnapshotEncoding;
  privateKeys: PrivateKey[] | undefined;
}

/** The object key an entry stands for, after the safety checks; throws OperationRefused otherwise. */
function checkedKey(header: tar.Header, root: string): { key: string; directory: boolean } {
  const problem = archiveEntryProblem({ name: header.name, type: header.type }, root);
  if (problem) throw new OperationRefused(`archive entry ${problem}; nothing was restored`, 'restore only archives Lifeboat wrote, or extract this one by hand and inspect it');
  const directory = header.type === 'directory';
  const key = entryObjectKey(header.name.replace(/\/$/, ''), root);
  return { key: directory ? `${key}/` : key, directory };
}

/** Read every entry of the archive in order, calling `onEntry` with its body (which it must consume). */
async function readArchive(source: ArchiveSource, onEntry: (header: tar.Header, body: Readable) => Promise<void>, onFileBytes?: (n: number) => void): Promise<{ sha256: string; bytes: number }> {
  const file = createReadStream(source.file, { highWaterMark: 1 << 20 });
  const counter = new HashCounter(onFileBytes);
  file.on('error', (error) => counter.destroy(error));
  file.pipe(counter);
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    onEntry(header, body as unknown as Readable).then(
      () => next(),
      (error: unknown) => {
        body.resume();
        extract.destroy(error as Error);
      },
    );
  });
  await decodeStream(counter, source.encoding, source.privateKeys, extract as unknown as Writable);
  return { sha256: counter.digest(), bytes: counter.bytes };
}

function manifestIndex(metadata: SnapshotMetadata): Map<string, ManifestEntry> {
  const index = new Map<string, ManifestEntry>();
  for (const entry of metadata.manifest) {
    const problem = archiveEntryProblem({ name: `${metadata.root}/${entry.key}`, type: entry.key.endsWith('/') ? 'directory' : 'file' }, metadata.root);
    if (problem) throw new OperationRefused(`manifest entry ${problem}; nothing was restored`);
    index.set(entry.key, entry);
  }
  return index;
}

/**
 * Pass 1: prove the archive is the one recorded and safe to restore, without writing anything.
 * Returns the number of objects it holds.
 */
export async function checkSnapshotArchive(source: ArchiveSource, onFileBytes?: (n: number) => void): Promise<{ objects: number; bytes: number }> {
  const { metadata } = source;
  const index = manifestIndex(metadata);
  const seen = new Set<string>();
  let problem: Error | undefined;
  let facts: { sha256: string; bytes: number };
  try {
    facts = await readArchive(
      source,
      async (header, body) => {
        const { key, directory } = checkedKey(header, metadata.root);
        const expected = index.get(key);
        if (!expected) {
          if (directory) {
            // Directories tar made for nested keys are not objects.
            for await (const _ of body) void _;
            return;
          }
          throw new OperationRefused(`archive entry ${JSON.stringify(header.name)} is not in the snapshot's manifest; nothing was restored`);
        }
        if (seen.has(key)) throw new OperationRefused(`archive entry ${JSON.stringify(header.name)} appears twice; nothing was restored`);
        seen.add(key);
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of body) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        const sha256 = hash.digest('hex');
        if (size !== expected.size || sha256 !== expected.sha256) {
          throw new ChecksumMismatch(`archive entry ${JSON.stringify(header.name)} does not match the manifest (${size} bytes, sha256 ${sha256.slice(0, 16)}...; manifest: ${expected.size} bytes, ${expected.sha256.slice(0, 16)}...)`);
        }
      },
      onFileBytes,
    );
  } catch (error) {
    problem = error as Error;
  }
  if (problem) throw problem;
  if (facts!.sha256 !== metadata.sha256 || facts!.bytes !== metadata.bytes) {
    throw new ChecksumMismatch(`${source.file}: ${facts!.bytes} bytes with sha256 ${facts!.sha256.slice(0, 16)}..., the metadata records ${metadata.bytes} bytes and ${metadata.sha256.slice(0, 16)}...`);
  }
  const missing = metadata.manifest.filter((e) => !seen.has(e.key));
  if (missing.length > 0) throw new ChecksumMismatch(`the archive lacks ${missing.length} object(s) of its manifest, e.g. ${JSON.stringify(missing[0]!.key)}`);
  return { objects: seen.size, bytes: facts!.bytes };
}

export interface RestoreCheckpoint {
  /** Entries of the archive (in archive order) that are settled: restored or deliberately skipped. */
  entriesDone: number;
  restored: number;
  bytes: number;
}

export interface RestoreArchiveOptions {
  source: ArchiveSource;
  to: BucketStore;
  bucket: string;
  concurrency: number;
  checkpoint?: Partial<RestoreCheckpoint>;
  onProgress?: (checkpoint: RestoreCheckpoint) => void;
  signal?: AbortSignal;
}

/** Pass 2: write every object into `bucket` (run checkSnapshotArchive first). */
export async function restoreSnapshotArchive(options: RestoreArchiveOptions): Promise<RestoreCheckpoint & { skippedOnResume: number }> {
  const { source, to, bucket, signal } = options;
  const index = manifestIndex(source.metadata);
  const resumeFrom = options.checkpoint?.entriesDone ?? 0;
  const cp: RestoreCheckpoint = { entriesDone: resumeFrom, restored: options.checkpoint?.restored ?? 0, bytes: options.checkpoint?.bytes ?? 0 };
  const progress = new OrderedProgress<{ bytes: number; restored: boolean }>(undefined);
  const settle = (seq: number, outcome: { bytes: number; restored: boolean }): void => {
    for (const o of progress.finish(seq, outcome)) {
      cp.entriesDone++;
      if (o.restored) cp.restored++;
      cp.bytes += o.bytes;
    }
    options.onProgress?.(cp);
  };
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let position = 0;
  const written = (where: string, etag: string, md5: string): void => {
    if (isPlainMd5Etag(etag) && etag !== md5) throw new ChecksumMismatch(`${where}: the server stored ETag ${etag} but the bytes sent have MD5 ${md5}`);
  };

  await readArchive(source, async (header, body) => {
    if (failure) throw failure.error;
    signal?.throwIfAborted();
    const { key } = checkedKey(header, source.metadata.root);
    const expected = index.get(key);
    if (position++ < resumeFrom) {
      // Settled by an earlier attempt (counted in its checkpoint).
      for await (const _ of body) void _;
      return;
    }
    const seq = progress.add(key);
    if (!expected) {
      // Not an object: a directory entry tar made for nested keys.
      for await (const _ of body) void _;
      settle(seq, { bytes: 0, restored: false });
      return;
    }
    const where = `${bucket}/${key} on ${to.label}`;
    const write = { contentType: expected.contentType, metadata: expected.metadata, signal };
    if (expected.size <= SMALL_OBJECT_BYTES) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      const task: Promise<void> = to.putBuffer(bucket, key, data, write).then(
        (etag) => {
          written(where, etag, createHash('md5').update(data).digest('hex'));
          settle(seq, { bytes: data.length, restored: true });
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      running.add(task);
      void task.finally(() => running.delete(task));
      while (running.size >= options.concurrency) await Promise.race(running);
    } else {
      const hasher = new ContentHasher();
      const entry = body as Readable;
      entry.on('error', (error) => hasher.destroy(error));
      const etag = await to.putStream(bucket, key, entry.pipe(hasher), expected.size, write);
      const { md5, sha256 } = hasher.digests();
      if (sha256 !== expected.sha256) throw new ChecksumMismatch(`${header.name}: sha256 ${sha256.slice(0, 16)}... does not match the manifest's ${expected.sha256.slice(0, 16)}...`);
      written(where, etag, md5);
      settle(seq, { bytes: hasher.bytes, restored: true });
    }
  }).catch((error: unknown) => {
    failure ??= { error };
  });
  await Promise.all(running);
  if (failure) throw failure.error;
  return { ...cp, skippedOnResume: resumeFrom };
}
