/** Shared helpers for integration tests: config of the test stack, a worker on unique queues. */
import {
  AbortMultipartUploadCommand, DeleteBucketCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client,
} from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { inject } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadConfig, readRawEnv, type Config, type RawEnv } from '../../lib/config/load';
import { createLogger, type Logger } from '../../lib/logger';
import { Client as PgClient } from 'pg';
import { FINGERPRINT_SETTINGS } from '../../lib/postgres/dump';
import { installRuntime } from '../../workers/runtime';
import { createWorkers, WORKFLOWS_PATH, type LifeboatWorkerOptions, type LifeboatWorkers } from '../../workers/worker';

export function stackEnvFile(): string {
  return inject('stackEnvFile');
}

/** The raw settings of the test stack, for tests that tweak one value. */
export function stackRawEnv(): RawEnv {
  return readRawEnv({ envFile: stackEnvFile(), env: {} }).raw;
}

/** Config of the test stack, with optional overrides (raw env strings). */
export function testConfig(overrides: RawEnv = {}): Config {
  return loadConfig({ envFile: stackEnvFile(), env: overrides });
}

let logger: Logger | undefined;
export function testLogger(): Logger {
  logger ??= createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'error', fd: 2 });
  installRuntime({ logger });
  return logger;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
  return bundle;
}

export interface TestWorkerHandle {
  env: TestWorkflowEnvironment;
  workers: LifeboatWorkers;
  config: Config;
  taskQueue: string;
  stop(): Promise<void>;
}

/** Settings that give a test its own task queues (`test-<id>` and `test-<id>@testhost`). */
export function uniqueQueues(): RawEnv {
  return { LIFEBOAT_TASK_QUEUE: `test-${randomUUID().slice(0, 8)}`, LIFEBOAT_HOST: 'testhost' };
}

/**
 * Connect to the test stack's real Temporal server and run Lifeboat's workers on fresh, unique
 * task queues (so tests never pick up each other's tasks). `overrides` are raw settings on top of
 * the test stack's configuration (e.g. a wrong PGPASSWORD); `deps` replaces chosen dependencies
 * (stores, key ring, providers) of every activity.
 */
export async function startTestWorker(options: { overrides?: RawEnv } & Partial<Pick<LifeboatWorkerOptions, 'activityOverrides' | 'deps'>> = {}): Promise<TestWorkerHandle> {
  const config = testConfig({ ...uniqueQueues(), ...options.overrides });
  const log = testLogger();
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: config.temporal.address, namespace: config.temporal.namespace });
  const workers = await createWorkers({
    config,
    logger: log,
    connection: env.nativeConnection,
    workflowBundle: await workflowBundle(),
    activityOverrides: options.activityOverrides,
    deps: options.deps,
  });
  const running = workers.run();
  return {
    env,
    workers,
    config,
    taskQueue: workers.taskQueue,
    async stop() {
      workers.shutdown();
      await running;
      await env.teardown();
    },
  };
}

/**
 * A workflow history as searchable text: payloads (bytes) are decoded as UTF-8, so a secret inside
 * any input, result, heartbeat or failure shows up as plain text.
 */
export function historyText(history: unknown): string {
  const decoded: string[] = [];
  const text = JSON.stringify(history, (key, value: unknown) => {
    if (value instanceof Uint8Array) decoded.push(Buffer.from(value).toString('utf8'));
    // fetchHistory() gives payload bytes (`data`) as base64 strings.
    else if (typeof value === 'string' && key === 'data' && /^[A-Za-z0-9+/]+=*$/.test(value)) decoded.push(Buffer.from(value, 'base64').toString('utf8'));
    return value;
  });
  return `${text}\n${decoded.join('\n')}`;
}

/** Run one SQL statement against `database` on the configured server (fingerprint settings on). */
export async function queryDb<T>(config: Config, database: string, text: string): Promise<T[]> {
  const client = new PgClient({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database });
  await client.connect();
  try {
    for (const s of FINGERPRINT_SETTINGS) await client.query(s);
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Empty a test bucket (objects and unfinished multipart uploads) and remove it. */
export async function dropS3Bucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length === 0) break;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of uploads.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** Run one SQL statement against `database` on the server at `target`, with the configured role and password. */
export async function sqlAt<T>(target: { host: string; port: number }, config: Config, database: string, text: string): Promise<T[]> {
  const client = new PgClient({ host: target.host, port: target.port, user: config.db.user, password: config.db.password, database });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Wall time of the run. */
  ms: number;
}

/**
 * The built CLI (`bin/lifeboat.js`) in a child process, with the test stack's configuration and
 * `env` on top (only PATH and HOME from this process). Async, so a worker in this process keeps
 * serving the workflows the CLI starts; both streams are read from the spawn on.
 */
export function runLifeboat(args: string[], env: Record<string, string>, timeoutMs = 180_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'lifeboat.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LIFEBOAT_ENV_FILE: stackEnvFile(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, ms: Date.now() - started }));
  });
}
