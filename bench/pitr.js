#!/usr/bin/env node
/**
 * Point-in-time recovery benchmark (issue "PITR", benchmark item; yardsticks of issue 16): how long
 * `restorePointInTime` takes, end to end, when at least 1 GB of WAL must be replayed, from the local
 * archive and from the off-site store, against the same recovery done by hand, in one run.
 *
 * Setup, once (not timed):
 *   1. a PostgreSQL 15 server of the bench's own (the local environment provider, the stack's
 *      settings) archiving with the product's archive_command into a scratch BACKUP_ROOT/wal-archive
 *      (nothing reaches the stack's real archive), a worker process of its own (`node
 *      bin/lifeboat.js worker`, own task queue, that BACKUP_ROOT, RESTORE_DATA_ROOT in the scratch
 *      directory, REMOTE_STORAGE=true with a bucket of its own on the stack's backup MinIO)
 *   2. a database `lifeboat_bench_pitr` (--rows, default 200,000 rows) and a base backup
 *      (workflow backupBase: local + off-site copy)
 *   3. >= --wal-gb GB of WAL (whole-table UPDATEs, one commit per pass); T = clock_timestamp();
 *      one more commit after T; pg_switch_wal() and a wait until archived; workflow shipWal, and
 *      a check that every archived segment is off-site
 * Then per round (--rounds, default 3), every variant recovers the same base backup to the same T;
 * odd rounds in the order L, H, R, F, even rounds R... reversed (F, R, H, L):
 *   (L) Lifeboat, local:    restorePointInTime { targetTime: T, base, source: 'local' }
 *   (H) by hand, local cp:  gpg --decrypt <local base> | zstd -d | tar -x (as postgres),
 *                           restore_command = 'cp <archive>/%f %p', recovery_target_time, pg_ctl
 *                           start, poll until promoted (docs/operations.md, "Restoring by hand")
 *   (R) Lifeboat, off-site: restorePointInTime { ..., source: 'remote' }: base backup and WAL from the
 *                           bucket only (what a real disaster needs), cold: BACKUP_ROOT/.restore-cache
 *                           is emptied before each variant
 *   (F) by hand, off-site:  aws s3 cp s3://<bucket>/<base> - | gpg --decrypt | zstd -d | tar -x,
 *                           restore_command = 'LIFEBOAT_ENV_FILE=<file> node bin/lifeboat.js wal fetch
 *                           --archive-dir <empty dir> %f %p' (the local archive is empty, so every
 *                           segment comes from the bucket through `wal fetch`'s remote fallback)
 * Each is timed from its first byte read to the promoted server; every variant's recovered table must
 * hold every row at the last pass before T and not the commit after T (checked every round). The
 * ratios are computed per round: R/H (the issue-16 target: <= 1.2), L/H, F/H, R/F; medians reported.
 * CPU seconds per variant: the client side (by hand: the tools this process ran; Lifeboat: the worker
 * and its tools), the recovered cluster (its postmaster's whole process tree: startup process,
 * restore_command runs, backends) and the backup MinIO server (from /proc/<pid>/stat); the worker's
 * peak RSS (VmHWM, reset before each Lifeboat variant) and the load average before each variant.
 * Every recovered cluster is stopped and removed after its variant; at the end the bench server,
 * the worker, the bucket and the scratch directory (base backup, archive, WAL) are removed.
 *
 * Usage:  npx tsc -p tsconfig.build.json && node scripts/bundle-workflows.js &&
 *         node bench/pitr.js [--wal-gb 1.1] [--rows 200000] [--rounds 3] [--variants L,H,R,F] [--keep]
 * Needs the dev stack (`node bin/lifeboat.js stack up`), run as root (clusters run as the postgres
 * OS user), and the aws CLI for (F); reads $LIFEBOAT_ENV_FILE, default
 * /var/lib/lifeboat/stack/lifeboat.env. Never stops the stack. --keep leaves the scratch directory,
 * the bench server and the bucket. Raw results go to bench/results/ (git-ignored).
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { createServer } = require('node:net');
const { randomUUID } = require('node:crypto');
const { setTimeout: delay } = require('node:timers/promises');
const {
  ROOT, RESULTS, envFile, parseArgs: parseFlags, makeLog, median, timeStamp, shellQuote, runShell, childrenCpuSeconds, describeMachine, machine, loadAverage, describeLoad,
  postmasterPidOfDataDir, treeCpuSeconds, minioServerPid, serverCpuMeter, waitArchived, requireDist, loadBenchConfig, benchWorkerEnv, startWorker, stopWorker, connectTemporal, runWorkflow, runMeasuredWorkflow,
} = require('./common');
const { provisionPrimary } = require('./wal-ship');

const ALL_VARIANTS = ['L', 'H', 'R', 'F'];
const LABELS = {
  L: '(L) Lifeboat restorePointInTime, local copies',
  H: '(H) by hand: gpg | zstd -d | tar, restore_command cp',
  R: '(R) Lifeboat restorePointInTime, source remote',
  F: '(F) by hand off-site: aws s3 cp | gpg | zstd -d | tar, restore_command lifeboat wal fetch (remote fallback)',
};

function parseArgs(argv) {
  const options = parseFlags(argv, {
    file: __filename,
    defaults: { walGb: 1.1, rows: 200_000, rounds: 3, variants: ALL_VARIANTS, keep: false, database: 'lifeboat_bench_pitr' },
    flags: {
      '--wal-gb': (o, next) => (o.walGb = Number(next())),
      '--rows': (o, next) => (o.rows = Number(next())),
      '--rounds': (o, next) => (o.rounds = Number(next())),
      '--variants': (o, next) => (o.variants = next().split(',').map((v) => v.trim())),
      '--keep': (o) => (o.keep = true),
    },
  });
  if (!(options.walGb > 0)) throw new Error('--wal-gb must be a positive number');
  if (!Number.isInteger(options.rows) || options.rows < 1000) throw new Error('--rows must be an integer >= 1000');
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be a positive integer');
  for (const v of options.variants) if (!ALL_VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (choose from ${ALL_VARIANTS.join(',')})`);
  options.variants = ALL_VARIANTS.filter((v) => options.variants.includes(v));
  return options;
}

const log = makeLog('pitr');
const mb = (bytes) => bytes / 1e6; // a number here: the report prints it with its own precision

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

/** min(v), max(v), count(*) of the bench table on a recovered cluster. */
async function readTable(config, port, database) {
  const { Client } = require('pg');
  const c = new Client({ host: '127.0.0.1', port, user: config.db.user, password: config.db.password, database });
  await c.connect();
  try {
    return (await c.query('SELECT min(v) AS lo, max(v) AS hi, count(*) AS n FROM bench')).rows[0];
  } finally {
    await c.end().catch(() => undefined);
  }
}

