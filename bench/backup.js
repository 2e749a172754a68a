#!/usr/bin/env node
/**
 * Backup benchmark (issue "PostgreSQL backups", item 10): Lifeboat against the seed's shell
 * pipelines on the same database, side by side, in one run.
 *
 *   (a) pg_dump > /dev/null                                       baseline of the logical variants
 *   (b) pg_dump | gzip | gpg --encrypt > file                     the seed's pipeline
 *   (f) pg_dump | zstd -3 -T2 | gpg --encrypt > file              the best shell pipeline
 *   (c) Lifeboat backupDatabase {tier:'daily'}, end to end        local artifact + MinIO upload
 *   (d) pg_basebackup -D - -Ft -X fetch > /dev/null               baseline of the physical variants
 *   (e) Lifeboat backupBase {}, end to end                        local artifact + MinIO upload
 *
 * The machine is shared and noisy, so variants are interleaved and repeated (--rounds, default 3);
 * each ratio is taken against the baseline of the same round, and the report shows medians.
 * Lifeboat runs in its own worker process (`node bin/lifeboat.js worker`) on its own task queue,
 * BACKUP_ROOT and bucket, so the developer stack's backups are untouched; the worker's peak RSS
 * (VmHWM, reset before each Lifeboat variant) is reported per variant, with the peak per activity.
 * CPU seconds are also reported (shell variants: the tools; Lifeboat: the worker and its tools,
 * not the PostgreSQL or MinIO servers): a steadier measure than wall time on a busy machine.
 * In round 1 the Lifeboat artifacts are checked outside the timings: `gpg --decrypt | zstd -d`
 * of the dump equals a fresh pg_dump, and the base backup lists with `tar -t`.
 *
 * Usage:  npm run build && node bench/backup.js [--rounds N] [--variants a,b,c,d,e,f] [--scale 10]
 *                                                 [--database NAME] [--no-verify] [--cpu-prof]
 *                                                 [--worker-node-options "--trace-gc ..."]
 *                                                 [--worker-env NAME=value ...]   (experiments, e.g. COMPRESSION_LEVEL=1)
 * Needs the local stack (`node bin/lifeboat.js stack up`); reads its env file
 * ($LIFEBOAT_ENV_FILE, default /var/lib/lifeboat/stack/lifeboat.env). Creates the dataset database
 * from ../shared/bench/corporate-intel-dataset.sql when it is missing. Raw results (JSON) and the
 * worker's log go to bench/results/ (git-ignored).
 */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: delay } = require('node:timers/promises');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const RESULTS = path.join(__dirname, 'results');
const DATASET_SQL = path.join(ROOT, '..', 'shared', 'bench', 'corporate-intel-dataset.sql');
const ALL_VARIANTS = ['a', 'c', 'f', 'b', 'd', 'e']; // run order within a round: each baseline next to its Lifeboat variant

const LABELS = {
  a: '(a) pg_dump > /dev/null',
  b: '(b) pg_dump | gzip | gpg --encrypt > file',
  f: '(f) pg_dump | zstd -3 -T2 | gpg --encrypt > file',
  c: '(c) Lifeboat backupDatabase (local + MinIO)',
  d: '(d) pg_basebackup > /dev/null',
  e: '(e) Lifeboat backupBase (local + MinIO)',
};
const BASELINE = { a: 'a', b: 'a', f: 'a', c: 'a', d: 'd', e: 'd' };

