#!/usr/bin/env node
/**
 * Point-in-time recovery benchmark (issue "PITR", benchmark item): how long `restorePointInTime`
 * takes, end to end, when at least 1 GB of WAL must be replayed.
 *
 *   1. a database of its own on the dev stack (`lifeboat_bench_pitr`, ~200k rows), a base backup
 *      (the backupBase workflow)
 *   2. >= --wal-gb GB of WAL after it: repeated UPDATEs of the whole table (every pass commits)
 *   3. T = clock_timestamp(); one more commit after T; pg_switch_wal(); wait until archived
 *   4. restorePointInTime { targetTime: T } timed end to end, with a worker this script runs on
 *      its own task queue; the recovered table must hold every pass before T and nothing after
 *   5. the recovered cluster is stopped and its directory removed; the database and the base
 *      backup (never uploaded) are removed. The WAL it generated stays in the archive.
 *
 *   6. baseline (unless --no-baseline): the same recovery by hand, as docs/operations.md and the
 *      seed describe it: gpg -d | zstd -d | tar -x as postgres, restore_command = 'cp archive/%f %p',
 *      pg_ctl start, poll until promoted; same base backup, same target
 *
 * Reports seconds per stage, WAL bytes replayed (replay LSN - base start LSN) and MB/s.
 * The local WAL archive serves the replay (REMOTE_STORAGE=false for this worker: no S3 traffic).
 *
 * Usage:  npx tsc -p tsconfig.build.json && node bench/pitr.js [--wal-gb 1.1] [--rows 200000] [--keep] [--no-baseline]
 * Needs the dev stack (`node bin/lifeboat.js stack up`); reads $LIFEBOAT_ENV_FILE, default
 * /var/lib/lifeboat/stack/lifeboat.env. Never stops the stack. Raw results go to bench/results/.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createServer } = require('node:net');
const { randomUUID } = require('node:crypto');
const { setTimeout: delay } = require('node:timers/promises');
const { RESULTS, parseArgs: parseFlags, makeLog, timeStamp, shellQuote, requireDist, loadBenchConfig, withPg, connectTemporal } = require('./common');

function parseArgs(argv) {
  const options = parseFlags(argv, {
    file: __filename,
    defaults: { walGb: 1.1, rows: 200_000, keep: false, baseline: true, database: 'lifeboat_bench_pitr' },
    flags: {
      '--wal-gb': (o, next) => (o.walGb = Number(next())),
      '--rows': (o, next) => (o.rows = Number(next())),
      '--keep': (o) => (o.keep = true),
      '--no-baseline': (o) => (o.baseline = false),
    },
  });
  if (!(options.walGb > 0)) throw new Error('--wal-gb must be a positive number');
  if (!Number.isInteger(options.rows) || options.rows < 1000) throw new Error('--rows must be an integer >= 1000');
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

/**
 * The same recovery by hand, with the standard tools only (docs/operations.md, "Restoring by hand"):
 * returns seconds from the first byte decrypted to the promoted server, and the counts it holds.
 */
