/**
 * Mirror, replication, verification and restore-from-replica on the two real MinIO servers:
 * mirror -> restore back gives byte-identical objects with content types and user metadata; a
 * same-size change is found by mirror and by verify (which alerts through the notify hook); deletions
 * propagate only when asked; stopping the source MinIO mid-mirror costs a retry that resumes from the
 * checkpoint, and the result has every object exactly once.
 */
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MirrorSummary } from '../../activities/minio';
import { ensureMinioReplicationSchedule } from '../../client/commands/minio';
import { stackSettings } from '../../client/stack/settings';
import { stackUp } from '../../client/stack/stack';
import type { MirrorCheckpoint } from '../../lib/minio/mirror';
import type { MirrorBucketsResult } from '../../workflows/mirror-buckets';
import type { ReplicateBucketsResult } from '../../workflows/replicate-buckets';
import type { RestoreBucketResult } from '../../workflows/restore-bucket';
import type { VerifyBucketsResult } from '../../workflows/verify-buckets';
import { stackEnvFile, startTestWorker, testConfig, uniqueQueues, type TestWorkerHandle } from './helpers';
import { dropBucket, expected, failureOf, pendingActivity, putMultipart, readBucket, sampleObjects, seedBucket, stores, testBucket, until, type SampleObject } from './minio-helpers';

