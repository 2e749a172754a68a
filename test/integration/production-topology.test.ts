/**
 * The production topology, run for real (issue 15): the Temporal server 1.29.1 on its own
 * PostgreSQL (SQL persistence and visibility), and `lifeboat worker` processes standing for
 * general-1, db-host and backup-host, each in its own UTS namespace with its host name. Its own
 * stack directory and ports (client/stack/settings.ts TEST_PRODUCTION_PORTS), left running after
 * the file like the test stack; `lifeboat stack down --test --topology production` stops it.
 *
 * Where each activity ran is read from the histories: ActivityTaskStarted's identity names the host.
 */
import { createHash } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackSettings } from '../../client/stack/settings';
import { discardStaleTestStack, ensureStackWorker, stackProcessPid, stackUp, stopStackWorker } from '../../client/stack/stack';
import { BACKUP_HOST, canSetHostName, DB_HOST } from '../../client/stack/topology';
import { parseMetadata } from '../../lib/catalog/metadata';
import { loadConfig, type Config } from '../../lib/config/load';
import { processCommandLine } from '../../lib/servers/processes';
import { findTemporalServer, TEMPORAL_SERVER_VERSION } from '../../lib/servers/temporal-server';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import { getBuffer, listAll } from '../../lib/storage/store';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import { dropS3Bucket } from './helpers';
import { sampleObjects, seedBucket, stores, testBucket } from './minio-helpers';