async function baselineByHand({ config, baseKey, target, walBytes, stamp, db }) {
  const { spawnSync } = require('node:child_process');
  const { Client } = require('pg');
  const { pgToolPath } = requireDist('lib/postgres/tools');
  const root = path.join(config.restore.dataRoot, `bench-byhand-${stamp}`);
  const data = path.join(root, 'data');
  const run = path.join(root, 'run');
  const logFile = path.join(root, 'postgres.log');
  const port = await freePort();
  const pgBin = path.dirname(pgToolPath(config.db, 'pg_ctl', 15));
  const sh = (script) => {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`by hand: ${script}\n${r.stderr}`);
    return r.stdout;
  };
  const asPg = (cmd) => `runuser -u postgres -- ${cmd}`;
  fs.mkdirSync(config.restore.dataRoot, { recursive: true });
  sh(`install -d -m 700 -o postgres -g postgres ${shellQuote(root)} ${shellQuote(data)} ${shellQuote(run)}`);
  const started = Date.now();
  try {
    const file = path.join(config.backupRoot, baseKey);
    sh(`gpg --homedir ${shellQuote(config.encryption.gnupgHome)} --batch --quiet --decrypt ${shellQuote(file)} | zstd -d -q | ${asPg(`tar -x -C ${shellQuote(data)}`)}`);
    const conf = [
      '',
      `restore_command = 'cp ${requireDist('lib/catalog/paths').walArchiveDir(config.backupRoot)}/%f %p'`,
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
    sh(asPg(`${shellQuote(path.join(pgBin, 'pg_ctl'))} -D ${shellQuote(data)} -l ${shellQuote(logFile)} -W start`));
    let state;
    for (;;) {
      const c = new Client({ host: '127.0.0.1', port, user: config.db.user, password: config.db.password, database: 'postgres' });
      c.on('error', () => undefined);
      try {
        await c.connect();
        state = (await c.query("SELECT pg_is_in_recovery() AS r, pg_last_wal_replay_lsn()::text AS lsn")).rows[0];
      } catch {
        state = undefined;
      } finally {
        await c.end().catch(() => undefined);
      }
      if (state && !state.r) break;
      if (Date.now() - started > 3_600_000) throw new Error('by hand: not promoted within an hour');
      await delay(200);
    }
    const seconds = (Date.now() - started) / 1000;
    const c = new Client({ host: '127.0.0.1', port, user: config.db.user, password: config.db.password, database: db });
    await c.connect();
    const check = (await c.query('SELECT min(v) AS lo, max(v) AS hi, count(*) AS n FROM bench')).rows[0];
    await c.end();
    return { seconds, check, walBytes };
  } finally {
    spawnSync('runuser', ['-u', 'postgres', '--', path.join(pgBin, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop'], { stdio: 'ignore' });
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { Client } = require('pg');
  const { createLogger } = requireDist('lib/logger');
  const { installRuntime } = requireDist('workers/runtime');
  const { createWorkers } = requireDist('workers/worker');
  const { stopCluster } = requireDist('lib/pitr/cluster');
  const { clusterOwner, recoveryPathsOf, runDirOf } = requireDist('lib/pitr/recovery-dir');
  const { pgToolPath } = requireDist('lib/postgres/tools');

  const queue = `bench-pitr-${randomUUID().slice(0, 8)}`;
  const config = loadBenchConfig({ LIFEBOAT_TASK_QUEUE: queue, LIFEBOAT_HOST: 'benchpitr', REMOTE_STORAGE: 'false', LOG_LEVEL: 'warn' });
  fs.mkdirSync(RESULTS, { recursive: true });
  const stamp = timeStamp();
  const logger = createLogger({ level: 'info', secrets: config.secretValues, file: path.join(RESULTS, `pitr-worker-${stamp}.log`) });
  installRuntime({ logger });

  const pg = (database, fn) => withPg(config, database, fn);
  const db = options.database;

  log(`worker on task queue ${queue} (dev stack ${config.temporal.address}, BACKUP_ROOT ${config.backupRoot})`);
  const workers = await createWorkers({ config, logger });
  const running = workers.run();
  const { connection, client: temporal } = await connectTemporal(config);
  let result;
  let baseKey;
  const baseWorkflowId = `bench-pitr-base-${stamp}`;
  const figures = {};
  try {
    // 1. The bench database and a base backup.
    await pg('postgres', async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${db}`);
    });
    await pg(db, (c) => c.query(`CREATE TABLE bench (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL); INSERT INTO bench SELECT g, 0, repeat(md5(g::text), 4) FROM generate_series(1, ${options.rows}) g`));
    let t = Date.now();
    const base = await temporal.workflow.execute('backupBase', { taskQueue: queue, workflowId: baseWorkflowId, args: [{}] });
    baseKey = base.key;
    figures.baseBackupSeconds = (Date.now() - t) / 1000;
    log(`base backup ${base.key} (${(mb(base.bytes)).toFixed(0)} MB) in ${figures.baseBackupSeconds.toFixed(1)} s`);

    // 2. >= walGb GB of WAL after it: whole-table updates, one commit per pass.
    const walTarget = options.walGb * 1e9;
    t = Date.now();
    let passes = 0;
    let walBytes = 0;
    await pg(db, async (c) => {
      const start = (await c.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn;
      while (walBytes < walTarget) {
        await c.query('UPDATE bench SET v = v + 1');
        passes++;
        walBytes = Number((await c.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS d', [start])).rows[0].d);
      }
    });
    figures.walGenerated = walBytes;
    figures.passes = passes;
    log(`generated ${(mb(walBytes)).toFixed(0)} MB of WAL in ${passes} passes, ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // 3. T, one commit after T, and the WAL archived.
    const target = await pg(db, async (c) => (await c.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t")).rows[0].t);
    await pg(db, (c) => c.query('UPDATE bench SET v = v + 1000 WHERE id = 1'));
    t = Date.now();
    await pg('postgres', async (c) => {
      const segment = (await c.query('SELECT pg_walfile_name(pg_switch_wal()) AS s')).rows[0].s;
      for (;;) {
        const last = (await c.query('SELECT last_archived_wal AS l FROM pg_stat_archiver')).rows[0].l;
        if (last && last.slice(0, 24) >= segment) break;
        if (Date.now() - t > 600_000) throw new Error(`segment ${segment} not archived after 10 minutes`);
        await delay(250);
      }
    });
    log(`target ${target}; WAL archived ${((Date.now() - t) / 1000).toFixed(1)} s after the switch`);

    // 4. restorePointInTime, end to end.
    const port = await freePort();
    t = Date.now();
    result = await temporal.workflow.execute('restorePointInTime', { taskQueue: queue, workflowId: `bench-pitr-${stamp}`, args: [{ targetTime: target, port }] });
    figures.endToEndSeconds = (Date.now() - t) / 1000;
    const check = await new Promise((resolve, reject) => {
      const c = new Client({ host: '127.0.0.1', port, user: config.db.user, password: config.db.password, database: db });
      c.connect()
        .then(() => c.query('SELECT min(v) AS lo, max(v) AS hi, count(*) AS n FROM bench'))
        .then((r) => resolve(r.rows[0]), reject)
        .finally(() => c.end().catch(() => undefined));
    });
    if (Number(check.lo) !== passes || Number(check.hi) !== passes || Number(check.n) !== options.rows) {
      throw new Error(`recovered table is wrong: v in [${check.lo}, ${check.hi}] over ${check.n} rows, expected every row at ${passes}`);
    }
    log(`recovered table ok: ${check.n} rows, every one at pass ${passes}, the commit after T absent`);

    // 6. The same by hand (seed-style), for comparison.
    if (options.baseline) {
      const byHand = await baselineByHand({ config, baseKey: result.baseKey, target, walBytes: result.walBytesReplayed, stamp: `${stamp}`.toLowerCase(), db });
      if (Number(byHand.check.hi) !== passes || Number(byHand.check.n) !== options.rows) throw new Error(`by hand: recovered table is wrong (${JSON.stringify(byHand.check)})`);
      figures.byHandSeconds = byHand.seconds;
      log(`by hand (gpg | zstd | tar, restore_command cp): ${byHand.seconds.toFixed(1)} s`);
    }
  } finally {
    if (result && !options.keep) {
      const paths = recoveryPathsOf(runDirOf(result.dataDir));
      await stopCluster(pgToolPath(config.db, 'pg_ctl', 15), paths, clusterOwner()).catch((e) => log(`could not stop the recovered cluster: ${e.message}`));
      fs.rmSync(paths.runDir, { recursive: true, force: true });
    }
    if (!options.keep) await pg('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)).catch(() => undefined);
    // The base backup was taken for this run only (never uploaded): remove it, if it is ours.
    if (baseKey && !options.keep) {
      const metadataFile = path.join(config.backupRoot, `${baseKey}.metadata.json`);
      const meta = fs.existsSync(metadataFile) ? JSON.parse(fs.readFileSync(metadataFile, 'utf8')) : undefined;
      if (meta && meta.workflowId === baseWorkflowId) fs.rmSync(path.dirname(path.join(config.backupRoot, baseKey)), { recursive: true, force: true });
    }
    await connection.close();
    workers.shutdown();
    await running;
  }

  const replay = result.stageSeconds.recover;
  const report = {
    when: new Date().toISOString(),
    host: { cpus: os.cpus().length, memGb: Math.round(os.totalmem() / 1e9) },
    walGenerated: figures.walGenerated,
    walBytesReplayed: result.walBytesReplayed,
    replayedSegments: result.replayedSegments,
    plannedSegments: result.plannedSegments,
    baseBackupSeconds: figures.baseBackupSeconds,
    endToEndSeconds: figures.endToEndSeconds,
    workflowSeconds: result.seconds,
    stageSeconds: result.stageSeconds,
    replayMBps: mb(result.walBytesReplayed) / replay,
    endToEndMBps: mb(result.walBytesReplayed) / figures.endToEndSeconds,
    recoveryPoint: result.recoveryPoint,
    base: result.baseKey,
    byHandSeconds: figures.byHandSeconds,
    byHandMBps: figures.byHandSeconds ? mb(result.walBytesReplayed) / figures.byHandSeconds : undefined,
  };
  fs.writeFileSync(path.join(RESULTS, `pitr-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const s = result.stageSeconds;
  process.stdout.write(
    [
      `WAL replayed:   ${(mb(result.walBytesReplayed)).toFixed(0)} MB (${result.replayedSegments} segments from the archive)`,
      `end to end:     ${figures.endToEndSeconds.toFixed(1)} s  (${report.endToEndMBps.toFixed(1)} MB/s of WAL)`,
      `  plan ${s.plan.toFixed(1)} s, prepare ${s.prepare.toFixed(1)} s (verify + extract the base backup), recover ${s.recover.toFixed(1)} s (${report.replayMBps.toFixed(1)} MB/s), verify ${s.verify.toFixed(1)} s`,
      ...(figures.byHandSeconds ? [`by hand:        ${figures.byHandSeconds.toFixed(1)} s  (${report.byHandMBps.toFixed(1)} MB/s; gpg | zstd -d | tar, restore_command cp)`] : []),
      `recovery point: ${result.recoveryPoint.stoppedAt}; last transaction ${result.recoveryPoint.lastTransactionAt}`,
      `results:        ${path.join('bench', 'results', `pitr-${stamp}.json`)}`,
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`[bench pitr] failed: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
