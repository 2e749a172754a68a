/**
 * restoreDatabase into an explicit target from an explicit copy (the DR runbook's case): a second
 * PostgreSQL 15 cluster started by this test (same role and password as the stack's, as the worker
 * connects to a target with its own DB_USER / PGPASSWORD), a daily backup whose LOCAL artifact and
 * metadata are then deleted, and a restore from the off-site copy only into the second cluster.
 * `source: 'local'` with the local copy gone fails clearly; bad targets are refused before any work.
 * restoreBucket likewise: a snapshot whose local archive is deleted, restored from the off-site copy
 * only into a second MinIO started by this test (root keys = the stack's MINIO_SOURCE keys).
 */
import { WorkflowFailedError } from '@temporalio/client';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMinio, waitForMinio, type MinioServerOptions } from '../../client/stack/minio-server';
import { initCluster, startPostgres, stopPostgres, type PostgresServerOptions } from '../../client/stack/postgres-server';
import { processCommandLine, stopProcess } from '../../client/stack/processes';
import { defaultToolsDir } from '../../client/stack/settings';
import { BucketStore } from '../../lib/minio/bucket-store';
import { localSnapshotKey } from '../../lib/minio/names';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import type { BackupBucketsResult } from '../../workflows/backup-buckets';
import type { RestoreBucketResult } from '../../workflows/restore-bucket';
import type { Config } from '../../lib/config/load';
import { RESTORE_CACHE } from '../../lib/restore/fetch';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import type { RestoreDatabaseResult } from '../../workflows/restore-database';
import { freePort } from '../free-port';
import { queryDb, startTestWorker, type TestWorkerHandle } from './helpers';
import { dropBucket, expected, readBucket, sampleObjects, seedBucket, stores, testBucket } from './minio-helpers';

const TABLES = ['companies', 'filings', 'events', 'embeddings'];

async function fingerprint(config: Config, database: string): Promise<string[]> {
  const out: string[] = [];
  for (const t of TABLES) {
    const [row] = await queryDb<{ n: string; md5: string }>(config, database, `SELECT count(*) AS n, md5(string_agg(x::text, E'\\n' ORDER BY id)) AS md5 FROM ${t} x`);
    out.push(`${t}:${row!.n}:${row!.md5}`);
  }
  return out;
}

function failureOf(error: unknown): { message?: string; type?: string } {
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause as { message?: string; type?: string };
}

