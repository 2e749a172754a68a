/**
 * The `rpo-exposure` alert raised by WAL shipping itself, within a ship interval, not at the next
 * hourly monitoring run. A "primary" of its own (PostgreSQL 15 from the local environment provider,
 * archiving with `wal archive`, archive_timeout as the docs recommend), RPO_TARGET 30 s (ship
 * interval 10 s, archive_timeout 15 s), a bucket of its own, a recording notifier, and an off-site
 * store that can be switched off. shipWal runs are started by the test, as the schedule would.
 *
 * 1. The off-site store stops answering: the run's upload is retried by Temporal while the exposure
 *    grows; the run checks it meanwhile (from the last listing it made) and raises the alert once,
 *    within two ship intervals of the exposure passing the target; the store answers again, the run
 *    ships and the alert resolves.
 * 2. The archiver dies (archive_command fails): runs succeed with nothing to ship, the exposure grows
 *    and the alert fires within two runs of passing the target; the hourly monitor finds it already
 *    raised (shared state: no second notification); the archiver recovers, the next run resolves it.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawEnv } from '../../lib/config/load';
import { buildStores } from '../../lib/deps';
import { environmentProviderFor } from '../../lib/environment/providers';
import type { EnvironmentProvider, ProvisionedEnvironment } from '../../lib/environment/provider';
import { walArchiveCommand } from '../../lib/lifeboat-bin';
import { BucketStore } from '../../lib/minio/bucket-store';
import type { Alert } from '../../lib/notify/alert';
import { postgresOsUser } from '../../lib/postgres/os-user';
import type { S3Store } from '../../lib/storage/s3-store';
import { readRpoExposure, currentWalLsn } from '../../lib/wal/exposure';
import { recommendedArchiveTimeoutSeconds, shipIntervalSeconds } from '../../lib/wal/rpo';
import type { ShipWalResult } from '../../activities/wal';
import type { MonitorBackupsResult } from '../../workflows/monitor-backups';
import { sqlAt, startTestWorker, testConfig, testLogger, type TestWorkerHandle } from './helpers';
import { dropBucket, stores } from './minio-helpers';

const RPO = 30;
const INTERVAL = shipIntervalSeconds(RPO);

describe('rpo-exposure alert from WAL shipping (RPO_TARGET 30 s)', () => {
  const id = Math.random().toString(36).slice(2, 8);
  const bucket = `lbt-rpo-alert-${id}`;
  let root: string;
  let production: ProvisionedEnvironment;
  let provider: EnvironmentProvider;
  let worker: TestWorkerHandle;
  let offsiteDown = false;
  const sent: (Alert & { at: number })[] = [];
  const rpoAlerts = (): (Alert & { at: number })[] => sent.filter((a) => a.condition === 'rpo-exposure');

  const sql = <T>(text: string, database = 'app'): Promise<T[]> => sqlAt<T>(production.postgres!, worker.config, database, text);
  const start = (type: string, args: unknown = {}) =>
    worker.env.client.workflow.start(type, { taskQueue: worker.taskQueue, workflowId: `test-rpo-alert-${type}-${id}-${Date.now()}`, args: [args] });
  const run = async <T>(type: string, args: unknown = {}): Promise<T> => (await start(type, args)).result() as Promise<T>;
  const exposure = async (): Promise<number> => {
    const remote = buildStores(worker.config).offsite();
    return (await readRpoExposure(join(worker.config.backupRoot, 'wal-archive'), remote, RPO, await currentWalLsn(worker.config.db))).exposureSeconds ?? 0;
  };
  /** Writes every second until stopped: the WAL position moves, archive_timeout closes segments. */
  const writer = () => {
    let on = true;
    const done = (async () => {
      while (on) {
        await sql("INSERT INTO items (phase) VALUES ('load')").catch(() => undefined);
        await delay(1_000);
      }
    })();
    return async () => {
      on = false;
      await done;
    };
  };
  const waitFor = async (what: string, seconds: number, test: () => boolean | Promise<boolean>): Promise<number> => {
    const started = Date.now();
    while (!(await test())) {
      if (Date.now() - started > seconds * 1000) throw new Error(`${what}: not within ${seconds} s`);
      await delay(500);
    }
    return (Date.now() - started) / 1000;
  };

  beforeAll(async () => {
    root = mkdtempSync('/tmp/lifeboat-rpo-alert-');
    chmodSync(root, 0o755);
    const pgUser = postgresOsUser();
    for (const d of ['backups', 'backups/wal-archive', 'envs', 'prod']) {
      mkdirSync(join(root, d), { recursive: true, mode: 0o755 });
      if (pgUser && d === 'backups/wal-archive') chownSync(join(root, d), pgUser.uid, pgUser.gid);
    }
    const base = testConfig();
    provider = environmentProviderFor('local', testConfig({ DR_ENVIRONMENT_ROOT: join(root, 'prod') }), testLogger());
    production = await provider.provision('production', { postgres: 'server' });
    const pg = production.postgres!;
    await sqlAt(pg, base, 'postgres', 'CREATE DATABASE app');
    await sqlAt(pg, base, 'app', 'CREATE TABLE items (id serial PRIMARY KEY, phase text NOT NULL)');
    await sqlAt(pg, base, 'postgres', `ALTER SYSTEM SET archive_command = '${walArchiveCommand(join(root, 'backups', 'wal-archive')).replace(/'/g, "''")}'`);
    await sqlAt(pg, base, 'postgres', `ALTER SYSTEM SET archive_timeout = '${recommendedArchiveTimeoutSeconds(RPO)}s'`);
    await sqlAt(pg, base, 'postgres', 'SELECT pg_reload_conf()');
    await new BucketStore(base.minio.backup!, 'backup').ensureBucket(bucket);
    const overrides: RawEnv = { DB_HOST: pg.host, DB_PORT: String(pg.port), DB_NAME: 'app', BACKUP_ROOT: join(root, 'backups'), S3_BUCKET: bucket, RPO_TARGET: `${RPO}s`, LOG_LEVEL: 'warn' };
    // The off-site store, switchable: while `offsiteDown`, every call fails as a refused connection does.
    const real = buildStores(testConfig(overrides));
    const offsite = real.offsite();
    const flaky = new Proxy(offsite, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || !['list', 'put', 'get', 'stat', 'delete'].includes(String(prop))) return value;
        return (...args: unknown[]) => {
          if (offsiteDown) throw Object.assign(new Error(`connect ECONNREFUSED ${offsite.location}`), { code: 'ECONNREFUSED' });
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as S3Store;
    worker = await startTestWorker({
      overrides,
      deps: {
        stores: { ...real, offsite: () => flaky },
        notifier: { channelsFor: () => ['slack'], send: async (_channel, alert) => void sent.push({ ...alert, at: Date.now() }) },
      },
    });
    // Something off-site to begin with.
    await sql('SELECT pg_switch_wal()', 'postgres');
    await waitFor('first segment archived', 60, async () => (await sql<{ n: string }>('SELECT archived_count::text AS n FROM pg_stat_archiver', 'postgres'))[0]!.n !== '0');
    await run('shipWal');
  }, 300_000);

  afterAll(async () => {
    if (worker) await worker.stop();
    await dropBucket(stores(testConfig()).backup, bucket).catch(() => undefined);
    await provider?.teardown('production').catch(() => undefined);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('raises the alert once while the off-site store is down, from the running shipWal, and resolves it when shipping resumes', { timeout: 300_000 }, async () => {
    expect(rpoAlerts()).toEqual([]);
    const stop = writer();
    try {
      offsiteDown = true;
      const wentDown = Date.now();
      const handle = await start('shipWal');
      // The exposure passes the target at most RPO after the store went down (the newest off-site
      // segment was archived before that); the alert follows within two ship intervals.
      const firedAfter = await waitFor('alert raised', RPO + 2 * INTERVAL + 15, () => rpoAlerts().length > 0);
      const fired = rpoAlerts()[0]!;
      process.stderr.write(`off-site down: rpo-exposure raised ${firedAfter.toFixed(1)} s after the store went down (target ${RPO} s, ship interval ${INTERVAL} s): ${fired.summary}\n`);
      expect(fired).toMatchObject({ severity: 'warning', details: expect.objectContaining({ targetSeconds: RPO, offsiteUnreachable: expect.stringContaining('ECONNREFUSED') }) });
      expect(fired.resolved).toBeFalsy();
      expect(Number(fired.details!.exposureSeconds)).toBeGreaterThan(RPO);
      // Still firing at the next check: no repeat. (Back up before the exposure nears 3 x RPO, critical:
      // Temporal's next attempt of the upload comes at most a minute later.)
      await delay(INTERVAL * 1000 + 3_000);
      expect(rpoAlerts()).toHaveLength(1);
      offsiteDown = false;
      process.stderr.write(`off-site back after ${((Date.now() - wentDown) / 1000).toFixed(1)} s\n`);
      const result = (await handle.result()) as ShipWalResult;
      expect(result.shipped.length).toBeGreaterThan(0);
      const resolved = rpoAlerts().filter((a) => a.resolved);
      expect(resolved).toHaveLength(1);
      expect(rpoAlerts()).toHaveLength(2);
      expect(await exposure()).toBeLessThanOrEqual(RPO);
    } finally {
      offsiteDown = false;
      await stop();
    }
  });

  it('raises the alert within two runs when the archiver dies, shares it with the monitor, and resolves it once archiving is back', { timeout: 300_000 }, async () => {
    sent.length = 0;
    await run('shipWal');
    expect(await exposure()).toBeLessThanOrEqual(RPO);
    const stop = writer();
    try {
      // A dead archiver: every archive_command fails, nothing new reaches the local archive.
      await sql("ALTER SYSTEM SET archive_command = 'false'", 'postgres');
      await sql('SELECT pg_reload_conf()', 'postgres');
      let runs = 0;
      let runsPastTarget = 0;
      const deadline = Date.now() + (2 * RPO + 60) * 1000;
      while (rpoAlerts().length === 0) {
        if (Date.now() > deadline) throw new Error('no rpo-exposure alert');
        const pastTarget = (await exposure()) > RPO;
        await run('shipWal');
        runs++;
        if (pastTarget) runsPastTarget++;
        if (rpoAlerts().length === 0) await delay(INTERVAL * 1000);
      }
      process.stderr.write(`archiver dead: rpo-exposure raised by run ${runs} (${runsPastTarget} run(s) after the exposure passed the target): ${rpoAlerts()[0]!.summary}\n`);
      expect(runsPastTarget).toBeLessThanOrEqual(1);
      expect(rpoAlerts()[0]).toMatchObject({ severity: 'warning' });
      expect(rpoAlerts()[0]!.resolved).toBeFalsy();
      // The hourly monitor evaluates the same condition into the same state: nothing sent again.
      const monitored = await run<MonitorBackupsResult>('monitorBackups');
      expect(monitored.firing.map((e) => e.condition)).toContain('rpo-exposure');
      expect(monitored.sent.filter((s) => s.condition === 'rpo-exposure')).toEqual([]);
      await run('shipWal');
      expect(rpoAlerts()).toHaveLength(1);

      // The archiver is back: the backlog in pg_wal is archived, the next run ships it and resolves.
      await sql(`ALTER SYSTEM SET archive_command = '${walArchiveCommand(join(root, 'backups', 'wal-archive')).replace(/'/g, "''")}'`, 'postgres');
      await sql('SELECT pg_reload_conf()', 'postgres');
      await waitFor('archiver caught up', 60, async () => {
        const [a] = await sql<{ ok: boolean }>('SELECT last_archived_time > last_failed_time AS ok FROM pg_stat_archiver', 'postgres');
        return Boolean(a?.ok);
      });
      await sql('SELECT pg_switch_wal()', 'postgres');
      await waitFor('resolved', 3 * INTERVAL + 30, async () => {
        await run('shipWal');
        return rpoAlerts().some((a) => a.resolved);
      });
      expect(rpoAlerts().map((a) => Boolean(a.resolved))).toEqual([false, true]);
    } finally {
      await stop();
    }
  });
});