function checkTable(what, check, passes, rows) {
  if (Number(check.lo) !== passes || Number(check.hi) !== passes || Number(check.n) !== rows) {
    throw new Error(`${what}: recovered table is wrong: v in [${check.lo}, ${check.hi}] over ${check.n} rows, expected every one of ${rows} rows at pass ${passes}`);
  }
}

/** The configuration the postgres user's `wal fetch` reads (F): the stack's, with the bench's bucket and a copy of the private key. */
function writeFetchEnv(ctx) {
  const dir = path.join(ctx.root, 'fetch');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyCopy = path.join(dir, 'backup-private.asc');
  if (ctx.config.encryption.privateKeyFile) fs.copyFileSync(ctx.config.encryption.privateKeyFile, keyCopy);
  const emptyArchive = path.join(dir, 'empty-archive');
  fs.mkdirSync(emptyArchive, { recursive: true });
  const overrides = {
    BACKUP_ROOT: path.join(dir, 'backup-root'), S3_BUCKET: ctx.bucket, REMOTE_STORAGE: 'true', LOG_LEVEL: 'warn',
    ...(ctx.config.encryption.privateKeyFile ? { GPG_PRIVATE_KEY_FILE: keyCopy } : {}),
  };
  const lines = fs.readFileSync(envFile(), 'utf8').split('\n').filter((l) => {
    const m = /^(?:export\s+)?([A-Z0-9_]+)=/.exec(l);
    return !m || !Object.hasOwn(overrides, m[1]);
  });
  for (const [k, v] of Object.entries(overrides)) lines.push(`export ${k}=${shellQuote(v)}`);
  const file = path.join(dir, 'lifeboat.env');
  fs.writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  return { file, emptyArchive };
}

