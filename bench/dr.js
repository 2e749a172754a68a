#!/usr/bin/env node
/**
 * Disaster-recovery drill benchmark (issue 12, benchmark item): the RTO of `disasterRecovery`
 * { mode: 'drill', autoApprove: true } with the scale-10 dataset (about 1 GB) in the cluster and the
 * stack's sample buckets, each step's share of it, beside the same steps done by hand with the
 * documented commands (docs/operations.md "Restoring by hand", the MinIO by-hand restore), in the
 * same run, the order alternated each round.
 *
 * Setup, once (against the dev stack, with a worker process of its own on its own task queue, the
 * stack's BACKUP_ROOT and off-site bucket, DB_NAME = the dataset database):
 *   the dataset (`psql -v scale=10 -f ../shared/bench/corporate-intel-dataset.sql`, as
 *   bench/backup.js; reused when present), backupBase (off-site copy, WAL shipped), pg_switch_wal +
 *   archived + shipWal, mirrorBuckets (the replica of BUCKETS_TO_BACKUP), backupConfigFiles.
 *   Every round then recovers that same base backup, WAL, replica and configuration archive.
 *
 *   (L) Lifeboat: the drill, started like `lifeboat dr start --drill --auto-approve`; the RTO is the
 *       report's totalSeconds, the steps its steps. Its cleanup is part of the run.
 *   (H) by hand, each step timed:
 *       infrastructure  `minio server` on free loopback ports in a new directory, wait until ready
 *       download        `aws s3 cp` of the base backup + metadata, of the WAL from the base's first
 *                       segment on (one `aws s3 cp --recursive --include ...`), of the newest config
 *                       archive + metadata; `sha256sum` of both against their metadata
 *       postgres        `gpg -d | zstd -d | tar -x` as postgres, every WAL segment `gpg -d | zstd -d`
 *                       into a directory, restore_command = 'cp <dir>/%f %p', recovery.signal, no
 *                       target (to the end of the WAL), `pg_ctl start`, poll until promoted
 *       minio           per bucket `aws s3 sync` from the replica to disk, `aws s3 mb` + `aws s3 sync`
 *                       into the new MinIO
 *       config          `gpg -d | zstd -d | tar -x` into a new directory
 *       verify          count(*) of every table of the database (psql), `aws s3 ls --recursive` count
 *                       per bucket against the replica
 *       dns             `nsupdate -k <tsig key>` of the drill name, `dig` it
 *       app-checks      `psql -c 'SELECT count(*) FROM companies'`, `aws s3 cp` of one object
 *       (cleanup)       `pg_ctl stop`, stop MinIO, `nsupdate` delete, `rm -rf` (timed apart)
 *   Declaring and communicating have no command by hand (0 s).
 *
 * Both paths must bring back every row of the database (checked against the counts taken before)
 * and every object. Reports medians, the ratio Lifeboat / by hand (RTO against the by-hand steps
 * plus its cleanup, and to the end of step 10 against the by-hand steps), and os.loadavg().
 *
 * Usage:  npm run build && node bench/dr.js [--rounds 3] [--scale 10] [--database corporate_intel_bench] [--no-by-hand]
 * Needs the dev stack (`node bin/lifeboat.js stack up`, with BIND and the aws CLI); reads
 * $LIFEBOAT_ENV_FILE, default /var/lib/lifeboat/stack/lifeboat.env. Never stops the stack; must run
 * as root (the by-hand path runs PostgreSQL as the postgres user). Raw results go to bench/results/.
 */
'use strict';

const { spawn } = require('node:child_process');
const { randomBytes, randomUUID } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: delay } = require('node:timers/promises');
const {
  RESULTS, parseArgs: parseFlags, makeLog, median, mb, timeStamp, shellQuote, run, runShell, describeMachine, requireDist, loadBenchConfig, benchWorkerEnv, withPg,
  ensureDataset, startWorker, stopWorker, connectTemporal,
} = require('./common');

