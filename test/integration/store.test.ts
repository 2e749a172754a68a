/**
 * The Store contract (lib/storage/store.ts), one shared suite run against every driver: FsStore on a
 * temporary directory and S3Store on the test stack's backup MinIO (a fresh bucket per run). Then
 * the resumable, verified multipart upload (lib/storage/multipart.ts) against the same MinIO.
 */
import {
  CreateBucketCommand, CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationFailed, BackupNotFound, ChecksumMismatch, InputInvalid, ServiceUnavailable } from '../../lib/errors';
import { FsStore } from '../../lib/storage/fs-store';
import { MIN_PART_SIZE, uploadFileResumable, type UploadCheckpoint, type UploadFileOptions } from '../../lib/storage/multipart';
import { createS3Client, S3Store, s3SettingsFromConfig, type S3Settings } from '../../lib/storage/s3-store';
import { getBuffer, listAll, type Store } from '../../lib/storage/store';
import { testConfig, dropS3Bucket } from './helpers';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();
const MiB = 1024 * 1024;

/** What a driver hands the shared suite. */
interface Harness {
  store: Store;
  /** Leave a temporary file as an interrupted put would (drivers that have them). */
  plantTemp?: (key: string) => void;
  close(): Promise<void>;
}


async function freshBucket(purpose: string): Promise<{ settings: S3Settings; client: S3Client; drop(): Promise<void> }> {
  const base = s3SettingsFromConfig(testConfig().remote);
  const settings = { ...base, bucket: `lifeboat-test-${purpose}-${randomUUID().slice(0, 8)}` };
  const client = createS3Client(settings);
  await client.send(new CreateBucketCommand({ Bucket: settings.bucket }));
  return { settings, client, drop: () => dropS3Bucket(client, settings.bucket) };
}