function parseArgs(argv) {
  const options = { rounds: 3, variants: ALL_VARIANTS, scale: 10, database: 'corporate_intel_bench', verify: true, cpuProf: false, workerNodeOptions: undefined, workerEnv: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      return value;
    };
    if (arg === '--rounds') options.rounds = Number(next());
    else if (arg === '--variants') options.variants = next().split(',').map((v) => v.trim());
    else if (arg === '--scale') options.scale = Number(next());
    else if (arg === '--database') options.database = next();
    else if (arg === '--no-verify') options.verify = false;
    else if (arg === '--cpu-prof') options.cpuProf = true;
    else if (arg === '--worker-node-options') options.workerNodeOptions = next().split(' ').filter(Boolean);
    else if (arg === '--worker-env') {
      const [name, ...value] = next().split('=');
      options.workerEnv[name] = value.join('=');
    }
    else if (arg === '--help' || arg === '-h') {
      const text = fs.readFileSync(__filename, 'utf8');
      process.stdout.write(`${text.slice(text.indexOf('/**'), text.indexOf('*/') + 2)}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be a positive integer');
  if (!Number.isInteger(options.scale) || options.scale < 1) throw new Error('--scale must be a positive integer');
  if (!/^[a-z_][a-z0-9_]*$/.test(options.database)) throw new Error('--database must be a plain lower-case identifier');
  for (const v of options.variants) if (!ALL_VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (choose from ${ALL_VARIANTS.join(',')})`);
  options.variants = ALL_VARIANTS.filter((v) => options.variants.includes(v));
  return options;
}

// ---------------------------------------------------------------------------------------------
// small helpers

const log = (message) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mb = (bytes) => (bytes / 1e6).toFixed(1);

/** Run a command (argument array, never a shell unless the variant is a shell pipeline), timing it. */
function run(command, args, { env, stdout = 'ignore', capture = false } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ['ignore', capture ? 'pipe' : stdout, 'pipe'] });
    let out = '';
    let err = '';
    if (capture) child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err = (err + c).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0) resolve({ seconds, stdout: out, stderr: err });
      else reject(new Error(`${path.basename(command)} ${signal ? `killed by ${signal}` : `exited with ${code}`}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

function vmHwmBytes(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function vmRssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN; // the process is gone (its exit is reported by startWorker)
  }
}

/** CPU seconds of a process itself (utime + stime) and of its reaped children (cutime + cstime). */
function processCpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // after "pid (comm) ": state is field 3, so utime (14) .. cstime (17) are indexes 11..14 here
  return { self: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, children: (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS };
}
const CLOCK_TICKS = 100;

function childrenCpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

/** Reset the process's peak-RSS counter (Linux clear_refs "5"), so the next reading is per variant. */
function resetHwm(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// setup: configuration, dataset, bucket, worker

function requireDist(rel) {
  const file = path.join(DIST, rel);
  if (!fs.existsSync(`${file}.js`)) {
    log(`${path.relative(ROOT, file)}.js is missing\nhint: run \`npm run build\` first`);
    process.exit(4);
  }
  return require(file);
}

async function ensureDataset(config, pgEnv, options) {
  const { Client } = require('pg');
  const admin = new Client({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database: 'postgres' });
  await admin.connect();
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database])).rowCount > 0;
    if (exists) {
      const db = new Client({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database: options.database });
      await db.connect();
      try {
        const { rows } = await db.query("SELECT to_regclass('public.companies') IS NOT NULL AS ok");
        if (rows[0].ok) {
          const n = Number((await db.query('SELECT count(*) AS n FROM companies')).rows[0].n);
          if (n === 2000 * options.scale) return false;
          throw new Error(`database ${options.database} holds the dataset at scale ${n / 2000}, not ${options.scale}\nhint: drop it (DROP DATABASE ${options.database}) or pass --database another_name`);
        }
      } finally {
        await db.end();
      }
      throw new Error(`database ${options.database} exists but has no dataset\nhint: drop it (DROP DATABASE ${options.database}) and run the bench again`);
    }
    // Build under a temporary name and rename at the end: a half-built database is never reused.
    const temp = `${options.database}_building`;
    log(`creating ${options.database} at scale ${options.scale} from ${path.relative(ROOT, DATASET_SQL)} (a minute or a few)`);
    await admin.query(`DROP DATABASE IF EXISTS ${temp}`);
    await admin.query(`CREATE DATABASE ${temp}`);
    const psql = requireDist('lib/postgres/tools').pgToolPath(config.db, 'psql');
    const { seconds } = await run(psql, ['-X', '-q', '-v', `scale=${options.scale}`, '-f', DATASET_SQL, '-d', temp], { env: { ...pgEnv, PGDATABASE: temp } });
    await admin.query(`ALTER DATABASE ${temp} RENAME TO ${options.database}`);
    log(`dataset created in ${seconds.toFixed(0)} s`);
    return true;
  } finally {
    await admin.end();
  }
}

