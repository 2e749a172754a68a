/**
 * The recovery point objective on a "primary" of its own (a PostgreSQL 15 cluster made by the local
 * environment provider, archiving with Lifeboat's `wal archive`, archive_timeout as the docs
 * recommend for RPO_TARGET), shipping off-site to a bucket of its own by the declared `wal-ship`
 * schedule (interval derived from RPO_TARGET). RPO_TARGET is 1 minute here so the test takes
 * minutes, not half an hour: the same code paths as the 5-minute default, which
 * `LIFEBOAT_TEST_RPO_SECONDS=300` runs.
 *
 * 1. Shipping stopped: the exposure grows past the target and monitoring raises `rpo-exposure`.
 * 2. The schedule ships: the exposure falls back under the target and a shipping run resolves the alert.
 * 3. The disaster: a row is committed, RPO_TARGET passes under a write-heavy load (6 MB of WAL
 *    every ~1.5 s; the exposure stays under the target), PostgreSQL is SIGKILLed and its data
 *    directory and the local WAL archive deleted; point-in-time recovery to `latest` from the
 *    off-site copies only has the row.
 */
import { readFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchedules } from '../../client/schedules';
import type { Config } from '../../lib/config/load';
import { environmentProviderFor } from '../../lib/environment/providers';
import type { EnvironmentProvider, ProvisionedEnvironment } from '../../lib/environment/provider';
import { walArchiveCommand } from '../../lib/lifeboat-bin';
import { BucketStore } from '../../lib/minio/bucket-store';
import { stopCluster } from '../../lib/pitr/cluster';
import { clusterOwner, recoveryPathsOf, runDirOf } from '../../lib/pitr/recovery-dir';
import { postgresOsUser } from '../../lib/postgres/os-user';
import { pgToolPath } from '../../lib/postgres/tools';
import { declaredSchedules } from '../../lib/schedules/declared';
import { buildStores } from '../../lib/deps';
import { readRpoExposure, currentWalLsn } from '../../lib/wal/exposure';
import { walBacklog } from '../../lib/wal/remote';
import { recommendedArchiveTimeoutSeconds, shipIntervalSeconds, type RpoExposure } from '../../lib/wal/rpo';
import type { MonitorBackupsResult } from '../../workflows/monitor-backups';
import type { RestorePointInTimeResult } from '../../workflows/restore-point-in-time';
import { freePort } from '../free-port';
import { sqlAt, startTestWorker, testConfig, testLogger, type TestWorkerHandle } from './helpers';
import { dropBucket, stores } from './minio-helpers';

const archiveCommand = walArchiveCommand;

const sql = sqlAt;