function storeContract(driver: string, open: () => Promise<Harness>): void {
  describe(`Store contract: ${driver}`, () => {
    let h: Harness;
    let store: Store;
    beforeAll(async () => {
      h = await open();
      store = h.store;
    });
    afterAll(async () => {
      await h?.close();
    });

    it.each([
      ['binary (every byte value)', () => Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)])],
      ['empty', () => Buffer.alloc(0)],
      ['~6 MB', () => randomBytes(6 * MiB + 7)],
    ])('put then get round-trips a %s object', async (_what, make) => {
      const body = make();
      const key = `roundtrip/${randomUUID()}.bin`;
      const info = await store.put(key, body);
      expect(info).toMatchObject({ key, size: body.length });
      expect(info.modified).toBeInstanceOf(Date);
      const back = await getBuffer(store, key);
      expect(back.length).toBe(body.length);
      expect(sha256(back)).toBe(sha256(body));
      const stat = await store.stat(key);
      expect(stat).toMatchObject({ key, size: body.length });
      expect(stat!.modified.getTime()).toBeGreaterThan(Date.now() - 5 * 60_000);
    });

    it('overwrites an existing key, and putting the same bytes again is harmless', async () => {
      const key = 'overwrite/object.bin';
      const first = randomBytes(1000);
      const second = randomBytes(300);
      await store.put(key, first);
      await store.put(key, second);
      expect((await getBuffer(store, key)).equals(second)).toBe(true);
      expect((await store.stat(key))?.size).toBe(300);
      await store.put(key, second);
      expect((await getBuffer(store, key)).equals(second)).toBe(true);
      expect((await listAll(store, 'overwrite/')).map((o) => o.key)).toEqual([key]);
    });

    it('a reader racing an overwrite sees the old object or the whole new one, never a mix', async () => {
      const key = 'atomic/object.bin';
      const before = randomBytes(6 * MiB);
      const after = randomBytes(6 * MiB + 1);
      await store.put(key, before);
      for (let round = 0; round < 3; round++) {
        const reading = getBuffer(store, key);
        await store.put(key, round % 2 === 0 ? after : before);
        const seen = await reading;
        expect([sha256(before), sha256(after)]).toContain(sha256(seen));
      }
    });

    it('stat of a missing key is undefined, not an error', async () => {
      expect(await store.stat('missing/nothing-here.bin')).toBeUndefined();
      expect(await store.stat(`no-such-dir-${randomUUID()}/deeper/x`)).toBeUndefined();
    });

    it('get of a missing key is BackupNotFound (permanent), naming the key', async () => {
      const key = `missing/${randomUUID()}.bin`;
      const error = await store.get(key).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(BackupNotFound);
      expect((error as BackupNotFound).permanent).toBe(true);
      expect((error as Error).message).toContain(key);
      expect((error as Error).message).toContain(store.location);
    });

    it('lists every object under a prefix, nested keys included, with sizes', async () => {
      const objects: Record<string, number> = {
        'tree/a/b/c.bin': 3,
        'tree/a/b/d.bin': 4,
        'tree/a/e.bin': 5,
        'tree/ab.bin': 6,
        'tree/z/a/x.bin': 7,
      };
      for (const [key, size] of Object.entries(objects)) await store.put(key, randomBytes(size));
      const keysOf = async (prefix: string) => (await listAll(store, prefix)).map((o) => o.key).sort();
      expect(await keysOf('tree/a/')).toEqual(['tree/a/b/c.bin', 'tree/a/b/d.bin', 'tree/a/e.bin']);
      expect(await keysOf('tree/a/b/')).toEqual(['tree/a/b/c.bin', 'tree/a/b/d.bin']);
      expect(await keysOf('tree/a')).toEqual(['tree/a/b/c.bin', 'tree/a/b/d.bin', 'tree/a/e.bin', 'tree/ab.bin']);
      expect(await keysOf('tree/a/b/c')).toEqual(['tree/a/b/c.bin']);
      expect(await keysOf('tree/nope/')).toEqual([]);
      expect(await keysOf(`nothing-${randomUUID()}/`)).toEqual([]);
      const all = await listAll(store, '');
      expect(all.map((o) => o.key)).toEqual(expect.arrayContaining(Object.keys(objects)));
      for (const info of all.filter((o) => o.key.startsWith('tree/'))) {
        expect(info.size).toBe(objects[info.key]);
        expect(info.modified).toBeInstanceOf(Date);
      }
    });

    it('never lists temporary files', async () => {
      await store.put('temps/real.bin', randomBytes(10));
      h.plantTemp?.('temps/real.bin');
      h.plantTemp?.('temps/sub/other.bin');
      expect((await listAll(store, 'temps/')).map((o) => o.key)).toEqual(['temps/real.bin']);
      expect((await listAll(store, '')).filter((o) => /(^|\/)\.[^/]*\.partial$/.test(o.key))).toEqual([]);
    });

    it('delete removes a key and is idempotent', async () => {
      const key = 'delete/me.bin';
      await store.put(key, randomBytes(10));
      await store.put('delete/keep.bin', randomBytes(10));
      await store.delete(key);
      expect(await store.stat(key)).toBeUndefined();
      await expect(store.get(key)).rejects.toBeInstanceOf(BackupNotFound);
      await store.delete(key);
      await store.delete(`delete/never-existed-${randomUUID()}`);
      expect((await listAll(store, 'delete/')).map((o) => o.key)).toEqual(['delete/keep.bin']);
    });
  });
}

// --- the drivers -------------------------------------------------------------------------------

storeContract('FsStore', async () => {
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-store-'));
  const store = new FsStore(root);
  return {
    store,
    plantTemp: (key) => {
      const path = store.pathOf(key);
      mkdirSync(join(path, '..'), { recursive: true });
      const name = path.slice(path.lastIndexOf('/') + 1);
      writeFileSync(join(path, '..', `.${name}.${randomBytes(4).toString('hex')}.partial`), 'half a file');
    },
    close: async () => rmSync(root, { recursive: true, force: true }),
  };
});