async function startWorker(env, options, logFile) {
  const args = [...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []), ...(options.workerNodeOptions ?? []), path.join(ROOT, 'bin', 'lifeboat.js'), 'worker'];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = fs.createWriteStream(logFile);
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const ready = new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered = (buffered + chunk).slice(-10000);
      if (buffered.includes('"workers ready"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the worker exited with ${code} before it was ready; see ${logFile}`)));
  });
  await Promise.race([ready, delay(120_000, undefined, { ref: false }).then(() => Promise.reject(new Error('the worker was not ready within 120 s')))]);
  child.once('exit', (code, signal) => {
    if (!child.stopping) log(`the bench worker exited unexpectedly (${signal ?? `code ${code}`}); see ${logFile}`);
  });
  return child;
}

async function stopWorker(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stopping = true;
  child.kill('SIGINT');
  await Promise.race([exited, delay(30_000, undefined, { ref: false }).then(() => child.kill('SIGKILL'))]);
}

// ---------------------------------------------------------------------------------------------
// Lifeboat variants through Temporal

function eventMs(event) {
  const t = event.eventTime;
  return Number(String(t.seconds)) * 1000 + (t.nanos ?? 0) / 1e6;
}

/** Per-activity timings and results from a workflow's history. */
async function activityTimings(handle) {
  const { defaultPayloadConverter } = require('@temporalio/common');
  const history = await handle.fetchHistory();
  const scheduled = new Map();
  const activities = [];
  for (const event of history.events ?? []) {
    const id = Number(String(event.eventId));
    if (event.activityTaskScheduledEventAttributes) {
      scheduled.set(id, { name: event.activityTaskScheduledEventAttributes.activityType.name, scheduledMs: eventMs(event) });
    } else if (event.activityTaskStartedEventAttributes) {
      const s = scheduled.get(Number(String(event.activityTaskStartedEventAttributes.scheduledEventId)));
      if (s) s.startedMs = eventMs(event);
    } else if (event.activityTaskCompletedEventAttributes) {
      const a = event.activityTaskCompletedEventAttributes;
      const s = scheduled.get(Number(String(a.scheduledEventId)));
      if (!s) continue;
      const payload = a.result?.payloads?.[0];
      const result = payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
      activities.push({ name: s.name, seconds: (eventMs(event) - s.scheduledMs) / 1000, startMs: s.startedMs ?? s.scheduledMs, endMs: eventMs(event), result });
    }
  }
  return activities;
}

async function runWorkflow(ctx, type, args, id) {
  const started = process.hrtime.bigint();
  const handle = await ctx.client.workflow.start(type, { taskQueue: ctx.taskQueue, workflowId: id, args });
  const result = await handle.result();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const activities = await activityTimings(handle);
  return { seconds, result, activities };
}

async function emptyBench(ctx) {
  fs.rmSync(ctx.backupRoot, { recursive: true, force: true });
  fs.mkdirSync(ctx.backupRoot, { recursive: true });
  await ctx.emptyBucket();
}

// ---------------------------------------------------------------------------------------------
// variants

