#!/usr/bin/env node
/**
 * Backup benchmark (issue "PostgreSQL backups", item 10; yardsticks of issue 16): Lifeboat against
 * the floor (the producer alone), the seed's pipeline and the best shell pipeline at the SAME
 * compression level and threads as Lifeboat (zstd -<COMPRESSION_LEVEL> -T0, from the worker's
 * configuration: level 1 by default), on the same database, side by side, in one run.
 *
 *   (a) pg_dump > /dev/null                                       floor of the logical variants
 *   (b) pg_dump | gzip | gpg --encrypt > file                     the seed's pipeline (second reference)
 *   (f) pg_dump | zstd -L -T0 | gpg --encrypt > file              best shell pipeline, Lifeboat's level L
 *   (c) Lifeboat backupDatabase {tier:'daily'}, end to end        local artifact + MinIO upload
 *   (d) pg_basebackup -D - -Ft -X fetch > /dev/null               floor of the physical variants
 *   (g) pg_basebackup -D - -Ft -X fetch | zstd -L -T0 | gpg > file  same-level shell pipeline (gap 2's yardstick)
 *   (e) Lifeboat backupBase {}, end to end                        local artifact + MinIO upload
 *   (c0) (c) with LIFEBOAT_BENCH_PROOF=off                        the cost of the proof (issue 9 item 3)
 *   (e0) (e) with LIFEBOAT_BENCH_PROOF=off                        same, for the base backup
 * Default variants: a,b,c,d,e,f,g (c0 and e0 only when asked for: they need a second worker).
 *
 * The machine is shared and noisy, so variants are interleaved and repeated (--rounds, default 3);
 * odd rounds run them in the listed order (a, c, c0, f, b, d, e, e0, g), even rounds in reverse,
 * each ratio is taken against the floor (a or d) and the best peer (f for c, g for e) of the same
 * round, and the report shows medians. c0/e0 run on a second worker process started with
 * LIFEBOAT_BENCH_PROOF=off (no in-flight test decode `zstd -d | tail`, no decode-back of small
 * artifacts; metadata says proof method 'none'), with its own task queue, BACKUP_ROOT and bucket;
 * c/c0 and e/e0 are reported side by side (wall, CPU, peak RSS and their same-round ratios), with
 * the CPU of each tool the worker ran (sampled from /proc every 100 ms, so slightly low). Each round
 * checks the proof method in the artifacts' metadata ('test-decoded-stream' for c/e when larger
 * than the decode-back limit, 'decoded-file' when smaller; 'none' for c0/e0) and fails otherwise.
 * Lifeboat runs in its own worker process (`node bin/lifeboat.js worker`) on its own task queue,
 * BACKUP_ROOT and bucket, so the developer stack's backups are untouched; the worker's peak RSS
 * (VmHWM, reset before each Lifeboat variant) is reported per variant, with the peak per activity.
 * CPU seconds of every variant: the client side (shell variants: the tools; Lifeboat: the worker and
 * its tools) AND the servers, per process tree from /proc/<pid>/stat over the timed interval: the
 * PostgreSQL postmaster with all its children (backends, walsender, checkpointer, archiver and its
 * archive_command) and the backup MinIO server (the off-site target). The load average (1/5/15 min)
 * is recorded after every variant and before and after every round.
 * Round 1 also checks every output outside the timings: `gpg --decrypt | zstd -d` (gunzip for (b))
 * of each dump, Lifeboat's and the shell pipelines', equals a fresh pg_dump (sha256, without the
 * random `\restrict` line), and each base backup, Lifeboat's and (g)'s, decrypts, decompresses and
 * lists with `tar -t`. --no-verify skips these checks.
 *
 * Usage:  npm run build && node bench/backup.js [--rounds N] [--variants a,b,c,c0,d,e,e0,f,g] [--scale 10]
 *                                                 [--database NAME] [--no-verify] [--cpu-prof]
 *                                                 [--worker-node-options "--trace-gc ..."]
 *                                                 [--worker-env NAME=value ...]   (experiments, e.g. COMPRESSION_LEVEL=3;
 *                                                                                  the shell pipelines follow the level)
 * Needs the local stack (`node bin/lifeboat.js stack up`); reads its env file
 * ($LIFEBOAT_ENV_FILE, default /var/lib/lifeboat/stack/lifeboat.env). Creates the dataset database
 * from ../shared/bench/corporate-intel-dataset.sql when it is missing. Raw results (JSON) and the
 * worker's log go to bench/results/ (git-ignored); the scratch directory and buckets are removed.
 * Each base backup makes the stack's cluster complete (and archive) one more 16 MB WAL segment.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  ROOT, RESULTS, envFile, parseArgs: parseFlags, log, median, mb, timeStamp, shellQuote, run, runShell, vmHwmBytes, childrenCpuSeconds, machine, describeMachine,
  loadAverage, describeLoad, postmasterPid, minioServerPid, serverCpuMeter, requireDist, loadBenchConfig, benchWorkerEnv, withPg, ensureDataset, startWorker, stopWorker, connectTemporal, runMeasuredWorkflow,
} = require('./common');

const ALL_VARIANTS = ['a', 'c', 'c0', 'f', 'b', 'd', 'e', 'e0', 'g']; // run order within an odd round (reversed in even rounds): each baseline next to its Lifeboat variants
const DEFAULT_VARIANTS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

const LABELS = {
  a: '(a) pg_dump > /dev/null',
  b: '(b) pg_dump | gzip | gpg --encrypt > file',
  f: '(f) pg_dump | zstd -L -T0 | gpg --encrypt > file', // L: set from the configuration in main()
  g: '(g) pg_basebackup | zstd -L -T0 | gpg --encrypt > file',
  c: '(c) Lifeboat backupDatabase (local + MinIO)',
  d: '(d) pg_basebackup > /dev/null',
  e: '(e) Lifeboat backupBase (local + MinIO)',
  c0: '(c0) Lifeboat backupDatabase, LIFEBOAT_BENCH_PROOF=off',
  e0: '(e0) Lifeboat backupBase, LIFEBOAT_BENCH_PROOF=off',
};
const BASELINE = { a: 'a', b: 'a', f: 'a', c: 'a', c0: 'a', d: 'd', e: 'd', e0: 'd', g: 'd' };
/** Lifeboat variant -> the best shell pipeline at the same level and threads (its "best peer"). */
const PEER = { c: 'f', c0: 'f', e: 'g', e0: 'g' };
/** Which variants' outputs are checked in round 1 (unless --no-verify), and how. */
const SHELL_OUTPUT = { b: 'dump', f: 'dump', g: 'base' };
/** Lifeboat variant -> the same without the proof (issue 9 item 3): their ratio is the proof's cost. */
const PROOF_PAIRS = { c: 'c0', e: 'e0' };
/** Which worker runs a Lifeboat variant. */
const LANE = { c: 'proof', e: 'proof', c0: 'noProof', e0: 'noProof' };