storeContract('S3Store (backup MinIO)', async () => {
  const bucket = await freshBucket('store');
  return { store: new S3Store(bucket.settings, bucket.client), close: bucket.drop };
});

describe('FsStore specifics', () => {
  let parent: string;
  let root: string;
  beforeAll(() => {
    parent = mkdtempSync(join(tmpdir(), 'lifeboat-fsstore-'));
    root = join(parent, 'root');
    mkdirSync(root);
  });
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it.each(['../x', '../root2/x', 'a/../../x', '/etc/passwd', '..'])('refuses the key %j, which escapes the root', async (key) => {
    const store = new FsStore(root);
    expect(() => store.pathOf(key)).toThrow(InputInvalid);
    await expect(store.put(key, Buffer.from('escaped'))).rejects.toBeInstanceOf(InputInvalid);
    await expect(store.get(key)).rejects.toBeInstanceOf(InputInvalid);
    await expect(store.stat(key)).rejects.toBeInstanceOf(InputInvalid);
    await expect(store.delete(key)).rejects.toBeInstanceOf(InputInvalid);
    await expect(listAll(store, `${key}/`)).rejects.toBeInstanceOf(InputInvalid);
    // Nothing was written beside the root.
    expect(readdirSync(parent)).toEqual(['root']);
  });

  it('writes through a temporary file, so a put leaves no partial file behind', async () => {
    const store = new FsStore(root);
    await store.put('clean/a.bin', randomBytes(2 * MiB));
    expect(readdirSync(join(root, 'clean'))).toEqual(['a.bin']);
  });

  it('a reader that opened the old file keeps reading it while a put replaces it', async () => {
    const store = new FsStore(root);
    const before = randomBytes(4 * MiB);
    const after = randomBytes(4 * MiB);
    await store.put('inflight/object.bin', before);
    const stream = await store.get('inflight/object.bin');
    const chunks: Buffer[] = [];
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    chunks.push(first.value as Buffer);
    expect(chunks[0]!.length).toBeLessThan(before.length);
    await store.put('inflight/object.bin', after);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) chunks.push(next.value as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(before));
    expect(sha256(await getBuffer(store, 'inflight/object.bin'))).toBe(sha256(after));
  });

  it.each([
    ['a trailing slash', (r: string) => `${r}/`],
    ['a doubled slash', (r: string) => r.replace(/\/root$/, '//root')],
    ['a relative path', (r: string) => relative(process.cwd(), r)],
  ])('works with a root given with %s (BACKUP_ROOT as an operator writes it)', async (_what, spell) => {
    const store = new FsStore(spell(root));
    const key = `spelled/${randomUUID()}.bin`;
    await store.put(key, Buffer.from('x'));
    expect(existsSync(join(root, key))).toBe(true);
    expect((await store.stat(key))?.size).toBe(1);
    expect((await listAll(store, '')).map((o) => o.key)).toContain(key);
    expect((await listAll(store, 'spelled/')).map((o) => o.key)).toContain(key);
    expect(() => store.pathOf('../x')).toThrow(InputInvalid);
  });
});

describe('S3Store specifics', () => {
  let bucket: Awaited<ReturnType<typeof freshBucket>>;
  beforeAll(async () => {
    bucket = await freshBucket('s3');
  });
  afterAll(async () => {
    await bucket?.drop();
  });

  it('records user metadata and the MD5 ETag of a put', async () => {
    const store = new S3Store(bucket.settings, bucket.client);
    const body = randomBytes(12345);
    const info = await store.put('meta/object.bin', body, { metadata: { sha256: sha256(body) }, contentType: 'application/json' });
    expect(info.etag).toBe(md5(body).toString('hex'));
    const stat = await store.stat('meta/object.bin');
    expect(stat).toMatchObject({ size: body.length, etag: md5(body).toString('hex'), metadata: { sha256: sha256(body) } });
    expect(store.location).toBe(`s3://${bucket.settings.bucket}`);
  });

  it('refused credentials are AuthenticationFailed (permanent), for every operation', async () => {
    const store = new S3Store({ ...bucket.settings, secretAccessKey: 'wrong-secret-key-1234' });
    for (const attempt of [() => store.put('auth/x', Buffer.from('x')), () => store.get('auth/x'), () => store.stat('auth/x'), () => listAll(store, 'auth/'), () => store.delete('auth/x')]) {
      const error = await attempt().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationFailed);
      expect((error as Error).message).not.toContain('wrong-secret-key-1234');
    }
  });

  it('an unreachable server is ServiceUnavailable (retryable)', async () => {
    const store = new S3Store({ ...bucket.settings, endpoint: 'http://127.0.0.1:1' });
    for (const attempt of [() => store.put('x', Buffer.from('x')), () => store.get('x'), () => store.stat('x'), () => listAll(store, '')]) {
      const error = await attempt().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ServiceUnavailable);
      expect((error as ServiceUnavailable).permanent).toBe(false);
      expect((error as Error).message).toContain('127.0.0.1:1');
    }
  });
});