function makeVariants(ctx) {
  const { config, pgEnv, work } = ctx;
  const pgBin = (tool) => ctx.pgToolPath(config.db, tool);
  const gpgArgs = `gpg --homedir ${shellQuote(config.encryption.gnupgHome)} --batch --yes --trust-model always --recipient ${shellQuote(config.encryption.recipient)} --encrypt`;
  const shell = async (pipelineText, out) => {
    fs.rmSync(out, { force: true });
    const { seconds } = await run('bash', ['-c', `set -o pipefail; ${pipelineText}`], { env: pgEnv });
    const bytes = fs.statSync(out).size;
    fs.rmSync(out, { force: true });
    return { seconds, bytes };
  };
  const devNull = async (tool, args) => {
    const fd = fs.openSync('/dev/null', 'w');
    try {
      return { seconds: (await run(pgBin(tool), args, { env: pgEnv, stdout: fd })).seconds };
    } finally {
      fs.closeSync(fd);
    }
  };
  const lifeboat = async (type, args, round, artifactActivity) => {
    await emptyBench(ctx);
    const hwmReset = resetHwm(ctx.worker.pid);
    // RSS samples every 50 ms, to tell which activity holds the peak.
    const samples = [];
    const sampler = setInterval(() => samples.push([Date.now(), vmRssBytes(ctx.worker.pid)]), 50);
    const cpuBefore = processCpuSeconds(ctx.worker.pid);
    let r;
    try {
      const workerGone = new Promise((_, reject) => ctx.worker.once('exit', () => reject(new Error('the bench worker exited during the run'))));
      workerGone.catch(() => undefined);
      r = await Promise.race([runWorkflow(ctx, type, args, `bench-${type}-${ctx.stamp}-r${round}`), ...(ctx.worker.exitCode === null ? [workerGone] : [Promise.reject(new Error('the bench worker is not running'))])]);
    } finally {
      clearInterval(sampler);
    }
    const cpuAfter = processCpuSeconds(ctx.worker.pid);
    const cpuWorker = cpuAfter.self - cpuBefore.self;
    const cpuTools = cpuAfter.children - cpuBefore.children;
    const cpu = cpuWorker + cpuTools;
    const rssPeak = hwmReset ? vmHwmBytes(ctx.worker.pid) : undefined;
    const rssByActivity = {};
    for (const a of r.activities) {
      const inside = samples.filter(([t]) => t >= a.startMs && t <= a.endMs).map(([, v]) => v);
      if (inside.length) rssByActivity[a.name] = Math.max(rssByActivity[a.name] ?? 0, ...inside);
    }
    const artifact = r.activities.find((a) => a.name === artifactActivity);
    const upload = r.activities.filter((a) => a.name === 'uploadArtifact');
    const facts = {
      seconds: r.seconds,
      bytes: r.result.bytes,
      rawBytes: artifact?.result?.rawBytes,
      rssPeak,
      rssByActivity,
      cpu,
      cpuWorker,
      cpuTools,
      artifactSeconds: artifact?.seconds,
      uploadSeconds: upload.reduce((n, a) => n + a.seconds, 0),
      activities: r.activities.map((a) => ({ name: a.name, seconds: Number(a.seconds.toFixed(3)) })),
      key: r.result.key,
    };
    if (ctx.options.verify && round === 1) facts.verified = await verify(ctx, r.result.key, type);
    return facts;
  };
  const dumpTarget = pgBin('pg_dump');
  return {
    a: { command: `${dumpTarget} -d ${config.db.name} > /dev/null`, run: () => devNull('pg_dump', ['--no-password', '-d', config.db.name]) },
    b: {
      command: `${dumpTarget} -d ${config.db.name} | gzip | ${gpgArgs} > ${path.join(work, 'b.sql.gz.gpg')}`,
      run: () => shell(`${shellQuote(dumpTarget)} --no-password -d ${config.db.name} | gzip | ${gpgArgs} > ${shellQuote(path.join(work, 'b.sql.gz.gpg'))}`, path.join(work, 'b.sql.gz.gpg')),
    },
    f: {
      command: `${dumpTarget} -d ${config.db.name} | zstd -3 -T2 | ${gpgArgs} > ${path.join(work, 'f.sql.zst.gpg')}`,
      run: () => shell(`${shellQuote(dumpTarget)} --no-password -d ${config.db.name} | zstd -3 -T2 -q -c | ${gpgArgs} > ${shellQuote(path.join(work, 'f.sql.zst.gpg'))}`, path.join(work, 'f.sql.zst.gpg')),
    },
    c: { command: `temporal workflow start --type backupDatabase --input '{"tier":"daily"}' (worker: node bin/lifeboat.js worker), until its result`, run: (round) => lifeboat('backupDatabase', [{ tier: 'daily' }], round, 'dumpDatabase') },
    d: {
      command: `${pgBin('pg_basebackup')} -D - -Ft -X fetch --checkpoint=fast > /dev/null`,
      run: () => devNull('pg_basebackup', ['-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', '--no-password']),
    },
    e: { command: `temporal workflow start --type backupBase --input '{}' (same worker), until its result`, run: (round) => lifeboat('backupBase', [{}], round, 'takeBaseBackup') },
  };
}

