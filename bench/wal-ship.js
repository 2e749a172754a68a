#!/usr/bin/env node
/**
 * WAL shipping benchmark (issue 17, parallel shipping): segments per second that `shipWalFiles`
 * (lib/wal/remote.ts, what the shipWal activity runs) sends off-site, one segment at a time (the
 * shipping before parallel uploads) and with several at once.
 *
 *   1. a primary of its own (the local environment provider's PostgreSQL 15) archiving with
 *      `lifeboat wal archive` into a temporary directory; --wal-mb MB of WAL from a write-heavy load
 *      (bulk INSERTs of md5 text, then UPDATEs of them), pg_switch_wal, wait until archived; the
 *      primary is torn down before the measurement so it does not compete for the CPU
 *   2. for each concurrency of --concurrency (default 1,4): a fresh bucket on the stack's backup
 *      MinIO, every archived segment shipped with the stack's compression and encryption settings,
 *      timed; then the bucket is emptied and removed
 *
 * Reports segments/s, MB/s (raw WAL), CPU seconds of this process and its zstd children and the load average before and
 * after each run. Raw results go to bench/results/wal-ship-<stamp>.json.
 *
 * Usage:  npx tsc -p tsconfig.build.json && LIFEBOAT_ENV_FILE=/var/lib/lifeboat/test-stack/lifeboat.env \
 *           node bench/wal-ship.js [--wal-mb 1024] [--concurrency 1,4] [--repeat 1]
 * Needs a stack (dev or test: `lifeboat stack up [--test]`) for its MinIO and PostgreSQL binaries.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { setTimeout: delay } = require('node:timers/promises');
const { RESULTS, parseArgs: parseFlags, makeLog, timeStamp, requireDist, loadBenchConfig, describeMachine, processCpuSeconds } = require('./common');

const log = makeLog('wal-ship');
const load = () => os.loadavg().map((n) => n.toFixed(2)).join(' ');

/**
 * A PostgreSQL 15 primary of the bench's own (local environment provider, under `root`), archiving
 * into `archiveDir` (default `root/wal-archive`) with Lifeboat's archive_command and the given
 * archive_timeout (0: off). Returns { pg: {host, port}, config, archiveDir, sql(database, text, params), teardown() }.
 */
async function provisionPrimary(root, { archiveTimeoutSeconds = 0, archiveDir = path.join(root, 'wal-archive') } = {}) {
  const { environmentProviderFor } = requireDist('lib/environment/providers');
  const { createLogger } = requireDist('lib/logger');
  const { walArchiveCommand } = requireDist('lib/lifeboat-bin');
  const { postgresOsUser } = requireDist('lib/postgres/os-user');
  fs.mkdirSync(path.join(root, 'env'), { recursive: true, mode: 0o755 });
  fs.mkdirSync(archiveDir, { recursive: true, mode: 0o755 });
  fs.chmodSync(root, 0o755);
  const owner = postgresOsUser();
  if (owner) fs.chownSync(archiveDir, owner.uid, owner.gid);
  const config = loadBenchConfig({ DR_ENVIRONMENT_ROOT: path.join(root, 'env') });
  const provider = environmentProviderFor('local', config, createLogger({ level: 'warn', fd: 2 }));
  const env = await provider.provision('primary', { postgres: 'server' });
  const pg = env.postgres;
  const { Client } = require('pg');
  const sql = async (database, text, params) => {
    const client = new Client({ host: pg.host, port: pg.port, user: config.db.user, password: config.db.password, database });
    await client.connect();
    try {
      return (await client.query(text, params)).rows;
    } finally {
      await client.end();
    }
  };
  await sql('postgres', `ALTER SYSTEM SET archive_command = '${walArchiveCommand(archiveDir).replace(/'/g, "''")}'`);
  await sql('postgres', `ALTER SYSTEM SET archive_timeout = '${archiveTimeoutSeconds}s'`);
  await sql('postgres', 'SELECT pg_reload_conf()');
  return { pg, config, archiveDir, sql, teardown: () => provider.teardown('primary') };
}

/** Wait until PostgreSQL has archived everything up to its current segment (after pg_switch_wal). */
async function waitArchived(primary, timeoutMs = 600_000) {
  const [{ wal }] = await primary.sql('postgres', 'SELECT pg_walfile_name(pg_switch_wal()) AS wal');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [a] = await primary.sql('postgres', 'SELECT last_archived_wal FROM pg_stat_archiver');
    if (a.last_archived_wal && a.last_archived_wal >= wal) return;
    if (Date.now() > deadline) throw new Error(`WAL ${wal} not archived within ${timeoutMs / 1000} s`);
    await delay(500);
  }
}

