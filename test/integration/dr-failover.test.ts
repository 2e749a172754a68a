/**
 * A real failover, end to end, against a "production" of its own (so the shared test stack stays
 * up): a PostgreSQL 15 cluster archiving WAL with Lifeboat's `wal archive`, and a source MinIO, both
 * started by the local environment provider; backups off-site to a bucket of its own on the test
 * stack's backup MinIO (which also holds the replica). Rows and objects are written, WAL shipped;
 * then production is DESTROYED (servers stopped, data removed) and `disasterRecovery` runs in
 * failover mode on a separate worker PROCESS that is SIGKILLed during step 4 and again during
 * step 5 (a new worker takes over each time). The DNS switch is approved through the Update.
 * Checked: every row committed before the last shipped segment is there, the objects are
 * byte-identical, the production name in BIND points at the new endpoint, the checks passed, the
 * report's steps sum to no more than its total, and no step's effect was doubled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client as Temporal, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLifeboatBin, walArchiveCommand } from '../../lib/lifeboat-bin';
import type { Config } from '../../lib/config/load';
import { dnsProviderFromConfig } from '../../lib/dns/from-config';
import type { DrReport } from '../../lib/dr/report';
import { environmentProviderFor } from '../../lib/environment/providers';
import type { EnvironmentProvider, ProvisionedEnvironment } from '../../lib/environment/provider';
import { BucketStore } from '../../lib/minio/bucket-store';
import { postgresOsUser } from '../../lib/postgres/os-user';
import { stopCluster } from '../../lib/pitr/cluster';
import { clusterOwner, recoveryPathsOf, runDirOf } from '../../lib/pitr/recovery-dir';
import { pgToolPath } from '../../lib/postgres/tools';
import { statusQuery, type RunbookStatus } from '../../workflows/step-tracker';
import { sqlAt, stackEnvFile, testConfig, testLogger, uniqueQueues } from './helpers';
import { expected, readBucket, sampleObjects, seedBucket, stores, dropBucket, testBucket } from './minio-helpers';


const sql = sqlAt;

describe('disasterRecovery failover after production is destroyed, with the worker SIGKILLed in steps 4 and 5', () => {
  const id = Math.random().toString(36).slice(2, 8);
  const bucket = testBucket('drfo');
  const offsiteBucket = `lbt-drfo-offsite-${id}`;
  const record = `db-${id}.lifeboat.test`;
  const objects = [...sampleObjects(), ...Array.from({ length: 600 }, (_, i) => ({ key: `bulk/object-${String(i).padStart(4, '0')}.bin`, body: Buffer.alloc(64 * 1024, i % 251), contentType: 'application/octet-stream', metadata: { n: String(i) } }))];
  let root: string;
  let production: ProvisionedEnvironment;
  let prodProvider: EnvironmentProvider;
  let config: Config;
  let env: NodeJS.ProcessEnv;
  let temporal: Temporal;
  let worker: ChildProcess | undefined;
  let recoveredDataDir: string | undefined;
  const startWorker = (): ChildProcess => {
    const child = spawn(process.execPath, [findLifeboatBin(), 'worker'], { env, stdio: 'ignore' });
    worker = child;
    return child;
  };
  const killWorker = async (): Promise<void> => {
    const w = worker!;
    w.kill('SIGKILL');
    await new Promise((r) => w.once('exit', r));
  };

  beforeAll(async () => {
    root = mkdtempSync('/tmp/lifeboat-drfo-');
    chmodSync(root, 0o755);
    const pgUser = postgresOsUser();
    for (const d of ['backups', 'backups/wal-archive', 'minio-backups', 'envs', 'prod', 'restore', 'config']) {
      mkdirSync(join(root, d), { recursive: true, mode: 0o755 });
      if (pgUser && (d === 'backups/wal-archive')) chownSync(join(root, d), pgUser.uid, pgUser.gid);
    }
    writeFileSync(join(root, 'config', 'app.conf'), 'listen = 0.0.0.0:8080\n', { mode: 0o640 });
    const base = testConfig();
    // Production: a new cluster + MinIO with the stack's credentials, made by the local provider.
    prodProvider = environmentProviderFor('local', testConfig({ DR_ENVIRONMENT_ROOT: join(root, 'prod') }), testLogger());
    production = await prodProvider.provision('production', { postgres: 'server' });
    const pg = production.postgres!;
    await sql(pg, base, 'postgres', 'CREATE DATABASE app');
    await sql(pg, base, 'app', 'CREATE TABLE items (id serial PRIMARY KEY, phase text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    const archiveCommand = walArchiveCommand(join(root, 'backups', 'wal-archive'));
    await sql(pg, base, 'postgres', `ALTER SYSTEM SET archive_command = '${archiveCommand.replace(/'/g, "''")}'`);
    await sql(pg, base, 'postgres', 'SELECT pg_reload_conf()');
    // Its own off-site bucket on the stack's backup MinIO.
    const offsite = new BucketStore(base.minio.backup!, 'backup');
    await offsite.ensureBucket(offsiteBucket);
    const overrides = {
      ...uniqueQueues(),
      DB_HOST: pg.host, DB_PORT: String(pg.port), DB_NAME: 'app',
      MINIO_SOURCE_ENDPOINT: production.minio!.endpoint,
      BACKUP_ROOT: join(root, 'backups'), MINIO_BACKUP_ROOT: join(root, 'minio-backups'), S3_BUCKET: offsiteBucket,
      BUCKETS_TO_BACKUP: bucket, CONFIG_BACKUP_PATHS: join(root, 'config'),
      DR_ENVIRONMENT_ROOT: join(root, 'envs'), RESTORE_DATA_ROOT: join(root, 'restore'), DR_DNS_RECORD: record,
      DR_CHECK_SQL: 'SELECT count(*) FROM items', LOG_LEVEL: 'warn',
    };
    config = testConfig(overrides);
    env = { ...process.env, LIFEBOAT_ENV_FILE: stackEnvFile(), ...overrides };
    temporal = new Temporal({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
    // The production name points at the (soon lost) primary.
    await dnsProviderFromConfig(config.dns)!.switch(record, '192.0.2.10');
  }, 300_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) await killWorker().catch(() => undefined);
    await temporal?.connection.close().catch(() => undefined);
    if (config) {
      await dnsProviderFromConfig(config.dns)!.remove(record).catch(() => undefined);
      const s = stores(testConfig());
      await dropBucket(s.backup, bucket).catch(() => undefined);
      await dropBucket(s.backup, offsiteBucket).catch(() => undefined);
      const drEnvs = environmentProviderFor('local', config, testLogger());
      for (const name of (await drEnvs.list?.()) ?? []) await drEnvs.teardown(name).catch(() => undefined);
      // The recovered cluster (under RESTORE_DATA_ROOT) is stopped with its directory.
      if (recoveredDataDir) await stopCluster(pgToolPath(config.db, 'pg_ctl', 15), recoveryPathsOf(runDirOf(recoveredDataDir)), clusterOwner()).catch(() => undefined);
    }
    await prodProvider?.teardown('production').catch(() => undefined);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('recovers every shipped row and every object into new servers, switches the production name, and survives two worker kills', { timeout: 900_000 }, async () => {
    startWorker();
    const run = (type: string, args: unknown) => temporal.workflow.execute(type, { taskQueue: config.temporal.taskQueue, workflowId: `test-drfo-${type}-${id}-${Date.now()}`, args: [args] });
    const pg = production.postgres!;
    // Production's life: a base backup, rows, WAL shipped; objects replicated and snapshotted; config backed up.
    await seedBucket(config, bucket, objects);
    await run('backupBase', {});
    await sql(pg, config, 'app', "INSERT INTO items (phase) SELECT 'shipped' FROM generate_series(1, 500)");
    const seg = (await sql<{ seg: string }>(pg, config, 'postgres', 'SELECT pg_walfile_name(pg_switch_wal()) AS seg'))[0]!.seg;
    for (let i = 0; ; i++) {
      const [s] = await sql<{ last: string | null }>(pg, config, 'postgres', 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
      if (s!.last && s!.last.slice(0, 24) >= seg) break;
      if (i > 450) throw new Error(`segment ${seg} was not archived`);
      await delay(200);
    }
    await run('shipWal', {});
    await run('mirrorBuckets', {});
    await run('backupBuckets', {});
    await run('backupConfigFiles', {});
    const shippedRows = Number((await sql<{ n: string }>(pg, config, 'app', 'SELECT count(*)::text AS n FROM items'))[0]!.n);
    expect(shippedRows).toBe(500);

    // The disaster: production's PostgreSQL and MinIO are stopped and their data removed.
    await prodProvider.teardown('production');

    const handle = await temporal.workflow.start('disasterRecovery', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `test-drfo-${id}`,
      args: [{ mode: 'failover', incident: `INC-${id}`, declaredBy: 'vitest', reason: 'primary destroyed' }],
    });
    const status = async (): Promise<RunbookStatus | undefined> => handle.query(statusQuery).catch(() => undefined);
    const waitFor = async (what: string, predicate: (s: RunbookStatus) => boolean, timeoutMs = 300_000): Promise<RunbookStatus> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await status();
        if (s && predicate(s)) return s;
        if (s?.state === 'failed') throw new Error(`the run failed while waiting for ${what}: ${JSON.stringify(s.steps.filter((x) => x.state === 'failed'))}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await delay(50);
      }
    };
    // SIGKILL the worker while step 4's recovery activity runs, and again while step 5's copy runs;
    // a new worker takes over each time (after the heartbeat timeout the activity is retried there).
    const running = async (childId: string, types: string[]): Promise<string> => {
      const child = temporal.workflow.getHandle(childId);
      const deadline = Date.now() + 300_000;
      for (;;) {
        const pending = (await child.describe().then((d) => d.raw.pendingActivities ?? []).catch(() => []));
        // state 2: PENDING_ACTIVITY_STATE_STARTED (a worker is running it now)
        const hit = pending.find((a) => types.includes(a.activityType?.name ?? '') && Number(a.state) === 2);
        if (hit) return hit.activityType!.name!;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${types.join('/')} to run in ${childId}`);
        await delay(25);
      }
    };
    await waitFor('step 4', (s) => s.current === 'postgres');
    const killedIn4 = await running(`test-drfo-${id}-postgres`, ['prepareRecoveryDataDir', 'startRecoveryCluster']);
    await killWorker();
    startWorker();
    await waitFor('step 5', (s) => s.current === 'minio');
    const killedIn5 = await running(`test-drfo-${id}-minio-0-${bucket}`, ['mirrorBucket']);
    await killWorker();
    startWorker();
    // The human gate: approve the DNS switch through the Update.
    await waitFor('the DNS gate', (s) => s.current === 'dns', 600_000);
    await handle.executeUpdate('approve', { args: [{ step: 'dns', approvedBy: 'oncall-alice' }] });
    const report = (await handle.result()) as DrReport;
    recoveredDataDir = report.restored.postgres?.dataDir;

    expect(report.outcome).toBe('recovered');
    expect(report.steps.map((s) => `${s.name}:${s.state}`)).toEqual([
      'declare:done', 'infrastructure:done', 'download:done', 'postgres:done', 'minio:done', 'config:done', 'verify:done', 'dns:done', 'app-checks:done', 'communicate:done', 'reprotect:done',
    ]);
    // Every row committed before the last shipped segment, exactly once, in the new cluster.
    const pgNew = { host: report.restored.postgres!.host, port: report.restored.postgres!.port };
    expect(report.restored.postgres!.path).toBe('pitr');
    const rows = await sql<{ phase: string; n: string; distinct_ids: string }>(pgNew, config, 'app', "SELECT phase, count(*)::text AS n, count(DISTINCT id)::text AS distinct_ids FROM items GROUP BY phase");
    expect(rows).toEqual([{ phase: 'shipped', n: '500', distinct_ids: '500' }]);
    // Objects byte-identical, with types and metadata, in the new MinIO (from the replica).
    const newMinio = new BucketStore({ ...config.minio.source, endpoint: report.restored.minio!.endpoint }, 'source');
    expect(report.restored.minio!.buckets).toEqual([expect.objectContaining({ bucket, from: 'replica', objects: objects.length })]);
    expect(await readBucket(newMinio, bucket)).toEqual(expected(objects));
    // The production name now points at the new endpoint (dig against BIND).
    const server = config.dns.server!;
    expect(execFileSync('dig', ['+short', '+norecurse', '-p', String(server.port), `@${server.host}`, record, 'A'], { encoding: 'utf8' }).trim()).toBe(pgNew.host);
    expect(report.restored.dns).toMatchObject({ record, old: ['A 192.0.2.10'], approvedBy: 'oncall-alice' });
    expect(report.approvals).toEqual([expect.objectContaining({ step: 'dns', approvedBy: 'oncall-alice' })]);
    // Checks passed; the report adds up; a failover keeps what it built.
    expect(report.restored.checks!.ok).toBe(true);
    expect(report.restored.verify!.ok).toBe(true);
    expect(report.stepSeconds).toBeLessThanOrEqual(report.totalSeconds);
    expect(report.steps.map((s) => s.name)).not.toContain('cleanup');
    expect(report.rpo.lastTransactionAt).toBeDefined();
    const databases = await sql<{ n: string }>(pgNew, config, 'postgres', "SELECT count(*)::text AS n FROM pg_database WHERE datname = 'app'");
    expect(databases).toEqual([{ n: '1' }]);
    // Re-protected: the new primary archives its WAL into the archive, and has a first base backup off-site.
    expect(report.restored.reprotect).toMatchObject({ restarted: true, uploaded: true });
    const [settings] = await sql<{ mode: string; command: string }>(pgNew, config, 'postgres', "SELECT current_setting('archive_mode') AS mode, current_setting('archive_command') AS command");
    expect(settings).toMatchObject({ mode: 'on', command: expect.stringContaining(`wal archive --archive-dir '${join(root, 'backups', 'wal-archive')}'`) as string });
    const newSegment = (await sql<{ seg: string }>(pgNew, config, 'postgres', 'SELECT pg_walfile_name(pg_switch_wal()) AS seg'))[0]!.seg;
    for (let i = 0; ; i++) {
      const [a] = await sql<{ last: string | null }>(pgNew, config, 'postgres', 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
      if (a!.last && a!.last.slice(0, 24) >= newSegment) break;
      if (i > 300) throw new Error(`the new primary did not archive ${newSegment}`);
      await delay(200);
    }
    expect(readFileSync(report.restored.reprotect!.envFile, 'utf8')).toContain(`DB_PORT=${pgNew.port}`);
    // The killed activities really ran twice: once on the killed worker, once on its successor.
    const attempts = async (childId: string, type: string): Promise<number[]> => {
      const history = await temporal.workflow.getHandle(childId).fetchHistory();
      const scheduled = new Map<string, string>();
      const out: number[] = [];
      for (const e of history.events ?? []) {
        if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
        const started = e.activityTaskStartedEventAttributes;
        if (started && scheduled.get(String(started.scheduledEventId)) === type) out.push(started.attempt ?? 0);
      }
      return out;
    };
    expect(await attempts(`test-drfo-${id}-postgres`, killedIn4)).toEqual([2]);
    expect(await attempts(`test-drfo-${id}-minio-0-${bucket}`, killedIn5)).toEqual([2]);
  });
});