// --- resumable multipart upload ------------------------------------------------------------------

describe('uploadFileResumable against MinIO', () => {
  const partSize = 5 * MiB;
  let bucket: Awaited<ReturnType<typeof freshBucket>>;
  let dir: string;
  let file: string;
  let content: Buffer;
  beforeAll(async () => {
    bucket = await freshBucket('upload');
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-upload-'));
    file = join(dir, 'artifact.bin');
    content = randomBytes(17 * MiB + 12345);
    writeFileSync(file, content);
  });
  afterAll(async () => {
    await bucket?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const optionsFor = (key: string, extra: Partial<UploadFileOptions> = {}): UploadFileOptions => ({
    client: bucket.client,
    bucket: bucket.settings.bucket,
    key,
    file,
    sha256: sha256(content),
    partSize,
    endpointForMessages: bucket.settings.endpoint,
    ...extra,
  });

  /** The multipart ETag S3 computes: md5 of the parts' binary md5s, `-N`. */
  function compositeEtag(data: Buffer, size: number): string {
    const digests: Buffer[] = [];
    for (let start = 0; start < data.length; start += size) digests.push(md5(data.subarray(start, start + size)));
    return `${md5(Buffer.concat(digests)).toString('hex')}-${digests.length}`;
  }

  const inProgress = async (key: string): Promise<string[]> => {
    const page = await bucket.client.send(new ListMultipartUploadsCommand({ Bucket: bucket.settings.bucket, Prefix: key }));
    return (page.Uploads ?? []).filter((u) => u.Key === key).map((u) => u.UploadId!);
  };

  const head = (key: string) => bucket.client.send(new HeadObjectCommand({ Bucket: bucket.settings.bucket, Key: key }));

  async function remoteSha256(key: string): Promise<string> {
    return sha256(await getBuffer(new S3Store(bucket.settings, bucket.client), key));
  }

  it('uploads a 17 MB file in 5 MiB parts, verified by size, ETag and sha256 metadata', async () => {
    expect(MIN_PART_SIZE).toBe(partSize);
    const progress: UploadCheckpoint[] = [];
    const result = await uploadFileResumable(optionsFor('multi/artifact.bin', { onProgress: (cp) => progress.push({ ...cp }) }));
    expect(result).toMatchObject({ key: 'multi/artifact.bin', bytes: content.length, parts: 4, resumedParts: 0, alreadyPresent: false });
    const object = await head('multi/artifact.bin');
    expect(object.ContentLength).toBe(content.length);
    expect(object.ETag?.replace(/"/g, '')).toBe(compositeEtag(content, partSize));
    expect(result.etag).toBe(compositeEtag(content, partSize));
    expect(object.Metadata?.sha256).toBe(sha256(content));
    expect(await remoteSha256('multi/artifact.bin')).toBe(sha256(content));
    expect(progress.at(-1)).toMatchObject({ partsDone: 4, partsTotal: 4, bytesDone: content.length, bytesTotal: content.length, partSize });
    expect(await inProgress('multi/artifact.bin')).toEqual([]);

    // A second call finds the finished object and sends nothing.
    const again = await uploadFileResumable(optionsFor('multi/artifact.bin'));
    expect(again).toMatchObject({ alreadyPresent: true, parts: 0, bytes: content.length, etag: compositeEtag(content, partSize) });
  });

  it('uploads a file of at most one part with a single verified PUT', async () => {
    const small = join(dir, 'small.bin');
    const body = randomBytes(MiB + 3);
    writeFileSync(small, body);
    const result = await uploadFileResumable(optionsFor('single/small.bin', { file: small, sha256: sha256(body) }));
    expect(result).toMatchObject({ bytes: body.length, parts: 1, alreadyPresent: false, etag: md5(body).toString('hex') });
    expect((await head('single/small.bin')).Metadata?.sha256).toBe(sha256(body));
  });

  /** Start an upload and abort it right after its first part arrived. */
  async function interruptAfterFirstPart(key: string, extra: Partial<UploadFileOptions> = {}): Promise<UploadCheckpoint> {
    const controller = new AbortController();
    let checkpoint: UploadCheckpoint | undefined;
    const error = await uploadFileResumable(
      optionsFor(key, {
        // One part at a time, so "interrupted after the first part" is exact.
        concurrency: 1,
        signal: controller.signal,
        onProgress: (cp) => {
          checkpoint = { ...cp };
          if (cp.partsDone >= 1) controller.abort();
        },
        ...extra,
      }),
    ).then(() => undefined, (e: unknown) => e);
    expect(error).toBeDefined();
    expect(checkpoint?.partsDone).toBe(1);
    expect(await inProgress(key)).toEqual([checkpoint!.uploadId]);
    await expect(head(key)).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    return checkpoint!;
  }

  it('resumes an interrupted upload from the server alone, and leaves no upload in progress', async () => {
    const key = 'resume/server.bin';
    await interruptAfterFirstPart(key);
    // A fresh attempt with no checkpoint (the worker died before heartbeating) finds the upload.
    const result = await uploadFileResumable(optionsFor(key));
    expect(result.resumedParts).toBeGreaterThanOrEqual(1);
    expect(result).toMatchObject({ parts: 4, alreadyPresent: false, bytes: content.length });
    expect(await inProgress(key)).toEqual([]);
    const object = await head(key);
    expect(object.ETag?.replace(/"/g, '')).toBe(compositeEtag(content, partSize));
    expect(object.Metadata?.sha256).toBe(sha256(content));
    expect(await remoteSha256(key)).toBe(sha256(content));
  });

  it('resumes from the heartbeat checkpoint and aborts any other unfinished upload of the key', async () => {
    const key = 'resume/checkpoint.bin';
    const checkpoint = await interruptAfterFirstPart(key);
    // A stray, newer upload of the same key (say, an attempt that died before sending anything).
    const stray = await bucket.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.settings.bucket, Key: key }));
    expect((await inProgress(key)).sort()).toEqual([checkpoint.uploadId, stray.UploadId].sort());
    const result = await uploadFileResumable(optionsFor(key, { checkpoint }));
    expect(result.resumedParts).toBe(1);
    expect(result.parts).toBe(4);
    expect(await inProgress(key)).toEqual([]);
    expect(await remoteSha256(key)).toBe(sha256(content));
  });

  it('re-sends a part the server holds with the wrong bytes instead of trusting it', async () => {
    const key = 'resume/bad-part.bin';
    const checkpoint = await interruptAfterFirstPart(key);
    // Part 2 arrives with other bytes (a different file was being uploaded under this key).
    const other = randomBytes(partSize);
    await bucket.client.send(new UploadPartCommand({ Bucket: bucket.settings.bucket, Key: key, UploadId: checkpoint.uploadId, PartNumber: 2, Body: other, ContentLength: other.length }));
    const result = await uploadFileResumable(optionsFor(key, { checkpoint }));
    expect(result.resumedParts).toBe(1);
    expect(await remoteSha256(key)).toBe(sha256(content));
    expect((await head(key)).ETag?.replace(/"/g, '')).toBe(compositeEtag(content, partSize));
  });

  it('uploads a new file under a key that still has an unfinished upload of another file', async () => {
    const key = 'resume/replaced.bin';
    await interruptAfterFirstPart(key);
    // The artifact was produced again (new encryption, so other bytes) before the upload was retried.
    const other = join(dir, 'replaced.bin');
    const body = randomBytes(content.length);
    writeFileSync(other, body);
    // Its first part differs, so the stale upload (labelled with the old sha256) is not resumed.
    const result = await uploadFileResumable(optionsFor(key, { file: other, sha256: sha256(body) }));
    expect(result).toMatchObject({ bytes: body.length, alreadyPresent: false, resumedParts: 0, parts: 4 });
    expect((await head(key)).Metadata?.sha256).toBe(sha256(body));
    expect(await remoteSha256(key)).toBe(sha256(body));
    expect(await inProgress(key)).toEqual([]);
  });

  it('uploads a file sharing its first part with the unfinished upload of another file', async () => {
    const key = 'resume/same-prefix.bin';
    await interruptAfterFirstPart(key);
    // Same first 5 MiB (an unencrypted dump that changed further on), different rest.
    const other = join(dir, 'same-prefix.bin');
    const body = Buffer.concat([content.subarray(0, partSize), randomBytes(content.length - partSize)]);
    writeFileSync(other, body);
    const options = optionsFor(key, { file: other, sha256: sha256(body) });
    // Either it uploads at once, or it fails retryably, leaving no mislabeled object, and the retry
    // uploads: never a permanent failure.
    const first = await uploadFileResumable(options).then((r) => r, (e: unknown) => e);
    expect(first).not.toBeInstanceOf(ChecksumMismatch);
    if (first instanceof Error) await expect(head(key)).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    const result = first instanceof Error ? await uploadFileResumable(options) : first;
    expect(result).toMatchObject({ bytes: body.length, alreadyPresent: false });
    expect((await head(key)).Metadata?.sha256).toBe(sha256(body));
    expect(await remoteSha256(key)).toBe(sha256(body));
    expect(await inProgress(key)).toEqual([]);
  });

  describe('a local file that no longer matches its recorded sha256', () => {
    const tampered = (): string => {
      const path = join(dir, `tampered-${randomUUID()}.bin`);
      const copy = Buffer.from(content);
      copy[7 * MiB + 5]! ^= 0xff;
      writeFileSync(path, copy);
      return path;
    };

    it('is caught (ChecksumMismatch) and no object or unfinished upload is left', async () => {
      const key = 'tampered/fresh.bin';
      const error = await uploadFileResumable(optionsFor(key, { file: tampered() })).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ChecksumMismatch);
      expect((error as Error).message).toMatch(/sha256/);
      await expect(head(key)).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
      expect(await inProgress(key)).toEqual([]);
    });

    it('is caught when resuming an upload of the original file', async () => {
      const key = 'tampered/resumed.bin';
      const checkpoint = await interruptAfterFirstPart(key);
      const error = await uploadFileResumable(optionsFor(key, { file: tampered(), checkpoint })).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ChecksumMismatch);
      await expect(head(key)).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
      // The original file still uploads afterwards.
      const result = await uploadFileResumable(optionsFor(key));
      expect(result.alreadyPresent).toBe(false);
      expect(await remoteSha256(key)).toBe(sha256(content));
      expect(await inProgress(key)).toEqual([]);
    });

    it('is caught for a single-part upload', async () => {
      const small = join(dir, 'small-tampered.bin');
      const body = randomBytes(MiB);
      writeFileSync(small, body);
      const error = await uploadFileResumable(optionsFor('tampered/small.bin', { file: small, sha256: sha256(randomBytes(MiB)) })).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ChecksumMismatch);
      await expect(head('tampered/small.bin')).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    });
  });
});
