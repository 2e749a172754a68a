/**
 * Issue 14's PITR items on the real stack:
 *  - "reaches the target" means it: with no transaction ended after T in the archived WAL (a segment
 *    archived after T holds only earlier commits), the CLI and the workflow refuse before creating
 *    anything and offer `--pitr latest` (the old planner promised, then failed in replay, exit 6);
 *  - `restore <backup> --pitr T` recovers from the named base backup, or refuses one that finished
 *    after T or is not a base backup (the old code ignored the name);
 *  - `lifeboat pitr list|remove` show and remove recovered clusters (pg_ctl as the postgres OS user),
 *    a failed recovery leaves its log, not its data, and the printed hint names `pitr remove`, not sudo.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { exitCodeFor } from '../../client/exit-codes';
import type { Config } from '../../lib/config/load';
import { InputInvalid } from '../../lib/errors';
import { postmasterPid, stopCluster } from '../../lib/pitr/cluster';
import type { RecoveredCluster } from '../../lib/pitr/recovered-clusters';
import { clusterOwner, recoveryPathsOf, runDirOf } from '../../lib/pitr/recovery-dir';
import { withPg } from '../../lib/postgres/connection';
import { switchWalAndWaitArchived } from '../../lib/postgres/switch-wal';
import { pgToolPath } from '../../lib/postgres/tools';
import type { BackupBaseResult } from '../../workflows/backup-base';
import type { RestorePointInTimeResult } from '../../workflows/restore-point-in-time';
import { runLifeboat, sqlAt, stackEnvFile, startTestWorker, type TestWorkerHandle } from './helpers';
import { freePort } from '../free-port';


/** Run `fn` on a connection to `database` of the configured server. */
const withClient = <T>(config: Config, database: string, fn: (client: Client) => Promise<T>): Promise<T> => withPg(config.db, fn, database);
const switchAndArchive = async (config: Config): Promise<string> => (await switchWalAndWaitArchived(config.db, { timeoutMs: 90_000 })).segment;

const nowUtc = (config: Config): Promise<string> =>
  withClient(config, 'postgres', async (c) => (await c.query<{ t: string }>("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t")).rows[0]!.t);

async function refusal(promise: Promise<unknown>): Promise<{ type?: string | null; message: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return { type: cause.type, message: cause.message };
}

const listing = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

const lifeboat = (args: string[], env: Record<string, string>) => runLifeboat(args, env);

