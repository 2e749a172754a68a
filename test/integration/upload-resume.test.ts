/**
 * The off-site upload survives a killed worker and a MinIO outage: the workflow completes, the
 * remote object matches its metadata byte for byte, and no partial or duplicate object or
 * in-progress multipart upload is left behind.
 */
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stackSettings } from '../../client/stack/settings';
import { stackUp } from '../../client/stack/stack';
import { parseMetadata } from '../../lib/catalog/metadata';
import type { Config } from '../../lib/config/load';
import type { UploadCheckpoint } from '../../lib/storage/multipart';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import { getBuffer, listAll } from '../../lib/storage/store';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import { stackEnvFile, startTestWorker, testConfig, uniqueQueues } from './helpers';

const DATABASE = 'lifeboat_upload_test';
/** About five parts of 5 MiB at 2 MB/s: the upload takes long enough (~12 s) to be interrupted. */
const SLOW_UPLOAD = { DB_NAME: DATABASE, S3_PART_SIZE_MB: '5', UPLOAD_RATE_LIMIT_MBPS: '2' };
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A database of ~24 MB of incompressible bytes, created once. */
async function ensureBigDatabase(config: Config): Promise<void> {
  const admin = new PgClient({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount) return;
    await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  const db = new PgClient({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database: DATABASE });
  await db.connect();
  try {
    await db.query('CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)');
    for (let i = 1; i <= 24; i++) await db.query('INSERT INTO blobs VALUES ($1, $2)', [i, randomBytes(1 << 20)]);
  } finally {
    await db.end();
  }
}

async function uploadProgress(handle: WorkflowHandle): Promise<{ key?: string; partsDone: number; attempt: number; lastFailure?: string }> {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  const upload = pending.find((a) => a.activityType?.name === 'uploadArtifact');
  if (!upload) return { partsDone: 0, attempt: 0 };
  const payload = upload.heartbeatDetails?.payloads?.[0];
  const details = payload ? defaultPayloadConverter.fromPayload<Partial<UploadCheckpoint>>(payload) : undefined;
  return { partsDone: details?.partsDone ?? 0, attempt: upload.attempt ?? 0, lastFailure: upload.lastFailure?.message ?? undefined };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The remote copy equals the local file and its metadata; nothing else is left for this backup. */
async function expectCleanRemote(config: Config, key: string): Promise<void> {
  const local = join(config.backupRoot, key);
  const metadata = parseMetadata(readFileSync(`${local}.metadata.json`, 'utf8'))!;
  const remote = new S3Store(s3SettingsFromConfig(config.remote));
  const object = await getBuffer(remote, key);
  expect(object.length).toBe(metadata.bytes);
  expect(sha256(object)).toBe(metadata.sha256);
  expect(sha256(readFileSync(local))).toBe(metadata.sha256);
  const siblings = (await listAll(remote, key.replace(/\.sql\..*$/, ''))).map((o) => o.key).sort();
  expect(siblings).toEqual([key, `${key}.metadata.json`]);
  const uploads = await remote.client.send(new ListMultipartUploadsCommand({ Bucket: config.remote.bucket!, Prefix: key }));
  expect(uploads.Uploads ?? []).toEqual([]);
}

describe('resumable off-site upload', () => {
  let client: Client;
  beforeAll(async () => {
    await ensureBigDatabase(testConfig());
    const config = testConfig();
    client = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
  });
  afterAll(async () => {
    await client?.connection.close();
  });

  it('completes after the worker process is killed mid-upload, resuming the uploaded parts', async () => {
    const queues = uniqueQueues();
    const config = testConfig({ ...queues, ...SLOW_UPLOAD });
    const env = { ...process.env, LIFEBOAT_ENV_FILE: stackEnvFile(), LOG_LEVEL: 'warn', ...queues, ...SLOW_UPLOAD };
    const startWorker = (): ChildProcess => spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'lifeboat.js'), 'worker'], { env, stdio: 'ignore' });
    let worker = startWorker();
    try {
      const handle = await client.workflow.start('backupDatabase', { taskQueue: config.temporal.taskQueue, workflowId: `test-kill-${Date.now()}`, args: [{ tier: 'daily' }] });
      // Wait until the big dump's upload has recorded two parts, then kill the worker outright.
      await until('two uploaded parts', async () => ((await uploadProgress(handle)).partsDone >= 2 ? true : undefined));
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      worker = startWorker();
      const result = (await handle.result()) as BackupDatabaseResult;
      const dump = result.remote.find((r) => r.key === result.key);
      expect(dump?.resumedParts).toBeGreaterThanOrEqual(2);
      await expectCleanRemote(config, result.key);
    } finally {
      worker.kill('SIGKILL');
    }
  });

  it('completes after the backup MinIO is stopped mid-upload and started again', async () => {
    const worker = await startTestWorker({ overrides: SLOW_UPLOAD });
    try {
      const handle = await worker.env.client.workflow.start('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-outage-${Date.now()}`, args: [{ tier: 'daily' }] });
      await until('one uploaded part', async () => ((await uploadProgress(handle)).partsDone >= 1 ? true : undefined));
      const state = JSON.parse(readFileSync(join(inject('stackDir'), 'stack.json'), 'utf8')) as { processes: Record<string, { pid: number }> };
      process.kill(state.processes['minio-backup']!.pid, 'SIGKILL');
      // The upload fails against the dead server and is retried...
      const failure = await until('a failed upload attempt', async () => {
        const p = await uploadProgress(handle);
        return p.attempt >= 2 && p.lastFailure ? p.lastFailure : undefined;
      });
      expect(failure).toMatch(/unreachable|ECONNREFUSED|socket/i);
      // ...and completes once the server is back.
      await stackUp(stackSettings(process.env, 'test'), () => undefined);
      const result = (await handle.result()) as BackupDatabaseResult;
      await expectCleanRemote(worker.config, result.key);
    } finally {
      await worker.stop();
    }
  });
});