/**
 * The same recovery by hand, with the standard tools only: (H) from the local base backup and
 * archive with `cp`, (F) from the bucket with `aws s3 cp` and `lifeboat wal fetch`. Returns seconds
 * from the first byte read to the promoted server, the cluster's CPU, and the table it holds.
 */
async function byHand(ctx, variant, round) {
  const { config, baseKey, target, db, pgBin } = ctx;
  const root = path.join(ctx.root, `byhand-${variant}-r${round}`);
  const data = path.join(root, 'data');
  const run = path.join(root, 'run');
  const logFile = path.join(root, 'postgres.log');
  const port = await freePort();
  const sh = (script, env) => {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], { encoding: 'utf8', maxBuffer: 1 << 26, env: env ?? process.env });
    if (r.status !== 0) throw new Error(`by hand (${variant}): ${script}\n${r.stderr}`);
    return r.stdout;
  };
  const asPg = (cmd) => `runuser -u postgres -- ${cmd}`;
  sh(`install -d -m 700 -o postgres -g postgres ${shellQuote(root)} ${shellQuote(data)} ${shellQuote(run)}`);
  const gpg = `gpg --homedir ${shellQuote(config.encryption.gnupgHome)} --batch --quiet --decrypt`;
  const tar = asPg(`tar -x -C ${shellQuote(data)}`);
  const started = Date.now();
  let clusterCpu = 0;
  try {
    let restoreCommand;
    if (variant === 'H') {
      sh(`${gpg} ${shellQuote(path.join(config.backupRoot, baseKey))} | zstd -d -q | ${tar}`);
      restoreCommand = `cp ${ctx.archiveDir}/%f %p`;
    } else {
      // Credentials in the environment, never in argv.
      const awsEnv = { ...process.env, AWS_ACCESS_KEY_ID: config.remote.accessKeyId, AWS_SECRET_ACCESS_KEY: config.remote.secretAccessKey, AWS_DEFAULT_REGION: config.remote.region || 'us-east-1' };
      sh(`aws --endpoint-url ${shellQuote(config.remote.endpoint)} s3 cp ${shellQuote(`s3://${ctx.bucket}/${baseKey}`)} - | ${gpg} | zstd -d -q | ${tar}`, awsEnv);
      restoreCommand = `LIFEBOAT_ENV_FILE=${shellQuote(ctx.fetchEnv.file)} ${shellQuote(process.execPath)} ${shellQuote(path.join(ROOT, 'bin', 'lifeboat.js'))} wal fetch --archive-dir ${shellQuote(ctx.fetchEnv.emptyArchive)} %f %p`;
    }
    const conf = [
      '',
      `restore_command = '${restoreCommand.replace(/'/g, "''")}'`,
      `recovery_target_time = '${target}'`,
      "recovery_target_action = 'promote'",
      'archive_mode = off',
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${run}'`,
      '',
    ].join('\n');
    fs.appendFileSync(path.join(data, 'postgresql.auto.conf'), conf);
    fs.writeFileSync(path.join(data, 'recovery.signal'), '');
    sh(`chown postgres:postgres ${shellQuote(path.join(data, 'postgresql.auto.conf'))} ${shellQuote(path.join(data, 'recovery.signal'))}`);
    sh(asPg(`${shellQuote(pgBin('pg_ctl'))} -D ${shellQuote(data)} -l ${shellQuote(logFile)} -W start`));
    const { Client } = require('pg');
    for (;;) {
      const c = new Client({ host: '127.0.0.1', port, user: config.db.user, password: config.db.password, database: 'postgres' });
      c.on('error', () => undefined);
      let state;
      try {
        await c.connect();
        state = (await c.query('SELECT pg_is_in_recovery() AS r')).rows[0];
      } catch {
        state = undefined;
      } finally {
        await c.end().catch(() => undefined);
      }
      if (state && !state.r) break;
      if (Date.now() - started > 3_600_000) throw new Error(`by hand (${variant}): not promoted within an hour`);
      await delay(200);
    }
    const seconds = (Date.now() - started) / 1000;
    const pid = postmasterPidOfDataDir(data);
    clusterCpu = pid ? treeCpuSeconds(pid) : 0;
    const restored = (fs.readFileSync(logFile, 'utf8').match(/restored log file "[0-9A-F]{24}"/g) ?? []).length;
    const check = await readTable(config, port, db);
    return { seconds, clusterCpu, check, restoredSegments: restored };
  } finally {
    spawnSync('runuser', ['-u', 'postgres', '--', pgBin('pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop'], { stdio: 'ignore' });
    if (!ctx.options.keep) fs.rmSync(root, { recursive: true, force: true });
  }
}

/** restorePointInTime on the bench worker; the recovered cluster's CPU is read before it is stopped and removed. */
async function lifeboat(ctx, variant, round) {
  const { stopCluster } = requireDist('lib/pitr/cluster');
  const { clusterOwner, recoveryPathsOf, runDirOf } = requireDist('lib/pitr/recovery-dir');
  const port = await freePort();
  const source = variant === 'R' ? 'remote' : 'local';
  const r = await runMeasuredWorkflow(ctx, 'restorePointInTime', [{ targetTime: ctx.target, base: ctx.baseKey, port, source }], `bench-pitr-${ctx.stamp}-${variant}-r${round}`);
  const paths = recoveryPathsOf(runDirOf(r.result.dataDir));
  try {
    const pid = postmasterPidOfDataDir(r.result.dataDir);
    const clusterCpu = pid ? treeCpuSeconds(pid) : 0;
    const check = await readTable(ctx.config, port, ctx.db);
    const steps = r.result.stageSeconds;
    return {
      seconds: r.seconds, clusterCpu, check, steps, source: r.result.source, restoredSegments: r.result.replayedSegments, walBytesReplayed: r.result.walBytesReplayed,
      rssPeak: r.rssPeak, cpu: r.cpu, cpuWorker: r.cpuWorker, cpuTools: r.cpuTools, activities: r.activities.map((a) => ({ name: a.name, seconds: Number(a.seconds.toFixed(3)) })),
    };
  } finally {
    if (!ctx.options.keep) {
      await stopCluster(ctx.pgBin('pg_ctl'), paths, clusterOwner()).catch((e) => log(`could not stop the recovered cluster: ${e.message}`));
      fs.rmSync(paths.runDir, { recursive: true, force: true });
    }
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { pgToolPath } = requireDist('lib/postgres/tools');
  const { BucketStore } = requireDist('lib/minio/bucket-store');
  const { S3Store, s3SettingsFromConfig } = requireDist('lib/storage/s3-store');
  const { walBacklog } = requireDist('lib/wal/remote');
  const { RESTORE_CACHE } = requireDist('lib/restore/fetch');
  const { DeleteBucketCommand } = require('@aws-sdk/client-s3');

  const id = randomUUID().slice(0, 8);
  const stamp = timeStamp();
  fs.mkdirSync(RESULTS, { recursive: true });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bench-pitr-'));
  const backupRoot = path.join(root, 'backups');
  const archiveDir = path.join(backupRoot, 'wal-archive');
  const restoreRoot = path.join(root, 'restore');
  const bucket = `lbt-bench-pitr-${id}`;
  const queue = `bench-pitr-${id}`;
  const db = options.database;
  const base = loadBenchConfig();
  const minio = new BucketStore(base.minio.backup, 'backup');
  const loadStart = loadAverage();
  log(`machine: ${describeMachine()}; load average ${describeLoad(loadStart)}; scratch ${root}`);

  let primary;
  let worker;
  let temporal;
  const rounds = [];
  const figures = {};
  const ctx = { options, root, archiveDir, bucket, db, stamp };
  try {
    // 1. The bench server, the bucket and the worker.
    fs.mkdirSync(backupRoot, { recursive: true, mode: 0o755 });
    fs.mkdirSync(restoreRoot, { recursive: true, mode: 0o755 });
    primary = await provisionPrimary(root, { archiveDir });
    await minio.ensureBucket(bucket);
    const overrides = {
      DB_HOST: primary.pg.host, DB_PORT: String(primary.pg.port), DB_NAME: 'postgres', BACKUP_ROOT: backupRoot, RESTORE_DATA_ROOT: restoreRoot, S3_BUCKET: bucket, REMOTE_STORAGE: 'true',
      LIFEBOAT_TASK_QUEUE: queue, LIFEBOAT_HOST: 'benchpitr', BACKUP_METRICS_PORT: String(await freePort()), LOG_LEVEL: 'info', // startWorker waits for the info line "workers ready"
    };
    const config = loadBenchConfig(overrides);
    Object.assign(ctx, { config, pgBin: (tool) => pgToolPath(config.db, tool, 15) });
    log(`bench server ${primary.pg.host}:${primary.pg.port}, bucket ${bucket}, worker on task queue ${queue}`);
    worker = await startWorker(benchWorkerEnv(overrides), path.join(RESULTS, `worker-pitr-${stamp}.log`));
    worker.setMaxListeners(0);
    temporal = await connectTemporal(config);
    Object.assign(ctx, { client: temporal.client, taskQueue: queue, worker });
    const servers = { minio: minioServerPid(config.remote.endpoint) };

    // 2. The bench database and a base backup (local + off-site).
    await primary.sql('postgres', `CREATE DATABASE ${db}`);
    await primary.sql(db, `CREATE TABLE bench (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL); INSERT INTO bench SELECT g, 0, repeat(md5(g::text), 4) FROM generate_series(1, ${options.rows}) g`);
    const b = await runWorkflow(ctx, 'backupBase', [{}], `bench-pitr-base-${stamp}`);
    ctx.baseKey = b.result.key;
    figures.baseBackup = { key: b.result.key, bytes: b.result.bytes, seconds: b.seconds };
    log(`base backup ${b.result.key} (${mb(b.result.bytes).toFixed(0)} MB) in ${b.seconds.toFixed(1)} s`);

    // 3. >= walGb GB of WAL after it: whole-table updates, one commit per pass; T; one commit after T.
    let t = Date.now();
    let passes = 0;
    let walBytes = 0;
    const [{ lsn: walStart }] = await primary.sql(db, 'SELECT pg_current_wal_lsn()::text AS lsn');
    while (walBytes < options.walGb * 1e9) {
      await primary.sql(db, 'UPDATE bench SET v = v + 1');
      passes++;
      walBytes = Number((await primary.sql(db, 'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS d', [walStart]))[0].d);
    }
    Object.assign(figures, { walGenerated: walBytes, passes });
    log(`generated ${mb(walBytes).toFixed(0)} MB of WAL in ${passes} passes, ${((Date.now() - t) / 1000).toFixed(1)} s`);
    ctx.target = (await primary.sql(db, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t"))[0].t;
    await primary.sql(db, 'UPDATE bench SET v = v + 1000 WHERE id = 1');
    const archived = await waitArchived((text) => primary.sql('postgres', text));
    log(`target ${ctx.target}; WAL archived ${archived.seconds.toFixed(1)} s after the switch (up to ${archived.segment})`);
    t = Date.now();
    const shipped = await runWorkflow(ctx, 'shipWal', [{}], `bench-pitr-ship-${stamp}`);
    const backlog = await walBacklog(archiveDir, new S3Store(s3SettingsFromConfig(config.remote)));
    if (backlog.pending.length) throw new Error(`after shipWal, ${backlog.pending.length} archived segment(s) are not off-site (first ${backlog.pending[0]})`);
    figures.shipSeconds = shipped.seconds;
    log(`WAL shipped off-site in ${shipped.seconds.toFixed(1)} s (every archived segment is in ${bucket})`);
    if (options.variants.includes('F')) ctx.fetchEnv = writeFetchEnv(ctx);

    // 4. The rounds: every variant recovers the same base to the same T; order alternated.
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 ? options.variants : [...options.variants].reverse();
      log(`round ${round}: order ${order.join(', ')}`);
      const results = {};
      for (const v of order) {
        fs.rmSync(path.join(backupRoot, RESTORE_CACHE), { recursive: true, force: true }); // (R) starts cold
        const load = loadAverage();
        const childCpu = childrenCpuSeconds(process.pid);
        const meter = serverCpuMeter(servers).start();
        const r = v === 'L' || v === 'R' ? await lifeboat(ctx, v, round) : await byHand(ctx, v, round);
        r.serverCpu = meter.stop();
        if (r.cpu === undefined) r.cpu = childrenCpuSeconds(process.pid) - childCpu; // by hand: the tools this process ran
        r.cpuServers = r.clusterCpu + (r.serverCpu.minio ?? 0);
        r.cpuTotal = r.cpu + r.cpuServers;
        r.loadAverage = load;
        checkTable(`${LABELS[v]}, round ${round}`, r.check, passes, options.rows);
        results[v] = r;
        const steps = r.steps ? ` (plan ${r.steps.plan.toFixed(1)}, prepare ${r.steps.prepare.toFixed(1)}, recover ${r.steps.recover.toFixed(1)}, verify ${r.steps.verify.toFixed(1)}; worker peak RSS ${(r.rssPeak / 1e6).toFixed(0)} MB)` : '';
        log(`round ${round} ${LABELS[v]}: ${r.seconds.toFixed(2)} s${steps}; cpu ${r.cpu.toFixed(2)} s + cluster ${r.clusterCpu.toFixed(2)} s + MinIO ${(r.serverCpu.minio ?? 0).toFixed(2)} s; ${r.restoredSegments} segments restored; table ok; load ${describeLoad(load)} before`);
      }
      const ratio = (x, y) => (results[x] && results[y] ? results[x].seconds / results[y].seconds : undefined);
      const ratios = { RH: ratio('R', 'H'), LH: ratio('L', 'H'), FH: ratio('F', 'H'), RF: ratio('R', 'F') };
      log(`round ${round} ratios: ${Object.entries(ratios).filter(([, x]) => x !== undefined).map(([k, x]) => `${k[0]}/${k[1]} ${x.toFixed(2)}`).join(', ')}`);
      rounds.push({ ...results, _order: order, _ratios: ratios });
    }
  } finally {
    await stopWorker(worker);
    await temporal?.connection.close();
    if (!options.keep) {
      if (primary) await primary.teardown().catch((e) => log(`could not tear down the bench server: ${e.message}`));
      const keys = [];
      try {
        if (await minio.bucketExists(bucket)) {
          for await (const o of minio.list(bucket)) keys.push(o.key);
          await Promise.all(Array.from({ length: 16 }, async () => { for (let k = keys.shift(); k !== undefined; k = keys.shift()) await minio.delete(bucket, k); }));
          await minio.client.send(new DeleteBucketCommand({ Bucket: bucket }));
        }
      } catch (e) {
        log(`could not remove bucket ${bucket}: ${e.message}`);
      }
      fs.rmSync(root, { recursive: true, force: true });
    } else log(`kept: ${root}, bucket ${bucket}, bench server ${primary?.pg.host}:${primary?.pg.port}`);
  }

  const variants = options.variants;
  const rows = variants.map((v) => ({
    variant: v,
    label: LABELS[v],
    walls: rounds.map((r) => r[v].seconds),
    wallMedian: median(rounds.map((r) => r[v].seconds)),
    cpuMedian: median(rounds.map((r) => r[v].cpu)),
    clusterCpuMedian: median(rounds.map((r) => r[v].clusterCpu)),
    minioCpuMedian: median(rounds.map((r) => r[v].serverCpu.minio ?? 0)),
    cpuTotalMedian: median(rounds.map((r) => r[v].cpuTotal)),
    rssPeakMax: rounds[0][v].rssPeak !== undefined ? Math.max(...rounds.map((r) => r[v].rssPeak ?? 0)) : undefined,
    stepMedians: rounds[0][v].steps ? Object.fromEntries(Object.keys(rounds[0][v].steps).map((k) => [k, median(rounds.map((r) => r[v].steps[k]))])) : undefined,
    restoredSegments: rounds.map((r) => r[v].restoredSegments),
    loads: rounds.map((r) => r[v].loadAverage),
  }));
  const ratioMedians = Object.fromEntries(['RH', 'LH', 'FH', 'RF'].map((k) => [k, rounds[0]._ratios[k] === undefined ? undefined : median(rounds.map((r) => r._ratios[k]))]));
  const walReplayed = rounds.map((r) => r.L?.walBytesReplayed ?? r.R?.walBytesReplayed).find((x) => x !== undefined);
  const report = {
    date: new Date().toISOString(),
    machine: machine(),
    loadAverage: { start: loadStart, end: loadAverage() },
    rows: options.rows,
    ...figures,
    walBytesReplayed: walReplayed,
    rounds: options.rounds,
    summary: rows,
    ratioMedians,
    target: { what: 'R/H (off-site Lifeboat / by-hand cp) <= 1.2', ratio: ratioMedians.RH, met: ratioMedians.RH === undefined ? undefined : ratioMedians.RH <= 1.2 },
    raw: rounds,
  };
  const file = path.join(RESULTS, `pitr-${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const out = [];
  out.push(`| round | order | ${variants.map((v) => `${v} (s)`).join(' | ')} | R/H | L/H | F/H | R/F | load 1 min |`);
  out.push(`| --- | --- |${variants.map(() => ' ---: |').join('')} ---: | ---: | ---: | ---: | --- |`);
  const f2 = (x) => (x === undefined ? '-' : `${x.toFixed(2)}`);
  rounds.forEach((r, i) => out.push(`| ${i + 1} | ${r._order.join('')} | ${variants.map((v) => r[v].seconds.toFixed(2)).join(' | ')} | ${f2(r._ratios.RH)} | ${f2(r._ratios.LH)} | ${f2(r._ratios.FH)} | ${f2(r._ratios.RF)} | ${variants.map((v) => r[v].loadAverage[0].toFixed(2)).join(' / ')} |`));
  out.push(`| median | | ${rows.map((x) => x.wallMedian.toFixed(2)).join(' | ')} | ${f2(ratioMedians.RH)} | ${f2(ratioMedians.LH)} | ${f2(ratioMedians.FH)} | ${f2(ratioMedians.RF)} | |`);
  out.push('');
  out.push('| variant | wall (s) | CPU client (s) | CPU recovered cluster (s) | CPU MinIO (s) | CPU total (s) | worker peak RSS (MB) | stages (s) |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const x of rows) out.push(`| ${x.label.replace(/\|/g, '\\|')} | ${x.wallMedian.toFixed(2)} | ${x.cpuMedian.toFixed(1)} | ${x.clusterCpuMedian.toFixed(1)} | ${x.minioCpuMedian.toFixed(1)} | ${x.cpuTotalMedian.toFixed(1)} | ${x.rssPeakMax !== undefined ? (x.rssPeakMax / 1e6).toFixed(0) : '-'} | ${x.stepMedians ? Object.entries(x.stepMedians).map(([k, s]) => `${k} ${s.toFixed(1)}`).join(', ') : ''} |`);
  out.push('');
  out.push(`WAL replayed: ${walReplayed ? mb(walReplayed).toFixed(0) : '?'} MB; base backup ${figures.baseBackup ? mb(figures.baseBackup.bytes).toFixed(0) : '?'} MB; segments restored per variant: ${rows.map((x) => `${x.variant} ${x.restoredSegments.join('/')}`).join(', ')}`);
  if (ratioMedians.RH !== undefined) out.push(`PITR from off-site (R) / by-hand cp (H): ${ratioMedians.RH.toFixed(2)}x (median of same-round ratios); target <= 1.2x: ${ratioMedians.RH <= 1.2 ? 'met' : 'MISSED'}`);
  out.push(`results: ${path.relative(ROOT, file)}`);
  process.stdout.write(`\n${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`[bench pitr] failed: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
