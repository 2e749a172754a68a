/**
 * restorePointInTime on the real test stack: rows committed before a recorded time T come back,
 * rows committed after it do not; the recovered cluster runs on its own port, never archives into
 * the stack's WAL archive, and is stopped and removed afterwards. Targets that cannot be served
 * (before the oldest base backup, malformed, future) are refused before anything is created.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { exitCodeFor } from '../../client/exit-codes';
import type { Config } from '../../lib/config/load';
import { InputInvalid } from '../../lib/errors';
import { postmasterPid, stopCluster } from '../../lib/pitr/cluster';
import { clusterOwner, recoveryPathsOf, runDirOf } from '../../lib/pitr/recovery-dir';
import { pgToolPath } from '../../lib/postgres/tools';
import type { BackupBaseResult } from '../../workflows/backup-base';
import type { RestorePointInTimeResult } from '../../workflows/restore-point-in-time';
import { stackEnvFile, startTestWorker, type TestWorkerHandle } from './helpers';
import { freePort } from '../free-port';

async function withClient<T>(config: Config, database: string, fn: (client: Client) => Promise<T>, port = config.db.port, host = config.db.host): Promise<T> {
  const client = new Client({ host, port, user: config.db.user, password: config.db.password, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Switch to a new WAL segment and wait (polling pg_stat_archiver) until the finished one is archived. */
async function switchAndArchive(config: Config): Promise<string> {
  return withClient(config, 'postgres', async (client) => {
    const { rows } = await client.query<{ seg: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS seg');
    const segment = rows[0]!.seg;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const stat = (await client.query<{ last: string | null; failed: string | null }>('SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver')).rows[0]!;
      if (stat.last && stat.last.slice(0, 24) >= segment) return segment;
      if (Date.now() > deadline) throw new Error(`segment ${segment} was not archived within 90 s (last archived ${stat.last}, last failed ${stat.failed})`);
      await delay(200);
    }
  });
}

/** What a refused workflow failed with: the ApplicationFailure's type and message. */
async function refusal(promise: Promise<unknown>): Promise<{ type?: string | null; message: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return { type: (cause as ApplicationFailure).type, message: (cause as ApplicationFailure).message };
}