/** About `mb` MB of WAL from bulk INSERTs and UPDATEs in database `bench`. */
async function generateWal(primary, mb) {
  await primary.sql('postgres', 'CREATE DATABASE bench');
  await primary.sql('bench', 'CREATE TABLE rows (id bigint PRIMARY KEY, a text, b text)');
  const lsn = async () => (await primary.sql('postgres', "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS n"))[0].n;
  const start = Number(await lsn());
  let next = 0;
  while ((Number(await lsn()) - start) / 1e6 < mb) {
    await primary.sql('bench', `INSERT INTO rows SELECT g, md5(g::text || random()::text), repeat(md5(random()::text), 6) FROM generate_series($1::bigint, $1::bigint + 99999) g`, [next]);
    await primary.sql('bench', 'UPDATE rows SET a = md5(a) WHERE id >= $1', [next]);
    next += 100_000;
  }
  await waitArchived(primary);
}

async function main() {
  const options = parseFlags(process.argv.slice(2), {
    file: __filename,
    defaults: { walMb: 1024, concurrency: [1, 4], repeat: 1 },
    flags: {
      '--wal-mb': (o, next) => (o.walMb = Number(next())),
      '--concurrency': (o, next) => (o.concurrency = next().split(',').map(Number)),
      '--repeat': (o, next) => (o.repeat = Number(next())),
    },
  });
  if (!(options.walMb > 0) || options.concurrency.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--wal-mb must be positive, --concurrency a list of positive integers');
  const { shipWalFiles } = requireDist('lib/wal/remote');
  const { localWalFiles } = requireDist('lib/catalog/wal');
  const { S3Store, s3SettingsFromConfig } = requireDist('lib/storage/s3-store');
  const { BucketStore } = requireDist('lib/minio/bucket-store');
  const { loadPublicKey } = requireDist('lib/crypto/openpgp');
  const { DeleteBucketCommand } = require('@aws-sdk/client-s3');

  const config = loadBenchConfig();
  const root = fs.mkdtempSync('/tmp/lifeboat-bench-walship-');
  let primary;
  const runs = [];
  try {
    log(`primary of its own; ${options.walMb} MB of WAL (load ${load()})`);
    primary = await provisionPrimary(root);
    const generated = Date.now();
    await generateWal(primary, options.walMb);
    log(`WAL generated and archived in ${((Date.now() - generated) / 1000).toFixed(0)} s`);
    await primary.teardown();
    primary = undefined;
    const names = (await localWalFiles(path.join(root, 'wal-archive'))).filter((n) => /^[0-9A-F]{24}$/.test(n));
    const rawBytes = names.reduce((sum, n) => sum + fs.statSync(path.join(root, 'wal-archive', n)).size, 0);
    const key = config.encryption.enabled ? await loadPublicKey(config.encryption) : undefined;
    const minio = new BucketStore(config.minio.backup, 'backup');
    log(`${names.length} segments, ${(rawBytes / 1e6).toFixed(0)} MB; compression ${config.compression.algorithm} ${config.compression.level}, encryption ${key ? 'on' : 'off'}`);
    for (let r = 0; r < options.repeat; r++) {
      for (const concurrency of options.concurrency) {
        const bucket = `lbt-bench-walship-${randomUUID().slice(0, 8)}`;
        await minio.ensureBucket(bucket);
        const remote = new S3Store(s3SettingsFromConfig({ ...config.remote, bucket }));
        await delay(3_000); // let the load average settle a little after the previous run
        const loadBefore = load();
        const cpu = processCpuSeconds(process.pid);
        const started = process.hrtime.bigint();
        await shipWalFiles(names, { archiveDir: path.join(root, 'wal-archive'), remote, compression: config.compression, encryptionKey: key }, { concurrency });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const used = processCpuSeconds(process.pid);
        const run = {
          concurrency, segments: names.length, seconds, segmentsPerSecond: names.length / seconds, rawMBps: rawBytes / 1e6 / seconds,
          cpuSeconds: used.self - cpu.self + used.children - cpu.children, loadBefore, loadAfter: load(),
        };
        runs.push(run);
        log(`concurrency ${concurrency}: ${seconds.toFixed(1)} s, ${run.segmentsPerSecond.toFixed(2)} segments/s, ${run.rawMBps.toFixed(1)} MB/s raw, ${run.cpuSeconds.toFixed(1)} CPU s; load ${loadBefore} -> ${run.loadAfter}`);
        const keys = [];
        for await (const o of minio.list(bucket)) keys.push(o.key);
        await Promise.all(Array.from({ length: 16 }, async () => { for (let k = keys.shift(); k !== undefined; k = keys.shift()) await minio.delete(bucket, k); }));
        await minio.client.send(new DeleteBucketCommand({ Bucket: bucket }));
      }
    }
  } finally {
    if (primary) await primary.teardown().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
  const result = { bench: 'wal-ship', at: new Date().toISOString(), machine: describeMachine(), cpus: os.cpus().length, walMb: options.walMb, runs };
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `wal-ship-${timeStamp()}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  log(`results in ${path.relative(process.cwd(), file)}`);
}

module.exports = { provisionPrimary, waitArchived };

if (require.main === module) {
  main().catch((error) => {
    log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
