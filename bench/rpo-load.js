#!/usr/bin/env node
/**
 * RPO under write load (issue 17): the exposure over time with the defaults (RPO_TARGET 5 min,
 * archive_timeout from it: 150 s, the `wal-ship` schedule every 60 s) while the bench dataset is
 * loaded and then written to.
 *
 *   1. a primary of its own (bench/wal-ship.js provisionPrimary) archiving into the BACKUP_ROOT of a
 *      bench worker process (its own task queue, its own bucket on the stack's backup MinIO)
 *   2. a first shipWal run, then the declared `wal-ship` schedule (interval from RPO_TARGET) applied
 *   3. the load: ../shared/bench/corporate-intel-dataset.sql at --scale into `corporate_intel`, then
 *      until --minutes have passed, write transactions on it (INSERTs of events, UPDATEs of filings)
 *      with --pause-ms between them
 *   4. every --sample-seconds: the exposure (lib/wal/exposure.ts, as `wal status` and monitoring
 *      measure it) and the shipping lag (archived segments not yet off-site)
 *   5. schedule deleted, worker stopped, primary torn down, bucket emptied and removed
 *
 * Reports the exposure max / median / p90 (seconds), the time over the target, the shipping lag
 * max / median (segments), WAL written, and the load average. Raw samples go to
 * bench/results/rpo-load-<stamp>.json.
 *
 * Usage:  npx tsc -p tsconfig.build.json && node scripts/bundle-workflows.js &&
 *         LIFEBOAT_ENV_FILE=/var/lib/lifeboat/test-stack/lifeboat.env node bench/rpo-load.js [--scale 1] [--minutes 8]
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createServer } = require('node:net');
const { randomUUID } = require('node:crypto');
const { setTimeout: delay } = require('node:timers/promises');
const {
  RESULTS, DATASET_SQL, parseArgs: parseFlags, makeLog, timeStamp, requireDist, loadBenchConfig, benchWorkerEnv, startWorker, stopWorker, connectTemporal, describeMachine, run, median,
} = require('./common');
const { provisionPrimary } = require('./wal-ship');

const log = makeLog('rpo-load');
const load = () => os.loadavg().map((n) => n.toFixed(2)).join(' ');
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function main() {
  const options = parseFlags(process.argv.slice(2), {
    file: __filename,
    defaults: { scale: 1, minutes: 8, pauseMs: 500, sampleSeconds: 5 },
    flags: {
      '--scale': (o, next) => (o.scale = Number(next())),
      '--minutes': (o, next) => (o.minutes = Number(next())),
      '--pause-ms': (o, next) => (o.pauseMs = Number(next())),
      '--sample-seconds': (o, next) => (o.sampleSeconds = Number(next())),
    },
  });
  if (![1, 2].includes(options.scale)) throw new Error('--scale must be 1 or 2 (the machine is shared)');
  const { readRpoExposure, currentWalLsn } = requireDist('lib/wal/exposure');
  const { walBacklog } = requireDist('lib/wal/remote');
  const { recommendedArchiveTimeoutSeconds } = requireDist('lib/wal/rpo');
  const { declaredSchedules } = requireDist('lib/schedules/declared');
  const { applySchedules } = requireDist('client/schedules');
  const { S3Store, s3SettingsFromConfig } = requireDist('lib/storage/s3-store');
  const { BucketStore } = requireDist('lib/minio/bucket-store');
  const { pgToolPath } = requireDist('lib/postgres/tools');
  const { DeleteBucketCommand } = require('@aws-sdk/client-s3');

  const id = randomUUID().slice(0, 8);
  const root = fs.mkdtempSync('/tmp/lifeboat-bench-rpo-');
  const backupRoot = path.join(root, 'backups');
  const archiveDir = path.join(backupRoot, 'wal-archive');
  const bucket = `lbt-bench-rpo-${id}`;
  const prefix = `bench-rpo-${id}-`;
  const base = loadBenchConfig();
  const target = base.monitor.rpoTargetSeconds;
  const minio = new BucketStore(base.minio.backup, 'backup');
  let primary;
  let worker;
  let temporal;
  const samples = [];
  try {
    log(`primary of its own, archive_timeout ${recommendedArchiveTimeoutSeconds(target)} s (RPO_TARGET ${target} s); load ${load()}`);
    primary = await provisionPrimary(root, { archiveDir, archiveTimeoutSeconds: recommendedArchiveTimeoutSeconds(target) });
    await primary.sql('postgres', 'CREATE DATABASE corporate_intel');
    await minio.ensureBucket(bucket);
    const overrides = {
      DB_HOST: primary.pg.host, DB_PORT: String(primary.pg.port), DB_NAME: 'corporate_intel', BACKUP_ROOT: backupRoot, S3_BUCKET: bucket, REMOTE_STORAGE: 'true',
      LIFEBOAT_TASK_QUEUE: `bench-rpo-${id}`, LIFEBOAT_HOST: 'benchhost', BACKUP_METRICS_PORT: String(await freePort()), LOG_LEVEL: 'info', // startWorker waits for the info line "workers ready"
    };
    const config = loadBenchConfig(overrides);
    worker = await startWorker(benchWorkerEnv(overrides), path.join(root, 'worker.log'));
    temporal = await connectTemporal(config);
    const { client } = temporal;
    await (await client.workflow.start('shipWal', { taskQueue: config.temporal.taskQueue, workflowId: `${prefix}first-ship`, args: [{}] })).result();
    const declared = declaredSchedules(config, prefix).filter((s) => s.name === 'wal-ship');
    await applySchedules(client, declared, prefix);
    log(`wal-ship schedule every ${declared[0].intervalSeconds} s`);

    // Sampling, beside the load.
    const remote = new S3Store(s3SettingsFromConfig(config.remote));
    const started = Date.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const at = Date.now();
        try {
          const e = await readRpoExposure(archiveDir, remote, target, await currentWalLsn(config.db));
          const backlog = await walBacklog(archiveDir, remote);
          samples.push({ t: Math.round((at - started) / 1000), exposure: e.exposureSeconds ?? 0, basis: e.basis, unshipped: backlog.pending.length, load1: os.loadavg()[0] });
        } catch (error) {
          log(`sample failed: ${error.message}`);
        }
        await delay(Math.max(0, options.sampleSeconds * 1000 - (Date.now() - at)));
      }
    })();

    // The load: the dataset, then write transactions on it until --minutes.
    const lsn0 = (await primary.sql('postgres', "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS n"))[0].n;
    const psql = pgToolPath(config.db, 'psql');
    const pgEnv = { ...process.env, PGHOST: primary.pg.host, PGPORT: String(primary.pg.port), PGUSER: config.db.user, PGPASSWORD: config.db.password, PGDATABASE: 'corporate_intel' };
    const { seconds: loadSeconds } = await run(psql, ['-X', '-q', '-v', `scale=${options.scale}`, '-v', 'ON_ERROR_STOP=1', '-f', DATASET_SQL], { env: pgEnv });
    log(`dataset at scale ${options.scale} loaded in ${loadSeconds.toFixed(0)} s`);
    const [{ n: maxEvent }] = await primary.sql('corporate_intel', 'SELECT max(id)::bigint AS n FROM events');
    let next = Number(maxEvent) + 1;
    let k = 0;
    let transactions = 0;
    while (Date.now() - started < options.minutes * 60_000) {
      await primary.sql('corporate_intel', `INSERT INTO events SELECT g, 1 + (g % 2000), now(), 'bench', jsonb_build_object('n', g, 'pad', md5(g::text)) FROM generate_series($1::bigint, $1::bigint + 19999) g`, [next]);
      next += 20_000;
      await primary.sql('corporate_intel', 'UPDATE filings SET amount = coalesce(amount, 0) + 1 WHERE id % 50 = $1', [k++ % 50]);
      transactions += 2;
      await delay(options.pauseMs);
    }
    const lsn1 = (await primary.sql('postgres', "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS n"))[0].n;
    sampling = false;
    await sampler;
    const exposures = samples.map((s) => s.exposure);
    const lags = samples.map((s) => s.unshipped);
    const [archiver] = await primary.sql('postgres', 'SELECT archived_count::int AS n FROM pg_stat_archiver');
    const summary = {
      bench: 'rpo-load', at: new Date().toISOString(), machine: describeMachine(), scale: options.scale, minutes: options.minutes,
      rpoTargetSeconds: target, archiveTimeoutSeconds: recommendedArchiveTimeoutSeconds(target), shipIntervalSeconds: declared[0].intervalSeconds,
      datasetLoadSeconds: loadSeconds, writeTransactions: transactions, walMB: (Number(lsn1) - Number(lsn0)) / 1e6, segmentsArchived: archiver.n,
      exposureSeconds: { max: Math.max(...exposures), median: median(exposures), p90: quantile(exposures, 0.9), overTarget: exposures.filter((e) => e > target).length * options.sampleSeconds },
      unshippedSegments: { max: Math.max(...lags), median: median(lags) },
      load1: { max: Math.max(...samples.map((s) => s.load1)), median: median(samples.map((s) => s.load1)) },
      samples,
    };
    const { samples: _s, ...brief } = summary;
    fs.mkdirSync(RESULTS, { recursive: true });
    const file = path.join(RESULTS, `rpo-load-${timeStamp()}.json`);
    fs.writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(brief, null, 2)}\n`);
    process.stdout.write(`exposure over time (s since start: exposure s / unshipped segments): ${samples.map((s) => `${s.t}:${s.exposure}/${s.unshipped}`).join(' ')}\n`);
    log(`results in ${path.relative(process.cwd(), file)}`);
  } finally {
    if (temporal) {
      await temporal.client.schedule.getHandle(`${prefix}wal-ship`).delete().catch(() => undefined);
      await temporal.connection.close().catch(() => undefined);
    }
    if (worker) await stopWorker(worker).catch(() => undefined);
    if (primary) await primary.teardown().catch(() => undefined);
    const keys = [];
    for await (const o of minio.list(bucket)) keys.push(o.key);
    await Promise.all(Array.from({ length: 16 }, async () => { for (let key = keys.shift(); key !== undefined; key = keys.shift()) await minio.delete(bucket, key); }));
    await minio.client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error) => {
  log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
