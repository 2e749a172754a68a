/**
 * The local stack's two MinIO servers: "source" (production object storage, holding the seed's
 * buckets with sample objects) and "backup" (mirror/replication target and the off-site S3 bucket).
 * Starting and stopping a MinIO server is lib/servers/minio.ts; the stack's sample data is here.
 */
import type { Client as MinioClient } from 'minio';

export { minioClient, minioMarkers, minioPaths, startMinio, waitForMinio, type MinioServerOptions } from '../../lib/servers/minio';

/** Deterministic pseudo-random bytes (xorshift), so sample objects are the same on every stack. */
function sampleBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

interface SampleObject {
  key: string;
  body: Buffer;
  contentType: string;
  meta: Record<string, string>;
}

function sampleObjects(bucket: string): SampleObject[] {
  const objects: SampleObject[] = [];
  for (let i = 1; i <= 12; i++) {
    if (bucket === 'company-data') {
      const doc = { id: i, name: `Company ${i}`, industry: ['energy', 'software', 'retail'][i % 3], revenue: i * 1_234_567.89, updated: `2025-10-${String(i).padStart(2, '0')}T08:00:00Z` };
      objects.push({ key: `profiles/company-${i}.json`, body: Buffer.from(JSON.stringify(doc, null, 2)), contentType: 'application/json', meta: { source: 'crm', 'company-id': String(i) } });
      objects.push({ key: `reports/2025/q${1 + (i % 4)}/report-${i}.csv`, body: Buffer.from(`quarter,revenue,margin\n${Array.from({ length: 50 }, (_, r) => `Q${1 + (r % 4)},${(r + 1) * i * 1000},${((r * 7) % 30) / 100}`).join('\n')}\n`), contentType: 'text/csv', meta: { generator: 'finance-export' } });
    } else if (bucket === 'embeddings') {
      objects.push({ key: `vectors/batch-${String(i).padStart(4, '0')}.f32`, body: sampleBytes(i * 7919, 64 * 4 * 64), contentType: 'application/octet-stream', meta: { dims: '64', count: '64', model: 'minilm-l6' } });
    } else {
      objects.push({ key: `users/${1000 + i}/avatar.png`, body: Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), sampleBytes(i * 104729, 20_000 + i * 500)]), contentType: 'image/png', meta: { 'uploaded-by': `user-${1000 + i}` } });
      objects.push({ key: `users/${1000 + i}/docs/contract ${i}.pdf`, body: Buffer.concat([Buffer.from('%PDF-1.4\n'), sampleBytes(i * 1299709, 8_000)]), contentType: 'application/pdf', meta: { 'original-name': `contract-${i}.pdf` } });
    }
  }
  return objects;
}

/** Create the seed's buckets on the source with sample objects (only into empty buckets). */
export async function ensureSourceBuckets(client: MinioClient, buckets: readonly string[]): Promise<number> {
  let written = 0;
  for (const bucket of buckets) {
    if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
    const first = await new Promise<boolean>((resolve, reject) => {
      const stream = client.listObjectsV2(bucket, '', true);
      stream.once('data', () => { resolve(true); stream.destroy(); });
      stream.once('end', () => resolve(false));
      stream.once('error', reject);
    });
    if (first) continue;
    for (const object of sampleObjects(bucket)) {
      const meta: Record<string, string> = { 'Content-Type': object.contentType };
      for (const [k, v] of Object.entries(object.meta)) meta[`X-Amz-Meta-${k}`] = v;
      await client.putObject(bucket, object.key, object.body, object.body.length, meta);
      written++;
    }
  }
  return written;
}

export async function ensureBucket(client: MinioClient, bucket: string): Promise<void> {
  if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
}