describe('RPO: exposure measured, alerted, and a lost primary recovered from the off-site store only', () => {
  const id = Math.random().toString(36).slice(2, 8);
  const offsiteBucket = `lbt-rpo-offsite-${id}`;
  const prefix = `lbt-rpo-${id}-`;
  const RPO = Number(process.env.LIFEBOAT_TEST_RPO_SECONDS ?? 60);
  const TIMEOUT = (4 * RPO + 300) * 1000;
  let root: string;
  let production: ProvisionedEnvironment;
  let prodProvider: EnvironmentProvider;
  let worker: TestWorkerHandle;
  let config: Config;
  let recoveredDataDir: string | undefined;
  const samples: { at: number; exposure: RpoExposure; unshipped: number }[] = [];

  const exposure = async (): Promise<RpoExposure> => {
    const remote = buildStores(config).offsite();
    const archive = join(config.backupRoot, 'wal-archive');
    const e = await readRpoExposure(archive, remote, RPO, await currentWalLsn(config.db));
    samples.push({ at: Date.now(), exposure: e, unshipped: (await walBacklog(archive, remote)).pending.length });
    return e;
  };
  const run = <T>(type: string, args: unknown = {}): Promise<T> =>
    worker.env.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: `test-rpo-${type}-${id}-${Date.now()}`, args: [args] }) as Promise<T>;

  beforeAll(async () => {
    root = mkdtempSync('/tmp/lifeboat-rpo-');
    chmodSync(root, 0o755);
    const pgUser = postgresOsUser();
    for (const d of ['backups', 'backups/wal-archive', 'envs', 'prod', 'restore']) {
      mkdirSync(join(root, d), { recursive: true, mode: 0o755 });
      if (pgUser && d === 'backups/wal-archive') chownSync(join(root, d), pgUser.uid, pgUser.gid);
    }
    const base = testConfig();
    prodProvider = environmentProviderFor('local', testConfig({ DR_ENVIRONMENT_ROOT: join(root, 'prod') }), testLogger());
    production = await prodProvider.provision('production', { postgres: 'server' });
    const pg = production.postgres!;
    await sql(pg, base, 'postgres', 'CREATE DATABASE app');
    await sql(pg, base, 'app', 'CREATE TABLE items (id serial PRIMARY KEY, phase text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    await sql(pg, base, 'postgres', `ALTER SYSTEM SET archive_command = '${archiveCommand(join(root, 'backups', 'wal-archive')).replace(/'/g, "''")}'`);
    // The docs' recommendation: archive_timeout at most half of RPO_TARGET.
    await sql(pg, base, 'postgres', `ALTER SYSTEM SET archive_timeout = '${recommendedArchiveTimeoutSeconds(RPO)}s'`);
    await sql(pg, base, 'postgres', 'SELECT pg_reload_conf()');
    await new BucketStore(base.minio.backup!, 'backup').ensureBucket(offsiteBucket);
    worker = await startTestWorker({
      overrides: {
        DB_HOST: pg.host, DB_PORT: String(pg.port), DB_NAME: 'app', BACKUP_ROOT: join(root, 'backups'), S3_BUCKET: offsiteBucket,
        RESTORE_DATA_ROOT: join(root, 'restore'), DR_ENVIRONMENT_ROOT: join(root, 'envs'), RPO_TARGET: `${RPO}s`, LOG_LEVEL: 'warn',
      },
    });
    config = worker.config;
  }, 300_000);

  afterAll(async () => {
    if (worker) {
      for await (const s of worker.env.client.schedule.list()) if (s.scheduleId.startsWith(prefix)) await worker.env.client.schedule.getHandle(s.scheduleId).delete().catch(() => undefined);
      if (recoveredDataDir) await stopCluster(pgToolPath(config.db, 'pg_ctl', 15), recoveryPathsOf(runDirOf(recoveredDataDir)), clusterOwner()).catch(() => undefined);
      await worker.stop();
    }
    await dropBucket(stores(testConfig()).backup, offsiteBucket).catch(() => undefined);
    await prodProvider?.teardown('production').catch(() => undefined);
    if (root) rmSync(root, { recursive: true, force: true });
    // Figures for the report.
    if (samples.length > 0) process.stderr.write(`rpo samples (s since start, exposure s, basis, unshipped files): ${samples.map((s) => `${Math.round((s.at - samples[0]!.at) / 1000)}:${s.exposure.exposureSeconds}:${s.exposure.basis}:${s.unshipped}`).join(' ')}\n`);
  });

  it('raises rpo-exposure while shipping is stopped and resolves it once the schedule ships again', { timeout: TIMEOUT }, async () => {
    const pg = production.postgres!;
    await run('backupBase');
    await run('shipWal');
    // Shipping stopped: writes keep coming, archive_timeout closes segments, nothing leaves the host.
    const started = Date.now();
    while (Date.now() - started < (RPO + 25) * 1000) {
      await sql(pg, config, 'app', "INSERT INTO items (phase) VALUES ('unshipped')");
      await delay(5_000);
    }
    const stale = await exposure();
    expect(stale.basis).toBe('newest-shipped');
    expect(stale.exposureSeconds).toBeGreaterThan(RPO);
    const fired = await run<MonitorBackupsResult>('monitorBackups');
    expect(fired.firing.find((e) => e.condition === 'rpo-exposure')).toMatchObject({ severity: 'warning', details: expect.objectContaining({ targetSeconds: RPO }) });
    expect(fired.sent).toContainEqual({ condition: 'rpo-exposure', resolved: false, severity: 'warning' });
    expect(fired.metrics.metrics.rpo_exposure_seconds).toBeGreaterThan(RPO);
    const latest = JSON.parse(readFileSync(join(config.backupRoot, 'metrics', 'latest.json'), 'utf8')) as { metrics: Record<string, number> };
    expect(latest.metrics.rpo_exposure_seconds).toBeGreaterThan(RPO);

    // Shipping on: the declared schedule, every fifth of RPO_TARGET.
    const declared = declaredSchedules(config, prefix).filter((s) => s.name === 'wal-ship');
    expect(declared[0]!.intervalSeconds).toBe(shipIntervalSeconds(RPO));
    await applySchedules(worker.env.client, declared, prefix);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const e = await exposure();
      if (e.exposureSeconds !== undefined && e.exposureSeconds <= RPO) break;
      if (Date.now() > deadline) throw new Error(`exposure stayed at ${e.exposureSeconds} s`);
      await delay(2_000);
    }
    // The scheduled runs check the exposure after shipping and resolve the alert themselves (one
    // alert state with the monitor, rpo-alert.test.ts); the monitor agrees and sends nothing more.
    const resolves = (): number =>
      readFileSync(join(config.backupRoot, 'logs', 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean)
        .map((line) => JSON.parse(line) as { condition: string; resolved?: boolean })
        .filter((a) => a.condition === 'rpo-exposure' && a.resolved).length;
    for (const until = Date.now() + 60_000; resolves() === 0 && Date.now() < until; ) await delay(1_000);
    expect(resolves()).toBe(1);
    const resolved = await run<MonitorBackupsResult>('monitorBackups');
    expect(resolved.firing.find((e) => e.condition === 'rpo-exposure')).toBeUndefined();
    expect(resolved.sent.filter((s) => s.condition === 'rpo-exposure')).toEqual([]);
  });

  it('after RPO_TARGET, a committed row survives SIGKILL of the primary and the loss of its disk: recovered from the off-site store only', { timeout: TIMEOUT }, async () => {
    const pg = production.postgres!;
    const [row] = await sql<{ id: number; at: Date }>(pg, config, 'app', "INSERT INTO items (phase) VALUES ('precious') RETURNING id, at");
    // A write-heavy load behind it (bulk rows, several WAL segments a minute): the exposure stays under the target.
    const committedAt = Date.now();
    const firstSample = samples.length;
    let peak = 0;
    let lastMeasured = 0;
    while (Date.now() - committedAt < RPO * 1000) {
      await sql(pg, config, 'app', "INSERT INTO items (phase) SELECT 'load-' || repeat('x', 200) FROM generate_series(1, 20000)");
      await delay(1_000);
      if (Date.now() - lastMeasured > 3_000) {
        lastMeasured = Date.now();
        peak = Math.max(peak, (await exposure()).exposureSeconds ?? 0);
      }
    }
    const lag = Math.max(...samples.slice(firstSample).map((s) => s.unshipped));
    const [{ archived }] = (await sql<{ archived: string }>(pg, config, 'postgres', 'SELECT archived_count::text AS archived FROM pg_stat_archiver')) as [{ archived: string }];
    process.stderr.write(`write-heavy load: peak exposure ${peak} s (target ${RPO} s), shipping lag at most ${lag} segments, ${archived} segments archived in all\n`);
    expect(peak).toBeLessThanOrEqual(RPO);
    // The disaster: SIGKILL the postmaster, delete the data directory and the local WAL archive.
    const [{ dir }] = (await sql<{ dir: string }>(pg, config, 'postgres', "SELECT current_setting('data_directory') AS dir")) as [{ dir: string }];
    const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
        await delay(100);
      } catch {
        break;
      }
    }
    const disasterAt = new Date();
    await worker.env.client.schedule.getHandle(`${prefix}wal-ship`).pause('primary lost');
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(config.backupRoot, 'wal-archive'), { recursive: true, force: true });

    const port = await freePort();
    const result = await run<RestorePointInTimeResult>('restorePointInTime', { targetTime: 'latest', source: 'remote', target: { postgres: { host: '127.0.0.1', port } } });
    recoveredDataDir = result.dataDir;
    expect(result).toMatchObject({ source: 'remote', targetLatest: true });
    const found = await sql<{ phase: string }>({ host: '127.0.0.1', port }, config, 'app', `SELECT phase FROM items WHERE id = ${row!.id}`);
    expect(found).toEqual([{ phase: 'precious' }]);
    const lastTx = Date.parse(result.recoveryPoint.lastTransactionAt!);
    const achieved = (disasterAt.getTime() - lastTx) / 1000;
    process.stderr.write(`rpo achieved: last transaction recovered ${new Date(lastTx).toISOString()}, disaster ${disasterAt.toISOString()}: ${achieved.toFixed(1)} s (target ${RPO} s); peak exposure before it ${peak} s\n`);
    expect(achieved).toBeLessThanOrEqual(RPO);
  });
});