function start(worker: TestWorkerHandle, type: string, input: unknown) {
  return worker.env.client.workflow.start(type, { taskQueue: worker.taskQueue, workflowId: `test-${type}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [input] });
}
const run = async <T>(worker: TestWorkerHandle, type: string, input: unknown): Promise<T> => (await start(worker, type, input)).result() as Promise<T>;

describe('MinIO mirror, verify, replicate and restore from the replica', () => {
  const bucket = testBucket('mirror');
  const objects = sampleObjects({ multipartBytes: 11 * 1024 * 1024 });
  const created: { server: 'source' | 'backup'; bucket: string }[] = [{ server: 'source', bucket }, { server: 'backup', bucket }];
  let worker: TestWorkerHandle;

  beforeAll(async () => {
    worker = await startTestWorker({ overrides: { BUCKETS_TO_BACKUP: bucket } });
    await seedBucket(worker.config, bucket, objects);
  });
  afterAll(async () => {
    const s = stores(worker.config);
    for (const c of created) await dropBucket(s[c.server], c.bucket);
    await worker.stop();
  });

  it('mirrors every object to the backup MinIO, then copies nothing when nothing changed', async () => {
    const first = (await run<MirrorBucketsResult>(worker, 'mirrorBuckets', {})).buckets[0]!;
    expect(first).toMatchObject({ bucket, sourceObjects: objects.length, copied: objects.length, skipped: 0, deleted: 0 });
    const { backup } = stores(worker.config);
    const copies = await readBucket(backup, bucket);
    // Same bytes, type and user metadata; plus Lifeboat's labels (sha256, source ETag).
    for (const [key, want] of expected(objects)) {
      const got = copies.get(key)!;
      expect({ ...got, metadata: Object.fromEntries(Object.entries(got.metadata).filter(([k]) => !k.startsWith('lifeboat-'))) }, key).toEqual(want);
      expect(got.metadata['lifeboat-sha256'], key).toBe(want.sha256);
    }
    const second = (await run<MirrorBucketsResult>(worker, 'mirrorBuckets', {})).buckets[0]!;
    expect(second).toMatchObject({ copied: 0, skipped: objects.length });
    expect(second.inspected).toBe(1); // the multipart object: decided by its recorded source ETag
  });

  it('verify finds nothing, then finds a same-size change (plain and multipart) and raises an alert', async () => {
    const clean = await run<VerifyBucketsResult>(worker, 'verifyBuckets', {});
    expect(clean.ok).toBe(true);
    expect(clean.buckets[0]).toMatchObject({ matched: objects.length, missing: 0, extra: 0, different: 0 });

    const { source } = stores(worker.config);
    const small = objects.find((o) => o.key === 'users/1001/avatar.png')!;
    const big = objects.find((o) => o.key === 'big/multipart.bin')!;
    const changedSmall: SampleObject = { ...small, body: randomBytes(small.body.length) };
    const changedBig: SampleObject = { ...big, body: Buffer.from(big.body) };
    changedBig.body[7 * 1024 * 1024] = changedBig.body[7 * 1024 * 1024]! ^ 0xff; // one byte in the second part, same size
    await source.putBuffer(bucket, small.key, changedSmall.body, { contentType: small.contentType, metadata: small.metadata });
    await putMultipart(source, bucket, changedBig);

    const drift = await run<VerifyBucketsResult>(worker, 'verifyBuckets', {});
    expect(drift.ok).toBe(false);
    expect(drift.buckets[0]).toMatchObject({ different: 2, missing: 0, extra: 0 });
    expect(drift.buckets[0]!.samples.different.map((d) => d.key).sort()).toEqual([big.key, small.key].sort());
    const alerts = join(worker.config.backupRoot, 'logs', 'alerts.jsonl');
    expect(existsSync(alerts)).toBe(true);
    const mine = readFileSync(alerts, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { condition: string; summary: string }).filter((a) => a.condition === `minio-verify:${bucket}`);
    expect(mine.at(-1)?.summary).toMatch(/2 different/);

    // The mirror copies exactly the two changed objects; verify is clean again.
    const mirrored = (await run<MirrorBucketsResult>(worker, 'mirrorBuckets', {})).buckets[0]!;
    expect(mirrored).toMatchObject({ copied: 2, skipped: objects.length - 2 });
    expect((await run<VerifyBucketsResult>(worker, 'verifyBuckets', {})).ok).toBe(true);
    objects.splice(objects.indexOf(small), 1, changedSmall);
    objects.splice(objects.indexOf(big), 1, changedBig);
  });

  it('propagates deletions only when asked', async () => {
    const { source, backup } = stores(worker.config);
    const gone = objects.pop()!;
    await source.delete(bucket, gone.key);
    const kept = (await run<MirrorBucketsResult>(worker, 'mirrorBuckets', {})).buckets[0]!;
    expect(kept).toMatchObject({ deleted: 0, keptExtra: 1 });
    expect(await backup.head(bucket, gone.key)).toBeDefined();
    const deleted = (await run<MirrorBucketsResult>(worker, 'mirrorBuckets', { delete: true })).buckets[0]!;
    expect(deleted).toMatchObject({ deleted: 1, keptExtra: 0 });
    expect(await backup.head(bucket, gone.key)).toBeUndefined();
  });

  it('restores from the replica into an empty bucket: byte-identical, types and user metadata intact, no Lifeboat labels', async () => {
    const target = `${bucket}-back`;
    created.push({ server: 'source', bucket: target });
    const result = await run<RestoreBucketResult>(worker, 'restoreBucket', { fromReplica: bucket, targetBucket: target });
    expect(result).toMatchObject({ from: 'replica', restored: objects.length, createdBucket: true });
    expect(await readBucket(stores(worker.config).source, target)).toEqual(expected(objects));
    // The source bucket holds objects: restoring into it needs overwrite.
    expect(await failureOf(run(worker, 'restoreBucket', { fromReplica: bucket }))).toMatchObject({ type: 'OperationRefused' });
    const again = await run<RestoreBucketResult>(worker, 'restoreBucket', { fromReplica: bucket, overwrite: true });
    expect(again).toMatchObject({ restored: 0, skipped: objects.length });
  });

  it('restores a bucket the source lost entirely (the disaster case) from the replica', async () => {
    const { source } = stores(worker.config);
    await dropBucket(source, bucket);
    const result = await run<RestoreBucketResult>(worker, 'restoreBucket', { fromReplica: bucket });
    expect(result).toMatchObject({ restored: objects.length, createdBucket: true });
    expect(await readBucket(source, bucket)).toEqual(expected(objects));
  });

  it('replicates with a lag report, and keeps one idempotent schedule', async () => {
    const { source } = stores(worker.config);
    const fresh = sampleObjects().slice(0, 3).map((o) => ({ ...o, key: `fresh/${o.key}` }));
    for (const o of fresh) await source.putBuffer(bucket, o.key, o.body, { contentType: o.contentType, metadata: o.metadata });
    const replicated = await run<ReplicateBucketsResult>(worker, 'replicateBuckets', {});
    expect(replicated.buckets[0]).toMatchObject({ bucket, copied: 3, pendingChanges: 3 });
    expect(replicated.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(replicated.buckets[0]!.newestPendingAgeSeconds).toBeDefined();
    const quiet = await run<ReplicateBucketsResult>(worker, 'replicateBuckets', {});
    expect(quiet).toMatchObject({ lagSeconds: 0, pendingChanges: 0 });
    objects.push(...fresh);

    const client = worker.env.client;
    try {
      const first = await ensureMinioReplicationSchedule(client, worker.config);
      expect(first.id).toBe('lifeboat-minio-replicate');
      expect(['created', 'updated']).toContain(first.outcome);
      expect((await ensureMinioReplicationSchedule(client, worker.config)).outcome).toBe('unchanged');
      const description = await client.schedule.getHandle(first.id).describe();
      expect(description.spec.intervals?.[0]?.every).toBe(worker.config.minio.replicationIntervalSeconds * 1000);
      expect(description.policies.overlap).toBe('SKIP');
      expect(description.action).toMatchObject({ workflowType: 'replicateBuckets', taskQueue: worker.taskQueue });
    } finally {
      await client.schedule.getHandle('lifeboat-minio-replicate').delete().catch(() => undefined);
    }
  });
});

describe('mirror survives the source MinIO going away', () => {
  const bucket = testBucket('outage');
  const count = 2500;
  let worker: TestWorkerHandle;

  beforeAll(async () => {
    // One object at a time, so the mirror runs long enough to be interrupted.
    worker = await startTestWorker({ overrides: { BUCKETS_TO_BACKUP: bucket, MIRROR_CONCURRENCY: '1' } });
    const many: SampleObject[] = Array.from({ length: count }, (_, i) => ({ key: `obj/${String(i).padStart(5, '0')}`, body: randomBytes(2048), contentType: 'application/octet-stream', metadata: { n: String(i) } }));
    await seedBucket(worker.config, bucket, many);
  });
  afterAll(async () => {
    await stackUp(stackSettings(process.env, 'test'), () => undefined);
    const s = stores(worker.config);
    await dropBucket(s.source, bucket);
    await dropBucket(s.backup, bucket);
    await worker.stop();
  });

  it('completes once the source is back, with every object present exactly once and identical', async () => {
    const { source, backup } = stores(worker.config);
    const handle = await start(worker, 'mirrorBuckets', {});
    // Some progress on the backup, then the source MinIO is killed outright.
    await until('300 objects on the backup', async () => {
      let n = 0;
      if (await backup.bucketExists(bucket)) for await (const _ of backup.list(bucket)) if (++n >= 300) return true;
      return undefined;
    });
    const state = JSON.parse(readFileSync(join(inject('stackDir'), 'stack.json'), 'utf8')) as { processes: Record<string, { pid: number }> };
    process.kill(state.processes['minio-source']!.pid, 'SIGKILL');
    // The mirror fails against the dead server and is retried...
    const failure = await until('a failed mirror attempt', async () => {
      const p = await pendingActivity(handle, 'mirrorBucket');
      return p && p.attempt >= 2 && p.lastFailure ? p.lastFailure : undefined;
    });
    expect(failure).toMatch(/source MinIO .* (unreachable|failed)/);
    const checkpoint = await (async () => {
      const pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'mirrorBucket');
      const payload = pending?.heartbeatDetails?.payloads?.[0];
      return payload ? defaultPayloadConverter.fromPayload<Partial<MirrorCheckpoint>>(payload) : undefined;
    })();
    expect(checkpoint?.cursor).toMatch(/^obj\//);
    // ...and completes once the server is back.
    await stackUp(stackSettings(process.env, 'test'), () => undefined);
    const result = ((await handle.result()) as MirrorBucketsResult).buckets[0] as MirrorSummary;
    expect(result.attempts).toBeGreaterThanOrEqual(2);
    expect(result.resumedAfter).toBeDefined();
    expect(result.resumedAfter! >= checkpoint!.cursor!).toBe(true);
    // Every object counted once: copied by an attempt, or found already there after the checkpoint.
    expect(result.sourceObjects).toBe(count);
    expect(result.copied + result.skipped).toBe(count);
    expect(result.vanished).toBe(0);
    // On the backup: exactly the source's keys, each once, each identical (every object hashed).
    const [src, dst] = [await readBucket(source, bucket), await readBucket(backup, bucket)];
    expect(dst.size).toBe(count);
    expect([...dst.keys()]).toEqual([...src.keys()]);
    for (const [key, s] of src) expect(dst.get(key)!.sha256, key).toBe(s.sha256);
  });
});

describe('mirror survives its worker being killed', () => {
  const bucket = testBucket('killed');
  const count = 2500;
  const queues = uniqueQueues();
  const overrides = { BUCKETS_TO_BACKUP: bucket, MIRROR_CONCURRENCY: '1' };
  const config = testConfig({ ...queues, ...overrides });
  let client: Client;

  beforeAll(async () => {
    client = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
    await seedBucket(config, bucket, Array.from({ length: count }, (_, i) => ({ key: `obj/${String(i).padStart(5, '0')}`, body: randomBytes(2048), contentType: 'text/plain', metadata: {} })));
  });
  afterAll(async () => {
    const s = stores(config);
    await dropBucket(s.source, bucket);
    await dropBucket(s.backup, bucket);
    await client?.connection.close();
  });

  it('resumes from the last checkpoint on a new worker process and completes with every object', async () => {
    const env = { ...process.env, LIFEBOAT_ENV_FILE: stackEnvFile(), LOG_LEVEL: 'warn', ...queues, ...overrides };
    const startWorker = (): ChildProcess => spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'lifeboat.js'), 'worker'], { env, stdio: 'ignore' });
    let worker = startWorker();
    try {
      const handle = await client.workflow.start('mirrorBuckets', { taskQueue: config.temporal.taskQueue, workflowId: `test-kill-mirror-${Date.now()}`, args: [{}] });
      // A checkpoint past the first 200 keys has reached the server: kill the worker outright.
      const cursor = await until('a checkpoint past obj/00200', async () => {
        const pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'mirrorBucket');
        const payload = pending?.heartbeatDetails?.payloads?.[0];
        const cp = payload ? defaultPayloadConverter.fromPayload<Partial<MirrorCheckpoint>>(payload) : undefined;
        return cp?.cursor && cp.cursor > 'obj/00200' ? cp.cursor : undefined;
      });
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      worker = startWorker();
      const result = ((await handle.result()) as MirrorBucketsResult).buckets[0]!;
      expect(result.attempts).toBeGreaterThanOrEqual(2);
      expect(result.resumedAfter! >= cursor).toBe(true);
      expect(result.sourceObjects).toBe(count);
      expect(result.copied + result.skipped).toBe(count);
      const { source, backup } = stores(config);
      const [src, dst] = [await readBucket(source, bucket), await readBucket(backup, bucket)];
      expect([...dst.keys()]).toEqual([...src.keys()]);
      for (const [key, o] of src) expect(dst.get(key)!.sha256, key).toBe(o.sha256);
    } finally {
      worker.kill('SIGKILL');
    }
  });
});
