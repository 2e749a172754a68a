/**
 * Bucket snapshots on the real stack: snapshot -> restore into an empty bucket gives byte-identical
 * objects with content types and user metadata; the archive is restorable by hand (gpg | tar) with
 * the seed's layout; unsafe archives are refused with nothing written; bad input is refused.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotMetadata } from '../../lib/minio/metadata';
import { parseSnapshotMetadata } from '../../lib/minio/metadata';
import { snapshotName } from '../../lib/minio/names';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import type { BackupBucketsResult } from '../../workflows/backup-buckets';
import type { RestoreBucketResult } from '../../workflows/restore-bucket';
import { startTestWorker, type TestWorkerHandle } from './helpers';
import { dropBucket, expected, failureOf, readBucket, sampleObjects, seedBucket, sha256, stores, testBucket } from './minio-helpers';

describe('MinIO snapshots', () => {
  const bucket = testBucket('snap');
  const objects = sampleObjects({ multipartBytes: 11 * 1024 * 1024 + 5 });
  const created: { server: 'source' | 'backup'; bucket: string }[] = [{ server: 'source', bucket }];
  const files: string[] = [];
  let worker: TestWorkerHandle;
  let snapshotDir: string;

  beforeAll(async () => {
    worker = await startTestWorker({ overrides: { BUCKETS_TO_BACKUP: bucket } });
    snapshotDir = join(worker.config.minio.backupRoot, 'snapshots');
    await seedBucket(worker.config, bucket, objects);
  });

  afterAll(async () => {
    const s = stores(worker.config);
    for (const c of created) await dropBucket(s[c.server], c.bucket);
    const remote = new S3Store(s3SettingsFromConfig(worker.config.remote));
    for (const file of files) {
      rmSync(join(snapshotDir, file), { force: true });
      rmSync(join(snapshotDir, `${file}.metadata.json`), { force: true });
      await remote.delete(`minio-snapshots/${file}`);
      await remote.delete(`minio-snapshots/${file}.metadata.json`);
    }
    await worker.stop();
  });

  const run = <T>(type: string, input: unknown): Promise<T> =>
    worker.env.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: `test-${type}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [input] }) as Promise<T>;

  let snapshot: BackupBucketsResult['snapshots'][number];

  it('snapshots a bucket into <bucket>_<stamp>.tar.gz.gpg with a manifest, local and off-site', async () => {
    const result = await run<BackupBucketsResult>('backupBuckets', {});
    expect(result.snapshots).toHaveLength(1);
    snapshot = result.snapshots[0]!;
    files.push(snapshot.file);
    expect(snapshot.file).toBe(`${bucket}_${result.stamp}.tar.gz.gpg`);
    expect(snapshot.objects).toBe(objects.length);

    // Local archive + metadata (written last) with the manifest: key, size, etag, sha256, type, metadata.
    const path = join(snapshotDir, snapshot.file);
    const metadata = parseSnapshotMetadata(readFileSync(`${path}.metadata.json`, 'utf8'))!;
    expect(metadata.sha256).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
    expect(metadata.bytes).toBe(statSync(path).size);
    const byKey = new Map(metadata.manifest.map((e) => [e.key, e]));
    for (const o of objects) {
      expect(byKey.get(o.key), o.key).toMatchObject({ size: o.body.length, sha256: sha256(o.body), contentType: o.contentType, metadata: o.metadata });
    }
    expect(byKey.get('big/multipart.bin')!.etag).toMatch(/-3$/);

    // Off-site copy under minio-snapshots/, identical, with its metadata object.
    const remote = new S3Store(s3SettingsFromConfig(worker.config.remote));
    expect(snapshot.remote?.key).toBe(`minio-snapshots/${snapshot.file}`);
    const remoteInfo = await remote.stat(`minio-snapshots/${snapshot.file}`);
    expect(remoteInfo?.size).toBe(metadata.bytes);
    expect(remoteInfo?.metadata?.sha256).toBe(metadata.sha256);
    expect(await remote.stat(`minio-snapshots/${snapshot.file}.metadata.json`)).toBeDefined();
  });

  it('is restorable by hand: gpg --decrypt | tar -xz gives <bucket>_<stamp>/<key> files, ready for mc mirror', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-snapshot-'));
    try {
      const gpg = spawnSync('gpg', ['--batch', '--quiet', '--decrypt', '--output', join(dir, 'snapshot.tar.gz'), join(snapshotDir, snapshot.file)], { env: { ...process.env, GNUPGHOME: worker.config.encryption.gnupgHome } });
      expect(gpg.status, gpg.stderr.toString()).toBe(0);
      const untar = spawnSync('tar', ['-xzf', 'snapshot.tar.gz'], { cwd: dir });
      expect(untar.status, untar.stderr.toString()).toBe(0);
      const root = snapshot.file.replace(/\.tar\.gz\.gpg$/, '');
      for (const o of objects) {
        if (o.key.endsWith('/')) expect(statSync(join(dir, root, o.key)).isDirectory(), o.key).toBe(true);
        else expect(sha256(readFileSync(join(dir, root, o.key))), o.key).toBe(sha256(o.body));
      }
      expect(readdirSync(dir).sort()).toEqual([root, 'snapshot.tar.gz']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restores into an empty bucket: every object byte-identical, content types and user metadata intact', async () => {
    const target = `${bucket}-r`;
    created.push({ server: 'source', bucket: target });
    const result = await run<RestoreBucketResult>('restoreBucket', { snapshot: snapshot.file, targetBucket: target });
    expect(result).toMatchObject({ from: 'snapshot', targetBucket: target, restored: objects.length, createdBucket: true });
    expect(await readBucket(stores(worker.config).source, target)).toEqual(expected(objects));
  });

  it('restores from the off-site copy when the local archive is gone', async () => {
    const target = `${bucket}-r2`;
    created.push({ server: 'backup', bucket: target });
    rmSync(join(snapshotDir, snapshot.file));
    const result = await run<RestoreBucketResult>('restoreBucket', { snapshot: `minio-snapshots/${snapshot.file}`, targetBucket: target, server: 'backup' });
    expect(result.restored).toBe(objects.length);
    expect(await readBucket(stores(worker.config).backup, target)).toEqual(expected(objects));
  });

  it('refuses a target bucket that already holds objects unless told to overwrite', async () => {
    const refused = await failureOf(run('restoreBucket', { snapshot: snapshot.file, targetBucket: bucket }));
    expect(refused.type).toBe('OperationRefused');
    expect(refused.message).toMatch(new RegExp(`targetBucket: ${bucket} .* already holds objects`));
    const result = await run<RestoreBucketResult>('restoreBucket', { snapshot: snapshot.file, targetBucket: bucket, overwrite: true });
    expect(result.restored).toBe(objects.length);
    expect(await readBucket(stores(worker.config).source, bucket)).toEqual(expected(objects));
  });

  it('refuses bad input: unknown snapshot, malformed snapshot name, bad or unknown bucket', async () => {
    expect(await failureOf(run('restoreBucket', { snapshot: `${bucket}_20000101-000000.tar.gz.gpg` }))).toMatchObject({ type: 'BackupNotFound' });
    expect(await failureOf(run('restoreBucket', { snapshot: '../../etc/passwd' }))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/snapshot/) });
    expect(await failureOf(run('restoreBucket', { snapshot: snapshot.file, targetBucket: 'Bad_Bucket' }))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/targetBucket/) });
    expect(await failureOf(run('backupBuckets', { buckets: ['no-such-bucket-lifeboat'] }))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/no-such-bucket-lifeboat does not exist/) });
    expect(await failureOf(run('backupBuckets', { buckets: ['UPPER'] }))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/buckets\[0\]/) });
  });

  describe('unsafe archives', () => {
    const evil = testBucket('evil');
    const stamp = '20250101-000000';
    const name = snapshotName(evil, stamp, { compression: 'gzip', encrypted: false });
    const escapeMarker = `lifeboat-escaped-${evil}`;

    /** An archive (and metadata matching it) with one good entry and one bad one. */
    function plant(badName: string): Promise<void> {
      return (async () => {
        const good = Buffer.from('good object');
        const pack = tar.pack();
        pack.entry({ name: `${name.root}/ok.txt`, size: good.length, mtime: new Date(0), mode: 0o644 }, good);
        pack.entry({ name: badName, size: 4, mtime: new Date(0), mode: 0o644 }, Buffer.from('evil'));
        pack.finalize();
        const chunks: Buffer[] = [];
        for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
        const archive = gzipSync(Buffer.concat(chunks));
        writeFileSync(join(snapshotDir, name.file), archive);
        const metadata: SnapshotMetadata = {
          format: 'lifeboat/1', kind: 'minio-snapshot', key: `snapshots/${name.file}`, file: name.file, bucket: evil, stamp, root: name.root,
          sha256: sha256(archive), bytes: archive.length, rawBytes: 0, objects: 1, objectBytes: good.length, compression: { algorithm: 'gzip', level: 6 }, encryption: { enabled: false },
          source: { endpoint: worker.config.minio.source.endpoint }, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), durationSeconds: 0, lifeboatVersion: 'test',
          manifest: [{ key: 'ok.txt', size: good.length, etag: '', sha256: sha256(good), contentType: 'text/plain', metadata: {}, modified: new Date(0).toISOString() }],
        };
        writeFileSync(join(snapshotDir, `${name.file}.metadata.json`), JSON.stringify(metadata));
        files.push(name.file);
      })();
    }

    it.each([
      ['a ../ entry', `${name.root}/../${escapeMarker}.txt`, /"\.\." segment/],
      ['an absolute path', `/tmp/${escapeMarker}.txt`, /absolute path/],
    ])('refuses an archive with %s and writes nothing, anywhere', async (_what, badName, why) => {
      await plant(badName);
      const target = `${evil}-target`;
      const bucketsBefore = (await stores(worker.config).source.client.send(new (await import('@aws-sdk/client-s3')).ListBucketsCommand({}))).Buckets?.map((b) => b.Name).sort();
      const failure = await failureOf(run('restoreBucket', { snapshot: name.file, targetBucket: target }));
      expect(failure.type).toBe('OperationRefused');
      expect(failure.message).toMatch(why);
      expect(failure.message).toContain(JSON.stringify(badName));
      // Nothing written: no target bucket (it is created only once the archive passed every check),
      // no other bucket appeared, and no file exists where the entry points.
      const { source } = stores(worker.config);
      if (await source.bucketExists(target)) created.push({ server: 'source', bucket: target });
      expect(await source.bucketExists(target)).toBe(false);
      const bucketsAfter = (await source.client.send(new (await import('@aws-sdk/client-s3')).ListBucketsCommand({}))).Buckets?.map((b) => b.Name).filter((b) => b !== target).sort();
      expect(bucketsAfter).toEqual(bucketsBefore?.filter((b) => b !== target));
      expect(existsSync(`/tmp/${escapeMarker}.txt`)).toBe(false);
      expect(existsSync(join(snapshotDir, `${escapeMarker}.txt`))).toBe(false);
      expect(existsSync(join(worker.config.minio.backupRoot, `${escapeMarker}.txt`))).toBe(false);
    });
  });
});

