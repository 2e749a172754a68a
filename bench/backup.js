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

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  ROOT, RESULTS, parseArgs: parseFlags, log, median, mb, timeStamp, shellQuote, run, runShell, vmHwmBytes, childrenCpuSeconds, machine, describeMachine,
  requireDist, loadBenchConfig, benchWorkerEnv, withPg, ensureDataset, startWorker, stopWorker, connectTemporal, runMeasuredWorkflow,
} = require('./common');

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
  const options = parseFlags(argv, {
    file: __filename,
    defaults: { rounds: 3, variants: ALL_VARIANTS, scale: 10, database: 'corporate_intel_bench', verify: true, cpuProf: false, workerNodeOptions: undefined, workerEnv: {} },
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
    const { seconds } = await runShell(pipelineText, { env: pgEnv });
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
    const r = await runMeasuredWorkflow(ctx, type, args, `bench-${type}-${ctx.stamp}-r${round}`);
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
    const restored = await runShell(`${gpg} | ${decompress} | ${unrestrict} | sha256sum`, { env: ctx.pgEnv, capture: true });
    const sha = restored.stdout.split(' ')[0];
    const fresh = await runShell(`${shellQuote(ctx.pgToolPath(ctx.config.db, 'pg_dump'))} --no-password -d ${ctx.config.db.name} | ${unrestrict} | sha256sum`, { env: ctx.pgEnv, capture: true });
    const same = fresh.stdout.split(' ')[0] === sha;
    if (!same && process.env.BENCH_KEEP_FAILED) fs.copyFileSync(file, path.join(RESULTS, path.basename(file)));
    if (!same) throw new Error(`verification failed: ${key} decrypted and decompressed is not what pg_dump writes`);
    return 'gpg --decrypt | zstd -d equals a fresh pg_dump (sha256, without the random \\restrict line)';
  }
  const list = await runShell(`${gpg} | ${decompress} | tar -tf - | wc -l`, { env: ctx.pgEnv, capture: true });
  return `gpg --decrypt | zstd -d | tar -t lists ${list.stdout.trim()} entries`;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { pgToolEnv, pgToolPath } = requireDist('lib/postgres/tools');
  const stamp = timeStamp();
  fs.mkdirSync(RESULTS, { recursive: true });
  const work = path.join(RESULTS, `work-${stamp}`);
  const backupRoot = path.join(work, 'backup-root');
  const bucket = process.env.BENCH_S3_BUCKET ?? 'lifeboat-bench';
  const taskQueue = `bench-${os.hostname().split('.')[0]}-${process.pid}`;
  // The bench worker: the stack's configuration, but its own database, queue, BACKUP_ROOT and bucket.
  const overrides = { DB_NAME: options.database, LIFEBOAT_TASK_QUEUE: taskQueue, BACKUP_ROOT: backupRoot, S3_BUCKET: bucket, LOG_LEVEL: 'info', ...options.workerEnv };
  const config = loadBenchConfig(overrides);
  const pgEnv = { ...pgToolEnv(config.db), GNUPGHOME: config.encryption.gnupgHome };
  const ctx = { options, config, pgEnv, work, backupRoot, stamp, taskQueue, pgToolPath };

  log(`machine: ${describeMachine()}`);
  await ensureDataset(config, pgEnv, options);
  const { dbSize, clusterSize, serverVersion } = await withPg(config, options.database, async (pg) => ({
    dbSize: Number((await pg.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n),
    clusterSize: Number((await pg.query('SELECT sum(pg_database_size(datname)) AS n FROM pg_database')).rows[0].n),
    serverVersion: (await pg.query('SHOW server_version')).rows[0].server_version,
  }));
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
    log(`starting the bench worker on task queue ${taskQueue}`);
    ctx.worker = await startWorker(benchWorkerEnv(overrides), path.join(RESULTS, `worker-${stamp}.log`), {
      nodeArgs: [...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []), ...(options.workerNodeOptions ?? [])],
    });
    ctx.startupRss = vmHwmBytes(ctx.worker.pid);
    log(`worker ready, peak RSS so far (start-up, workflow bundling) ${mb(ctx.startupRss)} MB`);
    Object.assign(ctx, await connectTemporal(config));
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
    machine: machine(),
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