const binaries = findTemporalServer();
const MISSING = `the Temporal server ${TEMPORAL_SERVER_VERSION} binary is not built (run \`lifeboat tools ensure --production\`; npm test does)`;
if (!binaries) process.stdout.write(`[production topology] SKIPPED: ${MISSING}\n`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => {
  process.stdout.write(`[production topology] ${line}\n`);
};

// The topology's own directory and ports, whatever LIFEBOAT_STACK_* the developer has set for other stacks.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LIFEBOAT_STACK_')));
const settings = stackSettings(env, 'test', 'production');
const GENERAL_HOSTS = ['general-1', 'general-2', DB_HOST, BACKUP_HOST];

interface Ran {
  type: string;
  queue: string;
  host: string;
  attempt: number;
}

const hostOf = (identity: string): string => identity.slice(identity.lastIndexOf('@') + 1);

describe.skipIf(!binaries)(`production topology: Temporal server ${TEMPORAL_SERVER_VERSION} on PostgreSQL, workers on general-1, db-host, backup-host`, () => {
  let connection: Connection;
  let client: Client;
  let config: Config;

  beforeAll(async () => {
    expect(canSetHostName(), 'the workers need `unshare --uts` (root) to carry their own host names').toBe(true);
    const started = Date.now();
    await discardStaleTestStack(settings, log);
    const up = await stackUp(settings, log);
    log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s (started: ${up.started.join(', ') || 'none'})`);
    config = loadConfig({ envFile: up.envFile, env: {} });
    connection = await Connection.connect({ address: config.temporal.address });
    client = new Client({ connection, namespace: config.temporal.namespace });
  }, 1_200_000);

  afterAll(async () => {
    await stopStackWorker(settings, 'general-2').catch(() => undefined);
    await connection?.close();
  });

  /** Every activity attempt the history records as started: type, queue and the host that ran it. */
  async function activitiesOf(handle: WorkflowHandle): Promise<Ran[]> {
    const history = await client.workflow.getHandle(handle.workflowId).fetchHistory();
    const scheduled = new Map<string, { type: string; queue: string }>();
    const ran: Ran[] = [];
    for (const event of history.events ?? []) {
      const s = event.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(event.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
      const started = event.activityTaskStartedEventAttributes;
      if (started) {
        const of = scheduled.get(String(started.scheduledEventId));
        ran.push({ type: of?.type ?? '?', queue: of?.queue ?? '?', host: hostOf(started.identity ?? ''), attempt: started.attempt ?? 1 });
      }
    }
    return ran;
  }

  async function workflowTaskHosts(workflowId: string): Promise<string[]> {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).flatMap((e) => (e.workflowTaskStartedEventAttributes ? [hostOf(e.workflowTaskStartedEventAttributes.identity ?? '')] : []));
  }

  /** Host-pinned work ran on its host; general work on one of the topology's workers. */
  function expectOnTheirHosts(ran: Ran[]): void {
    for (const r of ran) {
      if (r.queue === `${config.temporal.taskQueue}@${BACKUP_HOST}`) expect(r.host, `${r.type} on ${r.queue}`).toBe(BACKUP_HOST);
      else if (r.queue === `${config.temporal.taskQueue}@${DB_HOST}`) expect(r.host, `${r.type} on ${r.queue}`).toBe(DB_HOST);
      else expect(GENERAL_HOSTS, `${r.type} on ${r.queue} ran on ${r.host}`).toContain(r.host);
    }
  }

  const start = (type: string, args: unknown, id = `topology-${type}-${Date.now()}`) =>
    client.workflow.start(type, { taskQueue: config.temporal.taskQueue, workflowId: id, args: [args] });

  it('runs a daily backup, a base backup, a MinIO snapshot and a verify-only restore, each activity on its host\'s worker', async () => {
    const table: string[] = [];
    const runAndCheck = async (type: string, args: unknown): Promise<unknown> => {
      const began = Date.now();
      const handle = await start(type, args);
      const result = await handle.result();
      const ran = await activitiesOf(handle);
      expectOnTheirHosts(ran);
      const pinned = ran.filter((r) => r.queue.includes('@'));
      table.push(`${type} (${((Date.now() - began) / 1000).toFixed(1)} s): ${ran.map((r) => `${r.type}@${r.host}`).join(', ')}`);
      return { result, pinned, ran };
    };
    const daily = (await runAndCheck('backupDatabase', { tier: 'daily' })) as { result: BackupDatabaseResult; pinned: Ran[] };
    expect(daily.pinned.map((r) => r.type)).toEqual(expect.arrayContaining(['dumpGlobals', 'dumpDatabase', 'uploadArtifact']));
    const base = (await runAndCheck('backupBase', {})) as { pinned: Ran[] };
    expect(base.pinned.map((r) => r.type)).toEqual(expect.arrayContaining(['takeBaseBackup', 'shipWal']));
    const snapshot = (await runAndCheck('backupBuckets', {})) as { pinned: Ran[] };
    expect(snapshot.pinned.length).toBeGreaterThan(0);
    const verify = (await runAndCheck('restoreDatabase', { backup: daily.result.key, verifyOnly: true })) as { pinned: Ran[] };
    expect(verify.pinned.length).toBeGreaterThan(0);
    // The database host's own queue: only its worker answers for its disk.
    const health = (await runAndCheck('health', { hostTaskQueue: `${config.temporal.taskQueue}@${DB_HOST}` })) as { pinned: Ran[] };
    expect(health.pinned.map((r) => `${r.type}@${r.host}`)).toEqual([`probeLocalDisk@${DB_HOST}`]);
    for (const line of table) log(line);
  }, 600_000);

  it('completes a backup whose Temporal server was SIGKILLed during the upload, with one object off-site matching its metadata', async () => {
    // ~40 MB of incompressible text, and a 4 MB/s uplink on backup-host, so the upload lasts seconds.
    const db = new PgClient({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database: config.db.name });
    await db.connect();
    await db.query('DROP TABLE IF EXISTS topology_ballast');
    await db.query("CREATE TABLE topology_ballast AS SELECT g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 32) i) AS pad FROM generate_series(1, 40000) g");
    await stopStackWorker(settings, BACKUP_HOST);
    await ensureStackWorker(settings, BACKUP_HOST, log, { UPLOAD_RATE_LIMIT_MBPS: '4' });
    try {
      const handle = await start('backupDatabase', { tier: 'daily' }, `topology-server-kill-${Date.now()}`);
      // Wait for the upload to be running (a started, pending uploadArtifact).
      const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
      let uploading = false;
      for (let i = 0; i < 3000 && !uploading; i++) {
        const d = await handle.describe();
        uploading = (d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'uploadArtifact' && a.state === STARTED);
        if (!uploading) await sleep(100);
      }
      expect(uploading, 'uploadArtifact never seen running').toBe(true);
      const pid = stackProcessPid(settings, 'temporal');
      expect(pid).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      const killedAt = Date.now();
      while (processCommandLine(pid!) !== undefined) await sleep(50);
      log(`temporal server (pid ${pid}) SIGKILLed during uploadArtifact`);
      await sleep(2000);
      const up = await stackUp(settings, log);
      expect(up.started).toContain('temporal');
      log(`temporal server back after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
      const result = (await handle.result()) as BackupDatabaseResult;
      log(`backup completed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill: ${result.key} (${(result.bytes / 1e6).toFixed(1)} MB)`);
      expectOnTheirHosts(await activitiesOf(handle));

      // Off-site: exactly the artifact and its metadata, and both agree with the result.
      const remote = new S3Store(s3SettingsFromConfig(config.remote));
      const siblings = (await listAll(remote, result.key)).map((o) => o.key).sort();
      expect(siblings).toEqual([result.key, `${result.key}.metadata.json`]);
      const metadata = parseMetadata((await getBuffer(remote, `${result.key}.metadata.json`)).toString('utf8'));
      expect(metadata?.sha256).toBe(result.sha256);
      expect(metadata?.bytes).toBe(result.bytes);
      const body = await getBuffer(remote, result.key);
      expect(body.length).toBe(result.bytes);
      expect(createHash('sha256').update(body).digest('hex')).toBe(result.sha256);
    } finally {
      await db.query('DROP TABLE IF EXISTS topology_ballast').catch(() => undefined);
      await db.end();
      await stopStackWorker(settings, BACKUP_HOST);
      await ensureStackWorker(settings, BACKUP_HOST, log);
    }
  }, 600_000);

  it('keeps host-pinned work waiting for backup-host while its worker is down mid-dump; the general worker keeps serving; the backup completes when it returns', async () => {
    // The dump blocks on this lock, so it is reliably in flight when backup-host is killed.
    const locker = new PgClient({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database: config.db.name });
    await locker.connect();
    let handle: WorkflowHandle | undefined;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE embeddings IN ACCESS EXCLUSIVE MODE');
      handle = await start('backupDatabase', { tier: 'daily' }, `topology-worker-kill-${Date.now()}`);
      let waiting = 0;
      for (let i = 0; i < 600 && waiting === 0; i++) {
        // The dump activity's own connection (row counts in the dump's snapshot) or pg_dump, whichever asks first.
        // (pg_stat_activity is a snapshot within a transaction: clear it on the locker's connection.)
        await locker.query('SELECT pg_stat_clear_snapshot()');
        const rows = await locker.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'lifeboat%' AND wait_event_type = 'Lock'", [config.db.name]);
        waiting = (rows.rows[0] as { n: number }).n;
        if (waiting === 0) await sleep(100);
      }
      expect(waiting, 'the dump never waited on the lock').toBeGreaterThan(0);
      const pid = stackProcessPid(settings, `worker-${BACKUP_HOST}`);
      process.kill(pid!, 'SIGKILL');
      const killedAt = Date.now();
      log(`backup-host worker (pid ${pid}) SIGKILLed mid-dump`);
      await locker.query('ROLLBACK');

      // Other work goes on: a health run on the general queue completes on a worker that is up.
      const health = await start('health', {}, `topology-health-while-down-${Date.now()}`);
      await health.result();
      const healthRan = await activitiesOf(health);
      expect(healthRan.length).toBeGreaterThan(0);
      for (const r of healthRan) expect(['general-1', DB_HOST]).toContain(r.host);

      // The dump's retry (after the 1 min heartbeat timeout) waits on lifeboat@backup-host: nobody else takes it.
      const SCHEDULED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED;
      let retryWaiting = false;
      for (let i = 0; i < 180 && !retryWaiting; i++) {
        const d = await handle.describe();
        retryWaiting = (d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'dumpDatabase' && (a.attempt ?? 1) >= 2 && a.state === SCHEDULED);
        if (!retryWaiting) await sleep(1000);
      }
      expect(retryWaiting, 'the dump was never retried after the heartbeat timeout').toBe(true);
      await sleep(5000);
      const still = await handle.describe();
      const pending = (still.raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'dumpDatabase');
      expect(pending?.state, 'the retry must wait for backup-host').toBe(SCHEDULED);
      expect(hostOf(pending?.lastWorkerIdentity ?? '')).toBe(BACKUP_HOST);
      log(`dump retry waiting on lifeboat@${BACKUP_HOST} ${((Date.now() - killedAt) / 1000).toFixed(0)} s after the kill; bringing the worker back`);

      await ensureStackWorker(settings, BACKUP_HOST, log);
      const result = (await handle.result()) as BackupDatabaseResult;
      log(`backup completed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill: ${result.key}`);
      const ran = await activitiesOf(handle);
      expectOnTheirHosts(ran);
      const dumps = ran.filter((r) => r.type === 'dumpDatabase');
      expect(dumps.every((r) => r.host === BACKUP_HOST)).toBe(true);
      expect(Math.max(...dumps.map((r) => r.attempt))).toBeGreaterThanOrEqual(2);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end().catch(() => undefined);
      await ensureStackWorker(settings, BACKUP_HOST, log);
    }
  }, 300_000);

  it('spreads 20 mirrors started at once across both general workers, and all complete', async () => {
    await ensureStackWorker(settings, 'general-2', log);
    const buckets = Array.from({ length: 20 }, (_, i) => testBucket(`topo${i}`));
    const objects = sampleObjects().slice(0, 3);
    const { source, backup } = stores(config);
    try {
      await Promise.all(buckets.map((b) => seedBucket(config, b, objects)));
      const began = Date.now();
      const handles = await Promise.all(buckets.map((b, i) => start('mirrorBuckets', { buckets: [b] }, `topology-mirror-${i}-${Date.now()}`)));
      const results = (await Promise.all(handles.map((h) => h.result()))) as { buckets: { copied: number }[] }[];
      log(`20 mirrors in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      for (const r of results) expect(r.buckets[0]?.copied).toBe(objects.length);
      const hosts = new Map<string, number>();
      for (const h of handles) {
        for (const host of [...(await activitiesOf(h)).map((r) => r.host), ...(await workflowTaskHosts(h.workflowId))]) hosts.set(host, (hosts.get(host) ?? 0) + 1);
      }
      log(`tasks per worker: ${[...hosts].map(([h, n]) => `${h} ${n}`).join(', ')}`);
      expect([...hosts.keys()].every((h) => GENERAL_HOSTS.includes(h))).toBe(true);
      expect(hosts.get('general-1') ?? 0).toBeGreaterThan(0);
      expect(hosts.get('general-2') ?? 0).toBeGreaterThan(0);
    } finally {
      await stopStackWorker(settings, 'general-2');
      for (const b of buckets) {
        await dropS3Bucket(source.client, b).catch(() => undefined);
        await dropS3Bucket(backup.client, b).catch(() => undefined);
      }
    }
  }, 300_000);
});