/**
 * Outside the timings, once: the Lifeboat artifact decrypts with the real gpg (which checks the
 * MDC) and decompresses with the real zstd/gunzip; a dump must equal a fresh pg_dump byte for byte.
 */
async function verify(ctx, key, type) {
  const file = path.join(ctx.backupRoot, key);
  const decompress = key.includes('.zst') ? 'zstd -d -q -c' : 'gunzip -c';
  const gpg = `gpg --homedir ${shellQuote(ctx.config.encryption.gnupgHome)} --batch --quiet --decrypt ${shellQuote(file)}`;
  if (type === 'backupDatabase') {
    // pg_dump >= 15.14 writes a random `\restrict <key>` / `\unrestrict <key>` pair: compare without it.
    const unrestrict = `grep -Ev '^\\\\(un)?restrict '`;
    const restored = await run('bash', ['-c', `set -o pipefail; ${gpg} | ${decompress} | ${unrestrict} | sha256sum`], { env: ctx.pgEnv, capture: true });
    const sha = restored.stdout.split(' ')[0];
    const fresh = await run('bash', ['-c', `set -o pipefail; ${shellQuote(ctx.pgToolPath(ctx.config.db, 'pg_dump'))} --no-password -d ${ctx.config.db.name} | ${unrestrict} | sha256sum`], { env: ctx.pgEnv, capture: true });
    const same = fresh.stdout.split(' ')[0] === sha;
    if (!same && process.env.BENCH_KEEP_FAILED) fs.copyFileSync(file, path.join(RESULTS, path.basename(file)));
    if (!same) throw new Error(`verification failed: ${key} decrypted and decompressed is not what pg_dump writes`);
    return 'gpg --decrypt | zstd -d equals a fresh pg_dump (sha256, without the random \\restrict line)';
  }
  const list = await run('bash', ['-c', `set -o pipefail; ${gpg} | ${decompress} | tar -tf - | wc -l`], { env: ctx.pgEnv, capture: true });
  return `gpg --decrypt | zstd -d | tar -t lists ${list.stdout.trim()} entries`;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { loadConfig } = requireDist('lib/config/load');
  const { pgToolEnv, pgToolPath } = requireDist('lib/postgres/tools');
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const envFile = process.env.LIFEBOAT_ENV_FILE ?? '/var/lib/lifeboat/stack/lifeboat.env';
  fs.mkdirSync(RESULTS, { recursive: true });
  const work = path.join(RESULTS, `work-${stamp}`);
  const backupRoot = path.join(work, 'backup-root');
  const bucket = process.env.BENCH_S3_BUCKET ?? 'lifeboat-bench';
  const taskQueue = `bench-${os.hostname().split('.')[0]}-${process.pid}`;
  // The bench worker: the stack's configuration, but its own database, queue, BACKUP_ROOT and bucket.
  const overrides = { LIFEBOAT_ENV_FILE: envFile, DB_NAME: options.database, LIFEBOAT_TASK_QUEUE: taskQueue, BACKUP_ROOT: backupRoot, S3_BUCKET: bucket, LOG_LEVEL: 'info', ...options.workerEnv };
  const config = loadConfig({ env: { ...process.env, ...overrides } });
  const pgEnv = { ...pgToolEnv(config.db), GNUPGHOME: config.encryption.gnupgHome };
  const ctx = { options, config, pgEnv, work, backupRoot, stamp, taskQueue, pgToolPath };

  log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.release()}, node ${process.version}`);
  await ensureDataset(config, pgEnv, options);
  const { Client: PgClient } = require('pg');
  const pg = new PgClient({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database: options.database });
  await pg.connect();
  const dbSize = Number((await pg.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
  const clusterSize = Number((await pg.query('SELECT sum(pg_database_size(datname)) AS n FROM pg_database')).rows[0].n);
  const serverVersion = (await pg.query('SHOW server_version')).rows[0].server_version;
  await pg.end();
  log(`database ${options.database}: ${mb(dbSize)} MB (whole cluster ${mb(clusterSize)} MB), PostgreSQL ${serverVersion}`);

  fs.mkdirSync(backupRoot, { recursive: true });
  const needsLifeboat = options.variants.some((v) => v === 'c' || v === 'e');
  if (needsLifeboat) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const s3 = require('@aws-sdk/client-s3');
    const client = new s3.S3Client({ endpoint: config.remote.endpoint, region: config.remote.region, forcePathStyle: true, credentials: { accessKeyId: config.remote.accessKeyId, secretAccessKey: config.remote.secretAccessKey } });
    await client.send(new s3.CreateBucketCommand({ Bucket: bucket })).catch((e) => {
      if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
    });
    ctx.emptyBucket = async () => {
      for (;;) {
        const listed = await client.send(new s3.ListObjectsV2Command({ Bucket: bucket }));
        if (!listed.Contents?.length) break;
        for (const o of listed.Contents) await client.send(new s3.DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      }
      const uploads = await client.send(new s3.ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const u of uploads.Uploads ?? []) await client.send(new s3.AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    };
    ctx.removeBucket = async () => {
      await ctx.emptyBucket();
      await client.send(new s3.DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    };
    const workerEnv = { ...process.env, ...overrides };
    delete workerEnv.NODE_OPTIONS;
    log(`starting the bench worker on task queue ${taskQueue}`);
    ctx.worker = await startWorker(workerEnv, options, path.join(RESULTS, `worker-${stamp}.log`));
    ctx.startupRss = vmHwmBytes(ctx.worker.pid);
    log(`worker ready, peak RSS so far (start-up, workflow bundling) ${mb(ctx.startupRss)} MB`);
    const { Connection, Client } = require('@temporalio/client');
    ctx.connection = await Connection.connect({ address: config.temporal.address });
    ctx.client = new Client({ connection: ctx.connection, namespace: config.temporal.namespace });
  }

  const variants = makeVariants(ctx);
  const rounds = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const results = {};
      for (const v of options.variants) {
        const childCpu = childrenCpuSeconds(process.pid);
        const r = await variants[v].run(round);
        // Shell variants: CPU of the tools this process ran; Lifeboat: the worker's own + its tools'.
        if (r.cpu === undefined) r.cpu = childrenCpuSeconds(process.pid) - childCpu;
        results[v] = r;
        log(`round ${round} ${LABELS[v]}: ${r.seconds.toFixed(2)} s, cpu ${r.cpu.toFixed(2)} s${r.cpuWorker !== undefined ? ` (worker ${r.cpuWorker.toFixed(2)}, its tools ${r.cpuTools.toFixed(2)})` : ''}${r.bytes ? `, ${mb(r.bytes)} MB` : ''}${r.rssPeak ? `, worker peak RSS ${mb(r.rssPeak)} MB` : ''}${r.artifactSeconds ? ` (artifact ${r.artifactSeconds.toFixed(2)} s, upload ${r.uploadSeconds.toFixed(2)} s)` : ''}`);
        if (r.rssByActivity) log(`  peak RSS by activity (MB): ${Object.entries(r.rssByActivity).map(([k, b]) => `${k} ${mb(b)}`).join(', ')}`);
        if (r.verified) log(`  verified: ${r.verified}`);
      }
      rounds.push(results);
    }
  } finally {
    if (ctx.worker) {
      await stopWorker(ctx.worker);
      await ctx.connection.close();
      await ctx.removeBucket();
    }
    fs.rmSync(work, { recursive: true, force: true });
  }

  // Medians of the walls, of the same-round ratios and of the sizes.
  const rows = options.variants.map((v) => {
    const walls = rounds.map((r) => r[v].seconds);
    const base = BASELINE[v];
    const ratios = base !== v && options.variants.includes(base) ? rounds.map((r) => r[v].seconds / r[base].seconds) : [];
    const sizes = rounds.map((r) => r[v].bytes).filter((x) => x !== undefined);
    const rss = rounds.map((r) => r[v].rssPeak).filter((x) => x !== undefined);
    return {
      variant: v,
      label: LABELS[v],
      command: variants[v].command,
      wallMedian: median(walls),
      walls,
      ratioMedian: ratios.length ? median(ratios) : v === base ? 1 : undefined,
      ratios,
      baseline: base,
      bytesMedian: sizes.length ? median(sizes) : undefined,
      rssPeakMax: rss.length ? Math.max(...rss) : undefined,
      rssByActivity: rounds.reduce((acc, r) => {
        for (const [k, b] of Object.entries(r[v].rssByActivity ?? {})) acc[k] = Math.max(acc[k] ?? 0, b);
        return acc;
      }, {}),
      cpuMedian: median(rounds.map((r) => r[v].cpu)),
      artifactSecondsMedian: rounds[0][v].artifactSeconds !== undefined ? median(rounds.map((r) => r[v].artifactSeconds)) : undefined,
      uploadSecondsMedian: rounds[0][v].uploadSeconds !== undefined ? median(rounds.map((r) => r[v].uploadSeconds)) : undefined,
      rawBytes: rounds[0][v].rawBytes,
      verified: rounds[0][v].verified,
    };
  });
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version },
    database: { name: options.database, scale: options.scale, bytes: dbSize, clusterBytes: clusterSize, serverVersion },
    compression: config.compression,
    workerEnv: options.workerEnv,
    rounds: options.rounds,
    workerPeakRss: { startup: ctx.startupRss, variants: Math.max(0, ...rows.map((r) => r.rssPeakMax ?? 0)) },
    rows,
    raw: rounds,
  };
  const resultFile = path.join(RESULTS, `backup-${stamp}.json`);
  fs.writeFileSync(resultFile, `${JSON.stringify(report, null, 2)}\n`);

  const out = [];
  out.push(`| variant | median wall (s) | ratio (median of same-round) | output (MB) | CPU (s) | worker peak RSS (MB) |`);
  out.push(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of rows) {
    const ratio = r.ratioMedian === undefined ? '' : r.variant === r.baseline ? '1.00 (baseline)' : `${r.ratioMedian.toFixed(2)}x (${r.baseline})`;
    out.push(`| ${r.label} | ${r.wallMedian.toFixed(2)} | ${ratio} | ${r.bytesMedian !== undefined ? mb(r.bytesMedian) : '-'} | ${r.cpuMedian.toFixed(1)} | ${r.rssPeakMax !== undefined ? mb(r.rssPeakMax) : '-'} |`);
  }
  process.stdout.write(`\n${out.join('\n')}\n\nwalls per round (s): ${rows.map((r) => `${r.variant}=${r.walls.map((w) => w.toFixed(2)).join('/')}`).join('  ')}\n`);
  for (const r of rows) {
    if (r.artifactSecondsMedian === undefined) continue;
    process.stdout.write(`${r.variant}: artifact activity ${r.artifactSecondsMedian.toFixed(2)} s, uploads ${r.uploadSecondsMedian.toFixed(2)} s (medians); raw ${mb(r.rawBytes ?? 0)} MB; peak RSS by activity (MB): ${Object.entries(r.rssByActivity).map(([k, b]) => `${k} ${mb(b)}`).join(', ')}\n`);
  }
  if (ctx.worker) process.stdout.write(`worker peak RSS: start-up ${mb(ctx.startupRss)} MB, during the variants ${mb(report.workerPeakRss.variants)} MB\n`);
  process.stdout.write(`raw results: ${path.relative(ROOT, resultFile)}\n`);
}

main().catch((error) => {
  log(`failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