describe('restoreDatabase into an explicit target from the off-site copy', () => {
  let worker: TestWorkerHandle;
  let backup: BackupDatabaseResult;
  let cluster: PostgresServerOptions | undefined;
  let second: Config;
  let dir: string;

  beforeAll(async () => {
    worker = await startTestWorker();
    expect(worker.config.remote.enabled).toBe(true);
    // A second, empty PostgreSQL 15 cluster on a free port, owned by the `postgres` OS user.
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-target-pg-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o777 });
    const port = await freePort();
    cluster = { pgBin: worker.config.db.binDir ?? '/usr/lib/postgresql/15/bin', dir, host: '127.0.0.1', port, password: worker.config.db.password!, archiveCommand: '/bin/true' };
    initCluster(cluster);
    await startPostgres(cluster);
    second = { ...worker.config, db: { ...worker.config.db, host: '127.0.0.1', port } };

    backup = (await worker.env.client.workflow.execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-tbackup-${Date.now()}`, args: [{ tier: 'daily' }] })) as BackupDatabaseResult;
    expect(backup.remote.map((r) => r.key)).toContain(backup.key);
    // The local copy is gone: artifact, metadata and any cached download.
    for (const path of [backup.key, `${backup.key}.metadata.json`, join(RESTORE_CACHE, backup.key)]) rmSync(join(worker.config.backupRoot, path), { force: true });
  }, 300_000);

  afterAll(async () => {
    if (cluster) await stopPostgres(cluster.pgBin, cluster.dir).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
    await worker?.stop();
  });

  const restore = (input: Record<string, unknown>) =>
    worker.env.client.workflow.start('restoreDatabase', { taskQueue: worker.taskQueue, workflowId: `test-trestore-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [input] });

  it('restores from the off-site copy only into the second cluster', async () => {
    const target = { postgres: { host: '127.0.0.1', port: second.db.port } };
    const result = (await (await restore({ backup: backup.key, source: 'remote', target })).result()) as RestoreDatabaseResult;
    expect(result.source).toBe('remote');
    expect(result.target).toEqual(target);
    expect(result.check).toMatchObject({ ok: true, problems: [], tables: 4 });
    // The restored database is on the second cluster, not on the configured one.
    expect((await queryDb<{ datname: string }>(second, 'postgres', 'SELECT datname FROM pg_database')).map((r) => r.datname)).toContain(result.database);
    expect((await queryDb<{ datname: string }>(worker.config, 'postgres', 'SELECT datname FROM pg_database')).map((r) => r.datname)).not.toContain(result.database);
    expect(await fingerprint(second, result.database)).toEqual(await fingerprint(worker.config, worker.config.db.name));
  }, 300_000);

  it('source local with the local copy deleted fails clearly, before any load', async () => {
    const error = await (await restore({ backup: backup.key, source: 'local', target: { postgres: { host: '127.0.0.1', port: second.db.port } } })).result().catch((e: unknown) => e);
    const cause = failureOf(error);
    expect(cause.type).toBe('BackupNotFound');
    expect(cause.message).toMatch(/no local copy/);
  });

  it('refuses bad source and target input naming the field, and a target with replaceProduction', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ source: 'offsite' }, /^source:/],
      [{ target: { postgres: { host: '127.0.0.1', port: 0 } } }, /^target\.postgres\.port:/],
      [{ target: { postgres: { host: '127.0.0.1', port: 5432, password: 'x' } } }, /target\.postgres\.password/],
      [{ target: { minio: { endpoint: 'x' } } }, /target\.minio/],
      [{ replaceProduction: true, target: { postgres: { host: '127.0.0.1', port: second.db.port } } }, /^target:.*replaceProduction/],
    ];
    for (const [input, message] of cases) {
      const cause = failureOf(await (await restore({ backup: backup.key, ...input })).result().catch((e: unknown) => e));
      expect(cause.type).toBe('InputInvalid');
      expect(cause.message).toMatch(message);
    }
  });
});