function parseArgs(argv) {
  const options = parseFlags(argv, {
    file: __filename,
    defaults: { rounds: 3, variants: DEFAULT_VARIANTS, scale: 10, database: 'corporate_intel_bench', verify: true, cpuProf: false, workerNodeOptions: undefined, workerEnv: {} },
    flags: {
      '--rounds': (o, next) => (o.rounds = Number(next())),
      '--variants': (o, next) => (o.variants = next().split(',').map((v) => v.trim())),
      '--scale': (o, next) => (o.scale = Number(next())),
      '--database': (o, next) => (o.database = next()),
      '--no-verify': (o) => (o.verify = false),
      '--cpu-prof': (o) => (o.cpuProf = true),
      '--worker-node-options': (o, next) => (o.workerNodeOptions = next().split(' ').filter(Boolean)),
      '--worker-env': (o, next) => {
        const [name, ...value] = next().split('=');
        o.workerEnv = { ...o.workerEnv, [name]: value.join('=') };
      },
    },
  });
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be a positive integer');
  if (!Number.isInteger(options.scale) || options.scale < 1) throw new Error('--scale must be a positive integer');
  if (!/^[a-z_][a-z0-9_]*$/.test(options.database)) throw new Error('--database must be a plain lower-case identifier');
  for (const v of options.variants) if (!ALL_VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (choose from ${ALL_VARIANTS.join(',')})`);
  options.variants = ALL_VARIANTS.filter((v) => options.variants.includes(v));
  return options;
}

async function emptyBench(lane) {
  fs.rmSync(lane.backupRoot, { recursive: true, force: true });
  fs.mkdirSync(lane.backupRoot, { recursive: true });
  await lane.emptyBucket();
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = require('node:net').createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A setting as the env file has it (undefined when it is not there). */
function configValue(name) {
  try {
    const m = new RegExp(`^(?:export\\s+)?${name}=(.*)$`, 'm').exec(fs.readFileSync(envFile(), 'utf8'));
    return m ? m[1].trim().replace(/^['"]|['"]$/g, '') : undefined;
  } catch {
    return undefined;
  }
}


/**
 * CPU seconds of each process the worker spawns while a run lasts, by tool ('zstd -d', 'zstd', 'tail',
 * 'pg_dump', ...): /proc/<worker>/task/* /children and /proc/<child>/stat read every 100 ms, keeping
 * each child's last reading (so up to 100 ms per process is missed; the exact total is cpuTools).
 */
function sampleToolCpu(workerPid) {
  const last = new Map(); // pid -> { tool, cpu }
  const read = () => {
    let tids = [];
    try {
      tids = fs.readdirSync(`/proc/${workerPid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let children = '';
      try {
        children = fs.readFileSync(`/proc/${workerPid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const pid of children.split(' ').filter(Boolean)) {
        try {
          const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
          const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
          const fields = stat.replace(/^.*\) /, '').split(' ');
          const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
          // An exited child (a zombie until node reaps it) has no cmdline: keep the name read before.
          const name = argv.length ? path.basename(argv[0]) : /\((.*)\)/.exec(stat)?.[1] ?? '?';
          const known = last.get(pid)?.tool;
          // Forked from node (or setpriv) but not exec'd yet: keep the CPU, name it when it is the tool.
          const execd = name !== 'setpriv' && name !== 'node';
          const tool = known && known !== '(not exec\'d yet)' ? known : execd ? (name === 'zstd' && (argv.includes('-d') || argv.includes('-t')) ? 'zstd -d' : name) : '(not exec\'d yet)';
          last.set(pid, { tool, cpu });
        } catch {
          // gone between the listing and the read
        }
      }
    }
  };
  const timer = setInterval(read, 100);
  read();
  return {
    stop() {
      clearInterval(timer);
      read();
      const byTool = {};
      for (const { tool, cpu } of last.values()) if (cpu > 0 || !tool.startsWith('(')) byTool[tool] = Number(((byTool[tool] ?? 0) + cpu).toFixed(2));
      return byTool;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// variants

function makeVariants(ctx) {
  const { config, pgEnv, work } = ctx;
  const pgBin = (tool) => ctx.pgToolPath(config.db, tool);
  const gpgArgs = `gpg --homedir ${shellQuote(config.encryption.gnupgHome)} --batch --yes --trust-model always --recipient ${shellQuote(config.encryption.recipient)} --encrypt`;
  const zstd = ctx.compressCommand; // Lifeboat's algorithm, level and threads (lib/pipeline/compress.ts: zstd -<level> -T0)
  const ext = ctx.compressExt;
  /** A shell pipeline writing `out`; in round 1 (unless --no-verify) its output is checked before it is removed. */
  const shell = async (variant, round, pipelineText, out) => {
    fs.rmSync(out, { force: true });
    const { seconds } = await runShell(pipelineText, { env: pgEnv });
    const bytes = fs.statSync(out).size;
    if (!(ctx.options.verify && round === 1)) {
      fs.rmSync(out, { force: true });
      return { seconds, bytes };
    }
    // Checked by the caller after the measurements (so the check's CPU is not charged to the variant).
    const check = async () => {
      try {
        return await verifyShellOutput(ctx, variant, out);
      } finally {
        fs.rmSync(out, { force: true });
      }
    };
    return { seconds, bytes, check };
  };
  const devNull = async (tool, args) => {
    const fd = fs.openSync('/dev/null', 'w');
    try {
      return { seconds: (await run(pgBin(tool), args, { env: pgEnv, stdout: fd })).seconds };
    } finally {
      fs.closeSync(fd);
    }
  };
  const lifeboat = async (variant, type, args, round, artifactActivity) => {
    const lane = ctx.lanes[LANE[variant]]; // emptied by the caller before the measurements
    const tools = sampleToolCpu(lane.worker.pid);
    let r;
    let toolCpu;
    try {
      r = await runMeasuredWorkflow({ client: ctx.client, taskQueue: lane.taskQueue, worker: lane.worker }, type, args, `bench-${type}-${ctx.stamp}-${variant}-r${round}`);
    } finally {
      toolCpu = tools.stop();
    }
    const artifact = r.activities.find((a) => a.name === artifactActivity);
    const upload = r.activities.filter((a) => a.name === 'uploadArtifact');
    const facts = {
      seconds: r.seconds,
      bytes: r.result.bytes,
      rawBytes: artifact?.result?.rawBytes,
      rssPeak: r.rssPeak,
      rssByActivity: r.rssByActivity,
      cpu: r.cpu,
      cpuWorker: r.cpuWorker,
      cpuTools: r.cpuTools,
      artifactSeconds: artifact?.seconds,
      uploadSeconds: upload.reduce((n, a) => n + a.seconds, 0),
      activities: r.activities.map((a) => ({ name: a.name, seconds: Number(a.seconds.toFixed(3)) })),
      key: r.result.key,
      toolCpu,
      proof: proofOf(lane, r.result.key, variant),
    };
    if (ctx.options.verify && round === 1) facts.check = () => verify(ctx, lane, r.result.key, type); // after the measurements
    return facts;
  };
  const dumpTarget = pgBin('pg_dump');
  return {
    a: { command: `${dumpTarget} -d ${config.db.name} > /dev/null`, run: () => devNull('pg_dump', ['--no-password', '-d', config.db.name]) },
    b: {
      command: `${dumpTarget} -d ${config.db.name} | gzip | ${gpgArgs} > ${path.join(work, 'b.sql.gz.gpg')}`,
      run: (round) => shell('b', round, `${shellQuote(dumpTarget)} --no-password -d ${config.db.name} | gzip | ${gpgArgs} > ${shellQuote(path.join(work, 'b.sql.gz.gpg'))}`, path.join(work, 'b.sql.gz.gpg')),
    },
    f: {
      command: `${dumpTarget} -d ${config.db.name} | ${zstd} | ${gpgArgs} > ${path.join(work, `f.sql${ext}.gpg`)}`,
      run: (round) => shell('f', round, `${shellQuote(dumpTarget)} --no-password -d ${config.db.name} | ${zstd} | ${gpgArgs} > ${shellQuote(path.join(work, `f.sql${ext}.gpg`))}`, path.join(work, `f.sql${ext}.gpg`)),
    },
    g: {
      command: `${pgBin('pg_basebackup')} -D - -Ft -X fetch --checkpoint=fast | ${zstd} | ${gpgArgs} > ${path.join(work, `g.tar${ext}.gpg`)}`,
      run: (round) => shell('g', round, `${shellQuote(pgBin('pg_basebackup'))} -D - -Ft -X fetch --checkpoint=fast --no-password | ${zstd} | ${gpgArgs} > ${shellQuote(path.join(work, `g.tar${ext}.gpg`))}`, path.join(work, `g.tar${ext}.gpg`)),
    },
    c: { command: `temporal workflow start --type backupDatabase --input '{"tier":"daily"}' (worker: node bin/lifeboat.js worker), until its result`, run: (round) => lifeboat('c', 'backupDatabase', [{ tier: 'daily' }], round, 'dumpDatabase') },
    c0: { command: `the same as (c) on a second worker started with LIFEBOAT_BENCH_PROOF=off`, run: (round) => lifeboat('c0', 'backupDatabase', [{ tier: 'daily' }], round, 'dumpDatabase') },
    d: {
      command: `${pgBin('pg_basebackup')} -D - -Ft -X fetch --checkpoint=fast > /dev/null`,
      run: () => devNull('pg_basebackup', ['-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', '--no-password']),
    },
    e: { command: `temporal workflow start --type backupBase --input '{}' (same worker), until its result`, run: (round) => lifeboat('e', 'backupBase', [{}], round, 'takeBaseBackup') },
    e0: { command: `the same as (e) on the LIFEBOAT_BENCH_PROOF=off worker`, run: (round) => lifeboat('e0', 'backupBase', [{}], round, 'takeBaseBackup') },
  };
}

/**
 * The proof recorded in the artifact's metadata (and its globals'), checked against what the variant
 * claims: with the proof, 'decoded-file' up to the decode-back limit, 'test-decoded-stream' above
 * it; without (c0, e0), 'none'. A mismatch fails the bench: the comparison would not be what it says.
 */
function proofOf(lane, key, variant) {
  const { DECODE_LIMIT_BYTES } = requireDist('lib/pipeline/artifact');
  const read = (k) => JSON.parse(fs.readFileSync(path.join(lane.backupRoot, `${k}.metadata.json`), 'utf8'));
  const meta = read(key);
  const method = meta.proof?.method;
  const expected = LANE[variant] === 'noProof' ? 'none' : meta.bytes <= DECODE_LIMIT_BYTES ? 'decoded-file' : 'test-decoded-stream';
  if (method !== expected) throw new Error(`${variant}: ${key} records proof method ${method ?? '(none recorded)'}, expected ${expected} (${meta.bytes} bytes; decode-back limit ${DECODE_LIMIT_BYTES})`);
  const globals = meta.globalsKey ? read(meta.globalsKey).proof?.method : undefined;
  return { method, bytes: meta.bytes, ...(globals ? { globals } : {}) };
}

/**
 * Outside the timings, once: the Lifeboat artifact decrypts with the real gpg (which checks the
 * MDC) and decompresses with the real zstd/gunzip; a dump must equal a fresh pg_dump byte for byte.
 */
async function verify(ctx, lane, key, type) {
  return verifyFile(ctx, path.join(lane.backupRoot, key), type === 'backupDatabase' ? 'dump' : 'base', key);
}

/** A shell variant's output (round 1): decrypted and decompressed like Lifeboat's, with the same checks. */
const verifyShellOutput = (ctx, variant, file) => verifyFile(ctx, file, SHELL_OUTPUT[variant], `(${variant}) ${path.basename(file)}`);

/** sha256 of a fresh pg_dump without the random \restrict lines, once per run. */
const UNRESTRICT = `grep -Ev '^\\\\(un)?restrict '`;
async function freshDumpSha(ctx) {
  if (!ctx.freshDumpSha) {
    const fresh = await runShell(`${shellQuote(ctx.pgToolPath(ctx.config.db, 'pg_dump'))} --no-password -d ${ctx.config.db.name} | ${UNRESTRICT} | sha256sum`, { env: ctx.pgEnv, capture: true });
    ctx.freshDumpSha = fresh.stdout.split(' ')[0];
  }
  return ctx.freshDumpSha;
}

async function verifyFile(ctx, file, kind, what) {
  const decompress = /\.zst(\.|$)/.test(file) ? 'zstd -d -q -c' : 'gunzip -c';
  const tool = decompress.split(' ')[0] === 'zstd' ? 'zstd -d' : 'gunzip';
  const gpg = `gpg --homedir ${shellQuote(ctx.config.encryption.gnupgHome)} --batch --quiet --decrypt ${shellQuote(file)}`;
  if (kind === 'dump') {
    // pg_dump >= 15.14 writes a random `\restrict <key>` / `\unrestrict <key>` pair: compare without it.
    const restored = await runShell(`${gpg} | ${decompress} | ${UNRESTRICT} | sha256sum`, { env: ctx.pgEnv, capture: true });
    const same = (await freshDumpSha(ctx)) === restored.stdout.split(' ')[0];
    if (!same && process.env.BENCH_KEEP_FAILED) fs.copyFileSync(file, path.join(RESULTS, path.basename(file)));
    if (!same) throw new Error(`verification failed: ${what} decrypted and decompressed is not what pg_dump writes`);
    return `gpg --decrypt | ${tool} equals a fresh pg_dump (sha256, without the random \\restrict line)`;
  }
  const list = await runShell(`${gpg} | ${decompress} | tar -tf - | wc -l`, { env: ctx.pgEnv, capture: true });
  const entries = Number(list.stdout.trim());
  if (!(entries > 0)) throw new Error(`verification failed: ${what} lists no tar entries`);
  return `gpg --decrypt | ${tool} | tar -t lists ${entries} entries`;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { pgToolEnv, pgToolPath } = requireDist('lib/postgres/tools');
  const stamp = timeStamp();
  fs.mkdirSync(RESULTS, { recursive: true });
  const work = path.join(RESULTS, `work-${stamp}`);
  fs.mkdirSync(work, { recursive: true }); // the shell pipelines' outputs (removed after each)
  const bucket = process.env.BENCH_S3_BUCKET ?? 'lifeboat-bench';
  const taskQueue = `bench-${os.hostname().split('.')[0]}-${process.pid}`;
  // The bench workers: the stack's configuration, but their own database, queue, BACKUP_ROOT and
  // bucket each; the second one (c0, e0) without the proof.
  const laneSettings = {
    proof: { taskQueue, backupRoot: path.join(work, 'backup-root'), bucket, env: {}, log: `worker-${stamp}.log` },
    noProof: { taskQueue: `${taskQueue}-noproof`, backupRoot: path.join(work, 'backup-root-noproof'), bucket: `${bucket}-noproof`, env: { LIFEBOAT_BENCH_PROOF: 'off' }, log: `worker-noproof-${stamp}.log` },
  };
  const overridesOf = (lane) => ({ DB_NAME: options.database, LIFEBOAT_TASK_QUEUE: lane.taskQueue, BACKUP_ROOT: lane.backupRoot, S3_BUCKET: lane.bucket, LOG_LEVEL: 'info', ...options.workerEnv });
  const config = loadBenchConfig(overridesOf(laneSettings.proof));
  const pgEnv = { ...pgToolEnv(config.db), GNUPGHOME: config.encryption.gnupgHome };
  const { algorithm, level } = config.compression;
  const compressCommand = algorithm === 'zstd' ? `zstd -${level} -T0 -q -c` : `gzip -${level} -c`;
  LABELS.f = `(f) pg_dump | ${compressCommand.replace(' -q -c', '').replace(' -c', '')} | gpg --encrypt > file`;
  LABELS.g = `(g) pg_basebackup | ${compressCommand.replace(' -q -c', '').replace(' -c', '')} | gpg --encrypt > file`;
  const ctx = { options, config, pgEnv, work, stamp, pgToolPath, lanes: {}, compressCommand, compressExt: algorithm === 'zstd' ? '.zst' : '.gz' };
  const loadStart = loadAverage();

  log(`machine: ${describeMachine()}; load average (1/5/15 min) ${describeLoad(loadStart)}`);
  await ensureDataset(config, pgEnv, options);
  const { dbSize, clusterSize, serverVersion } = await withPg(config, options.database, async (pg) => ({
    dbSize: Number((await pg.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n),
    clusterSize: Number((await pg.query('SELECT sum(pg_database_size(datname)) AS n FROM pg_database')).rows[0].n),
    serverVersion: (await pg.query('SHOW server_version')).rows[0].server_version,
  }));
  log(`database ${options.database}: ${mb(dbSize)} MB (whole cluster ${mb(clusterSize)} MB), PostgreSQL ${serverVersion}`);
  // The servers whose CPU each variant is charged with: the cluster (postmaster and all its children)
  // and the backup MinIO, where Lifeboat's off-site copies go.
  const servers = { postgres: await postmasterPid(config.db), minio: minioServerPid(config.remote.endpoint) };
  log(`server CPU measured for: postgres pid ${servers.postgres}, MinIO (${config.remote.endpoint}) pid ${servers.minio ?? 'not found'}`);

  const lanesNeeded = [...new Set(options.variants.filter((v) => LANE[v]).map((v) => LANE[v]))];
  if (lanesNeeded.length) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const s3 = require('@aws-sdk/client-s3');
    const client = new s3.S3Client({ endpoint: config.remote.endpoint, region: config.remote.region, forcePathStyle: true, credentials: { accessKeyId: config.remote.accessKeyId, secretAccessKey: config.remote.secretAccessKey } });
    Object.assign(ctx, await connectTemporal(config));
    for (const name of lanesNeeded) {
      const settings = laneSettings[name];
      const lane = { name, ...settings };
      fs.mkdirSync(lane.backupRoot, { recursive: true });
      await client.send(new s3.CreateBucketCommand({ Bucket: lane.bucket })).catch((e) => {
        if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
      });
      lane.emptyBucket = async () => {
        for (;;) {
          const listed = await client.send(new s3.ListObjectsV2Command({ Bucket: lane.bucket }));
          if (!listed.Contents?.length) break;
          for (const o of listed.Contents) await client.send(new s3.DeleteObjectCommand({ Bucket: lane.bucket, Key: o.Key }));
        }
        const uploads = await client.send(new s3.ListMultipartUploadsCommand({ Bucket: lane.bucket }));
        for (const u of uploads.Uploads ?? []) await client.send(new s3.AbortMultipartUploadCommand({ Bucket: lane.bucket, Key: u.Key, UploadId: u.UploadId }));
      };
      lane.removeBucket = async () => {
        await lane.emptyBucket();
        await client.send(new s3.DeleteBucketCommand({ Bucket: lane.bucket })).catch(() => undefined);
      };
      ctx.lanes[name] = lane;
      const env = benchWorkerEnv({ ...overridesOf(lane), ...settings.env });
      // The second worker serves its metrics (when the stack's config asks for them) on ports of its own.
      if (name !== 'proof') for (const port of ['BACKUP_METRICS_PORT', 'METRICS_PORT']) if (env[port] || configValue(port)) env[port] = String(await freePort());
      if (!settings.env.LIFEBOAT_BENCH_PROOF) delete env.LIFEBOAT_BENCH_PROOF; // the proof worker proves, whatever this shell has
      log(`starting the bench worker (${name}${settings.env.LIFEBOAT_BENCH_PROOF ? ', LIFEBOAT_BENCH_PROOF=off' : ''}) on task queue ${lane.taskQueue}`);
      lane.worker = await startWorker(env, path.join(RESULTS, lane.log), {
        nodeArgs: [...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []), ...(options.workerNodeOptions ?? [])],
      });
      lane.worker.setMaxListeners(0); // runMeasuredWorkflow adds an exit listener per run
      lane.startupRss = vmHwmBytes(lane.worker.pid);
      log(`worker ${name} ready, peak RSS so far (start-up, workflow bundling) ${mb(lane.startupRss)} MB`);
    }
  }

  const variants = makeVariants(ctx);
  const rounds = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const results = {};
      const order = round % 2 ? options.variants : [...options.variants].reverse();
      const loadBefore = loadAverage();
      log(`round ${round}: order ${order.join(', ')}; load average before ${describeLoad(loadBefore)}`);
      for (const v of order) {
        if (LANE[v]) await emptyBench(ctx.lanes[LANE[v]]); // the previous run's artifacts and objects, not measured
        const childCpu = childrenCpuSeconds(process.pid);
        const meter = serverCpuMeter(servers).start();
        const r = await variants[v].run(round);
        r.serverCpu = meter.stop();
        // Shell variants: CPU of the tools this process ran; Lifeboat: the worker's own + its tools'.
        if (r.cpu === undefined) r.cpu = childrenCpuSeconds(process.pid) - childCpu;
        r.cpuServers = (r.serverCpu.postgres ?? 0) + (r.serverCpu.minio ?? 0);
        r.cpuTotal = r.cpu + r.cpuServers;
        r.load = loadAverage();
        if (r.check) {
          r.verified = await r.check(); // outside the timings and CPU readings
          delete r.check;
        }
        results[v] = r;
        log(`round ${round} ${LABELS[v]}: ${r.seconds.toFixed(2)} s, cpu ${r.cpu.toFixed(2)} s + servers ${r.cpuServers.toFixed(2)} s (postgres ${r.serverCpu.postgres ?? '-'}, minio ${r.serverCpu.minio ?? '-'})${r.cpuWorker !== undefined ? ` (worker ${r.cpuWorker.toFixed(2)}, its tools ${r.cpuTools.toFixed(2)})` : ''}${r.bytes ? `, ${mb(r.bytes)} MB` : ''}${r.rssPeak ? `, worker peak RSS ${mb(r.rssPeak)} MB` : ''}${r.artifactSeconds ? ` (artifact ${r.artifactSeconds.toFixed(2)} s, upload ${r.uploadSeconds.toFixed(2)} s)` : ''}`);
        if (r.rssByActivity) log(`  peak RSS by activity (MB): ${Object.entries(r.rssByActivity).map(([k, b]) => `${k} ${mb(b)}`).join(', ')}`);
        if (r.toolCpu) log(`  CPU by tool (s, sampled): ${Object.entries(r.toolCpu).map(([k, c]) => `${k} ${c.toFixed(2)}`).join(', ')}`);
        if (r.proof) log(`  proof in metadata: ${r.proof.method}${r.proof.globals ? ` (globals: ${r.proof.globals})` : ''}`);
        if (r.verified) log(`  verified: ${r.verified}`);
      }
      const loadAfter = loadAverage();
      log(`round ${round} done; load average after ${describeLoad(loadAfter)}`);
      rounds.push({ ...results, _order: order, _load: { before: loadBefore, after: loadAfter } });
    }
  } finally {
    for (const lane of Object.values(ctx.lanes)) {
      await stopWorker(lane.worker);
      await lane.removeBucket();
    }
    await ctx.connection?.close();
    fs.rmSync(work, { recursive: true, force: true });
  }

  // Medians of the walls, of the same-round ratios and of the sizes.
  const rows = options.variants.map((v) => {
    const walls = rounds.map((r) => r[v].seconds);
    const base = BASELINE[v];
    const ratios = base !== v && options.variants.includes(base) ? rounds.map((r) => r[v].seconds / r[base].seconds) : [];
    const peer = PEER[v] && options.variants.includes(PEER[v]) ? PEER[v] : undefined;
    const peerRatios = peer ? rounds.map((r) => r[v].seconds / r[peer].seconds) : [];
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
      peer,
      peerRatioMedian: peerRatios.length ? median(peerRatios) : undefined,
      peerRatios,
      cpuServersMedian: median(rounds.map((r) => r[v].cpuServers)),
      cpuPostgresMedian: median(rounds.map((r) => r[v].serverCpu.postgres ?? 0)),
      cpuMinioMedian: median(rounds.map((r) => r[v].serverCpu.minio ?? 0)),
      cpuTotalMedian: median(rounds.map((r) => r[v].cpuTotal)),
      loads: rounds.map((r) => r[v].load),
      bytesMedian: sizes.length ? median(sizes) : undefined,
      rssPeakMax: rss.length ? Math.max(...rss) : undefined,
      rssByActivity: rounds.reduce((acc, r) => {
        for (const [k, b] of Object.entries(r[v].rssByActivity ?? {})) acc[k] = Math.max(acc[k] ?? 0, b);
        return acc;
      }, {}),
      cpuMedian: median(rounds.map((r) => r[v].cpu)),
      cpuWorkerMedian: rounds[0][v].cpuWorker !== undefined ? median(rounds.map((r) => r[v].cpuWorker)) : undefined,
      cpuToolsMedian: rounds[0][v].cpuTools !== undefined ? median(rounds.map((r) => r[v].cpuTools)) : undefined,
      rssPeakMedian: rss.length ? median(rss) : undefined,
      toolCpuMedian: rounds[0][v].toolCpu
        ? Object.fromEntries([...new Set(rounds.flatMap((r) => Object.keys(r[v].toolCpu ?? {})))].map((k) => [k, median(rounds.map((r) => r[v].toolCpu?.[k] ?? 0))]))
        : undefined,
      proof: rounds[0][v].proof,
      artifactSecondsMedian: rounds[0][v].artifactSeconds !== undefined ? median(rounds.map((r) => r[v].artifactSeconds)) : undefined,
      uploadSecondsMedian: rounds[0][v].uploadSeconds !== undefined ? median(rounds.map((r) => r[v].uploadSeconds)) : undefined,
      rawBytes: rounds[0][v].rawBytes,
      verified: rounds[0][v].verified,
    };
  });
  // The proof's cost (issue 9 item 3): each Lifeboat variant against itself without the proof, same round.
  const proofCost = Object.entries(PROOF_PAIRS)
    .filter(([v, v0]) => options.variants.includes(v) && options.variants.includes(v0))
    .map(([v, v0]) => {
      const ratio = (f) => rounds.map((r) => f(r[v]) / f(r[v0]));
      const perRound = rounds.map((r, i) => ({
        round: i + 1,
        order: r._order.indexOf(v) < r._order.indexOf(v0) ? `${v} first` : `${v0} first`,
        wall: [r[v].seconds, r[v0].seconds],
        cpu: [r[v].cpu, r[v0].cpu],
        rss: [r[v].rssPeak, r[v0].rssPeak],
      }));
      const walls = ratio((x) => x.seconds);
      const cpus = ratio((x) => x.cpu);
      const rsss = ratio((x) => x.rssPeak);
      const artifacts = ratio((x) => x.artifactSeconds);
      const diff = (f) => median(rounds.map((r) => f(r[v]) - f(r[v0])));
      return {
        variant: v,
        without: v0,
        perRound,
        wallRatios: walls,
        wallRatioMedian: median(walls),
        wallRatioOfMedians: median(rounds.map((r) => r[v].seconds)) / median(rounds.map((r) => r[v0].seconds)),
        cpuRatios: cpus,
        cpuRatioMedian: median(cpus),
        rssRatios: rsss,
        rssRatioMedian: median(rsss),
        artifactRatios: artifacts,
        artifactRatioMedian: median(artifacts),
        extraMedian: { wall: diff((x) => x.seconds), artifact: diff((x) => x.artifactSeconds), cpu: diff((x) => x.cpu), cpuWorker: diff((x) => x.cpuWorker), cpuTools: diff((x) => x.cpuTools) },
      };
    });
  const loadEnd = loadAverage();
  const report = {
    date: new Date().toISOString(),
    machine: machine(),
    loadAverage: { start: loadStart, end: loadEnd, rounds: rounds.map((r) => r._load) },
    database: { name: options.database, scale: options.scale, bytes: dbSize, clusterBytes: clusterSize, serverVersion },
    compression: config.compression,
    workerEnv: options.workerEnv,
    rounds: options.rounds,
    workerPeakRss: { startup: Object.fromEntries(Object.values(ctx.lanes).map((l) => [l.name, l.startupRss])), variants: Math.max(0, ...rows.map((r) => r.rssPeakMax ?? 0)) },
    rows,
    proofCost,
    raw: rounds,
  };
  const resultFile = path.join(RESULTS, `backup-${stamp}.json`);
  fs.writeFileSync(resultFile, `${JSON.stringify(report, null, 2)}\n`);

  const out = [];
  out.push(`| variant | median wall (s) | / floor | / best peer | output (MB) | CPU client (s) | CPU postgres (s) | CPU MinIO (s) | CPU total (s) | worker peak RSS (MB) | load 1 min after (per round) |`);
  out.push(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`);
  for (const r of rows) {
    const ratio = r.ratioMedian === undefined ? '' : r.variant === r.baseline ? '1 (floor)' : `${r.ratioMedian.toFixed(2)}x (${r.baseline})`;
    const peer = r.peerRatioMedian === undefined ? '' : `${r.peerRatioMedian.toFixed(2)}x (${r.peer})`;
    out.push(`| ${r.label.replace(/\|/g, '\\|')} | ${r.wallMedian.toFixed(2)} | ${ratio} | ${peer} | ${r.bytesMedian !== undefined ? mb(r.bytesMedian) : '-'} | ${r.cpuMedian.toFixed(1)} | ${r.cpuPostgresMedian.toFixed(1)} | ${r.cpuMinioMedian.toFixed(1)} | ${r.cpuTotalMedian.toFixed(1)} | ${r.rssPeakMax !== undefined ? mb(r.rssPeakMax) : '-'} | ${r.loads.map((l) => l[0].toFixed(2)).join(' / ')} |`);
  }
  const target = (v, against, limit, what) => {
    const r = rows.find((x) => x.variant === v);
    const ratio = against === 'peer' ? r?.peerRatioMedian : r?.ratioMedian;
    return ratio === undefined ? undefined : `${what}: ${ratio.toFixed(2)}x, target <= ${limit}x: ${ratio <= limit ? 'met' : 'MISSED'}`;
  };
  const targets = [target('c', 'floor', 1.5, 'daily backup (c) / pg_dump (a)'), target('e', 'peer', 1.15, 'base backup (e) / same-level shell pipeline (g)')].filter(Boolean);
  const rssMax = Math.max(0, ...rows.filter((r) => ['c', 'e'].includes(r.variant)).map((r) => r.rssPeakMax ?? 0));
  if (rssMax) targets.push(`worker peak RSS in (c) and (e): ${mb(rssMax)} MB, target <= 256 MB: ${rssMax <= 256 * 2 ** 20 ? 'met' : 'MISSED'}`);
  report.targets = targets;
  fs.writeFileSync(resultFile, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${out.join('\n')}\n\nwalls per round (s): ${rows.map((r) => `${r.variant}=${r.walls.map((w) => w.toFixed(2)).join('/')}`).join('  ')}\n`);
  for (const t of targets) process.stdout.write(`${t}\n`);
  for (const r of rows) if (r.verified) process.stdout.write(`${r.variant} output checked: ${r.verified}\n`);
  for (const r of rows) {
    if (r.artifactSecondsMedian === undefined) continue;
    process.stdout.write(`${r.variant}: artifact activity ${r.artifactSecondsMedian.toFixed(2)} s, uploads ${r.uploadSecondsMedian.toFixed(2)} s (medians); raw ${mb(r.rawBytes ?? 0)} MB; peak RSS by activity (MB): ${Object.entries(r.rssByActivity).map(([k, b]) => `${k} ${mb(b)}`).join(', ')}\n`);
  }
  for (const lane of Object.values(ctx.lanes)) process.stdout.write(`worker ${lane.name} peak RSS at start-up ${mb(lane.startupRss)} MB\n`);
  if (Object.keys(ctx.lanes).length) process.stdout.write(`worker peak RSS during the variants ${mb(report.workerPeakRss.variants)} MB\n`);
  if (proofCost.length) {
    const byVariant = Object.fromEntries(rows.map((r) => [r.variant, r]));
    const pct = (x) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)} %`;
    const p = ['', 'Cost of proving each artifact (medians; ratio = median of the same-round ratios):', ''];
    p.push('| variant | wall (s) | CPU (s): worker + tools | worker peak RSS (MB) | proof method |');
    p.push('| --- | ---: | ---: | ---: | --- |');
    for (const c of proofCost) {
      for (const v of [c.variant, c.without]) {
        const r = byVariant[v];
        p.push(`| ${r.label} | ${r.wallMedian.toFixed(2)} | ${r.cpuMedian.toFixed(2)}: ${r.cpuWorkerMedian.toFixed(2)} + ${r.cpuToolsMedian.toFixed(2)} | ${mb(r.rssPeakMedian)} | ${r.proof?.method}${r.proof?.globals ? ` (globals ${r.proof.globals})` : ''} |`);
      }
      p.push(`| **${c.variant}/${c.without}** | **${c.wallRatioMedian.toFixed(3)}** (${pct(c.wallRatioMedian)}) | ${c.cpuRatioMedian.toFixed(3)} (${pct(c.cpuRatioMedian)}) | ${c.rssRatioMedian.toFixed(3)} | |`);
    }
    p.push('');
    for (const c of proofCost) {
      p.push(`${c.variant}/${c.without} per round: ${c.perRound.map((x) => `r${x.round} (${x.order}) wall ${x.wall[0].toFixed(2)}/${x.wall[1].toFixed(2)} = ${(x.wall[0] / x.wall[1]).toFixed(3)}, cpu ${x.cpu[0].toFixed(2)}/${x.cpu[1].toFixed(2)} = ${(x.cpu[0] / x.cpu[1]).toFixed(3)}, rss ${mb(x.rss[0])}/${mb(x.rss[1])}`).join('; ')}`);
      p.push(`  same-round ratios range: wall ${Math.min(...c.wallRatios).toFixed(3)}..${Math.max(...c.wallRatios).toFixed(3)}, cpu ${Math.min(...c.cpuRatios).toFixed(3)}..${Math.max(...c.cpuRatios).toFixed(3)}`);
      p.push(`  artifact activity alone (where the proof runs): same-round ratio median ${c.artifactRatioMedian.toFixed(3)} (range ${Math.min(...c.artifactRatios).toFixed(3)}..${Math.max(...c.artifactRatios).toFixed(3)})`);
      p.push(`  extra per backup (median of same-round differences): wall ${c.extraMedian.wall.toFixed(2)} s, artifact activity ${c.extraMedian.artifact.toFixed(2)} s, CPU ${c.extraMedian.cpu.toFixed(2)} s (worker ${c.extraMedian.cpuWorker.toFixed(2)}, tools ${c.extraMedian.cpuTools.toFixed(2)})`);
      p.push(`  wall ratio of the medians ${c.wallRatioOfMedians.toFixed(3)}; the 5 % wall-time target is ${c.wallRatioMedian < 1.05 ? 'met' : 'NOT met'} (median same-round ratio ${c.wallRatioMedian.toFixed(3)})`);
      for (const v of [c.variant, c.without]) {
        const t = byVariant[v].toolCpuMedian;
        if (t) p.push(`  ${v} CPU by tool (s, medians, sampled): ${Object.entries(t).map(([k, x]) => `${k} ${x.toFixed(2)}`).join(', ')}`);
      }
    }
    p.push(`load average (1/5/15 min): start ${describeLoad(loadStart)}; ${rounds.map((r, i) => `round ${i + 1} ${describeLoad(r._load.before)} -> ${describeLoad(r._load.after)}`).join('; ')}; end ${describeLoad(loadEnd)}`);
    process.stdout.write(`${p.join('\n')}\n`);
  }
  process.stdout.write(`raw results: ${path.relative(ROOT, resultFile)}\n`);
}

main().catch((error) => {
  log(`failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
