/**
 * A bucket snapshot in one pass: objects are read one after another (small ones prefetched a few
 * ahead) and streamed into a tar archive, which flows through the artifact pipeline (compression
 * -> OpenPGP -> sha256 -> temporary file, fsynced and renamed). Nothing is staged: memory holds at
 * most `prefetch` small objects and the pipeline's buffers; plaintext never touches disk. Every
 * object is hashed as it passes, giving the manifest (key, size, ETag, sha256, content type, user
 * metadata) that goes into the snapshot's metadata record.
 */
import { createHash } from 'node:crypto';
import * as tar from 'tar-stream';
import type { EncryptionKey } from '../crypto/openpgp';
import { ChecksumMismatch, OperationRefused } from '../errors';
import type { ArtifactFacts } from '../pipeline/artifact';
import { writeTarArtifact } from '../pipeline/tar-artifact';
import type { BucketStore, ObjectBody } from './bucket-store';
import { ContentHasher, readAll, SMALL_OBJECT_BYTES } from './copy';
import type { ManifestEntry } from './metadata';
import { archiveEntryProblem, type SnapshotName } from './names';
import type { ListedObject } from './plan';

export interface WriteSnapshotOptions {
  store: BucketStore;
  name: SnapshotName;
  /** Absolute path of the archive to write. */
  target: string;
  compression: { algorithm: 'gzip' | 'zstd'; level: number };
  encryptionKey?: EncryptionKey;
  /** Small objects read ahead of the one being archived. */
  prefetch: number;
  onProgress?: (p: SnapshotProgress) => void;
  signal?: AbortSignal;
}

export interface SnapshotProgress {
  objects: number;
  objectBytes: number;
  writtenBytes: number;
}

export interface SnapshotResult extends ArtifactFacts {
  manifest: ManifestEntry[];
  objectBytes: number;
}

type Fetched = { listed: ListedObject; object?: ObjectBody; buffer?: Buffer };

/** Promise of an entry written (tar-stream's callback, which also carries back-pressure). */
function addEntry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
  });
}

export async function writeSnapshot(options: WriteSnapshotOptions): Promise<SnapshotResult> {
  const { store, name, signal } = options;
  const bucket = name.bucket;
  const pack = tar.pack();
  const manifest: ManifestEntry[] = [];
  let objectBytes = 0;
  let writtenBytes = 0;
  const report = (): void => options.onProgress?.({ objects: manifest.length, objectBytes, writtenBytes });

  // Read-ahead of small objects; large ones are opened when their turn comes and streamed.
  const fetchAhead = (listed: ListedObject): Promise<Fetched> => {
    if (listed.size > SMALL_OBJECT_BYTES) return Promise.resolve({ listed });
    return store.get(bucket, listed.key, signal).then(async (object) => (object ? { listed, object, buffer: await readAll(object) } : { listed }));
  };

  const produce = async (): Promise<void> => {
    const listing = store.list(bucket);
    const window: Promise<Fetched>[] = [];
    let listingDone = false;
    const fill = async (): Promise<void> => {
      while (!listingDone && window.length < Math.max(1, options.prefetch)) {
        const next = await listing.next();
        if (next.done) {
          listingDone = true;
          break;
        }
        const p = fetchAhead(next.value);
        p.catch(() => undefined); // observed when its turn comes
        window.push(p);
      }
    };
    await fill();
    while (window.length > 0) {
      signal?.throwIfAborted();
      const fetched = await window.shift()!;
      await fill();
      const { listed } = fetched;
      const isDir = listed.key.endsWith('/');
      const entryName = `${name.root}/${listed.key}`;
      const problem = archiveEntryProblem({ name: entryName, type: isDir ? 'directory' : 'file' }, name.root);
      if (problem) throw new OperationRefused(`object key ${problem}: it cannot be archived safely`, 'rename the object; keys with "..", "." or empty segments are not portable');
      let object = fetched.object;
      if (!object && fetched.buffer === undefined) object = await store.get(bucket, listed.key, signal);
      if (!object) continue; // deleted since the listing: not part of this snapshot
      const mtime = new Date(object.modified || listed.modified);
      let sha256: string;
      let size: number;
      if (fetched.buffer !== undefined || isDir) {
        const body = fetched.buffer ?? (await readAll(object));
        if (body.length !== object.size) throw new ChecksumMismatch(`${bucket}/${listed.key}: read ${body.length} bytes, the server announced ${object.size}`);
        await addEntry(pack, { name: entryName, type: isDir ? 'directory' : 'file', size: isDir ? 0 : body.length, mtime, mode: isDir ? 0o755 : 0o644 }, isDir ? undefined : body);
        sha256 = createHash('sha256').update(body).digest('hex');
        size = body.length;
      } else {
        const hasher = new ContentHasher();
        const entry = pack.entry({ name: entryName, type: 'file', size: object.size, mtime, mode: 0o644 });
        await new Promise<void>((resolve, reject) => {
          object.body.once('error', reject);
          hasher.once('error', reject);
          entry.once('error', reject);
          entry.once('finish', resolve);
          object.body.pipe(hasher).pipe(entry);
        }).catch((error: unknown) => {
          object.body.destroy();
          throw error;
        });
        if (hasher.bytes !== object.size) throw new ChecksumMismatch(`${bucket}/${listed.key}: read ${hasher.bytes} bytes, the server announced ${object.size}`);
        sha256 = hasher.digests().sha256;
        size = hasher.bytes;
      }
      manifest.push({ key: listed.key, size, etag: object.etag, sha256, contentType: object.contentType, metadata: object.metadata, modified: mtime.toISOString() });
      objectBytes += size;
      report();
    }
    pack.finalize();
  };

  const facts = await writeTarArtifact(pack, produce, {
    target: options.target,
    compression: options.compression,
    encryptionKey: options.encryptionKey,
    onWritten: (written) => {
      writtenBytes = written;
    },
    signal,
    // A source failure (e.g. the server went away) is the source's failure, classified as such.
    mapError: (error) => ((error as { permanent?: unknown }).permanent === undefined && (error as { code?: unknown }).code !== undefined ? store.fail(error, bucket) : error),
  });
  report();
  return { ...facts, manifest, objectBytes };
}