describe('restoreBucket into an explicit target MinIO from the off-site copy', () => {
  const bucket = testBucket('tgt');
  const objects = sampleObjects();
  let worker: TestWorkerHandle;
  let dir: string;
  let pid: number | undefined;
  let endpoint: string;
  let secondStore: BucketStore;
  let snapshot: BackupBucketsResult['snapshots'][number];

  beforeAll(async () => {
    worker = await startTestWorker({ overrides: { BUCKETS_TO_BACKUP: bucket } });
    expect(worker.config.remote.enabled).toBe(true);
    await seedBucket(worker.config, bucket, objects);
    // A second, empty MinIO whose root keys are the stack's source keys (what the worker uses for a target).
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-target-minio-'));
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const options: MinioServerOptions = {
      binary: join(defaultToolsDir(), 'minio'), dir, role: 'source', host: '127.0.0.1', port: await freePort(), consolePort: await freePort(),
      rootUser: worker.config.minio.source.accessKey, rootPassword: worker.config.minio.source.secretKey!,
    };
    pid = startMinio(options);
    await waitForMinio(options, () => processCommandLine(pid!) !== undefined);
    endpoint = `http://127.0.0.1:${options.port}`;
    secondStore = new BucketStore({ ...worker.config.minio.source, endpoint }, 'source');

    const result = (await worker.env.client.workflow.execute('backupBuckets', { taskQueue: worker.taskQueue, workflowId: `test-tsnap-${Date.now()}`, args: [{}] })) as BackupBucketsResult;
    snapshot = result.snapshots[0]!;
    expect(snapshot.remote?.key).toBe(`minio-snapshots/${snapshot.file}`);
    // The local archive and its metadata are gone (and any cached download).
    const snapshotDir = join(worker.config.minio.backupRoot, 'snapshots');
    for (const path of [join(snapshotDir, snapshot.file), join(snapshotDir, `${snapshot.file}.metadata.json`), join(worker.config.minio.backupRoot, RESTORE_CACHE, localSnapshotKey(snapshot.file))]) rmSync(path, { force: true });
  }, 300_000);

  afterAll(async () => {
    if (pid) await stopProcess(pid).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (worker) {
      await dropBucket(stores(worker.config).source, bucket).catch(() => undefined);
      if (snapshot) {
        const remote = new S3Store(s3SettingsFromConfig(worker.config.remote));
        for (const key of [`minio-snapshots/${snapshot.file}`, `minio-snapshots/${snapshot.file}.metadata.json`]) await remote.delete(key).catch(() => undefined);
      }
      await worker.stop();
    }
  });

  const run = (input: Record<string, unknown>) =>
    worker.env.client.workflow.start('restoreBucket', { taskQueue: worker.taskQueue, workflowId: `test-tbucket-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [input] });

  it('restores the snapshot from the off-site copy only into the second MinIO', async () => {
    const result = (await (await run({ snapshot: snapshot.file, source: 'remote', target: { minio: { endpoint } } })).result()) as RestoreBucketResult;
    expect(result).toMatchObject({ from: 'snapshot', targetBucket: bucket, copy: 'remote', restored: objects.length, createdBucket: true, target: { minio: { endpoint } } });
    expect(await readBucket(secondStore, bucket)).toEqual(expected(objects));
  }, 300_000);

  it('from the replica into the second MinIO: the backup MinIO\'s copy, byte-identical, with types and metadata', async () => {
    await worker.env.client.workflow.execute('mirrorBuckets', { taskQueue: worker.taskQueue, workflowId: `test-tmirror-${Date.now()}`, args: [{ buckets: [bucket] }] });
    const targetBucket = `${bucket}-rep`;
    const result = (await (await run({ fromReplica: bucket, targetBucket, target: { minio: { endpoint } } })).result()) as RestoreBucketResult;
    expect(result).toMatchObject({ from: 'replica', source: bucket, targetBucket, restored: objects.length, createdBucket: true, target: { minio: { endpoint } } });
    expect(await readBucket(secondStore, targetBucket)).toEqual(expected(objects));
    // The configured source MinIO got nothing.
    expect(await stores(worker.config).source.bucketExists(targetBucket)).toBe(false);
    await dropBucket(stores(worker.config).backup, bucket).catch(() => undefined);
  }, 300_000);

  it('source local with the local archive deleted fails clearly; bad targets are refused naming the field', async () => {
    const local = failureOf(await (await run({ snapshot: snapshot.file, source: 'local', target: { minio: { endpoint } } })).result().catch((e: unknown) => e));
    expect(local.type).toBe('BackupNotFound');
    expect(local.message).toMatch(/no local copy/);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ snapshot: snapshot.file, target: { minio: { endpoint: 'http://user:pw@127.0.0.1:9000' } } }, /^target\.minio\.endpoint:/],
      [{ snapshot: snapshot.file, target: { minio: { endpoint, secretKey: 'x' } } }, /target\.minio\.secretKey/],
      [{ snapshot: snapshot.file, server: 'backup', target: { minio: { endpoint } } }, /^target:/],
      [{ fromReplica: bucket, source: 'remote', target: { minio: { endpoint } } }, /^source: applies to snapshots only/],
      [{ snapshot: snapshot.file, source: 'nearby' }, /^source:/],
    ];
    for (const [input, message] of cases) {
      const cause = failureOf(await (await run(input)).result().catch((e: unknown) => e));
      expect(cause.type).toBe('InputInvalid');
      expect(cause.message).toMatch(message);
    }
  });
});