const log = makeLog('dr');
const STEPS = ['declare', 'infrastructure', 'download', 'postgres', 'minio', 'config', 'verify', 'dns', 'app-checks', 'communicate'];

function parseArgs(argv) {
  const options = parseFlags(argv, {
    file: __filename,
    defaults: { rounds: 3, scale: 10, database: 'corporate_intel_bench', byHand: true },
    flags: {
      '--rounds': (o, next) => (o.rounds = Number(next())),
      '--scale': (o, next) => (o.scale = Number(next())),
      '--database': (o, next) => (o.database = next()),
      '--no-by-hand': (o) => (o.byHand = false),
    },
  });
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be a positive integer');
  if (!Number.isInteger(options.scale) || options.scale < 1) throw new Error('--scale must be a positive integer');
  if (!/^[a-z_][a-z0-9_]*$/.test(options.database)) throw new Error('--database must be a plain lower-case identifier');
  return options;
}

const loadAverage = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const fmt = (s) => (s === undefined || Number.isNaN(s) ? '-' : `${s.toFixed(1)} s`);

/** Row counts of every table of `database` (what both paths must bring back). */
async function tableCounts(client) {
  const { rows } = await client.query(
    "SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
  );
  const counts = {};
  for (const t of rows) counts[`${t.schema}.${t.name}`] = Number((await client.query(`SELECT count(*) AS n FROM "${t.schema}"."${t.name}"`)).rows[0].n);
  return counts;
}

