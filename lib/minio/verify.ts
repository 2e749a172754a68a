/**
 * A bucket on the source MinIO against its copy on the backup MinIO, by content: both listings are
 * walked in key order; sizes and plain-MD5 ETags decide where they can, then our own records (the
 * sha256 the mirror recorded on the copy, the newest snapshot's manifest), and only then the bytes.
 */
import { LIFEBOAT_META } from './names';
import type { BucketStore } from './bucket-store';
import { ContentHasher } from './copy';
import { compareContent, pairListings, type ContentFacts } from './plan';

export interface VerifyReport {
  bucket: string;
  sourceObjects: number;
  backupObjects: number;
  matched: number;
  /** On the source, not on the backup. */
  missing: number;
  /** On the backup, not on the source. */
  extra: number;
  different: number;
  /** Objects whose bytes had to be read to compare (no plain MD5 ETag or recorded sha256). */
  hashed: number;
  /** The first few keys of each kind (the counts are complete). */
  samples: { missing: string[]; extra: string[]; different: { key: string; reason: string }[] };
  ok: boolean;
}

export type ManifestHashes = Map<string, { etag: string; size: number; sha256: string }>;

export interface VerifyBucketOptions {
  source: BucketStore;
  backup: BucketStore;
  bucket: string;
  /** sha256 per key of the newest snapshot of the bucket; read only when first needed. */
  manifestHashes: () => Promise<ManifestHashes>;
  /** Called after each source object is counted. */
  onProgress?: (compared: number) => void;
  signal?: AbortSignal;
}

const SAMPLE_LIMIT = 20;

/** Compare; the source bucket must exist (a missing backup bucket counts every object missing). */
export async function verifyBucketContent(options: VerifyBucketOptions): Promise<VerifyReport> {
  const { source: src, backup: dst, bucket } = options;
  const report: VerifyReport = { bucket, sourceObjects: 0, backupObjects: 0, matched: 0, missing: 0, extra: 0, different: 0, hashed: 0, samples: { missing: [], extra: [], different: [] }, ok: false };
  let manifest: ManifestHashes | undefined;
  const hashObject = async (store: BucketStore, key: string): Promise<{ md5: string; sha256: string } | undefined> => {
    const object = await store.get(bucket, key, options.signal);
    if (!object) return undefined;
    const hasher = new ContentHasher();
    for await (const _ of object.body.pipe(hasher)) void _;
    report.hashed++;
    return hasher.digests();
  };
  const targetExists = await dst.bucketExists(bucket);
  const empty = async function* (): AsyncGenerator<never> {};
  for await (const pair of pairListings(src.list(bucket), targetExists ? dst.list(bucket) : empty())) {
    if (pair.source) report.sourceObjects++;
    if (pair.target) report.backupObjects++;
    options.onProgress?.(report.sourceObjects);
    if (!pair.target) {
      report.missing++;
      if (report.samples.missing.length < SAMPLE_LIMIT) report.samples.missing.push(pair.key);
      continue;
    }
    if (!pair.source) {
      report.extra++;
      if (report.samples.extra.length < SAMPLE_LIMIT) report.samples.extra.push(pair.key);
      continue;
    }
    const a: ContentFacts = { size: pair.source.size, etag: pair.source.etag };
    const b: ContentFacts = { size: pair.target.size, etag: pair.target.etag };
    let outcome = compareContent(a, b);
    if (outcome.same === undefined) {
      // Our records first: the backup copy's recorded sha256, the newest snapshot's manifest.
      b.sha256 = (await dst.head(bucket, pair.key))?.metadata[LIFEBOAT_META.sha256];
      manifest ??= await options.manifestHashes();
      const known = manifest.get(pair.key);
      if (known && known.etag === a.etag && known.size === a.size) a.sha256 = known.sha256;
      outcome = compareContent(a, b);
    }
    if (outcome.same === undefined) {
      // Then the bytes themselves.
      for (const side of outcome.need) {
        const digests = await hashObject(side === 'source' ? src : dst, pair.key);
        if (digests) Object.assign(side === 'source' ? a : b, digests);
      }
      outcome = compareContent(a, b);
    }
    if (outcome.same === true) report.matched++;
    else {
      report.different++;
      if (report.samples.different.length < SAMPLE_LIMIT) report.samples.different.push({ key: pair.key, reason: outcome.same === false ? outcome.reason : 'could not be read to compare' });
    }
  }
  report.ok = report.missing === 0 && report.extra === 0 && report.different === 0;
  return report;
}