const listing = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe('restorePointInTime on the real stack', () => {
  let worker: TestWorkerHandle;
  const database = `pitr_test_${Date.now()}`;
  const recovered: string[] = [];

  beforeAll(async () => {
    worker = await startTestWorker();
    await withClient(worker.config, 'postgres', (c) => c.query(`CREATE DATABASE ${database}`));
    await withClient(worker.config, database, (c) => c.query('CREATE TABLE items (id serial PRIMARY KEY, phase text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())'));
  });

  afterAll(async () => {
    // Stop every recovered cluster and remove its run directory (cleanup).
    for (const dataDir of recovered) {
      const paths = recoveryPathsOf(runDirOf(dataDir));
      await stopCluster(pgToolPath(worker.config.db, 'pg_ctl', 15), paths, clusterOwner());
      rmSync(paths.runDir, { recursive: true, force: true });
    }
    await withClient(worker.config, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(() => undefined);
    await worker?.stop();
  });

  const run = (targetTime: string, port?: number): Promise<RestorePointInTimeResult> =>
    worker.env.client.workflow.execute('restorePointInTime', {
      taskQueue: worker.taskQueue,
      workflowId: `test-pitr-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`,
      args: [{ targetTime, ...(port !== undefined ? { port } : {}) }],
    }) as Promise<RestorePointInTimeResult>;

  it('recovers to T: the rows committed before T are there, none of those committed after', { timeout: 600_000 }, async () => {
    const config = worker.config;
    const archive = join(config.backupRoot, 'wal-archive');

    // A base backup, then T1 rows, the recorded time T, T2 rows; the WAL holding T2 archived.
    const base = (await worker.env.client.workflow.execute('backupBase', { taskQueue: worker.taskQueue, workflowId: `test-pitr-base-${Date.now()}`, args: [{}] })) as BackupBaseResult;
    await withClient(config, database, (c) => c.query("INSERT INTO items (phase) SELECT 't1' FROM generate_series(1, 50)"));
    const target = await withClient(config, database, async (c) => (await c.query<{ t: string }>("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t")).rows[0]!.t);
    await withClient(config, database, (c) => c.query("INSERT INTO items (phase) SELECT 't2' FROM generate_series(1, 30)"));
    await switchAndArchive(config);
    const archivedBefore = listing(archive);

    const port = await freePort();
    const result = await run(target, port);
    recovered.push(result.dataDir);

    // The cluster runs on the chosen port, from a new directory under RESTORE_DATA_ROOT.
    expect(result.port).toBe(port);
    expect(result.dataDir.startsWith(join(config.restore.dataRoot, 'pitr-'))).toBe(true);
    expect(postmasterPid(result.dataDir)).toBeGreaterThan(0);
    expect(result.target).toBe(`${target.replace(' ', 'T').replace('+00', '')}Z`);
    // The newest base backup finished before T is the one just taken (or a newer one of a concurrent run).
    expect(result.baseKey >= base.key).toBe(true);

    // T1 rows are there, T2 rows are not.
    const phases = await withClient(config, database, async (c) => (await c.query<{ phase: string; n: string }>('SELECT phase, count(*) AS n FROM items GROUP BY phase ORDER BY phase')).rows, port, '127.0.0.1');
    expect(phases).toEqual([{ phase: 't1', n: '50' }]);

    // The recovery point: the server stopped before a commit after T, and replayed nothing after T.
    expect(result.recoveryPoint.stoppedAt).toMatch(/^recovery stopping before commit of transaction \d+, time \d{4}-\d\d-\d\d /);
    expect(result.recoveryPoint.lastTransactionAt! <= result.target).toBe(true);
    expect(result.recoveryPoint.timeline).toBeGreaterThan(base.timeline);
    expect(result.replayedSegments).toBeGreaterThan(0);
    expect(result.walBytesReplayed).toBeGreaterThan(0);
    expect(result.databases.find((d) => d.name === database)).toMatchObject({ tables: 1, rows: 50 });

    // A restored copy: loopback, its own port and socket, never archiving into the stack's archive.
    const auto = readFileSync(join(result.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).toContain('archive_mode = off');
    expect(auto).toContain(`port = ${port}`);
    expect(auto).toContain("recovery_target_action = 'promote'");
    expect(auto).toMatch(/restore_command = '.*wal fetch --no-remote --archive-dir .*\/wal.* --archive-dir .*wal-archive.* %f %p'/);
    const newTimelines = listing(archive).filter((n) => !archivedBefore.includes(n) && !n.startsWith('00000001'));
    expect(newTimelines).toEqual([]);
  });

  it('recovers to `latest` from the off-site copies only, into the target port: every row in shipped WAL is there', { timeout: 600_000 }, async () => {
    const config = worker.config;
    expect(config.remote.enabled).toBe(true);
    const base = (await worker.env.client.workflow.execute('backupBase', { taskQueue: worker.taskQueue, workflowId: `test-pitr-base-${Date.now()}`, args: [{}] })) as BackupBaseResult;
    await withClient(config, database, (c) => c.query("INSERT INTO items (phase) SELECT 'shipped' FROM generate_series(1, 40)"));
    await switchAndArchive(config);
    await worker.env.client.workflow.execute('shipWal', { taskQueue: worker.taskQueue, workflowId: `test-pitr-ship-${Date.now()}`, args: [{}] });
    // Committed after the last shipped segment: only in the local archive, so an off-site recovery lacks it.
    await withClient(config, database, (c) => c.query("INSERT INTO items (phase) SELECT 'local-only' FROM generate_series(1, 7)"));
    await switchAndArchive(config);

    const port = await freePort();
    const result = (await worker.env.client.workflow.execute('restorePointInTime', {
      taskQueue: worker.taskQueue,
      workflowId: `test-pitr-latest-${Date.now()}`,
      args: [{ targetTime: 'latest', source: 'remote', target: { postgres: { host: '127.0.0.1', port } } }],
    })) as RestorePointInTimeResult;
    recovered.push(result.dataDir);
    expect(result).toMatchObject({ port, source: 'remote', targetLatest: true });
    expect(result.baseKey >= base.key).toBe(true);
    // Replay read only what was fetched from S3 into the run's wal/ directory, never the local archive.
    const auto = readFileSync(join(result.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(auto).not.toMatch(/^recovery_target_time\s*=/m);
    expect(auto).toMatch(/restore_command = '.*wal fetch --no-remote --archive-dir '?'?[^ ]*\/wal'?'? %f %p'/);
    expect(auto).not.toContain('wal-archive');
    const phases = await withClient(config, database, async (c) => (await c.query<{ phase: string; n: string }>('SELECT phase, count(*) AS n FROM items GROUP BY phase ORDER BY phase')).rows, port, '127.0.0.1');
    expect(phases.find((p) => p.phase === 'shipped')).toEqual({ phase: 'shipped', n: '40' });
    expect(phases.find((p) => p.phase === 'local-only')).toBeUndefined();
    expect(result.recoveryPoint.lastTransactionAt).toBeDefined();
  });

  it('refuses a bad source or target before any work', async () => {
    const before = listing(worker.config.restore.dataRoot);
    const start = (args: Record<string, unknown>): Promise<unknown> =>
      worker.env.client.workflow.execute('restorePointInTime', { taskQueue: worker.taskQueue, workflowId: `test-pitr-bad-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [{ targetTime: 'latest', ...args }] });
    expect(await refusal(start({ source: 'tape' }))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/^source: "tape" is not one of local, remote, auto/) });
    expect(await refusal(start({ target: { postgres: { host: '10.1.2.3', port: 5433 } } }))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/^target\.postgres\.host: "10\.1\.2\.3": point-in-time recovery builds a new cluster/) });
    expect(await refusal(start({ target: { postgres: { port: 5433, password: 'x' } } }))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/^target\.postgres: unknown field target\.postgres\.password/) });
    expect(await refusal(start({ port: 5433, target: { postgres: { port: 5434 } } }))).toMatchObject({ type: 'InputInvalid', message: expect.stringContaining('differs from port 5433') });
    expect(listing(worker.config.restore.dataRoot)).toEqual(before);
  });

  it('refuses a target before the oldest base backup before any work, creating nothing', async () => {
    const before = listing(worker.config.restore.dataRoot);
    const { type, message } = await refusal(run('2001-02-03 04:05:06+00'));
    expect(type).toBe('InputInvalid');
    expect(message).toMatch(/^--pitr: 2001-02-03 04:05:06 UTC is before the oldest base backup \(base\/\d{8}-\d{6}\/base\.tar\.\S+, finished \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? UTC\)/);
    expect(listing(worker.config.restore.dataRoot)).toEqual(before);
  });

  it('refuses malformed, ambiguous and future times the same way', async () => {
    const before = listing(worker.config.restore.dataRoot);
    expect(await refusal(run('17/10/2025 14:30'))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/^--pitr: "17\/10\/2025 14:30" is not a date and time/) });
    expect(await refusal(run('2999-01-01 00:00:00+00'))).toMatchObject({ type: 'InputInvalid', message: expect.stringContaining('is in the future') });
    expect(await refusal(run('2025-10-17 14:30:00+00', 0))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/^--port: /) });
    expect(listing(worker.config.restore.dataRoot)).toEqual(before);
  });

  it('the CLI refuses an ambiguous time before connecting, and a too-old one, with exit code 2', async () => {
    const saved = { file: process.env.LIFEBOAT_ENV_FILE, queue: process.env.LIFEBOAT_TASK_QUEUE, host: process.env.LIFEBOAT_HOST, tz: process.env.RESTORE_TIME_ZONE };
    process.env.LIFEBOAT_ENV_FILE = stackEnvFile();
    process.env.LIFEBOAT_TASK_QUEUE = worker.config.temporal.taskQueue;
    process.env.LIFEBOAT_HOST = worker.config.temporal.host;
    process.env.RESTORE_TIME_ZONE = 'Europe/Berlin';
    try {
      const { runPitrRestore } = await import('../../client/commands/pitr');
      const ambiguous = await runPitrRestore('2025-10-26 02:30', { wait: true }).then(() => undefined, (e: unknown) => e);
      expect(ambiguous).toBeInstanceOf(InputInvalid);
      expect((ambiguous as InputInvalid).message).toContain('is ambiguous in Europe/Berlin');
      expect(exitCodeFor(ambiguous)).toBe(2);
      const tooOld = await runPitrRestore('2001-02-03 05:05:06', { wait: true }).then(() => undefined, (e: unknown) => e);
      expect(tooOld).toBeInstanceOf(InputInvalid);
      expect((tooOld as InputInvalid).message).toMatch(/^--pitr: 2001-02-03 04:05:06 UTC is before the oldest base backup/);
      expect((tooOld as InputInvalid).hint).toMatch(/^choose a time at or after /);
      expect(exitCodeFor(tooOld)).toBe(2);
    } finally {
      for (const [name, value] of [['LIFEBOAT_ENV_FILE', saved.file], ['LIFEBOAT_TASK_QUEUE', saved.queue], ['LIFEBOAT_HOST', saved.host], ['RESTORE_TIME_ZONE', saved.tz]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