/** The WAL segment name holding `lsn` ('X/Y') on `timeline` (16 MiB segments). */
function segmentOf(lsn, timeline) {
  const [hi, lo] = lsn.split('/').map((x) => parseInt(x, 16));
  const hex = (n) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(hi)}${hex(Math.floor(lo / 0x1000000))}`;
}

async function freePort() {
  return requireDist('lib/servers/ports').freePort('127.0.0.1');
}

async function waitFor(what, fn, timeoutMs = 600_000) {
  const started = Date.now();
  for (;;) {
    const ok = await fn().catch((error) => {
      if (error.fatal) throw error;
      return false;
    });
    if (ok) return;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await delay(200);
  }
}

// ---------------------------------------------------------------------------------------------
// (L) Lifeboat

/** Remove the restore cache's copies of what the drill downloads (the base backup, configuration archives). */
function clearRestoreCache(ctx) {
  const cache = path.join(ctx.config.backupRoot, '.restore-cache');
  fs.rmSync(path.join(cache, path.dirname(ctx.setup.baseKey)), { recursive: true, force: true });
  fs.rmSync(path.join(cache, 'config'), { recursive: true, force: true });
}

async function lifeboatDrill(ctx, round) {
  const { client, queue, options, expected } = ctx;
  const workflowId = `bench-dr-${ctx.stamp}-r${round}`;
  // A cold start, as after a real disaster: the drill's step 3 caches what it downloads in
  // BACKUP_ROOT/.restore-cache and would find it there in the next round.
  clearRestoreCache(ctx);
  const started = Date.now();
  const handle = await client.workflow.start('disasterRecovery', {
    taskQueue: queue,
    workflowId,
    args: [{ mode: 'drill', autoApprove: true, incident: `BENCH-${round}`, declaredBy: 'bench/dr.js', reason: 'benchmark' }],
  });
  const report = await handle.result();
  const wall = (Date.now() - started) / 1000;
  if (report.outcome !== 'recovered') throw new Error(`drill ${workflowId}: ${report.outcome} ${report.error ?? ''}`);
  const restored = report.restored.postgres.databases.find((d) => d.name === options.database);
  const rows = Object.values(expected.tables).reduce((n, x) => n + x, 0);
  if (!restored || restored.rows !== rows) throw new Error(`drill ${workflowId}: ${options.database} came back with ${restored?.rows} rows, expected ${rows}`);
  const objects = report.restored.minio.buckets.reduce((n, b) => n + b.objects, 0);
  if (objects !== expected.objects) throw new Error(`drill ${workflowId}: ${objects} objects restored, expected ${expected.objects}`);
  const steps = Object.fromEntries(report.steps.map((s) => [s.name, s.seconds]));
  const pitr = report.restored.postgres.path === 'pitr' ? (await client.workflow.getHandle(`${workflowId}-postgres`).result()).stageSeconds : undefined;
  const communicate = report.steps.find((s) => s.name === 'communicate');
  const toStep10 = (Date.parse(communicate.endedAt) - Date.parse(report.declaredAt)) / 1000;
  return { workflowId, rto: report.totalSeconds, toStep10, wall, rtoMet: report.rtoMet, rtoObjective: report.rtoObjectiveSeconds, steps, pitr, rows: restored.rows, objects, base: report.plan.base?.key, segments: report.plan.base?.segments };
}

// ---------------------------------------------------------------------------------------------
// (H) by hand

async function byHand(ctx, round) {
  const { config, options, expected, setup } = ctx;
  const { pgToolPath } = requireDist('lib/postgres/tools');
  const pgBin = path.dirname(pgToolPath(config.db, 'pg_ctl', 15));
  const root = path.join(config.restore.dataRoot, `bench-dr-byhand-${ctx.stamp}-r${round}`.toLowerCase());
  const dl = path.join(root, 'download');
  const data = path.join(root, 'data');
  const runDir = path.join(root, 'run');
  const walDir = path.join(root, 'wal');
  const objectsDir = path.join(root, 'objects');
  const configDir = path.join(root, 'config');
  const minioData = path.join(root, 'minio');
  const s3 = { AWS_ACCESS_KEY_ID: config.remote.accessKeyId, AWS_SECRET_ACCESS_KEY: config.remote.secretAccessKey, AWS_DEFAULT_REGION: config.remote.region || 'us-east-1' };
  const replica = { AWS_ACCESS_KEY_ID: config.minio.backup.accessKey, AWS_SECRET_ACCESS_KEY: config.minio.backup.secretKey, AWS_DEFAULT_REGION: 'us-east-1' };
  const newMinio = { user: 'drbench', password: randomBytes(18).toString('base64url') };
  const fresh = { AWS_ACCESS_KEY_ID: newMinio.user, AWS_SECRET_ACCESS_KEY: newMinio.password, AWS_DEFAULT_REGION: 'us-east-1' };
  const awsEnv = (creds) => ({ ...process.env, ...creds, AWS_PAGER: '' });
  const gpgEnv = { ...process.env, GNUPGHOME: config.encryption.gnupgHome };
  const bucketUrl = `s3://${config.remote.bucket}`;
  const gpg = 'gpg --batch --quiet --decrypt';
  const dns = config.dns;
  const nsupdate = (lines) => runShell(`printf '%s\\n' ${lines.map(shellQuote).join(' ')} | nsupdate -k ${shellQuote(dns.tsigKeyFile)}`);
  const dnsHead = [`server ${dns.server.host} ${dns.server.port}`, `zone ${dns.zone}`];
  const steps = {};
  let minio;
  let pgPort;
  let minioPort;
  const timed = async (name, fn) => {
    const t = process.hrtime.bigint();
    await fn();
    steps[name] = Number(process.hrtime.bigint() - t) / 1e9;
  };
  fs.mkdirSync(config.restore.dataRoot, { recursive: true });
  await runShell(`install -d -m 755 ${shellQuote(root)} ${shellQuote(dl)} ${shellQuote(objectsDir)} ${shellQuote(configDir)} ${shellQuote(minioData)} && install -d -m 755 -o postgres -g postgres ${shellQuote(walDir)} && install -d -m 700 -o postgres -g postgres ${shellQuote(data)} ${shellQuote(runDir)}`);
  const started = process.hrtime.bigint();
  let counts;
  try {
    steps.declare = 0;
    // 2. A new MinIO on free loopback ports; the new PostgreSQL comes from the base backup (step 4).
    await timed('infrastructure', async () => {
      [pgPort, minioPort] = await Promise.all([freePort(), freePort()]);
      const consolePort = await freePort();
      const logFd = fs.openSync(path.join(root, 'minio.log'), 'a');
      minio = spawn(setup.minioBinary, ['server', minioData, '--address', `127.0.0.1:${minioPort}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
        env: { ...process.env, MINIO_ROOT_USER: newMinio.user, MINIO_ROOT_PASSWORD: newMinio.password }, stdio: ['ignore', logFd, logFd], detached: true,
      });
      fs.closeSync(logFd);
      await waitFor('the new MinIO', async () => (await fetch(`http://127.0.0.1:${minioPort}/minio/health/ready`)).ok, 120_000);
    });

    // 3. From the off-site store: the base backup, the WAL from its first segment on, the config archive; sha256 checked.
    await timed('download', async () => {
      const e = awsEnv(s3);
      const endpoint = ['--endpoint-url', config.remote.endpoint];
      await Promise.all([
        run('aws', ['s3', 'cp', '--only-show-errors', `${bucketUrl}/${setup.baseKey}`, path.join(dl, 'base.tar.zst.gpg'), ...endpoint], { env: e }),
        run('aws', ['s3', 'cp', '--only-show-errors', `${bucketUrl}/${setup.baseKey}.metadata.json`, path.join(dl, 'base.metadata.json'), ...endpoint], { env: e }),
        run('aws', ['s3', 'cp', '--only-show-errors', `${bucketUrl}/config/${setup.configFile}`, path.join(dl, 'config.tar.zst.gpg'), ...endpoint], { env: e }),
        run('aws', ['s3', 'cp', '--only-show-errors', `${bucketUrl}/config/${setup.configFile}.metadata.json`, path.join(dl, 'config.metadata.json'), ...endpoint], { env: e }),
        run('aws', ['s3', 'cp', '--only-show-errors', '--recursive', `${bucketUrl}/wal-archive/`, path.join(dl, 'wal'), '--exclude', '*', ...setup.walFiles.flatMap((f) => ['--include', f]), ...endpoint], { env: e }),
      ]);
      for (const [file, metadata] of [['base.tar.zst.gpg', 'base.metadata.json'], ['config.tar.zst.gpg', 'config.metadata.json']]) {
        const { stdout } = await run('sha256sum', [path.join(dl, file)], { capture: true });
        const want = JSON.parse(fs.readFileSync(path.join(dl, metadata), 'utf8')).sha256;
        if (stdout.split(' ')[0] !== want) throw new Error(`by hand: ${file} sha256 ${stdout.split(' ')[0]} is not ${want}`);
      }
    });

    // 4. The base backup as postgres, every segment decrypted, restore_command cp, to the end of the WAL.
    await timed('postgres', async () => {
      await runShell(`${gpg} ${shellQuote(path.join(dl, 'base.tar.zst.gpg'))} | zstd -d -q | runuser -u postgres -- tar -x -C ${shellQuote(data)}`, { env: gpgEnv });
      await runShell(
        `cd ${shellQuote(path.join(dl, 'wal'))} && for f in *.zst.gpg; do ${gpg} "$f" | zstd -d -q > ${shellQuote(walDir)}/"\${f%.zst.gpg}" || exit 1; done`,
        { env: gpgEnv },
      );
      const conf = ['', `restore_command = 'cp ${walDir}/%f %p'`, 'archive_mode = off', `port = ${pgPort}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${runDir}'`, ''].join('\n');
      fs.appendFileSync(path.join(data, 'postgresql.auto.conf'), conf);
      fs.writeFileSync(path.join(data, 'recovery.signal'), '');
      await run('chown', ['postgres:postgres', path.join(data, 'postgresql.auto.conf'), path.join(data, 'recovery.signal')]);
      const pgLog = path.join(runDir, 'postgres.log');
      await run('runuser', ['-u', 'postgres', '--', path.join(pgBin, 'pg_ctl'), '-D', data, '-l', pgLog, '-W', 'start']);
      const { Client } = require('pg');
      const since = Date.now();
      await waitFor('promotion of the recovered cluster', async () => {
        if (Date.now() - since > 15_000 && !fs.existsSync(path.join(data, 'postmaster.pid'))) {
          throw Object.assign(new Error(`by hand: the recovered cluster is not running: ${fs.existsSync(pgLog) ? fs.readFileSync(pgLog, 'utf8').slice(-2000) : 'no log'}`), { fatal: true });
        }
        const c = new Client({ host: '127.0.0.1', port: pgPort, user: config.db.user, password: config.db.password, database: 'postgres' });
        c.on('error', () => undefined);
        try {
          await c.connect();
          return !(await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r;
        } finally {
          await c.end().catch(() => undefined);
        }
      }, 1_800_000);
    });

    // 5. Every bucket from the replica into the new MinIO.
    await timed('minio', async () => {
      for (const bucket of config.minio.buckets) {
        const local = path.join(objectsDir, bucket);
        await run('aws', ['s3', 'sync', '--only-show-errors', `s3://${bucket}`, local, '--endpoint-url', config.minio.backup.endpoint], { env: awsEnv(replica) });
        await run('aws', ['s3', 'mb', `s3://${bucket}`, '--endpoint-url', `http://127.0.0.1:${minioPort}`], { env: awsEnv(fresh) });
        await run('aws', ['s3', 'sync', '--only-show-errors', local, `s3://${bucket}`, '--endpoint-url', `http://127.0.0.1:${minioPort}`], { env: awsEnv(fresh) });
      }
    });

    // 6. The configuration files into a new directory.
    await timed('config', () => runShell(`${gpg} ${shellQuote(path.join(dl, 'config.tar.zst.gpg'))} | zstd -d -q | tar -x -C ${shellQuote(configDir)}`, { env: gpgEnv }));

    // 7. Every table's rows, every bucket's object count.
    await timed('verify', async () => {
      counts = await withPg({ ...config, db: { ...config.db, port: pgPort, host: '127.0.0.1' } }, options.database, tableCounts);
      for (const [table, n] of Object.entries(expected.tables)) if (counts[table] !== n) throw new Error(`by hand: ${table} has ${counts[table]} rows, expected ${n}`);
      for (const bucket of config.minio.buckets) {
        const { stdout } = await runShell(`aws s3 ls --recursive s3://${bucket} --endpoint-url http://127.0.0.1:${minioPort} | wc -l`, { env: awsEnv(fresh), capture: true });
        if (Number(stdout.trim()) !== expected.buckets[bucket]) throw new Error(`by hand: ${bucket} holds ${stdout.trim()} objects, expected ${expected.buckets[bucket]}`);
      }
    });

    // 8. The drill's DNS name to the new endpoint.
    await timed('dns', async () => {
      await nsupdate([...dnsHead, `update delete ${dns.drillRecord} A`, `update add ${dns.drillRecord} ${dns.ttl} A 127.0.0.1`, 'send']);
      const { stdout } = await run('dig', ['+short', '+norecurse', '-p', String(dns.server.port), `@${dns.server.host}`, dns.drillRecord, 'A'], { capture: true });
      if (stdout.trim() !== '127.0.0.1') throw new Error(`by hand: ${dns.drillRecord} answers "${stdout.trim()}"`);
    });

    // 9. A query and an object read against the new endpoints.
    await timed('app-checks', async () => {
      await run(path.join(pgBin, 'psql'), ['-X', '-q', '-h', '127.0.0.1', '-p', String(pgPort), '-U', config.db.user, '-d', options.database, '-c', 'SELECT count(*) FROM companies'], { env: { ...process.env, PGPASSWORD: config.db.password } });
      await runShell(`aws s3 cp s3://${config.minio.buckets[0]}/${shellQuote(setup.sampleObject)} - --endpoint-url http://127.0.0.1:${minioPort} > /dev/null`, { env: awsEnv(fresh) });
    });
    steps.communicate = 0;
  } finally {
    const total = Number(process.hrtime.bigint() - started) / 1e9;
    const t = process.hrtime.bigint();
    // Cleanup: the recovered cluster, the new MinIO, the drill record, the directory.
    await run('runuser', ['-u', 'postgres', '--', path.join(pgBin, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
    if (minio && minio.exitCode === null) {
      const exited = new Promise((resolve) => minio.once('exit', resolve));
      minio.kill('SIGTERM');
      await Promise.race([exited, delay(15_000).then(() => minio.kill('SIGKILL'))]);
    }
    await nsupdate([...dnsHead, `update delete ${dns.drillRecord} A`, 'send']).catch((e) => log(`by hand: could not remove ${dns.drillRecord}: ${e.message}`));
    fs.rmSync(root, { recursive: true, force: true });
    steps.cleanup = Number(process.hrtime.bigint() - t) / 1e9;
    steps.total = total;
  }
  const stepSum = STEPS.reduce((n, s) => n + (steps[s] ?? 0), 0);
  return { total: steps.total, stepSum, cleanup: steps.cleanup, steps, rows: Object.values(counts).reduce((n, x) => n + x, 0) };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root: the by-hand path runs PostgreSQL as the postgres user');
  const stamp = timeStamp();
  const queue = `bench-dr-${randomUUID().slice(0, 8)}`;
  const overrides = {
    DB_NAME: options.database, LIFEBOAT_TASK_QUEUE: queue, LIFEBOAT_HOST: 'benchdr', LOG_LEVEL: 'info',
    DR_CHECK_SQL: 'SELECT count(*) FROM companies', DR_RTO_MINUTES: '10',
  };
  const config = loadBenchConfig(overrides);
  if (!config.remote.enabled) throw new Error('REMOTE_STORAGE is off in the stack configuration: a drill restores from the off-site copies only');
  if (config.dns.provider !== 'rfc2136' || !config.dns.drillRecord) throw new Error('the stack has no DR_DNS_* settings (rfc2136): bring it up again with `node bin/lifeboat.js stack up`');
  const { pgToolEnv } = requireDist('lib/postgres/tools');
  const { findMinioBinary } = requireDist('lib/servers/binaries');
  const { switchWalAndWaitArchived } = requireDist('lib/postgres/switch-wal');
  const pgEnv = { ...pgToolEnv(config.db), GNUPGHOME: config.encryption.gnupgHome };
  fs.mkdirSync(RESULTS, { recursive: true });
  const loads = [{ at: 'start', load: loadAverage() }];
  log(`machine: ${describeMachine()}; load average ${loads[0].load.join(' / ')}`);

  await ensureDataset(config, pgEnv, options);
  const expected = { tables: await withPg(config, options.database, tableCounts), buckets: {} };
  const sizes = await withPg(config, options.database, async (pg) => ({
    database: Number((await pg.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n),
    cluster: Number((await pg.query('SELECT sum(pg_database_size(datname)) AS n FROM pg_database')).rows[0].n),
  }));
  log(`database ${options.database}: ${mb(sizes.database)} MB, ${Object.values(expected.tables).reduce((n, x) => n + x, 0)} rows (cluster ${mb(sizes.cluster)} MB)`);

  const workerLog = path.join(RESULTS, `dr-worker-${stamp}.log`);
  const worker = await startWorker(benchWorkerEnv(overrides), workerLog);
  const { connection, client } = await connectTemporal(config);
  const ctx = { config, options, client, queue, stamp, expected, setup: {} };
  const rounds = [];
  try {
    // Setup: what every round recovers.
    const t = Date.now();
    const exec = (type, args = {}) => client.workflow.execute(type, { taskQueue: queue, workflowId: `bench-dr-${type}-${stamp}`, args: [args] });
    const base = await exec('backupBase');
    const switched = await switchWalAndWaitArchived(config.db, { timeoutMs: 600_000 });
    const shipped = await exec('shipWal');
    await exec('mirrorBuckets');
    const configBackup = await exec('backupConfigFiles');
    log(`setup ${((Date.now() - t) / 1000).toFixed(0)} s: base ${base.key} (${mb(base.bytes)} MB), WAL to ${switched.segment} (${shipped.shipped.length} shipped now), replica mirrored, config ${configBackup.key}`);

    // What the by-hand path needs to know, read the way a person would (metadata, listings).
    const { S3Client, ListObjectsV2Command, GetObjectCommand } = require('@aws-sdk/client-s3');
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const s3 = new S3Client({ endpoint: config.remote.endpoint, region: config.remote.region || 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: config.remote.accessKeyId, secretAccessKey: config.remote.secretAccessKey } });
    const list = async (Bucket, Prefix) => {
      const keys = [];
      let ContinuationToken;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }));
        keys.push(...(page.Contents ?? []).map((o) => o.Key));
        ContinuationToken = page.NextContinuationToken;
      } while (ContinuationToken);
      return keys;
    };
    const baseMeta = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: config.remote.bucket, Key: `${base.key}.metadata.json` }))).Body.transformToString());
    const firstSegment = segmentOf(baseMeta.startLsn, baseMeta.timeline ?? 1);
    const walFiles = (await list(config.remote.bucket, 'wal-archive/'))
      .map((k) => k.slice('wal-archive/'.length))
      .filter((f) => f.endsWith('.zst.gpg') && /^[0-9A-F]{24}/.test(f) && f.slice(0, 24) >= firstSegment);
    const configFiles = (await list(config.remote.bucket, 'config/')).map((k) => k.slice('config/'.length)).filter((f) => /^config_\d{8}-\d{6}\.tar\.zst\.gpg$/.test(f)).sort();
    if (!configFiles.length) throw new Error('no config_<stamp>.tar.zst.gpg off-site');
    ctx.setup = { baseKey: base.key, walFiles, configFile: configFiles.at(-1), minioBinary: findMinioBinary() };
    if (!ctx.setup.minioBinary) throw new Error('no minio binary (stack up installs one)');
    const replicaS3 = new S3Client({ endpoint: config.minio.backup.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: config.minio.backup.accessKey, secretAccessKey: config.minio.backup.secretKey } });
    for (const bucket of config.minio.buckets) {
      let n = 0;
      let token;
      do {
        const page = await replicaS3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        n += page.KeyCount ?? 0;
        if (!ctx.setup.sampleObject && bucket === config.minio.buckets[0]) ctx.setup.sampleObject = page.Contents?.[0]?.Key;
        token = page.NextContinuationToken;
      } while (token);
      expected.buckets[bucket] = n;
    }
    expected.objects = Object.values(expected.buckets).reduce((a, b) => a + b, 0);
    log(`by hand reads: ${walFiles.length} WAL files from ${firstSegment}, ${ctx.setup.configFile}, ${expected.objects} objects in ${config.minio.buckets.length} buckets`);
    loads.push({ at: 'after setup', load: loadAverage() });

    for (let i = 1; i <= options.rounds; i++) {
      const order = options.byHand ? (i % 2 === 1 ? ['L', 'H'] : ['H', 'L']) : ['L'];
      const r = { round: i, order: order.join(''), load: {} };
      for (const which of order) {
        r.load[which] = loadAverage();
        if (which === 'L') {
          r.lifeboat = await lifeboatDrill(ctx, i);
          const p = r.lifeboat.pitr;
          log(`round ${i} Lifeboat: RTO ${fmt(r.lifeboat.rto)} (to the end of step 10 ${fmt(r.lifeboat.toStep10)}); ${STEPS.map((s) => `${s} ${fmt(r.lifeboat.steps[s])}`).join(', ')}, cleanup ${fmt(r.lifeboat.steps.cleanup)}${p ? ` (postgres: plan ${fmt(p.plan)}, prepare ${fmt(p.prepare)}, recover ${fmt(p.recover)}, verify ${fmt(p.verify)})` : ''}; load ${r.load.L.join(' / ')}`);
        } else {
          r.byHand = await byHand(ctx, i);
          log(`round ${i} by hand: ${fmt(r.byHand.stepSum)} + cleanup ${fmt(r.byHand.cleanup)}; ${STEPS.map((s) => `${s} ${fmt(r.byHand.steps[s])}`).join(', ')}; load ${r.load.H.join(' / ')}`);
        }
      }
      if (r.byHand) r.ratio = { rto: r.lifeboat.rto / (r.byHand.stepSum + r.byHand.cleanup), toStep10: r.lifeboat.toStep10 / r.byHand.stepSum };
      rounds.push(r);
    }
  } finally {
    if (ctx.setup.baseKey) clearRestoreCache(ctx);
    await connection.close().catch(() => undefined);
    await stopWorker(worker);
  }
  loads.push({ at: 'end', load: loadAverage() });

  const med = (f) => median(rounds.map(f).filter((x) => x !== undefined));
  const summary = {
    rto: med((r) => r.lifeboat.rto),
    toStep10: med((r) => r.lifeboat.toStep10),
    lifeboatSteps: Object.fromEntries([...STEPS, 'cleanup'].map((s) => [s, med((r) => r.lifeboat.steps[s])])),
    pitrStages: Object.fromEntries(['plan', 'prepare', 'recover', 'verify'].map((s) => [s, med((r) => r.lifeboat.pitr?.[s])])),
    byHand: options.byHand ? med((r) => r.byHand.stepSum) : undefined,
    byHandWithCleanup: options.byHand ? med((r) => r.byHand.stepSum + r.byHand.cleanup) : undefined,
    byHandSteps: options.byHand ? Object.fromEntries([...STEPS, 'cleanup'].map((s) => [s, med((r) => r.byHand.steps[s])])) : undefined,
    ratio: options.byHand ? med((r) => r.ratio.rto) : undefined,
    ratioToStep10: options.byHand ? med((r) => r.ratio.toStep10) : undefined,
  };
  const result = { when: new Date().toISOString(), machine: describeMachine(), options, database: { name: options.database, scale: options.scale, ...sizes }, setup: ctx.setup, expected, loads, rounds, summary };
  const file = path.join(RESULTS, `dr-${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  const share = (steps, total) => [...STEPS, 'cleanup'].map((s) => `${s} ${fmt(steps[s])} (${((100 * (steps[s] ?? 0)) / total).toFixed(0)}%)`).join(', ');
  process.stdout.write(
    [
      `database:        ${options.database} ${mb(sizes.database)} MB (cluster ${mb(sizes.cluster)} MB), ${expected.objects} objects; ${rounds.length} rounds, medians`,
      `Lifeboat RTO:    ${fmt(summary.rto)} (to the end of step 10: ${fmt(summary.toStep10)}); goal <= 600 s: ${summary.rto <= 600 ? 'met' : 'NOT met'}`,
      `  steps:         ${share(summary.lifeboatSteps, summary.rto)}`,
      `  postgres:      ${Object.entries(summary.pitrStages).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')} (restorePointInTime's stages)`,
      ...(options.byHand
        ? [
          `by hand:         ${fmt(summary.byHand)} + cleanup ${fmt(summary.byHandSteps.cleanup)} = ${fmt(summary.byHandWithCleanup)}`,
          `  steps:         ${share(summary.byHandSteps, summary.byHandWithCleanup)}`,
          `ratio:           ${summary.ratio.toFixed(2)}x with cleanup, ${summary.ratioToStep10.toFixed(2)}x to the end of step 10; goal <= 1.2x: ${summary.ratio <= 1.2 ? 'met' : 'NOT met'}`,
        ]
        : []),
      `load average:    ${loads.map((l) => `${l.at} ${l.load.join(' / ')}`).join('; ')}`,
      `results:         ${path.relative(process.cwd(), file)}`,
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`[bench dr] failed: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