describe('MinIO snapshots with SNAPSHOT_COMPRESSION=zstd, unencrypted', () => {
  const bucket = testBucket('zstd');
  const objects = sampleObjects();
  let worker: TestWorkerHandle;
  let file: string | undefined;

  beforeAll(async () => {
    worker = await startTestWorker({ overrides: { BUCKETS_TO_BACKUP: bucket, SNAPSHOT_COMPRESSION: 'zstd', ENCRYPT_BACKUPS: 'false', REMOTE_STORAGE: 'false' } });
    await seedBucket(worker.config, bucket, objects);
  });
  afterAll(async () => {
    const s = stores(worker.config);
    await dropBucket(s.source, bucket);
    await dropBucket(s.source, `${bucket}-r`);
    if (file) for (const f of [file, `${file}.metadata.json`]) rmSync(join(worker.config.minio.backupRoot, 'snapshots', f), { force: true });
    await worker.stop();
  });

  it('writes <bucket>_<stamp>.tar.zst that zstd -d | tar -x reads, and restores it', async () => {
    const result = (await worker.env.client.workflow.execute('backupBuckets', { taskQueue: worker.taskQueue, workflowId: `test-zstd-${Date.now()}`, args: [{}] })) as BackupBucketsResult;
    file = result.snapshots[0]!.file;
    expect(file).toBe(`${bucket}_${result.stamp}.tar.zst`);
    const path = join(worker.config.minio.backupRoot, 'snapshots', file);
    expect(readFileSync(path).subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])); // zstd frame magic
    const listing = spawnSync('sh', ['-c', 'zstd -d -c "$1" | tar -tf -', 'sh', path], { encoding: 'utf8' });
    expect(listing.status, listing.stderr).toBe(0);
    expect(listing.stdout).toContain(`${bucket}_${result.stamp}/profiles/company-1.json`);
    const restored = (await worker.env.client.workflow.execute('restoreBucket', { taskQueue: worker.taskQueue, workflowId: `test-zstd-restore-${Date.now()}`, args: [{ snapshot: file, targetBucket: `${bucket}-r` }] })) as RestoreBucketResult;
    expect(restored.restored).toBe(objects.length);
    expect(await readBucket(stores(worker.config).source, `${bucket}-r`)).toEqual(expected(objects));
  });
});