/** Run `fn` with the CLI's environment pointed at this worker's queues. */
async function asCli<T>(worker: TestWorkerHandle, fn: () => Promise<T>): Promise<T> {
  const saved = { file: process.env.LIFEBOAT_ENV_FILE, queue: process.env.LIFEBOAT_TASK_QUEUE, host: process.env.LIFEBOAT_HOST };
  process.env.LIFEBOAT_ENV_FILE = stackEnvFile();
  process.env.LIFEBOAT_TASK_QUEUE = worker.config.temporal.taskQueue;
  process.env.LIFEBOAT_HOST = worker.config.temporal.host;
  try {
    return await fn();
  } finally {
    for (const [name, value] of [['LIFEBOAT_ENV_FILE', saved.file], ['LIFEBOAT_TASK_QUEUE', saved.queue], ['LIFEBOAT_HOST', saved.host]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('PITR through the CLI: named base, a target that is really reached, pitr list/remove', () => {
  let worker: TestWorkerHandle;
  const database = `pitr_cli_${Date.now()}`;
  const recovered: string[] = [];
  let older: BackupBaseResult;
  let newer: BackupBaseResult;
  /** A time between the two base backups: `older` finished before it, `newer` after. */
  let between: string;

  const run = (args: Record<string, unknown>, w: TestWorkerHandle = worker): Promise<RestorePointInTimeResult> =>
    w.env.client.workflow.execute('restorePointInTime', {
      taskQueue: w.taskQueue,
      workflowId: `test-pitr-cli-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`,
      args: [args],
    }) as Promise<RestorePointInTimeResult>;

  const baseBackup = async (): Promise<BackupBaseResult> =>
    (await worker.env.client.workflow.execute('backupBase', { taskQueue: worker.taskQueue, workflowId: `test-pitr-cli-base-${Date.now()}`, args: [{}] })) as BackupBaseResult;

  beforeAll(async () => {
    worker = await startTestWorker();
    await withClient(worker.config, 'postgres', (c) => c.query(`CREATE DATABASE ${database}`));
    await withClient(worker.config, database, (c) => c.query('CREATE TABLE items (id serial PRIMARY KEY, phase text NOT NULL)'));
    older = await baseBackup();
    between = await nowUtc(worker.config);
    await withClient(worker.config, database, (c) => c.query("INSERT INTO items (phase) SELECT 'after-older' FROM generate_series(1, 20)"));
    newer = await baseBackup();
  }, 600_000);

  afterAll(async () => {
    for (const dataDir of recovered) {
      const paths = recoveryPathsOf(runDirOf(dataDir));
      await stopCluster(pgToolPath(worker.config.db, 'pg_ctl', 15), paths, clusterOwner()).catch(() => undefined);
      rmSync(paths.runDir, { recursive: true, force: true });
    }
    await withClient(worker.config, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(() => undefined);
    await worker?.stop();
  });

  it('refuses, in the CLI and in the workflow, a target no archived transaction ends after; nothing is created', { timeout: 300_000 }, async () => {
    const config = worker.config;
    await withClient(config, database, (c) => c.query("INSERT INTO items (phase) SELECT 'before-t' FROM generate_series(1, 10)"));
    const target = await nowUtc(config);
    // A segment archived after T, holding only commits from before T.
    await switchAndArchive(config);
    const before = listing(config.restore.dataRoot);

    const cli = await asCli(worker, async () => {
      const { runPitrRestore } = await import('../../client/commands/pitr');
      return runPitrRestore(target, { wait: true }).then(() => undefined, (e: unknown) => e);
    });
    expect(cli).toBeInstanceOf(InputInvalid);
    expect((cli as InputInvalid).message).toMatch(/^--pitr: recovery would stop short of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? UTC: no transaction that ended after it is archived yet; the newest transaction in the archived WAL ended at /);
    expect((cli as InputInvalid).hint).toMatch(/^use --pitr latest to recover to the end of the archived WAL/);
    expect(exitCodeFor(cli)).toBe(2);

    const wf = await refusal(run({ targetTime: target, port: await freePort() }));
    expect(wf.type).toBe('InputInvalid');
    expect(wf.message).toMatch(/^--pitr: recovery would stop short of /);
    expect(listing(config.restore.dataRoot)).toEqual(before);
  });

  it('recovers from the named (older) base backup, and refuses one finished after the target or an empty name', { timeout: 600_000 }, async () => {
    const config = worker.config;
    const target = await nowUtc(config);
    await withClient(config, database, (c) => c.query("INSERT INTO items (phase) SELECT 'after-t' FROM generate_series(1, 5)"));
    await switchAndArchive(config);

    // The newest base before T is `newer` (or a concurrent run's); the named one must be used.
    const port = await freePort();
    const result = await run({ targetTime: target, base: older.key, port });
    recovered.push(result.dataDir);
    expect(result.baseKey).toBe(older.key);
    const phases = await sqlAt<{ phase: string; n: string }>({ host: '127.0.0.1', port }, config, database, 'SELECT phase, count(*) AS n FROM items GROUP BY phase ORDER BY phase');
    expect(phases.find((p) => p.phase === 'after-older')).toEqual({ phase: 'after-older', n: '20' });
    expect(phases.find((p) => p.phase === 'after-t')).toBeUndefined();

    // The result's hint: `lifeboat pitr remove <id>`, never sudo.
    const { describePitrResult } = await import('../../client/commands/pitr');
    const text = describePitrResult(result);
    expect(text).toContain(`lifeboat pitr remove ${runDirOf(result.dataDir).split('/').pop()}`);
    expect(text).not.toContain('sudo');

    // A base backup finished after the target, and a dump, are refused before anything is created.
    const before = listing(config.restore.dataRoot);
    const tooNew = await refusal(run({ targetTime: between, base: newer.key, port: await freePort() }));
    expect(tooNew.type).toBe('InputInvalid');
    expect(tooNew.message).toMatch(new RegExp(`^base: ${newer.key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} finished at .* after the target`));
    const cli = await asCli(worker, async () => {
      const { runPitrRestore } = await import('../../client/commands/pitr');
      return runPitrRestore(between, { wait: true, base: newer.key }).then(() => undefined, (e: unknown) => e);
    });
    expect(cli).toBeInstanceOf(InputInvalid);
    expect((cli as InputInvalid).message).toMatch(/^base: .* after the target/);
    expect((cli as InputInvalid).hint).toContain(older.key);
    expect(await refusal(run({ targetTime: target, base: '' }))).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/^base: must name a base backup/) });
    expect(listing(config.restore.dataRoot)).toEqual(before);
  });

  it('pitr list shows the recovered cluster (running, port, size); pitr remove stops and deletes it', { timeout: 300_000 }, async () => {
    expect(recovered.length).toBeGreaterThan(0);
    const dataDir = recovered[0]!;
    const id = runDirOf(dataDir).split('/').pop()!;
    const env = { LIFEBOAT_TASK_QUEUE: worker.config.temporal.taskQueue, LIFEBOAT_HOST: worker.config.temporal.host };
    const list = await lifeboat(['pitr', 'list', '--json'], env);
    expect(list.status, list.stderr).toBe(0);
    const clusters = (JSON.parse(list.stdout) as { clusters: RecoveredCluster[] }).clusters;
    const mine = clusters.find((c) => c.id === id);
    expect(mine).toMatchObject({ id, state: 'running', dataDir });
    expect(mine!.port).toBeGreaterThan(0);
    expect(mine!.bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(mine!.target).toMatch(/^\d{4}-\d\d-\d\dT/);
    const text = await lifeboat(['pitr', 'list'], env);
    expect(text.stdout).toMatch(new RegExp(`${id}\\s+running\\s+${mine!.port}`));

    const removed = await lifeboat(['pitr', 'remove', id, '--json'], env);
    expect(removed.status, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout).result).toMatchObject({ id, wasRunning: true, port: mine!.port });
    expect(existsSync(runDirOf(dataDir))).toBe(false);
    expect(postmasterPid(dataDir)).toBeUndefined();
    recovered.shift();
    const again = await lifeboat(['pitr', 'remove', id], env);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain(`no recovered cluster ${id}`);
  });

  it('a recovery that fails after preparing leaves its log, not its data, and is listed as failed', { timeout: 600_000 }, async () => {
    const failing = await startTestWorker({
      activityOverrides: {
        verifyRecoveredCluster: async () => {
          throw ApplicationFailure.nonRetryable('injected verification failure', 'ChecksumMismatch');
        },
      },
    });
    try {
      const error = await run({ targetTime: 'latest', port: await freePort() }, failing).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const clusters = (await failing.env.client.workflow.execute('listRecoveredClusters', { taskQueue: failing.taskQueue, workflowId: `test-pitr-list-${Date.now()}`, args: [] })) as { clusters: RecoveredCluster[] };
      const failed = clusters.clusters.filter((c) => c.state === 'failed' && c.error?.includes('injected verification failure'));
      expect(failed).toHaveLength(1);
      const run0 = failed[0]!;
      // The data directory (~hundreds of MB) is gone; the log and marker (a few KB) stay.
      expect(run0.bytes).toBeLessThan(1024 * 1024);
      expect(existsSync(run0.dataDir)).toBe(false);
      expect(existsSync(run0.logFile)).toBe(true);
      console.log(`failed PITR leaves ${run0.bytes} bytes (${run0.id})`);
      const removed = (await failing.env.client.workflow.execute('removeRecoveredCluster', { taskQueue: failing.taskQueue, workflowId: `test-pitr-rm-${Date.now()}`, args: [{ id: run0.id }] })) as { wasRunning: boolean };
      expect(removed.wasRunning).toBe(false);
      expect(existsSync(run0.runDir)).toBe(false);
    } finally {
      await failing.stop();
    }
  });
});
